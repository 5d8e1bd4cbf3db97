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

export interface IGpuDevice {
  index?: number;
  name: string;
  memory_total: number | null;
  memory_used: number | null;
  memory_free: number | null;
  [key: string]: unknown;
}

export interface IGpuReport {
  status: string;
  message?: string | null;
  devices: IGpuDevice[];
  [key: string]: unknown;
}

export interface IDockerContext {
  name: string;
  host?: string | null;
  role: string | null;
  current?: boolean;
  [key: string]: unknown;
}

export interface IContexts {
  current: IDockerContext | null;
  contexts: IDockerContext[];
  /** After a switch: what `labadvisor.contexts.use()` did, in words. */
  summary?: string;
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
