/**
 * Thin client for the labadvisor server extension (`<base_url>/labadvisor/api/`).
 *
 * Requests go through ServerConnection.makeRequest, which adds the token and the
 * XSRF header; the server does all the work, this module only moves JSON.
 * The plugin makes one client with the application's server settings and hands it
 * to the status bar item and the panel.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Sizes are bytes, as NVML gives them; the front end shows GB (10^9 bytes). */
export interface IGpuDevice {
  index?: number;
  mig_index?: number | null;
  name: string;
  memory_total: number | null;
  memory_used: number | null;
  memory_free: number | null;
  /** Percent of time a kernel ran in NVML's last sample period. */
  utilization_gpu?: number | null;
  [key: string]: unknown;
}

export interface IGpuReport {
  status: string;
  message?: string | null;
  devices: IGpuDevice[];
  /** When NVML was read (ISO 8601). */
  read_at?: string;
  [key: string]: unknown;
}

/** One process holding GPU memory, attributed by the server (`GET gpu/processes`). */
export interface IGpuHolder {
  pid: number;
  /** What holds it: "jupyter-kernel", "container", "other", "not-visible", ... */
  holder: string;
  /** What a person reads: the notebook, the container, or the command. */
  label: string;
  memory_used_gb: number | null;
  sm_util: number | null;
  kernel_id: string | null;
  kernel_name: string | null;
  notebook_path: string | null;
  container_name: string | null;
  user: string | null;
  command: string | null;
  verified: boolean;
  note: string | null;
}

export interface IGpuProcessDevice extends IGpuDevice {
  processes: IGpuHolder[];
}

export interface IGpuProcesses {
  /** Detection's status: "ok", or why there is no list. */
  status?: string;
  read_at?: string;
  devices: IGpuProcessDevice[];
  /** Why the list is empty or partial (no process API, ...). */
  message?: string | null;
}

/** `GET usage`: the Offload meter and the GPU hours, from the server's usage ledger. */
export interface IUsage {
  offload: {
    active: boolean;
    context?: string | null;
    /** When the current Offload session began: ISO 8601 or seconds since the epoch. */
    since?: string | number | null;
    seconds_month?: number;
    cost_month?: number;
    /** Dollars per hour. */
    rate?: number;
    /** True when hours are counted from the Docker context alone (no plugin to ask). */
    upper_bound?: boolean;
    /** The session's state from `docker offload status` ("started", "idle", ...); null
     * where no plugin answered. */
    state?: string | null;
    /** Since when the Offload engine has run no container (null while one runs), where
     * the server tells; else the front end dates the "idle" state itself. */
    idle_since?: string | number | null;
    [key: string]: unknown;
  };
  gpu?: Record<string, unknown>;
  period?: unknown;
  recording_since?: string | null;
}

export interface IDockerContext {
  name: string;
  host?: string | null;
  role: string | null;
  current?: boolean;
  [key: string]: unknown;
}

/** A kernel that switched its own Docker context (`use()`'s default kernel scope). */
export interface IKernelContext {
  context: string;
  role: string | null;
  host?: string | null;
  switched_at?: string | number | null;
  notebook_path?: string | null;
}

export interface IContexts {
  current: IDockerContext | null;
  contexts: IDockerContext[];
  /** Kernels whose own context differs from the server's, by kernel id. */
  kernels?: Record<string, IKernelContext>;
  /** After a switch: what `labadvisor.contexts.use()` did, in words. */
  summary?: string;
  /** After a switch: `SwitchResult.to_dict()`; `changed` is false when already there. */
  switch?: { changed?: boolean; [key: string]: unknown };
}

/** `GET config`: what the server's operator set (`c.LabAdvisor.*`). */
export interface IServerConfig {
  /** False when `c.LabAdvisor.allow_context_switch = False`: switching answers 403. */
  allow_context_switch: boolean;
}

/** One choice for an advice input: what a person reads, and what is sent. */
export interface IOption {
  label: string;
  value: string | number | boolean | null;
}

/** `GET advise/options`: the choices for each input, keyed by form then input. */
export type AdviceOptions = Record<string, Record<string, IOption[]>>;

/** An error answered by the server, carrying its JSON `message`. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export class LabAdvisorClient {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  /** The JSON answer of `<base_url>/labadvisor/api/<endPoint>`; an APIError otherwise. */
  async request<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(
      this.serverSettings.baseUrl,
      'labadvisor',
      'api',
      endPoint
    );
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (error) {
      throw new ServerConnection.NetworkError(error as TypeError);
    }
    const text = await response.text();
    let data: any = null;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { message: text };
      }
    }
    if (!response.ok) {
      const message =
        (data && (data.message as string)) ||
        `${response.status} ${response.statusText}`;
      throw new APIError(response.status, message);
    }
    return data as T;
  }

  config(): Promise<IServerConfig> {
    return this.request<IServerConfig>('config');
  }

  gpu(): Promise<IGpuReport> {
    return this.request<IGpuReport>('gpu');
  }

  gpuProcesses(): Promise<IGpuProcesses> {
    return this.request<IGpuProcesses>('gpu/processes');
  }

  usage(days = 30): Promise<IUsage> {
    return this.request<IUsage>(`usage?days=${days}`);
  }

  /** Stop the Docker Offload session, where the server has such a route. */
  stopOffload(): Promise<IContexts> {
    return this.request<IContexts>('offload/stop', { method: 'POST' });
  }

  contexts(): Promise<IContexts> {
    return this.request<IContexts>('contexts');
  }

  /** Switch to a context by name, or by role ("local" / "offload"). */
  useContext(name: string): Promise<IContexts> {
    return this.request<IContexts>('contexts/current', {
      method: 'PUT',
      body: JSON.stringify({ name })
    });
  }

  adviseRuntime(
    body: Record<string, unknown>
  ): Promise<Record<string, unknown>> {
    return this.request('advise/runtime', {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  adviseDeployment(
    body: Record<string, unknown>
  ): Promise<Record<string, unknown>> {
    return this.request('advise/deployment', {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  adviceOptions(): Promise<AdviceOptions> {
    return this.request<AdviceOptions>('advise/options');
  }
}
