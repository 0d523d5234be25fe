// Signed-in read load for one `trygg demo` binary (issue 17 benchmark): starts it on a loopback
// port with a temporary data directory, signs in with the developer login, then sends
// `GET /api/v1/auth/session` (a signed-in request that only reads) for DURATION seconds with
// CONCURRENCY keep-alive connections, and prints one JSON line: requests per second, p50/p99
// latency, non-200 answers.
// Usage: node bench/sessions/load.mjs <trygg binary> [duration_s=10] [concurrency=8]
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [bin, durationS = "10", concurrencyS = "8"] = process.argv.slice(2);
const duration = Number(durationS) * 1000;
const concurrency = Number(concurrencyS);
const dataDir = mkdtempSync(join(tmpdir(), "trygg-bench-"));
const child = spawn(bin, ["demo", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "ignore"],
  env: { ...process.env, RUST_LOG: "error" },
});
const base = await new Promise((ok, fail) => {
  const t = setTimeout(() => fail(new Error("trygg did not start")), 60_000);
  let url;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const m = line.match(/(https?:\/\/\S+)/)?.[1];
    if (line.includes("Start page") && m) url = m.replace(/\/$/, "");
    if (line.startsWith("Stop with")) {
      clearTimeout(t);
      ok(url);
    }
  });
});
const port = new URL(base).port;
const host = `localhost:${port}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function request(method, path, headers = {}, body) {
  return new Promise((ok, fail) => {
    const req = http.request({ agent, host: "127.0.0.1", port, path, method, headers: { host, ...headers } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", fail);
    req.end(body);
  });
}

const page = await request("GET", "/personell?lang=en");
const person = page.body.match(/<option value="([a-z0-9-]+:[0-9a-f-]{36})"/)[1];
const login = await request(
  "POST",
  "/personell/dev-login",
  { origin: `http://${host}`, "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" },
  `person=${encodeURIComponent(person)}`,
);
const cookie = String(login.headers["set-cookie"]).split(";")[0];
if (login.status !== 303 || !cookie.includes("=")) throw new Error(`dev login failed: ${login.status}`);

// Warm up, then measure.
for (let i = 0; i < 200; i++) await request("GET", "/api/v1/auth/session", { cookie });
const lat = [];
let errors = 0;
const end = performance.now() + duration;
const worker = async () => {
  while (performance.now() < end) {
    const t = performance.now();
    const r = await request("GET", "/api/v1/auth/session", { cookie });
    lat.push(performance.now() - t);
    if (r.status !== 200) errors += 1;
  }
};
const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const secs = (performance.now() - started) / 1000;
lat.sort((a, b) => a - b);
const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
console.log(JSON.stringify({ rps: lat.length / secs, p50_ms: q(0.5), p99_ms: q(0.99), requests: lat.length, errors }));
agent.destroy();
child.kill("SIGTERM");
await new Promise((ok) => (child.exitCode !== null ? ok() : child.on("exit", ok)));
rmSync(dataDir, { recursive: true, force: true });
