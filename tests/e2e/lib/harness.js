// Browser-test harness: starts the real `trygg demo` binary on an ephemeral loopback port with a
// temporary data directory, and launches Debian's Chromium through playwright-core. Every page
// records console errors and every request, so a test can assert that none went to another origin.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import * as nodeTest from "node:test";
import { chromium } from "playwright-core";

const ROOT = resolve(import.meta.dirname, "../../..");
export const BIN = process.env.TRYGG_BIN ?? join(ROOT, "target/debug/trygg");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/**
 * Starts `trygg demo` and resolves when it prints its start page, with the base URL, the token
 * and the first-administrator set-up links by organisation slug (`setup`). With `opts.dataDir`
 * it runs on that data directory (a restart) and leaves it in place on `stop()`.
 */
export async function startTrygg(args = [], env = {}, opts = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`no trygg binary at ${BIN}: run \`cargo build --bin trygg\` or set TRYGG_BIN`);
  }
  const own = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), "trygg-e2e-"));
  const child = spawn(BIN, ["demo", "--data-dir", dataDir, "--listen", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: "warn", ...env },
  });
  const stderr = [];
  child.stderr.on("data", (d) => {
    stderr.push(d.toString());
    if (process.env.TEST_SHOW_STDERR) process.stderr.write(d);
  });
  const lines = createInterface({ input: child.stdout });
  const info = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`trygg did not start in 60 s: ${stderr.join("")}`)), 60_000);
    const found = { setup: {} };
    child.on("exit", (code) => fail(new Error(`trygg exited with ${code}: ${stderr.join("")}`)));
    lines.on("line", (line) => {
      const url = line.match(/(https?:\/\/\S+)/)?.[1];
      if (line.includes("Start page") && url) found.base = url.replace(/\/$/, "");
      if (line.includes("Demo API token:")) found.token = line.trim().split(/\s+/).pop();
      const setup = line.match(/First administrator set-up \(([^)]+)\): (\S+)/);
      if (setup) found.setup[setup[1]] = setup[2];
      if (line.startsWith("Stop with")) {
        clearTimeout(timer);
        ok(found);
      }
    });
  });
  return {
    ...info,
    dataDir,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      // A child that has exited (or was killed by a signal) has an exit code or a signal code;
      // its "exit" event has passed.
      await new Promise((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.on("exit", ok)));
      if (own) rmSync(dataDir, { recursive: true, force: true });
    },
    /** SIGKILL: no shutdown at all, the data directory stays. */
    async kill() {
      child.kill("SIGKILL");
      await new Promise((ok) => (child.exitCode !== null || child.signalCode !== null ? ok() : child.on("exit", ok)));
    },
  };
}

/** Launches headless Chromium with the flags this closed network needs. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      // The media server is on 127.0.0.1 in the tests (issue 11).
      "--allow-loopback-in-peer-connection",
    ],
  });
}

/** A free TCP port on loopback (for an endpoint the test starts, such as /metrics). */
export async function freePort() {
  const { createServer } = await import("node:net");
  return new Promise((ok) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Keeps every RTCPeerConnection a page makes in `window.__pcs`, so a test can read its
 * statistics (instrumentation by the test, not a hook in the product).
 */
export async function recordPeerConnections(context, { relay = false } = {}) {
  await context.addInitScript((relayOnly) => {
    const Original = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = function (config = {}, ...rest) {
      // `relay`: as behind a NAT that lets nothing through but the TURN server.
      const pc = new Original(relayOnly ? { ...config, iceTransportPolicy: "relay" } : config, ...rest);
      window.__pcs.push(pc);
      return pc;
    };
    window.RTCPeerConnection.prototype = Original.prototype;
  }, relay);
}

/** The type of the local ICE candidate of each connected pair ("host", "srflx", "relay"). */
export async function selectedCandidateTypes(page) {
  return page.evaluate(async () => {
    const types = [];
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === "closed") continue;
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type === "candidate-pair" && s.state === "succeeded" && s.nominated) {
          types.push(stats.get(s.localCandidateId)?.candidateType);
        }
      }
    }
    return types;
  });
}

