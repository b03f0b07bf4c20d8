// The Jupyter-compatible API (Jupyter Server / Kernel Gateway shapes and status codes), as one extra for the
// custom server (server/main.ts): REST under /api and /kernelspecs (rest.ts), and the kernel WebSocket
// /api/kernels/{id}/channels (channels.ts, client.ts). See DESIGN.md, "Contracts: Jupyter-compatible API".
import type { Services } from "@/server/services";
import { channelsApi, type ChannelsOptions } from "./channels";
import { restApi } from "./rest";

export function jupyterApi(services: Services, options: ChannelsOptions = {}) {
  const channels = channelsApi(services, options);
  return { http: restApi(services), upgrade: channels.upgrade, close: channels.close };
}
