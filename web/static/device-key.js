// An organisation-owned device's key (issue 13; VC-DEV-1): made once by WebCrypto as an ECDSA
// P-256 pair whose private key is not extractable, kept in this origin's IndexedDB (a CryptoKey
// is stored as itself, never as bytes), one per organisation. The enrolment page registers its
// public key; the join page signs the server's challenge with it. Nothing here leaves the origin.

const DB = "trygg-device";
const STORE = "keys";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "org" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export function toB64url(buf) {
  let s = "";
  for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/// Whether this browser can make and keep a device key.
export function supported() {
  return Boolean(globalThis.crypto?.subtle && globalThis.indexedDB);
}

/// A new key pair (the private key cannot be exported).
export function makeKeyPair() {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/// The public key as the server wants it: the uncompressed point, base64url.
export async function publicKey(pair) {
  return toB64url(await crypto.subtle.exportKey("raw", pair.publicKey));
}

/// A signature (r ‖ s, base64url) of `text` with the device's private key.
export async function sign(privateKey, text) {
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, new TextEncoder().encode(text));
  return toB64url(sig);
}

/// The device kept for `org`: { org, id, label, privateKey }, or null.
export async function load(org) {
  if (!supported()) return null;
  try {
    return (await run("readonly", (s) => s.get(org))) ?? null;
  } catch {
    return null;
  }
}

/// Every device kept in this browser.
export async function loadAll() {
  if (!supported()) return [];
  try {
    return (await run("readonly", (s) => s.getAll())) ?? [];
  } catch {
    return [];
  }
}

/// Keeps the enrolled device for its organisation (replacing an older one).
export function save(entry) {
  return run("readwrite", (s) => s.put(entry));
}

/// What the device signs at a join (trygg_identity::device::join_message).
export function joinMessage(org, id, nonce) {
  return `trygg-device-join/v1\n${org}\n${id}\n${nonce}`;
}

/// What the device signs at enrolment, with the code as the server normalises it.
export function enrolMessage(org, code) {
  return `trygg-device-enrol/v1\n${org}\n${code}`;
}

/// The code as the server reads it: upper case, no dashes or spaces, O→0, I/L→1.
export function normalizeCode(typed) {
  return typed.toUpperCase().replace(/[-\s]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
}
