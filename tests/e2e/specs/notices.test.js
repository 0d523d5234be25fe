// Notices by e-mail and SMS through the outbox (issue #12), against real peers: an SMTP server
// (npm smtp-server, peers/smtp.js) that requires STARTTLS with a test CA made here, and a local
// HTTP server speaking the SMS gateway's shape (peers/sms.js) that posts signed delivery reports
// back. The notices are queued with `trygg notice send` and delivered by the running server's
// worker. A second server points at an SMTP server that offers no STARTTLS: it gets nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { BIN, startTrygg } from "../lib/harness.js";

const ORG = "normland-legesenter";
const PEERS = resolve(import.meta.dirname, "../peers");
const DLR_SECRET = "dlr-test-secret-0123456789-abcdefghij";
let dir;
let tls;
let tlsLess;
let sms;
let trygg;
let plainOnly;
let dropper;
let dropping;

/** Starts a peer and resolves with its port once it prints `{"listening": port}`. */
function startPeer(script, args) {
  const child = spawn(process.execPath, [join(PEERS, script), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const lines = createInterface({ input: child.stdout });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${script} did not start: ${log}`)), 10_000);
    child.on("exit", (code) => fail(new Error(`${script} exited with ${code}: ${log}`)));
    lines.once("line", (line) => {
      clearTimeout(timer);
      ok({ child, port: JSON.parse(line).listening, log: () => log });
    });
  });
}

function records(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

// The command line reads the same settings as the server it works beside (as a shared
// trygg.toml would give it).
function cli(server, ...args) {
  return execFileSync(BIN, [...args, "--data-dir", server.dataDir], {
    env: { ...process.env, ...server.env, RUST_LOG: "error" },
    maxBuffer: 64 * 1024 * 1024, // 10,000 notices listed as JSON are a few megabytes
  }).toString();
}

function cliJson(server, ...args) {
  return JSON.parse(cli(server, ...args, "--json"));
}

async function until(check, what, ms = 60_000) {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

function openssl(...args) {
  const r = spawnSync("openssl", args, { cwd: dir });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "trygg-notices-"));
  // A test CA and a certificate for 127.0.0.1 signed by it: the SMTP server's.
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
    "-subj", "/CN=Trygg test CA", "-keyout", "ca.key", "-out", "ca.pem");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
    "-keyout", "leaf.key", "-out", "leaf.csr");
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
    "-extfile", "leaf.ext", "-out", "leaf.pem");
  const certArgs = ["--cert", join(dir, "leaf.pem"), "--key", join(dir, "leaf.key")];
  tls = await startPeer("smtp.js", ["--port", "0", ...certArgs, "--out", join(dir, "mail.jsonl")]);
  tlsLess = await startPeer("smtp.js", ["--port", "0", ...certArgs, "--no-starttls", "--out", join(dir, "plain.jsonl")]);
  // The gateway fails the first request (503) and answers the next with garbage (having taken
  // the message): the worker must retry with the same key and the gateway must keep one SMS.
  // Delivery reports go to the server, signed; each twice, and one for a notice nobody sent.
  // The report URL is known only once the server runs, so the gateway is started after it, on
  // a port chosen first.
  const smsPort = await freeTcpPort();
  const env = {
    TRYGG_SMTP_URL: `smtp://127.0.0.1:${tls.port}`,
    TRYGG_SMTP_FROM: "ikke-svar@normland.example",
    TRYGG_SMTP_CA_FILE: join(dir, "ca.pem"),
    TRYGG_SMS_GATEWAY_URL: `http://127.0.0.1:${smsPort}`,
    TRYGG_SMS_GATEWAY_TOKEN: "gateway-token",
    TRYGG_SMS_DLR_SECRET: DLR_SECRET,
  };
  trygg = { ...(await startTrygg([], env)), env };
  sms = await startPeer("sms.js", ["--port", String(smsPort), "--shape", "generic", "--token", "gateway-token",
    "--out", join(dir, "sms.jsonl"), "--fail-first", "1", "--garbage-first", "1",
    "--dlr-url", `${trygg.base}/api/v1/notices/delivery-report`, "--dlr-secret", DLR_SECRET,
    "--dlr-duplicate", "--dlr-unknown"]);
  const plainEnv = {
    TRYGG_SMTP_URL: `smtp://127.0.0.1:${tlsLess.port}`,
    TRYGG_SMTP_FROM: "ikke-svar@normland.example",
    TRYGG_SMTP_CA_FILE: join(dir, "ca.pem"),
  };
  plainOnly = { ...(await startTrygg([], plainEnv)), env: plainEnv };
  // A mail server that cuts the connection in the middle of the first message.
  dropper = await startPeer("smtp.js", ["--port", "0", ...certArgs, "--drop-first", "1", "--out", join(dir, "dropped.jsonl")]);
  const dropEnv = {
    TRYGG_SMTP_URL: `smtp://127.0.0.1:${dropper.port}`,
    TRYGG_SMTP_FROM: "ikke-svar@normland.example",
    TRYGG_SMTP_CA_FILE: join(dir, "ca.pem"),
  };
  dropping = { ...(await startTrygg([], dropEnv)), env: dropEnv };
});

