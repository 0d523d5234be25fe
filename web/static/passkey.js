// Passkey sign-in and enrolment (WebAuthn) for the pages /personell and /enrol/<token>.
// Loaded as an ES module from this origin (CSP script-src 'self'); talks only to this origin.
// The server seals each ceremony's challenge into a token it does not keep; this file only converts between the JSON the
// server speaks (binary as base64url) and the ArrayBuffers navigator.credentials wants.

const root = document.getElementById("passkey");
const statusEl = document.getElementById("passkey-status");
const button = document.getElementById("passkey-button");

function fromB64url(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
}

function toB64url(buf) {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function show(key) {
  statusEl.textContent = root.dataset[key] ?? "";
  statusEl.classList.toggle("error", key !== "msgWorking");
}

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { ok: res.ok, status: res.status, data };
}

function failed(res) {
  show(res?.status === 429 ? "msgLocked" : "msgFailed");
  button.disabled = false;
}

function creationOptions(options) {
  const pk = options.publicKey;
  pk.challenge = fromB64url(pk.challenge);
  pk.user.id = fromB64url(pk.user.id);
  for (const c of pk.excludeCredentials ?? []) c.id = fromB64url(c.id);
  return { publicKey: pk };
}

function requestOptions(options) {
  const pk = options.publicKey;
  pk.challenge = fromB64url(pk.challenge);
  for (const c of pk.allowCredentials ?? []) c.id = fromB64url(c.id);
  return { publicKey: pk };
}

function registrationJSON(cred) {
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: toB64url(cred.response.attestationObject),
      clientDataJSON: toB64url(cred.response.clientDataJSON),
      transports: cred.response.getTransports?.() ?? [],
    },
    extensions: cred.getClientExtensionResults(),
  };
}

function assertionJSON(cred) {
  const r = cred.response;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: toB64url(r.authenticatorData),
      clientDataJSON: toB64url(r.clientDataJSON),
      signature: toB64url(r.signature),
      userHandle: r.userHandle ? toB64url(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults(),
  };
}

function done(data) {
  const lang = document.documentElement.lang;
  const to = new URL(data?.redirect ?? "/personell", location.origin);
  if (lang && lang !== "nb") to.searchParams.set("lang", lang);
  location.assign(to.pathname + to.search);
}

async function signIn() {
  show("msgWorking");
  button.disabled = true;
  const start = await post("/api/v1/auth/login/start", {});
  if (!start.ok) return failed(start);
  let cred;
  try {
    cred = await navigator.credentials.get(requestOptions(start.data.options));
  } catch {
    return failed(null);
  }
  const finish = await post("/api/v1/auth/login/finish", {
    ceremony: start.data.ceremony,
    credential: assertionJSON(cred),
  });
  if (!finish.ok) return failed(finish);
  done(finish.data);
}

async function enrol() {
  show("msgWorking");
  button.disabled = true;
  const token = root.dataset.token;
  const name = root.querySelector("input[name=name]")?.value;
  const start = await post("/api/v1/auth/enrol/start", name ? { token, name } : { token });
  if (!start.ok) return failed(start);
  let cred;
  try {
    cred = await navigator.credentials.create(creationOptions(start.data.options));
  } catch {
    return failed(null);
  }
  const finish = await post("/api/v1/auth/enrol/finish", {
    ceremony: start.data.ceremony,
    token,
    credential: registrationJSON(cred),
  });
  if (!finish.ok) return failed(finish);
  done(finish.data);
}

if (root && button && statusEl) {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    show("msgUnsupported");
    button.disabled = true;
  } else if (root.dataset.mode === "enrol") {
    root.addEventListener("submit", (ev) => {
      ev.preventDefault();
      enrol();
    });
  } else {
    button.addEventListener("click", () => signIn());
  }
}
