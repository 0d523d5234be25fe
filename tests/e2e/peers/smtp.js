// A real SMTP server for the e-mail notice tests. Trygg sends its notices over SMTP with
// STARTTLS required; this peer is the receiving end. It listens on 127.0.0.1, offers STARTTLS
// with the given certificate and refuses MAIL FROM (and AUTH) until the session is encrypted.
// Every accepted message becomes one JSON line in the --out file, so a test can read what
// arrived, how often and over which protocol.
//
//   node peers/smtp.js --port 0 --cert CERT.pem --key KEY.pem --out FILE.jsonl
//       [--no-starttls] [--drop-first N] [--user U --pass P] [--host 127.0.0.1]
//
// On listening it prints one line to stdout, {"listening": PORT}; all logs go to stderr.
// --no-starttls: STARTTLS is not offered, so nothing can ever be delivered.
// --drop-first N: the first N messages are cut off mid-DATA (socket destroyed, no reply,
//   nothing recorded); later ones are accepted.
// --user/--pass: AUTH PLAIN/LOGIN with these credentials is required (after STARTTLS).
// Each line: {messageId, from, to, user, secure, tls, headers, body, raw, at}; body is the
// decoded text/plain part with LF line ends, headers have RFC 2047 words decoded. Duplicates are
// recorded too (the test counts them); each duplicate Message-ID is also reported on stderr.
import { appendFileSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SMTPServer } from "smtp-server";

const { values: opt } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    cert: { type: "string" },
    key: { type: "string" },
    out: { type: "string" },
    "no-starttls": { type: "boolean", default: false },
    "drop-first": { type: "string", default: "0" },
    user: { type: "string" },
    pass: { type: "string" },
  },
});
if (!opt.cert || !opt.key || !opt.out) {
  console.error("usage: smtp.js --port 0 --cert CERT.pem --key KEY.pem --out FILE.jsonl [...]");
  process.exit(2);
}
const log = (...a) => console.error("[smtp-peer]", ...a);
const needAuth = opt.user !== undefined || opt.pass !== undefined;
let toDrop = Number(opt["drop-first"]);
const seen = new Map(); // Message-ID -> how many times it arrived
const tlsSockets = new Map(); // session id -> TLS socket (set once STARTTLS completes)

const smtpError = (code, message) => Object.assign(new Error(message), { responseCode: code });
const mustStartTls = () => smtpError(530, "Must issue a STARTTLS command first");

const server = new SMTPServer({
  name: "smtp-peer.test",
  banner: "Trygg test SMTP peer",
  key: readFileSync(opt.key),
  cert: readFileSync(opt.cert),
  disabledCommands: opt["no-starttls"] ? ["STARTTLS"] : [],
  authMethods: ["PLAIN", "LOGIN"],
  // Authentication and TLS are enforced in the handlers below, so that both refusals before
  // STARTTLS read "530 5.7.0 Must issue a STARTTLS command first".
  authOptional: true,
  allowInsecureAuth: true,
  hideENHANCEDSTATUSCODES: false, // replies read "530 5.7.0 ...", "535 5.7.8 ..."
  logger: false,
  onSecure(socket, session, cb) {
    tlsSockets.set(session.id, socket);
    cb();
  },
  onClose(session) {
    tlsSockets.delete(session.id);
  },
  onAuth(auth, session, cb) {
    if (!session.secure) return cb(mustStartTls());
    if (needAuth && (auth.username !== opt.user || auth.password !== opt.pass)) {
      log(`auth refused for ${JSON.stringify(auth.username)}`);
      return cb(smtpError(535, "Authentication credentials invalid"));
    }
    cb(null, { user: auth.username });
  },
  onMailFrom(address, session, cb) {
    if (!session.secure) return cb(mustStartTls());
    if (needAuth && !session.user) return cb(smtpError(530, "Authentication required"));
    cb();
  },
  onData(stream, session, cb) {
    const chunks = [];
    if (toDrop > 0) {
      toDrop -= 1;
      stream.once("data", () => {
        log(`dropping the connection mid-DATA (${toDrop} more to drop)`);
        (tlsSockets.get(session.id) ?? stream).destroy();
      });
      stream.on("error", () => {});
      stream.resume();
      return; // never answer
    }
    stream.on("data", (c) => chunks.push(c));
    stream.on("error", (err) => cb(err));
    stream.on("end", () => {
      if (stream.sizeExceeded) return cb(smtpError(552, "Message too big"));
      const raw = Buffer.concat(chunks).toString("utf8");
      record(raw, session);
      cb(null, "Queued");
    });
  },
});
server.on("error", (err) => log("error:", err.message));

