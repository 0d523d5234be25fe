// An organisation-owned device in Chromium (issue 13; VC-DEV-1/2, VC-AUTH-4): an administrator
// signed in with a passkey issues an enrolment code on the administration page (shown once);
// the device's browser enrols on /enhet with a WebCrypto key pair whose private key cannot be
// exported, kept in IndexedDB; the device opens the patient's invitation, signs the server's
// challenge, and the clinician sees it came on the organisation's device and admits it with the
// identity assurance "device"; after the administrator revokes the device, its next join is
// refused. No page asks another origin for anything; the pages have no WCAG 2.1 AA violations.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  axeViolations, cliJson, onServer, openPage, signInWithPasskey, withTryggAndBrowser,
} from "../lib/harness.js";

const ORG = "normland-legesenter";

const ctx = withTryggAndBrowser();

const cli = (...args) => cliJson(ctx.trygg, ...args);

/** A person of the demo signed in with a passkey made through an enrolment link. */
const signedIn = (person, origin) => signInWithPasskey(ctx, ORG, person, origin);

test("a device enrols with its own key, joins as the organisation's device, and is refused once revoked", async () => {
  const origin = new URL(ctx.trygg.setup[ORG]).origin;
  const personnel = cli("personnel", "list", "--org", ORG);
  const adminPerson = personnel.find((p) => p.role === "org-admin");
  const doctor = personnel.find((p) => p.role === "doctor");
  const patient = cli("patient", "list", "--org", ORG)[0];

  // The administrator issues a code for the patient's home (VC-DEV-2).
  const admin = await signedIn(adminPerson, origin);
  await admin.page.goto(`${origin}/admin/devices`);
  await admin.page.getByLabel("Sted").fill("Hjemme hos pasienten");
  await admin.page.getByLabel("Pasient-ID (valgfritt)").fill(patient.id);
  await admin.page.getByRole("button", { name: "Lag registreringskode" }).click();
  await admin.page.locator("#device-code:not([hidden])").waitFor();
  const code = await admin.page.locator("#device-code-value").innerText();
  assert.match(code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  assert.deepEqual(await axeViolations(admin.page), [], "devices page: no WCAG 2.1 AA violations");

  // The device enrols; its private key is a CryptoKey that cannot be exported (VC-DEV-1).
  const dev = await openPage(ctx.browser);
  await dev.page.goto(`${origin}/enhet?org=${ORG}`);
  assert.deepEqual(await axeViolations(dev.page), [], "enrolment page: no WCAG 2.1 AA violations");
  await dev.page.getByLabel("Registreringskode").fill(code.toLowerCase());
  await dev.page.getByRole("button", { name: "Registrer utstyret" }).click();
  await dev.page.locator("#device-enrol-status", { hasText: "Hjemme hos pasienten" }).waitFor();
  const stored = await dev.page.evaluate(
    () =>
      new Promise((ok) => {
        const req = indexedDB.open("trygg-device", 1);
        req.onsuccess = () => {
          const get = req.result.transaction("keys").objectStore("keys").getAll();
          get.onsuccess = () =>
            ok(get.result.map((e) => ({ org: e.org, extractable: e.privateKey.extractable, type: e.privateKey.type })));
        };
      }),
  );
  assert.deepEqual(stored, [{ org: ORG, extractable: false, type: "private" }]);
  // The code does not work twice.
  await dev.page.getByLabel("Registreringskode").fill(code);
  await dev.page.getByRole("button", { name: "Registrer utstyret" }).click();
  await dev.page.locator("#device-enrol-status", { hasText: "lyktes ikke" }).waitFor();

  // A consultation; the clinician enters as host; the device joins with the patient's link.
  const plan = cli("consultation", "create", "--org", ORG, "--host", doctor.id, "--patient", patient.id, "--minutes", "30");
  const url = (role) => onServer(plan.invitations.find((i) => i.role === role).url, origin);
  const clin = await signedIn(doctor, origin);
  await clin.page.goto(url("clinician"));
  await clin.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await clin.page.locator("#call:not([hidden])").waitFor();
  await dev.page.goto(url("patient"));
  await dev.page.getByLabel("Jeg har lest informasjonen").check();
  await dev.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await dev.page.locator("#waiting:not([hidden])").waitFor();

  // The clinician sees it came on the organisation's device; `device` is offered and recorded
  // (VC-AUTH-4).
  const row = clin.page.locator(".waiter", { hasText: patient.name });
  await row.waitFor();
  assert.match(await row.innerText(), /virksomhetens utstyr|utstyr/i);
  const offered = await row.getByLabel("Identitet bekreftet ved").locator("option").evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(offered, ["", "id-document-shown", "known-visually", "device"]);
  await row.getByLabel("Identitet bekreftet ved").selectOption("device");
  await clin.page.getByRole("button", { name: `Slipp inn: ${patient.name}` }).click();
  await dev.page.locator("#call:not([hidden])").waitFor();
  await clin.page.waitForFunction(() =>
    [...document.querySelectorAll("#roster li")].some((li) => li.dataset.role === "patient" && li.dataset.assurance === "device"),
  );

  // The administrator revokes the device; its next join is refused with a message.
  await admin.page.goto(`${origin}/admin/devices`);
  await admin.page.getByRole("button", { name: "Ta ut av bruk: Hjemme hos pasienten" }).click();
  await admin.page.locator('tr[data-state="revoked"]').waitFor();
  const again = await dev.context.newPage();
  await again.goto(url("patient"));
  await again.getByLabel("Jeg har lest informasjonen").check();
  await again.getByRole("button", { name: "Gå til venterommet" }).click();
  await again.locator("#error", { hasText: "Dette utstyret er ikke godkjent" }).waitFor();
  assert.equal(await again.locator("#waiting").isVisible(), false);

  for (const r of [admin, dev, clin]) {
    const foreign = r.record.requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
    assert.deepEqual(foreign, [], "no request to another origin");
    const errors = r.record.consoleErrors.filter((e) => !e.includes("Failed to load resource"));
    assert.deepEqual(errors, [], "no console errors");
  }
});
