//! The access review's findings 1-4 and 7, each proved fixed over HTTP against the real server
//! (PC-ACL-1, PC-AUTHN-3, VC-AUTH-3, VC-DEV-2, PC-VENDOR-3; guide risk scenarios 16 and 17).
//! Every test is named for its finding and fails on the code the review found.
//!
//! Time is never waited for: a future end of employment is tested by telling the store that
//! "now" is before the end when it is set, and then letting the real clock be after it.

use reqwest::Method;
use serde_json::{json, Value};
use trygg_audit::Assurance;
use trygg_core::{BuiltinRole, OrgSlug};
use trygg_server::auth::AuthMethod;
use uuid::Uuid;

use crate::common::{assert_problem, test_event, Session, TestServer};

const ORG: &str = "normland-legesenter";
const OTHER: &str = "normbakken-kommune-hjemmetjenesten";

async fn world() -> TestServer {
    let s = TestServer::start().await;
    s.seed_demo().await;
    s
}

async fn org(s: &TestServer, slug: &str) -> std::sync::Arc<trygg_store::OrgStore> {
    let o = s
        .store
        .org_by_slug(&OrgSlug::parse(slug).unwrap())
        .await
        .unwrap()
        .unwrap();
    s.store.org(&o).await.unwrap()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Sets a person's end of employment straight in the store, as if set when the clock said
/// `set_at`.
async fn set_end(s: &TestServer, person: Uuid, at: i64, set_at: time::OffsetDateTime) {
    let h = org(s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    tx.set_employment_end(person, at, set_at).await.unwrap();
    tx.audit(&test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
}

async fn add_passkey(s: &TestServer, person: Uuid) -> Uuid {
    let h = org(s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    let id = tx
        .add_passkey(person, Uuid::new_v4().as_bytes(), b"{\"fake\":1}", now())
        .await
        .unwrap();
    tx.audit(&test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn issue(s: &TestServer, who: &Session, person: Uuid) -> reqwest::Response {
    s.send(
        Some(who),
        Method::POST,
        "/api/v1/auth/enrolment-links",
        Some(&json!({ "personnel_id": person })),
    )
    .await
}

async fn session_status(s: &TestServer, who: &Session) -> u16 {
    s.send(Some(who), Method::GET, "/api/v1/auth/session", None)
        .await
        .status()
        .as_u16()
}

async fn operations(s: &TestServer, slug: &str) -> Vec<trygg_audit::AuditEvent> {
    org(s, slug)
        .await
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// A request as the browser sends it to `localhost` (WebAuthn needs a name, not an address).
fn browser(s: &TestServer, path: &str) -> reqwest::RequestBuilder {
    let port = s.base.rsplit(':').next().unwrap();
    s.client
        .post(s.url(path))
        .header("host", format!("localhost:{port}"))
        .header("origin", format!("http://localhost:{port}"))
        .header("sec-fetch-site", "same-origin")
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

#[tokio::test]
async fn finding_1_departed_admin_cannot_log_in_with_their_passkey() {
    let s = world().await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let h = org(&s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    let account = tx.ensure_login_account(admin, now()).await.unwrap();
    tx.audit(&test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
    set_end(&s, admin, now().unix_timestamp() - 1, now()).await;
    // A login ceremony for the departed admin's account is refused for the end of employment,
    // before any signature is looked at (the same path a real passkey takes).
    let start: Value = browser(&s, "/api/v1/auth/login/start")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = b64url(b"some-credential");
    let answer = json!({
        "ceremony": start["ceremony"],
        "credential": {
            "id": id, "rawId": id, "type": "public-key",
            "response": {
                "authenticatorData": b64url(&[0u8; 37]),
                "clientDataJSON": b64url(b"{}"),
                "signature": b64url(&[1u8; 64]),
                "userHandle": b64url(account.user_handle.as_bytes()),
            },
            "extensions": {},
        },
    });
    let r = browser(&s, "/api/v1/auth/login/finish")
        .json(&answer)
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("set-cookie").is_none());
    assert_problem(r, 403, "TR-P703").await;
    // The refused attempt used the ceremony up: resending it is a replay (issue 17 review).
    let r = browser(&s, "/api/v1/auth/login/finish")
        .json(&answer)
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "TR-L008").await;
    // Logged as a refused login, not counted as a wrong passkey.
    let events = operations(&s, ORG).await;
    assert!(events.iter().any(|e| e.operation.as_str() == "login"
        && e.category == trygg_audit::Category::Security(trygg_audit::SecurityKind::AccessDenied)));
}

#[tokio::test]
async fn finding_1_departed_admin_session_ends_at_lookup() {
    let s = world().await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let sess = s.login(ORG, admin).await;
    assert_eq!(session_status(&s, &sess).await, 200);
    // The end is set as if "now" were before it (so the store ends nothing), and it has passed:
    // the lookup itself must refuse and end the session.
    let t = now();
    set_end(
        &s,
        admin,
        t.unix_timestamp() - 1,
        t - time::Duration::hours(1),
    )
    .await;
    let r = s
        .send(Some(&sess), Method::GET, "/api/v1/auth/session", None)
        .await;
    assert_problem(r, 401, "TR-L003").await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    assert_eq!(issue(&s, &sess, doctor).await.status(), 401);
    // The session is ended, not only refused.
    let secret = trygg_store::Secret::from_client(sess.cookie.split_once('.').unwrap().1);
    let rec = org(&s, ORG)
        .await
        .session_by_secret(&secret)
        .await
        .unwrap()
        .unwrap();
    assert!(rec.ended_at.is_some());
}

#[tokio::test]
async fn finding_1_admin_with_revoked_grant_cannot_issue_a_link() {
    let s = world().await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let sess = s.login(ORG, admin).await;
    let h = org(&s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    let t = now().unix_timestamp();
    for g in tx.grants_of(admin).await.unwrap() {
        tx.revoke_grant(g.id, "test", "review", t).await.unwrap();
    }
    tx.audit(&test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
    // The registration role still says org-admin; the decision is on live grants.
    let r = issue(&s, &sess, doctor).await;
    let body = assert_problem(r, 403, "TR-Z403").await;
    assert!(
        body.get("required_assurance").is_none(),
        "no more than forbidden"
    );
    let r = s
        .send(
            Some(&sess),
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/passkeys"),
            None,
        )
        .await;
    assert_problem(r, 403, "TR-Z403").await;
}

#[tokio::test]
async fn finding_1_developer_login_admin_cannot_issue_a_link() {
    let s = world().await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let low = s
        .login_with(ORG, admin, AuthMethod::Developer, Assurance::Low)
        .await;
    let body = assert_problem(issue(&s, &low, doctor).await, 403, "TR-P701").await;
    assert_eq!(body["required_assurance"], "substantial");
    assert!(body["detail"].as_str().unwrap().contains("substantial"));
    // Nor revoke a person's passkeys (the other half of a takeover).
    let r = s
        .send(
            Some(&low),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/passkeys/revoke"),
            None,
        )
        .await;
    assert_problem(r, 403, "TR-P701").await;
    // A passkey-level administrator may.
    let sub = s
        .login_with(ORG, admin, AuthMethod::Passkey, Assurance::Substantial)
        .await;
    assert_eq!(issue(&s, &sub, doctor).await.status(), 201);
}

#[tokio::test]
async fn finding_1_future_end_of_employment_ends_nothing_early_but_ends_at_the_time() {
    let s = world().await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let doc = s.login(ORG, doctor).await;
    let future = (now() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = s
        .send(
            Some(&admin),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/employment-end"),
            Some(&json!({ "at": future })),
        )
        .await;
    assert_eq!(r.status(), 204);
    // Nothing ends early: the doctor's session and a link for them still work.
    assert_eq!(session_status(&s, &doc).await, 200);
    let r = s
        .send(
            Some(&doc),
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    // At the time: the same end, now in the past (set as if before it), refuses at once.
    let t = now();
    set_end(
        &s,
        doctor,
        t.unix_timestamp(),
        t - time::Duration::seconds(10),
    )
    .await;
    assert_eq!(session_status(&s, &doc).await, 401);
    // And with an explicit clock, the session check itself.
    let secret = trygg_store::Secret::from_client(doc.cookie.split_once('.').unwrap().1);
    let mut rec = org(&s, ORG)
        .await
        .session_by_secret(&secret)
        .await
        .unwrap()
        .unwrap();
    rec.ended_at = None;
    let config = trygg_server::config::Config::default();
    let end = rec.employment_end.unwrap();
    let at = |secs: i64| time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
    use trygg_server::auth::session::{check_times, Expiry};
    assert_eq!(
        check_times(&rec, &config, at(end - 1)),
        Ok(()),
        "not before"
    );
    assert_eq!(
        check_times(&rec, &config, at(end)),
        Err(Expiry::EmploymentEnded),
        "at the end exactly"
    );
}

#[tokio::test]
async fn finding_1_ending_employment_revokes_open_links() {
    let s = world().await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let r = issue(&s, &admin, doctor).await;
    assert_eq!(r.status(), 201);
    let link: Value = r.json().await.unwrap();
    let token = link["url"]
        .as_str()
        .unwrap()
        .rsplit("/enrol/")
        .next()
        .unwrap()
        .to_owned();
    let r = s
        .send(
            Some(&admin),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/personnel/{doctor}/employment-end"),
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status(), 204);
    let h = org(&s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    let secret = trygg_store::Secret::from_client(token.split_once('.').unwrap().1);
    let rec = tx.enrolment_link(&secret).await.unwrap().unwrap();
    drop(tx);
    assert!(rec.revoked_at.is_some(), "the open link is revoked");
    let r = browser(&s, "/api/v1/auth/enrol/start")
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 410), "{}", r.status());
}

#[tokio::test]
async fn finding_1_link_is_refused_once_a_future_end_has_passed() {
    let s = world().await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let link: Value = issue(&s, &admin, doctor).await.json().await.unwrap();
    let token = link["url"]
        .as_str()
        .unwrap()
        .rsplit("/enrol/")
        .next()
        .unwrap()
        .to_owned();
    // The end was set (as a future date, so the link stayed open) and has passed; the link's
    // own expiry is later.
    let t = now();
    set_end(
        &s,
        doctor,
        t.unix_timestamp() - 1,
        t - time::Duration::hours(1),
    )
    .await;
    let r = browser(&s, "/api/v1/auth/enrol/start")
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_problem(r, 403, "TR-P703").await;
}

#[tokio::test]
async fn finding_2_a_person_with_a_passkey_gets_no_link_until_an_admin_revokes_it() {
    let s = world().await;
    let admin_id = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let admin = s.login(ORG, admin_id).await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let key = add_passkey(&s, doctor).await;
    let doc = s.login(ORG, doctor).await;
    let body = assert_problem(issue(&s, &admin, doctor).await, 409, "TR-P702").await;
    assert!(body["detail"].as_str().unwrap().contains("revoke"));
    // The administrator sees the passkey (no key material) ...
    let path = format!("/api/v1/orgs/{ORG}/personnel/{doctor}/passkeys");
    let r = s.send(Some(&admin), Method::GET, &path, None).await;
    assert_eq!(r.status(), 200);
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], key.to_string());
    assert!(list[0]["created_at"].is_string());
    assert!(!list[0].to_string().contains("fake"), "no key material");
    // ... revokes it (logged, naming the person), which ends the doctor's sessions ...
    let r = s
        .send(Some(&admin), Method::POST, &format!("{path}/revoke"), None)
        .await;
    assert_eq!(r.status(), 200);
    let out: Value = r.json().await.unwrap();
    assert_eq!(out["revoked"], json!([key.to_string()]));
    assert_eq!(session_status(&s, &doc).await, 401);
    let events = operations(&s, ORG).await;
    let e = events
        .iter()
        .find(|e| e.operation.as_str() == "passkey.revoke-all")
        .expect("a revocation entry");
    assert_eq!(e.category, trygg_audit::Category::Authorisation);
    assert_eq!(
        e.entity.as_ref().unwrap().id.as_ref().unwrap().as_str(),
        doctor.to_string()
    );
    assert_eq!(
        e.agent.id.as_ref().unwrap().as_str(),
        format!("personnel:{admin_id}")
    );
    // ... and only then may issue a link.
    assert_eq!(issue(&s, &admin, doctor).await.status(), 201);
}

#[tokio::test]
async fn finding_2_a_person_lists_and_revokes_their_own_passkeys() {
    let s = world().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let key = add_passkey(&s, doctor).await;
    let mine = s.login(ORG, doctor).await;
    let elsewhere = s.login(ORG, doctor).await;
    let r = s
        .send(Some(&mine), Method::GET, "/api/v1/auth/passkeys", None)
        .await;
    let list: Vec<Value> = r.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], key.to_string());
    // Someone else's passkey id finds nothing.
    let r = s
        .send(
            Some(&mine),
            Method::DELETE,
            &format!("/api/v1/auth/passkeys/{}", Uuid::new_v4()),
            None,
        )
        .await;
    assert_problem(r, 404, "TR-P705").await;
    let r = s
        .send(
            Some(&mine),
            Method::DELETE,
            &format!("/api/v1/auth/passkeys/{key}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 204);
    let list: Vec<Value> = s
        .send(Some(&mine), Method::GET, "/api/v1/auth/passkeys", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
    // The other sessions end (one may be an intruder's); this one stays.
    assert_eq!(session_status(&s, &elsewhere).await, 401);
    assert_eq!(session_status(&s, &mine).await, 200);
}

#[tokio::test]
async fn finding_2_an_added_passkey_is_shown_in_live_sessions_until_acknowledged() {
    let s = world().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let doc = s.login(ORG, doctor).await;
    let info: Value = s
        .send(Some(&doc), Method::GET, "/api/v1/auth/session", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["notices"], json!([]));
    // What registering a passkey through a link writes (auth::webauthn's finish_enrol).
    let h = org(&s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    tx.add_notice(doctor, "passkey-added", Some("p-1"), now())
        .await
        .unwrap();
    tx.audit(&test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
    let info: Value = s
        .send(Some(&doc), Method::GET, "/api/v1/auth/session", None)
        .await
        .json()
        .await
        .unwrap();
    let notices = info["notices"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{info}");
    assert_eq!(notices[0]["kind"], "passkey-added");
    assert!(notices[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("a passkey was added on "));
    let r = s
        .send(
            Some(&doc),
            Method::POST,
            "/api/v1/auth/notices/acknowledge",
            Some(&json!({})),
        )
        .await;
    assert_eq!(r.status(), 204);
    let info: Value = s
        .send(Some(&doc), Method::GET, "/api/v1/auth/session", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["notices"], json!([]));
}

#[tokio::test]
async fn finding_3_self_declared_care_is_short_flagged_and_shown_to_the_patient() {
    let s = world().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let nurse = s.person(ORG, BuiltinRole::Nurse).await;
    let doc = s.login(ORG, doctor).await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let secretary = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let patient = new_patient(&s, &secretary, "Selv Erklært", (4, 4, 44, 321)).await;
    let care = format!("/api/v1/orgs/{ORG}/care-relationships");
    let r = s
        .send(
            Some(&doc),
            Method::POST,
            &care,
            Some(&json!({"personnel_id": doctor, "patient_id": patient, "reason": "fastlege", "days": 730})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["self_declared"], true);
    let parse = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(
        parse(&c["valid_to"]) - parse(&c["valid_from"]) <= time::Duration::hours(4),
        "capped at the emergency maximum: {c}"
    );
    // For someone else, by a person with care-manage: unchanged.
    let r = s
        .send(
            Some(&secretary),
            Method::POST,
            &care,
            Some(&json!({"personnel_id": nurse, "patient_id": patient, "reason": "fastlege", "days": 730})),
        )
        .await;
    let other: Value = r.json().await.unwrap();
    assert_eq!(other["self_declared"], false);
    assert!(parse(&other["valid_to"]) - parse(&other["valid_from"]) > time::Duration::days(700));
    // Flagged in the rights review until attested.
    let review = format!("/api/v1/orgs/{ORG}/rights-review");
    let report: Value = s
        .send(Some(&admin), Method::GET, &review, None)
        .await
        .json()
        .await
        .unwrap();
    let flagged = report["self_declared_unattested"].as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{report}");
    assert_eq!(flagged[0]["id"], c["id"]);
    // Shown to the patient as self-declared, and so is the access resting on it.
    let log = format!("/api/v1/orgs/{ORG}/patients/{patient}/access-log?lang=en");
    let lines: Vec<Value> = s
        .send(Some(&doc), Method::GET, &log, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        lines.iter().any(|l| l["self_declared"] == true
            && l["what"] == "Declared a care relationship with you themselves"),
        "{lines:?}"
    );
    // An attestation covers what the reviewed report showed: one made on a report from before
    // the declaration leaves it flagged (found in a second review).
    let earlier = (now() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = s
        .send(
            Some(&admin),
            Method::POST,
            &review,
            Some(&json!({"result": "approved", "report_generated_at": earlier})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let report: Value = s
        .send(Some(&admin), Method::GET, &review, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report["self_declared_unattested"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    let r = s
        .send(
            Some(&admin),
            Method::POST,
            &review,
            Some(&json!({"result": "approved", "report_generated_at": report["generated_at"]})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let report: Value = s
        .send(Some(&admin), Method::GET, &review, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["self_declared_unattested"], json!([]));
}

#[tokio::test]
async fn finding_4_health_data_needs_high_by_default_and_the_403_says_so() {
    let s = world().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let secretary = s.person(ORG, BuiltinRole::Secretary).await;
    let high = s.login(ORG, doctor).await;
    let sub = s
        .login_with(ORG, doctor, AuthMethod::Passkey, Assurance::Substantial)
        .await;
    let nid = trygg_core::NationalId::synthetic(5, 5, 55, 432)
        .unwrap()
        .expose();
    let p: Value = s
        .send(
            Some(&high),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients"),
            Some(&json!({"name": "Høy Sikkerhet", "national_id": nid})),
        )
        .await
        .json()
        .await
        .unwrap();
    let patient = p["id"].as_str().unwrap();
    let h = org(&s, ORG).await;
    let mut tx = h.begin().await.unwrap();
    let t = now().unix_timestamp();
    tx.create_care_relationship(
        doctor,
        patient.parse().unwrap(),
        "fastlege",
        t - 1,
        t + 3600,
        "test",
        t,
    )
    .await
    .unwrap();
    tx.audit(&test_event(ORG)).await.unwrap();
    tx.commit().await.unwrap();
    let log = format!("/api/v1/orgs/{ORG}/patients/{patient}/access-log");
    // Substantial no longer reaches health data (PC-AUTHN-3), and the problem names the level.
    let body = assert_problem(
        s.send(Some(&sub), Method::GET, &log, None).await,
        403,
        "TR-P701",
    )
    .await;
    assert_eq!(body["required_assurance"], "high");
    assert!(body["detail"].as_str().unwrap().contains("high"));
    // Demographics still work at substantial.
    let r = s
        .send(
            Some(&sub),
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{patient}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    // High does.
    assert_eq!(
        s.send(Some(&high), Method::GET, &log, None).await.status(),
        200
    );
    // A person without the permission learns nothing about assurance.
    let sec = s
        .login_with(ORG, secretary, AuthMethod::Passkey, Assurance::Substantial)
        .await;
    let body = assert_problem(
        s.send(Some(&sec), Method::GET, &log, None).await,
        403,
        "TR-Z403",
    )
    .await;
    assert!(body.get("required_assurance").is_none());
    // The organisation may set its own minimum, and administrators can read the table.
    trygg_app::access::set_min_assurance(
        &h,
        trygg_core::access::Permission::HealthRead,
        "substantial",
        "test",
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.send(Some(&sub), Method::GET, &log, None).await.status(),
        200
    );
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let table: Vec<Value> = s
        .send(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/orgs/{ORG}/assurance"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let level = |p: &str| {
        table
            .iter()
            .find(|r| r["permission"] == p)
            .map(|r| r["level"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(level("health-read"), "substantial");
    assert_eq!(level("health-write"), "high");
    assert_eq!(level("emergency-access"), "high");
    assert_eq!(level("patient-read"), "substantial");
    assert_eq!(level("credentials-manage"), "substantial");
    assert_eq!(level("personnel-manage"), "low");
}

#[tokio::test]
async fn finding_7_a_conflict_on_an_existing_national_id_is_audited() {
    let s = world().await;
    let sec = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let nid = trygg_core::NationalId::synthetic(6, 6, 66, 543)
        .unwrap()
        .expose();
    let path = format!("/api/v1/orgs/{ORG}/patients");
    let p: Value = s
        .send(
            Some(&sec),
            Method::POST,
            &path,
            Some(&json!({"name": "Først Her", "national_id": nid})),
        )
        .await
        .json()
        .await
        .unwrap();
    let before = operations(&s, ORG).await.len();
    let r = s
        .send(
            Some(&sec),
            Method::POST,
            &path,
            Some(&json!({"name": "Noen Andre", "national_id": nid})),
        )
        .await;
    assert_problem(r, 409, "TR-S409").await;
    let events = operations(&s, ORG).await;
    assert_eq!(events.len(), before + 1, "one entry for the probe");
    let e = events.last().unwrap();
    assert_eq!(e.operation.as_str(), "patient.create-conflict");
    assert_eq!(e.outcome, trygg_audit::Outcome::Rejected);
    assert_eq!(
        e.patient.as_ref().unwrap().as_str(),
        p["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn finding_7_cross_organisation_probes_are_aggregated() {
    let s = world().await;
    let stranger = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Doctor).await)
        .await;
    let count = |events: &[trygg_audit::AuditEvent]| {
        events
            .iter()
            .filter(|e| e.operation.as_str() == "access.cross-organisation")
            .count()
    };
    let before = count(&operations(&s, ORG).await);
    for _ in 0..1000 {
        let r = s
            .send(
                Some(&stranger),
                Method::GET,
                &format!("/api/v1/orgs/{ORG}/patients"),
                None,
            )
            .await;
        assert_eq!(r.status(), 404);
    }
    let events = operations(&s, ORG).await;
    let added = count(&events) - before;
    assert!(
        (1..=3).contains(&added),
        "1000 probes added {added} entries"
    );
    let e = events
        .iter()
        .rev()
        .find(|e| e.operation.as_str() == "access.cross-organisation")
        .unwrap();
    let entity = e.entity.as_ref().unwrap();
    assert_eq!(entity.kind.as_str(), trygg_app::access::PROBES_ENTITY);
}

#[test]
fn finding_7_held_back_probes_are_counted_into_the_next_entry() {
    use trygg_app::access::{ProbeEntry, ProbeWindows, PROBE_WINDOW_SECS};
    let mut w = ProbeWindows::new(2);
    let a = OrgSlug::parse("a").unwrap();
    let b = OrgSlug::parse("b").unwrap();
    let who = Uuid::new_v4();
    let key = (a.clone(), who, b.clone());
    let t = 1_800_000_000;
    assert_eq!(
        w.note(key.clone(), t),
        Some(ProbeEntry { count: 1, since: t })
    );
    for i in 1..1000 {
        assert_eq!(w.note(key.clone(), t + i % PROBE_WINDOW_SECS), None);
    }
    // The next probe after the window writes one entry standing for all held back.
    assert_eq!(
        w.note(key.clone(), t + PROBE_WINDOW_SECS),
        Some(ProbeEntry {
            count: 1000,
            since: t + 1
        })
    );
    // Bounded: a full map never drops held-back counts and never skips an entry.
    assert!(w.note((a.clone(), Uuid::new_v4(), b.clone()), t).is_some());
    assert_eq!(w.len(), 2);
    assert!(w.note((a, Uuid::new_v4(), b), t + 1).is_some());
    assert_eq!(w.len(), 2);
}

/// Registers a new person in `role` through the API, as `admin`.
async fn new_person(s: &TestServer, admin: &Session, role: &str) -> Uuid {
    let r = s
        .send(
            Some(admin),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/personnel"),
            Some(&json!({"name": "Ny Person", "role": role, "employment": "employee"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    Uuid::parse_str(v["id"].as_str().unwrap()).unwrap()
}

fn token_of(link: &Value) -> String {
    link["url"]
        .as_str()
        .unwrap()
        .rsplit("/enrol/")
        .next()
        .unwrap()
        .to_owned()
}

/// A link carries its issuer's authority: an administrator who leaves, or whose administrator
/// grant is revoked, cannot keep a link issued earlier (for a fresh clinician account) and use it
/// afterwards to enrol their own authenticator (review finding 1).
#[tokio::test]
async fn finding_1_a_link_stops_working_when_its_issuer_leaves_or_loses_the_right() {
    let s = world().await;
    let head = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    // Two more administrators, each issuing a link for a new doctor before losing the right.
    for how in ["leaves", "demoted"] {
        let admin_id = new_person(&s, &head, "org-admin").await;
        let admin = s.login(ORG, admin_id).await;
        let doctor = new_person(&s, &head, "doctor").await;
        let link: Value = issue(&s, &admin, doctor).await.json().await.unwrap();
        let token = token_of(&link);
        if how == "leaves" {
            set_end(&s, admin_id, now().unix_timestamp() - 1, now()).await;
        } else {
            let grants: Vec<Value> = s
                .send(
                    Some(&head),
                    Method::GET,
                    &format!("/api/v1/orgs/{ORG}/personnel/{admin_id}/grants"),
                    None,
                )
                .await
                .json()
                .await
                .unwrap();
            for g in grants.iter().filter(|g| g["live"] == true) {
                let r = s
                    .send(
                        Some(&head),
                        Method::POST,
                        &format!(
                            "/api/v1/orgs/{ORG}/grants/{}/revoke",
                            g["id"].as_str().unwrap()
                        ),
                        Some(&json!({"reason": "review"})),
                    )
                    .await;
                assert_eq!(r.status(), 200);
            }
        }
        let r = browser(&s, "/api/v1/auth/enrol/start")
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_problem(r, 403, "TR-P706").await;
        // The refusal is a security event in the organisation's log.
        assert!(
            operations(&s, ORG).await.iter().any(|e| {
                e.operation.as_str() == "enrolment-link.use"
                    && matches!(e.outcome, trygg_audit::Outcome::Denied)
            }),
            "{how}: the refused use is logged"
        );
    }
    // A link from an administrator who keeps the right still works.
    let doctor = new_person(&s, &head, "doctor").await;
    let link: Value = issue(&s, &head, doctor).await.json().await.unwrap();
    let r = browser(&s, "/api/v1/auth/enrol/start")
        .json(&json!({ "token": token_of(&link) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// An administrator can neither extend their own employment nor bring a leaver back to life (and
/// with them their old passkeys and grants): their own record is refused, an end that has passed
/// is final, and both refusals are security events (review finding 1, found in a second review).
#[tokio::test]
async fn finding_1_nobody_changes_their_own_employment_and_an_ended_one_stays_ended() {
    let s = world().await;
    let head = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let admin_id = new_person(&s, &head, "org-admin").await;
    let admin = s.login(ORG, admin_id).await;
    let end = |who: Uuid, at: Option<&str>| {
        let body = match at {
            Some(t) => json!({ "at": t }),
            None => json!({}),
        };
        (
            format!("/api/v1/orgs/{ORG}/personnel/{who}/employment-end"),
            body,
        )
    };
    // Their own record: refused, whatever the date.
    for at in [Some("2099-01-01T00:00:00Z"), None] {
        let (path, body) = end(admin_id, at);
        let r = s.send(Some(&admin), Method::POST, &path, Some(&body)).await;
        assert_problem(r, 403, "TR-Q701").await;
    }
    // A future end set by someone else may be corrected, either way, until it passes.
    let doctor = new_person(&s, &head, "doctor").await;
    for at in ["2099-01-01T00:00:00Z", "2098-01-01T00:00:00Z"] {
        let (path, body) = end(doctor, Some(at));
        let r = s.send(Some(&admin), Method::POST, &path, Some(&body)).await;
        assert_eq!(r.status(), 204);
    }
    // Ended now: final. Reinstating (a later date) and even re-ending are refused.
    let (path, body) = end(doctor, None);
    assert_eq!(
        s.send(Some(&admin), Method::POST, &path, Some(&body))
            .await
            .status(),
        204
    );
    for at in [Some("2099-01-01T00:00:00Z"), None] {
        let (path, body) = end(doctor, at);
        let r = s.send(Some(&admin), Method::POST, &path, Some(&body)).await;
        assert_problem(r, 409, "TR-Q702").await;
    }
    let denied = operations(&s, ORG)
        .await
        .iter()
        .filter(|e| {
            e.operation.as_str() == "personnel.employment-end"
                && matches!(e.outcome, trygg_audit::Outcome::Denied)
        })
        .count();
    assert_eq!(denied, 4, "each refusal is logged");
}

/// The current time in RFC 3339, as a report's `generated_at`.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn finding_7_held_back_probes_are_written_once_their_window_ends() {
    // Found in a second review: probes held back in a window were written only if the same
    // caller probed again later, and lost at a restart.
    use trygg_app::access::{ProbeEntry, ProbeWindows, PROBE_WINDOW_SECS};
    let mut w = ProbeWindows::new(10);
    let key = (
        OrgSlug::parse("a").unwrap(),
        Uuid::new_v4(),
        OrgSlug::parse("b").unwrap(),
    );
    let t = 1_800_000_000;
    assert!(w.note(key.clone(), t).is_some());
    for i in 1..50 {
        assert_eq!(w.note(key.clone(), t + i % 30), None);
    }
    assert!(w.due(t + 30, false).is_empty(), "the window is still open");
    let due = w.due(t + PROBE_WINDOW_SECS, false);
    assert_eq!(
        due,
        vec![(
            key.clone(),
            ProbeEntry {
                count: 49,
                since: t + 1
            }
        )]
    );
    assert!(
        w.due(t + PROBE_WINDOW_SECS + 5, false).is_empty(),
        "written once"
    );
    // At shutdown every window is written, open or not.
    assert!(w.note(key.clone(), t + 100).is_some());
    assert_eq!(w.note(key.clone(), t + 101), None);
    assert_eq!(
        w.due(t + 102, true),
        vec![(
            key,
            ProbeEntry {
                count: 1,
                since: t + 101
            }
        )]
    );
}

#[tokio::test]
async fn finding_7_a_servers_held_back_probes_reach_the_log_after_the_window() {
    let s = world().await;
    let stranger = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Doctor).await)
        .await;
    let probes = |events: Vec<trygg_audit::AuditEvent>| -> Vec<String> {
        events
            .into_iter()
            .filter(|e| e.operation.as_str() == "access.cross-organisation")
            .filter_map(|e| e.entity.and_then(|x| x.id).map(|i| i.as_str().to_owned()))
            .collect()
    };
    for _ in 0..50 {
        let r = s
            .send(
                Some(&stranger),
                Method::GET,
                &format!("/api/v1/orgs/{ORG}/personnel"),
                None,
            )
            .await;
        assert_eq!(r.status(), 404);
    }
    assert_eq!(probes(operations(&s, ORG).await), vec!["1".to_owned()]);
    // The window ends; the next request anyone makes writes what was held back.
    s.clock.advance(time::Duration::seconds(61));
    let admin = s
        .login(OTHER, s.person(OTHER, BuiltinRole::OrgAdmin).await)
        .await;
    let r = s
        .send(
            Some(&admin),
            Method::GET,
            &format!("/api/v1/orgs/{OTHER}/personnel"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        probes(operations(&s, ORG).await),
        vec!["1".to_owned(), "49".to_owned()]
    );
}

/// Found in a second review: a reviewer who also holds emergency access could attest their own
/// emergency accesses. Their own flags stay for another reviewer.
#[tokio::test]
async fn reviewers_cannot_attest_their_own_emergency_access() {
    let s = world().await;
    let head = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let doctor = new_person(&s, &head, "doctor").await;
    let r = s
        .send(
            Some(&head),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/grants"),
            Some(&json!({"personnel_id": doctor, "role": "org-admin"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let doc = s.login(ORG, doctor).await;
    let sec = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let patient = new_patient(&s, &sec, "Akutt Pasient", (7, 7, 77, 654)).await;
    let patient = patient.as_str();
    let r = s
        .send(
            Some(&doc),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients/{patient}/emergency-access"),
            Some(&json!({"reason": "Akutt situasjon, trenger oversikt over kontakt"})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let review = format!("/api/v1/orgs/{ORG}/rights-review");
    let flagged = |who: &Session| {
        let who = who.clone();
        let s = &s;
        let review = review.clone();
        async move {
            let report: Value = s
                .send(Some(&who), Method::GET, &review, None)
                .await
                .json()
                .await
                .unwrap();
            (
                report["emergency_unreviewed"].as_array().unwrap().len(),
                report["generated_at"].clone(),
            )
        }
    };
    let (n, generated) = flagged(&doc).await;
    assert_eq!(n, 1);
    let r = s
        .send(
            Some(&doc),
            Method::POST,
            &review,
            Some(&json!({"result": "approved", "report_generated_at": generated})),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (n, generated) = flagged(&head).await;
    assert_eq!(n, 1, "their own emergency access stays flagged");
    let r = s
        .send(
            Some(&head),
            Method::POST,
            &review,
            Some(&json!({"result": "approved", "report_generated_at": generated})),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(flagged(&head).await.0, 0, "another reviewer closes it");
}

/// Registers a patient with a synthetic national ID (day, month, two-digit year, individual
/// number) as `who`; returns the patient's id.
async fn new_patient(
    s: &TestServer,
    who: &Session,
    name: &str,
    (day, month, year, individual): (u8, u8, u8, u16),
) -> String {
    let nid = trygg_core::NationalId::synthetic(day, month, year, individual)
        .unwrap()
        .expose();
    let p: Value = s
        .send(
            Some(who),
            Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients"),
            Some(&json!({"name": name, "national_id": nid})),
        )
        .await
        .json()
        .await
        .unwrap();
    p["id"].as_str().unwrap().to_owned()
}

/// Issue #18: once an administrator has a passkey, the console's `setup_link` (what `trygg org
/// setup-link` runs) is refused — a link then would make its holder an administrator of an
/// organisation that runs itself — and the attempt is a denied security event in its log; no
/// link is issued.
#[tokio::test]
async fn a_set_up_link_is_refused_and_logged_once_an_administrator_has_a_passkey() {
    let s = world().await;
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    add_passkey(&s, admin).await;
    let o = s
        .app
        .store
        .org_by_slug(&OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let links_before = org(&s, ORG)
        .await
        .audit_events(None)
        .await
        .unwrap()
        .iter()
        .filter(|(_, e)| e.operation.as_str() == "enrolment-link.issue")
        .count();
    let r =
        trygg_app::credentials::setup_link(&s.app.store, &o, time::Duration::hours(1), now()).await;
    let e = r.expect_err("refused");
    assert_eq!(e.code, "TR-L409");
    let events = org(&s, ORG).await.audit_events(None).await.unwrap();
    let issued: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.operation.as_str() == "enrolment-link.issue")
        .collect();
    assert_eq!(issued.len(), links_before + 1, "one entry: the refusal");
    let last = &issued.last().unwrap().1;
    assert_eq!(last.outcome, trygg_audit::Outcome::Denied);
    assert!(last.category.is_security_event());
}
