//! Personnel login over HTTP: session cookies and their flags, CSRF refusal, idle and absolute
//! timeouts, lockout per account and per client address, enrolment links (issued only by an
//! administrator, single use, expiring, logged), and the developer login (only in the demo, only on
//! loopback). The passkey ceremonies themselves run in Chromium (`tests/e2e/specs/passkey.test.js`).
//!
//! These tests build the router themselves so that they can set the demo switch, short timeouts,
//! and serve with connection info (the client address the per-address limits need).

use std::net::SocketAddr;
use std::sync::Arc;

use trygg_audit::{Category, SecurityKind};
use trygg_core::{BuiltinRole, OrgSlug};
use trygg_server::app::{router, AppState};
use trygg_server::config::{Config, Overrides};
use trygg_store::Store;
use uuid::Uuid;

use crate::common::assert_problem;

struct Server {
    base: String,
    origin: String,
    store: Arc<Store>,
    dir: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
    client: reqwest::Client,
    /// The server's clock: tests move it instead of sleeping.
    clock: trygg_app::ShiftedClock,
}

const ORG: &str = "normland-legesenter";

async fn start(tweak: impl FnOnce(&mut Config)) -> Server {
    let dir = crate::common::private_tempdir();
    let path = dir.path().to_owned();
    let mut s = start_at(&path, true, tweak).await;
    s._dir = Some(dir);
    s
}

/// A server over the data directory `dir` (seeded with the demo when `seed`); several may share
/// one directory, like nodes sharing the data and keys.
async fn start_at(dir: &std::path::Path, seed: bool, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::load(
        None,
        Vec::<(String, String)>::new(),
        &Overrides {
            data_dir: Some(dir.to_owned()),
            listen: Some("127.0.0.1:0".parse().unwrap()),
        },
    )
    .unwrap();
    tweak(&mut config);
    let store = Arc::new(trygg::startup::open_store(&config).await.unwrap());
    if seed {
        trygg::demo::seed(&store).await.unwrap();
    }
    let public_url = config.public_url.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let clock = trygg_app::ShiftedClock::new();
    let app = router(AppState::new(
        store.clone(),
        Arc::new(config.clone()),
        Arc::new(trygg::startup::load_guard(&config).unwrap()),
        Arc::new(clock.clone()),
    ));
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    // Passkeys and the same-origin check work on the name `localhost`; connect to 127.0.0.1
    // and name the host in the header.
    Server {
        base: format!("http://127.0.0.1:{port}"),
        origin: public_url.unwrap_or_else(|| format!("http://localhost:{port}")),
        store,
        dir: dir.to_owned(),
        _dir: None,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        clock,
    }
}

impl Server {
    /// A ceremony token with its raw bytes changed by `f`.
    fn clone_token(
        &self,
        token: &serde_json::Value,
        f: impl FnOnce(&mut Vec<u8>),
    ) -> serde_json::Value {
        use base64::Engine as _;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut raw = e.decode(token.as_str().unwrap()).unwrap();
        f(&mut raw);
        serde_json::Value::String(e.encode(raw))
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header("host", self.origin.trim_start_matches("http://"))
    }

    /// A same-origin request, as a browser would send it.
    fn same(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.req(method, path)
            .header("origin", &self.origin)
            .header("sec-fetch-site", "same-origin")
    }

    async fn person(&self, org: &str, role: BuiltinRole) -> Uuid {
        let h = self.org(org).await;
        let mut tx = h.begin().await.unwrap();
        tx.personnel_ids_with_role(role).await.unwrap()[0]
    }

    async fn org(&self, org: &str) -> Arc<trygg_store::OrgStore> {
        let o = self
            .store
            .org_by_slug(&OrgSlug::parse(org).unwrap())
            .await
            .unwrap()
            .unwrap();
        self.store.org(&o).await.unwrap()
    }

