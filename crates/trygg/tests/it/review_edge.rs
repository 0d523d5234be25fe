//! Review findings 5, 6 and 7 (the HTTP edge): bogus enrolment links slow an address down but
//! lock nothing, forwarding headers count only from `trusted_proxies`, slow and numerous clients
//! are cut off, enrolment tokens stay out of the request span, the data directory and the audit
//! signing key must be private, the demo's developer login refuses proxies and foreign
//! organisations, and every audit entry records the client's address (Normen section 4).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use trygg_core::{BuiltinRole, OrgSlug};
use trygg_server::config::{Config, Overrides};

use crate::common::TestServer;

const ORG: &str = "normland-legesenter";

fn bogus_link() -> String {
    format!("/enrol/{ORG}.{}", "A".repeat(43))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Opens a bogus enrolment link as a browser on `localhost` would (no redirect to it).
async fn open_bogus_link(s: &TestServer, extra: &[(&str, &str)]) -> reqwest::Response {
    let port = s.base.rsplit(':').next().unwrap();
    let mut req = no_redirects()
        .get(s.url(&bogus_link()))
        .header("host", format!("localhost:{port}"));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn finding_5_bogus_links_do_not_lock_the_address() {
    // Budget: 4 × 1 failures, one back every 4 s / 4 = 1 s. The old rule locked the address for
    // login_lockout_secs (4 s here, 300 s by default, doubling to a day).
    let s = TestServer::start_with(&[
        ("TRYGG_LOGIN_MAX_FAILURES", "1"),
        ("TRYGG_LOGIN_LOCKOUT_SECS", "4"),
    ])
    .await;
    // The clock moves only when the test moves it: on a busy machine a real second could pass
    // between two requests and refill the budget (a flake seen under load).
    s.clock.freeze();
    for _ in 0..4 {
        assert_eq!(open_bogus_link(&s, &[]).await.status(), 410);
    }
    let r = open_bogus_link(&s, &[]).await;
    assert_eq!(r.status(), 429);
    let wait = retry_after(&r);
    assert_eq!(wait, 1, "slowed for one refill interval, not locked");
    // A flood while slowed does not lengthen it.
    for _ in 0..20 {
        let r = open_bogus_link(&s, &[]).await;
        assert_eq!(r.status(), 429);
        assert!(retry_after(&r) <= 1);
    }
    // The budget refills on the server's clock: moved, not slept through (review item 12).
    s.clock
        .advance(time::Duration::seconds(i64::try_from(wait).unwrap()));
    assert_eq!(
        open_bogus_link(&s, &[]).await.status(),
        410,
        "back after Retry-After"
    );
}

#[tokio::test]
async fn finding_5_forwarded_headers_count_only_from_trusted_proxies() {
    let env = [
        ("TRYGG_LOGIN_MAX_FAILURES", "1"),
        ("TRYGG_LOGIN_LOCKOUT_SECS", "60"),
    ];
    // Without trusted proxies, a client cannot escape its budget by naming other addresses.
    let s = TestServer::start_with(&env).await;
    for i in 0..4 {
        let xff = format!("198.51.100.{i}");
        let r = open_bogus_link(&s, &[("x-forwarded-for", &xff)]).await;
        assert_eq!(r.status(), 410);
    }
    let r = open_bogus_link(&s, &[("forwarded", "for=198.51.100.99")]).await;
    assert_eq!(r.status(), 429, "the TCP peer is counted");

    // Behind a trusted proxy, the client it names is counted, walking from the right.
    let mut env = env.to_vec();
    env.push(("TRYGG_TRUSTED_PROXIES", "127.0.0.1/32"));
    let s = TestServer::start_with(&env).await;
    for forged in ["6.6.6.1", "6.6.6.2", "6.6.6.3", "6.6.6.4"] {
        let xff = format!("{forged}, 198.51.100.7");
        let r = open_bogus_link(&s, &[("x-forwarded-for", &xff)]).await;
        assert_eq!(r.status(), 410);
    }
    let r = open_bogus_link(&s, &[("forwarded", "for=198.51.100.7;proto=https")]).await;
    assert_eq!(r.status(), 429, "198.51.100.7 has spent its budget");
    let r = open_bogus_link(&s, &[("x-forwarded-for", "198.51.100.8")]).await;
    assert_eq!(
        r.status(),
        410,
        "another client behind the proxy is not slowed"
    );
    // A malformed header counts against the proxy itself, and never panics.
    for bad in ["for=unknown", "for=\"[::1", "proto=https"] {
        let r = open_bogus_link(&s, &[("forwarded", bad)]).await;
        assert!(r.status() == 410 || r.status() == 429);
    }
}

/// Whether the server closes `stream` (EOF or error) within `limit`, while `feed` trickles one
/// byte of an endless header every 200 ms.
async fn closed_while_trickling(stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let (mut rd, mut wr) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 256];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    });
    let head = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    if wr.write_all(head).await.is_err() {
        return Some(started.elapsed());
    }
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    while started.elapsed() < limit {
        tick.tick().await;
        if reader.is_finished() || wr.write_all(b"a").await.is_err() {
            return Some(started.elapsed());
        }
    }
    None
}

