// A real OpenID Provider for the login tests (issue #13): npm `oidc-provider` (panva), with an
// ID-porten-like client (code flow, PKCE, acr_values, the `pid` claim, client_secret_post) and a
// HelseID-like client (PAR required, private_key_jwt, DPoP-bound tokens, the security-level and
// HPR-number claims). What ID-porten and HelseID would ask a person (BankID, a password) is
// replaced by a control endpoint: the test says who signs in next, at which level, and the
// interaction finishes with that person at once.
//
//   node peers/op.js --clients FILE.json [--port 0] [--host 127.0.0.1] [--dpop-nonce]
//
// --dpop-nonce makes the token endpoint ask for a DPoP nonce first (RFC 9449, section 8), as
// HelseID may.
//
// FILE.json: an array of oidc-provider client metadata (client_id, redirect_uris, ...). A
// redirect URI on 127.0.0.1 allows the same path on any port of 127.0.0.1 (RFC 8252, 7.3).
// On listening it prints one line to stdout, {"listening": PORT, "issuer": URL}; logs go to stderr.
//
// Control (loopback only, test use):
//   POST /__next {"account": "a1", "acr": "idporten-loa-high", "claims": {...},
//                 "tamper": "none|foreign-key|expired|nonce|no-acr"}
//     the next login is account a1 at that acr, with those claims in its ID token; `tamper`
//     rewrites the next ID token the token endpoint gives (signed again with the provider's own
//     key, or with a key it does not publish for "foreign-key"), so a relying party can be shown
//     a token that a real provider would not issue.
//   GET /__log  every token request seen: {"client_id", "dpop": bool, "auth": method}.
import { createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";
import Provider from "oidc-provider";

const { values: opt } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    clients: { type: "string" },
    "dpop-nonce": { type: "boolean", default: false },
  },
});
if (!opt.clients) {
  console.error("--clients FILE.json is needed");
  process.exit(2);
}
const clients = JSON.parse(readFileSync(opt.clients, "utf8"));

const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
const own = rsa();
const foreign = rsa();
const kid = "op-key-1";
const privateJwk = { ...own.privateKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };

let next = { account: "nobody", acr: "idporten-loa-high", claims: {}, tamper: "none" };
const accounts = new Map();
const tokenLog = [];

const b64 = (buf) => Buffer.from(buf).toString("base64url");
function resign(idToken, tamper) {
  const [h, c] = idToken.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const claims = JSON.parse(Buffer.from(c, "base64url"));
  const now = Math.floor(Date.now() / 1000);
  if (tamper === "expired") {
    claims.iat = now - 7200;
    claims.exp = now - 3600;
  } else if (tamper === "nonce") {
    claims.nonce = "not-the-nonce-that-was-sent";
  } else if (tamper === "no-acr") {
    delete claims.acr;
  }
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const key = tamper === "foreign-key" ? foreign.privateKey : own.privateKey;
  const sig = createSign("RSA-SHA256").update(input).sign(key);
  return `${input}.${b64(sig)}`;
}

const server = http.createServer();
server.listen(Number(opt.port), opt.host, () => {
  const port = server.address().port;
  const issuer = `http://${opt.host}:${port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [privateJwk] },
    acrValues: [
      "idporten-loa-substantial",
      "idporten-loa-high",
      "Level3",
      "Level4",
    ],
    claims: {
      openid: ["sub"],
      profile: [
        "pid",
        "helseid://claims/identity/security_level",
        "helseid://claims/hpr/hpr_number",
      ],
    },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      dPoP: opt["dpop-nonce"]
        ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
        : { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      const claims = accounts.get(id) ?? {};
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    ttl: { Session: 60, Interaction: 600, Grant: 600, AuthorizationCode: 60, IdToken: 300, AccessToken: 300 },
  });
  provider.proxy = false;
  // Loopback redirect URIs on any port (RFC 8252, section 7.3): the relying party under test
  // listens on a port chosen at its start, after this provider's clients are registered.
  const allowed = provider.Client.prototype.redirectUriAllowed;
  provider.Client.prototype.redirectUriAllowed = function (value) {
    if (allowed.call(this, value)) return true;
    return this.redirectUris.some((r) => {
      const [a, b] = [new URL(r), new URL(value)];
      return a.hostname === "127.0.0.1" && b.hostname === "127.0.0.1" && a.pathname === b.pathname
        && a.protocol === "http:" && b.protocol === "http:" && !b.search && !b.hash;
    });
  };

  provider.use(async (ctx, nextMw) => {
    if (ctx.path === "/__next" && ctx.method === "POST") {
      const chunks = [];
      for await (const ch of ctx.req) chunks.push(ch);
      next = { tamper: "none", claims: {}, ...JSON.parse(Buffer.concat(chunks).toString("utf8")) };
      accounts.set(next.account, next.claims);
      ctx.body = { ok: true };
      return;
    }
    if (ctx.path === "/__log") {
      ctx.body = tokenLog;
      return;
    }
    if (ctx.path.startsWith("/interaction/")) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      let result;
      if (details.prompt.name === "login") {
        result = { login: { accountId: next.account, acr: next.acr, amr: ["test"] } };
      } else {
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        grant.addOIDCScope(details.params.scope);
        result = { consent: { grantId: await grant.save() } };
      }
      ctx.respond = false;
      await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
      return;
    }
    await nextMw();
    if (ctx.path === "/token" && ctx.method === "POST") {
      const body = ctx.body && typeof ctx.body === "object" ? ctx.body : null;
      tokenLog.push({
        client_id: ctx.oidc?.client?.clientId ?? null,
        dpop: Boolean(ctx.get("DPoP")),
        token_type: body?.token_type ?? null,
        status: ctx.status,
      });
      if (body?.id_token && next.tamper !== "none") {
        ctx.body = { ...body, id_token: resign(body.id_token, next.tamper) };
        next.tamper = "none";
      }
    }
  });
  provider.on("server_error", (_ctx, err) => console.error("server_error", err));
  for (const event of ["pushed_authorization_request.error", "authorization.error", "grant.error"]) {
    provider.on(event, (_ctx, err) => console.error(event, err.error, err.error_description));
  }
  server.on("request", provider.callback());
  process.stdout.write(`${JSON.stringify({ listening: port, issuer })}\n`);
});
