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
    assert!(html.contains("Roller og løyve") && html.contains("health-read"));
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
