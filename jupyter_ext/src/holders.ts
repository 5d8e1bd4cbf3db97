/**
 * "GPU memory by notebook": who holds the server's GPU memory (`GET gpu/processes`),
 * one row per holder with a bar, "open" for a notebook and "shut down kernel" for a
 * Jupyter kernel. The rows are refreshed by the status bar's poll.
 */
import { IGpuHolder, IGpuProcessDevice, IGpuProcesses } from './api';
import { GB } from './format';
import { holderName } from './status';

/** What the rows' buttons do: the plugin wires them to JupyterLab. */
export interface IHolderActions {
  open(path: string): void;
  shutDown(holder: IGpuHolder): Promise<void>;
}

/** The server's holder kinds, in words. */
const HOLDER_WORDS: Record<string, string> = {
  'jupyter-kernel': 'Jupyter kernel',
  'this-kernel': 'this kernel',
  container: 'container',
  other: 'process',
  'not-visible': 'not visible from here'
};

function deviceTotalGb(device: IGpuProcessDevice): number | null {
  return typeof device.memory_total === 'number'
    ? device.memory_total / GB
    : null;
}

export class GpuHolders {
  readonly node: HTMLElement;

  constructor(private _actions: IHolderActions) {
    const section = document.createElement('section');
    section.className = 'jp-labadvisor-section jp-labadvisor-holders';
    section.dataset.section = 'holders';
    section.setAttribute('aria-labelledby', 'labadvisor-holders-title');
    const heading = document.createElement('h3');
    heading.id = 'labadvisor-holders-title';
    heading.textContent = 'GPU memory by notebook';
    this._body = document.createElement('div');
    this._body.className = 'jp-labadvisor-holders-body';
    this._note = document.createElement('p');
    this._note.className = 'jp-labadvisor-note';
    this._note.textContent = 'Reading…';
    section.append(heading, this._note, this._body);
    this.node = section;
  }

  showError(message: string): void {
    this._body.replaceChildren();
    this._note.textContent = message;
  }

  show(report: IGpuProcesses): void {
    const rows: HTMLElement[] = [];
    for (const device of report.devices) {
      if (!device.processes || device.processes.length === 0) {
        continue;
      }
      const caption = document.createElement('div');
      caption.className = 'jp-labadvisor-holders-device';
      const slot =
        device.mig_index !== null && device.mig_index !== undefined
          ? ` MIG ${device.mig_index}`
          : '';
      const total = deviceTotalGb(device);
      caption.textContent =
        `GPU ${device.index ?? ''}${slot}: ${device.name}` +
        (total !== null ? ` (${total.toFixed(1)} GB)` : '');
      rows.push(caption);
      const sorted = [...device.processes].sort(
        (a, b) => (b.memory_used_gb ?? 0) - (a.memory_used_gb ?? 0)
      );
      for (const holder of sorted) {
        rows.push(this._row(holder, total));
      }
    }
    this._body.replaceChildren(...rows);
    if (rows.length > 0) {
      this._note.textContent = '';
      this._note.hidden = true;
    } else {
      this._note.hidden = false;
      this._note.textContent =
        report.status && report.status !== 'ok' && report.message
          ? report.message
          : report.devices.length === 0
            ? 'No GPU on the server.'
            : 'No process holds GPU memory.';
    }
  }

  private _row(holder: IGpuHolder, totalGb: number | null): HTMLElement {
    const row = document.createElement('div');
    row.className = 'jp-labadvisor-holder';
    row.dataset.pid = String(holder.pid);
    row.dataset.holder = holder.holder;
    if (holder.kernel_id) {
      row.dataset.kernelId = holder.kernel_id;
    }
    const name = holderName(holder);
    const title = document.createElement('div');
    title.className = 'jp-labadvisor-holder-name';
    title.textContent = name;
    const detail = [
      HOLDER_WORDS[holder.holder] ?? holder.holder,
      holder.kernel_name,
      holder.user,
      `PID ${holder.pid}`,
      holder.note
    ]
      .filter(part => part)
      .join(' · ');
    title.title = detail;
    const kind = document.createElement('div');
    kind.className = 'jp-labadvisor-holder-kind';
    kind.textContent = detail;

    const used = holder.memory_used_gb;
    const bar = document.createElement('div');
    bar.className = 'jp-labadvisor-bar';
    bar.setAttribute('role', 'meter');
    bar.setAttribute('aria-label', `GPU memory held by ${name}`);
    const fill = document.createElement('div');
    fill.className = 'jp-labadvisor-bar-fill';
    const share =
      used !== null && totalGb ? Math.min(100, (100 * used) / totalGb) : 0;
    fill.style.width = `${share.toFixed(1)}%`;
    bar.append(fill);
    if (used !== null && totalGb) {
      bar.setAttribute('aria-valuemin', '0');
      bar.setAttribute('aria-valuemax', totalGb.toFixed(1));
      bar.setAttribute('aria-valuenow', used.toFixed(1));
    }
    const size = document.createElement('span');
    size.className = 'jp-labadvisor-holder-size';
    size.textContent =
      used === null
        ? '? GB'
        : `${used.toFixed(1)} GB` +
          (holder.sm_util !== null && holder.sm_util !== undefined
            ? ` · ${holder.sm_util} %`
            : '');

    const actions = document.createElement('div');
    actions.className = 'jp-labadvisor-holder-actions';
    if (holder.notebook_path) {
      const path = holder.notebook_path;
      const open = document.createElement('button');
      open.type = 'button';
      open.className = 'jp-mod-styled jp-labadvisor-link';
      open.textContent = 'open';
      open.setAttribute('aria-label', `open ${path}`);
      open.addEventListener('click', () => this._actions.open(path));
      actions.append(open);
    }
    if (holder.kernel_id) {
      const stop = document.createElement('button');
      stop.type = 'button';
      stop.className = 'jp-mod-styled jp-mod-warn jp-labadvisor-shutdown';
      stop.textContent = 'shut down kernel';
      stop.setAttribute('aria-label', `shut down the kernel of ${name}`);
      stop.addEventListener('click', async () => {
        stop.disabled = true;
        try {
          await this._actions.shutDown(holder);
        } finally {
          stop.disabled = false;
        }
      });
      actions.append(stop);
    }
    row.append(title, kind, bar, size, actions);
    return row;
  }

  private _body: HTMLElement;
  private _note: HTMLElement;
}
