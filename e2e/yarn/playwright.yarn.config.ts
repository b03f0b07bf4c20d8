import { defineConfig } from "@playwright/test";
import { clusterSuite } from "../support/playwright-common";
import { artifactsDir, portalEnv, yarnDataDir, yarnPort } from "./support";

// The YARN end-to-end suite (`npm test -- yarn-e2e`): a real HDFS + YARN mini cluster (e2e/clusters/hadoop)
// started by the global setup on offset ports, and a portal of its own (`atrium start` on its own port and data
// dir) whose kernels run as YARN cluster-mode applications and whose homes are HDFS folders. Screenshots under
// e2e/.artifacts/yarn-<port>/. The specs here skip unless this config runs them (the default config also
// matches e2e/**/*.spec.ts).
process.env.ATRIUM_YARN_E2E = "1";
const support = "./support.ts"; // its default export is both hooks: start the cluster, then stop it

export default defineConfig({
  ...clusterSuite({ artifactsDir, port: yarnPort, support }),
  webServer: {
    command: `rm -rf "${yarnDataDir}" && exec node server/cli/atrium.mjs start`,
    cwd: process.cwd(),
    url: `http://localhost:${yarnPort}/signin`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    // Workers load this config too; they need no server settings (and no provisioning check).
    env: process.env.TEST_WORKER_INDEX === undefined ? portalEnv() : {},
  },
});