#[tokio::test]
async fn finding_6_a_client_trickling_headers_is_disconnected() {
    let s = TestServer::start_with(&[("TRYGG_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&addr).await.unwrap();
    let after = closed_while_trickling(stream, Duration::from_secs(8))
        .await
        .expect("a client trickling its headers is disconnected");
    assert!(after >= Duration::from_millis(900), "{after:?}");
    // The server still answers others.
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Sends a keep-alive request on a raw connection and reads its answer's status line.
async fn held_connection(addr: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 12];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200");
    c
}

#[tokio::test]
async fn finding_6_connections_beyond_the_limit_are_refused_until_others_close() {
    let s = TestServer::start_with(&[("TRYGG_MAX_CONNECTIONS", "2")]).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // Two connections are held open (answered, kept alive).
    let one = held_connection(&addr).await;
    let two = held_connection(&addr).await;
    // A third, half-open one is closed at once, before its headers are complete.
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\n").await;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buf))
        .await
        .expect("the connection beyond the limit is closed, not held");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // Once the first two close, a normal request works again.
    drop((one, two));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ok = no_redirects()
            .get(s.url("/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real binary at the most verbose log level, its log in a file: the request span must show
/// the enrolment path redacted, and the token must appear nowhere in the log. (A separate process,
/// because a test subscriber in this process shares tracing's global callsite cache with every
/// other test running in parallel, which can silently disable the span.)
#[tokio::test]
async fn finding_7_enrolment_tokens_never_reach_the_request_span() {
    let dir = crate::common::private_tempdir();
    let data = dir.path().join("data");
    let log_path = dir.path().join("trygg.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let r = crate::binary::start_logging(
        &[
            "demo",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("RUST_LOG", "trace")],
        std::process::Stdio::from(log),
    );
    let secret = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5";
    let path = format!("/enrol/{ORG}.{}", &secret[..43]);
    let url = format!("{}{path}", r.base);
    let res = no_redirects()
        .get(&url)
        .header("host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 410);
    let res = no_redirects().get(&url).send().await.unwrap();
    assert!(res.status().is_redirection());
    // Issue #10: an invitation link's page and the socket's hello, which carries the token.
    let join = format!("{}/join/{ORG}.{}", r.base, &secret[..43]);
    let res = no_redirects().get(&join).send().await.unwrap();
    assert_eq!(res.status(), 404);
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("{}/signalling", r.base.replace("http://", "ws://"))
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("origin", r.base.parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let hello = serde_json::json!({"v": 1, "type": "hello", "e2ee": true, "token": format!("{ORG}.{}", &secret[..43]), "acknowledged": true});
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            hello.to_string().into(),
        ))
        .await
        .unwrap();
        let answer = ws.next().await.unwrap().unwrap();
        assert!(
            answer.to_text().unwrap().contains("invitation-refused"),
            "{answer}"
        );
    }
    crate::binary::terminate(r);
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("path=/enrol/…"),
        "the span should name the redacted path: {logs}"
    );
    assert!(
        logs.contains("path=/join/…"),
        "the span should name the redacted path: {logs}"
    );
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(&secret[..43])).collect();
    assert!(leaks.is_empty(), "the token is in the log: {leaks:?}");
    assert!(
        !logs.contains(&format!("{ORG}.")),
        "the token's organisation prefix is in the log"
    );
}

fn config_for(dir: &std::path::Path) -> Config {
    Config::load(
        None,
        Vec::<(String, String)>::new(),
        &Overrides {
            data_dir: Some(dir.to_owned()),
            listen: Some("127.0.0.1:0".parse().unwrap()),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn finding_7_a_shared_data_directory_or_audit_key_stops_the_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let e = match trygg::startup::open_store(&config_for(&dir)).await {
        Ok(_) => panic!("a world-readable data directory is refused"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("chmod 700"), "{e}");

    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = dir.join("audit-signing.key");
    let store = trygg::startup::open_store(&config_for(&dir)).await.unwrap();
    store.close().await;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = match trygg::startup::open_store(&config_for(&dir)).await {
        Ok(_) => panic!("a group-readable audit signing key is refused"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("audit") && e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let store = trygg::startup::open_store(&config_for(&dir)).await.unwrap();
    store.close().await;
}

/// `trygg demo`'s server: demo switch on, demo data seeded, and an organisation the demo did not
/// seed in the same data directory.
async fn start_demo() -> (tempfile::TempDir, Arc<trygg_store::Store>, SocketAddr) {
    let dir = crate::common::private_tempdir();
    let mut config = config_for(dir.path());
    config.demo = true;
    let store = Arc::new(trygg::startup::open_store(&config).await.unwrap());
    trygg::demo::seed(&store).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let other = store
        .create_org(
            &OrgSlug::parse("annen-klinikk").unwrap(),
            "Annen klinikk",
            now,
        )
        .await
        .unwrap();
    let h = store.org(&other).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    tx.create_personnel(
        &trygg_store::NewPersonnel {
            name: trygg_core::PersonName::parse("Test Admin").unwrap(),
            email: None,
            role: BuiltinRole::OrgAdmin,
            employment: trygg_core::Employment::Employee,
        },
        now,
    )
    .await
    .unwrap();
    tx.audit(&crate::common::test_event("annen-klinikk"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (send, recv) = tokio::sync::oneshot::channel();
    let s = store.clone();
    let app = trygg::startup::app(&config, s).unwrap();
    tokio::spawn(async move {
        trygg_server::serve::serve(
            app,
            Box::new(move |addr, _| {
                let _ = send.send(addr);
            }),
        )
        .await
        .unwrap();
    });
    (dir, store, recv.await.unwrap())
}

async fn first_admin(store: &trygg_store::Store, org: &str) -> uuid::Uuid {
    let o = store
        .org_by_slug(&OrgSlug::parse(org).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    tx.personnel_ids_with_role(BuiltinRole::OrgAdmin)
        .await
        .unwrap()[0]
}

#[tokio::test]
async fn finding_7_developer_login_refuses_proxies_and_foreign_organisations() {
    let (_dir, store, addr) = start_demo().await;
    let origin = format!("http://localhost:{}", addr.port());
    let dev_login = |person: String, extra: Option<(&'static str, &'static str)>| {
        let mut req = no_redirects()
            .post(format!("http://{addr}/personell/dev-login"))
            .header("host", format!("localhost:{}", addr.port()))
            .header("origin", &origin)
            .header("sec-fetch-site", "same-origin")
            .form(&[("person", person)]);
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        req.send()
    };
    let demo_admin = format!("{ORG}:{}", first_admin(&store, ORG).await);
    // Through a proxy (which would also set Host to 127.0.0.1:port): refused.
    for header in [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
        ("x-forwarded-host", "demo.example.no"),
        ("via", "1.1 tunnel"),
    ] {
        let r = dev_login(demo_admin.clone(), Some(header)).await.unwrap();
        assert_eq!(r.status(), 403, "{header:?}");
        assert!(r.headers().get("set-cookie").is_none());
    }
    // Directly: a demo person gets in.
    let r = dev_login(demo_admin.clone(), None).await.unwrap();
    assert_eq!(r.status(), 303);
    // A person of an organisation the demo did not seed: no such person.
    let other = format!(
        "annen-klinikk:{}",
        first_admin(&store, "annen-klinikk").await
    );
    let r = dev_login(other, None).await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("set-cookie").is_none());
    // The page offers only the demo's organisations, and nothing through a proxy.
    let page = |extra: Option<(&'static str, &'static str)>| {
        let mut req = no_redirects()
            .get(format!("http://{addr}/personell?lang=en"))
            .header("host", format!("localhost:{}", addr.port()));
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let html = page(None).await;
    assert!(html.contains("Normland legesenter"), "{html}");
    assert!(!html.contains("Annen klinikk"));
    assert!(!html.contains("annen-klinikk"));
    let html = page(Some(("x-forwarded-for", "203.0.113.9"))).await;
    assert!(!html.contains("Normland legesenter"));
}

#[tokio::test]
async fn finding_7_every_audit_entry_records_the_client_address() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let other = OrgSlug::from_name("Normbakken kommune, hjemmetjenesten").unwrap();
    let handles = {
        let mut v = Vec::new();
        for slug in [ORG, other.as_str()] {
            let o = s
                .store
                .org_by_slug(&OrgSlug::parse(slug).unwrap())
                .await
                .unwrap()
                .unwrap();
            v.push(s.store.org(&o).await.unwrap());
        }
        v
    };
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let secretary = s.person(ORG, BuiltinRole::Secretary).await;
    // Sessions opened directly (not over HTTP); only what follows is checked.
    let admin = s.login(ORG, admin).await;
    let secretary = s.login(ORG, secretary).await;
    let mut before = Vec::new();
    for h in &handles {
        before.push(h.audit_events(None).await.unwrap().len());
    }
    let calls = [
        (
            &secretary,
            Method::GET,
            format!("/api/v1/orgs/{ORG}/patients"),
        ),
        (&admin, Method::GET, format!("/api/v1/orgs/{ORG}/personnel")),
        (
            &admin,
            Method::GET,
            format!("/api/v1/orgs/{ORG}/rights-review"),
        ),
        // Denied (an access-denied entry) and cross-organisation (an entry in the other log).
        (
            &secretary,
            Method::GET,
            format!("/api/v1/orgs/{ORG}/rights-review"),
        ),
        (
            &admin,
            Method::GET,
            format!("/api/v1/orgs/{other}/patients"),
        ),
        (&admin, Method::DELETE, "/api/v1/auth/session".to_owned()),
    ];
    for (who, method, path) in calls {
        let r = s.send(Some(who), method.clone(), &path, None).await;
        assert!(r.status().as_u16() < 500, "{method} {path}: {}", r.status());
    }
    let mut seen = 0;
    for (h, n) in handles.iter().zip(before) {
        for (seq, e) in h.audit_events(None).await.unwrap().into_iter().skip(n) {
            seen += 1;
            assert_eq!(
                e.source.address,
                Some("127.0.0.1".parse().unwrap()),
                "entry {seq} ({}) has no client address",
                e.operation.as_str()
            );
        }
    }
    assert!(seen >= 6, "{seen} entries");
}
