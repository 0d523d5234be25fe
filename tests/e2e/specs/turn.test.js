// A call relayed through TURN (issue 11, risk scenarios 4 and 5: a patient behind a strict NAT):
// coturn from Debian on loopback with `use-auth-secret`, Trygg giving each admitted participant
// a time-limited credential, and both browsers forced to use only relayed candidates
// (iceTransportPolicy "relay"). They decode each other's video through the relay.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BIN, freePort, inboundMedia, launchBrowser, untilMedia, openPage, recordPeerConnections, selectedCandidateTypes,
  startTrygg, virtualAuthenticator,
} from "../lib/harness.js";

const ORG = "normland-legesenter";
const TURNSERVER = process.env.TURNSERVER ?? "/usr/bin/turnserver";

let trygg;
let browser;
let coturn;
let coturnLog = "";

before(async () => {
  if (!existsSync(TURNSERVER)) throw new Error(`coturn is needed for this test (${TURNSERVER}); scripts/test-all installs it`);
  const port = await freePort();
  const secret = randomBytes(24).toString("base64url");
  coturn = spawn(TURNSERVER, [
    "-n", "--no-cli", "--no-tls", "--no-dtls", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
    `--listening-port=${port}`, "--min-port=49160", "--max-port=49200", "--allow-loopback-peers",
    "--use-auth-secret", `--static-auth-secret=${secret}`, "--realm=trygg.test", "--log-file=stdout",
    "--simple-log", "--no-software-attribute", "--verbose", `--pidfile=${join(tmpdir(), `trygg-turn-${port}.pid`)}`,
  ], { stdio: ["ignore", "pipe", "pipe"] });
  coturn.stdout.on("data", (d) => (coturnLog += d));
  coturn.stderr.on("data", (d) => (coturnLog += d));
  // Ready when it listens.
  const t0 = Date.now();
  while (!/listener opened on|Total General servers/i.test(coturnLog)) {
    if (Date.now() - t0 > 10_000) throw new Error(`coturn did not start: ${coturnLog}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
  trygg = await startTrygg([], {
    TRYGG_TURN_URLS: `turn:127.0.0.1:${port}?transport=udp`,
    TRYGG_TURN_SECRET: secret,
    TRYGG_TURN_TTL_SECS: "600",
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await trygg?.stop();
  coturn?.kill("SIGTERM");
});

function cliJson(...args) {
  const out = execFileSync(BIN, [...args, "--data-dir", trygg.dataDir, "--json"], {
    env: { ...process.env, RUST_LOG: "error" },
  });
  return JSON.parse(out.toString());
}

const onServer = (url, origin) => origin + new URL(url).pathname;

const until = (page, check, what, ms = 30_000) => untilMedia(page, check, what, ms);

test("clinician and patient, both only through the TURN relay, see each other", async () => {
  const origin = new URL(trygg.setup[ORG]).origin;
  const doctor = cliJson("personnel", "list", "--org", ORG).find((p) => p.role === "doctor");
  const [patient] = cliJson("patient", "list", "--org", ORG);
  const link = cliJson("personnel", "enrol-link", "--org", ORG, "--personnel", doctor.id);
  const clin = await openPage(browser);
  await recordPeerConnections(clin.context, { relay: true });
  await virtualAuthenticator(clin.context, clin.page);
  await clin.page.goto(onServer(link.url, origin));
  await clin.page.locator("#passkey-button").click();
  await clin.page.getByRole("heading", { level: 1, name: "Du er logget inn" }).waitFor();
  const plan = cliJson("consultation", "create", "--org", ORG, "--host", doctor.id, "--patient", patient.id);
  const url = (role) => onServer(plan.invitations.find((i) => i.role === role).url, origin);
  await clin.page.goto(url("clinician"));
  await clin.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await clin.page.locator("#call:not([hidden])").waitFor();

  const pat = await openPage(browser);
  await recordPeerConnections(pat.context, { relay: true });
  await pat.page.goto(url("patient"));
  await pat.page.getByLabel("Jeg har lest informasjonen").check();
  await pat.page.getByRole("button", { name: "Gå til venterommet" }).click();
  await pat.page.locator("#waiting:not([hidden])").waitFor();
  const row = clin.page.locator(".waiter", { hasText: patient.name });
  await row.getByLabel("Identitet bekreftet ved").selectOption("known-visually");
  await clin.page.getByRole("button", { name: `Slipp inn: ${patient.name}` }).click();
  await pat.page.locator("#call:not([hidden])").waitFor();

  for (const page of [clin.page, pat.page]) {
    await until(page, (s) => s.videoFrames > 30 && s.audioSamples > 48_000, "video and audio through the relay");
    const types = await selectedCandidateTypes(page);
    assert.ok(types.length > 0 && types.every((t) => t === "relay"), `the media path is the TURN relay: ${types}`);
  }
  // coturn allocated relays for Trygg's time-limited credentials (`<expiry>:<opaque label>`,
  // no name or id), and refused none of them (the one 401 per session is TURN's challenge to
  // the first, unauthenticated request).
  const allocated = [...coturnLog.matchAll(/user <(\d+):([0-9a-f]+)>: incoming packet ALLOCATE processed, success/g)];
  assert.ok(allocated.length >= 2, "both browsers allocated a relay");
  const expiry = Number(allocated[0][1]);
  const now = Math.floor(Date.now() / 1000);
  // Valid for turn_ttl_secs (600 here) and at least until the invitations expire (the planned
  // 30 minutes and two hours more), so a long call's relay can be refreshed; no longer.
  assert.ok(expiry >= now + 600 && expiry <= now + 9000 + 5, `the credential's lifetime (${expiry - now} s)`);
  assert.doesNotMatch(coturnLog, /user <\d+:[0-9a-f]+>: [^\n]*error 401/, "no credential refused");
  for (const c of [clin, pat]) await c.context.close();
});
