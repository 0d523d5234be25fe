// The log-control page in Chromium (issue #16, PC-ACL-1): the console defines a role with
// `log-control` (no built-in role has it) and the administrator grants it to the secretary; a
// doctor with no relation to a patient lists the patients and opens one record (a search, then
// an open: the detector's "searched for and opened the record with no relation"); the console
// judges the day (`trygg snooping detect`). The secretary, signed in with a passkey, finds
// Loggkontroll in the main menu, sees the doctor's case by name with the reason in words and no
// patient, in bokmål, nynorsk and English; opens it (the patient named), confirms it with the
// form and sees the outcome, no form, and that an incident was opened, which the administrator
// finds in the register. On every page: no WCAG 2.1 AA violation (axe-core), nothing scrolls
// sideways at 360 px, no machine time or code in the text, no request to another origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  BIN, axeViolations, cliJson, signInWithPasskey, withTryggAndBrowser,
} from "../lib/harness.js";

const ORG = "normland-legesenter";
const ROLE = "kontroll-av-logg";
const ctx = withTryggAndBrowser();
const cli = (...args) => cliJson(ctx.trygg, ...args);
const RFC3339 = /\b\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?\b/;
const CODES = ["log-control", "SearchThenOpen", "Unexplained", "confirmed", "patient-read", ROLE];

async function check(page, what) {
  const text = await page.locator("body").innerText();
  assert.doesNotMatch(text, RFC3339, `${what}: shows a machine date or time`);
  for (const code of CODES) assert.ok(!text.includes(code), `${what}: shows the code ${code}`);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(wide <= 361, `${what}: ${wide} px wide at 360 px`);
  assert.deepEqual(await axeViolations(page), [], `${what}: no WCAG 2.1 AA violations`);
}

/** A person signed in with a passkey made through an enrolment link (assurance substantial). */
const signIn = (person, origin) => signInWithPasskey(ctx, ORG, person, origin);

/** A request to the API from the signed-in page, with the session's CSRF token. */
function api(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const csrf = document.querySelector("input[name=csrf]")?.value ?? "";
    const res = await fetch(path, {
      method,
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: body === null ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    return { status: res.status, body: await res.json().catch(() => null) };
  }, [method, path, body]);
}

function noForeignRequests(p, origin) {
  const foreign = p.record.requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
  assert.deepEqual(foreign, [], "no request to another origin");
  const errors = p.record.consoleErrors.filter((e) => !e.includes("Failed to load resource"));
  assert.deepEqual(errors, [], "no console errors");
}

test("log control finds a doctor's look at a record, reads the case and confirms it", async () => {
  const origin = new URL(ctx.trygg.setup[ORG]).origin;
  const people = cli("personnel", "list", "--org", ORG);
  const admin = people.find((p) => p.role === "org-admin");
  const doctor = people.find((p) => p.role === "doctor");
  const controller = people.find((p) => p.role === "secretary");

  // The console defines the role (it has no --json); the administrator grants it.
  execFileSync(BIN, ["role", "define", "--org", ORG, "--name", ROLE, "--permissions", "log-control",
    "--data-dir", ctx.trygg.dataDir], { env: { ...process.env, RUST_LOG: "error" } });
  const a = await signIn(admin, origin);
  const grant = await api(a.page, "POST", `/api/v1/orgs/${ORG}/grants`, { personnel_id: controller.id, role: ROLE });
  assert.equal(grant.status, 201, JSON.stringify(grant.body));

  // The doctor, with no care relationship, lists the patients and opens one record.
  const d = await signIn(doctor, origin);
  const list = await api(d.page, "GET", `/api/v1/orgs/${ORG}/patients`, null);
  assert.equal(list.status, 200);
  const patient = list.body[1];
  assert.equal((await api(d.page, "GET", `/api/v1/orgs/${ORG}/patients/${patient.id}`, null)).status, 200);
  await d.context.close();

  // The console judges today (UTC): one case, the doctor's look at that patient.
  const day = new Date().toISOString().slice(0, 10);
  const found = cli("snooping", "detect", "--org", ORG, "--day", day);
  const mine = found.cases.filter((c) => c.actor === doctor.id);
  assert.equal(mine.length, 1, JSON.stringify(found));
  assert.equal(mine[0].patient, patient.id);
  assert.ok(mine[0].reasons.includes("SearchThenOpen"), JSON.stringify(mine[0]));

  // Log control: the queue from the main menu, in every language; the patient is not in it.
  const p = await signIn(controller, origin);
  await p.page.setViewportSize({ width: 360, height: 800 });
  for (const [tag, nav, label, reason] of [
    ["nb", "Hovedmeny", "Loggkontroll", "Søkte opp og åpnet journalen uten relasjon"],
    ["nn", "Hovudmeny", "Loggkontroll", "Søkte opp og opna journalen utan relasjon"],
    ["en", "Main menu", "Log control", "Searched for and opened the record with no relation"],
  ]) {
    await p.page.goto(`${origin}/personell?lang=${tag}`);
    await p.page.getByRole("navigation", { name: nav }).getByRole("link", { name: label, exact: true }).click();
    await p.page.getByRole("heading", { level: 1, name: label }).waitFor();
    const table = p.page.getByRole("table");
    const row = table.getByRole("row", { name: new RegExp(doctor.name) });
    assert.match(await row.innerText(), new RegExp(reason));
    assert.ok(!(await p.page.locator("main").innerText()).includes(patient.name), `${tag}: the queue names no patient`);
    await check(p.page, `queue (${tag})`);
  }

  // The case: the patient by name, the reason in words, the form; confirmed.
  await p.page.goto(`${origin}/admin/loggkontroll?lang=nb`);
  await p.page.getByRole("link", { name: new RegExp(`^Åpne saken \\(${doctor.name}, `) }).click();
  await p.page.getByRole("heading", { level: 1, name: new RegExp(`Sak i loggkontrollen: ${doctor.name}`) }).waitFor();
  const facts = await p.page.locator("dl.facts").innerText();
  assert.match(facts, new RegExp(patient.name), "the opened case names the patient");
  assert.match(facts, /Ikke avgjort/);
  assert.match(await p.page.locator("main").innerText(), /Søkte opp og åpnet journalen uten relasjon/);
  await check(p.page, "case");
  await p.page.getByRole("radio", { name: /Bekreftet urettmessig innsyn/ }).check();
  await p.page.getByRole("button", { name: "Lagre utfallet" }).click();
  await p.page.waitForFunction(() => document.getElementById("admin-status")?.textContent.trim() !== "");
  assert.match(await p.page.locator("#admin-status").innerText(), /lagret/);
  assert.equal(await p.page.locator("#case-outcome").innerText(), "Bekreftet urettmessig innsyn");
  assert.equal(await p.page.locator("form[data-api]").count(), 0, "a decided case has no form");
  assert.match(await p.page.locator("main").innerText(), /Et avvik ble opprettet i avviksregisteret/);
  await check(p.page, "decided case");
  // Decided, it has left the queue.
  await p.page.goto(`${origin}/admin/loggkontroll?lang=en`);
  await p.page.getByText("No open cases.").waitFor();
  noForeignRequests(p, origin);
  await p.context.close();

  // The incident it opened is in the administrator's register.
  await a.page.goto(`${origin}/admin/avvik?lang=nb`);
  assert.match(await a.page.locator("table").innerText(), /Bekreftet urettmessig innsyn/);
  noForeignRequests(a, origin);
  await a.context.close();
});
