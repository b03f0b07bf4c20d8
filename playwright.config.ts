import path from "node:path";
import { defineConfig } from "@playwright/test";
import { chromiumLaunchOptions, chromiumProjects } from "./e2e/support/playwright-common";

// End-to-end tests drive Debian's Chromium against the production build, served by `atrium start` on a fresh
// embedded database. Screenshots of every test are kept under e2e/.artifacts.
const port = Number(process.env.ATRIUM_E2E_PORT ?? 3917);
// Per port, so two runs on different ports (ATRIUM_E2E_PORT) never share a data dir.
export const e2eDataDir = path.resolve(`e2e/.artifacts/data-${port}`);
export const e2eAdmin = { email: "admin@e2e.test", password: "e2e-admin-password" };
/** The test OpenID provider (e2e/support/oidc-provider.mjs) the portal offers single sign-on through. */
export const e2eOidc = { port: port + 1, name: "Test SSO", clientId: "atrium-e2e", clientSecret: "atrium-e2e-client-secret-0123456789" };

export default defineConfig({
  testDir: "e2e",
  testMatch: "**/*.spec.ts",
  // The YARN and Kubernetes specs need their clusters: they run with their own configs (npm test -- yarn-e2e,
  // k8s-e2e).
  testIgnore: ["yarn/**", "kubernetes/**"],
  // Per port too: Playwright empties its output dir when a run starts, and npm test runs two lanes at once.
  outputDir: `e2e/.artifacts/test-results-${port}`,
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL: `http://localhost:${port}`,
    screenshot: "on",
    trace: "retain-on-failure",
    launchOptions: chromiumLaunchOptions,
  },
  projects: chromiumProjects,
  webServer: [
    {
      command: "exec node e2e/support/oidc-provider.mjs",
      url: `http://127.0.0.1:${e2eOidc.port}/.well-known/openid-configuration`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      env: { ATRIUM_E2E_OIDC_PORT: String(e2eOidc.port), ATRIUM_E2E_OIDC_REDIRECT_URI: `http://localhost:${port}/api/auth/callback/oidc` },
    },
    {
      command: `rm -rf "${e2eDataDir}" && exec node server/cli/atrium.mjs start`,
      url: `http://localhost:${port}/signin`,
      timeout: 240_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        PORT: String(port),
        ATRIUM_DATA_DIR: e2eDataDir,
        ATRIUM_ADMIN_EMAIL: e2eAdmin.email,
        ATRIUM_ADMIN_PASSWORD: e2eAdmin.password,
        NEXT_TELEMETRY_DISABLED: "1",
        // A culling sweep every 2 s, so culling.spec.ts waits for its 1-minute policy, not for sweeps. Other specs
        // are not affected: the default policy's idle timeout is 60 min and spares kernels with a notebook open.
        ATRIUM_CULL_INTERVAL_SECONDS: "2",
        ATRIUM_OIDC_ISSUER: `http://127.0.0.1:${e2eOidc.port}`,
        ATRIUM_OIDC_CLIENT_ID: e2eOidc.clientId,
        ATRIUM_OIDC_CLIENT_SECRET: e2eOidc.clientSecret,
        ATRIUM_OIDC_NAME: e2eOidc.name,
        // The test provider's people get an account at their first sign-in (sso.spec.ts).
        ATRIUM_SSO_SIGNUP_DOMAINS: "sso.e2e.test",
        ...(process.env.ATRIUM_PYTHON ? { ATRIUM_PYTHON: process.env.ATRIUM_PYTHON } : {}),
      },
    },
  ],
});
