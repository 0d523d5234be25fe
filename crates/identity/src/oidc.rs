//! The OpenID Connect relying party's rules (issue #13), without HTTP: what goes into an
//! authorization request (code flow, PKCE S256, `state`, `nonce`, `acr_values`, or the same
//! pushed first as a PAR request), what goes into the token request (the PKCE verifier, client
//! authentication by secret or by a `private_key_jwt` assertion, a DPoP proof), and what an ID
//! token must be before anyone is signed in with it: signed by a key of the provider's JWKS with
//! an asymmetric algorithm (never `none` or a shared-secret algorithm), from the expected issuer,
//! for this client, not expired, carrying this login's nonce, at the assurance level that was asked
//! for or higher (VC-AUTH-1, PC-AUTHN-1..3). The profiles: ID-porten for patients (the `pid` claim
//! is the national identity number; `idporten-loa-substantial`/`-high` and the older
//! `Level3`/`Level4`), HelseID for personnel (its security-level and HPR-number claims; PAR,
//! `private_key_jwt`, DPoP-bound tokens) and a generic provider for personnel (an organisation's
//! Entra ID, say). The caller (`trygg-app`) fetches discovery and keys, keeps the [`Pending`] login
//! keyed by its `state` and single-use, sends the requests, reads the clock and writes the audit
//! events; the only effect here is drawing random values.

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use trygg_audit::Assurance;
use trygg_core::NationalId;

/// How long a login may take from the redirect to the provider to the callback.
pub const LOGIN_TTL_SECS: i64 = 600;
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECS: i64 = 60;
/// An ID token issued longer ago than this is refused, whatever its `exp` says.
pub const MAX_TOKEN_AGE_SECS: i64 = 600;
/// The longest token, key set or discovery document taken from a provider.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// The HelseID claim with the person's security level (`3` substantial, `4` high).
pub const HELSEID_SECURITY_LEVEL: &str = "helseid://claims/identity/security_level";
/// The HelseID claim with the person's HPR number (the health personnel register).
pub const HELSEID_HPR_NUMBER: &str = "helseid://claims/hpr/hpr_number";

/// Which provider a login goes to, which decides the claims read and the requests made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// ID-porten, for patients: `acr_values`, the `pid` claim.
    IdPorten,
    /// HelseID, for personnel: PAR, `private_key_jwt`, DPoP, security level and HPR number.
    HelseId,
    /// Any other OpenID provider (an organisation's Entra ID, Keycloak …), for personnel mapped
    /// to Trygg users by issuer and subject. It vouches for no eIDAS level: the level of its
    /// logins is the one the deployment assigns to it (the `asked` level of [`begin`]), and no
    /// `acr_values` are sent.
    Generic,
}

impl Profile {
    /// The stable code (`idporten`, `helseid`, `oidc`).
    pub fn code(self) -> &'static str {
        match self {
            Self::IdPorten => "idporten",
            Self::HelseId => "helseid",
            Self::Generic => "oidc",
        }
    }

    /// The `acr_values` asked for a level. ID-porten has no level below substantial.
    pub fn acr_value(self, level: Assurance) -> &'static str {
        match (self, level) {
            (Self::IdPorten, Assurance::High) => "idporten-loa-high",
            (Self::IdPorten, _) => "idporten-loa-substantial",
            (_, Assurance::High) => "Level4",
            (_, _) => "Level3",
        }
    }
}

/// The assurance level an `acr` value stands for (ID-porten's current and older values, and the
/// eIDAS levels). `None`: a value Trygg does not know, which is refused.
pub fn level_of_acr(acr: &str) -> Option<Assurance> {
    Some(match acr {
        "idporten-loa-high" | "Level4" | "http://eidas.europa.eu/LoA/high" => Assurance::High,
        "idporten-loa-substantial" | "Level3" | "http://eidas.europa.eu/LoA/substantial" => {
            Assurance::Substantial
        }
        "idporten-loa-low" | "Level2" | "http://eidas.europa.eu/LoA/low" => Assurance::Low,
        _ => return None,
    })
}