/** The page's inbound media so far: decoded video frames and heard audio, per remote track. */
export async function inboundMedia(page) {
  return page.evaluate(async () => {
    const out = { videoFrames: 0, videoPackets: 0, audioSamples: 0, audioPackets: 0, perTrack: {}, widths: {} };
    for (const pc of window.__pcs ?? []) {
      if (pc.connectionState === "closed") continue;
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type !== "inbound-rtp") continue;
        if (s.kind === "video") {
          out.videoFrames += s.framesDecoded ?? 0;
          out.videoPackets += s.packetsReceived ?? 0;
          out.perTrack[s.trackIdentifier] = s.framesDecoded ?? 0;
          out.widths[s.trackIdentifier] = s.frameWidth ?? 0;
        } else {
          out.audioSamples += (s.totalSamplesReceived ?? 0) - (s.concealedSamples ?? 0);
          out.audioPackets += s.packetsReceived ?? 0;
        }
      }
    }
    return out;
  });
}

/** Waits until `check(stats)` holds for the page's inbound media, or throws with the last. */
export async function untilMedia(page, check, what, ms = 20_000) {
  const t0 = Date.now();
  let s;
  while (Date.now() - t0 < ms) {
    s = await inboundMedia(page);
    if (check(s)) return s;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  throw new Error(`${what}: ${JSON.stringify(s)}`);
}

/** Opens a page that records console errors, page errors and every request URL. */
export async function openPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const record = { consoleErrors: [], requests: [] };
  page.on("console", (m) => {
    if (m.type() === "error") record.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => record.consoleErrors.push(String(e)));
  page.on("request", (r) => record.requests.push(r.url()));
  return { page, context, record };
}

/** Runs axe-core in the page and returns the WCAG 2.1 A/AA violations. */
export async function axeViolations(page) {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const { readFileSync } = await import("node:fs");
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  // Injected through the DevTools protocol, not a <script> tag, so the page's CSP is untouched.
  await page.evaluate(source);
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Adds a CTAP2 platform authenticator with user verification to the page's browser. */
export async function virtualAuthenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** Runs the console (`trygg … --json`) against a running test server's data directory. */
export function cliJson(trygg, ...args) {
  const out = execFileSync(BIN, [...args, "--data-dir", trygg.dataDir, "--json"], {
    env: { ...process.env, RUST_LOG: "error" },
  });
  return JSON.parse(out.toString());
}

/**
 * A person of `org` signed in, in a new page of `ctx.browser`, with a passkey made through an
 * enrolment link the console issues (assurance substantial); returns `openPage`'s record.
 */
export async function signInWithPasskey(ctx, org, person, origin) {
  const link = cliJson(ctx.trygg, "personnel", "enrol-link", "--org", org, "--personnel", person.id);
  const p = await openPage(ctx.browser);
  await virtualAuthenticator(p.context, p.page);
  await p.page.goto(onServer(link.url, origin));
  await p.page.locator("#passkey-button").click();
  await p.page.getByRole("heading", { level: 1, name: "Du er logget inn" }).waitFor();
  return p;
}

/** A URL the console printed, on the running server's origin (the console knows no port). */
export function onServer(url, origin) {
  return origin + new URL(url).pathname;
}

/**
 * Starts Trygg and Chromium before a spec's tests and stops both after them; the returned object
 * holds `trygg` and `browser` once started.
 */
export function withTryggAndBrowser(args = [], env = {}) {
  const ctx = { trygg: null, browser: null };
  nodeTest.before(async () => {
    ctx.trygg = await startTrygg(args, env);
    ctx.browser = await launchBrowser();
  });
  nodeTest.after(async () => {
    await ctx.browser?.close();
    await ctx.trygg?.stop();
  });
  return ctx;
}
