// The start page renders in bokmål and English with no console error, no request to another
// origin, no WCAG 2.1 AA violation, and a language control a person can use.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, launchBrowser, openPage, startTrygg } from "../lib/harness.js";

let trygg;
let browser;

before(async () => {
  trygg = await startTrygg();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await trygg?.stop();
});

for (const [lang, heading, personnel] of [
  ["nb", "Velkommen til Trygg", "Logg inn som ansatt"],
  ["en", "Welcome to Trygg", "Sign in as staff"],
]) {
  test(`start page in ${lang}`, async () => {
    const { page, context, record } = await openPage(browser);
    const res = await page.goto(`${trygg.base}/?lang=${lang}`);
    assert.equal(res.status(), 200);
    await page.waitForLoadState("networkidle");
    assert.equal(await page.getAttribute("html", "lang"), lang);
    await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    await page.getByRole("link", { name: personnel }).waitFor();
    assert.deepEqual(record.consoleErrors, [], "no console errors");
    const origin = new URL(trygg.base).origin;
    const foreign = record.requests.filter((u) => new URL(u).origin !== origin);
    assert.deepEqual(foreign, [], "no request to another origin");
    assert.ok(record.requests.some((u) => u.endsWith("/static/trygg.css")), "stylesheet loaded");
    assert.deepEqual(await axeViolations(page), [], "no WCAG 2.1 AA violations");
    await context.close();
  });
}

test("the language control switches to nynorsk", async () => {
  const { page, context } = await openPage(browser);
  await page.goto(`${trygg.base}/`);
  await page.getByRole("navigation", { name: "Språk" }).getByRole("link", { name: "Nynorsk" }).click();
  await page.getByRole("heading", { level: 1, name: "Velkomen til Trygg" }).waitFor();
  assert.equal(await page.getAttribute("html", "lang"), "nn");
  // The script keeps the chosen language on links inside the site.
  const href = await page.getByRole("link", { name: "Logg inn som tilsett" }).getAttribute("href");
  assert.match(href, /lang=nn/);
  await context.close();
});