    /// Logs in with the developer login; returns the `Cookie` header value.
    async fn dev_login(&self, org: &str, role: BuiltinRole) -> String {
        let pid = self.person(org, role).await;
        let r = self
            .same(reqwest::Method::POST, "/personell/dev-login")
            .form(&[("person", format!("{org}:{pid}"))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{:?}", r.text().await);
        cookie_of(&r)
    }

    /// A session as a passkey login opens it (substantial); returns the `Cookie` header value.
    async fn passkey_session(&self, org: &str, role: BuiltinRole) -> String {
        let pid = self.person(org, role).await;
        let h = self.org(org).await;
        let mut tx = h.begin().await.unwrap();
        let (_, secret) = trygg_app::sessions::open_session(
            &mut tx,
            &OrgSlug::parse(org).unwrap(),
            pid,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
            None,
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        format!("trygg_session={org}.{}", secret.expose())
    }

    async fn session(&self, cookie: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, "/api/v1/auth/session")
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    async fn security_events(&self, org: &str, kind: SecurityKind) -> usize {
        self.org(org)
            .await
            .audit_events(None)
            .await
            .unwrap()
            .iter()
            .filter(|(_, e)| e.category == Category::Security(kind))
            .count()
    }
}

fn set_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get("set-cookie")
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn cookie_of(r: &reqwest::Response) -> String {
    set_cookie(r).split(';').next().unwrap().to_owned()
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A login attempt that reaches the server's checks: a real ceremony, a forged assertion.
async fn forged_login(s: &Server, user_handle: Uuid, credential_id: &[u8]) -> reqwest::Response {
    forged_login_after(s, user_handle, credential_id, time::Duration::ZERO).await
}

/// [`forged_login`] with the server's clock moved by `wait` between start and finish.
async fn forged_login_after(
    s: &Server,
    user_handle: Uuid,
    credential_id: &[u8],
    wait: time::Duration,
) -> reqwest::Response {
    let start = s
        .same(reqwest::Method::POST, "/api/v1/auth/login/start")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    if start.status() != 200 {
        return start;
    }
    let body: serde_json::Value = start.json().await.unwrap();
    assert!(body["options"]["publicKey"]["challenge"].is_string());
    assert!(body["options"].get("mediation").is_none(), "a modal login");
    s.clock.advance(wait);
    let id = b64url(credential_id);
    s.same(reqwest::Method::POST, "/api/v1/auth/login/finish")
        .json(&serde_json::json!({
            "ceremony": body["ceremony"],
            "credential": {
                "id": id, "rawId": id, "type": "public-key",
                "response": {
                    "authenticatorData": b64url(&[0u8; 37]),
                    "clientDataJSON": b64url(b"{}"),
                    "signature": b64url(&[1u8; 64]),
                    "userHandle": b64url(user_handle.as_bytes()),
                },
                "extensions": {},
            },
        }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn session_cookie_csrf_and_logout() {
    let s = start(|c| c.demo = true).await;
    let pid = s.person(ORG, BuiltinRole::Nurse).await;
    let r = s
        .same(reqwest::Method::POST, "/personell/dev-login")
        .form(&[("person", format!("{ORG}:{pid}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // Plain HTTP on loopback: no Secure and no __Host- prefix (they need TLS); always HttpOnly,
    // SameSite=Strict, Path=/, and no Domain.
    let sc = set_cookie(&r);
    assert!(sc.starts_with(&format!("trygg_session={ORG}.")), "{sc}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(sc.contains(attr), "{attr} in {sc}");
    }
    assert!(!sc.contains("Secure") && !sc.contains("Domain"), "{sc}");
    let cookie = cookie_of(&r);

    let info: serde_json::Value = s.session(&cookie).await.json().await.unwrap();
    assert_eq!(info["org"], ORG);
    assert_eq!(info["personnel_id"], pid.to_string());
    assert_eq!(info["role"], "nurse");
    assert_eq!(info["method"], "developer");
    assert_eq!(info["assurance"], "low");
    let csrf = info["csrf_token"].as_str().unwrap().to_owned();

    // No session at all: 401.
    assert_problem(
        s.session("trygg_session=normland-legesenter.nope").await,
        401,
        "TR-L001",
    )
    .await;
    // State-changing without the token, from another origin, or with neither Origin nor
    // Sec-Fetch-Site: refused.
    let logout = |b: reqwest::RequestBuilder| b.header("cookie", &cookie).send();
    assert_problem(
        logout(s.same(reqwest::Method::POST, "/api/v1/auth/logout"))
            .await
            .unwrap(),
        403,
        "TR-L005",
    )
    .await;
    assert_problem(
        logout(
            s.same(reqwest::Method::POST, "/api/v1/auth/logout")
                .header("x-csrf-token", "0".repeat(64)),
        )
        .await
        .unwrap(),
        403,
        "TR-L005",
    )
    .await;
    assert_problem(
        logout(
            s.req(reqwest::Method::POST, "/api/v1/auth/logout")
                .header("origin", "http://evil.example")
                .header("x-csrf-token", &csrf),
        )
        .await
        .unwrap(),
        403,
        "TR-L004",
    )
    .await;
    assert_problem(
        logout(
            s.req(reqwest::Method::POST, "/api/v1/auth/logout")
                .header("sec-fetch-site", "cross-site")
                .header("x-csrf-token", &csrf),
        )
        .await
        .unwrap(),
        403,
        "TR-L004",
    )
    .await;
    assert_problem(
        logout(
            s.req(reqwest::Method::POST, "/api/v1/auth/logout")
                .header("x-csrf-token", &csrf),
        )
        .await
        .unwrap(),
        403,
        "TR-L004",
    )
    .await;
    // Still signed in after all that.
    assert_eq!(s.session(&cookie).await.status(), 200);

    let r = logout(
        s.same(reqwest::Method::POST, "/api/v1/auth/logout")
            .header("x-csrf-token", &csrf),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    assert!(set_cookie(&r).contains("Max-Age=0"));
    assert_problem(s.session(&cookie).await, 401, "TR-L003").await;

    // Login and logout are in the audit log with the method and assurance (PC-AUTHN-1).
    let events = s.org(ORG).await.audit_events(None).await.unwrap();
    let ops: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.category == Category::Authentication)
        .map(|(_, e)| {
            let a = e.agent.authentication.as_ref().unwrap();
            (
                e.operation.as_str().to_owned(),
                a.method.as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("login".to_owned(), "developer".to_owned()),
            ("logout".to_owned(), "developer".to_owned())
        ]
    );
}

/// The timeouts run on the server's clock (review item 12: the clock is an input), so this test
/// moves the clock instead of sleeping; on the system clock it would fail at the first jump.
#[tokio::test]
async fn idle_and_absolute_timeouts() {
    let s = start(|c| {
        c.demo = true;
        c.session_idle_timeout_secs = 60;
        c.session_absolute_timeout_secs = 600;
    })
    .await;
    let secs = time::Duration::seconds;
    let cookie = s.dev_login(ORG, BuiltinRole::Doctor).await;
    assert_eq!(s.session(&cookie).await.status(), 200);
    s.clock.advance(secs(50));
    assert_eq!(
        s.session(&cookie).await.status(),
        200,
        "within the idle timeout"
    );
    s.clock.advance(secs(61));
    assert_problem(s.session(&cookie).await, 401, "TR-L002").await;
    // Ended for good, even when used again at once.
    assert_problem(s.session(&cookie).await, 401, "TR-L003").await;

    // Kept busy, it still ends at the absolute timeout.
    let cookie = s.dev_login(ORG, BuiltinRole::Doctor).await;
    for _ in 0..11 {
        s.clock.advance(secs(50));
        assert_eq!(s.session(&cookie).await.status(), 200);
    }
    s.clock.advance(secs(50));
    assert_problem(s.session(&cookie).await, 401, "TR-L003").await;
    // The login page says the session ended, and clears the cookie.
    let r = s
        .req(reqwest::Method::GET, "/personell?lang=en")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Sign in with a passkey"));
}

#[tokio::test]
async fn developer_login_only_in_the_demo_and_on_loopback() {
    let s = start(|_| {}).await;
    let pid = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let r = s
        .same(reqwest::Method::POST, "/personell/dev-login")
        .form(&[("person", format!("{ORG}:{pid}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "absent outside the demo");
    let html = s
        .req(reqwest::Method::GET, "/personell?lang=en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Sign in with a passkey"));
    assert!(!html.contains("Developer login"));

    let s = start(|c| c.demo = true).await;
    let pid = s.person(ORG, BuiltinRole::OrgAdmin).await;
    // Reached under a name that is not loopback (a proxy, a tunnel): refused.
    let r = s
        .client
        .post(format!("{}/personell/dev-login", s.base))
        .header("host", "demo.example.no")
        .header("origin", "http://demo.example.no")
        .header("sec-fetch-site", "same-origin")
        .form(&[("person", format!("{ORG}:{pid}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    // Cross-origin: refused (login CSRF).
    let r = s
        .req(reqwest::Method::POST, "/personell/dev-login")
        .header("origin", "http://evil.example")
        .form(&[("person", format!("{ORG}:{pid}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // The page over 127.0.0.1 sends the browser to localhost, where passkeys work.
    let r = s
        .client
        .get(format!("{}/personell", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("{}/personell", s.origin).as_str()
    );
}

#[tokio::test]
async fn enrolment_links_are_issued_by_admins_single_use_and_expire() {
    let s = start(|c| c.demo = true).await;
    let nurse = s.person(ORG, BuiltinRole::Nurse).await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;

    // A nurse may not issue links: 403, and a security event.
    let cookie = s.dev_login(ORG, BuiltinRole::Nurse).await;
    let csrf: serde_json::Value = s.session(&cookie).await.json().await.unwrap();
    let r = s
        .same(reqwest::Method::POST, "/api/v1/auth/enrolment-links")
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf["csrf_token"].as_str().unwrap())
        .json(&serde_json::json!({"personnel_id": doctor}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "TR-Z403").await;
    assert_eq!(s.security_events(ORG, SecurityKind::AccessDenied).await, 1);

    // An administrator through the developer login (low) may not (finding 1): the credential
    // path needs substantial, and the answer says so.
    let cookie = s.dev_login(ORG, BuiltinRole::OrgAdmin).await;
    let info: serde_json::Value = s.session(&cookie).await.json().await.unwrap();
    let r = s
        .same(reqwest::Method::POST, "/api/v1/auth/enrolment-links")
        .header("cookie", &cookie)
        .header("x-csrf-token", info["csrf_token"].as_str().unwrap())
        .json(&serde_json::json!({"personnel_id": doctor}))
        .send()
        .await
        .unwrap();
    let body = assert_problem(r, 403, "TR-P701").await;
    assert_eq!(body["required_assurance"], "substantial");
    assert_eq!(s.security_events(ORG, SecurityKind::AccessDenied).await, 2);

    // An administrator with a passkey login may.
    let cookie = s.passkey_session(ORG, BuiltinRole::OrgAdmin).await;
    let info: serde_json::Value = s.session(&cookie).await.json().await.unwrap();
    let issue = |pid: Uuid| {
        s.same(reqwest::Method::POST, "/api/v1/auth/enrolment-links")
            .header("cookie", &cookie)
            .header("x-csrf-token", info["csrf_token"].as_str().unwrap())
            .json(&serde_json::json!({"personnel_id": pid}))
            .send()
    };
    let r = issue(Uuid::new_v4()).await.unwrap();
    assert_problem(r, 404, "TR-L012").await;
    let r = issue(doctor).await.unwrap();
    assert_eq!(r.status(), 201);
    let first: serde_json::Value = r.json().await.unwrap();
    let url = first["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/enrol/{ORG}.", s.origin)),
        "{url}"
    );
    let path = url.trim_start_matches(&s.origin).to_owned();
    let page = s.req(reqwest::Method::GET, &path).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Normland legesenter"));

    // A newer link for the same person revokes the older one.
    let r = issue(doctor).await.unwrap();
    let second: serde_json::Value = r.json().await.unwrap();
    let path2 = second["url"]
        .as_str()
        .unwrap()
        .trim_start_matches(&s.origin)
        .to_owned();
    assert_eq!(
        s.req(reqwest::Method::GET, &path)
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
    assert_eq!(
        s.req(reqwest::Method::GET, &path2)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let start_with = |token: &str| {
        s.same(reqwest::Method::POST, "/api/v1/auth/enrol/start")
            .json(&serde_json::json!({"token": token}))
            .send()
    };
    let token2 = path2.trim_start_matches("/enrol/").to_owned();
    let r = start_with(&token2).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let sel = &body["options"]["publicKey"]["authenticatorSelection"];
    assert_eq!(sel["residentKey"], "required");
    assert_eq!(sel["userVerification"], "required");

    // Single use: once used, the link is gone (the browser test uses one for real).
    let h = s.org(ORG).await;
    let mut tx = h.begin().await.unwrap();
    let secret = trygg_store::Secret::from_client(token2.split_once('.').unwrap().1);
    let link = tx.enrolment_link(&secret).await.unwrap().unwrap();
    tx.use_enrolment_link(link.id, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(tx
        .use_enrolment_link(link.id, time::OffsetDateTime::now_utc())
        .await
        .is_err());
    let e = trygg_app::audit::event(
        &OrgSlug::parse(ORG).unwrap(),
        &trygg_app::audit::Actor::system("test"),
        trygg_app::audit::Did {
            category: Category::Authorisation,
            operation: trygg_core::Operation::EnrolmentLinkUse,
            action: trygg_audit::Action::Update,
            outcome: trygg_audit::Outcome::Success,
            entity: ("enrolment-link", Some(link.id.to_string())),
            patient: None,
            basis: trygg_audit::Basis::None,
            detail: None,
        },
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    tx.audit(&e).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        s.req(reqwest::Method::GET, &path2)
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
    assert_problem(start_with(&token2).await.unwrap(), 410, "TR-L009").await;

    // Expired: issued two hours ago with a one-hour life.
    let mut tx = h.begin().await.unwrap();
    let (_, old) = tx
        .issue_enrolment_link(
            Some(nurse),
            "trygg:test",
            time::OffsetDateTime::now_utc() - time::Duration::hours(2),
            time::Duration::hours(1),
        )
        .await
        .unwrap();
    tx.audit(&e).await.unwrap();
    tx.commit().await.unwrap();
    let r = s
        .req(
            reqwest::Method::GET,
            &format!("/enrol/{ORG}.{}?lang=en", old.expose()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("This link does not work"));
    // Unknown token.
    let r = start_with(&format!("{ORG}.{}", "A".repeat(43)))
        .await
        .unwrap();
    assert_problem(r, 410, "TR-L009").await;

    // Every unusable link was a security event; issuing was logged with the issuer.
    assert_eq!(s.security_events(ORG, SecurityKind::InvalidToken).await, 5);
    let issued = h
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| e.operation.as_str() == "enrolment-link.issue")
        .filter(|(_, e)| {
            e.agent
                .role
                .as_ref()
                .is_some_and(|r| r.as_str() == "org-admin")
        })
        .count();
    assert_eq!(issued, 2);
}

#[tokio::test]
async fn failed_logins_lock_the_account_and_the_address() {
    let s = start(|c| {
        c.login_max_failures = 2;
        c.login_lockout_secs = 60;
    })
    .await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let h = s.org(ORG).await;
    let mut tx = h.begin().await.unwrap();
    let account = tx
        .ensure_login_account(admin, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Two failures for the account (an unregistered credential) lock it.
    for _ in 0..2 {
        let r = forged_login(&s, account.user_handle, b"not-registered").await;
        assert_problem(r, 401, "TR-L006").await;
    }
    let r = forged_login(&s, account.user_handle, b"not-registered").await;
    assert!(r.headers().get("retry-after").is_some());
    assert_problem(r, 429, "TR-L007").await;
    assert_eq!(s.security_events(ORG, SecurityKind::FailedLogin).await, 2);
    // The lock itself and the refused attempt.
    assert_eq!(s.security_events(ORG, SecurityKind::RateLimited).await, 2);
    let failed = h
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, e)| e.category == Category::Security(SecurityKind::FailedLogin))
        .unwrap()
        .1;
    assert_eq!(
        failed.agent.id.unwrap().as_str(),
        format!("personnel:{admin}")
    );
    assert_eq!(failed.source.address, Some("127.0.0.1".parse().unwrap()));

    // The address: four times the account limit (8); three are counted already (the two
    // failures and the attempt refused on the locked account, which spends the address's budget
    // too, so hammering a locked account is slowed down). Passkeys of no known organisation
    // count against the address only.
    for _ in 0..5 {
        let r = forged_login(&s, Uuid::new_v4(), b"whatever").await;
        assert_problem(r, 401, "TR-L006").await;
    }
    let r = s
        .same(reqwest::Method::POST, "/api/v1/auth/login/start")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("retry-after").is_some());
    assert_problem(r, 429, "TR-L007").await;
}

/// Review item 12 (the clock is an input): a ceremony's five minutes and an account's lock run
/// on the server's clock, so moving it expires the one and lifts the other. On the system clock
/// the late answer would still be checked (401 TR-L006) and the account still locked (429).
#[tokio::test]
async fn ceremonies_and_account_locks_run_on_the_servers_clock() {
    let s = start(|c| {
        c.login_max_failures = 2;
        c.login_lockout_secs = 60;
    })
    .await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let h = s.org(ORG).await;
    let mut tx = h.begin().await.unwrap();
    let account = tx
        .ensure_login_account(admin, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let handle = account.user_handle;

    // A ceremony answered after its five minutes is gone (single use and expiry, VC-AUTH-3).
    let r = forged_login_after(&s, handle, b"not-registered", time::Duration::minutes(5)).await;
    assert_problem(r, 400, "TR-L008").await;
    let r = forged_login_after(&s, handle, b"not-registered", time::Duration::seconds(299)).await;
    assert_problem(r, 401, "TR-L006").await;

    // That was the first failure; the second locks the account for 60 s of the server's clock.
    let r = forged_login(&s, handle, b"not-registered").await;
    assert_problem(r, 401, "TR-L006").await;
    let r = forged_login(&s, handle, b"not-registered").await;
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=60).contains(&retry), "{retry}");
    assert_problem(r, 429, "TR-L007").await;
    s.clock.advance(time::Duration::seconds(61));
    let r = forged_login(&s, handle, b"not-registered").await;
    assert_problem(r, 401, "TR-L006").await;
}

#[tokio::test]
async fn login_start_is_same_origin_and_needs_localhost_or_public_url() {
    let s = start(|_| {}).await;
    let r = s
        .req(reqwest::Method::POST, "/api/v1/auth/login/start")
        .header("origin", "http://evil.example")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "TR-L004").await;
    let r = s
        .client
        .post(format!("{}/api/v1/auth/login/start", s.base))
        .header("sec-fetch-site", "same-origin")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "TR-L015").await;
}

/// The finish of a login ceremony with a forged assertion for `user_handle`.
async fn forged_finish(
    s: &Server,
    ceremony: &serde_json::Value,
    user_handle: Uuid,
) -> reqwest::Response {
    let id = b64url(b"some-credential");
    s.same(reqwest::Method::POST, "/api/v1/auth/login/finish")
        .json(&serde_json::json!({
            "ceremony": ceremony,
            "credential": {
                "id": id, "rawId": id, "type": "public-key",
                "response": {
                    "authenticatorData": b64url(&[0u8; 37]),
                    "clientDataJSON": b64url(b"{}"),
                    "signature": b64url(&[1u8; 64]),
                    "userHandle": b64url(user_handle.as_bytes()),
                },
                "extensions": {},
            },
        }))
        .send()
        .await
        .unwrap()
}

async fn login_start_token(s: &Server) -> serde_json::Value {
    let r = s
        .same(reqwest::Method::POST, "/api/v1/auth/login/start")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["ceremony"].is_string());
    body["ceremony"].clone()
}

/// Issue 17 (VC-AUTH-3, guide risk scenario 17): a ceremony started on one process finishes on
/// another that shares the data directory and keys (what a second node needs); a token is
/// accepted once, refused when tampered with or expired, and bound to its kind.
#[tokio::test]
async fn issue_17_a_ceremony_token_finishes_on_another_node_once() {
    let url = "http://localhost:9";
    let a = start(|c| c.public_url = Some(url.to_owned())).await;
    let b = start_at(&a.dir, false, |c| c.public_url = Some(url.to_owned())).await;
    let admin = a.person(ORG, BuiltinRole::OrgAdmin).await;
    let h = a.org(ORG).await;
    let mut tx = h.begin().await.unwrap();
    let account = tx
        .ensure_login_account(admin, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    tx.audit(&crate::common::test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();

    // Started on A, finished on B: B opens the token and checks the (forged) signature.
    let token = login_start_token(&a).await;
    assert_problem(
        forged_finish(&b, &token, account.user_handle).await,
        401,
        "TR-L006",
    )
    .await;
    // The same token again, on either node: a replay.
    assert_problem(
        forged_finish(&a, &token, account.user_handle).await,
        400,
        "TR-L008",
    )
    .await;
    assert_problem(
        forged_finish(&b, &token, account.user_handle).await,
        400,
        "TR-L008",
    )
    .await;

    // Tampered with: refused.
    let t = a.clone_token(&login_start_token(&a).await, |raw| raw[20] ^= 1);
    assert_problem(
        forged_finish(&b, &t, account.user_handle).await,
        400,
        "TR-L008",
    )
    .await;
    // A login token is no enrolment token.
    let t = login_start_token(&a).await;
    let r = b
        .same(reqwest::Method::POST, "/api/v1/auth/enrol/finish")
        .json(
            &serde_json::json!({"ceremony": t, "token": "x.y", "credential": {
            "id": "AA", "rawId": "AA", "type": "public-key",
            "response": {"attestationObject": "AA", "clientDataJSON": "AA"}, "extensions": {}}}),
        )
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "TR-L008").await;
    // Expired: five minutes on B's clock.
    let t = login_start_token(&a).await;
    b.clock.advance(time::Duration::minutes(5));
    assert_problem(
        forged_finish(&b, &t, account.user_handle).await,
        400,
        "TR-L008",
    )
    .await;
    // The server kept nothing for any of these starts: the used-ceremony table holds the one
    // token that reached a known account.
    let used = h.count_used_ceremonies().await.unwrap();
    assert_eq!(used, 1);
}

/// Issue 17 (guide risk scenario 17): every unauthenticated login route spends the client's request budget; past it the
/// client gets 429 `TR-N701` with `Retry-After`, and another client (a different address behind
/// the trusted proxy) is not affected.
#[tokio::test]
async fn issue_17_login_routes_are_rate_limited_per_client() {
    let s = start(|c| {
        c.demo = true;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // The budget refills with the server's time: stop it, so a slow machine cannot refill it
    // between the requests below.
    s.clock.freeze();
    let from = |ip: &'static str, m: reqwest::Method, path: &str| {
        s.same(m, path).header("x-forwarded-for", ip)
    };
    let mut limited = None;
    for _ in 0..500 {
        let r = from(
            "198.51.100.7",
            reqwest::Method::POST,
            "/api/v1/auth/login/start",
        )
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let r = limited.expect("the flood was limited");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_problem(r, 429, "TR-N701").await;
    // The same client on the other unauthenticated routes, pages included.
    for (m, path) in [
        (reqwest::Method::POST, "/api/v1/auth/login/finish"),
        (reqwest::Method::POST, "/api/v1/auth/enrol/start"),
        (reqwest::Method::POST, "/api/v1/auth/enrol/finish"),
        (reqwest::Method::GET, "/enrol/normland-legesenter.x"),
        (reqwest::Method::POST, "/personell/dev-login"),
    ] {
        let r = from("198.51.100.7", m, path).send().await.unwrap();
        assert_eq!(r.status(), 429, "{path}");
        assert!(r.headers().contains_key("retry-after"), "{path}");
    }
    // Another client is served at once.
    let r = from(
        "198.51.100.8",
        reqwest::Method::POST,
        "/api/v1/auth/login/start",
    )
    .json(&serde_json::json!({}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
}

/// Issue 17 (PC-AUTHN-1: the idle timeout still holds): a signed-in request that only reads
/// writes nothing; the session's last-seen time
/// is written at most once a minute, and the idle timeout still holds to that.
#[tokio::test]
async fn issue_17_last_seen_is_written_at_most_once_a_minute() {
    let s = start(|c| c.demo = true).await;
    let cookie = s.dev_login(ORG, BuiltinRole::Doctor).await;
    let secret = cookie.split_once('.').unwrap().1.to_owned();
    let h = s.org(ORG).await;
    let seen = || async {
        h.session_by_secret(&trygg_store::Secret::from_client(&secret))
            .await
            .unwrap()
            .unwrap()
            .last_seen_at
    };
    let t0 = seen().await;
    for _ in 0..5 {
        s.clock.advance(time::Duration::seconds(10));
        assert_eq!(s.session(&cookie).await.status(), 200);
        assert_eq!(seen().await, t0, "no write within the minute");
    }
    s.clock.advance(time::Duration::seconds(11));
    assert_eq!(s.session(&cookie).await.status(), 200);
    let t1 = seen().await;
    assert!(
        t1 - t0 >= time::Duration::minutes(1),
        "written after a minute"
    );
    assert_eq!(s.session(&cookie).await.status(), 200);
    assert_eq!(seen().await, t1);
}

/// The demo's built-in test provider for patients (issue #13): offered and usable only in the
/// demo, on loopback, same-origin; clearly not ID-porten; the session says so, and so does the
/// audit log (method `developer`).
#[tokio::test]
async fn the_demo_test_provider_signs_a_patient_in_only_in_the_demo_on_loopback() {
    let s = start(|c| c.demo = true).await;
    let page = s
        .req(reqwest::Method::GET, &format!("/portal/{ORG}/test-login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("ikke ID-porten"), "{html}");
    let patient = html
        .split("name=\"patient\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let form = [
        ("patient", patient.as_str()),
        ("level", "high"),
        ("lang", "nb"),
    ];
    // Cross-site, or reached under a name that is not loopback: refused, no cookie.
    let r = s
        .req(reqwest::Method::POST, &format!("/portal/{ORG}/test-login"))
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let r = s
        .client
        .post(format!("{}/portal/{ORG}/test-login", s.base))
        .header("host", "demo.example.no")
        .header("origin", "http://demo.example.no")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .same(reqwest::Method::POST, &format!("/portal/{ORG}/test-login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("trygg_patient=") && cookie.contains("HttpOnly"));
    let html = s
        .req(reqwest::Method::GET, &format!("/portal/{ORG}"))
        .header("cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("testleverandør") && html.contains("høyt"),
        "{html}"
    );
    assert!(!html.contains("logget inn med ID-porten"));
    let log = s.org(ORG).await.audit_events(None).await.unwrap();
    assert!(log.iter().any(|(_, e)| e.operation.as_str() == "login"
        && e.agent
            .authentication
            .as_ref()
            .is_some_and(|a| a.method.as_str() == "developer")));

    // Not the demo: no such page, no such login.
    let s = start(|_| {}).await;
    let r = s
        .req(reqwest::Method::GET, &format!("/portal/{ORG}/test-login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .same(reqwest::Method::POST, &format!("/portal/{ORG}/test-login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
