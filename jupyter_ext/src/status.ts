/**
 * Status bar item: the server's GPU (memory and utilization, live), the Docker context
 * work would go to (the active notebook's own when its kernel switched on its own), and
 * while an Offload context is in force, the Offload meter. A click opens the panel.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { IContexts, IGpuHolder, IGpuProcesses, IGpuReport } from './api';
import { gb, hoursMinutes, moneyNodes, moneyText, noMath } from './format';

/** How many holders the GPU tooltip lists. */
const TOP_HOLDERS = 3;

/** One line for the GPU part, e.g. "NVIDIA H100 · 75.4/85.5 GB free · 37 %". */
export function gpuText(report: IGpuReport): string {
  if (report.status !== 'ok' || report.devices.length === 0) {
    return 'no GPU';
  }
  const first = report.devices[0];
  const more =
    report.devices.length > 1 ? ` +${report.devices.length - 1}` : '';
  const utilization =
    typeof first.utilization_gpu === 'number'
      ? ` · ${first.utilization_gpu} %`
      : '';
  return (
    `${first.name}${more} · ` +
    `${gb(first.memory_free)}/${gb(first.memory_total)} GB free${utilization}`
  );
}

/** The context work goes to: the active notebook's kernel's own, else the server's. */
export function contextText(
  contexts: IContexts,
  activeKernelId: string | null = null
): string {
  const own = activeKernelId ? contexts.kernels?.[activeKernelId] : undefined;
  if (own) {
    return `${own.context} · ${own.role ?? 'missing'} · this notebook`;
  }
  const current = contexts.current;
  if (!current) {
    return 'no Docker context';
  }
  return `${current.name} (${current.role ?? 'missing'})`;
}

/** Every holder on every device, the largest first. */
export function holdersBySize(processes: IGpuProcesses): IGpuHolder[] {
  return processes.devices
    .flatMap(device => device.processes ?? [])
    .sort((a, b) => (b.memory_used_gb ?? 0) - (a.memory_used_gb ?? 0));
}

export function holderName(holder: IGpuHolder): string {
  return (
    holder.label ||
    holder.notebook_path ||
    holder.container_name ||
    holder.command ||
    `PID ${holder.pid}`
  );
}

/** What the Offload meter shows: when the session began, and what it costs. */
export interface IMeter {
  /** Milliseconds since the epoch. */
  since: number;
  /** Dollars per hour; null when the server does not say. */
  rate: number | null;
  context: string;
  /** This calendar month's Offload cost so far, where the server knows it. */
  costMonth: number | null;
  upperBound: boolean;
}

export class LabAdvisorStatus extends Widget {
  constructor(icon: LabIcon, open: () => void) {
    super();
    this.id = 'labadvisor-status';
    this.addClass('jp-labadvisor-status');
    noMath(this.node);
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'button');
    this.node.setAttribute('aria-label', 'Lab Advisor: open the panel');
    const iconNode = document.createElement('span');
    iconNode.className = 'jp-labadvisor-status-icon';
    icon.element({ container: iconNode, tag: 'span' });
    this._gpu = document.createElement('span');
    this._gpu.className = 'jp-labadvisor-status-gpu';
    this._context = document.createElement('span');
    this._context.className = 'jp-labadvisor-status-context';
    this._meter = document.createElement('span');
    this._meter.className = 'jp-labadvisor-status-meter';
    this._meter.hidden = true;
    this.node.append(iconNode, this._gpu, this._context, this._meter);
    this.node.addEventListener('click', () => open());
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        open();
      }
    });
  }

  setVisibleParts(showGpu: boolean, showContext: boolean): void {
    this._gpu.hidden = !showGpu;
    this._context.hidden = !showContext;
  }

  showGpu(report: IGpuReport, processes: IGpuProcesses | null = null): void {
    const text = gpuText(report);
    this._gpu.textContent = `GPU: ${text}`;
    this._gpu.dataset.status = report.status;
    if (report.status !== 'ok') {
      // The detection's sentence, not its status code ("library-not-found").
      this._gpu.title = `${report.message || `No GPU figures (${report.status})`}\nClick to open Lab Advisor`;
      return;
    }
    const lines = report.devices.map(d => {
      const utilization =
        typeof d.utilization_gpu === 'number'
          ? `, ${d.utilization_gpu} % busy`
          : '';
      return `${d.name}: ${gb(d.memory_free)} GB free of ${gb(d.memory_total)} GB${utilization}`;
    });
    const top = processes ? holdersBySize(processes).slice(0, TOP_HOLDERS) : [];
    if (top.length > 0) {
      lines.push('Holding GPU memory:');
      for (const holder of top) {
        const size =
          holder.memory_used_gb === null
            ? '?'
            : holder.memory_used_gb.toFixed(1);
        lines.push(`  ${holderName(holder)}: ${size} GB`);
      }
    }
    lines.push('Click to open Lab Advisor');
    this._gpu.title = lines.join('\n');
  }

  showContexts(
    contexts: IContexts,
    activeKernelId: string | null = null
  ): void {
    const own = activeKernelId ? contexts.kernels?.[activeKernelId] : undefined;
    this._context.textContent = `Docker: ${contextText(contexts, activeKernelId)}`;
    this._context.dataset.role =
      (own ? own.role : contexts.current?.role) ?? '';
    this._context.dataset.scope = own ? 'kernel' : 'server';
    const current = contexts.current;
    const lines: string[] = [];
    if (own) {
      lines.push(
        `This notebook's kernel uses ${own.context} (${own.host ?? 'no engine'})`,
        `Other kernels and terminals: ${current?.name ?? 'none'}`
      );
    } else if (current) {
      lines.push(`Docker engine: ${current.host ?? 'none'}`);
      if (typeof current.reason === 'string') {
        lines.push(`Decided by: ${current.reason}`);
      }
    }
    lines.push('Click to open Lab Advisor');
    this._context.title = lines.join('\n');
  }

  /** Show the Offload meter, or hide it (`null`). */
  showMeter(meter: IMeter | null, now: number = Date.now()): void {
    this._meter.hidden = meter === null;
    if (meter === null) {
      this._meter.replaceChildren();
      return;
    }
    const seconds = (now - meter.since) / 1000;
    const parts: Node[] = [
      document.createTextNode(`Offload ${hoursMinutes(seconds)}`)
    ];
    let title = `Docker Offload (${meter.context}) for ${hoursMinutes(seconds)} h`;
    if (meter.rate !== null) {
      const cost = (Math.max(0, seconds) / 3600) * meter.rate;
      parts.push(document.createTextNode(' · '), ...moneyNodes(cost));
      title += `, about ${moneyText(cost)} at ${moneyText(meter.rate)}/h`;
    }
    if (meter.costMonth !== null) {
      title += `\nThis month: ${moneyText(meter.costMonth)}`;
      if (meter.upperBound) {
        title += ' (upper bound: counted from the Docker context alone)';
      }
    }
    this._meter.replaceChildren(...parts);
    this._meter.title = title;
  }

  showError(part: 'gpu' | 'context', message: string): void {
    const node = part === 'gpu' ? this._gpu : this._context;
    node.textContent = part === 'gpu' ? 'GPU: ?' : 'Docker: ?';
    node.dataset.status = 'error';
    node.title = message;
  }

  private _gpu: HTMLSpanElement;
  private _context: HTMLSpanElement;
  private _meter: HTMLSpanElement;
}
