// The Jupyter-compatible REST calls the notebook page makes (same origin; the session cookie authenticates).
// Each failure becomes a KernelApiError with words the page can show as they are; a 401 also tells the page it is
// signed out (session-ended.ts).
import { pageUserHeaders, reportSessionEnded } from "../session-ended";

export interface KernelModel {
  id: string;
  name: string;
  execution_state?: string;
  last_activity?: string;
  connections?: number;
  [extra: string]: unknown;
}

export interface KernelspecModel {
  name: string;
  spec: { display_name: string; language?: string; metadata?: Record<string, unknown>; [extra: string]: unknown };
}

export interface KernelspecList {
  default: string;
  kernelspecs: Record<string, KernelspecModel>;
}

export class KernelApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "KernelApiError";
  }
}

/** How long a call may take before the page stops waiting: a restart relaunches the kernel (YARN takes minutes). */
const CALL_DEADLINE_MS = 30_000;
const RESTART_DEADLINE_MS = 15 * 60_000;

async function call<T>(path: string, init: RequestInit & { okEmpty?: boolean; deadlineMs?: number } = {}): Promise<T> {
  const deadlineMs = init.deadlineMs ?? CALL_DEADLINE_MS;
  let response: Response;
  try {
    response = await fetch(path, {
      credentials: "same-origin",
      signal: AbortSignal.timeout(deadlineMs),
      ...init,
      headers: { "content-type": "application/json", ...pageUserHeaders(), ...init.headers },
    });
  } catch (error) {
    if ((error as Error).name === "TimeoutError") {
      throw new KernelApiError(`Atrium did not answer within ${Math.round(deadlineMs / 1000)} s. Try again; if it keeps happening, tell your administrator.`, 0);
    }
    throw new KernelApiError("Atrium can't be reached. Check your connection; the page retries when it's back.", 0);
  }
  if (response.status === 401) reportSessionEnded();
  if (!response.ok) throw new KernelApiError(await messageOf(response), response.status);
  if (response.status === 204 || init.okEmpty) return undefined as T;
  return (await response.json()) as T;
}

async function messageOf(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown; reason?: unknown };
    if (typeof body.message === "string" && body.message) return body.message;
    if (typeof body.reason === "string" && body.reason) return body.reason;
  } catch {
    // not JSON: fall through to words of our own
  }
  if (response.status === 401) return "Your session has ended. Sign in again.";
  if (response.status === 404) return "That kernel no longer exists.";
  return `The kernel service answered ${response.status}. Try again.`;
}

const enc = encodeURIComponent;

export const kernelApi = {
  kernelspecs: () => call<KernelspecList>("/api/kernelspecs"),
  start: (name: string) => call<KernelModel>("/api/kernels", { method: "POST", body: JSON.stringify({ name }) }),
  get: async (id: string): Promise<KernelModel | null> => {
    try {
      return await call<KernelModel>(`/api/kernels/${enc(id)}`);
    } catch (error) {
      if (error instanceof KernelApiError && error.status === 404) return null;
      throw error;
    }
  },
  interrupt: (id: string) => call<void>(`/api/kernels/${enc(id)}/interrupt`, { method: "POST", okEmpty: true }),
  restart: (id: string) => call<KernelModel>(`/api/kernels/${enc(id)}/restart`, { method: "POST", deadlineMs: RESTART_DEADLINE_MS }),
  shutdown: (id: string) => call<void>(`/api/kernels/${enc(id)}`, { method: "DELETE", okEmpty: true }),
};
