// Drives Debian's Chromium with playwright-core for tests/browser/test_browser.py.
// Input: one JSON argument (see the test); output: one JSON object on stdout, what the
// browser saw. The test, not this script, decides what is right.
import { chromium } from "playwright-core";

const config = JSON.parse(process.argv[2]);
const WAIT_MS = 20_000;
const started = Date.now();
const timings = {};

async function timed(name, step) {
  const start = Date.now();
  try {
    return await step();
  } finally {
    timings[name] = Date.now() - start;
  }
}

// A page on another origin posts a ticket to the gateway; returns what it shows.
async function ticketPage(context, pageUrl, token) {
  const page = await context.newPage();
  const messages = [];
  page.on("console", (message) => messages.push(message.text()));
  await page.goto(`${pageUrl}#${new URLSearchParams({ gateway: config.gateway, token })}`);
  await page.waitForSelector("#outcome[data-state]", { timeout: WAIT_MS });
  const shown = await page.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent;
    return {
      state: document.getElementById("outcome").dataset.state,
      reference: text("reference"),
      requestId: text("request-id"),
      etag: text("etag"),
      error: text("error"),
    };
  });
  await page.close();
  return { ...shown, console: messages };
}

// The gateway's /docs: how many operations Swagger UI lists, and every request that failed.
async function docsPage(context) {
  const page = await context.newPage();
  const failed = [];
  const requested = [];
  page.on("request", (request) => requested.push(request.url()));
  page.on("requestfailed", (request) =>
    failed.push(`${request.url()}: ${request.failure()?.errorText}`),
  );
  page.on("response", (response) => {
    if (response.status() >= 400) failed.push(`${response.url()}: HTTP ${response.status()}`);
  });
  const start = Date.now();
  await page.goto(`${config.gateway}/docs`, { waitUntil: "load" });
  timings.docsLoaded = Date.now() - start;
  await page.waitForFunction(
    (count) => document.querySelectorAll(".opblock").length >= count,
    config.operations,
    { timeout: WAIT_MS },
  );
  timings.docsListed = Date.now() - start;
  await page.waitForLoadState("networkidle", { timeout: WAIT_MS });
  const operations = await page.locator(".opblock").count();
  const title = await page.locator(".information-container .title").first().textContent();
  if (config.screenshot) await page.screenshot({ path: config.screenshot });
  await page.close();
  return { operations, title, failed, requested };
}

const browser = await timed("launch", () =>
  chromium.launch({
    executablePath: config.chromium,
    headless: true,
    // No sandbox as root; and no calls home, which a closed network refuses one by one.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  }),
);
try {
  const context = await browser.newContext();
  const allowed = await timed("allowed", () =>
    ticketPage(context, config.allowedPage, config.allowedToken),
  );
  const refused = await timed("refused", () =>
    ticketPage(context, config.refusedPage, config.refusedToken),
  );
  const docs = await timed("docs", () => docsPage(context));
  timings.total = Date.now() - started;
  process.stdout.write(
    JSON.stringify({ version: browser.version(), allowed, refused, docs, timings }),
  );
} finally {
  await browser.close();
}
