//! Patients' login through ID-porten against a real OpenID Provider (issue #13; VC-AUTH-1,
//! PC-AUTHN-1..3): npm `oidc-provider` (panva) started by the test (`tests/e2e/peers/op.js`) with
//! an ID-porten-like client (code flow, PKCE, `acr_values`, the `pid` claim). A good login at
//! each level; and every way a callback can be wrong, each refused with a clear page and a
//! security event in the organisation's audit log: the provider's level below what was asked,
//! no level, a replayed `state`, no `state`, another login's `state` (so the wrong PKCE verifier
//! reaches the provider, which refuses), a wrong nonce, an expired token, a token signed with a
//! key the provider does not publish, a person who is not a patient there, a cancelled login.
//! The npm packages of `tests/e2e` must be installed (`scripts/test-all` does it).

use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use trygg_core::BuiltinRole;

use crate::common::TestServer;

const ORG: &str = "normland-legesenter";
const CLIENT_ID: &str = "trygg-idporten";
const CLIENT_SECRET: &str = "an-idporten-test-secret-0123456789abcdef";
/// A synthetic national identity number (month + 80): never a real person's.
const PID: &str = "13897248098";

struct Op {
    _child: tokio::process::Child,
    issuer: String,
    _dir: tempfile::TempDir,
}

