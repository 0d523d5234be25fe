// The call (issue 11): camera and microphone, the peer connection to Trygg's media server, and
// end-to-end encryption of every frame (VC-ENC-2). The server forwards media it cannot read:
// each browser encrypts its frames in a worker (e2ee-worker.js) with its own key, and gives that
// key only to the other participants' browsers, wrapped with a key agreed by ECDH between the
// two browsers. The server relays public keys and wrapped keys; it never holds a media key. A
// new key is made when anyone leaves; the key is ratcheted forward when anyone joins (the
// newcomer cannot decrypt what was said before). Everyone sees a short verification code made
// from all participants' public keys: the same code on every screen means nobody in between
// swapped a key. Names and texts are set as text, never as HTML.

import { ratchet } from "./e2ee-common.js";

const enc = new TextEncoder();
const b64u = (buf) =>
  btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
const unb64u = (s) => {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

/** Whether this browser can encrypt frames end to end. */
export const canEncrypt = typeof globalThis.RTCRtpScriptTransform === "function";

/**
 * The call's media. `send` sends a signalling frame; `els` are the page's elements; `texts` its
 * words; `me()` gives this participant's id.
 */
export function createCall({ send, els, texts, me }) {
  let config = null;
  let local = null; // the camera and microphone
  let screen = null; // a confirmed screen share
  let pc = null;
  let audioTx = null;
  let videoTx = null;
  let worker = null;
  let ecdh = null;
  let myPublic = null;
  let myKey = null; // { id, raw }
  let started = false;
  let e2eeOn = true; // the room's word: everyone in the call encrypts end to end
  let stopped = false;
  let queue = Promise.resolve();
  let reconnectTimer = null;
  let statsTimer = null;
  let roster = [];
  const peers = new Map(); // who -> { pub, wrap, decrypted, failed }
  const tiles = new Map(); // who -> { tile, video, quality, stream }
  const states = new Map(); // who -> { audio, video, screen }
  const lastStats = new Map(); // inbound-rtp id -> { received, lost }
  const mine = { audio: true, video: true, screen: false };

  const serial = (fn) => {
    queue = queue.then(fn).catch(() => {});
    return queue;
  };

  function setStatus(text) {
    els.mediaStatus.textContent = text;
  }

  function announceState() {
    send({ type: "media-state", audio: mine.audio, video: mine.video, screen: mine.screen });
  }

  // ---- Keys (VC-ENC-2) ----

  async function initKeys() {
    ecdh = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    myPublic = b64u(await crypto.subtle.exportKey("raw", ecdh.publicKey));
    myKey = { id: 0, raw: crypto.getRandomValues(new Uint8Array(16)) };
    worker.postMessage({ type: "key", owner: "self", id: myKey.id, raw: myKey.raw });
    send({ type: "e2ee-identity", key: myPublic });
  }

  // The key that wraps media keys between this browser and `who`: ECDH, then HKDF bound to
  // both public keys.
  async function wrapKeyFor(theirPub) {
    const pub = await crypto.subtle.importKey("raw", unb64u(theirPub), { name: "ECDH", namedCurve: "P-256" }, false, []);
    const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: pub }, ecdh.privateKey, 256);
    const base = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    const salt = enc.encode([myPublic, theirPub].sort().join("."));
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt, info: enc.encode("trygg-e2ee-wrap v1") },
      base,
      { name: "AES-GCM", length: 128 },
      false,
      ["encrypt", "decrypt"],
    );
  }

  async function giveKey(who) {
    const p = peers.get(who);
    if (!p?.wrap || !myKey) return;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const body = new Uint8Array(17);
    body[0] = myKey.id;
    body.set(myKey.raw, 1);
    const aad = enc.encode(`${me()}>${who}`);
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, p.wrap, body));
    const payload = new Uint8Array(12 + ct.length);
    payload.set(iv, 0);
    payload.set(ct, 12);
    send({ type: "e2ee-key", to: who, payload: b64u(payload) });
  }

  async function onIdentity(who, key) {
    if (!ecdh || who === me()) return;
    const known = peers.get(who);
    if (known?.pub === key) return;
    const wrap = await wrapKeyFor(key);
    const joining = !known;
    peers.set(who, { pub: key, wrap, decrypted: 0, failed: 0 });
    if (joining && myKey) {
      // Someone joined: ratchet forward, so they cannot read what was said before; the others
      // ratchet too when they see the new key id.
      myKey = { id: (myKey.id + 1) % 256, raw: await ratchet(myKey.raw) };
      worker.postMessage({ type: "key", owner: "self", id: myKey.id, raw: myKey.raw });
    }
    await giveKey(who);
    renderSecurity();
  }

  async function onWrappedKey(from, payload) {
    const p = peers.get(from);
    if (!p?.wrap) return;
    try {
      const bytes = unb64u(payload);
      const aad = enc.encode(`${from}>${me()}`);
      const body = new Uint8Array(
        await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: aad }, p.wrap, bytes.subarray(12)),
      );
      worker.postMessage({ type: "key", owner: from, id: body[0], raw: body.subarray(1) });
      p.keyed = true;
      renderSecurity();
    } catch {
      // A key not wrapped for this browser is ignored.
    }
  }

  // Someone left: a fresh key, given to those who remain, and used once they have had a moment
  // to receive it (until then frames go out under the previous one).
  async function rekey() {
    if (!myKey) return;
    const next = { id: (myKey.id + 1) % 256, raw: crypto.getRandomValues(new Uint8Array(16)) };
    myKey = next;
    for (const who of peers.keys()) await giveKey(who);
    setTimeout(() => {
      if (myKey === next && worker) worker.postMessage({ type: "key", owner: "self", id: next.id, raw: next.raw });
    }, 500);
  }

  async function verificationCode() {
    if (!myPublic) return "";
    const all = [`${me()}:${myPublic}`, ...[...peers].map(([w, p]) => `${w}:${p.pub}`)].sort();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(all.join("\n"))));
    // 20 digits (66 bits) from the first 9 bytes: long enough that a server cannot search for
    // substitute keys that give everyone the same code.
    let n = 0n;
    for (const b of digest.subarray(0, 9)) n = (n << 8n) | BigInt(b);
    const s = (n % 10n ** 20n).toString().padStart(20, "0");
    return s.match(/.{4}/g).join(" ");
  }

  async function renderSecurity() {
    if (!config) return;
    const on = canEncrypt && e2eeOn;
    els.security.dataset.e2ee = on ? "on" : "off";
    els.securityCode.textContent = on ? await verificationCode() : texts["e2ee-off"];
    renderRosterMedia();
  }

  function setMode(on) {
    // Where the organisation requires end-to-end encryption, nobody may turn it off.
    if (config?.e2eeRequired && on === false) return;
    e2eeOn = on !== false;
    worker?.postMessage({ type: "mode", on: e2eeOn });
    renderSecurity();
  }

  // ---- The roster's media marks ----

  function renderRosterMedia() {
    for (const li of els.roster.querySelectorAll("li[data-participant]")) {
      const who = li.dataset.participant;
      let mark = li.querySelector(".media-marks");
      if (!mark) {
        mark = document.createElement("span");
        mark.className = "media-marks";
        li.append(mark);
      }
      const st = who === me() ? mine : states.get(who);
      const parts = [];
      li.dataset.audio = st ? (st.audio ? "on" : "off") : "unknown";
      li.dataset.video = st ? (st.video ? "on" : "off") : "unknown";
      li.dataset.screen = st?.screen ? "on" : "off";
      if (st && !st.audio) parts.push(texts["mic-off"]);
      if (st && !st.video) parts.push(texts["camera-off"]);
      if (st?.screen) parts.push(texts.sharing);
      let e2ee = "off";
      if (!e2eeOn || !canEncrypt) e2ee = "off";
      else if (who === me()) e2ee = myKey ? "on" : "off";
      else {
        const p = peers.get(who);
        if (p?.keyed && p.decrypted > 0) e2ee = "on";
        else if (p) e2ee = "pending";
      }
      li.dataset.e2ee = e2ee;
      parts.push(texts[`e2ee-${e2ee}`]);
      const q = tiles.get(who)?.quality?.dataset.quality;
      if (q) parts.push(`${texts.quality}: ${texts[`quality-${q}`]}`);
      mark.textContent = ` – ${parts.join(", ")}`;
    }
  }

  // ---- Video tiles ----

  function tileFor(who) {
    let t = tiles.get(who);
    if (t) return t;
    const tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.participant = who;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    if (who === "self") video.muted = true;
    const cap = document.createElement("figcaption");
    const name = document.createElement("span");
    name.textContent = who === "self" ? texts.you : (roster.find((p) => p.id === who)?.name ?? who);
    const quality = document.createElement("span");
    quality.className = "quality";
    cap.append(name, " ", quality);
    tile.append(video, cap);
    els.tiles.append(tile);
    t = { tile, video, quality, name, stream: new MediaStream() };
    video.srcObject = t.stream;
    tiles.set(who, t);
    return t;
  }

  function dropTile(who) {
    const t = tiles.get(who);
    if (!t) return;
    t.video.srcObject = null;
    t.tile.remove();
    tiles.delete(who);
  }

  // ---- The peer connection ----

  function transform(kind, operation, owner) {
    return new RTCRtpScriptTransform(worker, { operation, kind, owner });
  }

  async function connect() {
    if (stopped) return;
    if (pc) pc.close();
    lastStats.clear();
    pc = new RTCPeerConnection({ iceServers: config.iceServers ?? [], iceTransportPolicy: config.relay ? "relay" : "all" });
    const [mic] = local.getAudioTracks();
    const [cam] = local.getVideoTracks();
    audioTx = pc.addTransceiver(mic, { direction: "sendonly", streams: [local] });
    videoTx = pc.addTransceiver(screen ?? cam, {
      direction: "sendonly",
      streams: [local],
      // Two simulcast layers; the server gives each receiver the one its line can carry.
      sendEncodings: [
        { rid: "l", scaleResolutionDownBy: 2, maxBitrate: 250_000 },
        { rid: "h", maxBitrate: 1_200_000 },
      ],
    });
    // VP8 first: its keyframes can be found in an encrypted frame (e2ee-worker.js).
    const caps = RTCRtpSender.getCapabilities?.("video");
    if (caps && videoTx.setCodecPreferences) {
      const vp8 = caps.codecs.filter((c) => /vp8|rtx/i.test(c.mimeType));
      if (vp8.length) videoTx.setCodecPreferences(vp8);
    }
    if (canEncrypt) {
      audioTx.sender.transform = transform("audio", "encrypt", "self");
      videoTx.sender.transform = transform("video", "encrypt", "self");
    }
    pc.ontrack = (ev) => {
      const who = ev.streams[0]?.id;
      if (!who || !/^p\d+$/.test(who)) return;
      if (canEncrypt) ev.receiver.transform = transform(ev.track.kind, "decrypt", who);
      const t = tileFor(who);
      for (const old of t.stream.getTracks().filter((x) => x.kind === ev.track.kind)) t.stream.removeTrack(old);
      t.stream.addTrack(ev.track);
      t.video.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      const s = pc?.connectionState;
      els.root.dataset.media = s ?? "";
      if (s === "connected") setStatus("");
      if (s === "failed" || s === "disconnected") scheduleReconnect(s === "failed" ? 500 : 4000);
    };
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    send({ type: "media-offer", sdp: pc.localDescription.sdp });
  }

  // Scenario 9: a dropped line reconnects by itself.
  function scheduleReconnect(ms) {
    if (stopped || reconnectTimer) return;
    setStatus(texts.reconnecting);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      const s = pc?.connectionState;
      if (s === "connected" || stopped) return;
      serial(connect);
    }, ms);
  }

  // ---- Quality (scenario 7) ----

  async function pollStats() {
    if (!pc || stopped) return;
    const report = await pc.getStats();
    const byWho = new Map();
    let loudest = null;
    let level = 0.01;
    for (const s of report.values()) {
      // The active speaker, for the speaker view: the loudest remote audio just now.
      if (s.type === "inbound-rtp" && s.kind === "audio" && (s.audioLevel ?? 0) > level) {
        const t = [...tiles.entries()].find(([, x]) => x.stream.getAudioTracks().some((a) => a.id === s.trackIdentifier));
        if (t) {
          loudest = t[0];
          level = s.audioLevel;
        }
      }
      if (s.type !== "inbound-rtp" || s.kind !== "video") continue;
      const track = [...tiles.entries()].find(([, t]) => t.stream.getVideoTracks().some((v) => v.id === s.trackIdentifier));
      const who = track?.[0];
      if (!who) continue;
      const prev = lastStats.get(s.id) ?? { received: 0, lost: 0, decoded: 0 };
      const received = (s.packetsReceived ?? 0) - prev.received;
      const lost = Math.max(0, (s.packetsLost ?? 0) - prev.lost);
      const decoded = (s.framesDecoded ?? 0) - prev.decoded;
      lastStats.set(s.id, { received: s.packetsReceived ?? 0, lost: s.packetsLost ?? 0, decoded: s.framesDecoded ?? 0 });
      const loss = received + lost > 0 ? lost / (received + lost) : 1;
      const fps = decoded / 2;
      const q = received === 0 ? "none" : loss < 0.02 && fps >= 10 ? "good" : loss < 0.08 && fps >= 4 ? "fair" : "poor";
      byWho.set(who, q);
    }
    // The last one who spoke stays large through a silence.
    if (loudest) {
      for (const [who, t] of tiles) t.tile.classList.toggle("speaking", who === loudest);
    }
    for (const [who, t] of tiles) {
      if (who === "self") continue;
      const q = byWho.get(who) ?? "none";
      t.quality.dataset.quality = q;
      t.quality.textContent = texts[`quality-${q}`];
    }
    renderRosterMedia();
  }

  // ---- Controls ----

  function toggleAudio() {
    mine.audio = !mine.audio;
    for (const t of local.getAudioTracks()) t.enabled = mine.audio;
    els.mute.setAttribute("aria-pressed", String(!mine.audio));
    els.mute.textContent = mine.audio ? texts.mute : texts.unmute;
    announceState();
    renderRosterMedia();
  }

  function toggleVideo() {
    mine.video = !mine.video;
    for (const t of local.getVideoTracks()) t.enabled = mine.video;
    els.camera.setAttribute("aria-pressed", String(!mine.video));
    els.camera.textContent = mine.video ? texts["camera-stop"] : texts["camera-start"];
    announceState();
    renderRosterMedia();
  }

  // Scenario 20: the screen is shown to the person first, and sent only when they confirm.
  async function shareScreen() {
    if (screen) return stopSharing();
    let candidate;
    try {
      candidate = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch {
      return;
    }
    const [track] = candidate.getVideoTracks();
    els.sharePreview.srcObject = candidate;
    els.shareDialog.showModal();
    const confirmed = await new Promise((ok) => {
      els.shareConfirm.onclick = () => ok(true);
      els.shareCancel.onclick = () => ok(false);
      els.shareDialog.onclose = () => ok(false);
    });
    els.shareDialog.onclose = null;
    if (els.shareDialog.open) els.shareDialog.close();
    els.sharePreview.srcObject = null;
    if (!confirmed) {
      for (const t of candidate.getTracks()) t.stop();
      return;
    }
    screen = track;
    track.onended = () => stopSharing();
    await videoTx?.sender.replaceTrack(track);
    mine.screen = true;
    els.share.textContent = texts["share-stop"];
    announceState();
  }

  async function stopSharing() {
    if (!screen) return;
    screen.stop();
    screen = null;
    const [cam] = local?.getVideoTracks() ?? [];
    if (cam) await videoTx?.sender.replaceTrack(cam);
    mine.screen = false;
    els.share.textContent = texts.share;
    announceState();
  }

  function toggleLayout() {
    const speaker = els.tiles.classList.toggle("speaker");
    els.layout.textContent = speaker ? texts.grid : texts.speaker;
  }

  els.mute.addEventListener("click", toggleAudio);
  els.camera.addEventListener("click", toggleVideo);
  els.share.addEventListener("click", () => shareScreen());
  els.layout.addEventListener("click", toggleLayout);
  if (!navigator.mediaDevices?.getDisplayMedia) els.share.hidden = true;

  return {
    /** The server's media configuration arrived (on admission): start, or reconnect. */
    start(cfg) {
      config = cfg;
      e2eeOn = cfg.e2ee !== false || cfg.e2eeRequired;
      if (!cfg.media) return;
      if (cfg.e2eeRequired && !canEncrypt) {
        setStatus(texts["e2ee-unsupported"]);
        return;
      }
      stopped = false;
      serial(async () => {
        if (!local) {
          try {
            local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
          } catch {
            setStatus(texts["no-devices"]);
            return;
          }
          const self = tileFor("self");
          for (const t of local.getTracks()) if (t.kind === "video") self.stream.addTrack(t);
          self.video.play().catch(() => {});
        }
        if (canEncrypt && !worker) {
          worker = new Worker("/static/e2ee-worker.js", { type: "module" });
          worker.onmessage = (e) => {
            const m = e.data;
            const p = peers.get(m.owner);
            if (m.type === "stats" && p) {
              p.decrypted = m.ok;
              p.failed = m.failed;
              renderRosterMedia();
            }
          };
          worker.postMessage({ type: "mode", on: e2eeOn });
          worker.postMessage({ type: "me", id: me() });
          await initKeys();
        } else if (canEncrypt && myPublic) {
          send({ type: "e2ee-identity", key: myPublic });
        }
        started = true;
        els.controls.hidden = false;
        announceState();
        await connect();
        renderSecurity();
        clearInterval(statsTimer);
        statsTimer = setInterval(() => pollStats().catch(() => {}), 2000);
      });
    },

    /** A media or encryption frame from the server. */
    onFrame(m) {
      switch (m.type) {
        case "media-answer":
          serial(() => pc?.setRemoteDescription({ type: "answer", sdp: m.sdp }));
          break;
        case "media-offer":
          serial(async () => {
            if (!pc) return;
            await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
            const answer = await pc.createAnswer();
            await pc.setLocalDescription(answer);
            send({ type: "media-answer", sdp: pc.localDescription.sdp });
          });
          break;
        case "media-closed":
          if (started) scheduleReconnect(200);
          break;
        case "e2ee-mode":
          setMode(m.on);
          break;
        case "media-state":
          states.set(m.who, { audio: m.audio, video: m.video, screen: m.screen });
          renderRosterMedia();
          break;
        case "e2ee-identity":
          serial(() => onIdentity(m.who, m.key));
          break;
        case "e2ee-key":
          serial(() => onWrappedKey(m.from, m.payload));
          break;
        default:
          break;
      }
    },

    /** The server refused an offer as too soon after the last: offer again in a moment. */
    retry() {
      if (started) scheduleReconnect(2100);
    },

    /** The roster changed: tiles and keys follow it. */
    setRoster(list) {
      const before = new Set(roster.map((p) => p.id));
      roster = list;
      const now = new Set(list.map((p) => p.id));
      let someoneLeft = false;
      for (const who of before) {
        if (!now.has(who) && who !== me()) {
          dropTile(who);
          states.delete(who);
          if (peers.delete(who)) someoneLeft = true;
        }
      }
      for (const [who, t] of tiles) {
        if (who !== "self") t.name.textContent = list.find((p) => p.id === who)?.name ?? who;
      }
      if (someoneLeft) serial(rekey);
      renderSecurity();
      renderRosterMedia();
    },

    /** The call is over for this page: every track stops, nothing is kept. */
    stop() {
      stopped = true;
      clearTimeout(reconnectTimer);
      clearInterval(statsTimer);
      if (pc) pc.close();
      pc = null;
      for (const t of local?.getTracks() ?? []) t.stop();
      if (screen) screen.stop();
      screen = null;
      local = null;
      for (const who of [...tiles.keys()]) dropTile(who);
      worker?.terminate();
      worker = null;
      peers.clear();
      myKey = null;
      els.controls.hidden = true;
      els.root.dataset.media = "ended";
    },
  };
}
