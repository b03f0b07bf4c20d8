// The Jupyter API's URL table: which paths are ours (and which are Next's), and the methods each allows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { channelsKernelId, matchRoute } from "./routes";

const ID = "0b0d4f3c-3a39-4c4e-9a51-1f6f2f6d2a10";

describe("Jupyter API routes", () => {
  it("maps Jupyter's paths to routes, and leaves everyone else's alone", () => {
    const cases: [string, string, unknown][] = [
      ["GET", "/api", { kind: "api-root" }],
      ["GET", "/api/", { kind: "api-root" }],
      ["GET", "/api/kernelspecs", { kind: "kernelspecs" }],
      ["GET", "/api/kernelspecs/python3", { kind: "kernelspec", name: "python3" }],
      ["GET", "/kernelspecs/python3/logo-64x64.png", { kind: "kernelspec-resource", name: "python3", file: "logo-64x64.png" }],
      ["GET", "/api/kernels", { kind: "kernels" }],
      ["POST", "/api/kernels/", { kind: "kernels" }],
      ["GET", `/api/kernels/${ID}`, { kind: "kernel", id: ID }],
      ["DELETE", `/api/kernels/${ID}`, { kind: "kernel", id: ID }],
      ["POST", `/api/kernels/${ID}/interrupt`, { kind: "kernel-interrupt", id: ID }],
      ["POST", `/api/kernels/${ID}/restart`, { kind: "kernel-restart", id: ID }],
      ["GET", `/api/kernels/${ID}/channels`, { kind: "kernel-channels", id: ID }],
    ];
    for (const [method, path, route] of cases) assert.deepEqual(matchRoute(method, path), { ok: true, route }, `${method} ${path}`);
    for (const path of ["/api/trpc/me.get", "/api/auth/session", "/api/files/content/a.txt", "/api/kernelspecs/a/b", "/kernelspecs/python3/../secret", "/"]) {
      assert.equal(matchRoute("GET", path), null, path);
    }
  });

  it("says which methods a path allows", () => {
    assert.deepEqual(matchRoute("PUT", "/api/kernels"), { ok: false, allow: ["GET", "POST"] });
    assert.deepEqual(matchRoute("GET", `/api/kernels/${ID}/restart`), { ok: false, allow: ["POST"] });
  });

  it("recognises kernel WebSocket paths only", () => {
    assert.equal(channelsKernelId(`/api/kernels/${ID}/channels`), ID);
    assert.equal(channelsKernelId(`/api/kernels/${ID}`), null);
    assert.equal(channelsKernelId("/_next/webpack-hmr"), null);
  });
});
