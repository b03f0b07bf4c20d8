// What every Playwright config here shares: Debian's Chromium with the flags this machine needs (no sandbox as
// root, no GPU, no background networking: the network is closed), screenshots kept, one worker.
import { devices, type PlaywrightTestConfig } from "@playwright/test";

export const chromiumLaunchOptions = {
  executablePath: process.env.ATRIUM_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
};

export const chromiumProjects: PlaywrightTestConfig["projects"] = [{ name: "chromium", use: { ...devices["Desktop Chrome"], channel: undefined } }];

/** The shared part of a suite that runs against a real cluster: its global setup starts the cluster (and the portal). */
export function clusterSuite(options: { artifactsDir: string; port: number; support: string }): PlaywrightTestConfig {
  return {
    testDir: ".",
    testMatch: "**/*.spec.ts",
    outputDir: `${options.artifactsDir}/test-results`,
    fullyParallel: false,
    workers: 1,
    retries: 0,
    timeout: 10 * 60_000,
    expect: { timeout: 10_000 },
    reporter: [["list"]],
    globalSetup: options.support,
    globalTeardown: options.support,
    use: { baseURL: `http://localhost:${options.port}`, screenshot: "on", trace: "retain-on-failure", launchOptions: chromiumLaunchOptions },
    projects: chromiumProjects,
  };
}
