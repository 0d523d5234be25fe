// The consultation page (issue 10): pre-join check, then the signalling socket
// (docs/signalling.md) drives the waiting room, the call with its roster, the clinician's
// waiting list with admit and deny, and the ended screen. The server decides everything; this
// script only shows what it is told and sends what the person asks. Names are set as text,
// never as HTML. The invitation token goes in the socket's first frame, never in a URL.
// The call's media and its end-to-end encryption are in call.js (issue 11).
import { canEncrypt, createCall } from "./call.js";
import * as deviceKey from "./device-key.js";

const root = document.getElementById("consultation");
if (root) {
  const d = root.dataset;
  const token = d.token;
  const personnel = d.personnel === "true";
  const roles = JSON.parse(d.roles);
  const msgs = JSON.parse(d.msgs);
  const baseTitle = document.title;
  // Codes after which the page stops trying: the person cannot come in with this link now.
  const finalCodes = new Set(["invitation-refused", "already-connected", "not-arrivable", "acknowledge-first", "device-refused"]);
  const assurances = new Map();
  const options = document.getElementById("assurance-options");
  for (const o of options.content.querySelectorAll("option")) assurances.set(o.value, o.textContent);
  const reasons = new Map();
  for (const o of document.getElementById("reason-options").content.querySelectorAll("option")) {
    reasons.set(o.value, o.textContent);
  }
  const $ = (id) => document.getElementById(id);
  const sections = ["prejoin", "waiting", "call", "ended", "denied", "left", "refused"];
  let ws = null;
  let me = null;
  let final = false;
  let roster = [];
  let locked = false;
  let heartbeat = null;
  let retries = 0;
  let preview = null;
  const resumeKey = `trygg-resume:${token.slice(-12)}`;
  let resume = sessionStorage.getItem(resumeKey);

  const show = (id) => {
    for (const s of sections) $(s).hidden = s !== id;
    $("error").textContent = "";
    if (id !== "call") document.title = baseTitle;
    const h = $(id).querySelector("h1");
    if (h) {
      h.tabIndex = -1;
      h.focus();
    }
  };
  const announce = (text) => {
    $("announce").textContent = text;
  };
  const nameOf = (id) => roster.find((p) => p.id === id)?.name ?? id;
  let pendingJoin = null;
  let waitingBefore = 0;
  const send = (msg) => {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ v: 1, ...msg }));
  };
  for (const [id, key] of [
    ["mute", "mute"], ["camera", "camera-stop"], ["share", "share"], ["layout", "speaker"],
    ["share-title", "share-title"], ["share-text", "share-text"], ["share-confirm", "share-confirm"],
    ["share-cancel", "share-cancel"], ["security-label", "security-code"], ["security-hint", "security-hint"],
  ]) {
    $(id).textContent = msgs[key];
  }
  const call = createCall({
    send,
    me: () => me?.you,
    texts: { ...msgs, you: msgs.you, reconnecting: msgs["media-reconnecting"] },
    els: {
      root,
      tiles: $("tiles"),
      controls: $("controls"),
      mute: $("mute"),
      camera: $("camera"),
      share: $("share"),
      layout: $("layout"),
      mediaStatus: $("media-status"),
      security: $("security"),
      securityCode: $("security-code"),
      roster: $("roster"),
      shareDialog: $("share-dialog"),
      sharePreview: $("share-preview"),
      shareConfirm: $("share-confirm"),
      shareCancel: $("share-cancel"),
    },
  });
  const stopPreview = () => {
    if (preview) for (const t of preview.getTracks()) t.stop();
    preview = null;
  };

  $("check").addEventListener("click", async () => {
    try {
      preview = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
      const v = $("selfview");
      v.srcObject = preview;
      v.hidden = false;
      await v.play().catch(() => {});
      $("check-status").textContent = d.msgCheckOk;
    } catch {
      $("check-status").textContent = d.msgCheckFailed;
    }
  });

  $("enter-form").addEventListener("submit", (e) => {
    e.preventDefault();
    stopPreview();
    connect();
  });

  for (const b of document.querySelectorAll("[data-action]")) {
    b.addEventListener("click", () => {
      const action = b.dataset.action;
      if (action === "leave") {
        final = true;
        call.stop();
        send({ type: "leave" });
        show("left");
      } else if (action === "end") {
        if (window.confirm(d.msgEndConfirm)) send({ type: "end" });
      } else if (action === "lock") {
        send({ type: locked ? "unlock" : "lock" });
      }
    });
  }

  function renderRoster() {
    const ul = $("roster");
    ul.replaceChildren();
    for (const p of roster) {
      const li = document.createElement("li");
      li.dataset.participant = p.id;
      li.dataset.role = p.role;
      li.dataset.assurance = p.assurance;
      const name = document.createElement("strong");
      name.textContent = p.name;
      li.append(name, ` – ${roles[p.role] ?? p.role} – ${assurances.get(p.assurance) ?? p.assurance}`);
      if (p.host) li.append(` (${msgs.host})`);
      if (p.id === me?.you) li.append(` (${msgs.you})`);
      ul.append(li);
    }
  }

  function renderWaiting(waiting) {
    $("host-tools").hidden = false;
    const box = $("waiting-room");
    const hadFocus = box.contains(document.activeElement);
    box.replaceChildren();
    // Someone new waits: say so, and show the count in the tab's title (another tab, a screen
    // reader: the clinician knows without looking).
    if (waiting.length > waitingBefore) {
      const newest = waiting[waiting.length - 1];
      announce(`${newest.name} ${msgs["waiting-count"]}`);
    }
    waitingBefore = waiting.length;
    document.title = waiting.length ? `(${waiting.length}) ${baseTitle}` : baseTitle;
    if (hadFocus) $("waiting-room-title").focus();
    if (waiting.length === 0) {
      const p = document.createElement("p");
      p.textContent = d.msgNobody;
      box.append(p);
      return;
    }
    for (const w of waiting) {
      const row = document.createElement("div");
      row.className = "waiter";
      row.dataset.participant = w.id;
      const who = document.createElement("span");
      who.className = "who";
      const how = w.login ? `${msgs["signed-in"]} ${assurances.get(w.login) ?? w.login}` : msgs["by-link"];
      const since = Math.max(0, Math.floor((Date.now() - w.since) / 60000));
      who.textContent = `${w.name} – ${roles[w.role] ?? w.role} – ${how} – ${since} ${msgs.minutes}`;
      const label = document.createElement("label");
      const select = document.createElement("select");
      select.id = `assurance-${w.id}`;
      label.htmlFor = select.id;
      label.textContent = `${d.msgAssurance}:`;
      // No default: the clinician chooses what they saw. An eID level is offered only when
      // the person signed in at that level, and `device` only when they came on an enrolled
      // device that proved itself (the server refuses it otherwise, VC-AUTH-1, VC-DEV-1).
      const none = document.createElement("option");
      none.value = "";
      none.textContent = msgs.choose;
      select.append(none);
      for (const [code, text] of assurances) {
        const eid = code === "eid-high" || code === "eid-substantial";
        if (eid && !(w.login === "eid-high" || w.login === code)) continue;
        if (code === "device" && w.login !== "device") continue;
        const o = document.createElement("option");
        o.value = code;
        o.textContent = text;
        select.append(o);
      }
      const admit = document.createElement("button");
      admit.type = "button";
      admit.className = "button";
      admit.textContent = d.msgAdmit;
      admit.setAttribute("aria-label", `${d.msgAdmit}: ${w.name}`);
      admit.addEventListener("click", () => {
        if (!select.value) {
          select.focus();
          return;
        }
        send({ type: "admit", who: w.id, assurance: select.value });
        $("waiting-room-title").focus();
      });
      const reasonLabel = document.createElement("label");
      const reason = document.createElement("select");
      reason.id = `reason-${w.id}`;
      reasonLabel.htmlFor = reason.id;
      reasonLabel.textContent = `${d.msgReason}:`;
      for (const [code, text] of reasons) {
        const o = document.createElement("option");
        o.value = code;
        o.textContent = text;
        reason.append(o);
      }
      const deny = document.createElement("button");
      deny.type = "button";
      deny.className = "button secondary";
      deny.textContent = d.msgDeny;
      deny.setAttribute("aria-label", `${d.msgDeny}: ${w.name}`);
      deny.addEventListener("click", () => {
        send({ type: "deny", who: w.id, reason: reason.value });
        $("waiting-room-title").focus();
      });
      row.append(who, label, select, admit, reasonLabel, reason, deny);
      box.append(row);
    }
  }

  // An enrolled device of the invitation's organisation (VC-DEV-1) proves itself at every join.
  const org = token.split(".")[0];
  let device;

  function onFrame(m) {
    switch (m.type) {
      case "device-challenge": {
        const socket = ws;
        deviceKey
          .sign(device.privateKey, deviceKey.joinMessage(org, device.id, m.nonce))
          .then((signature) => socket.send(JSON.stringify({ v: 1, type: "device-proof", signature })))
          .catch(() => socket.close());
        break;
      }
      case "welcome":
        me = m;
        retries = 0;
        $("error").textContent = "";
        $("end").hidden = !m.host;
        break;
      case "waiting":
        show("waiting");
        break;
      case "admitted":
        show("call");
        break;
      case "resume":
        // Proof that this page is the admitted client, to come back after a dropped
        // connection without a new admission; kept for this tab only.
        resume = m.secret;
        sessionStorage.setItem(resumeKey, resume);
        break;
      case "roster":
        roster = m.participants;
        renderRoster();
        call.setRoster(roster);
        if (pendingJoin) {
          announce(`${nameOf(pendingJoin)} ${msgs.joined}`);
          pendingJoin = null;
        }
        break;
      case "joined":
        // The roster with their name follows this frame.
        pendingJoin = m.who;
        break;
      case "left":
        announce(`${nameOf(m.who)} ${msgs.left}`);
        break;
      case "waiting-room":
        renderWaiting(m.waiting);
        break;
      case "locked":
        locked = m.locked;
        $("lock").textContent = locked ? d.msgUnlock : d.msgLock;
        break;
      case "ended":
        final = true;
        call.stop();
        show("ended");
        break;
      case "denied":
        final = true;
        call.stop();
        $("denied-reason").textContent = reasons.get(m.reason) ?? "";
        show("denied");
        break;
      case "media-config":
        call.start(m);
        break;
      case "media-answer":
      case "media-offer":
      case "media-closed":
      case "media-state":
      case "e2ee-identity":
      case "e2ee-key":
      case "e2ee-mode":
        call.onFrame(m);
        break;
      case "error":
        if (m.code === "too-soon") {
          call.retry();
          break;
        }
        if (m.code === "e2ee-required") final = true;
        if (m.code === "invitation-refused") {
          final = true;
          show("refused");
        } else {
          if (finalCodes.has(m.code)) final = true;
          $("error").textContent = msgs[m.code] ?? `${d.msgRefused} (${m.code})`;
        }
        break;
      default:
        break;
    }
  }

  async function connect() {
    if (device === undefined) device = await deviceKey.load(org);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/signalling`);
    ws.addEventListener("open", () => {
      const ack = $("ack");
      const hello = {
        v: 1,
        type: "hello",
        token,
        acknowledged: personnel || (ack?.checked ?? false),
        e2ee: canEncrypt,
      };
      if (resume) hello.resume = resume;
      if (device) hello.device = device.id;
      ws.send(JSON.stringify(hello));
      clearInterval(heartbeat);
      heartbeat = setInterval(() => send({ type: "ping" }), 15000);
    });
    ws.addEventListener("message", (e) => {
      try {
        onFrame(JSON.parse(e.data));
      } catch {
        // A frame this page does not understand changes nothing.
      }
    });
    ws.addEventListener("close", () => {
      clearInterval(heartbeat);
      if (final) {
        call.stop();
        return;
      }
      // Back off: quickly at first (within the 30-second grace period), then slower, for
      // up to about ten minutes (a locked room, a busy server, a restart).
      if (retries < 20) {
        retries += 1;
        announce(d.msgReconnecting);
        setTimeout(connect, Math.min(2000 * 2 ** Math.max(0, retries - 4), 60000));
      }
    });
  }
}