/// Why a login through a provider was refused. The messages name the rule, never a token, a
/// claim's value or a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// A token, document or answer that is not what the protocol says.
    #[error("the provider's answer is malformed: {0}")]
    Malformed(&'static str),
    /// The token names a key the key set does not have (fetch the key set again, once).
    #[error("the token is signed with a key the provider does not publish")]
    UnknownKey,
    /// `none`, a shared-secret algorithm, or one Trygg does not accept.
    #[error("the token's signing algorithm is not accepted")]
    Algorithm,
    /// The signature does not verify.
    #[error("the token's signature does not verify")]
    Signature,
    /// Another issuer.
    #[error("the token is from another issuer")]
    Issuer,
    /// Not for this client.
    #[error("the token is not for this client")]
    Audience,
    /// Expired, or issued too long ago.
    #[error("the token has expired")]
    Expired,
    /// Issued in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Not this login's nonce.
    #[error("the token is not from this login (nonce)")]
    Nonce,
    /// No `state`, or one that names no login in progress (replayed, expired or forged).
    #[error("no login in progress has this state; start again")]
    State,
    /// The login took too long.
    #[error("the login took too long; start again")]
    LoginExpired,
    /// No assurance level in the token.
    #[error("the token says no assurance level")]
    AcrMissing,
    /// An assurance level Trygg does not know.
    #[error("the token's assurance level is not one Trygg knows")]
    AcrUnknown,
    /// Lower than asked for.
    #[error("the login's assurance level is lower than asked for")]
    AcrTooLow,
    /// A claim the profile needs is missing or invalid.
    #[error("the token lacks a valid {0} claim")]
    Claim(&'static str),
    /// The provider answered with an OAuth error (its code only).
    #[error("the provider refused: {0}")]
    Provider(String),
    /// A key could not be made or used.
    #[error("a key could not be used")]
    Key,
}

/// What Trygg needs of a provider's discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderMeta {
    /// The issuer, exactly as tokens carry it.
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is exchanged.
    pub token_endpoint: String,
    /// Where the keys are.
    pub jwks_uri: String,
    /// Where a PAR request is pushed, if the provider takes them.
    pub par_endpoint: Option<String>,
}

impl ProviderMeta {
    /// Reads a discovery document (`/.well-known/openid-configuration`). Its issuer must be the
    /// configured one exactly (OpenID Connect Discovery 1.0, section 4.3), and every endpoint
    /// must be `https`, or `http` on loopback (a test provider).
    pub fn from_discovery(doc: &[u8], expected_issuer: &str) -> Result<Self, OidcError> {
        if doc.len() > MAX_DOCUMENT_BYTES {
            return Err(OidcError::Malformed("the discovery document is too large"));
        }
        let v: Value = serde_json::from_slice(doc)
            .map_err(|_| OidcError::Malformed("the discovery document is not JSON"))?;
        let s = |k: &'static str| -> Result<String, OidcError> {
            let u = v
                .get(k)
                .and_then(Value::as_str)
                .ok_or(OidcError::Malformed(
                    "the discovery document lacks an endpoint",
                ))?;
            endpoint(u)?;
            Ok(u.to_owned())
        };
        let issuer = s("issuer")?;
        if issuer != expected_issuer {
            return Err(OidcError::Issuer);
        }
        let par_endpoint = match v.get("pushed_authorization_request_endpoint") {
            Some(Value::String(u)) => {
                endpoint(u)?;
                Some(u.clone())
            }
            _ => None,
        };
        Ok(Self {
            authorization_endpoint: s("authorization_endpoint")?,
            token_endpoint: s("token_endpoint")?,
            jwks_uri: s("jwks_uri")?,
            issuer,
            par_endpoint,
        })
    }
}

/// An endpoint must be https, or http to a loopback host (a provider in a test).
fn endpoint(u: &str) -> Result<(), OidcError> {
    let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if u.starts_with("https://") || loopback.iter().any(|p| u.starts_with(p)) {
        Ok(())
    } else {
        Err(OidcError::Malformed(
            "a provider endpoint is not https (or loopback)",
        ))
    }
}

/// How Trygg authenticates itself to the token endpoint.
pub enum ClientAuth {
    /// `client_secret_post` (ID-porten allows it; HelseID does not).
    Secret(String),
    /// `private_key_jwt`: an assertion signed with Trygg's key.
    PrivateKeyJwt(SigningKey),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(..)"),
            Self::PrivateKeyJwt(k) => write!(f, "PrivateKeyJwt({})", k.kid),
        }
    }
}

/// Trygg's registration with one provider.
#[derive(Debug)]
pub struct Client {
    /// Which provider.
    pub profile: Profile,
    /// The client id it registered.
    pub client_id: String,
    /// Where the provider sends the browser back (registered with it).
    pub redirect_uri: String,
    /// The scopes asked for (`openid` first).
    pub scope: String,
    /// How the token request is authenticated.
    pub auth: ClientAuth,
    /// Whether the authorization request is pushed first (PAR, RFC 9126).
    pub par: bool,
    /// Whether tokens are bound to a DPoP key (RFC 9449).
    pub dpop: bool,
}

