// Notice throughput benchmark (issue #12): notices per second through Trygg's transactional
// outbox to a local SMS gateway (tests/e2e/peers/sms.js, the generic shape) and a local SMTP
// server that requires STARTTLS (tests/e2e/peers/smtp.js, with a test CA made here), side by side
// in the same run with a baseline: the same notices sent straight to the same servers (a fresh
// instance of the same peer program, same options) by this script, with no outbox (no queue, no
// audit, no durability): what a sender that keeps nothing could reach against these servers on
// this machine, so the peers' own ceiling is known.
//
// Trygg runs as the release binary (`trygg demo`, SQLite, its notice worker). N notices are queued
// with `trygg notice send --repeat N` (one unit of work, committed at once); Trygg's clock runs
// from that commit (the CLI's "N notices queued" line) until the receiver has recorded the last
// one (the peer's own timestamp of it). The baseline's clock runs from its first request to the
// last answer. The queueing itself is timed apart (it is one big unit, not how notices are queued
// in service). CPU seconds of Trygg, of the peer and of this script are sampled from /proc over
// each phase: they show which process a phase was waiting for.
//
// Prints one JSON line with the results (progress on stderr).
// Usage: node bench/messaging/notices.mjs [--bin target/release/trygg] [--sms 20000]
//          [--email 5000] [--rounds 3] [--concurrency 64] [--smtp-connections 10] [--keep DIR]
//   --rounds: each measurement is made this many times (baseline and Trygg alternating, per
//     channel); medians are reported, every run is kept in the output.
//   --concurrency: the baseline's SMS requests in flight (Trygg's worker has up to 64: CLAIM).
//   --smtp-connections: the baseline's SMTP connections, each sending one message at a time
//     (lettre's pool in Trygg keeps 10 idle).
//   --sms 0 / --email 0 skip a channel. --keep DIR copies Trygg's data directory there at the end.
import { spawn, execFileSync } from "node:child_process";
import { cpSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { StringDecoder } from "node:string_decoder";
import tls from "node:tls";

const ROOT = resolve(import.meta.dirname, "../..");
const E2E = join(ROOT, "tests/e2e");

const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
  args[a.slice(2)] = process.argv[++i];
}
const BIN = resolve(args.bin ?? join(ROOT, "target/release/trygg"));
const N_SMS = Number(args.sms ?? 20000);
const N_MAIL = Number(args.email ?? 5000);
const CONCURRENCY = Number(args.concurrency ?? 64);
const SMTP_CONNECTIONS = Number(args["smtp-connections"] ?? 10);
const ROUNDS = Number(args.rounds ?? 3);
const ORG = "normland-legesenter";
const TOKEN = "bench-gateway-token";
const FROM = "ikke-svar@normland.example";
if (!existsSync(BIN)) throw new Error(`no trygg binary at ${BIN}: cargo build --release --bin trygg`);

const dir = mkdtempSync(join(tmpdir(), "trygg-bench-notices-"));
const children = [];
const log = (...a) => console.error("[notices]", ...a);
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// --- Processes and their CPU time. ---

