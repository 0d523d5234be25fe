// The compliance pages in Chromium (issue #15): an administrator signed in with a passkey finds
// Samsvar, Avvik and Lagringstid in the main menu, in bokmål, nynorsk and English; registers an
// incident with the form, opens it, moves it to triage and reads the notification report in
// both languages; sets a routine's owner and a data class's retention; and sees the report's
// rows. On every page: no WCAG 2.1 AA violation (axe-core), nothing scrolls sideways at 360 px,
// no machine time or permission code in the text, and no request to another origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  axeViolations, cliJson, onServer, openPage, virtualAuthenticator, withTryggAndBrowser,
} from "../lib/harness.js";

const ORG = "normland-legesenter";
const ctx = withTryggAndBrowser();
const cli = (...args) => cliJson(ctx.trygg, ...args);
const RFC3339 = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
const CODES = ["health-read", "compliance-manage", "org-admin", "credentials-manage", "patient-read"];

async function check(page, what) {
  const text = await page.locator("body").innerText();
  assert.doesNotMatch(text, RFC3339, `${what}: shows a machine time`);
  for (const code of CODES) assert.ok(!text.includes(code), `${what}: shows the code ${code}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 361, `${what}: ${wide} px wide at 360 px`);
  assert.deepEqual(await axeViolations(page), [], `${what}: no WCAG 2.1 AA violations`);
}

async function saved(page) {
  const status = page.locator("#admin-status");
  await page.waitForFunction(() => document.getElementById("admin-status")?.textContent.trim() !== "");
  assert.match(await status.innerText(), /lagret|lagra|saved/i, "the change was saved");
}

test("an administrator keeps the incident register, the routines and the retention from the menu", async () => {
  const origin = new URL(ctx.trygg.setup[ORG]).origin;
  const admin = cli("personnel", "list", "--org", ORG).find((p) => p.role === "org-admin");
  const link = cli("personnel", "enrol-link", "--org", ORG, "--personnel", admin.id);
  const p = await openPage(ctx.browser);
  await virtualAuthenticator(p.context, p.page);
  await p.page.goto(onServer(link.url, origin));
  await p.page.locator("#passkey-button").click();
  await p.page.getByRole("heading", { level: 1, name: "Du er logget inn" }).waitFor();
  await p.page.setViewportSize({ width: 360, height: 800 });

  // The three pages are in the main menu, in every language.
  for (const [tag, nav, labels] of [
    ["nb", "Hovedmeny", ["Samsvar", "Avvik", "Lagringstid"]],
    ["nn", "Hovudmeny", ["Samsvar", "Avvik", "Lagringstid"]],
    ["en", "Main menu", ["Compliance", "Incidents", "Retention"]],
  ]) {
    await p.page.goto(`${origin}/personell?lang=${tag}`);
    const menu = p.page.getByRole("navigation", { name: nav });
    for (const label of labels) {
      await menu.getByRole("link", { name: label, exact: true }).click();
      await p.page.waitForLoadState("load");
      await p.page.locator("h1").first().waitFor();
      await check(p.page, `${label} (${tag})`);
    }
  }

  // An incident registered with the form; the 72-hour clock runs.
  await p.page.goto(`${origin}/admin/avvik?lang=nb`);
  await p.page.getByLabel("Tittel").fill("Brev sendt til feil pasient");
  await p.page.getByLabel("Hva har skjedd").fill("Et brev med timeinformasjon gikk til feil adresse.");
  await p.page.getByRole("button", { name: "Registrer" }).click();
  await saved(p.page);
  const year = new Date().getUTCFullYear();
  const ref = p.page.getByRole("link", { name: `AVV-${year}-001` });
  await ref.waitFor();
  assert.match(await p.page.locator("table").innerText(), /igjen av 72 t/);
  await check(p.page, "register with an incident");
  await ref.click();
  await p.page.getByRole("heading", { level: 1, name: /AVV-\d{4}-001/ }).waitFor();
  await check(p.page, "incident");
  // One step on: triage, with an owner.
  await p.page.getByLabel("Status etter endringen").selectOption({ label: "Under avklaring" });
  await p.page.getByLabel("Ansvarlig", { exact: true }).fill("Personvernombud");
  await p.page.getByRole("button", { name: "Lagre" }).click();
  await saved(p.page);
  const facts = await p.page.locator("dl.facts").first().innerText();
  assert.match(facts, /Under avklaring/);
  // A skipped step is refused with a message read out.
  await p.page.getByLabel("Status etter endringen").selectOption({ label: "Vurdert" });
  await p.page.getByRole("button", { name: "Lagre" }).click();
  await p.page.locator("#admin-status", { hasText: "assessment needs the risk" }).waitFor();
  // The notification report in both languages.
  const nb = await p.page.locator("pre.report[lang=nb]").innerText();
  const en = await p.page.locator("pre.report[lang=en]").innerText();
  assert.match(nb, /Ansvarlig for oppfølging: Personvernombud/);
  assert.match(en, /Owner: Personvernombud/);
  assert.match(en, /Deadline for notification \(72 hours\)/);

  // A routine's owner and review date on the compliance page.
  await p.page.goto(`${origin}/admin/samsvar?lang=nb`);
  const training = p.page.getByRole("region", { name: /Opplæring av personell/ });
  await training.getByLabel("Ansvarlig").fill("Fagleder");
  await training.getByLabel("Dokument").fill("Rutinehåndbok 4.2");
  await training.getByLabel("Neste gjennomgang").fill("2099-06-01");
  await training.getByRole("button", { name: "Lagre" }).click();
  await saved(p.page);
  assert.equal(await p.page.getByRole("region", { name: /Opplæring av personell/ }).getByLabel("Ansvarlig").inputValue(), "Fagleder");
  const row = p.page.locator("#row-PC-AUTHN-3");
  assert.match(await row.innerText(), /Oppfylt med innstilling|Ikke oppfylt/);
  assert.match(await p.page.locator("#row-VC-CONF-4").innerText(), /Virksomhetens rutine/);
  await check(p.page, "compliance after a routine");

  // A retention inside its limits.
  await p.page.goto(`${origin}/admin/lagring?lang=nb`);
  const messages = p.page.getByRole("region", { name: /Meldinger som ikke er journalført/ });
  await messages.getByLabel(/Lagres/).fill("6");
  await messages.getByRole("button", { name: "Lagre" }).click();
  await saved(p.page);
  assert.equal(await p.page.getByRole("region", { name: /Meldinger som ikke er journalført/ }).getByLabel(/Lagres/).inputValue(), "6");
  await check(p.page, "retention after a change");

  const foreign = p.record.requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
  assert.deepEqual(foreign, [], "no request to another origin");
  const errors = p.record.consoleErrors.filter((e) => !e.includes("Failed to load resource"));
  assert.deepEqual(errors, [], "no console errors");
  await p.context.close();
});
