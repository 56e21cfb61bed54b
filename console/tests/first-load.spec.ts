// A benchmark, not a test of speed: `make bench` runs it (scripts/browser-tests --grep @bench) and
// writes the figure; `make test` leaves it out. Method: sign in once, then N times load
// /console/api-keys afresh with the HTTP cache disabled (every asset fetched again, as on a first
// visit) until the API Keys table is rendered; report the median and the worst.
import { expect, test } from "@playwright/test";
import { OWNER, signIn } from "./support";

test("@bench console first load to the API Keys list", async ({ page }) => {
  await signIn(page, OWNER);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
  const runs: number[] = [];
  for (let i = 0; i < Number(process.env.BENCH_N ?? 15); i++) {
    const started = performance.now();
    await page.goto("/console/api-keys");
    await expect(page.getByRole("table", { name: "API-key principals" })).toBeVisible();
    runs.push(performance.now() - started);
  }
  runs.sort((a, b) => a - b);
  const median = runs[Math.floor(runs.length / 2)];
  console.log(`console first load to the API Keys list: median ${median.toFixed(0)} ms, worst ${runs[runs.length - 1].toFixed(0)} ms (N=${runs.length}, cache disabled)`);
});
