// End-to-end encryption of media frames (issue 11, VC-ENC-2), run by RTCRtpScriptTransform.
// Every encoded frame is encrypted with AES-GCM before it leaves the browser and decrypted only
// in the receiving browsers; the media server forwards ciphertext it has no key for. A few codec
// header bytes stay in the clear (as SFrame-style schemes do) so the server can find keyframes
// and packetise: 10 bytes of a VP8 keyframe, 3 of a delta frame, 1 of an Opus frame. They are
// authenticated as additional data, with the sender's participant id and the key id, so a frame
// cannot be passed off as another sender's. The IV is a per-worker random salt and a counter
// (never reused under a key); a receiver refuses a frame whose counter it has already seen
// (replay) or that is far behind. In a video frame's clear header the first partition's size
// is set to its largest value (the true 3-byte frame tag travels encrypted), so a decoder without
// the key rejects the frame outright instead of decoding garbage: a browser that has only what
// the server has decodes nothing. Frame layout:
//   clear header | ciphertext with 16-byte tag | 12-byte IV | key id (1 byte)
// where the ciphertext holds, for video, the true frame tag and then the rest of the frame.
// A frame that cannot be decrypted (no key, wrong key, tampered) is dropped, never shown.
import { ratchet } from "./e2ee-common.js";

const keys = new Map(); // owner ("self" or "p3") -> Map(keyId -> CryptoKey)
const raws = new Map(); // owner -> Map(keyId -> raw bytes), to ratchet forward
let selfId = null;
let me = ""; // this participant's id ("p3"), bound into every frame's additional data
const salt = crypto.getRandomValues(new Uint8Array(4));
let sent = 0; // frames encrypted by this worker (the IV's counter)
const seen = new Map(); // `${owner}|${salt}` -> { highest, recent: Set }
const WINDOW = 2048;
// Whether the call is end-to-end encrypted (the room says; off only where the organisation
// allows browsers that cannot encrypt, and then everyone is shown so).
let on = true;
const stats = new Map(); // owner -> { ok, failed }

async function importKey(raw) {
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

async function setKey(owner, id, raw) {
  if (!keys.has(owner)) {
    keys.set(owner, new Map());
    raws.set(owner, new Map());
  }
  keys.get(owner).set(id, await importKey(raw));
  raws.get(owner).set(id, raw);
  // Keep the last few generations only.
  for (const m of [keys.get(owner), raws.get(owner)]) {
    while (m.size > 8) m.delete(m.keys().next().value);
  }
  if (owner === "self") selfId = id;
}

// A key a sender ratcheted to (someone joined) that this receiver has not been given: derived
// from the newest one it has, at most 16 steps ahead.
async function keyFor(owner, id) {
  const have = keys.get(owner);
  if (!have) return null;
  if (have.has(id)) return have.get(id);
  const ids = [...raws.get(owner).keys()];
  const last = ids[ids.length - 1];
  const steps = (id - last + 256) % 256;
  if (steps < 1 || steps > 16) return null;
  let raw = raws.get(owner).get(last);
  for (let i = 0; i < steps; i++) raw = await ratchet(raw);
  await setKey(owner, id, raw);
  return keys.get(owner).get(id);
}

const enc = new TextEncoder();

function aad(header, owner, id) {
  const tail = enc.encode(`|${owner}|${id}`);
  const out = new Uint8Array(header.length + tail.length);
  out.set(header, 0);
  out.set(tail, header.length);
  return out;
}

// Whether the counter in `iv` from `owner` is new (not a replay, not far behind); remembered.
function fresh(owner, iv) {
  const key = `${owner}|${iv[0]}.${iv[1]}.${iv[2]}.${iv[3]}`;
  const n = new DataView(iv.buffer, iv.byteOffset + 4, 8);
  const c = n.getUint32(0) * 2 ** 32 + n.getUint32(4);
  let w = seen.get(key);
  if (!w) {
    // A few salts per sender (a reload makes a new one); the oldest forgotten.
    const mine = [...seen.keys()].filter((k) => k.startsWith(`${owner}|`));
    if (mine.length >= 4) seen.delete(mine[0]);
    w = { highest: -1, recent: new Set() };
    seen.set(key, w);
  }
  if (c <= w.highest - WINDOW || w.recent.has(c)) return false;
  w.recent.add(c);
  if (c > w.highest) w.highest = c;
  if (w.recent.size > 2 * WINDOW) {
    for (const x of w.recent) if (x <= w.highest - WINDOW) w.recent.delete(x);
  }
  return true;
}

function clearBytes(frame, kind) {
  if (kind === "audio") return 1;
  return frame.type === "key" ? 10 : 3;
}

function count(owner, ok) {
  const s = stats.get(owner) ?? { ok: 0, failed: 0, reported: 0 };
  if (ok) s.ok += 1;
  else s.failed += 1;
  stats.set(owner, s);
  const now = Date.now();
  if (now - s.reported > 1000) {
    s.reported = now;
    self.postMessage({ type: "stats", owner, ok: s.ok, failed: s.failed });
  }
}

async function encrypt(frame, controller, kind) {
  if (!on) return controller.enqueue(frame);
  const key = selfId !== null ? keys.get("self")?.get(selfId) : null;
  // No key yet: nothing is sent rather than anything in the clear.
  if (!key) return;
  const data = new Uint8Array(frame.data);
  const n = Math.min(clearBytes(frame, kind), data.length);
  const header = data.slice(0, n);
  let secret = data.subarray(n);
  if (kind === "video" && n >= 3) {
    // Keep the keyframe bit, version and show-frame bit; the partition size says "all of it".
    header[0] |= 0xe0;
    header[1] = 0xff;
    header[2] = 0xff;
    secret = new Uint8Array(3 + data.length - n);
    secret.set(data.subarray(0, 3), 0);
    secret.set(data.subarray(n), 3);
  }
  const iv = new Uint8Array(12);
  iv.set(salt, 0);
  const view = new DataView(iv.buffer);
  view.setUint32(4, Math.floor(sent / 2 ** 32));
  view.setUint32(8, sent >>> 0);
  sent += 1;
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(header, me, selfId) }, key, secret),
  );
  const out = new Uint8Array(n + ct.length + 13);
  out.set(header, 0);
  out.set(ct, n);
  out.set(iv, n + ct.length);
  out[out.length - 1] = selfId;
  frame.data = out.buffer;
  controller.enqueue(frame);
}