async fn start_op() -> Op {
    start_op_with(json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": ["http://127.0.0.1:1/login/idporten/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }]))
    .await
}

async fn start_op_with(clients_json: Value) -> Op {
    start_op_args(clients_json, &[]).await
}

async fn start_op_args(clients_json: Value, args: &[&str]) -> Op {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e");
    assert!(
        root.join("node_modules/oidc-provider").is_dir(),
        "the OpenID Provider for this test is npm oidc-provider in tests/e2e: run `scripts/test-all`, \
         or `npm ci` in tests/e2e"
    );
    let dir = crate::common::private_tempdir();
    let clients = dir.path().join("clients.json");
    std::fs::write(&clients, clients_json.to_string()).unwrap();
    let mut child = tokio::process::Command::new("node")
        .arg(root.join("peers/op.js"))
        .arg("--clients")
        .arg(&clients)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node is needed for the OpenID Provider");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("the OpenID Provider did not start in 20 s")
        .unwrap()
        .expect("the OpenID Provider exited");
    let v: Value = serde_json::from_str(&first).unwrap();
    Op {
        _child: child,
        issuer: v["issuer"].as_str().unwrap().to_owned(),
        _dir: dir,
    }
}

struct World {
    s: TestServer,
    op: Op,
    http: reqwest::Client,
}

async fn world() -> World {
    world_on(
        start_op().await,
        &[("TRYGG_IDPORTEN_CLIENT_SECRET", CLIENT_SECRET)],
    )
    .await
}

/// A server logging patients in through `op` (its client authentication in `env`), with the
/// patient registered and a doctor's emergency access to their record.
async fn world_on(op: Op, env: &[(&str, &str)]) -> World {
    let mut all = vec![
        ("TRYGG_IDPORTEN_ISSUER", op.issuer.as_str()),
        ("TRYGG_IDPORTEN_CLIENT_ID", CLIENT_ID),
    ];
    all.extend_from_slice(env);
    let s = TestServer::start_with(&all).await;
    s.seed_demo().await;
    let secretary = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let r = s
        .send(
            Some(&secretary),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients"),
            Some(&json!({"name": "Prøve Pasient", "national_id": PID})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    // A doctor takes emergency access to the patient's record before the patient logs in: the
    // portal's access log must show it, highlighted (PC-RIGHTS-1).
    let patient = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let doctor = s.login(ORG, s.person(ORG, BuiltinRole::Doctor).await).await;
    let r = s
        .send(
            Some(&doctor),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients/{patient}/emergency-access"),
            Some(&json!({"reason": "Akutt situasjon, trenger oversikt"})),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    World {
        s,
        op,
        http: reqwest::Client::new(),
    }
}

impl World {
    /// Tells the provider who signs in next, at which level, and how to spoil the ID token.
    async fn next(&self, pid: &str, acr: &str, tamper: &str) {
        let r = self
            .http
            .post(format!("{}/__next", self.op.issuer))
            .json(&json!({"account": format!("acct-{pid}"), "acr": acr, "claims": {"pid": pid}, "tamper": tamper}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// A browser: cookies kept, redirects followed, but it stops at Trygg's callback so a test
    /// can look at (and replay or alter) it.
    fn browser() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::custom(|a| {
                let p = a.url().path();
                if (p.starts_with("/login/") && p.ends_with("/callback")) || a.previous().len() > 10
                {
                    a.stop()
                } else {
                    a.follow()
                }
            }))
            .build()
            .unwrap()
    }

    /// Runs a login up to the callback: the callback URL the provider sent the browser to.
    async fn to_callback(&self, b: &reqwest::Client, level: &str) -> String {
        let r = b
            .get(self.s.url(&format!("/portal/{ORG}/login?level={level}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
        let loc = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(loc.contains("/login/idporten/callback?"), "{loc}");
        loc
    }

    /// Follows the callback: (status, final path, page text).
    async fn callback(&self, b: &reqwest::Client, url: &str) -> (u16, String, String) {
        let r = b.get(url).send().await.unwrap();
        let (st, loc) = (
            r.status().as_u16(),
            r.headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned()),
        );
        let Some(loc) = loc else {
            return (st, r.url().path().to_owned(), r.text().await.unwrap());
        };
        let r = b.get(self.s.url(&loc)).send().await.unwrap();
        (
            r.status().as_u16(),
            r.url().path().to_owned(),
            r.text().await.unwrap(),
        )
    }

    /// The organisation's audit entries: (operation, outcome, method, assurance, detail).
    async fn audit(
        &self,
    ) -> Vec<(
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    )> {
        let o = self
            .s
            .store
            .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
            .await
            .unwrap()
            .unwrap();
        let h = self.s.store.org(&o).await.unwrap();
        h.audit_events(None)
            .await
            .unwrap()
            .iter()
            .map(|(_, e)| {
                let auth = e.agent.authentication.as_ref();
                (
                    e.operation.as_str().to_owned(),
                    format!("{:?}", e.outcome),
                    auth.map(|a| a.method.as_str().to_owned()),
                    auth.and_then(|a| a.assurance).map(|l| l.code().to_owned()),
                    e.entity
                        .as_ref()
                        .and_then(|x| x.detail.as_ref())
                        .map(|d| d.as_str().to_owned()),
                )
            })
            .collect()
    }

    async fn refusals(&self) -> Vec<String> {
        self.audit()
            .await
            .into_iter()
            .filter(|(op, out, ..)| op == "login" && out != "Success")
            .filter_map(|(.., d)| d)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_logs_in_through_id_porten_at_high_and_at_substantial_and_logs_out() {
    let w = world().await;
    // High: the portal shows the patient's own page (PC-AUTHN-2: health data at high).
    w.next(PID, "idporten-loa-high", "none").await;
    let b = World::browser();
    let cb = w.to_callback(&b, "high").await;
    let (st, path, html) = w.callback(&b, &cb).await;
    assert_eq!(
        (st, path.as_str()),
        (200, format!("/portal/{ORG}").as_str()),
        "{html}"
    );
    assert!(
        html.contains("logget inn med ID-porten") && html.contains("høyt"),
        "{html}"
    );
    assert!(html.contains("Meldinger") && !html.contains("krever innlogging på høyt"));
    // Who has seen the patient's data: the secretary who registered them, the doctor's emergency
    // access highlighted, and the patient's own login; by name and role, never a code.
    assert!(html.contains("Hvem har sett opplysningene dine"), "{html}");
    assert!(html.contains("Test secretary (sekretær)"), "{html}");
    assert!(
        html.contains("<tr class=\"emergency\">") && html.contains("Test doctor (lege)"),
        "{html}"
    );
    assert!(html.contains("<strong>Nødtilgang</strong>"), "{html}");
    assert!(
        !html.contains("personnel:") && !html.contains(PID),
        "{html}"
    );
    // Reading it is itself logged, with the patient as the actor.
    assert!(w
        .audit()
        .await
        .iter()
        .any(|(op, _, m, _, _)| op == "access-log.read" && m.as_deref() == Some("idporten")));
    // The login is in the audit log with the method and the level (PC-AUTHN-1).
    let audit = w.audit().await;
    assert!(
        audit.iter().any(|(op, out, m, a, _)| op == "login"
            && out == "Success"
            && m.as_deref() == Some("idporten")
            && a.as_deref() == Some("high")),
        "{audit:?}"
    );
    // Consents (PC-CONSENT-1/2): at the first login the page says none is given and how to
    // change it; the patient says yes to "new message" notices by SMS, then withdraws it.
    assert!(
        html.contains("Før du begynner") && html.contains("Si ja"),
        "{html}"
    );
    assert!(
        html.contains("113") && html.contains("Logg inn med ID-porten"),
        "{html}"
    );
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let consent_url = w.s.url(&format!("/portal/{ORG}/consent"));
    let form = |csrf: &str, granted: &str| {
        vec![
            ("purpose".to_owned(), "portal-notices".to_owned()),
            ("channel".to_owned(), "sms".to_owned()),
            ("granted".to_owned(), granted.to_owned()),
            ("csrf".to_owned(), csrf.to_owned()),
        ]
    };
    // Without the token, or from another site: refused, nothing recorded.
    let r = b
        .post(&consent_url)
        .header("origin", w.s.base.as_str())
        .form(&form("wrong", "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = b
        .post(&consent_url)
        .header("origin", "https://evil.example")
        .form(&form(&csrf, "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(!w.audit().await.iter().any(|(op, ..)| op == "consent.give"));
    let r = b
        .post(&consent_url)
        .header("origin", w.s.base.as_str())
        .form(&form(&csrf, "true"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), format!("/portal/{ORG}"));
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Endringen er lagret") && html.contains("Trekk tilbake"),
        "{html}"
    );
    assert!(!html.contains("Før du begynner"));
    let r = b
        .post(&consent_url)
        .header("origin", w.s.base.as_str())
        .form(&form(&csrf, "false"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let audit = w.audit().await;
    for op in ["consent.give", "consent.withdraw"] {
        assert!(
            audit.iter().any(|(o, _, m, _, d)| o == op
                && m.as_deref() == Some("idporten")
                && d.as_deref() == Some("portal-notices-sms")),
            "{op}: {audit:?}"
        );
    }
    // Contact data (PC-RIGHTS-2): a bad number changes nothing and says why; a good one is
    // saved, sealed, and logged.
    let contact_url = w.s.url(&format!("/portal/{ORG}/contact"));
    let r = post_form(
        &b,
        &contact_url,
        w.s.base.as_str(),
        &[
            ("phone", "12"),
            ("email", "pasient@example.no"),
            ("csrf", csrf.as_str()),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Mobilnummeret må ha åtte sifre"), "{html}");
    assert!(
        !html.contains("pasient@example.no"),
        "nothing saved: {html}"
    );
    let r = post_form(
        &b,
        &contact_url,
        w.s.base.as_str(),
        &[
            ("phone", "98765432"),
            ("email", "pasient@example.no"),
            ("csrf", csrf.as_str()),
        ],
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Endringen er lagret"), "{html}");
    assert!(
        html.contains("value=\"pasient@example.no\"") && html.contains("98765432"),
        "{html}"
    );
    let r = post_form(
        &b,
        &contact_url,
        w.s.base.as_str(),
        &[("phone", "98765432"), ("csrf", "wrong")],
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert!(w
        .audit()
        .await
        .iter()
        .any(|(op, _, m, ..)| op == "patient.contact-update" && m.as_deref() == Some("idporten")));
    // The export (PC-RIGHTS-1): a JSON file, not cached, with the registration, the consents,
    // and who has seen the data; logged.
    let r = b
        .get(w.s.url(&format!("/portal/{ORG}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["you"]["name"], "Prøve Pasient");
    assert_eq!(v["you"]["email"], "pasient@example.no");
    assert_eq!(v["consents"].as_array().unwrap().len(), 2, "{v}");
    let seen = v["who_has_seen_your_data"].as_array().unwrap();
    assert!(seen.iter().any(|l| l["emergency"] == true), "{v}");
    assert!(w
        .audit()
        .await
        .iter()
        .any(|(op, ..)| op == "patient.export"));
    // Without a session: no file, back to the portal's front.
    let r = World::browser()
        .get(w.s.url(&format!("/portal/{ORG}/export")))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Logg inn med ID-porten"));
    // Logout: same-origin only; the session ends and the cookie no longer opens the page.
    let logout = w.s.url(&format!("/portal/{ORG}/logout"));
    for (origin, token) in [
        ("https://evil.example", csrf.as_str()),
        (w.s.base.as_str(), "wrong"),
    ] {
        let r = post_form(&b, &logout, origin, &[("csrf", token)]).await;
        assert_eq!(r.status().as_u16(), 403);
    }
    let r = post_form(&b, &logout, w.s.base.as_str(), &[("csrf", csrf.as_str())]).await;
    // Back to the portal's front (the browser follows the redirect).
    assert_eq!(r.url().path(), format!("/portal/{ORG}"));
    let html = r.text().await.unwrap();
    assert!(html.contains("Logg inn med ID-porten") && !html.contains("logget inn med ID-porten"));
    assert!(w.audit().await.iter().any(|(op, ..)| op == "logout"));

    // Substantial: signed in, but the messages wait for a login at high (step-up).
    w.next(PID, "idporten-loa-substantial", "none").await;
    let b = World::browser();
    let cb = w.to_callback(&b, "substantial").await;
    assert!(cb.contains("state="));
    let (st, _, html) = w.callback(&b, &cb).await;
    assert_eq!(st, 200);
    assert!(
        html.contains("betydelig") && html.contains("krever innlogging på høyt nivå"),
        "{html}"
    );
    // At substantial: consents and contact data yes, the export (health data) no.
    assert!(
        html.contains("Si ja") && html.contains("Mobilnummer"),
        "{html}"
    );
    assert!(!html.contains("Last ned opplysningene dine"));
    let r = b
        .get(w.s.url(&format!("/portal/{ORG}/export")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Step-up: the page's link asks for a login at high; after it the messages are there.
    assert!(html.contains(&format!("/portal/{ORG}/login?level=high&amp;step_up=1")));
    w.next(PID, "idporten-loa-high", "none").await;
    let cb = w.to_callback(&b, "high&step_up=1").await;
    let (st, _, html) = w.callback(&b, &cb).await;
    assert_eq!(st, 200);
    assert!(
        html.contains("høyt") && html.contains("Hvem har sett opplysningene dine"),
        "{html}"
    );
    assert!(!html.contains("krever innlogging på høyt nivå"));
    // The session at substantial ended when the one at high began.
    let logouts = w
        .audit()
        .await
        .into_iter()
        .filter(|(op, ..)| op == "logout")
        .count();
    assert_eq!(logouts, 2, "the logout above and the replaced session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_wrong_callback_is_refused_with_a_reason_and_a_security_event() {
    let w = world().await;
    // Each case: the provider's next login, the level asked, the page's words, the logged code.
    let cases = [
        (
            "idporten-loa-substantial",
            "none",
            "high",
            "høyt sikkerhetsnivå",
            "tr-o402",
        ),
        (
            "idporten-loa-high",
            "no-acr",
            "high",
            "høyt sikkerhetsnivå",
            "tr-o402",
        ),
        (
            "idporten-loa-high",
            "nonce",
            "high",
            "kunne ikke kontrolleres",
            "tr-o400",
        ),
        (
            "idporten-loa-high",
            "expired",
            "high",
            "kunne ikke kontrolleres",
            "tr-o400",
        ),
        (
            "idporten-loa-high",
            "foreign-key",
            "high",
            "kunne ikke kontrolleres",
            "tr-o400",
        ),
    ];
    for (acr, tamper, level, words, code) in cases {
        w.next(PID, acr, tamper).await;
        let b = World::browser();
        let cb = w.to_callback(&b, level).await;
        let (st, path, html) = w.callback(&b, &cb).await;
        assert_eq!(st, 401, "{acr} {tamper}: {html}");
        assert_eq!(path, "/login/idporten/callback");
        assert!(html.contains(words), "{acr} {tamper}: {html}");
        assert!(!html.contains(PID));
        let refusals = w.refusals().await;
        assert_eq!(
            refusals.last().map(String::as_str),
            Some(code),
            "{tamper}: {refusals:?}"
        );
        // No session came of it.
        let home = b
            .get(w.s.url(&format!("/portal/{ORG}")))
            .send()
            .await
            .unwrap();
        assert!(!home
            .text()
            .await
            .unwrap()
            .contains("logget inn med ID-porten"));
    }

    // A replayed callback: the first one signs in, the same state again is refused.
    w.next(PID, "idporten-loa-high", "none").await;
    let b = World::browser();
    let cb = w.to_callback(&b, "high").await;
    assert_eq!(w.callback(&b, &cb).await.0, 200);
    let (st, _, html) = w.callback(&World::browser(), &cb).await;
    assert_eq!(st, 401);
    assert!(html.contains("brukt før"), "{html}");
    // No state at all, or one Trygg never made.
    for q in ["code=abc", "code=abc&state=made-up", "state=&code="] {
        let (st, _, html) = w
            .callback(
                &World::browser(),
                &w.s.url(&format!("/login/idporten/callback?{q}")),
            )
            .await;
        assert_eq!(st, 401, "{q}");
        assert!(html.contains("brukt før"), "{html}");
    }

    // Another login's state: Trygg sends that login's PKCE verifier with this login's code, and
    // the provider refuses the exchange (RFC 7636).
    let other = no_redirects();
    let r = other
        .get(w.s.url(&format!("/portal/{ORG}/login?level=high")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let to_provider = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(to_provider.as_str().starts_with(&w.op.issuer));
    let q = |k: &str| {
        to_provider
            .query_pairs()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.into_owned())
    };
    // The request Trygg sends (PKCE S256, the level asked, a nonce).
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(q("acr_values").as_deref(), Some("idporten-loa-high"));
    assert!(q("nonce").is_some_and(|n| n.len() >= 40));
    let other_state = q("state").unwrap();
    w.next(PID, "idporten-loa-high", "none").await;
    let b = World::browser();
    let cb = w.to_callback(&b, "high").await;
    let mut u = reqwest::Url::parse(&cb).unwrap();
    let code: String = u
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    u.query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", &other_state);
    let (st, _, html) = w.callback(&b, u.as_str()).await;
    assert_eq!(st, 401, "{html}");
    assert!(html.contains("avvist i ID-porten"), "{html}");
    assert_eq!(
        w.refusals().await.last().map(String::as_str),
        Some("tr-o405")
    );

    // A person ID-porten knows but the clinic does not.
    w.next("01897510150", "idporten-loa-high", "none").await;
    let b = World::browser();
    let cb = w.to_callback(&b, "high").await;
    let (st, _, html) = w.callback(&b, &cb).await;
    assert_eq!(st, 403, "{html}");
    assert!(html.contains("ikke registrert som pasient"), "{html}");
    // Cancelled at the provider.
    let b = World::browser();
    let cb = w.to_callback(&b, "high").await;
    let u = reqwest::Url::parse(&cb).unwrap();
    let state: String = u
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let (st, _, html) = w
        .callback(
            &b,
            &w.s.url(&format!(
                "/login/idporten/callback?error=access_denied&state={state}"
            )),
        )
        .await;
    assert_eq!(st, 401);
    assert!(html.contains("avbrutt"), "{html}");
    // Nothing of a token or a national identity number in the audit log's details.
    let audit = format!("{:?}", w.audit().await);
    assert!(!audit.contains(PID));
}

/// A flood of login starts from one address spends its request budget (429 with Retry-After)
/// instead of filling the logins in progress; another organisation's unknown slug and a hostile
/// one are "no such organisation", never an error page with the input in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_login_starts_is_throttled_and_bad_organisations_are_refused() {
    let w = world().await;
    let b = no_redirects();
    for slug in ["no-such-clinic", "%3Cscript%3E", "a%00b", &"x".repeat(300)] {
        let r = b
            .get(w.s.url(&format!("/portal/{slug}/login")))
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let html = r.text().await.unwrap();
        assert!(st == 404 || st == 400, "{slug}: {st}");
        assert!(!html.contains("<script>"), "{html}");
    }
    let mut statuses = Vec::new();
    for _ in 0..200 {
        let r = b
            .get(w.s.url(&format!("/portal/{ORG}/login")))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&303), "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 429),
        "{statuses:?}"
    );
}

/// A form posted by the browser `b` from `origin`.
async fn post_form(
    b: &reqwest::Client,
    url: &str,
    origin: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    b.post(url)
        .header("origin", origin)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A portal session ends after `patient_session_idle_timeout_secs` without a request, and after
/// `patient_session_absolute_timeout_secs` however active; each end is in the audit log. A new
/// login ends nothing else, but a session's cookie works in its own organisation only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_session_times_out_when_idle_and_at_its_absolute_end() {
    let w = world().await;
    let login = || async {
        w.next(PID, "idporten-loa-high", "none").await;
        let b = World::browser();
        let cb = w.to_callback(&b, "high").await;
        let (st, _, html) = w.callback(&b, &cb).await;
        assert_eq!(st, 200, "{html}");
        b
    };
    let signed_in = |b: reqwest::Client, path: String| {
        let url = w.s.url(&path);
        async move {
            let html = b.get(url).send().await.unwrap().text().await.unwrap();
            html.contains("logget inn med ID-porten")
        }
    };
    let home = format!("/portal/{ORG}");
    // Both logins first (the provider's tokens carry its own time; Trygg's clock moves below).
    let idle = login().await;
    let active = login().await;
    // The cookie of this organisation opens nothing in another.
    assert!(
        !signed_in(
            active.clone(),
            "/portal/normbakken-kommune-hjemmetjenesten".into()
        )
        .await
    );
    // Every 12 minutes the active one makes a request; the idle one makes none.
    w.s.clock.advance(time::Duration::seconds(12 * 60));
    assert!(signed_in(active.clone(), home.clone()).await);
    assert!(
        signed_in(idle.clone(), home.clone()).await,
        "12 minutes idle is within 15"
    );
    w.s.clock.advance(time::Duration::seconds(12 * 60));
    assert!(
        signed_in(active.clone(), home.clone()).await,
        "a request resets idleness"
    );
    w.s.clock.advance(time::Duration::seconds(4 * 60));
    assert!(!signed_in(idle, home.clone()).await, "16 minutes idle");
    assert!(signed_in(active.clone(), home.clone()).await);
    // Absolute: an hour after login, however active.
    for _ in 0..2 {
        w.s.clock.advance(time::Duration::seconds(12 * 60));
        assert!(signed_in(active.clone(), home.clone()).await);
    }
    w.s.clock.advance(time::Duration::seconds(12 * 60));
    assert!(!signed_in(active, home).await, "64 minutes after login");
    let ends: Vec<_> = w
        .audit()
        .await
        .into_iter()
        .filter(|(op, ..)| op == "logout")
        .filter_map(|(.., d)| d)
        .collect();
    assert!(
        ends.contains(&"idle".to_owned()) && ends.contains(&"absolute".to_owned()),
        "{ends:?}"
    );
}

const HPR: &str = "565501872";

/// Personnel's login through HelseID against the real provider: PAR required by the client's
/// registration, `private_key_jwt` with Trygg's key, a DPoP-bound token; the person found by the
/// HPR number at the security level HelseID vouches for; refused when the level is too low, the
/// HPR number is nobody's here, or the person's employment has ended (VC-AUTH-1, PC-AUTHN-1/2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personnel_log_in_through_helseid_with_par_private_key_jwt_and_dpop() {
    let (key, der) = trygg_identity::oidc::SigningKey::generate("trygg-helseid").unwrap();
    // The provider asks for a DPoP nonce at the token endpoint, as HelseID may.
    let op = start_op_args(
        json!([{
            "client_id": "trygg-helseid",
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            "jwks": {"keys": [key.public_jwk()]},
            "redirect_uris": ["http://127.0.0.1:1/login/helseid/callback"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "require_pushed_authorization_requests": true,
            "dpop_bound_access_tokens": true,
        }]),
        &["--dpop-nonce"],
    )
    .await;
    let dir = crate::common::private_tempdir();
    let key_file = dir.path().join("helseid.key");
    std::fs::write(
        &key_file,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der),
    )
    .unwrap();
    let s = TestServer::start_with(&[
        ("TRYGG_HELSEID_ISSUER", op.issuer.as_str()),
        ("TRYGG_HELSEID_CLIENT_ID", "trygg-helseid"),
        ("TRYGG_HELSEID_KEY_FILE", key_file.to_str().unwrap()),
    ])
    .await;
    s.seed_demo().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    {
        let o = s
            .store
            .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
            .await
            .unwrap()
            .unwrap();
        let h = s.store.org(&o).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        assert!(tx.set_personnel_hpr(doctor, HPR).await.unwrap());
        tx.audit(&crate::common::test_event(ORG)).await.unwrap();
        tx.commit().await.unwrap();
    }
    let w = World {
        s,
        op,
        http: reqwest::Client::new(),
    };
    let next = |level: &'static str, hpr: &'static str| {
        let w = &w;
        async move {
            let r = w
                .http
                .post(format!("{}/__next", w.op.issuer))
                .json(
                    &json!({"account": format!("hid-{hpr}"), "acr": "Level4", "claims": {
                    "helseid://claims/identity/security_level": level,
                    "helseid://claims/hpr/hpr_number": hpr}}),
                )
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    let start = format!("/personell/login/helseid?org={ORG}");
    // A good login: the session is the doctor's, method helseid, level high.
    next("4", HPR).await;
    let (st, cookie, body) = staff_login(&w.s, &start).await;
    assert_eq!(st, 303, "{body}");
    let cookie = cookie.expect("a session cookie");
    let who: Value = w
        .http
        .get(w.s.url("/api/v1/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["personnel_id"], doctor.to_string(), "{who}");
    assert_eq!(who["method"], "helseid", "{who}");
    assert_eq!(who["assurance"], "high", "{who}");
    // The provider saw a DPoP proof with the token request, and gave a DPoP-bound token.
    let log: Value = w
        .http
        .get(format!("{}/__log", w.op.issuer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // It asked for a DPoP nonce first (400 `use_dpop_nonce`); Trygg asked once more with it.
    let seen = log.as_array().unwrap();
    assert_eq!(seen.len(), 2, "{log}");
    assert_eq!(seen[0]["status"], 400, "{log}");
    let last = seen[1].clone();
    assert_eq!(last["status"], 200, "{log}");
    assert_eq!(last["dpop"], true, "{log}");
    assert_eq!(last["token_type"], "DPoP", "{log}");
    // Security level 3 where 4 is asked: refused.
    next("3", HPR).await;
    let (st, cookie, html) = staff_login(&w.s, &start).await;
    assert_eq!(st, 401, "{html}");
    assert!(
        cookie.is_none() && html.contains("høyt sikkerhetsnivå"),
        "{html}"
    );
    // An HPR number nobody here has.
    next("4", "123456789").await;
    let (st, _, html) = staff_login(&w.s, &start).await;
    assert_eq!(st, 403);
    assert!(html.contains("HPR-nummeret ditt"), "{html}");
    // The doctor's employment ends: HelseID still vouches for them, Trygg does not let them in.
    w.s.end_employment(ORG, doctor).await;
    next("4", HPR).await;
    let (st, cookie, html) = staff_login(&w.s, &start).await;
    assert_eq!(st, 403, "{html}");
    assert!(cookie.is_none() && html.contains("avsluttet"), "{html}");
    let refusals = w.refusals().await;
    for code in ["tr-o402", "tr-o407", "tr-o408"] {
        assert!(refusals.iter().any(|r| r == code), "{code}: {refusals:?}");
    }
}

/// Follows a personnel login from its start to the callback once (no redirects after it):
/// (status, session cookie, page).
async fn staff_login(s: &TestServer, start: &str) -> (u16, Option<String>, String) {
    let r = World::browser().get(s.url(start)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    let cb = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(cb.contains("/callback?"), "{cb}");
    let once = no_redirects();
    let r = once.get(&cb).send().await.unwrap();
    let st = r.status().as_u16();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    (st, cookie, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personnel_log_in_through_the_organisations_own_provider_mapped_by_subject() {
    // Issue #13: a generic provider (an organisation's Entra ID): code flow with PKCE and a
    // client secret, the person found by issuer and subject, the level the deployment assigned
    // (whatever acr the provider sends), and the usual refusals.
    let op = start_op_with(json!([{
        "client_id": "trygg-entra",
        "client_secret": CLIENT_SECRET,
        "token_endpoint_auth_method": "client_secret_post",
        "redirect_uris": ["http://127.0.0.1:1/login/oidc/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }]))
    .await;
    let s = TestServer::start_with(&[
        ("TRYGG_PERSONNEL_OIDC_ISSUER", op.issuer.as_str()),
        ("TRYGG_PERSONNEL_OIDC_CLIENT_ID", "trygg-entra"),
        ("TRYGG_PERSONNEL_OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ("TRYGG_PERSONNEL_OIDC_ASSURANCE", "substantial"),
    ])
    .await;
    s.seed_demo().await;
    let nurse = s.person(ORG, BuiltinRole::Nurse).await;
    let issuer = op.issuer.clone();
    crate::matrix::store_tx(&s, |tx| {
        Box::pin(async move {
            assert!(tx
                .set_personnel_oidc_subject(nurse, &issuer, "entra-oid-1")
                .await
                .unwrap());
        })
    })
    .await;
    let w = World {
        s,
        op,
        http: reqwest::Client::new(),
    };
    let next = |account: &'static str| {
        let w = &w;
        async move {
            let r = w
                .http
                .post(format!("{}/__next", w.op.issuer))
                .json(&json!({"account": account, "acr": "Level4", "claims": {}}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };
    let start = format!("/personell/login/oidc?org={ORG}");
    next("entra-oid-1").await;
    let (st, cookie, body) = staff_login(&w.s, &start).await;
    assert_eq!(st, 303, "{body}");
    let who: Value = w
        .http
        .get(w.s.url("/api/v1/auth/session"))
        .header("cookie", cookie.expect("a session cookie"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["personnel_id"], nurse.to_string(), "{who}");
    assert_eq!(who["method"], "oidc", "{who}");
    assert_eq!(who["assurance"], "substantial", "{who}");
    // A subject nobody is linked to; the nurse's employment ended.
    next("entra-oid-2").await;
    let (st, cookie, html) = staff_login(&w.s, &start).await;
    assert_eq!((st, cookie.is_none()), (403, true), "{html}");
    w.s.end_employment(ORG, nurse).await;
    next("entra-oid-1").await;
    let (st, cookie, html) = staff_login(&w.s, &start).await;
    assert_eq!((st, cookie.is_none()), (403, true), "{html}");
    assert!(html.contains("avsluttet"), "{html}");
    let refusals = w.refusals().await;
    for code in ["tr-o407", "tr-o408"] {
        assert!(refusals.iter().any(|r| r == code), "{code}: {refusals:?}");
    }
    // Not set up on another server: the start says so.
    let plain = TestServer::start().await;
    let r = reqwest::Client::new()
        .get(plain.url(&start))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_logs_in_through_id_porten_with_par_and_private_key_jwt() {
    // Issue #13: ID-porten's client authentication by private_key_jwt, the request pushed
    // first (the provider requires both for this client, so a login proves them).
    let (key, der) = trygg_identity::oidc::SigningKey::generate(CLIENT_ID).unwrap();
    let op = start_op_with(json!([{
        "client_id": CLIENT_ID,
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "jwks": {"keys": [key.public_jwk()]},
        "redirect_uris": ["http://127.0.0.1:1/login/idporten/callback"],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "require_pushed_authorization_requests": true,
    }]))
    .await;
    let dir = crate::common::private_tempdir();
    let key_file = dir.path().join("idporten.key");
    std::fs::write(
        &key_file,
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der),
    )
    .unwrap();
    let w = world_on(
        op,
        &[
            ("TRYGG_IDPORTEN_KEY_FILE", key_file.to_str().unwrap()),
            ("TRYGG_IDPORTEN_PAR", "true"),
        ],
    )
    .await;
    w.next(PID, "idporten-loa-high", "none").await;
    let b = World::browser();
    let r = b
        .get(w.s.url(&format!("/portal/{ORG}/login?level=high")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap());
    let cb = r.headers()["location"].to_str().unwrap().to_owned();
    let (st, path, html) = w.callback(&b, &cb).await;
    assert_eq!(
        (st, path.as_str()),
        (200, format!("/portal/{ORG}").as_str()),
        "{html}"
    );
    assert!(html.contains("logget inn med ID-porten"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_personnel_page_needing_a_higher_level_sends_the_login_to_step_up() {
    // PC-AUTHN-3, issue #13: a doctor signed in at substantial opens the messages page (health
    // data: high). With HelseID set up the page sends them to log in again there; without it,
    // the page refuses (403) and says so.
    let dir = crate::common::private_tempdir();
    let key = dir.path().join("unused.key");
    let with = TestServer::start_with(&[
        ("TRYGG_HELSEID_ISSUER", "https://helseid-sts.nhn.no"),
        ("TRYGG_HELSEID_CLIENT_ID", "trygg"),
        ("TRYGG_HELSEID_KEY_FILE", key.to_str().unwrap()),
    ])
    .await;
    let without = TestServer::start().await;
    for s in [&with, &without] {
        s.seed_demo().await;
    }
    let once = no_redirects();
    let get = |s: &TestServer, cookie: &str, path: &str| {
        once.get(s.url(path)).header("cookie", cookie).send()
    };
    for (s, step_up) in [(&with, true), (&without, false)] {
        let doctor = s.person(ORG, BuiltinRole::Doctor).await;
        let passkey = trygg_server::auth::AuthMethod::Passkey;
        let weak = s
            .login_with(ORG, doctor, passkey, trygg_audit::Assurance::Substantial)
            .await;
        let strong = s.login(ORG, doctor).await;
        let list = s.patients(&strong, ORG).await;
        let patient = list[0]["id"].as_str().unwrap();
        let r = s
            .send(
                Some(&strong),
                reqwest::Method::POST,
                &format!("/api/v1/orgs/{ORG}/care-relationships"),
                Some(&json!({"personnel_id": doctor, "patient_id": patient, "reason": "fastlege", "days": 30})),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        for path in [format!("/personell/meldinger?patient={patient}")] {
            let path = path.as_str();
            let r = get(s, &weak.cookie, path).await.unwrap();
            if step_up {
                assert_eq!(r.status().as_u16(), 303, "{path}");
                assert_eq!(
                    r.headers()["location"],
                    format!("/personell/login/helseid?org={ORG}&step_up=true"),
                    "{path}"
                );
            } else {
                assert_eq!(r.status().as_u16(), 403, "{path}");
            }
            // At high the page opens as usual.
            let r = get(s, &strong.cookie, path).await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "{path}");
        }
    }
    // The personnel login page offers HelseID where it is set up.
    let page = |s: &TestServer| {
        let s = s.url("/personell");
        async move { reqwest::get(s).await.unwrap().text().await.unwrap() }
    };
    assert!(page(&with).await.contains("/personell/login/helseid"));
    assert!(!page(&without).await.contains("/personell/login/helseid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_joins_their_consultation_from_the_portal_with_their_eid_level() {
    // Issue #13 (my consultations), VC-AUTH-2: the portal at high lists the patient's
    // consultation; "go to the consultation" gives a fresh link for their own place (the one
    // they were sent stops working) and the waiting room shows their eID level, which the
    // clinician may then record.
    use crate::consultation::{plan, Client};
    let w = world().await;
    w.next(PID, "idporten-loa-high", "none").await;
    let cb = w.to_callback(&World::browser(), "high").await;
    let once = no_redirects();
    let r = once.get(&cb).send().await.unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let doctor_id = w.s.person(ORG, BuiltinRole::Doctor).await;
    let doctor = w.s.login(ORG, doctor_id).await;
    let patients = w.s.patients(&doctor, ORG).await;
    let me = patients
        .iter()
        .find(|p| p["name"] == "Prøve Pasient")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p = plan(
        &w.s,
        &doctor,
        json!({"patient": me, "host": doctor_id, "minutes": 30}),
    )
    .await;
    let (_, host_token, _) = p.link("clinician");
    let (patient_p, sent_token, _) = p.link("patient");

    // The portal lists it with a button; the button needs the session's CSRF token.
    let page = |cookie: String| {
        let url = w.s.url(&format!("/portal/{ORG}"));
        let once = once.clone();
        async move {
            let r = once.get(url).header("cookie", cookie).send().await.unwrap();
            r.text().await.unwrap()
        }
    };
    let html = page(cookie.clone()).await;
    assert!(html.contains("Gå til konsultasjonen"), "{html}");
    let csrf = form_csrf(&html);
    let join_url = w.s.url(&format!("/portal/{ORG}/join/{}", p.id));
    let post = |csrf: &str, url: &str| {
        once.post(url)
            .header("cookie", &cookie)
            .header("origin", w.s.base.as_str())
            .form(&[("csrf", csrf)])
            .send()
    };
    assert_eq!(
        post("wrong", &join_url).await.unwrap().status().as_u16(),
        403
    );
    let other =
        w.s.url(&format!("/portal/{ORG}/join/{}", uuid::Uuid::new_v4()));
    assert_eq!(post(&csrf, &other).await.unwrap().status().as_u16(), 404);
    let r = post(&csrf, &join_url).await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    let token = to.strip_prefix("/join/").unwrap().to_owned();
    assert_ne!(token, sent_token);

    // The link that was sent no longer works; the portal's does, with the eID level.
    let mut host = Client::join(&w.s, &host_token, Some(&doctor.cookie)).await;
    host.until("admitted").await;
    let mut old = Client::join(&w.s, &sent_token, None).await;
    assert_eq!(old.until("error").await["code"], "invitation-refused");
    let mut pat = Client::join(&w.s, &token, Some(&cookie)).await;
    pat.until("waiting").await;
    let wr = loop {
        let v = host.until("waiting-room").await;
        if !v["waiting"].as_array().unwrap().is_empty() {
            break v;
        }
    };
    assert_eq!(wr["waiting"][0]["login"], "eid-high", "{wr}");
    host.send(json!({"v": 1, "type": "admit", "who": patient_p, "assurance": "eid-high"}))
        .await;
    pat.until("admitted").await;
    // The portal session counts only for the patient's own place: on another patient's link it
    // gives nothing.
    let someone_else = patients
        .iter()
        .find(|p| p["name"] != "Prøve Pasient")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let p2 = plan(
        &w.s,
        &doctor,
        json!({"patient": someone_else, "host": doctor_id, "minutes": 30}),
    )
    .await;
    let mut host2 = Client::join(&w.s, &p2.link("clinician").1, Some(&doctor.cookie)).await;
    host2.until("admitted").await;
    let mut theirs = Client::join(&w.s, &p2.link("patient").1, Some(&cookie)).await;
    theirs.until("waiting").await;
    let wr = loop {
        let v = host2.until("waiting-room").await;
        if !v["waiting"].as_array().unwrap().is_empty() {
            break v;
        }
    };
    assert!(wr["waiting"][0]["login"].is_null(), "{wr}");
    drop(pat);
    let audit = w.audit().await;
    assert!(
        audit
            .iter()
            .any(|(op, _, m, a, _)| op == "consultation.invite"
                && m.as_deref() == Some("idporten")
                && a.as_deref() == Some("high")),
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_writes_to_the_care_team_and_replies_in_the_portal() {
    // Issue #13 (my messages) over #12: at high, the patient starts a thread, reads it and
    // replies; a refused message says why and keeps the text; another thread id, a forged form
    // and a session below high reach nothing.
    let w = world().await;
    let once = no_redirects();
    let login = |level: &'static str, acr: &'static str| {
        let w = &w;
        let once = once.clone();
        async move {
            w.next(PID, acr, "none").await;
            let cb = w.to_callback(&World::browser(), level).await;
            let r = once.get(&cb).send().await.unwrap();
            r.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        }
    };
    let cookie = login("high", "idporten-loa-high").await;
    let get = |path: String, cookie: String| {
        let once = once.clone();
        let url = w.s.url(&path);
        async move { once.get(url).header("cookie", cookie).send().await.unwrap() }
    };
    let html = get(format!("/portal/{ORG}"), cookie.clone())
        .await
        .text()
        .await
        .unwrap();
    let csrf = form_csrf(&html);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let once = once.clone();
        let url = w.s.url(&path);
        let cookie = cookie.clone();
        let origin = w.s.base.clone();
        async move {
            once.post(url)
                .header("cookie", cookie)
                .header("origin", origin)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let start = format!("/portal/{ORG}/threads");
    // A subject with a direction override is refused; nothing is sent.
    let r = post(
        start.clone(),
        vec![
            ("subject", "Resept\u{202e}".into()),
            ("body", "Hei".into()),
            ("csrf", csrf.clone()),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("error=message"));
    let forged = post(
        start.clone(),
        vec![
            ("subject", "Hei".into()),
            ("body", "Hei".into()),
            ("csrf", "x".into()),
        ],
    )
    .await;
    assert_eq!(forged.status().as_u16(), 403);
    let r = post(
        start,
        vec![
            ("subject", "Spørsmål om timen".into()),
            ("body", "Kan jeg flytte timen til neste uke?".into()),
            ("csrf", csrf.clone()),
        ],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let thread_page = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        thread_page.contains("/thread/") && thread_page.contains("sent=1"),
        "{thread_page}"
    );
    let html = get(thread_page.clone(), cookie.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Spørsmål om timen") && html.contains("Kan jeg flytte timen"),
        "{html}"
    );
    assert!(
        html.contains("Meldingen er sendt") && html.contains("113"),
        "{html}"
    );
    // A reply; an empty one is refused with the page and what was typed kept.
    let path = thread_page.split('?').next().unwrap().to_owned();
    let r = post(
        path.clone(),
        vec![("body", "   ".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(r.status().as_u16(), 422);
    let r = post(
        path.clone(),
        vec![("body", "Takk!".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(r.status().as_u16(), 303);
    let html = get(path.clone(), cookie.clone())
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Takk!"), "{html}");
    // Someone else's (or no) thread: not found. Below high: back to the portal.
    let other = format!("/portal/{ORG}/thread/{}", uuid::Uuid::new_v4());
    assert_eq!(get(other, cookie.clone()).await.status().as_u16(), 404);
    let weak = login("substantial", "idporten-loa-substantial").await;
    let r = get(path, weak).await;
    assert_eq!(r.status().as_u16(), 303);
    // Both messages are in the log as the patient's own, with the login's method and level.
    let audit = w.audit().await;
    assert!(
        audit
            .iter()
            .filter(|(op, _, m, _, _)| op == "message.send" && m.as_deref() == Some("idporten"))
            .count()
            >= 2,
        "{audit:?}"
    );
}

/// A client that follows no redirect (to look at each answer).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of the first form on a portal page.
fn form_csrf(html: &str) -> String {
    let after = html.split("name=\"csrf\" value=\"").nth(1).unwrap();
    after.split('"').next().unwrap().to_owned()
}