const TICK = 100; // USER_HZ: /proc's clock ticks per second
/** CPU seconds (user + system) a process has used so far, its threads included. */
function cpuSecs(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return NaN;
  }
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** Reads CPU seconds of the named processes now; `.since()` gives what each used since. */
function cpuMark(procs) {
  const at = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, p === "self" ? selfCpu() : cpuSecs(p)]));
  const t = performance.now();
  return {
    since() {
      const wall = (performance.now() - t) / 1000;
      const out = { wall_secs: round(wall, 3) };
      for (const [k, p] of Object.entries(procs)) {
        const used = (p === "self" ? selfCpu() : cpuSecs(p)) - at[k];
        out[`${k}_cpu_secs`] = round(used, 2);
      }
      return out;
    },
  };
}
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Starts a peer; resolves with {child, port} once it prints {"listening": port}. */
function peer(script, a) {
  const child = spawn(process.execPath, [join(E2E, "peers", script), ...a], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  // Peers log a line per message to stderr: kept short, so the pipe never fills.
  child.stderr.on("data", (d) => (err = (err + d).slice(-4000)));
  return new Promise((ok, fail) => {
    child.on("exit", (c) => fail(new Error(`${script} exited ${c}: ${err}`)));
    createInterface({ input: child.stdout }).once("line", (l) => ok({ child, port: JSON.parse(l).listening }));
  });
}

function openssl(...a) {
  execFileSync("openssl", a, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

// --- A peer's output file, read as it grows (never re-read from the start). ---

function tail(file) {
  let offset = 0;
  let count = 0;
  let partial = "";
  let first = null;
  let last = null;
  const buf = Buffer.alloc(1 << 20);
  const utf8 = new StringDecoder("utf8"); // a character split between two reads stays whole
  return {
    /** Reads what was appended; returns how many lines the file holds. */
    poll() {
      if (!existsSync(file)) return count;
      const fd = openSync(file, "r");
      try {
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, offset);
          if (n === 0) break;
          offset += n;
          const lines = (partial + utf8.write(buf.subarray(0, n))).split("\n");
          partial = lines.pop();
          for (const l of lines) {
            if (!l) continue;
            count += 1;
            if (first === null) first = l;
            last = l;
          }
        }
      } finally {
        closeSync(fd);
      }
      return count;
    },
    get count() {
      return count;
    },
    /** The peer's timestamp (ms) of the first and of the last line read. */
    firstAt: () => Date.parse(JSON.parse(first).at),
    lastAt: () => Date.parse(JSON.parse(last).at),
  };
}

async function until(t, n, ms = 300_000) {
  const t0 = Date.now();
  while (t.poll() < n) {
    if (Date.now() - t0 > ms) throw new Error(`only ${t.count} of ${n} arrived in ${ms / 1000} s`);
    await sleep(25);
  }
}

/** Arrivals per second over the run, from the peer's timestamps (to see stalls). */
function perSecond(file, from) {
  const bins = [];
  for (const l of readFileSync(file, "utf8").split("\n")) {
    if (!l) continue;
    const i = Math.floor((Date.parse(JSON.parse(l).at) - from) / 1000);
    bins[Math.max(0, i)] = (bins[Math.max(0, i)] ?? 0) + 1;
  }
  return Array.from(bins, (b) => b ?? 0);
}

/** Runs f(0..n-1) with `width` in flight. */
async function pool(n, width, f) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await f(next++);
    }),
  );
}

// The texts Trygg renders for kind new-message (nb), so both sides send the same bytes.
const SMS_TEXT = "Du har en ny melding. Logg inn for å lese den.\nHilsen Normland\nDu kan ikke svare på denne meldingen.";

// --- Baselines: straight from this script to a fresh peer. ---

async function directSms(n) {
  const out = join(dir, "direct-sms.jsonl");
  rmSync(out, { force: true }); // this run's messages only
  const p = await peer("sms.js", ["--port", "0", "--shape", "generic", "--token", TOKEN, "--out", out]);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const send = (i) =>
    new Promise((ok, fail) => {
      const body = JSON.stringify({ from: "Normland", to: "+4741234001", text: SMS_TEXT });
      const req = http.request(
        {
          host: "127.0.0.1", port: p.port, path: "/sms", method: "POST", agent,
          headers: {
            authorization: `Bearer ${TOKEN}`, "idempotency-key": `${ORG}.direct-${i}`,
            "content-type": "application/json", "content-length": Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 202 ? ok() : fail(new Error(`gateway answered ${res.statusCode}`))));
        },
      );
      req.on("error", fail);
      req.end(body);
    });
  await send(-1); // one connection open before the clock starts, as Trygg's client has its own
  const mark = cpuMark({ peer: p.child.pid, script: "self" });
  const t0 = performance.now();
  await pool(n, CONCURRENCY, send);
  const secs = (performance.now() - t0) / 1000;
  const cpu = mark.since();
  agent.destroy();
  p.child.kill("SIGTERM");
  const t = tail(out);
  t.poll();
  if (t.count !== n + 1) throw new Error(`the direct gateway recorded ${t.count} of ${n + 1}`);
  return { secs: round(secs, 3), rate: round(n / secs), cpu };
}

