// A stand-in SMS gateway for the SMS notice tests. It speaks one of two HTTP shapes: "generic"
// (Trygg's own documented JSON shape, POST /sms with a bearer token and an Idempotency-Key) or
// "link" (LINK Mobility's Common Platform REST API, POST /sms/send with HTTP Basic auth and
// refId as the idempotency key). Each accepted SMS becomes one JSON line in the --out file; a
// repeated key gets the first answer's id back and is not recorded again. It can also misbehave
// on purpose (fail, answer garbage, answer slowly) and send signed delivery reports back.
//
//   node peers/sms.js --port 0 --shape generic|link --out FILE.jsonl [--token T]
//       [--user U --pass P] [--fail-first N] [--garbage-first N] [--slow-ms M --slow-first N]
//       [--dlr-url URL --dlr-secret S] [--dlr-status delivered|failed] [--dlr-duplicate]
//       [--dlr-unknown] [--host 127.0.0.1]
//
// On listening it prints one line to stdout, {"listening": PORT}; all logs go to stderr.
// Send requests are numbered from 1 as they arrive. Request k gets 503 when k <= fail-first;
// a 200 "<html>not json" answer when fail-first < k <= fail-first + garbage-first (the message
// is still recorded); and its answer is held back slow-ms when k <= slow-first (the message is
// recorded on arrival). With --dlr-url each newly recorded SMS gets a delivery report 100 ms
// later, POSTed as JSON with X-Trygg-Dlr-Signature = hex HMAC-SHA256(body, dlr-secret); the
// callback's answer is recorded as {"dlr": report, "status": HTTP status or null, ...}.
import { createHmac } from "node:crypto";
import { appendFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    shape: { type: "string", default: "generic" },
    out: { type: "string" },
    token: { type: "string" },
    user: { type: "string" },
    pass: { type: "string" },
    "fail-first": { type: "string", default: "0" },
    "garbage-first": { type: "string", default: "0" },
    "slow-ms": { type: "string", default: "0" },
    "slow-first": { type: "string", default: "0" },
    "dlr-url": { type: "string" },
    "dlr-secret": { type: "string", default: "" },
    "dlr-status": { type: "string", default: "delivered" },
    "dlr-duplicate": { type: "boolean", default: false },
    "dlr-unknown": { type: "boolean", default: false },
  },
});
if (!opt.out || !["generic", "link"].includes(opt.shape) || !["delivered", "failed"].includes(opt["dlr-status"])) {
  console.error("usage: sms.js --port 0 --shape generic|link --out FILE.jsonl [...]");
  process.exit(2);
}
const log = (...a) => console.error("[sms-peer]", ...a);
const num = (name) => Number(opt[name]);
const LINK = opt.shape === "link";
const SEND_PATH = LINK ? "/sms/send" : "/sms";

let requests = 0; // send requests so far
let accepted = 0; // newly recorded messages so far
let duplicates = 0;
let unknownSent = false;
const byKey = new Map(); // idempotency key -> gateway id

const record = (line) => appendFileSync(opt.out, JSON.stringify(line) + "\n");
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

function reply(res, status, body, type = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

// --- Validation of the two shapes: each returns an error text, or the message. ---

const SENDER = /^[A-Za-z0-9 ]{1,11}$/;
const E164 = /^\+[1-9][0-9]{6,14}$/;
const str = (v) => typeof v === "string" && v.length > 0;

function readGeneric(req, body) {
  if (opt.token !== undefined && req.headers.authorization !== `Bearer ${opt.token}`) {
    return { status: 401, error: "unauthorized" };
  }
  const key = req.headers["idempotency-key"];
  if (!key || key.length > 200) return { error: "Idempotency-Key header is required (1-200 characters)" };
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
    return { error: "Content-Type must be application/json" };
  }
  let m;
  try {
    m = JSON.parse(body);
  } catch {
    return { error: "body is not JSON" };
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) return { error: "body must be a JSON object" };
  if (typeof m.from !== "string" || !SENDER.test(m.from)) return { error: "from must be 1-11 letters, digits or spaces" };
  if (typeof m.to !== "string" || !E164.test(m.to)) return { error: "to must be an E.164 number such as +4712345678" };
  if (!str(m.text)) return { error: "text must be a non-empty string" };
  return { key, from: m.from, to: m.to, text: m.text, body: m };
}

function readLink(req, body) {
  if (opt.user !== undefined || opt.pass !== undefined) {
    const expected = "Basic " + Buffer.from(`${opt.user ?? ""}:${opt.pass ?? ""}`).toString("base64");
    if (req.headers.authorization !== expected) return { status: 401, error: "unauthorized" };
  }
  let m;
  try {
    m = JSON.parse(body);
  } catch {
    return { error: "body is not JSON" };
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) return { error: "body must be a JSON object" };
  if (typeof m.source !== "string" || !SENDER.test(m.source)) return { error: "source must be 1-11 letters, digits or spaces" };
  if (typeof m.destination !== "string" || !E164.test(m.destination)) return { error: "destination must be an E.164 number" };
  if (!str(m.userData)) return { error: "userData must be a non-empty string" };
  if (!str(m.platformId)) return { error: "platformId is required" };
  if (!str(m.platformPartnerId)) return { error: "platformPartnerId is required" };
  if (!str(m.refId) || m.refId.length > 200) return { error: "refId is required (1-200 characters)" };
  if (m.useDeliveryReport !== undefined && typeof m.useDeliveryReport !== "boolean") {
    return { error: "useDeliveryReport must be a boolean" };
  }
  if (m.deliveryReportGates !== undefined && !(Array.isArray(m.deliveryReportGates) && m.deliveryReportGates.every(str))) {
    return { error: "deliveryReportGates must be an array of strings" };
  }
  return { key: m.refId, from: m.source, to: m.destination, text: m.userData, body: m };
}

