// The administration pages in Chromium: an organisation administrator (the demo's developer
// login) sees people and grants, grants a time-limited role with the form, revokes it, and the
// pages have no WCAG 2.1 AA violation and make no request to another origin (PC-ACL-1).
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

test("an administrator grants and revokes a role from the administration page", async () => {
  const { page, context, record } = await openPage(browser);
  await page.goto(`${trygg.base}/personell?lang=en`);
  const dev = page.getByRole("region", { name: "Developer login (demo only)" });
  await dev.getByRole("combobox", { name: "Person" }).selectOption({ label: "Normland legesenter: Administrator" });
  await dev.getByRole("button", { name: "Sign in without a passkey" }).click();
  await page.getByRole("heading", { level: 1, name: "You are signed in" }).waitFor();

  const origin = new URL(page.url()).origin;
  await page.goto(`${origin}/admin?lang=en`);
  await page.getByRole("heading", { level: 1, name: "Administration" }).waitFor();
  const person = page.getByRole("region", { name: "Kari Pleie Nordmann" });
  await person.waitFor();
  assert.deepEqual(await axeViolations(page), [], "no WCAG 2.1 AA violations");

  const revokes = () => person.getByRole("button", { name: /^Revoke:/ }).count();
  const before = await revokes();
  await person.getByRole("combobox", { name: "Role" }).selectOption("interpreter");
  await person.getByLabel("Valid to (optional)").fill("2030-01-31");
  await person.getByRole("button", { name: "Grant role: Kari Pleie Nordmann" }).click();
  await page.waitForLoadState("load");
  await person.getByRole("button", { name: "Revoke: Interpreter, Kari Pleie Nordmann" }).waitFor();
  assert.equal(await revokes(), before + 1);
  // After the action, the page it returns to says so, with focus there (issue #14).
  await page.getByRole("status").filter({ hasText: "The change was saved." }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.id), "admin-status");
  // The end of 31 January (UTC) as people read it in Norway, never a code (issue #14).
  assert.match(await person.innerText(), /1 February 2030, 00:59/);
  assert.doesNotMatch(await person.innerText(), /interpreter|T23:59/);

  await person.getByRole("button", { name: "Revoke: Interpreter, Kari Pleie Nordmann" }).click();
  // After the reload the grant is listed as ended, with no revoke button.
  await page.waitForFunction(
    () => !document.querySelector("button[aria-label='Revoke: Interpreter, Kari Pleie Nordmann']"),
  );
  await person.waitFor();
  assert.equal(await revokes(), before);

  // The rights review: the attestation names the report it covers (its generated_at), so flags
  // raised while the reviewer read stay for the next review.
  const reviews = () => page.locator("li", { hasText: ": approved (" }).count();
  const reviewed = await reviews();
  await page.getByRole("button", { name: "Confirm: the access rights are right" }).click();
  await page.waitForFunction(
    (n) => [...document.querySelectorAll("li")].filter((li) => li.textContent.includes(": approved (")).length > n,
    reviewed,
  );
  assert.equal(await page.locator("#admin-status").innerText(), "The change was saved.", "no error shown");

  await page.goto(`${origin}/admin/audit?lang=en&security=on`);
  await page.getByRole("heading", { level: 1, name: "Search the log" }).waitFor();
  assert.deepEqual(await axeViolations(page), [], "no WCAG 2.1 AA violations on the audit search");
  await page.goto(`${origin}/admin/roles?lang=en`);
  assert.deepEqual(await axeViolations(page), [], "no WCAG 2.1 AA violations on the roles page");

  assert.deepEqual(record.consoleErrors, [], "no console errors");
  const foreign = record.requests.filter((u) => new URL(u).origin !== origin && !u.startsWith(trygg.base));
  assert.deepEqual(foreign, [], "no request to another origin");
  await context.close();
});