/** A minimal SMTP client: one connection, STARTTLS (verified against the test CA), then one
 * message at a time (MAIL, RCPT, DATA, the message and its terminator in one write), TCP_NODELAY. */
class Smtp {
  static async open(port, ca) {
    const c = new Smtp();
    const plain = net.connect({ host: "127.0.0.1", port, noDelay: true });
    await new Promise((ok, fail) => plain.once("connect", ok).once("error", fail));
    c.attach(plain);
    await c.reply(220);
    await c.cmd("EHLO bench.example", 250);
    await c.cmd("STARTTLS", 220);
    plain.removeAllListeners("data");
    const secure = tls.connect({ socket: plain, host: "127.0.0.1", ca });
    await new Promise((ok, fail) => secure.once("secureConnect", ok).once("error", fail));
    c.attach(secure);
    await c.cmd("EHLO bench.example", 250);
    return c;
  }
  attach(sock) {
    this.sock = sock;
    this.buf = "";
    sock.on("data", (d) => {
      this.buf += d.toString("latin1");
      this.pump();
    });
    sock.on("error", (e) => this.waiter?.fail(e));
  }
  pump() {
    // A reply is complete at a line "NNN text" (not "NNN-text").
    const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(this.buf);
    if (!m || !this.waiter) return;
    const w = this.waiter;
    this.waiter = null;
    this.buf = this.buf.slice(m.index + m[0].length);
    Number(m[1]) === w.code ? w.ok() : w.fail(new Error(`SMTP: expected ${w.code}, got ${m[0].trim()}`));
  }
  reply(code) {
    return new Promise((ok, fail) => {
      this.waiter = { code, ok, fail };
      this.pump();
    });
  }
  cmd(line, code) {
    const r = this.reply(code);
    this.sock.write(line + "\r\n");
    return r;
  }
  async send(i) {
    const msg = [
      `From: Normland <${FROM}>`, "To: pasient@pasient.example", "Subject: Ny melding",
      `Message-ID: <${ORG}.direct-${i}@normland.example>`, `Date: ${new Date().toUTCString()}`,
      "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
      "", ...SMS_TEXT.split("\n"),
    ].join("\r\n");
    await this.cmd(`MAIL FROM:<${FROM}> BODY=8BITMIME`, 250);
    await this.cmd("RCPT TO:<pasient@pasient.example>", 250);
    await this.cmd("DATA", 354);
    await this.cmd(`${msg}\r\n.`, 250);
  }
  close() {
    this.sock.end("QUIT\r\n");
  }
}

async function directMail(n, certs) {
  const out = join(dir, "direct-mail.jsonl");
  rmSync(out, { force: true }); // this run's messages only
  const p = await peer("smtp.js", ["--port", "0", ...certs, "--out", out]);
  const ca = readFileSync(join(dir, "ca.pem"));
  // The connections open (STARTTLS done) and one message sent before the clock starts, as a
  // pool that has been in use.
  const conns = await Promise.all(Array.from({ length: SMTP_CONNECTIONS }, () => Smtp.open(p.port, ca)));
  await conns[0].send(-1);
  const mark = cpuMark({ peer: p.child.pid, script: "self" });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(conns.map(async (c) => {
    while (next < n) await c.send(next++);
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = mark.since();
  for (const c of conns) c.close();
  await sleep(200);
  p.child.kill("SIGTERM");
  const t = tail(out);
  t.poll();
  if (t.count !== n + 1) throw new Error(`the direct SMTP server recorded ${t.count} of ${n + 1}`);
  return { secs: round(secs, 3), rate: round(n / secs), cpu };
}

// --- Trygg. ---

async function startTrygg(env) {
  const data = join(dir, "trygg");
  const child = spawn(BIN, ["demo", "--data-dir", data, "--listen", "127.0.0.1:0"], { env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d).slice(-8000)));
  await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`trygg did not start in 120 s: ${err}`)), 120_000);
    child.on("exit", (c) => fail(new Error(`trygg exited ${c}: ${err}`)));
    createInterface({ input: child.stdout }).on("line", (l) => {
      if (l.startsWith("Stop with")) {
        clearTimeout(timer);
        ok();
      }
    });
  });
  const cli = (...a) => execFileSync(BIN, [...a, "--data-dir", data], { env: { ...env, RUST_LOG: "error" }, maxBuffer: 1 << 26 }).toString();
  return { child, data, cli, stderr: () => err };
}