// --- The send endpoint. ---

async function handleSend(req, res, body) {
  const k = ++requests;
  const delay = k <= num("slow-first") ? num("slow-ms") : 0;
  const answer = async (status, payload, type) => {
    if (delay) {
      log(`request ${k}: holding the answer back ${delay} ms`);
      await sleep(delay);
    }
    if (!res.destroyed) reply(res, status, payload, type);
  };

  if (k <= num("fail-first")) {
    log(`request ${k}: failing with 503`);
    return answer(503, { error: "unavailable" });
  }
  const m = LINK ? readLink(req, body) : readGeneric(req, body);
  if (m.error) {
    log(`request ${k}: refused (${m.status ?? 400}): ${m.error}`);
    if (m.status === 401) return answer(401, LINK ? { resultCode: 401, description: "Unauthorized" } : { error: "unauthorized" });
    return answer(400, LINK ? { resultCode: 2104, description: m.error } : { error: m.error });
  }

  let id = byKey.get(m.key);
  const duplicate = id !== undefined;
  if (duplicate) {
    duplicates += 1;
    log(`request ${k}: duplicate key ${JSON.stringify(m.key)} -> ${id} (duplicates: ${duplicates})`);
  } else {
    id = `${LINK ? "l" : "g"}-${++accepted}`;
    byKey.set(m.key, id);
    record({ id, key: m.key, from: m.from, to: m.to, text: m.text, body: m.body, at: new Date().toISOString() });
    log(`request ${k}: accepted ${id} for ${m.to}`);
    if (opt["dlr-url"]) setTimeout(() => sendReports(id, m.key), 100);
  }

  if (k > num("fail-first") && k <= num("fail-first") + num("garbage-first")) {
    log(`request ${k}: answering garbage`);
    return answer(200, "<html>not json", "text/html");
  }
  if (LINK) return answer(200, { messageId: id, resultCode: 1005, description: "Queued" });
  return answer(duplicate ? 200 : 202, { id });
}

// --- Delivery reports. ---

function report(id, key) {
  const delivered = opt["dlr-status"] === "delivered";
  const at = new Date().toISOString();
  return LINK
    ? { id, refId: key, resultCode: delivered ? 1001 : 1006, operator: "no.telenor", timestamp: at }
    : { id, key, status: delivered ? "delivered" : "failed", at };
}

async function sendReports(id, key) {
  const dlr = report(id, key);
  await postReport(dlr);
  if (opt["dlr-duplicate"]) await postReport(dlr);
  if (opt["dlr-unknown"] && !unknownSent) {
    unknownSent = true;
    await postReport(report(LINK ? "l-unknown" : "g-unknown", "unknown-key"));
  }
}

/** POSTs one report; retries up to 3 times on a connection error or 5xx, 200 ms apart. */
async function postReport(dlr) {
  const body = JSON.stringify(dlr);
  const signature = createHmac("sha256", opt["dlr-secret"]).update(body).digest("hex");
  let status = null;
  let error;
  let attempts = 0;
  while (attempts < 4) {
    attempts += 1;
    try {
      status = await post(opt["dlr-url"], body, { "x-trygg-dlr-signature": signature });
      error = undefined;
      if (status < 500) break;
    } catch (err) {
      status = null;
      error = err.message;
    }
    if (attempts < 4) await sleep(200);
  }
  log(`DLR ${dlr.id} -> ${status ?? error} after ${attempts} attempt(s)`);
  record({ dlr, status, attempts, ...(error ? { error } : {}) });
}

function post(url, body, headers) {
  const u = new URL(url);
  const client = u.protocol === "https:" ? https : http;
  return new Promise((ok, fail) => {
    const req = client.request(
      u,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on("end", () => ok(res.statusCode));
        res.on("error", fail);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", fail);
    req.end(body);
  });
}

// --- Start and stop. ---

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const path = new URL(req.url, "http://x").pathname;
    if (path !== SEND_PATH) return reply(res, 404, { error: "not found" });
    if (req.method !== "POST") return reply(res, 405, { error: "method not allowed" });
    handleSend(req, res, Buffer.concat(chunks).toString("utf8")).catch((err) => {
      log("error:", err.stack);
      if (!res.headersSent) reply(res, 500, { error: "internal" });
    });
  });
});
server.listen(Number(opt.port), opt.host, () => {
  process.stdout.write(JSON.stringify({ listening: server.address().port }) + "\n");
  log(`listening; shape ${opt.shape}, POST ${SEND_PATH}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    log(`${sig}: stopping (accepted ${accepted}, duplicates ${duplicates})`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
