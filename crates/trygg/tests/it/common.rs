//! Test harness: starts the real server in-process on an ephemeral loopback port with a temporary
//! data directory, and offers a small HTTP client.

use std::net::SocketAddr;
use std::sync::Arc;

use trygg_server::config::{Config, Overrides};

/// A temporary directory only its owner can enter, as Trygg requires of its data directory
/// (review finding 7); `tempfile` creates them with the umask's mode.
pub fn private_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

pub struct TestServer {
    pub base: String,
    pub token: String,
    pub dir: tempfile::TempDir,
    pub store: Arc<trygg_store::Store>,
    pub client: reqwest::Client,
    /// The server's clock: tests move it instead of sleeping.
    pub clock: trygg_app::ShiftedClock,
    /// The application the server serves: for use cases with no route yet (the patient's side
    /// of threads, issue #13) and for jobs a test runs at once instead of waiting for them.
    pub app: trygg_app::App,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = private_tempdir();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        let config = Config::load(
            None,
            env,
            &Overrides {
                data_dir: Some(dir.path().to_owned()),
                listen: Some("127.0.0.1:0".parse().unwrap()),
            },
        )
        .unwrap();
        let store = Arc::new(trygg::startup::open_store(&config).await.unwrap());
        let (_, token) = store
            .create_api_token("test", time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
        let s = store.clone();
        let clock = trygg_app::ShiftedClock::new();
        let shared: trygg_app::SharedClock = Arc::new(clock.clone());
        let app = trygg::startup::app_with_clock(&config, s, shared).unwrap();
        let served = app.clone();
        tokio::spawn(async move {
            trygg_server::serve::serve(
                served,
                Box::new(move |addr, _| {
                    let _ = tx.send(addr);
                }),
            )
            .await
            .unwrap();
        });
        let addr = rx.await.unwrap();
        Self {
            base: format!("http://{addr}"),
            token,
            dir,
            store,
            client: reqwest::Client::new(),
            clock,
            app,
        }
    }

    /// Seeds the demo's two organisations.
    pub async fn seed_demo(&self) {
        trygg::demo::seed(&self.store).await.unwrap();
    }

    /// A person of `org` with `role`: the first one the demo has, or a new one.
    pub async fn person(&self, org: &str, role: trygg_core::BuiltinRole) -> uuid::Uuid {
        let o = self
            .store
            .org_by_slug(&trygg_core::OrgSlug::parse(org).unwrap())
            .await
            .unwrap()
            .unwrap();
        let h = self.store.org(&o).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        let found = tx
            .list_personnel()
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.role == role && p.name.expose().starts_with("Test "));
        let id = match found {
            Some(p) => p.id,
            None => {
                tx.create_personnel(
                    &trygg_store::NewPersonnel {
                        name: trygg_core::PersonName::parse(&format!("Test {}", role.as_str()))
                            .unwrap(),
                        email: None,
                        role,
                        employment: trygg_core::Employment::Employee,
                    },
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .unwrap()
                .id
            }
        };
        tx.audit(&test_event(org)).await.unwrap();
        tx.commit().await.unwrap();
        id
    }