function record(raw, session) {
  const { headers, body } = parseMessage(raw);
  const messageId = headers["message-id"]?.trim().replace(/^<|>$/g, "") || null;
  const entry = {
    messageId,
    from: session.envelope.mailFrom?.address ?? null,
    to: session.envelope.rcptTo.map((r) => r.address),
    user: session.user || null,
    secure: !!session.secure,
    tls: tlsSockets.get(session.id)?.getProtocol() ?? null,
    headers: Object.fromEntries(
      ["from", "to", "subject", "message-id", "content-type"].map((h) => [h, headers[h] ?? null]),
    ),
    body,
    raw,
    at: new Date().toISOString(),
  };
  appendFileSync(opt.out, JSON.stringify(entry) + "\n");
  const count = (seen.get(messageId) ?? 0) + 1;
  seen.set(messageId, count);
  log(`accepted ${messageId} for ${entry.to.join(", ")}`);
  if (count > 1) log(`duplicate: ${messageId} has now arrived ${count} times`);
}

// --- A small MIME reader: headers (unfolded, encoded-words decoded), and the text body. ---

function splitHeaders(text) {
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text;
  const body = m ? text.slice(m.index + m[0].length) : "";
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    if (!(name in headers)) headers[name] = decodeWords(line.slice(i + 1).trim());
  }
  return { headers, body };
}

function decodeWords(value) {
  return value
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, "$1") // space between encoded words
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, charset, enc, text) => {
      const bytes =
        enc.toUpperCase() === "B"
          ? Buffer.from(text, "base64")
          : qpBytes(text.replace(/_/g, " "));
      return bytes.toString(/^utf-?8$/i.test(charset) ? "utf8" : "latin1");
    });
}

function qpBytes(text) {
  const src = Buffer.from(text.replace(/=\r?\n/g, ""), "utf8");
  const out = [];
  const hex = /^[0-9A-Fa-f]{2}$/;
  for (let i = 0; i < src.length; i++) {
    const pair = src.subarray(i + 1, i + 3).toString("latin1");
    if (src[i] === 0x3d && hex.test(pair)) {
      out.push(parseInt(pair, 16));
      i += 2;
    } else {
      out.push(src[i]);
    }
  }
  return Buffer.from(out);
}

function param(value, name) {
  return new RegExp(`;\\s*${name}="?([^";]+)"?`, "i").exec(value ?? "")?.[1] ?? null;
}

function decodeBody(body, headers) {
  const cte = (headers["content-transfer-encoding"] ?? "").toLowerCase();
  const bytes =
    cte === "base64"
      ? Buffer.from(body.replace(/\s+/g, ""), "base64")
      : cte === "quoted-printable"
        ? qpBytes(body)
        : Buffer.from(body, "utf8");
  const charset = param(headers["content-type"], "charset") ?? "utf-8";
  return bytes.toString(/^utf-?8$/i.test(charset) || /ascii/i.test(charset) ? "utf8" : "latin1");
}

/** The first text/plain part (else the first text part) of a message, decoded, with LF line ends. */
function textBody(headers, body) {
  const type = (headers["content-type"] ?? "text/plain").toLowerCase();
  if (type.startsWith("multipart/")) {
    const boundary = param(headers["content-type"], "boundary");
    if (!boundary) return null;
    const parts = body.split(`--${boundary}`).slice(1);
    const texts = [];
    for (const part of parts) {
      if (part.startsWith("--")) break;
      const p = splitHeaders(part.replace(/^\r?\n/, ""));
      p.body = p.body.replace(/\r?\n$/, "");
      const t = textBody(p.headers, p.body);
      if (t !== null) texts.push([(p.headers["content-type"] ?? "text/plain").toLowerCase(), t]);
    }
    return (texts.find(([t]) => t.startsWith("text/plain")) ?? texts[0])?.[1] ?? null;
  }
  return type.startsWith("text/") ? decodeBody(body, headers).replace(/\r\n/g, "\n") : null;
}

function parseMessage(raw) {
  const { headers, body } = splitHeaders(raw);
  return { headers, body: textBody(headers, body) };
}

// --- Start and stop. ---

server.listen(Number(opt.port), opt.host, () => {
  process.stdout.write(JSON.stringify({ listening: server.server.address().port }) + "\n");
  log(
    `listening; starttls ${opt["no-starttls"] ? "off" : "on"}, auth ${needAuth ? "required" : "optional"}, dropping ${toDrop}`,
  );
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    for (const s of tlsSockets.values()) s.destroy();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