async function decrypt(frame, controller, kind, owner) {
  const data = new Uint8Array(frame.data);
  const n = clearBytes(frame, kind);
  // Not end to end: frames come as sent (one still encrypted, from just before the switch, is
  // decrypted if its key is here).
  const fail = () => {
    if (!on) controller.enqueue(frame);
    else count(owner, false);
  };
  if (data.length < n + 16 + 13) return fail();
  const id = data[data.length - 1];
  const key = await keyFor(owner, id);
  if (!key) return fail();
  const iv = data.slice(data.length - 13, data.length - 1);
  try {
    const pt = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: aad(data.subarray(0, n), owner, id) },
        key,
        data.subarray(n, data.length - 13),
      ),
    );
    // Authentic, but seen before (or far behind): a replay, dropped.
    if (!fresh(owner, iv)) return fail();
    let out;
    if (kind === "video" && n >= 3) {
      if (pt.length < 3) return count(owner, false);
      out = new Uint8Array(n + pt.length - 3);
      out.set(pt.subarray(0, 3), 0);
      out.set(data.subarray(3, n), 3);
      out.set(pt.subarray(3), n);
    } else {
      out = new Uint8Array(n + pt.length);
      out.set(data.subarray(0, n), 0);
      out.set(pt, n);
    }
    frame.data = out.buffer;
    count(owner, true);
    controller.enqueue(frame);
  } catch {
    fail();
  }
}

self.onmessage = async (e) => {
  const m = e.data;
  if (m.type === "key") await setKey(m.owner, m.id, new Uint8Array(m.raw));
  if (m.type === "mode") on = m.on;
  if (m.type === "me") me = m.id;
};

self.onrtctransform = (event) => {
  const t = event.transformer;
  const { operation, kind, owner } = t.options;
  const transform = new TransformStream({
    transform: (frame, controller) =>
      operation === "encrypt" ? encrypt(frame, controller, kind) : decrypt(frame, controller, kind, owner),
  });
  t.readable.pipeThrough(transform).pipeTo(t.writable).catch(() => {});
};