/// An ES256 key of Trygg's: the client assertion's and DPoP proofs' signer.
pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its PKCS#8 DER form (P-256).
    pub fn from_pkcs8(der: &[u8], kid: &str) -> Result<Self, OidcError> {
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| OidcError::Key)?;
        Ok(Self {
            kid: kid.to_owned(),
            pair,
        })
    }

    /// A new key, and its PKCS#8 DER form to keep.
    pub fn generate(kid: &str) -> Result<(Self, Vec<u8>), OidcError> {
        let doc = EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map_err(|_| OidcError::Key)?;
        let der = doc.as_ref().to_vec();
        Ok((Self::from_pkcs8(&der, kid)?, der))
    }

    /// The key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (to register with the provider, and in DPoP proofs).
    pub fn public_jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        // An uncompressed P-256 point: 0x04, x (32 bytes), y (32 bytes).
        let (x, y) = point.get(1..33).zip(point.get(33..65)).unwrap_or_default();
        json!({"kty": "EC", "crv": "P-256", "x": B64.encode(x), "y": B64.encode(y), "kid": self.kid, "alg": "ES256", "use": "sig"})
    }

    /// A compact JWS of `claims` with `header` (to which `alg` is added).
    pub fn sign(
        &self,
        mut header: Map<String, Value>,
        claims: &Value,
    ) -> Result<String, OidcError> {
        header.insert("alg".into(), "ES256".into());
        let h = B64.encode(Value::Object(header).to_string());
        let c = B64.encode(claims.to_string());
        let input = format!("{h}.{c}");
        let sig = self
            .pair
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .map_err(|_| OidcError::Key)?;
        Ok(format!("{input}.{}", B64.encode(sig.as_ref())))
    }
}

/// A random URL-safe value of `bytes` random bytes.
fn random(bytes: usize) -> Result<String, OidcError> {
    let mut b = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| OidcError::Key)?;
    Ok(B64.encode(b))
}

/// The PKCE S256 challenge of a verifier (RFC 7636, section 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// A login on its way through the provider: kept by Trygg (never in the browser), found again by
/// `state` once, and refused after [`LOGIN_TTL_SECS`].
#[derive(Clone, PartialEq, Eq)]
pub struct Pending {
    /// Which provider.
    pub profile: Profile,
    /// The `state` sent (the key to find this login again).
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// The level asked for.
    pub asked: Assurance,
    /// When it began (Unix seconds).
    pub created_at: i64,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("profile", &self.profile)
            .field("asked", &self.asked)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// Whether the login is still in time at `now`.
    pub fn check_time(&self, now: i64) -> Result<(), OidcError> {
        if now - self.created_at > LOGIN_TTL_SECS || now < self.created_at - LEEWAY_SECS {
            return Err(OidcError::LoginExpired);
        }
        Ok(())
    }
}

/// The authorization request's parameters (sent as a query, or pushed first with PAR). `fresh`
/// asks the provider to authenticate the person again (`prompt=login`) instead of reusing its own
/// session: for a step-up, where that session is at the lower level.
pub fn begin(
    client: &Client,
    asked: Assurance,
    now: i64,
    fresh: bool,
) -> Result<(Pending, Vec<(String, String)>), OidcError> {
    let pending = Pending {
        profile: client.profile,
        state: random(32)?,
        nonce: random(32)?,
        verifier: random(48)?,
        asked,
        created_at: now,
    };
    let mut params = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client.client_id.clone()),
        ("redirect_uri".into(), client.redirect_uri.clone()),
        ("scope".into(), client.scope.clone()),
        ("state".into(), pending.state.clone()),
        ("nonce".into(), pending.nonce.clone()),
        ("code_challenge".into(), pkce_challenge(&pending.verifier)),
        ("code_challenge_method".into(), "S256".into()),
    ];
    if client.profile != Profile::Generic {
        params.push(("acr_values".into(), client.profile.acr_value(asked).into()));
    }
    if fresh {
        params.push(("prompt".into(), "login".into()));
    }
    // Patients choose their language in the provider too (ID-porten reads `ui_locales`).
    if client.profile == Profile::IdPorten {
        params.push(("ui_locales".into(), "nb".into()));
    }
    Ok((pending, params))
}

/// The URL the browser is sent to: the parameters as a query, or (after PAR) only the client id
/// and the `request_uri` the provider gave.
pub fn authorization_url(meta: &ProviderMeta, params: &[(String, String)]) -> String {
    let q: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect();
    let sep = if meta.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    format!("{}{sep}{}", meta.authorization_endpoint, q.join("&"))
}

/// The `request_uri` out of a PAR answer (RFC 9126, section 2.2).
pub fn par_request_uri(answer: &[u8]) -> Result<String, OidcError> {
    let v = json_object(answer)?;
    provider_error(&v)?;
    v.get("request_uri")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty() && u.len() < 2048)
        .map(str::to_owned)
        .ok_or(OidcError::Malformed("the PAR answer lacks a request_uri"))
}

