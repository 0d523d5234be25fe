//! The administration pages: administrators see people, grants and the review; others get a
//! refusal page; without a session, the login page.

use reqwest::Method;
use trygg_core::BuiltinRole;

use crate::common::TestServer;

const ORG: &str = "normland-legesenter";

#[tokio::test]
async fn administrators_see_people_grants_and_the_review() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let r = s
        .send(Some(&admin), Method::GET, "/admin?lang=en", None)
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("People and access"));
    assert!(
        html.contains("Ola Lege Normann"),
        "the demo doctor is listed"
    );
    assert!(
        html.contains("Revoke") && html.contains("Grant role") && html.contains("End employment")
    );
    assert!(html.contains(&format!("data-csrf=\"{}\"", admin.csrf)));
    assert!(
        !html.contains("Astrid Testesen"),
        "no patient appears on the administration page"
    );

    let r = s
        .send(
            Some(&admin),
            Method::GET,
            "/admin/audit?security=on&lang=en",
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = s
        .send(Some(&admin), Method::GET, "/admin/roles?lang=nn", None)
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Roller og løyve") && html.contains("Lese helseopplysningar"));
    // Issue #14: words, not codes, and the header with the person's navigation.
    assert!(
        !html.contains("health-read") && !html.contains("org-admin"),
        "{html}"
    );
    assert!(html.contains("class=\"mainnav\"") && html.contains("Personar og tilgangar"));
    let r = s
        .send(Some(&admin), Method::GET, "/admin?lang=en", None)
        .await;
    let html = r.text().await.unwrap();
    for code in ["org-admin", "employee", "health-read", "personnel-manage"] {
        assert!(
            !html.contains(&format!(">{code}<")),
            "{code} shown as a code"
        );
    }
    assert!(
        html.contains("Administrator") && html.contains("Employee"),
        "{html}"
    );
    // The audit search: operations, outcomes and times in words.
    let r = s
        .send(Some(&admin), Method::GET, "/admin/audit?lang=en", None)
        .await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Demo data added") && html.contains(">done<"),
        "{html}"
    );
    assert!(
        !html.contains(">demo.seed<") && !html.contains(">success<"),
        "{html}"
    );
}

/// Issue #14: after login each person lands on a home with the places their live rights open,
/// and the navigation has no link to a page that would refuse them.
#[tokio::test]
async fn each_home_links_to_the_places_the_person_may_go_and_no_others() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let cases = [
        (
            BuiltinRole::OrgAdmin,
            &["/admin?", "/admin/audit", "/admin/devices"][..],
            &["/personell/meldinger"][..],
        ),
        (
            BuiltinRole::Doctor,
            &["/personell/konsultasjoner", "/personell/meldinger"][..],
            &["/admin?", "/admin/audit"][..],
        ),
        (
            BuiltinRole::Interpreter,
            &["/personell/mine-konsultasjoner"][..],
            &[
                "/personell/meldinger",
                "/admin?",
                "/personell/konsultasjoner",
            ][..],
        ),
    ];
    for (role, has, lacks) in cases {
        let who = s.login(ORG, s.person(ORG, role).await).await;
        // The login page is served on `localhost` (passkeys need that name); so is the home.
        let home = s.base.replace("127.0.0.1", "localhost") + "/personell?lang=en";
        let r = s
            .client
            .get(home)
            .header("cookie", &who.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        for h in has {
            assert!(
                html.contains(&format!("href=\"{h}")),
                "{role:?} lacks {h}: {html}"
            );
        }
        for h in lacks {
            assert!(!html.contains(&format!("href=\"{h}")), "{role:?} has {h}");
        }
        // Every link opens (no link to a page that refuses).
        for h in has {
            let path = html
                .split(&format!("href=\"{h}"))
                .nth(1)
                .map(|rest| format!("{h}{}", rest.split('"').next().unwrap_or("")))
                .unwrap();
            let path = path.replace("&amp;", "&");
            let r = s.send(Some(&who), Method::GET, &path, None).await;
            assert_eq!(r.status(), 200, "{role:?} {path}");
        }
    }
}

