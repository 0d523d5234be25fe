// Pages people find their way in (issue #14), in Chromium: each built-in role of the demo logs in
// with the demo's login and reaches each page of its navigation by clicking from its home, in
// bokmål, nynorsk and English. On every page: no internal code in the text people read, nothing
// scrolls sideways at 360 px, no WCAG 2.1 AA violation (axe-core), and no request to another
// origin. The pages a visitor sees signed out are checked the same way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { axeViolations, cliJson, onServer, openPage, withTryggAndBrowser } from "../lib/harness.js";

const ORG_NAME = "Normland legesenter";
const LANGS = [
  { tag: "nb", nav: "Hovedmeny", person: "Person", signIn: "Logg inn uten passnøkkel" },
  { tag: "nn", nav: "Hovudmeny", person: "Person", signIn: "Logg inn utan passnøkkel" },
  { tag: "en", nav: "Main menu", person: "Person", signIn: "Sign in without a passkey" },
];
const OTHER = "Normbakken kommune, hjemmetjenesten";
// Every built-in role the demo has a person in (a system user does not log in).
const ROLES = {
  nb: ["Lege 1", "Sykepleier", "Sekretær", "Tolk", "Administrator"].map((r) => `${ORG_NAME}: ${r}`)
    .concat([`${OTHER}: Fysioterapeut`]),
  nn: ["Lege 1", "Sjukepleiar", "Sekretær", "Tolk", "Administrator"].map((r) => `${ORG_NAME}: ${r}`)
    .concat([`${OTHER}: Fysioterapeut`]),
  en: ["Doctor 1", "Nurse", "Secretary", "Interpreter", "Administrator"].map((r) => `${ORG_NAME}: ${r}`)
    .concat([`${OTHER}: Physiotherapist`]),
};

// Codes of the API and the audit log that must never reach the text people read.
const CODES = [
  "org-admin", "patient-read", "patient-write", "health-read", "health-write", "care-manage",
  "emergency-access", "consultation-manage", "consultation-join", "personnel-manage",
  "credentials-manage", "grants-manage", "rights-review", "audit-read", "eid-high", "eid-substantial",
];
const DOTTED = /\b(patient|personnel|device|consultation|message|notice|grant|grants|care|audit|passkey|enrolment-link|session|rights-review|access|task|sms|consent|attachment|org|role|settings|assurance|demo)\.[a-z-]+\b/;
const RFC3339 = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

const ctx = withTryggAndBrowser();

async function check(page, what) {
  const text = await page.locator("body").innerText();
  for (const code of CODES) assert.ok(!text.includes(code), `${what}: shows the code ${code}`);
  assert.doesNotMatch(text, DOTTED, `${what}: shows an operation code`);
  assert.doesNotMatch(text, RFC3339, `${what}: shows a machine time`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 361, `${what}: ${wide} px wide at 360 px`);
  assert.deepEqual(await axeViolations(page), [], `${what}: no WCAG 2.1 AA violations`);
}

test("signed out: the start page, the login page and the device page read in words and fit a phone", async () => {
  const p = await openPage(ctx.browser);
  await p.page.setViewportSize({ width: 360, height: 800 });
  for (const { tag } of LANGS) {
    for (const path of ["/", "/personell", "/enhet"]) {
      await p.page.goto(`${ctx.trygg.base}${path}?lang=${tag}`);
      await check(p.page, `${path} (${tag})`);
    }
  }
  await p.context.close();
});

test("each role reaches each of its pages from its home, in three languages, on a phone", async () => {
  for (const lang of LANGS) {
    for (const role of ROLES[lang.tag]) {
      const p = await openPage(ctx.browser);
      await p.page.setViewportSize({ width: 360, height: 800 });
      await p.page.goto(`${ctx.trygg.base}/personell?lang=${lang.tag}`);
      await p.page.getByRole("combobox", { name: lang.person }).selectOption({ label: role });
      await p.page.getByRole("button", { name: lang.signIn }).click();
      const nav = p.page.getByRole("navigation", { name: lang.nav });
      await nav.waitFor();
      const what = `${role} (${lang.tag})`;
      await check(p.page, `${what} home`);
      // By keyboard alone: Tab to the menu's last link, Enter, and that page opens.
      const last = nav.getByRole("link").last();
      const target = await last.innerText();
      for (let i = 0; i < 40 && !(await last.evaluate((a) => a === document.activeElement)); i += 1) {
        await p.page.keyboard.press("Tab");
      }
      await p.page.keyboard.press("Enter");
      await p.page.waitForLoadState("load");
      await nav.locator('a[aria-current="page"]', { hasText: target }).waitFor();
      const labels = await nav.getByRole("link").allInnerTexts();
      assert.ok(labels.length >= 1, `${what}: a home link at least`);
      for (const label of labels) {
        await p.page.getByRole("navigation", { name: lang.nav }).getByRole("link", { name: label, exact: true }).click();
        await p.page.waitForLoadState("load");
        const current = await p.page
          .getByRole("navigation", { name: lang.nav })
          .locator('a[aria-current="page"]')
          .innerText();
        assert.equal(current, label, `${what}: ${label} is the page shown`);
        const h1 = await p.page.locator("h1").first().innerText();
        assert.ok(h1.length > 0, `${what}: ${label} has a heading`);
        await check(p.page, `${what} ${label}`);
      }
      const origin = new URL(p.page.url()).origin;
      // Trygg's own origin under both its names (the login page moves 127.0.0.1 to localhost).
      const own = [origin, ctx.trygg.base];
      const foreign = p.record.requests.filter((u) => !own.some((o) => u.startsWith(o)) && !u.startsWith("data:"));
      assert.deepEqual(foreign, [], `${what}: no request to another origin`);
      const errors = p.record.consoleErrors.filter((e) => !e.includes("Failed to load resource"));
      assert.deepEqual(errors, [], `${what}: no console errors`);
      await p.context.close();
    }
  }
});

test("the patient's pages: the portal signed in at high and a consultation's pre-join page", async () => {
  const p = await openPage(ctx.browser);
  await p.page.setViewportSize({ width: 360, height: 800 });
  const org = "normland-legesenter";
  await p.page.goto(`${ctx.trygg.base}/portal/${org}`);
  await check(p.page, "portal, signed out");
  await p.page.getByRole("link", { name: "Testinnlogging (demo, ikke ID-porten)" }).click();
  await p.page.getByRole("radio", { name: "høyt" }).check();
  await p.page.getByRole("button", { name: "Logg inn (test)" }).click();
  await p.page.getByRole("heading", { level: 1, name: "Din side" }).waitFor();
  for (const tag of ["nb", "nn", "en"]) {
    await p.page.goto(`${ctx.trygg.base}/portal/${org}?lang=${tag}`);
    await check(p.page, `portal (${tag})`);
  }
  // A consultation's pre-join page, as the patient opens their link.
  const personnel = cliJson(ctx.trygg, "personnel", "list", "--org", org);
  const doctor = personnel.find((x) => x.role === "doctor");
  const patient = cliJson(ctx.trygg, "patient", "list", "--org", org)[0];
  const plan = cliJson(ctx.trygg, "consultation", "create", "--org", org, "--host", doctor.id, "--patient", patient.id);
  const link = onServer(plan.invitations.find((i) => i.role === "patient").url, ctx.trygg.base);
  for (const tag of ["nb", "nn", "en"]) {
    await p.page.goto(`${link}?lang=${tag}`);
    await check(p.page, `pre-join page (${tag})`);
  }
  await p.context.close();
});