/** `trygg notice send --repeat n`: resolves with the time (performance.now) the unit committed. */
function queue(trygg, env, patient, channel, n) {
  const child = spawn(BIN, ["notice", "send", "--org", ORG, "--patient", patient, "--kind", "new-message",
    "--channel", channel, "--repeat", String(n), "--data-dir", trygg.data], { env: { ...env, RUST_LOG: "error" }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  return new Promise((ok, fail) => {
    let committed = null;
    createInterface({ input: child.stdout }).on("line", (l) => {
      if (l.includes("notices queued")) committed = performance.now();
    });
    child.on("exit", (c) => (c === 0 && committed !== null ? ok(committed) : fail(new Error(`notice send exited ${c}: ${err}`))));
  });
}

async function throughTrygg(trygg, env, patient, channel, n, out, peerPid) {
  rmSync(out, { force: true }); // the receiver starts a new file: this run's notices only
  const t = tail(out);
  const q0 = performance.now();
  const committed = await queue(trygg, env, patient, channel, n);
  const queueSecs = (committed - q0) / 1000;
  // The clock from the commit, on the wall clock the peer stamps its records with.
  const committedWall = Date.now() - (performance.now() - committed);
  const mark = cpuMark({ trygg: trygg.child.pid, peer: peerPid });
  await until(t, n);
  const cpu = mark.since();
  const firstAt = t.firstAt();
  const start = Math.min(committedWall, firstAt);
  const secs = (t.lastAt() - start) / 1000;
  await sleep(300);
  const extra = t.poll() - n; // SMTP records repeats; the SMS gateway answers them without recording
  return {
    queue_secs: round(queueSecs, 3),
    secs: round(secs, 3),
    rate: round(n / secs),
    first_after_ms: Math.round(firstAt - committedWall),
    end_to_end_rate: round(n / (queueSecs + secs)),
    repeats: extra,
    cpu,
    per_second: perSecond(out, start),
  };
}

/** Statuses of the outbox, read straight from the organisations' databases (read-only; needs
 * the sqlite3 command, else null). */
function statuses(data) {
  try {
    const out = {};
    const orgs = join(data, "orgs");
    for (const f of readdirSync(orgs).filter((f) => f.endsWith(".sqlite"))) {
      const rows = execFileSync("sqlite3", ["-readonly", join(orgs, f), "SELECT status || '=' || COUNT(*) FROM notices GROUP BY status"]).toString();
      for (const [k, v] of rows.split("\n").filter(Boolean).map((r) => r.split("="))) out[k] = (out[k] ?? 0) + Number(v);
    }
    return out;
  } catch {
    return null;
  }
}

const result = {
  n: { sms: N_SMS, email: N_MAIL },
  rounds: ROUNDS,
  baseline: { sms_concurrency: CONCURRENCY, smtp_connections: SMTP_CONNECTIONS },
  machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? "?" },
};
let trygg;
try {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=Trygg bench CA", "-keyout", "ca.key", "-out", "ca.pem");
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "leaf.key", "-out", "leaf.csr");
  writeFileSync(join(dir, "leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", "leaf.ext", "-out", "leaf.pem");
  const certs = ["--cert", join(dir, "leaf.pem"), "--key", join(dir, "leaf.key")];

  // Trygg and its peers first (its start-up is not timed), the baselines' peers beside them.
  const smsOut = join(dir, "sms.jsonl");
  const mailOut = join(dir, "mail.jsonl");
  const sms = await peer("sms.js", ["--port", "0", "--shape", "generic", "--token", TOKEN, "--out", smsOut]);
  const smtp = await peer("smtp.js", ["--port", "0", ...certs, "--out", mailOut]);
  const env = {
    ...process.env, RUST_LOG: "warn",
    TRYGG_SMS_GATEWAY_URL: `http://127.0.0.1:${sms.port}`, TRYGG_SMS_GATEWAY_TOKEN: TOKEN,
    TRYGG_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, TRYGG_SMTP_FROM: FROM,
    TRYGG_SMTP_CA_FILE: join(dir, "ca.pem"),
  };
  trygg = await startTrygg(env);
  trygg.cli("org", "messaging", "--org", ORG, "--sender-name", "Normland");
  const [patient] = JSON.parse(trygg.cli("patient", "list", "--org", ORG, "--json"));
  for (const ch of ["sms", "email"]) {
    trygg.cli("consent", "set", "--org", ORG, "--patient", patient.id, "--purpose", "portal-notices", "--channel", ch, "--granted", "true", "--text-version", "bench");
  }
  // One notice of each channel first, outside the clock: the worker, the client and the
  // databases warmed up, as the baselines' first request is.
  for (const [ch, out, n] of [["sms", smsOut, N_SMS], ["email", mailOut, N_MAIL]]) {
    if (n > 0) {
      await queue(trygg, env, patient.id, ch, 1);
      await until(tail(out), 1);
    }
  }
  await sleep(1000);

  // ROUNDS rounds; in each, per channel, the baseline and then Trygg (alternating, so a busy
  // moment on the shared machine falls on both). Medians are reported, every run kept.
  const channels = [
    ["sms", "SMS", N_SMS, () => directSms(N_SMS), () => throughTrygg(trygg, env, patient.id, "sms", N_SMS, smsOut, sms.child.pid)],
    ["email", "e-mail", N_MAIL, () => directMail(N_MAIL, certs), () => throughTrygg(trygg, env, patient.id, "email", N_MAIL, mailOut, smtp.child.pid)],
  ].filter(([, , n]) => n > 0);
  const runs = Object.fromEntries(channels.map(([k]) => [k, []]));
  for (let r = 1; r <= ROUNDS; r++) {
    for (const [k, label, n, direct, through] of channels) {
      log(`round ${r}/${ROUNDS}, ${label}: ${n} straight to the server ...`);
      const d = await direct();
      log(`  ${label} direct: ${d.rate}/s; ${n} through Trygg's outbox ...`);
      const t = await through();
      log(`  ${label} Trygg: queued in ${t.queue_secs} s, delivered ${t.rate}/s`);
      runs[k].push({ direct: d, trygg: t });
    }
  }
  const median = (xs) => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  };
  for (const [k] of channels) {
    const rs = runs[k];
    const direct = median(rs.map((x) => x.direct.rate));
    const through = median(rs.map((x) => x.trygg.rate));
    // The run whose Trygg rate is nearest the median: its timeline and CPU are shown.
    const typical = rs.reduce((b, x, i) => (Math.abs(x.trygg.rate - through) < Math.abs(rs[b].trygg.rate - through) ? i : b), 0);
    result[k] = { direct_rate: round(direct), trygg_rate: round(through), ratio: round(through / direct, 2), typical, runs: rs };
  }
  await sleep(1000);
  result.outbox = statuses(trygg.data);
  result.load_average = round(loadavg()[0], 2);
  if (args.keep) cpSync(trygg.data, args.keep, { recursive: true });
  console.log(JSON.stringify(result));
} catch (e) {
  if (trygg) log("trygg's stderr:", trygg.stderr());
  throw e;
} finally {
  for (const c of children) c.kill("SIGTERM");
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
}