/// Percent-encoding for `application/x-www-form-urlencoded` and queries: everything but the
/// unreserved characters.
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The client authentication parameters for a request to `audience` (the issuer: ID-porten and
/// HelseID both accept it as the assertion's audience).
pub fn client_auth_params(
    client: &Client,
    audience: &str,
    now: i64,
) -> Result<Vec<(String, String)>, OidcError> {
    Ok(match &client.auth {
        ClientAuth::Secret(s) => vec![
            ("client_id".into(), client.client_id.clone()),
            ("client_secret".into(), s.clone()),
        ],
        ClientAuth::PrivateKeyJwt(key) => {
            let mut h = Map::new();
            h.insert("kid".into(), key.kid.clone().into());
            h.insert("typ".into(), "JWT".into());
            let claims = json!({
                "iss": client.client_id, "sub": client.client_id, "aud": audience,
                "jti": random(24)?, "iat": now, "exp": now + 60,
            });
            vec![
                ("client_id".into(), client.client_id.clone()),
                (
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ),
                ("client_assertion".into(), key.sign(h, &claims)?),
            ]
        }
    })
}

/// The token request's form: the code, the PKCE verifier and the client's authentication.
pub fn token_form(
    client: &Client,
    meta: &ProviderMeta,
    pending: &Pending,
    code: &str,
    now: i64,
) -> Result<Vec<(String, String)>, OidcError> {
    if code.is_empty() || code.len() > 2048 {
        return Err(OidcError::Malformed(
            "the authorization code is empty or too long",
        ));
    }
    let mut form = vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code.to_owned()),
        ("redirect_uri".into(), client.redirect_uri.clone()),
        ("code_verifier".into(), pending.verifier.clone()),
    ];
    form.extend(client_auth_params(client, &meta.issuer, now)?);
    Ok(form)
}

/// A DPoP proof (RFC 9449, section 4.2) for a request of `method` to `url`, with the provider's
/// `nonce` when it asked for one.
pub fn dpop_proof(
    key: &SigningKey,
    method: &str,
    url: &str,
    now: i64,
    nonce: Option<&str>,
) -> Result<String, OidcError> {
    let mut h = Map::new();
    h.insert("typ".into(), "dpop+jwt".into());
    let mut jwk = key.public_jwk();
    if let Some(o) = jwk.as_object_mut() {
        // The proof's key is public by definition; the registration metadata is not needed.
        o.remove("kid");
        o.remove("use");
        o.remove("alg");
    }
    h.insert("jwk".into(), jwk);
    let mut claims = json!({"jti": random(24)?, "htm": method, "htu": url, "iat": now});
    if let (Some(n), Some(o)) = (nonce, claims.as_object_mut()) {
        o.insert("nonce".into(), n.into());
    }
    key.sign(h, &claims)
}

/// The token endpoint's answer: the ID token (the access token is not kept: Trygg calls no API
/// with it).
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The ID token, to be validated with [`validate_id_token`].
    pub id_token: String,
    /// `Bearer` or `DPoP`.
    pub token_type: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// Reads the token endpoint's answer. With DPoP asked for, the token must be DPoP-bound.
pub fn read_tokens(answer: &[u8], dpop: bool) -> Result<Tokens, OidcError> {
    let v = json_object(answer)?;
    provider_error(&v)?;
    let id_token = v
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or(OidcError::Malformed("the token answer lacks an id_token"))?
        .to_owned();
    let token_type = v
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("Bearer")
        .to_owned();
    if dpop && !token_type.eq_ignore_ascii_case("DPoP") {
        return Err(OidcError::Malformed("the token is not DPoP-bound"));
    }
    Ok(Tokens {
        id_token,
        token_type,
    })
}

/// Whether a token endpoint's answer asks for a DPoP nonce (`use_dpop_nonce`, RFC 9449,
/// section 8): then the request is made once more with the nonce it gave.
pub fn asks_dpop_nonce(answer: &[u8]) -> bool {
    json_object(answer)
        .ok()
        .and_then(|v| {
            v.get("error")
                .and_then(Value::as_str)
                .map(|e| e == "use_dpop_nonce")
        })
        .unwrap_or(false)
}

fn json_object(doc: &[u8]) -> Result<Map<String, Value>, OidcError> {
    if doc.len() > MAX_DOCUMENT_BYTES {
        return Err(OidcError::Malformed("the answer is too large"));
    }
    match serde_json::from_slice(doc) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(OidcError::Malformed("the answer is not a JSON object")),
    }
}

/// An OAuth error answer (`{"error": ...}`) as [`OidcError::Provider`] with its code only (the
/// description is the provider's text and is not passed on).
fn provider_error(v: &Map<String, Value>) -> Result<(), OidcError> {
    match v.get("error").and_then(Value::as_str) {
        Some(code) => Err(OidcError::Provider(
            code.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect(),
        )),
        None => Ok(()),
    }
}

/// A verification key from a provider's JWKS.
#[derive(Clone, PartialEq, Eq)]
enum Key {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> },
}

/// A provider's key set (`jwks_uri`), signing keys only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Jwks {
    keys: Vec<(Option<String>, Key)>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jwks({} keys)", self.keys.len())
    }
}

