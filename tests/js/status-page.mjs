// Loads annals' status page in headless Chromium (Debian's, driven by
// playwright-core) and reports what a person would see, as one JSON line:
//   node status-page.mjs URL COMMUNITY_ID SCREENSHOT.png
// It waits for the community to show, reads its archive count until it
// equals what /archive/v1/communities says at that moment, waits for a
// signal to arrive over /events, keeps a full-page screenshot, and collects
// every console error, page error and failed request on the way.
// Exit 0 when all of that held, 1 otherwise (the JSON says what failed).
import { chromium } from "playwright-core";

const [url, community, screenshot] = process.argv.slice(2);
if (!url || !community || !screenshot) {
  console.error("usage: node status-page.mjs URL COMMUNITY_ID SCREENSHOT.png");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const result = { consoleErrors: [], failedRequests: [], community: false, archivesOnPage: null,
                 archivesOverRest: null, signals: 0, title: "", problems: [] };
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // This machine's network is closed: Chromium's own background traffic
  // would only fail (and slow the start).
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error") result.consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => result.consoleErrors.push("page error: " + e.message));
  page.on("requestfailed", (r) => {
    // The event stream is cut when the page closes: not a failure.
    if (!r.url().endsWith("/events")) result.failedRequests.push(r.url() + ": " + r.failure()?.errorText);
  });
  await page.goto(url, { waitUntil: "load" });
  result.title = await page.title();
  const card = page.locator(`[data-community="${community}"]`);
  await card.waitFor({ timeout: 15000 });
  result.community = true;
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    result.archivesOnPage = Number(await card.locator('[data-figure="archives"] strong').textContent());
    result.archivesOverRest = await page.evaluate(async (id) => {
      const list = await (await fetch("/archive/v1/communities", { cache: "no-store" })).json();
      const c = list.find((x) => x.communityId === id);
      return c ? c.archives : null;
    }, community);
    if (result.archivesOnPage === result.archivesOverRest) break;
    await page.waitForTimeout(500);
  }
  if (result.archivesOnPage !== result.archivesOverRest)
    result.problems.push("archive count on the page differs from /archive/v1/communities");
  try {
    await page.locator("#signals li").first().waitFor({ timeout: 20000 });
  } catch (_) {
    result.problems.push("no signal arrived over /events in 20 s");
  }
  result.signals = await page.locator("#signals li").count();
  // The charts come from /debug/v1/history.
  result.charts = await page.locator("#charts .chart").count();
  if (result.charts === 0) result.problems.push("no charts");
  await page.screenshot({ path: screenshot, fullPage: true });
} catch (e) {
  result.problems.push(String(e && e.message || e));
} finally {
  await browser.close();
}
if (result.consoleErrors.length) result.problems.push("console errors");
if (result.failedRequests.length) result.problems.push("failed requests");
console.log(JSON.stringify(result));
process.exit(result.problems.length ? 1 : 0);
