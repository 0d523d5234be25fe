// The device pages (issue 13; VC-DEV-1/2): on /enhet the device enrols (a key pair it cannot
// export, its public key registered with the one-time code); on /admin/devices an
// administrator issues a code (shown once, never stored in the page) and revokes devices,
// through the API with the session's CSRF token. Only this origin is contacted.
import * as key from "./device-key.js";

const $ = (id) => document.getElementById(id);

async function showCurrent() {
  const box = $("device-current");
  if (!box) return;
  const all = await key.loadAll();
  if (all.length === 0) return;
  const last = all[all.length - 1];
  $("device-current-label").textContent = last.label;
  $("device-current-org").textContent = last.org;
  box.hidden = false;
}

const form = $("device-enrol");
if (form) {
  const status = $("device-enrol-status");
  const button = $("device-enrol-button");
  const say = (text, error) => {
    status.textContent = text;
    status.classList.toggle("error", Boolean(error));
  };
  showCurrent();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const d = form.dataset;
    if (!key.supported()) {
      say(d.msgUnsupported, true);
      return;
    }
    const org = $("device-org").value.trim().toLowerCase();
    const code = $("device-enrol-code").value;
    button.disabled = true;
    say(d.msgWorking, false);
    try {
      const pair = await key.makeKeyPair();
      const body = {
        org,
        code,
        public_key: await key.publicKey(pair),
        proof: await key.sign(pair.privateKey, key.enrolMessage(org, key.normalizeCode(code))),
      };
      const res = await fetch("/api/v1/device-enrolment", {
        method: "POST",
        headers: { "content-type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      if (!res.ok) {
        say(res.status === 429 ? d.msgTooMany : d.msgFailed, true);
        button.disabled = false;
        return;
      }
      const out = await res.json();
      await key.save({ org: out.org, id: out.device_id, label: out.label, privateKey: pair.privateKey });
      say(`${d.msgEnrolled} ${out.label}`, false);
      form.reset();
      await showCurrent();
    } catch {
      say(d.msgFailed, true);
    }
    button.disabled = false;
  });
}

const admin = $("devices-admin");
if (admin) {
  const status = $("devices-status");
  const api = (path, body) =>
    fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": admin.dataset.csrf },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
  const problem = async (res) => {
    const p = await res.json().catch(() => ({}));
    status.textContent = p.detail ?? `HTTP ${res.status}`;
  };
  $("device-issue").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { label: $("device-label").value };
    const patient = $("device-patient").value.trim();
    if (patient) body.patient_id = patient;
    const res = await api(`/api/v1/orgs/${admin.dataset.org}/devices`, body);
    if (!res.ok) {
      await problem(res);
      return;
    }
    const out = await res.json();
    // Shown once; reloading the page forgets it.
    $("device-code-value").textContent = out.code;
    $("device-code").hidden = false;
    status.textContent = "";
    event.target.reset();
  });
  for (const b of admin.querySelectorAll("[data-revoke]")) {
    b.addEventListener("click", async () => {
      const res = await api(`/api/v1/orgs/${admin.dataset.org}/devices/${b.dataset.revoke}/revoke`, {});
      if (res.ok) location.reload();
      else await problem(res);
    });
  }
}
