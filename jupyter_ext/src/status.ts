/**
 * Status bar item: the server's GPU and the Docker context work would go to.
 */
import { Widget } from '@lumino/widgets';

import { IContexts, IGpuReport } from './api';

// GB as everywhere else a person reads a size in labadvisor (the guides, the Python
// views): 10^9 bytes.
const GB = 1e9;

function gb(bytes: number | null | undefined): string {
  return bytes === null || bytes === undefined ? '?' : (bytes / GB).toFixed(1);
}

/** One line for the GPU part, e.g. "NVIDIA H100 · 75.4/85.5 GB free". */
export function gpuText(report: IGpuReport): string {
  if (report.status !== 'ok' || report.devices.length === 0) {
    return 'no GPU';
  }
  const first = report.devices[0];
  const more =
    report.devices.length > 1 ? ` +${report.devices.length - 1}` : '';
  return (
    `${first.name}${more} · ` +
    `${gb(first.memory_free)}/${gb(first.memory_total)} GB free`
  );
}

export function contextText(contexts: IContexts): string {
  const current = contexts.current;
  if (!current) {
    return 'no Docker context';
  }
  return `${current.name} (${current.role ?? 'missing'})`;
}

export class LabAdvisorStatus extends Widget {
  constructor() {
    super();
    this.id = 'labadvisor-status';
    this.addClass('jp-labadvisor-status');
    this._gpu = document.createElement('span');
    this._gpu.className = 'jp-labadvisor-status-gpu';
    this._context = document.createElement('span');
    this._context.className = 'jp-labadvisor-status-context';
    this.node.append(this._gpu, this._context);
  }

  setVisibleParts(showGpu: boolean, showContext: boolean): void {
    this._gpu.hidden = !showGpu;
    this._context.hidden = !showContext;
  }

  showGpu(report: IGpuReport): void {
    const text = gpuText(report);
    this._gpu.textContent = `GPU: ${text}`;
    this._gpu.dataset.status = report.status;
    this._gpu.title =
      report.status === 'ok'
        ? report.devices
            .map(
              d =>
                `${d.name}: ${gb(d.memory_free)} GB free of ${gb(d.memory_total)} GB`
            )
            .join('\n')
        : `GPU status: ${report.status}${report.message ? ` (${report.message})` : ''}`;
  }

  showContexts(contexts: IContexts): void {
    this._context.textContent = `Docker: ${contextText(contexts)}`;
    this._context.dataset.role = contexts.current?.role ?? '';
    const current = contexts.current;
    this._context.title = current
      ? [
          `Docker engine: ${current.host ?? 'none'}`,
          typeof current.reason === 'string'
            ? `Decided by: ${current.reason}`
            : ''
        ]
          .filter(line => line)
          .join('\n')
      : 'Docker context';
  }

  showError(part: 'gpu' | 'context', message: string): void {
    const node = part === 'gpu' ? this._gpu : this._context;
    node.textContent = part === 'gpu' ? 'GPU: ?' : 'Docker: ?';
    node.dataset.status = 'error';
    node.title = message;
  }

  private _gpu: HTMLSpanElement;
  private _context: HTMLSpanElement;
}
