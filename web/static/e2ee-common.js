// What the page (call.js) and the frame worker (e2ee-worker.js) of issue 11 must agree on
// (VC-ENC-2): the key ratchet. A sender ratchets its media key forward when someone joins; a
// receiver derives the same next key from the last it holds.
const enc = new TextEncoder();

/** The next media key from `raw` (16 bytes): HKDF-SHA-256, 128 bits. */
export async function ratchet(raw) {
  const base = await crypto.subtle.importKey("raw", raw, "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: enc.encode("trygg-e2ee-ratchet v1") },
    base,
    128,
  );
  return new Uint8Array(bits);
}