impl Jwks {
    /// Reads a key set: RSA keys of 2048 bits or more and P-256 keys; keys for encryption and of
    /// other types are skipped.
    pub fn parse(doc: &[u8]) -> Result<Self, OidcError> {
        let v = json_object(doc)?;
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(OidcError::Malformed("the key set has no keys"))?;
        let b = |o: &Value, k: &str| -> Option<Vec<u8>> {
            o.get(k)
                .and_then(Value::as_str)
                .and_then(|s| B64.decode(s).ok())
        };
        let mut keys = Vec::new();
        for k in list {
            if k.get("use")
                .and_then(Value::as_str)
                .is_some_and(|u| u != "sig")
            {
                continue;
            }
            let kid = k.get("kid").and_then(Value::as_str).map(str::to_owned);
            let key = match k.get("kty").and_then(Value::as_str) {
                Some("RSA") => match (b(k, "n"), b(k, "e")) {
                    (Some(n), Some(e)) if n.len() >= 256 => Key::Rsa { n, e },
                    _ => continue,
                },
                Some("EC") if k.get("crv").and_then(Value::as_str) == Some("P-256") => {
                    match (b(k, "x"), b(k, "y")) {
                        (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                            let mut point = vec![4u8];
                            point.extend(x);
                            point.extend(y);
                            Key::P256 { point }
                        }
                        _ => continue,
                    }
                }
                _ => continue,
            };
            keys.push((kid, key));
        }
        Ok(Self { keys })
    }

    /// How many usable keys the set has.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// What the ID token must match.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The provider's issuer.
    pub issuer: &'a str,
    /// This client's id.
    pub client_id: &'a str,
    /// The login the token must belong to.
    pub pending: &'a Pending,
    /// Now (Unix seconds).
    pub now: i64,
}

/// Who a provider says signed in, at which level.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// Which provider.
    pub profile: Profile,
    /// The provider's subject (`sub`), stable per person and client.
    pub subject: String,
    /// The level the provider vouches for.
    pub assurance: Assurance,
    /// ID-porten: the national identity number (`pid`).
    pub national_id: Option<NationalId>,
    /// HelseID: the HPR number, if the person has one.
    pub hpr_number: Option<String>,
    /// When the person authenticated at the provider (`auth_time`), if said.
    pub auth_time: Option<i64>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("profile", &self.profile)
            .field("assurance", &self.assurance)
            .finish_non_exhaustive()
    }
}