after(async () => {
  await trygg?.stop();
  await plainOnly?.stop();
  await dropping?.stop();
  for (const p of [tls, tlsLess, sms, dropper]) p?.child.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function freeTcpPort() {
  const net = await import("node:net");
  return new Promise((ok) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** The patient's consent to a purpose on a channel, on their word at the desk. */
function consent(server, patient, purpose, channel, granted = true) {
  cli(server, "consent", "set", "--org", ORG, "--patient", patient, "--purpose", purpose, "--channel", channel,
    "--granted", String(granted), "--text-version", "2026-12");
}

/** `trygg notice send` for one patient, as a child process: its status and output. */
function trySend(server, patient, ...args) {
  return spawnSync(BIN, ["notice", "send", "--org", ORG, "--patient", patient, ...args, "--data-dir", server.dataDir],
    { env: { ...process.env, ...server.env, RUST_LOG: "error" } });
}

function notice(server, id) {
  return cliJson(server, "notice", "list", "--org", ORG).find((n) => n.id === id);
}

test("an e-mail notice goes once, over STARTTLS, to its one recipient, with no health content", async () => {
  const [patient] = cliJson(trygg, "patient", "list", "--org", ORG);
  consent(trygg, patient.id, "appointments", "email");
  const out = cliJson(trygg, "notice", "send", "--org", ORG, "--patient", patient.id, "--kind", "appointment-reminder",
    "--channel", "email", "--when", "tirsdag 8. desember kl. 10.30");
  assert.equal(out.verdict, "allow");
  const [mail] = await until(() => records(join(dir, "mail.jsonl")).filter((m) => m.messageId?.includes(out.id)).length && records(join(dir, "mail.jsonl")), "the e-mail");
  assert.equal(mail.secure, true, "delivered only after STARTTLS");
  assert.match(mail.tls, /TLSv1\.[23]/);
  assert.equal(mail.messageId, `${ORG}.${out.id}@normland.example`, "the idempotency key is the Message-ID");
  assert.deepEqual(mail.to, [patient.email], "one recipient, the patient");
  assert.equal(mail.from, "ikke-svar@normland.example");
  assert.match(mail.headers.from, /Normland legesenter/);
  assert.match(mail.headers.subject, /Påminnelse om time/);
  assert.match(mail.body, /tirsdag 8\. desember kl\. 10\.30/);
  assert.match(mail.body, /Du kan ikke svare på denne meldingen/);
  await until(() => notice(trygg, out.id)?.status === "sent", "the notice marked sent");
  assert.equal(records(join(dir, "mail.jsonl")).filter((m) => m.messageId?.includes(out.id)).length, 1, "sent once");
});

test("an SMS survives a failing and a garbling gateway, is kept once, and its report marks it delivered (even before the retry)", async () => {
  cli(trygg, "org", "messaging", "--org", ORG, "--sender-name", "Normland");
  const [patient] = cliJson(trygg, "patient", "list", "--org", ORG);
  consent(trygg, patient.id, "portal-notices", "sms");
  const out = cliJson(trygg, "notice", "send", "--org", ORG, "--patient", patient.id, "--kind", "new-message", "--channel", "sms");
  const n = await until(() => {
    const n = notice(trygg, out.id);
    return n?.status === "delivered" && n;
  }, `the delivery report (${JSON.stringify(notice(trygg, out.id))}; gateway: ${JSON.stringify(records(join(dir, "sms.jsonl")))})`, 90_000).catch((e) => {
    throw new Error(`${e.message}; now ${JSON.stringify(notice(trygg, out.id))}; gateway log: ${sms.log()}`);
  });
  // 503, then garbage (the gateway took the message but its answer was lost, so a retry was
  // queued with the same key); the gateway's report overtook the retry and settled it.
  assert.equal(n.attempts, 2, "503, then garbage; the report made a third attempt needless");
  const sent = records(join(dir, "sms.jsonl")).filter((r) => r.key === `${ORG}.${out.id}`);
  assert.equal(sent.length, 1, "the gateway kept one SMS for the key");
  assert.equal(sent[0].from, "Normland");
  assert.equal(sent[0].to, patient.phone);
  assert.match(sent[0].text, /Du har en ny melding\. Logg inn for å lese den\./);
  assert.equal(n.gateway_id, sent[0].id);
  // The reports: the real one (twice) and one for a notice nobody sent, all answered alike.
  const dlrs = records(join(dir, "sms.jsonl")).filter((r) => r.dlr);
  await until(() => records(join(dir, "sms.jsonl")).filter((r) => r.dlr).length >= 3, "three reports");
  for (const d of records(join(dir, "sms.jsonl")).filter((r) => r.dlr)) assert.equal(d.status, 204, JSON.stringify(d));
  assert.ok(dlrs.length >= 1);
});

test("a mail server that drops the connection mid-message: the notice is retried with the same Message-ID and delivered once", async () => {
  const [patient] = cliJson(dropping, "patient", "list", "--org", ORG);
  consent(dropping, patient.id, "portal-notices", "email");
  const out = cliJson(dropping, "notice", "send", "--org", ORG, "--patient", patient.id, "--kind", "new-message", "--channel", "email");
  const n = await until(() => {
    const n = notice(dropping, out.id);
    return n?.status === "sent" && n;
  }, `the retried e-mail (${dropper.log()})`, 90_000);
  assert.equal(n.attempts, 2, "cut off once, then delivered");
  assert.match(dropper.log(), /dropping the connection mid-DATA/);
  const got = records(join(dir, "dropped.jsonl")).filter((m) => m.messageId === `${ORG}.${out.id}@normland.example`);
  assert.equal(got.length, 1, "kept once");
});

test("a delivery report without the gateway's signature is refused", async () => {
  const body = JSON.stringify({ id: "g-1", key: `${ORG}.00000000-0000-0000-0000-000000000000`, status: "delivered" });
  const post = (sig) => fetch(`${trygg.base}/api/v1/notices/delivery-report`, {
    method: "POST", body, headers: { "content-type": "application/json", ...(sig ? { "x-trygg-dlr-signature": sig } : {}) },
  });
  assert.equal((await post()).status, 401);
  assert.equal((await post("00".repeat(32))).status, 401);
  const wrongKey = createHmac("sha256", "another-secret").update(body).digest("hex");
  const r = await post(wrongKey);
  assert.equal(r.status, 401);
  assert.match(r.headers.get("content-type"), /application\/problem\+json/);
  const good = createHmac("sha256", DLR_SECRET).update(body).digest("hex");
  assert.equal((await post(good)).status, 204, "an unknown notice is answered like a known one");
  const bad = "{not json";
  const r2 = await fetch(`${trygg.base}/api/v1/notices/delivery-report`, {
    method: "POST", body: bad, headers: { "x-trygg-dlr-signature": createHmac("sha256", DLR_SECRET).update(bad).digest("hex") },
  });
  assert.equal(r2.status, 422);
});

test("the guard refuses a notice with health content; an unknown kind or channel is a clear error", () => {
  const [patient] = cliJson(trygg, "patient", "list", "--org", ORG);
  const refused = (...args) => {
    const r = trySend(trygg, patient.id, ...args);
    assert.notEqual(r.status, 0, r.stdout.toString());
    return r.stderr.toString();
  };
  assert.match(refused("--kind", "opening-hours", "--channel", "sms", "--text", "Husk å ta med blodsukkermåleren og insulinpennen."), /confidentiality guard blocks/);
  assert.match(refused("--kind", "diagnosis", "--channel", "sms"), /unknown kind/);
  assert.match(refused("--kind", "new-message", "--channel", "fax"), /channel is sms or email/);
  assert.match(refused("--kind", "new-message", "--channel", "sms", "--when", "i morgen"), /does not take the parameter when/);
  const none = cliJson(trygg, "notice", "list", "--org", ORG).filter((n) => n.kind === "opening-hours");
  assert.deepEqual(none, [], "nothing queued");
});

test("a mail server that offers no STARTTLS gets nothing; the notice waits with the reason, and a withdrawn consent stops it", async () => {
  const [patient] = cliJson(plainOnly, "patient", "list", "--org", ORG);
  consent(plainOnly, patient.id, "portal-notices", "email");
  const out = cliJson(plainOnly, "notice", "send", "--org", ORG, "--patient", patient.id, "--kind", "results-ready", "--channel", "email");
  const n = await until(() => {
    const n = notice(plainOnly, out.id);
    return n?.attempts >= 1 && n.status === "queued" && n;
  }, "a failed attempt");
  assert.ok(n.last_error?.startsWith("smtp-"), JSON.stringify(n));
  assert.deepEqual(records(join(dir, "plain.jsonl")), [], "nothing delivered in plain text");
  // PC-CONSENT-2: withdrawn while the retry waits: the retry is not made.
  consent(plainOnly, patient.id, "portal-notices", "email", false);
  const stopped = await until(() => {
    const m = notice(plainOnly, out.id);
    return m?.status === "dead" && m;
  }, "the notice stopped");
  assert.equal(stopped.last_error, "consent-withdrawn");
  assert.equal(stopped.attempts, n.attempts + 1, "stopped at its next attempt, before sending");
  const history = cliJson(plainOnly, "consent", "list", "--org", ORG, "--patient", patient.id);
  assert.deepEqual(history.map((c) => [c.purpose, c.channel, c.granted]),
    [["portal-notices", "email", true], ["portal-notices", "email", false]], "both changes kept");
});

test("without the patient's consent to the purpose on the channel, nothing is queued", () => {
  const [, patient] = cliJson(trygg, "patient", "list", "--org", ORG);
  const reminder = ["--kind", "appointment-reminder", "--channel", "sms", "--when", "i morgen kl. 9"];
  const r = trySend(trygg, patient.id, ...reminder);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.toString(), /has not consented to appointments by sms/);
  // Consent to e-mail is not consent to SMS.
  consent(trygg, patient.id, "appointments", "email");
  const again = trySend(trygg, patient.id, ...reminder);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr.toString(), /has not consented to appointments by sms/);
  const queued = cliJson(trygg, "notice", "list", "--org", ORG).filter((x) => x.patient === patient.id);
  assert.deepEqual(queued, []);
});

test("SIGKILL again and again while 10,000 notices are in flight: each reaches the gateway, once", async () => {
  const crashDir = mkdtempSync(join(tmpdir(), "trygg-crash-"));
  const out = join(dir, "crash-sms.jsonl");
  const gateway = await startPeer("sms.js", ["--port", "0", "--shape", "generic", "--token", "t", "--out", out]);
  const env = {
    TRYGG_SMS_GATEWAY_URL: `http://127.0.0.1:${gateway.port}`,
    TRYGG_SMS_GATEWAY_TOKEN: "t",
    // A notice whose attempt was cut off by the kill is tried again after its lease.
    TRYGG_NOTICE_LEASE_SECS: "2",
  };
  const at = { dataDir: crashDir, env };
  let server = await startTrygg([], env, { dataDir: crashDir });
  try {
    cli(at, "org", "messaging", "--org", ORG, "--sender-name", "Normland");
    const [patient] = cliJson(at, "patient", "list", "--org", ORG);
    consent(at, patient.id, "portal-notices", "sms");
    const queued = cliJson(at, "notice", "send", "--org", ORG, "--patient", patient.id, "--kind", "new-message",
      "--channel", "sms", "--repeat", "10000");
    assert.equal(queued.queued, 10_000);
    const sentNow = () => cliJson(at, "notice", "list", "--org", ORG, "--status", "sent", "--limit", "10000").length;
    let killedMidway = 0;
    for (let k = 0; k < 5; k++) {
      await new Promise((ok) => setTimeout(ok, 400 + Math.random() * 600));
      await server.kill();
      const sent = sentNow();
      if (sent < 10_000) killedMidway += 1;
      console.log(`kill ${k + 1}: ${sent} sent, ${records(out).length} at the gateway`);
      server = await startTrygg([], env, { dataDir: crashDir });
    }
    assert.ok(killedMidway >= 2, `the kills came while notices were in flight (${killedMidway})`);
    await until(() => sentNow() === 10_000, "every notice sent", 240_000);
    const all = cliJson(at, "notice", "list", "--org", ORG, "--limit", "10000");
    const keys = new Set(all.map((n) => `${ORG}.${n.id}`));
    const got = records(out);
    const counts = new Map();
    for (const r of got) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
    assert.equal(counts.size, 10_000, "every notice reached the gateway");
    assert.ok([...counts.keys()].every((k) => keys.has(k)), "nothing the outbox did not hold");
    const retried = all.filter((n) => n.attempts > 1).length;
    const dupes = Number(gateway.log().match(/duplicates: (\d+)/g)?.pop()?.split(" ")[1] ?? 0);
    console.log(`10,000 delivered once each; ${retried} needed another attempt; the gateway turned away ${dupes} repeated keys`);
  } finally {
    await server.stop();
    gateway.child.kill("SIGTERM");
    rmSync(crashDir, { recursive: true, force: true });
  }
});

test("with KRR: a reserved patient gets no SMS (the notice is left for a letter), a notifiable one gets it at KRR's number", async () => {
  const krrOut = join(dir, "krr-sms.jsonl");
  const gateway = await startPeer("sms.js", ["--port", "0", "--shape", "generic", "--token", "t", "--out", krrOut]);
  const http = await import("node:http");
  const asked = [];
  let answers = new Map();
  // KRR's REST API v2 shape (POST /rest/v2/personer), answering by the birth date part of the
  // number (the test sees numbers only redacted to it).
  const krr = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      asked.push({ auth: req.headers.authorization, path: req.url, body: JSON.parse(body) });
      const personer = JSON.parse(body).personidentifikatorer.flatMap((nid) => {
        const a = answers.get(nid.slice(0, 6));
        return a ? [{ personidentifikator: nid, ...a }] : [];
      });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ personer }));
    });
  });
  await new Promise((ok) => krr.listen(0, "127.0.0.1", ok));
  const env = {
    TRYGG_SMS_GATEWAY_URL: `http://127.0.0.1:${gateway.port}`,
    TRYGG_SMS_GATEWAY_TOKEN: "t",
    TRYGG_KRR_URL: `http://127.0.0.1:${krr.address().port}`,
    TRYGG_KRR_TOKEN: "maskinporten-token",
  };
  const server = { ...(await startTrygg([], env)), env };
  try {
    cli(server, "org", "messaging", "--org", ORG, "--sender-name", "Normland");
    const [reserved, notifiable, unknown] = cliJson(server, "patient", "list", "--org", ORG);
    answers = new Map([
      [reserved.national_id.slice(0, 6), { reservasjon: "JA", status: "AKTIV", varslingsstatus: "KAN_IKKE_VARSLES", kontaktinformasjon: {} }],
      [notifiable.national_id.slice(0, 6), { reservasjon: "NEI", status: "AKTIV", varslingsstatus: "KAN_VARSLES",
        kontaktinformasjon: { mobiltelefonnummer: "+4799911122", epostadresse: "ny@pasient.example" } }],
    ]);
    const ids = {};
    for (const [name, p] of Object.entries({ reserved, notifiable, unknown })) {
      consent(server, p.id, "portal-notices", "sms");
      ids[name] = cliJson(server, "notice", "send", "--org", ORG, "--patient", p.id, "--kind", "new-message", "--channel", "sms").id;
    }
    const settled = (id) => ["sent", "dead"].includes(notice(server, id)?.status);
    await until(() => Object.values(ids).every(settled), "all three settled");
    const dead = notice(server, ids.reserved);
    assert.deepEqual([dead.status, dead.last_error], ["dead", "krr-reserved"]);
    const none = notice(server, ids.unknown);
    assert.deepEqual([none.status, none.last_error], ["dead", "krr-cannot-notify"]);
    assert.equal(notice(server, ids.notifiable).status, "sent");
    const sent = records(krrOut);
    assert.deepEqual(sent.map((r) => r.to), ["+4799911122"], "one SMS, to the number KRR holds");
    assert.notEqual(notifiable.phone, "+4799911122");
    assert.ok(asked.length >= 1 && asked.every((a) => a.auth === "Bearer maskinporten-token" && a.path === "/rest/v2/personer"));
    assert.ok(asked.every((a) => /^\d{11}$/.test(a.body.personidentifikatorer[0])), "asked by national identity number");
  } finally {
    await server.stop();
    gateway.child.kill("SIGTERM");
    krr.close();
  }
});
