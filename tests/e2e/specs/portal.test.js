// The patient portal in Chromium (issue #13), signed in through the demo's built-in test
// provider at level high (the ID-porten path itself is tested against a real OpenID Provider in
// crates/trygg/tests/it/oidc.rs): the page names the test provider, shows who has seen the
// patient's information (PC-RIGHTS-1), takes a consent and its withdrawal (PC-CONSENT-1/2),
// corrects the contact data (PC-RIGHTS-2) and downloads the patient's data as a JSON file; with
// no console error, no request to another origin and no WCAG 2.1 AA violation.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { axeViolations, launchBrowser, openPage, startTrygg } from "../lib/harness.js";

const ORG = "normland-legesenter";

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

test("a patient signs in at high, reads who has seen their data, withdraws a consent and downloads their data", async () => {
  const { page, context, record } = await openPage(browser);
  // The portal's front offers the test login in the demo (on loopback).
  await page.goto(`${trygg.base}/portal/${ORG}`);
  await page.getByRole("link", { name: "Testinnlogging (demo, ikke ID-porten)" }).click();
  await page.getByRole("heading", { level: 1, name: "Testinnlogging for demo" }).waitFor();
  assert.match(await page.locator("main").innerText(), /ikke ID-porten/);
  await page.getByRole("radio", { name: "høyt" }).check();
  await page.getByRole("button", { name: "Logg inn (test)" }).click();

  await page.getByRole("heading", { level: 1, name: "Din side" }).waitFor();
  const main = await page.locator("main").innerText();
  assert.match(main, /testleverandør/);
  assert.match(main, /høyt/);
  // Who has seen the information: the registration by the demo, and the patient's own login.
  await page.getByRole("heading", { level: 2, name: "Hvem har sett opplysningene dine" }).waitFor();
  const rows = await page.locator("table.access-log tbody tr").count();
  assert.ok(rows >= 2, `access log rows: ${rows}`);
  assert.deepEqual(await axeViolations(page), [], "portal: no WCAG 2.1 AA violations");

  // Consent: say yes to "a message is waiting" by SMS, then withdraw it.
  const row = page.getByRole("row", { name: /Varsel om at en melding venter her: SMS/ });
  await row.getByRole("button", { name: "Si ja" }).click();
  await page.getByRole("status").filter({ hasText: "Endringen er lagret." }).waitFor();
  await page
    .getByRole("row", { name: /Varsel om at en melding venter her: SMS/ })
    .getByRole("button", { name: "Trekk tilbake" })
    .click();
  await page
    .getByRole("row", { name: /Varsel om at en melding venter her: SMS/ })
    .getByRole("button", { name: "Si ja" })
    .waitFor();

  // Contact data: a bad number is refused with the reason and changes nothing.
  await page.getByLabel("Mobilnummer").fill("12");
  await page.getByRole("button", { name: "Lagre" }).click();
  await page.getByRole("alert").filter({ hasText: "Mobilnummeret må ha åtte sifre" }).waitFor();
  await page.getByLabel("Mobilnummer").fill("98765432");
  await page.getByRole("button", { name: "Lagre" }).click();
  await page.getByRole("status").filter({ hasText: "Endringen er lagret." }).waitFor();
  assert.equal(await page.getByLabel("Mobilnummer").inputValue(), "+4798765432");

  // The data as a file.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Last ned opplysningene dine" }).click(),
  ]);
  const data = JSON.parse(readFileSync(await download.path(), "utf8"));
  assert.equal(data.format, "trygg-patient-export-1");
  assert.equal(data.you.phone, "+4798765432");
  assert.equal(data.consents.length, 2, "the yes and the withdrawal");
  assert.ok(data.who_has_seen_your_data.length >= 2);

  // A message to the care team, then a reply in its thread (PC-EMERG-1: the urgent line shown).
  await page.goto(`${trygg.base}/portal/${ORG}`);
  await page.getByLabel("Emne").fill("Spørsmål om resept");
  await page.getByLabel("Melding", { exact: true }).fill("Kan dere fornye den?");
  await page.getByRole("button", { name: "Send" }).click();
  await page.getByRole("heading", { level: 1, name: "Spørsmål om resept" }).waitFor();
  await page.getByRole("status").filter({ hasText: "Meldingen er sendt." }).waitFor();
  assert.match(await page.locator("ol.messages").innerText(), /Kan dere fornye den\?/);
  assert.deepEqual(await axeViolations(page), [], "thread: no WCAG 2.1 AA violations");
  await page.getByLabel("Melding").fill("Takk på forhånd.");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator("ol.messages", { hasText: "Takk på forhånd." }).waitFor();
  await page.getByRole("link", { name: "Tilbake til oversikten" }).click();
  await page.getByRole("link", { name: "Spørsmål om resept" }).waitFor();

  // Log out: back to the front, signed out.
  await page.getByRole("button", { name: "Logg ut" }).click();
  await page.getByRole("link", { name: "Logg inn med ID-porten" }).waitFor();

  assert.deepEqual(record.consoleErrors, [], "no console errors");
  const origin = new URL(trygg.base).origin;
  const foreign = record.requests.filter((u) => new URL(u).origin !== origin);
  assert.deepEqual(foreign, [], "no request to another origin");
  await context.close();
});