/// Validates an ID token (OpenID Connect Core 1.0, section 3.1.3.7) and reads the identity the
/// profile needs. [`OidcError::UnknownKey`] means the provider may have rotated its keys: fetch
/// the key set again and call once more.
pub fn validate_id_token(
    token: &str,
    jwks: &Jwks,
    expect: &Expect<'_>,
) -> Result<Identity, OidcError> {
    if token.len() > MAX_DOCUMENT_BYTES {
        return Err(OidcError::Malformed("the ID token is too large"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OidcError::Malformed("the ID token is not a signed JWT"));
    };
    let header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .ok_or(OidcError::Malformed("the ID token's header"))?;
    let sig = B64
        .decode(s)
        .map_err(|_| OidcError::Malformed("the ID token's signature"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let kid = header.get("kid").and_then(Value::as_str);
    let input = &token[..h.len() + 1 + c.len()];
    let wanted = |k: &Key| {
        matches!(
            (alg, k),
            ("RS256" | "PS256", Key::Rsa { .. }) | ("ES256", Key::P256 { .. })
        )
    };
    if !matches!(alg, "RS256" | "PS256" | "ES256") {
        return Err(OidcError::Algorithm);
    }
    let candidates: Vec<&Key> = jwks
        .keys
        .iter()
        .filter(|(id, k)| wanted(k) && (kid.is_none() || id.as_deref() == kid))
        .map(|(_, k)| k)
        .collect();
    if candidates.is_empty() {
        return Err(OidcError::UnknownKey);
    }
    let verified = candidates.iter().any(|k| match k {
        Key::Rsa { n, e } => {
            let alg: &signature::RsaParameters = if alg == "PS256" {
                &signature::RSA_PSS_2048_8192_SHA256
            } else {
                &signature::RSA_PKCS1_2048_8192_SHA256
            };
            signature::RsaPublicKeyComponents { n, e }
                .verify(alg, input.as_bytes(), &sig)
                .is_ok()
        }
        Key::P256 { point } => {
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &sig)
                .is_ok()
        }
    });
    if !verified {
        return Err(OidcError::Signature);
    }
    let claims = B64
        .decode(c)
        .ok()
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .ok_or(OidcError::Malformed("the ID token's claims"))?;
    check_claims(&claims, expect)
}

fn check_claims(claims: &Map<String, Value>, x: &Expect<'_>) -> Result<Identity, OidcError> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let int = |k: &str| claims.get(k).and_then(Value::as_i64);
    if text("iss") != Some(x.issuer) {
        return Err(OidcError::Issuer);
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == x.client_id,
        Some(Value::Array(list)) => {
            list.iter().any(|a| a.as_str() == Some(x.client_id))
                && (list.len() == 1 || text("azp") == Some(x.client_id))
        }
        _ => false,
    };
    if !aud_ok {
        return Err(OidcError::Audience);
    }
    let exp = int("exp").ok_or(OidcError::Claim("exp"))?;
    let iat = int("iat").ok_or(OidcError::Claim("iat"))?;
    if exp + LEEWAY_SECS <= x.now || x.now - iat > MAX_TOKEN_AGE_SECS {
        return Err(OidcError::Expired);
    }
    if iat - LEEWAY_SECS > x.now || int("nbf").is_some_and(|n| n - LEEWAY_SECS > x.now) {
        return Err(OidcError::NotYetValid);
    }
    if !text("nonce").is_some_and(|n| constant_eq(n, &x.pending.nonce)) {
        return Err(OidcError::Nonce);
    }
    let subject = text("sub")
        .filter(|s| !s.is_empty() && s.len() <= 255)
        .ok_or(OidcError::Claim("sub"))?
        .to_owned();
    let profile = x.pending.profile;
    let assurance = match profile {
        Profile::HelseId => match claims.get(HELSEID_SECURITY_LEVEL) {
            Some(Value::String(l)) if l == "4" => Assurance::High,
            Some(Value::String(l)) if l == "3" => Assurance::Substantial,
            Some(_) => return Err(OidcError::AcrUnknown),
            None => return Err(OidcError::AcrMissing),
        },
        Profile::IdPorten => {
            let acr = text("acr").ok_or(OidcError::AcrMissing)?;
            level_of_acr(acr).ok_or(OidcError::AcrUnknown)?
        }
        // The level the deployment assigned to this provider; an `acr` it sends is not an
        // eIDAS statement and changes nothing.
        Profile::Generic => x.pending.asked,
    };
    if assurance < x.pending.asked {
        return Err(OidcError::AcrTooLow);
    }
    let national_id = match profile {
        Profile::IdPorten => Some(
            text("pid")
                .and_then(|p| NationalId::parse(p).ok())
                .ok_or(OidcError::Claim("pid"))?,
        ),
        _ => None,
    };
    let hpr_number = match (profile, claims.get(HELSEID_HPR_NUMBER)) {
        (Profile::HelseId, Some(Value::String(h)))
            if !h.is_empty() && h.len() <= 9 && h.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(h.clone())
        }
        (Profile::HelseId, Some(_)) => return Err(OidcError::Claim("hpr_number")),
        _ => None,
    };
    Ok(Identity {
        profile,
        subject,
        assurance,
        national_id,
        hpr_number,
        auth_time: int("auth_time"),
    })
}

/// Compares two strings in time independent of where they differ.
fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://idporten.example";

    fn client(profile: Profile) -> Client {
        Client {
            profile,
            client_id: "trygg".into(),
            redirect_uri: "https://trygg.example/login/callback".into(),
            scope: "openid profile".into(),
            auth: ClientAuth::Secret("s".into()),
            par: false,
            dpop: false,
        }
    }

    /// A provider key (ES256) and its key set.
    fn provider() -> (SigningKey, Jwks) {
        let (k, _) = SigningKey::generate("op-1").unwrap();
        let set = json!({"keys": [k.public_jwk()]}).to_string();
        let jwks = Jwks::parse(set.as_bytes()).unwrap();
        (k, jwks)
    }

    fn token(key: &SigningKey, claims: &Value) -> String {
        let mut h = Map::new();
        h.insert("kid".into(), key.kid().into());
        key.sign(h, claims).unwrap()
    }

    fn good_claims(p: &Pending, now: i64) -> Value {
        json!({"iss": ISS, "aud": "trygg", "sub": "abc", "exp": now + 120, "iat": now,
               "nonce": p.nonce, "acr": "idporten-loa-high", "pid": "13897248098"})
    }

    fn expect<'a>(p: &'a Pending, now: i64) -> Expect<'a> {
        Expect {
            issuer: ISS,
            client_id: "trygg",
            pending: p,
            now,
        }
    }

    #[test]
    fn a_good_id_porten_token_gives_the_national_id_at_the_level_asked_pc_authn_1() {
        let (key, jwks) = provider();
        let (p, params) = begin(&client(Profile::IdPorten), Assurance::High, 1_000, false).unwrap();
        let get = |k: &str| params.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        assert_eq!(get("acr_values").as_deref(), Some("idporten-loa-high"));
        assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(get("code_challenge"), Some(pkce_challenge(&p.verifier)));
        assert_eq!(get("prompt"), None);
        let (_, fresh) = begin(&client(Profile::IdPorten), Assurance::High, 1_000, true).unwrap();
        assert!(fresh.iter().any(|(k, v)| k == "prompt" && v == "login"));
        assert_ne!(p.state, p.nonce);
        let id = validate_id_token(
            &token(&key, &good_claims(&p, 1_000)),
            &jwks,
            &expect(&p, 1_010),
        )
        .unwrap();
        assert_eq!(id.assurance, Assurance::High);
        assert!(id.national_id.is_some());
        assert!(!format!("{id:?}").contains("13897248098"));
    }

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn every_broken_rule_is_refused_with_its_reason() {
        let (key, jwks) = provider();
        let (p, _) = begin(&client(Profile::IdPorten), Assurance::High, 1_000, false).unwrap();
        let now = 1_000;
        let with = |f: &dyn Fn(&mut Map<String, Value>)| {
            let mut c = good_claims(&p, now);
            if let Some(o) = c.as_object_mut() {
                f(o);
            }
            validate_id_token(&token(&key, &c), &jwks, &expect(&p, now))
        };
        assert_eq!(
            with(&|c| {
                c.insert("iss".into(), "https://evil".into());
            }),
            Err(OidcError::Issuer)
        );
        assert_eq!(
            with(&|c| {
                c.insert("aud".into(), "other".into());
            }),
            Err(OidcError::Audience)
        );
        assert_eq!(
            with(&|c| {
                c.insert("aud".into(), json!(["trygg", "other"]));
            }),
            Err(OidcError::Audience)
        );
        assert_eq!(
            with(&|c| {
                c.insert("exp".into(), json!(now - 61));
            }),
            Err(OidcError::Expired)
        );
        assert_eq!(
            with(&|c| {
                c.insert("iat".into(), json!(now - 3600));
            }),
            Err(OidcError::Expired)
        );
        assert_eq!(
            with(&|c| {
                c.insert("iat".into(), json!(now + 3600));
            }),
            Err(OidcError::NotYetValid)
        );
        assert_eq!(
            with(&|c| {
                c.insert("nonce".into(), "another".into());
            }),
            Err(OidcError::Nonce)
        );
        assert_eq!(
            with(&|c| {
                c.remove("nonce");
            }),
            Err(OidcError::Nonce)
        );
        assert_eq!(
            with(&|c| {
                c.remove("acr");
            }),
            Err(OidcError::AcrMissing)
        );
        assert_eq!(
            with(&|c| {
                c.insert("acr".into(), "made-up".into());
            }),
            Err(OidcError::AcrUnknown)
        );
        assert_eq!(
            with(&|c| {
                c.insert("acr".into(), "idporten-loa-substantial".into());
            }),
            Err(OidcError::AcrTooLow)
        );
        assert_eq!(
            with(&|c| {
                c.insert("acr".into(), "Level3".into());
            }),
            Err(OidcError::AcrTooLow)
        );
        assert_eq!(
            with(&|c| {
                c.insert("pid".into(), "12345678901".into());
            }),
            Err(OidcError::Claim("pid"))
        );
        assert_eq!(
            with(&|c| {
                c.remove("sub");
            }),
            Err(OidcError::Claim("sub"))
        );
        // The older level name passes where it is high enough.
        assert!(with(&|c| {
            c.insert("acr".into(), "Level4".into());
        })
        .is_ok());
    }

    #[test]
    fn a_token_signed_by_another_key_or_with_none_or_a_shared_secret_is_refused() {
        let (_, jwks) = provider();
        let (p, _) = begin(
            &client(Profile::IdPorten),
            Assurance::Substantial,
            1_000,
            false,
        )
        .unwrap();
        let claims = good_claims(&p, 1_000);
        // Another key with the provider's kid: the signature fails.
        let (other, _) = SigningKey::generate("op-1").unwrap();
        assert_eq!(
            validate_id_token(&token(&other, &claims), &jwks, &expect(&p, 1_000)),
            Err(OidcError::Signature)
        );
        // A kid the set does not have: fetch the keys again.
        let (rotated, _) = SigningKey::generate("op-2").unwrap();
        assert_eq!(
            validate_id_token(&token(&rotated, &claims), &jwks, &expect(&p, 1_000)),
            Err(OidcError::UnknownKey)
        );
        let body = B64.encode(claims.to_string());
        for alg in ["none", "HS256", "RS384"] {
            let h = B64.encode(json!({"alg": alg, "kid": "op-1"}).to_string());
            assert_eq!(
                validate_id_token(&format!("{h}.{body}.AAAA"), &jwks, &expect(&p, 1_000)),
                Err(OidcError::Algorithm),
                "{alg}"
            );
        }
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.e30"] {
            assert!(
                validate_id_token(junk, &jwks, &expect(&p, 1_000)).is_err(),
                "{junk}"
            );
        }
    }

    #[test]
    fn helseid_reads_the_security_level_and_hpr_number() {
        let (key, jwks) = provider();
        let (p, _) = begin(&client(Profile::HelseId), Assurance::High, 1_000, false).unwrap();
        let mut c = json!({"iss": ISS, "aud": "trygg", "sub": "hid", "exp": 1_100, "iat": 1_000,
                           "nonce": p.nonce, HELSEID_SECURITY_LEVEL: "4", HELSEID_HPR_NUMBER: "565501872"});
        let id = validate_id_token(&token(&key, &c), &jwks, &expect(&p, 1_000)).unwrap();
        assert_eq!(id.hpr_number.as_deref(), Some("565501872"));
        assert_eq!(id.assurance, Assurance::High);
        c[HELSEID_SECURITY_LEVEL] = json!("3");
        assert_eq!(
            validate_id_token(&token(&key, &c), &jwks, &expect(&p, 1_000)),
            Err(OidcError::AcrTooLow)
        );
    }

    #[test]
    fn a_generic_provider_gives_the_level_the_deployment_assigned_whatever_its_acr() {
        // An organisation's own provider (Entra ID) states no eIDAS level: no acr_values are
        // sent, and an acr it sends changes nothing; the other rules hold as for any provider.
        let (key, jwks) = provider();
        let (p, params) = begin(
            &client(Profile::Generic),
            Assurance::Substantial,
            1_000,
            false,
        )
        .unwrap();
        assert!(!params.iter().any(|(k, _)| k == "acr_values"));
        let mut c = json!({"iss": ISS, "aud": "trygg", "sub": "entra-oid", "exp": 1_100,
                           "iat": 1_000, "nonce": p.nonce, "acr": "idporten-loa-high"});
        let id = validate_id_token(&token(&key, &c), &jwks, &expect(&p, 1_000)).unwrap();
        assert_eq!(id.assurance, Assurance::Substantial);
        assert_eq!(id.subject, "entra-oid");
        assert!(id.national_id.is_none() && id.hpr_number.is_none());
        c["nonce"] = json!("other");
        assert_eq!(
            validate_id_token(&token(&key, &c), &jwks, &expect(&p, 1_000)),
            Err(OidcError::Nonce)
        );
    }

    #[test]
    fn discovery_needs_the_configured_issuer_and_https() {
        let doc = |iss: &str, ep: &str| {
            json!({"issuer": iss, "authorization_endpoint": format!("{ep}/auth"),
                   "token_endpoint": format!("{ep}/token"), "jwks_uri": format!("{ep}/jwks")})
            .to_string()
        };
        assert!(ProviderMeta::from_discovery(doc(ISS, ISS).as_bytes(), ISS).is_ok());
        assert_eq!(
            ProviderMeta::from_discovery(doc("https://evil", "https://evil").as_bytes(), ISS),
            Err(OidcError::Issuer)
        );
        assert!(
            ProviderMeta::from_discovery(doc(ISS, "http://idporten.example").as_bytes(), ISS)
                .is_err()
        );
        assert!(ProviderMeta::from_discovery(b"[]", ISS).is_err());
    }

    #[test]
    fn the_login_expires_and_answers_are_read_strictly() {
        let (p, _) = begin(&client(Profile::IdPorten), Assurance::High, 1_000, false).unwrap();
        assert!(p.check_time(1_000 + LOGIN_TTL_SECS).is_ok());
        assert_eq!(
            p.check_time(1_001 + LOGIN_TTL_SECS),
            Err(OidcError::LoginExpired)
        );
        assert_eq!(
            read_tokens(
                br#"{"error":"invalid_grant","error_description":"PKCE <b>"}"#,
                false
            ),
            Err(OidcError::Provider("invalid_grant".into()))
        );
        assert!(read_tokens(br#"{"id_token":"x","token_type":"Bearer"}"#, true).is_err());
        assert!(read_tokens(br#"{"id_token":"x","token_type":"DPoP"}"#, true).is_ok());
        assert!(asks_dpop_nonce(br#"{"error":"use_dpop_nonce"}"#));
        assert!(!asks_dpop_nonce(br#"{"error":"invalid_grant"}"#));
        assert!(!asks_dpop_nonce(b"<html>"));
        assert!(!format!("{p:?}").contains(&p.verifier));
    }

    #[test]
    fn a_dpop_proof_and_a_client_assertion_verify_with_the_public_key() {
        let (k, _) = SigningKey::generate("trygg-1").unwrap();
        let jwks = Jwks::parse(json!({"keys": [k.public_jwk()]}).to_string().as_bytes()).unwrap();
        let proof = dpop_proof(&k, "POST", "https://op/token", 5, Some("n1")).unwrap();
        let parts: Vec<&str> = proof.split('.').collect();
        let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["jwk"]["crv"], "P-256");
        let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(
            (claims["htm"].as_str(), claims["nonce"].as_str()),
            (Some("POST"), Some("n1"))
        );
        let Key::P256 { point } = &jwks.keys[0].1 else {
            panic!("an EC key")
        };
        let input = format!("{}.{}", parts[0], parts[1]);
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
            .verify(input.as_bytes(), &B64.decode(parts[2]).unwrap())
            .unwrap();
        let mut c = client(Profile::HelseId);
        c.auth = ClientAuth::PrivateKeyJwt(k);
        let form = client_auth_params(&c, ISS, 5).unwrap();
        assert!(form.iter().any(|(k, _)| k == "client_assertion"));
        assert!(!format!("{:?}", c.auth).contains("BEGIN"));
    }

    #[test]
    fn form_encoding_escapes_everything_but_unreserved() {
        assert_eq!(form_encode("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
    }
}
