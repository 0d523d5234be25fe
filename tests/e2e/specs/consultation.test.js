// A video consultation in three browsers (issue 10): a clinician signed in with a passkey, a
// patient and an interpreter with their invitation links. Patient and interpreter wait; the
// clinician admits them one by one, recording an identity assurance (VC-AUTH-1/2); all three
// rosters agree (VC-CONF-2); the clinician ends and both others see the ended screen within a
// second (risk 1e); a fourth browser with a revoked link is refused (VC-CONF-1). No page asks
// another origin for anything, and the pages have no WCAG 2.1 AA violations.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { axeViolations, BIN, launchBrowser, openPage, startTrygg, virtualAuthenticator } from "../lib/harness.js";

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

function cli(...args) {
  const out = execFileSync(BIN, [...args, "--data-dir", trygg.dataDir], {
    env: { ...process.env, RUST_LOG: "error" },
  });
  return out.toString();
}

function cliJson(...args) {
  return JSON.parse(cli(...args, "--json"));
}

/** The link on the running server's origin (the CLI does not know the server's port). */
function onServer(url, origin) {
  const u = new URL(url);
  return origin + u.pathname;
}

async function rosterOf(page) {
  return page.$$eval("#roster li", (lis) =>
    lis.map((li) => `${li.dataset.participant}:${li.dataset.role}:${li.dataset.assurance}`).sort(),
  );
}

function onlyOwnOrigin(record, origin) {
  const foreign = record.requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
  assert.deepEqual(foreign, [], "no request to another origin");
}

