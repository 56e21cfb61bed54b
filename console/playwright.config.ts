import { defineConfig } from "@playwright/test";

// The browser tests run against a local stack that scripts/browser-tests starts (or `make dev`):
// IAM_CONSOLE_URL is its base URL, IAM_BOOTSTRAP its bootstrap.json. The browser is Debian's
// chromium: the npm browser downloads cannot reach their hosts from these machines.
// Timeouts are hang guards, generous so a loaded machine passes as an idle one does; nothing here
// asserts a duration.
export default defineConfig({
  testDir: "tests",
  timeout: 180_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: process.env.IAM_CONSOLE_URL ?? "http://127.0.0.1:3000",
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