    /// Ends a person's employment through the API, as an administrator of `org` would.
    pub async fn end_employment(&self, org: &str, person: uuid::Uuid) {
        let admin = self
            .login(
                org,
                self.person(org, trygg_core::BuiltinRole::OrgAdmin).await,
            )
            .await;
        let r = self
            .send(
                Some(&admin),
                reqwest::Method::POST,
                &format!("/api/v1/orgs/{org}/personnel/{person}/employment-end"),
                Some(&serde_json::json!({})),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    /// Opens a passkey-level session for a person, as a login would.
    pub async fn login(&self, org: &str, personnel: uuid::Uuid) -> Session {
        self.login_with(
            org,
            personnel,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::High,
        )
        .await
    }

    /// A new person of `org` with `name` and `role` (and the grant registration gives).
    pub async fn new_personnel(
        &self,
        org: &str,
        name: &str,
        role: trygg_core::BuiltinRole,
    ) -> uuid::Uuid {
        let slug = trygg_core::OrgSlug::parse(org).unwrap();
        let o = self.store.org_by_slug(&slug).await.unwrap().unwrap();
        let h = self.store.org(&o).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        let id = tx
            .create_personnel(
                &trygg_store::NewPersonnel {
                    name: trygg_core::PersonName::parse(name).unwrap(),
                    email: None,
                    role,
                    employment: trygg_core::Employment::Employee,
                },
                time::OffsetDateTime::now_utc(),
            )
            .await
            .unwrap()
            .id;
        tx.audit(&test_event(org)).await.unwrap();
        tx.commit().await.unwrap();
        id
    }

    /// Opens a session with the given method and assurance.
    pub async fn login_with(
        &self,
        org: &str,
        personnel: uuid::Uuid,
        method: trygg_server::auth::AuthMethod,
        assurance: trygg_audit::Assurance,
    ) -> Session {
        use trygg_app::sessions::{csrf_token, open_session};
        let slug = trygg_core::OrgSlug::parse(org).unwrap();
        let o = self.store.org_by_slug(&slug).await.unwrap().unwrap();
        let h = self.store.org(&o).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        let (_, secret) = open_session(
            &mut tx,
            &slug,
            personnel,
            method,
            assurance,
            None,
            // The server's clock: a session opened after a test moved it is fresh there.
            trygg_app::clock::Clock::now(&self.clock),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        Session {
            cookie: format!("trygg_session={org}.{}", secret.expose()),
            csrf: csrf_token(&secret),
            origin: self.base.clone(),
        }
    }

    /// Sends a request as `who` (no credentials when `None`).
    pub async fn send(
        &self,
        who: Option<&Session>,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(s) = who {
            req = req
                .header("cookie", &s.cookie)
                .header("x-csrf-token", &s.csrf)
                .header("origin", &s.origin);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap()
    }

    /// The organisation's patients as `who` sees them through the API.
    pub async fn patients(&self, who: &Session, org: &str) -> Vec<serde_json::Value> {
        let path = format!("/api/v1/orgs/{org}/patients");
        let r = self
            .send(Some(who), reqwest::Method::GET, &path, None)
            .await;
        r.json().await.unwrap()
    }

    /// Sends a raw body with a content type as `who`.
    pub async fn send_raw(
        &self,
        who: &Session,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("cookie", &who.cookie)
            .header("x-csrf-token", &who.csrf)
            .header("origin", &who.origin)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// One organisation's store, as the server holds it.
    pub async fn org_store(&self, org: &str) -> std::sync::Arc<trygg_store::OrgStore> {
        let slug = trygg_core::OrgSlug::parse(org).unwrap();
        let o = self.store.org_by_slug(&slug).await.unwrap().unwrap();
        self.store.org(&o).await.unwrap()
    }

    /// A page as a browser gets it, without following a redirect: status, `Location` and body
    /// (with the session cookie, if any).
    pub async fn page(&self, path: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.get(self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (res.status().as_u16(), location, res.text().await.unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }
}

/// A signed-in person's credentials for requests.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub origin: String,
}

/// An audit event for test fixtures written straight to the store.
pub fn test_event(org: &str) -> trygg_audit::AuditEvent {
    let mut e = trygg_audit::testing::sample_event(1_800_000_000_000, "fixture").unwrap();
    e.agent.organisation = Some(trygg_core::OrgSlug::parse(org).unwrap());
    e
}

/// Asserts a problem+json response with the status and code, and returns its body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// The configuration of a data directory, as the binary reads it with `--data-dir`.
pub fn config_for(d: &std::path::Path) -> trygg_server::config::Config {
    trygg_server::config::Config::load(
        None,
        Vec::<(String, String)>::new(),
        &trygg_server::config::Overrides {
            data_dir: Some(d.to_owned()),
            listen: None,
        },
    )
    .unwrap()
}

/// Seeds the demo into a data directory the binary then runs on; returns the open store.
pub async fn seeded_store(d: &std::path::Path) -> trygg_store::Store {
    let store = trygg::startup::open_store(&config_for(d)).await.unwrap();
    trygg::demo::seed(&store).await.unwrap();
    store
}