#[tokio::test]
async fn others_are_refused_and_strangers_sent_to_login() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let r = s
        .send(Some(&nurse), Method::GET, "/admin?lang=en", None)
        .await;
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("You do not have access to this page."));
    let r = s
        .send(Some(&nurse), Method::GET, "/admin/audit", None)
        .await;
    assert_eq!(r.status(), 403);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(s.url("/admin?lang=en")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/personell?lang=en");
}

#[tokio::test]
async fn a_low_assurance_login_administers_but_never_sees_a_patient() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let low = |role| {
        let s = &s;
        async move {
            let id = s.person(ORG, role).await;
            s.login_with(
                ORG,
                id,
                trygg_server::auth::AuthMethod::Developer,
                trygg_audit::Assurance::Low,
            )
            .await
        }
    };
    let doctor = low(BuiltinRole::Doctor).await;
    let r = s
        .send(
            Some(&doctor),
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients"),
            None,
        )
        .await;
    assert_eq!(
        r.status(),
        403,
        "VC-AUTH-3: patient data needs substantial assurance"
    );
    let admin = low(BuiltinRole::OrgAdmin).await;
    let r = s
        .send(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/personnel"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// The pages issue #13 and #14 added, called by those who must be refused: nobody signed in,
/// someone without the right, a login below the level, someone whose employment ended, and
/// hostile path segments. Each is refused before any data is read.
#[tokio::test]
async fn new_pages_refuse_the_callers_they_must() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let once = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, cookie: Option<&str>| {
        let mut r = once.get(s.url(path));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    // Nobody signed in: to the login page.
    for path in ["/admin/devices", "/personell/mine-konsultasjoner"] {
        let r = get(path, None).await.unwrap();
        assert_eq!(status(r), 303, "{path}");
    }
    // Without the right: the refusal page.
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    assert_eq!(
        status(get("/admin/devices", Some(&nurse.cookie)).await.unwrap()),
        403
    );
    let secretary = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    assert_eq!(
        status(
            get("/personell/mine-konsultasjoner", Some(&secretary.cookie))
                .await
                .unwrap()
        ),
        403
    );
    // An administrator at low (the developer login's level): equipment needs substantial.
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let low = s
        .login_with(
            ORG,
            admin,
            trygg_server::auth::AuthMethod::Developer,
            trygg_audit::Assurance::Low,
        )
        .await;
    assert_eq!(
        status(get("/admin/devices", Some(&low.cookie)).await.unwrap()),
        403
    );
    let interpreter = s.person(ORG, BuiltinRole::Interpreter).await;
    let ended = s.login(ORG, interpreter).await;
    // Hostile ids in the path: not found, never an error page with the input in it.
    for id in ["%E2%80%AEabc", "..%2F..%2Fetc", &"9".repeat(300)] {
        let r = once
            .post(s.url(&format!("/personell/mine-konsultasjoner/{id}")))
            .header("cookie", &ended.cookie)
            .header("origin", &ended.origin)
            .form(&[("csrf", ended.csrf.as_str())])
            .send()
            .await
            .unwrap();
        let st = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(st == 404 || st == 403, "{id}: {st}");
        assert!(
            !body.contains("etc") && !body.contains('\u{202e}'),
            "{body}"
        );
    }
    // An interpreter whose employment ended: their session no longer opens the page.
    s.end_employment(ORG, interpreter).await;
    assert_eq!(
        status(
            get("/personell/mine-konsultasjoner", Some(&ended.cookie))
                .await
                .unwrap()
        ),
        303
    );
    // The device page is public and fills in only a well-formed organisation.
    let r = get("/enhet?org=%3Cscript%3E", None).await.unwrap();
    let html = r.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("&lt;script"),
        "{html}"
    );
}