test("three people: wait, admitted one by one, rosters agree, the end reaches everyone; a revoked link is refused", async () => {
  // The localhost origin (passkeys need the name localhost).
  const origin = new URL(trygg.setup[ORG]).origin;
  const personnel = cliJson("personnel", "list", "--org", ORG);
  const doctor = personnel.find((p) => p.role === "doctor");
  const interpreter = personnel.find((p) => p.role === "interpreter");
  assert.ok(doctor && interpreter, "the demo has a doctor and an interpreter");
  const patients = cliJson("patient", "list", "--org", ORG);
  const patient = patients[0];

  // The clinician creates a passkey through an enrolment link and is signed in (substantial).
  const link = cliJson("personnel", "enrol-link", "--org", ORG, "--personnel", doctor.id);
  const clin = await openPage(browser);
  await virtualAuthenticator(clin.context, clin.page);
  await clin.page.goto(onServer(link.url, origin));
  await clin.page.locator("#passkey-button").click();
  await clin.page.getByRole("heading", { level: 1, name: "Du er logget inn" }).waitFor();

  // The consultation, with one link per person.
  const plan = cliJson(
    "consultation", "create", "--org", ORG, "--host", doctor.id, "--patient", patient.id,
    "--interpreter", interpreter.id, "--minutes", "30",
  );
  assert.equal(plan.kind, "with-interpreter");
  const url = (role) => onServer(plan.invitations.find((i) => i.role === role).url, origin);


  // The patient reads the information (VC-INFO-1..3), tests the camera, acknowledges, waits.
  const pat = await openPage(browser);
  await pat.page.goto(url("patient"));
  const planned = await pat.page.locator("dl.facts").innerText();
  assert.match(planned, /Behandler/);
  assert.match(planned, /Tolk/);
  assert.match(await pat.page.locator("#info-text").innerText(), /ikke tatt opp eller lagret/);
  assert.deepEqual(await axeViolations(pat.page), [], "pre-join page (patient): no WCAG 2.1 AA violations");
  await pat.page.getByRole("button", { name: "Test kamera og mikrofon" }).click();
  await pat.page.getByText("Kamera og mikrofon virker.").waitFor();
  await pat.page.getByLabel("Jeg har lest informasjonen").check();
  await pat.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await pat.page.locator("#waiting:not([hidden])").waitFor();
  assert.deepEqual(await axeViolations(pat.page), [], "waiting room: no WCAG 2.1 AA violations");

  // The patient came first (the usual case): the clinician enters at once, as host.
  await clin.page.goto(url("clinician"));
  await clin.page.getByRole("heading", { level: 1, name: /Videokonsultasjon hos Normland legesenter/ }).first().waitFor();
  assert.deepEqual(await axeViolations(clin.page), [], "pre-join page (personnel): no WCAG 2.1 AA violations");
  await clin.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await clin.page.locator("#call:not([hidden])").waitFor();
  await clin.page.locator("#end:not([hidden])").waitFor();

  // The interpreter waits too.
  const int = await openPage(browser);
  await int.page.goto(url("interpreter"));
  await int.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await int.page.locator("#waiting:not([hidden])").waitFor();

  // The clinician sees both waiting, by name and role, and admits them one by one.
  await clin.page.locator(".waiter").nth(1).waitFor();
  assert.equal(await clin.page.locator(".waiter").count(), 2);
  assert.deepEqual(await axeViolations(clin.page), [], "call with waiting list: no WCAG 2.1 AA violations");
  const patRow = clin.page.locator(".waiter", { hasText: patient.name });
  // No identity assurance is chosen for the clinician, and no eID level is offered for someone
  // who came with the link only (VC-AUTH-1).
  assert.equal(await patRow.getByLabel("Identitet bekreftet ved").inputValue(), "");
  const offered = await patRow.getByLabel("Identitet bekreftet ved").locator("option").evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(offered, ["", "id-document-shown", "known-visually"]);
  await patRow.getByLabel("Identitet bekreftet ved").selectOption("id-document-shown");
  await clin.page.getByRole("button", { name: `Slipp inn: ${patient.name}` }).click();
  await pat.page.locator("#call:not([hidden])").waitFor();
  assert.equal(await pat.page.locator("#end").isVisible(), false, "only the host sees 'end for everyone'");
  // The interpreter still waits.
  assert.equal(await int.page.locator("#waiting").isVisible(), true);
  const intRow = clin.page.locator(".waiter", { hasText: interpreter.name });
  await intRow.getByLabel("Identitet bekreftet ved").selectOption("known-visually");
  await clin.page.getByRole("button", { name: `Slipp inn: ${interpreter.name}` }).click();
  await int.page.locator("#call:not([hidden])").waitFor();

  // The others are told who joined, by name (VC-INFO-3).
  await pat.page.locator("#announce", { hasText: `${interpreter.name} kom inn` }).waitFor();
  // All three rosters agree: three people with role and identity assurance (VC-CONF-2).
  for (const p of [clin.page, pat.page, int.page]) {
    await p.waitForFunction(() => document.querySelectorAll("#roster li").length === 3);
  }
  const rosters = await Promise.all([clin.page, pat.page, int.page].map(rosterOf));
  assert.deepEqual(rosters[1], rosters[0]);
  assert.deepEqual(rosters[2], rosters[0]);
  assert.ok(rosters[0].some((r) => r.endsWith(":patient:id-document-shown")), rosters[0].join());
  assert.ok(rosters[0].some((r) => r.endsWith(":interpreter:known-visually")), rosters[0].join());
  assert.ok(rosters[0].some((r) => r.endsWith(":clinician:eid-substantial")), rosters[0].join());

  // A fourth browser with a revoked link is refused, while the consultation runs.
  const companion = patients[1];
  const extra = cliJson(
    "consultation", "invite", "--org", ORG, "--consultation", plan.id, "--participant", `companion:${companion.id}`,
  );
  cli("consultation", "revoke", "--org", ORG, "--consultation", plan.id, "--invitation", extra.id);
  const fourth = await openPage(browser);
  const res = await fourth.page.goto(onServer(extra.url, origin));
  assert.equal(res.status(), 404);
  await fourth.page.getByRole("heading", { level: 1, name: "Invitasjonen virker ikke" }).waitFor();
  // Nor can the socket be used with it.
  const refused = await fourth.page.evaluate(
    (token) =>
      new Promise((ok) => {
        const ws = new WebSocket(`ws://${location.host}/signalling`);
        ws.onopen = () => ws.send(JSON.stringify({ v: 1, type: "hello", token, acknowledged: true, e2ee: true }));
        ws.onmessage = (e) => ok(JSON.parse(e.data).code);
      }),
    new URL(extra.url).pathname.split("/").pop(),
  );
  assert.equal(refused, "invitation-refused");
  // The roster still has three.
  assert.equal(await clin.page.locator("#roster li").count(), 3);

  // The host ends: both others see the ended screen within a second (risk 1e).
  clin.page.once("dialog", (d) => d.accept());
  const t0 = Date.now();
  await clin.page.getByRole("button", { name: "Avslutt for alle" }).click();
  await Promise.all(
    [pat.page, int.page, clin.page].map((p) =>
      p.getByRole("heading", { level: 1, name: "Konsultasjonen er avsluttet" }).waitFor({ timeout: 1000 }),
    ),
  );
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 1000, `ended screens within a second (${elapsed} ms)`);
  assert.deepEqual(await axeViolations(pat.page), [], "ended screen: no WCAG 2.1 AA violations");

  // The journal note (VC-LOG-1), through the operator's console.
  let note = "";
  for (let i = 0; i < 30 && !note.includes("Tolk deltok"); i += 1) {
    try {
      note = cli("consultation", "journal", "--org", ORG, "--consultation", plan.id);
    } catch {
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
  assert.match(note, /Tolk deltok/);
  assert.match(note, /id-document-shown/);

  for (const r of [clin, pat, int, fourth]) {
    onlyOwnOrigin(r.record, origin);
    const errors = r.record.consoleErrors.filter((e) => !e.includes("Failed to load resource"));
    assert.deepEqual(errors, [], "no console errors");
  }
});

test("a clinician plans on the consultation page, gets the links once, and enters with a fresh link", async () => {
  const origin = new URL(trygg.setup[ORG]).origin;
  const personnel = cliJson("personnel", "list", "--org", ORG);
  const nurse = personnel.find((p) => p.role === "nurse");
  const interpreter = personnel.find((p) => p.role === "interpreter");
  const patient = cliJson("patient", "list", "--org", ORG)[2];
  const link = cliJson("personnel", "enrol-link", "--org", ORG, "--personnel", nurse.id);
  const { page, context, record } = await openPage(browser);
  await virtualAuthenticator(context, page);
  await page.goto(onServer(link.url, origin));
  await page.locator("#passkey-button").click();
  await page.getByRole("heading", { level: 1, name: "Du er logget inn" }).waitFor();
  await page.getByRole("navigation", { name: "Hovedmeny" }).getByRole("link", { name: "Videokonsultasjoner" }).click();
  await page.getByRole("heading", { level: 1, name: "Videokonsultasjoner" }).waitFor();
  assert.deepEqual(await axeViolations(page), [], "consultation page: no WCAG 2.1 AA violations");

  // Keyboard only: fill the form and submit with Enter.
  await page.getByLabel("Pasient", { exact: true }).fill(patient.id);
  await page.getByLabel("Tolk (valgfritt)").fill(interpreter.id);
  await page.getByLabel("Varighet i minutter").press("Enter");
  await page.locator("#links:not([hidden])").waitFor();
  const links = await page.$$eval("#link-list li", (lis) => lis.map((li) => [li.dataset.role, li.querySelector("code").textContent]));
  assert.deepEqual(links.map((l) => l[0]), ["clinician", "patient", "interpreter"]);
  assert.ok(links.every((l) => /\/join\/normland-legesenter\.[A-Za-z0-9_-]{43}$/.test(l[1])), JSON.stringify(links));

  // The list shows it; a lost patient link is renewed there (shown once; the old one is dead).
  await page.reload();
  const item = page.locator("#consultation-list > li").filter({ hasText: patient.name });
  await item.getByRole("button", { name: `Ny lenke: ${patient.name}` }).click();
  const renewed = await page.locator("#planner-link code").textContent();
  const oldPatient = links.find((l) => l[0] === "patient")[1];
  assert.match(renewed, /\/join\/normland-legesenter\./);
  assert.notEqual(renewed, oldPatient);
  const dead = await (await openPage(browser)).page.goto(onServer(oldPatient, origin));
  assert.equal(dead.status(), 404);
  const alive = await (await openPage(browser)).page.goto(onServer(renewed, origin));
  assert.equal(alive.status(), 200);
  // The nurse enters with a fresh link of their own and is host at once.
  await item.getByRole("button", { name: "Gå inn" }).click();
  await page.waitForURL(/\/join\//);
  await page.getByRole("button", { name: "Gå til venterommet" }).click();
  await page.locator("#call:not([hidden])").waitFor();
  await page.locator("#end:not([hidden])").waitFor();
  // The link the page showed for the nurse no longer works (renewed): one link at a time.
  const old = links.find((l) => l[0] === "clinician")[1];
  const res = await (await openPage(browser)).page.goto(onServer(old, origin));
  assert.equal(res.status(), 404);
  onlyOwnOrigin(record, origin);
});
