/**
 * Thin client for the labadvisor server extension (`<base_url>/labadvisor/api/`).
 *
 * Requests go through ServerConnection.makeRequest, which adds the token and the
 * XSRF header; the server does all the work, this module only moves JSON.
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

/** An error answered by the server, carrying its JSON `message`. */
export class APIError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'labadvisor', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
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

export const getGpu = (): Promise<IGpuReport> => requestAPI<IGpuReport>('gpu');

export const getContexts = (): Promise<IContexts> =>
  requestAPI<IContexts>('contexts');

/** Switch to a context by name, or by role ("local" / "offload"). */
export const useContext = (name: string): Promise<IContexts> =>
  requestAPI<IContexts>('contexts/current', {
    method: 'PUT',
    body: JSON.stringify({ name })
  });

export const adviseRuntime = (
  body: Record<string, unknown>
): Promise<Record<string, unknown>> =>
  requestAPI('advise/runtime', { method: 'POST', body: JSON.stringify(body) });

export const adviseDeployment = (
  body: Record<string, unknown>
): Promise<Record<string, unknown>> =>
  requestAPI('advise/deployment', {
    method: 'POST',
    body: JSON.stringify(body)
  });
