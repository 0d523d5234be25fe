//! Secure message threads through the API (issue #12): who may read and write a patient's
//! messages (a care relationship, live; not another organisation, not a secretary, not a patient
//! at low assurance or on someone else's thread), read receipts both ways, attachments inline
//! and never cached, filing to the journal, the retention job with the clock moved past the
//! policy, escalation of an unread message to another channel or a task, and the gateway's
//! inbound JA/NEI. The patient's side is called through the use cases (its portal is issue #13).

use base64::Engine as _;
use serde_json::{json, Value};
use trygg_app::messages::{self as m, PatientCaller, Who};
use trygg_audit::Assurance;
use trygg_core::{BuiltinRole, Lang};
use uuid::Uuid;

use crate::common::{Session, TestServer};

const ORG: &str = "normland-legesenter";
const OTHER: &str = "normbakken-kommune-hjemmetjenesten";
const SECRET: &str = "a-test-secret-of-at-least-32-characters!";

struct World {
    s: TestServer,
    doctor: Session,
    doctor_id: Uuid,
    nurse: Session,
    secretary: Session,
    stranger: Session,
    patient: Uuid,
    other_patient: Uuid,
}

async fn world(env: &[(&str, &str)]) -> World {
    let s = TestServer::start_with(env).await;
    s.seed_demo().await;
    let doctor_id = s.person(ORG, BuiltinRole::Doctor).await;
    let doctor = s.login(ORG, doctor_id).await;
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let secretary = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let stranger = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Doctor).await)
        .await;
    // Behind a public address, the browser's requests come from it.
    let public = env
        .iter()
        .find(|(k, _)| *k == "TRYGG_PUBLIC_URL")
        .map(|(_, v)| *v);
    let (mut doctor, mut nurse, mut secretary, mut stranger) = (doctor, nurse, secretary, stranger);
    if let Some(p) = public {
        for x in [&mut doctor, &mut nurse, &mut secretary, &mut stranger] {
            x.origin = p.to_owned();
            // Secure (https) cookies carry the __Host- prefix.
            x.cookie = format!("__Host-{}", x.cookie);
        }
    }
    let list: Value = s
        .send(
            Some(&secretary),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let list = list.as_array().unwrap_or_else(|| panic!("{list}"));
    let patient: Uuid = list[0]["id"].as_str().unwrap().parse().unwrap();
    let other_patient: Uuid = list[1]["id"].as_str().unwrap().parse().unwrap();
    // The doctor has a care relationship with the first patient only.
    let r = s
        .send(
            Some(&nurse),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/care-relationships"),
            Some(&json!({"personnel_id": doctor_id, "patient_id": patient, "reason": "fastlege", "days": 30})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    World {
        s,
        doctor,
        doctor_id,
        nurse,
        secretary,
        stranger,
        patient,
        other_patient,
    }
}

fn patient_caller(patient: Uuid, assurance: Assurance) -> PatientCaller {
    PatientCaller {
        org: trygg_core::OrgSlug::parse(ORG).unwrap(),
        patient,
        method: "idporten",
        assurance,
        address: None,
    }
}

async fn call(
    s: &TestServer,
    who: &Session,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = s.send(Some(who), method, path, body.as_ref()).await;
    let st = r.status().as_u16();
    (st, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn ops(s: &TestServer, patient: Uuid) -> Vec<(String, Option<String>)> {
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    h.audit_events(Some(&patient.to_string()))
        .await
        .unwrap()
        .iter()
        .map(|(_, e)| {
            let detail = e
                .entity
                .as_ref()
                .and_then(|x| x.detail.as_ref())
                .map(|d| d.as_str().to_owned());
            (e.operation.as_str().to_owned(), detail)
        })
        .collect()
}

async fn ops_all(s: &TestServer) -> Vec<(String, Option<String>)> {
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    h.audit_events(None)
        .await
        .unwrap()
        .iter()
        .map(|(_, e)| {
            let detail = e
                .entity
                .as_ref()
                .and_then(|x| x.detail.as_ref())
                .map(|d| d.as_str().to_owned());
            (e.operation.as_str().to_owned(), detail)
        })
        .collect()
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_read_through_a_care_relationship_with_receipts_and_every_read_logged() {
    let w = world(&[]).await;
    let s = &w.s;
    let start = format!("/api/v1/orgs/{ORG}/patients/{}/threads", w.patient);
    let pdf = b"%PDF-1.4 a short letter";
    let first = json!({"subject": "Svar på blodprøve", "body": "Hei! Prøvene dine er fine.",
        "attachments": [{"name": "svar æ.pdf", "media_type": "application/pdf", "data": b64(pdf)}]});

    // Who may not write: a secretary (no health-write), another organisation's doctor, a doctor
    // with no care relationship to this patient.
    assert_eq!(
        call(
            s,
            &w.secretary,
            reqwest::Method::POST,
            &start,
            Some(first.clone())
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            s,
            &w.stranger,
            reqwest::Method::POST,
            &start,
            Some(first.clone())
        )
        .await
        .0,
        404
    );
    let other = format!("/api/v1/orgs/{ORG}/patients/{}/threads", w.other_patient);
    assert_eq!(
        call(
            s,
            &w.doctor,
            reqwest::Method::POST,
            &other,
            Some(first.clone())
        )
        .await
        .0,
        403
    );

    // Bad input: a clear problem each, nothing stored.
    for (bad, code) in [
        (json!({"subject": "", "body": "x"}), "TR-T001"),
        (json!({"subject": "a\u{202e}b", "body": "x"}), "TR-T001"),
        (json!({"subject": "s", "body": "a\u{0}b"}), "TR-T001"),
        (
            json!({"subject": "s", "body": "x", "attachments": [{"name": "a.pdf", "media_type": "application/pdf", "data": b64(b"<html>")}]}),
            "TR-T001",
        ),
        (
            json!({"subject": "s", "body": "x", "attachments": [{"name": "a.html", "media_type": "text/html", "data": b64(b"<b>")}]}),
            "TR-T001",
        ),
        (
            json!({"subject": "s", "body": "x", "attachments": [{"name": "../a.txt", "media_type": "text/plain", "data": b64(b"x")}]}),
            "TR-T001",
        ),
        (
            json!({"subject": "s", "body": "x", "attachments": [{"name": "a.txt", "media_type": "text/plain", "data": "%%%"}]}),
            "TR-T002",
        ),
        (
            json!({"subject": "s", "body": "x", "attachments": vec![json!({"name": "a.txt", "media_type": "text/plain", "data": b64(b"x")}); 6]}),
            "TR-T001",
        ),
    ] {
        let (st, body) = call(
            s,
            &w.doctor,
            reqwest::Method::POST,
            &start,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (st, body["code"].as_str()),
            (422, Some(code)),
            "{bad}: {body}"
        );
    }
    let (st, body) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "s"})),
    )
    .await;
    assert_eq!(st, 422, "{body}");

    let (st, posted) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(first.clone()),
    )
    .await;
    assert_eq!(st, 201, "{posted}");
    let thread: Uuid = posted["thread"].as_str().unwrap().parse().unwrap();
    // No channel is configured here: no notice, the portal holds it.
    assert_eq!(posted["notified"], Value::Null);
    let read = format!("/api/v1/orgs/{ORG}/threads/{thread}");

    // Personnel reading: the doctor yes; a secretary, a stranger, nobody else.
    assert_eq!(
        call(s, &w.secretary, reqwest::Method::GET, &read, None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(
            s,
            &w.stranger,
            reqwest::Method::GET,
            &read.replace(ORG, OTHER),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(s, &w.stranger, reqwest::Method::GET, &read, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(
            s,
            &w.doctor,
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/threads/{}", Uuid::new_v4()),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(
            s,
            &w.doctor,
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/threads/x%00y"),
            None
        )
        .await
        .0,
        404
    );

    // PC-EMERG-1 and PC-CHAN-1: every view carries the urgent line and the channel statement.
    let (st, v) = call(
        s,
        &w.doctor,
        reqwest::Method::GET,
        &format!("{read}?lang=nn"),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        v["notices"]["emergency"].as_str().unwrap().contains("113"),
        "{v}"
    );
    assert!(
        v["notices"]["channels"]
            .as_str()
            .unwrap()
            .contains("ID-porten"),
        "{v}"
    );
    assert_eq!(v["messages"][0]["body"], "Hei! Prøvene dine er fine.");
    // The patient has not read it yet: no receipt.
    assert_eq!(v["messages"][0]["read_at"], Value::Null);
    let attachment = v["messages"][0]["attachments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(v["messages"][0]["attachments"][0]["name"], "svar æ.pdf");

    // PC-AVAIL-1: the attachment inline, never cached, with its own type.
    let r = s
        .send(
            Some(&w.doctor),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/attachments/{attachment}"),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        r.headers()["content-disposition"],
        "inline; filename*=UTF-8''svar%20%C3%A6.pdf"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf);
    assert_eq!(
        call(
            s,
            &w.secretary,
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/attachments/{attachment}"),
            None
        )
        .await
        .0,
        403
    );

    // The patient's side (their portal, issue #13): their own thread only, at high (health
    // data, PC-AUTHN-2); substantial and low are refused.
    let app = &s.app;
    let now = app.now();
    let me = patient_caller(w.patient, Assurance::High);
    let someone_else = patient_caller(w.other_patient, Assurance::High);
    for level in [Assurance::Low, Assurance::Substantial] {
        let below = patient_caller(w.patient, level);
        let e = m::read_thread(app, Who::Patient(&below), ORG, thread, Lang::Nb, now)
            .await
            .unwrap_err();
        assert_eq!(e.code, "TR-T003");
        assert!(matches!(e.kind, trygg_app::error::ErrorKind::Forbidden));
    }
    let e = m::read_thread(app, Who::Patient(&someone_else), ORG, thread, Lang::Nb, now)
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-T004");
    let mut foreign = patient_caller(w.patient, Assurance::High);
    foreign.org = trygg_core::OrgSlug::parse(OTHER).unwrap();
    assert!(
        m::read_thread(app, Who::Patient(&foreign), ORG, thread, Lang::Nb, now)
            .await
            .is_err()
    );
    let mine = m::read_thread(app, Who::Patient(&me), ORG, thread, Lang::En, now)
        .await
        .unwrap();
    assert_eq!(mine.messages.len(), 1);
    assert!(mine.notices.emergency.contains("113"));
    // Scenario 25: the doctor now sees the patient's read receipt.
    let (_, v) = call(s, &w.doctor, reqwest::Method::GET, &read, None).await;
    assert!(v["messages"][0]["read_at"].is_string(), "{v}");
    assert_eq!(v["thread"]["unread_by_patient"], 0);

    // The patient answers; the doctor's thread list counts it unread until the doctor reads it.
    let reply = m::MessageIn {
        body: "Takk for svar!".into(),
        attachments: vec![],
    };
    let posted = m::post(app, Who::Patient(&me), ORG, thread, reply.clone(), now)
        .await
        .unwrap();
    assert!(
        m::post(app, Who::Patient(&someone_else), ORG, thread, reply, now)
            .await
            .is_err()
    );
    let (st, list) = call(s, &w.doctor, reqwest::Method::GET, &start, None).await;
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["threads"][0]["unread_from_patient"], 1, "{list}");
    assert_eq!(list["threads"][0]["subject"], "Svar på blodprøve");
    let (_, v) = call(s, &w.doctor, reqwest::Method::GET, &read, None).await;
    assert!(v["messages"][1]["read_at"].is_string(), "{v}");
    assert_eq!(v["messages"][1]["author"], format!("patient:{}", w.patient));

    // The nurse without a care relationship may not read it, even knowing the thread's id.
    assert_eq!(
        call(s, &w.nurse, reqwest::Method::GET, &read, None).await.0,
        403
    );

    // PC-RIGHTS-2: filed to the journal once, then immutable in the database itself.
    let file = format!("/api/v1/orgs/{ORG}/messages/{}/file", posted.message);
    assert_eq!(
        call(s, &w.secretary, reqwest::Method::POST, &file, None)
            .await
            .0,
        403
    );
    assert_eq!(
        call(s, &w.doctor, reqwest::Method::POST, &file, None)
            .await
            .0,
        204
    );
    assert_eq!(
        call(s, &w.doctor, reqwest::Method::POST, &file, None)
            .await
            .0,
        409
    );
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    assert!(tx
        .expire_message(posted.message, now)
        .await
        .is_ok_and(|changed| !changed));
    drop(tx);

    // The access log holds every step, with no content.
    let log = ops(s, w.patient).await;
    for op in [
        "message.send",
        "message.read",
        "attachment.read",
        "message.file",
    ] {
        assert!(log.iter().any(|(o, _)| o == op), "{op} in {log:?}");
    }
    let dump = format!("{log:?}");
    assert!(
        !dump.contains("Prøvene") && !dump.contains("blodprøve") && !dump.contains("svar æ"),
        "{dump}"
    );
    let _ = w.doctor_id;
}

/// PC-STORE-1: surplus content is deleted when its retention runs out (messages and notices);
/// what was filed to the journal is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_unfiled_messages_when_the_clock_passes_it_and_keeps_filed_ones() {
    let w = world(&[
        ("TRYGG_MESSAGE_RETENTION_DAYS", "30"),
        ("TRYGG_NOTICE_RETENTION_DAYS", "30"),
        ("TRYGG_SMS_GATEWAY_URL", "http://127.0.0.1:9"),
        ("TRYGG_SMS_GATEWAY_TOKEN", "t"),
    ])
    .await;
    let s = &w.s;
    // A notice that reached its final state (here: given up) keeps its content for
    // notice_retention_days, then only its codes.
    let org = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut msg = s.store.messaging(&org).await.unwrap();
    msg.sender_name = Some("Normland".into());
    s.store.set_messaging(&org, &msg).await.unwrap();
    let consent = json!({"purpose": "portal-notices", "channel": "sms", "granted": true, "text_version": "1"});
    let r = s
        .send(
            Some(&w.secretary),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients/{}/consents", w.patient),
            Some(&consent),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (st, n) = call(
        s,
        &w.secretary,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/patients/{}/notices", w.patient),
        Some(json!({"kind": "new-message", "channel": "sms"})),
    )
    .await;
    assert_eq!(st, 201, "{n}");
    let notice: Uuid = n["id"].as_str().unwrap().parse().unwrap();
    {
        let h = s.store.org(&org).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        let now = s.app.now();
        // An hour on: whatever the server's own worker did with it meanwhile (an attempt at the
        // dead gateway, a retry later), it is due then; its later outcome cannot overwrite this
        // attempt's.
        let later = now + time::Duration::hours(1);
        let claimed = tx
            .claim_notices(later, later + time::Duration::minutes(1), 10)
            .await
            .unwrap();
        let mine = claimed.iter().find(|c| c.id == notice).unwrap();
        let outcome = trygg_store::notices::Outcome {
            status: "dead",
            next_at: now,
            error: Some("test"),
            gateway_id: None,
        };
        assert!(tx
            .notice_outcome(notice, mine.attempt, &outcome, now)
            .await
            .unwrap());
        tx.audit(&crate::common::test_event(ORG)).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = h.begin().await.unwrap();
        assert!(tx.answerable(notice).await.unwrap().is_some());
    }
    let start = format!("/api/v1/orgs/{ORG}/patients/{}/threads", w.patient);
    let (st, a) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "Kontroll", "body": "Slett meg",
        "attachments": [{"name": "a.txt", "media_type": "text/plain", "data": b64(b"vedlegg")}]})),
    )
    .await;
    assert_eq!(st, 201, "{a}");
    let (_, b) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "Journal", "body": "Behold meg"})),
    )
    .await;
    let keep = b["message"].as_str().unwrap();
    assert_eq!(
        call(
            s,
            &w.doctor,
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/messages/{keep}/file"),
            None
        )
        .await
        .0,
        204
    );

    // Not yet: 29 days on, nothing goes.
    s.clock.advance(time::Duration::days(29));
    let r = m::jobs_round(&s.app).await.unwrap();
    assert_eq!(r.expired, 0);
    // Past the policy: the unfiled message's content goes; the filed one stays.
    s.clock.advance(time::Duration::days(2));
    let r = m::jobs_round(&s.app).await.unwrap();
    assert_eq!(r.expired, 1);
    assert_eq!(m::jobs_round(&s.app).await.unwrap().expired, 0, "once");

    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    let threads = tx.threads(w.patient).await.unwrap();
    let gone = threads
        .iter()
        .find(|t| t.id.to_string() == a["thread"].as_str().unwrap())
        .unwrap();
    assert_eq!(gone.subject, None, "the subject goes with the last message");
    let msgs = tx.thread_messages(gone.id).await.unwrap();
    assert_eq!(msgs[0].body, None);
    assert!(msgs[0].deleted_at.is_some());
    assert_eq!(msgs[0].attachments[0].name, None);
    assert!(tx
        .attachment(msgs[0].attachments[0].id)
        .await
        .unwrap()
        .is_none());
    let kept = threads
        .iter()
        .find(|t| t.id.to_string() == b["thread"].as_str().unwrap())
        .unwrap();
    assert_eq!(kept.subject.as_deref(), Some("Journal"));
    assert_eq!(
        tx.thread_messages(kept.id).await.unwrap()[0]
            .body
            .as_deref(),
        Some("Behold meg")
    );
    drop(tx);
    // The audit log keeps that it happened (and says by which policy), not what it held.
    let log = ops(s, w.patient).await;
    assert!(
        log.iter()
            .any(|(o, d)| o == "message.expire" && d.as_deref() == Some("retention-30d")),
        "{log:?}"
    );
    assert!(!format!("{log:?}").contains("Slett meg"));
    // The notice: its row and codes stay, its content is gone.
    let h = s.store.org(&org).await.unwrap();
    let row = h.notice(notice).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.last_error.as_deref()),
        ("dead", Some("test"))
    );
    let mut tx = h.begin().await.unwrap();
    assert!(tx.answerable(notice).await.unwrap().is_none());
    drop(tx);
    let log = ops_all(s).await;
    assert!(
        log.iter().any(|(o, d)| o == "message.expire"
            && d.as_deref()
                .is_some_and(|d| d.starts_with("notices-emptied-"))),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_message_escalates_to_another_channel_then_to_a_task_for_personnel() {
    // SMS configured (a gateway nobody answers: notices wait in the outbox), e-mail not.
    let w = world(&[
        ("TRYGG_SMS_GATEWAY_URL", "http://127.0.0.1:9"),
        ("TRYGG_SMS_GATEWAY_TOKEN", "t"),
        ("TRYGG_MESSAGE_ESCALATE_AFTER_HOURS", "48"),
    ])
    .await;
    let s = &w.s;
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut msg = s.store.messaging(&o).await.unwrap();
    msg.sender_name = Some("Normland".into());
    s.store.set_messaging(&o, &msg).await.unwrap();
    let start = format!("/api/v1/orgs/{ORG}/patients/{}/threads", w.patient);
    // Without consent: no notice with the message; it waits in the portal.
    let (_, first) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "A", "body": "Les meg"})),
    )
    .await;
    assert_eq!(first["notified"], Value::Null, "{first}");
    // With consent to portal notices by SMS: the notice is queued with the message.
    let consent = json!({"purpose": "portal-notices", "channel": "sms", "granted": true, "text_version": "2026-12"});
    let r = s
        .send(
            Some(&w.secretary),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients/{}/consents", w.patient),
            Some(&consent),
        )
        .await;
    assert_eq!(r.status(), 201);
    let (_, second) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "B", "body": "Les meg også"})),
    )
    .await;
    assert_eq!(second["notified"], "sms", "{second}");
    // A third, which the patient reads in time: never escalates.
    let (_, third) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "C", "body": "Lest"})),
    )
    .await;
    // Review: one "new message" SMS while the last has not left, not one per message.
    assert_eq!(third["notified"], "sms", "{third}");
    let waiting = s
        .store
        .org(&o)
        .await
        .unwrap()
        .notices(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "new-message" && matches!(n.status.as_str(), "queued" | "sending"))
        .count();
    assert_eq!(waiting, 1);
    let me = patient_caller(w.patient, Assurance::High);
    let t3: Uuid = third["thread"].as_str().unwrap().parse().unwrap();
    m::read_thread(&s.app, Who::Patient(&me), ORG, t3, Lang::Nb, s.app.now())
        .await
        .unwrap();

    // The patient writes in the third thread; nobody in the care team reads it.
    m::post(
        &s.app,
        Who::Patient(&me),
        ORG,
        t3,
        m::MessageIn {
            body: "Hei, jeg lurer på noe".into(),
            attachments: vec![],
        },
        s.app.now(),
    )
    .await
    .unwrap();

    s.clock.advance(time::Duration::hours(47));
    assert_eq!(m::jobs_round(&s.app).await.unwrap().escalated, 0);
    s.clock.advance(time::Duration::hours(2));
    assert_eq!(m::jobs_round(&s.app).await.unwrap().escalated, 3);
    assert_eq!(m::jobs_round(&s.app).await.unwrap().escalated, 0, "once");

    let h = s.store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    let escalated = |id: &Value| {
        let id: Uuid = id.as_str().unwrap().parse().unwrap();
        id
    };
    let t1 = tx
        .thread_messages(escalated(&first["thread"]))
        .await
        .unwrap();
    let t2 = tx
        .thread_messages(escalated(&second["thread"]))
        .await
        .unwrap();
    let t3m = tx.thread_messages(t3).await.unwrap();
    // The first had no notice: its escalation is the SMS now consented to. The second had its
    // SMS already and e-mail is not configured: a task for personnel to phone or write.
    assert_eq!(t1[0].escalated.as_deref(), Some("notice-sms"));
    assert_eq!(t2[0].escalated.as_deref(), Some("task"));
    assert_eq!(t3m[0].escalated, None);
    // The patient's unread message: a task (PC-READ-1, both ways).
    assert_eq!(t3m[1].escalated.as_deref(), Some("task"));
    drop(tx);

    // The task list: patient-read; then marked done, once. The sessions are re-opened at the
    // moved clock.
    let secretary = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let interpreter = s
        .login(ORG, s.person(ORG, BuiltinRole::Interpreter).await)
        .await;
    let stranger = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Doctor).await)
        .await;
    let tasks = format!("/api/v1/orgs/{ORG}/tasks");
    let (st, list) = call(s, &secretary, reqwest::Method::GET, &tasks, None).await;
    assert_eq!(st, 200, "{list}");
    let open: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["reason"] == "unread-message")
        .collect();
    assert_eq!(open.len(), 1, "{list}");
    assert_eq!(open[0]["patient"], w.patient.to_string());
    assert_eq!(open[0]["message"], t2[0].id.to_string());
    assert_eq!(
        call(s, &interpreter, reqwest::Method::GET, &tasks, None)
            .await
            .0,
        403
    );
    let done = format!(
        "/api/v1/orgs/{ORG}/tasks/{}/done",
        open[0]["id"].as_str().unwrap()
    );
    assert_eq!(
        call(
            s,
            &stranger,
            reqwest::Method::POST,
            &done.replace(ORG, OTHER),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(s, &stranger, reqwest::Method::POST, &done, None)
            .await
            .0,
        404
    );
    let (st, row) = call(s, &secretary, reqwest::Method::POST, &done, None).await;
    assert_eq!(st, 200, "{row}");
    assert!(row["done_at"].is_string());
    assert_eq!(
        call(s, &secretary, reqwest::Method::POST, &done, None)
            .await
            .0,
        409
    );
    let (_, list) = call(s, &secretary, reqwest::Method::GET, &tasks, None).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["reason"] != "unread-message"),
        "{list}"
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|t| t["reason"] == "unread-from-patient"),
        "{list}"
    );

    let log = ops(s, w.patient).await;
    for op in ["message.escalate", "task.done", "notice.queue"] {
        assert!(log.iter().any(|(o, _)| o == op), "{op} in {log:?}");
    }
}

fn sign(body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    hex::encode(aws_lc_rs::hmac::sign(&key, body).as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_reply_ja_confirms_nei_cancels_and_anything_else_is_answered_once_and_not_kept() {
    let w = world(&[
        ("TRYGG_SMS_GATEWAY_URL", "http://127.0.0.1:9"),
        ("TRYGG_SMS_GATEWAY_TOKEN", "t"),
        ("TRYGG_SMS_DLR_SECRET", SECRET),
    ])
    .await;
    let s = &w.s;
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut msg = s.store.messaging(&o).await.unwrap();
    msg.sender_name = Some("Normland".into());
    s.store.set_messaging(&o, &msg).await.unwrap();
    let consent = json!({"purpose": "appointments", "channel": "sms", "granted": true, "text_version": "2026-12"});
    let r = s
        .send(
            Some(&w.secretary),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients/{}/consents", w.patient),
            Some(&consent),
        )
        .await;
    assert_eq!(r.status(), 201);
    let phone = {
        let h = s.store.org(&o).await.unwrap();
        let mut tx = h.begin().await.unwrap();
        let p = tx.patient(w.patient).await.unwrap().unwrap();
        p.phone.unwrap().expose().to_owned()
    };
    let plan = |start: &str| json!({"patient": w.patient.to_string(), "host": w.doctor_id, "start": start});
    let mut consultations = vec![];
    for day in ["2027-01-05T09:00:00Z", "2027-01-06T09:00:00Z"] {
        let (st, v) = call(
            s,
            &w.doctor,
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/consultations"),
            Some(plan(day)),
        )
        .await;
        assert_eq!(st, 201, "{v}");
        consultations.push(v["id"].as_str().unwrap().to_owned());
    }
    let notices = format!("/api/v1/orgs/{ORG}/patients/{}/notices", w.patient);
    // A change names the appointment it moves: the patient's own.
    let change = |c: &str| json!({"kind": "appointment-change", "channel": "sms", "params": {"when": "tirsdag kl. 09.00"}, "regarding": c});
    let (st, body) = call(
        s,
        &w.secretary,
        reqwest::Method::POST,
        &notices,
        Some(json!({"kind": "appointment-change", "channel": "sms", "params": {"when": "i dag"}})),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (422, Some("TR-M015")),
        "{body}"
    );
    let (st, body) = call(
        s,
        &w.secretary,
        reqwest::Method::POST,
        &notices,
        Some(change(&Uuid::new_v4().to_string())),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (422, Some("TR-M016")),
        "{body}"
    );
    let mut keys = vec![];
    for c in &consultations {
        let (st, body) = call(
            s,
            &w.secretary,
            reqwest::Method::POST,
            &notices,
            Some(change(c)),
        )
        .await;
        assert_eq!(st, 201, "{body}");
        keys.push(format!("{ORG}.{}", body["id"].as_str().unwrap()));
    }

    let inbound = |body: Value, signed: bool| {
        let raw = serde_json::to_vec(&body).unwrap();
        let sig = if signed { sign(&raw) } else { "00".repeat(32) };
        let client = s.client.clone();
        let url = s.url("/api/v1/notices/inbound-sms");
        async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("x-trygg-dlr-signature", sig)
                .body(raw)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let state = |c: String| {
        let s = &w.s;
        let doctor = &w.doctor;
        async move {
            let (_, list) = call(s, doctor, reqwest::Method::GET, &format!("/api/v1/orgs/{ORG}/consultations?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z"), None).await;
            list.as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == c.as_str())
                .map(|x| x["state"].as_str().unwrap().to_owned())
        }
    };
    // Unsigned, forged or malformed: refused, nothing changes.
    assert_eq!(
        inbound(json!({"from": phone, "text": "NEI", "key": keys[0]}), false).await,
        401
    );
    assert_eq!(
        inbound(
            json!({"from": "not a number", "text": "NEI", "key": keys[0]}),
            true
        )
        .await,
        422
    );
    assert_eq!(
        inbound(json!({"from": phone, "text": "NEI"}), true).await,
        204
    );
    // From another number: ignored (only the number it went to answers).
    assert_eq!(
        inbound(
            json!({"from": "+4799999999", "text": "NEI", "key": keys[0]}),
            true
        )
        .await,
        204
    );
    assert_eq!(
        state(consultations[0].clone()).await.as_deref(),
        Some("scheduled")
    );
    // NEI cancels the first; JA confirms the second.
    assert_eq!(
        inbound(
            json!({"from": phone, "text": " nei. ", "key": keys[0]}),
            true
        )
        .await,
        204
    );
    assert_eq!(
        state(consultations[0].clone()).await.as_deref(),
        Some("cancelled")
    );
    assert_eq!(
        inbound(json!({"from": phone, "text": "JA", "key": keys[1]}), true).await,
        204
    );
    assert_eq!(
        state(consultations[1].clone()).await.as_deref(),
        Some("scheduled")
    );
    // A later NEI to the answered one changes nothing, and starts no ping-pong.
    assert_eq!(
        inbound(json!({"from": phone, "text": "NEI", "key": keys[1]}), true).await,
        204
    );
    assert_eq!(
        state(consultations[1].clone()).await.as_deref(),
        Some("scheduled")
    );

    // Anything else: one automatic answer, the text kept nowhere.
    let (_, body) = call(
        s,
        &w.secretary,
        reqwest::Method::POST,
        &notices,
        Some(change(&consultations[1])),
    )
    .await;
    let key = format!("{ORG}.{}", body["id"].as_str().unwrap());
    let free_text = "Jeg har vondt i brystet, kan legen ringe?";
    assert_eq!(
        inbound(json!({"from": phone, "text": free_text, "key": key}), true).await,
        204
    );
    assert_eq!(
        inbound(json!({"from": phone, "text": free_text, "key": key}), true).await,
        204
    );
    let h = s.store.org(&o).await.unwrap();
    let answers: Vec<_> = h
        .notices(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "reply-not-read")
        .collect();
    assert_eq!(answers.len(), 1);
    // Review: a reply to the automatic answer (an auto-responder's) gets nothing: no ping-pong.
    let auto_key = format!("{ORG}.{}", answers[0].id);
    assert_eq!(
        inbound(
            json!({"from": phone, "text": "Auto: I am away", "key": auto_key}),
            true
        )
        .await,
        204
    );
    let again = h
        .notices(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "reply-not-read")
        .count();
    assert_eq!(again, 1);
    // Review: after the automatic answer to free text, a NEI still cancels, and the clinic gets a
    // task to find a new time.
    assert_eq!(
        inbound(json!({"from": phone, "text": "NEI", "key": key}), true).await,
        204
    );
    assert_eq!(
        state(consultations[1].clone()).await.as_deref(),
        Some("cancelled")
    );
    let mut tx = h.begin().await.unwrap();
    let tasks = tx.tasks(false, 100).await.unwrap();
    drop(tx);
    assert_eq!(
        tasks
            .iter()
            .filter(|t| t.reason == "cancelled-by-sms")
            .count(),
        2,
        "{tasks:?}"
    );
    let log = ops(s, w.patient).await;
    let replies: Vec<&Option<String>> = log
        .iter()
        .filter(|(o, _)| o == "sms.reply")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(
        replies,
        [
            &Some("no-cancelled".to_owned()),
            &Some("yes-confirmed".to_owned()),
            &Some("other-answered".to_owned()),
            &Some("no-cancelled".to_owned()),
        ]
    );
    assert!(
        log.iter()
            .any(|(o, d)| o == "consultation.cancel" && d.as_deref() == Some("sms-reply-nei")),
        "{log:?}"
    );
    assert!(!format!("{log:?}").contains("brystet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consultation_invitation_goes_as_a_notice_in_the_unit_that_plans_it() {
    let w = world(&[
        ("TRYGG_SMS_GATEWAY_URL", "http://127.0.0.1:9"),
        ("TRYGG_SMS_GATEWAY_TOKEN", "t"),
        ("TRYGG_PUBLIC_URL", "https://trygg.normland.example"),
    ])
    .await;
    let s = &w.s;
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut msg = s.store.messaging(&o).await.unwrap();
    msg.sender_name = Some("Normland".into());
    s.store.set_messaging(&o, &msg).await.unwrap();
    let consent =
        json!({"purpose": "appointments", "channel": "sms", "granted": true, "text_version": "1"});
    let r = s
        .send(
            Some(&w.secretary),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/patients/{}/consents", w.patient),
            Some(&consent),
        )
        .await;
    assert_eq!(r.status(), 201);
    let plans = format!("/api/v1/orgs/{ORG}/consultations");
    let plan = |patient: Uuid, notify: &str| json!({"patient": patient.to_string(), "host": w.doctor_id, "start": "2027-01-05T09:00:00Z", "notify": notify});
    let count = |s: &TestServer| {
        let h = s.store.clone();
        let o = o.clone();
        async move {
            let h = h.org(&o).await.unwrap();
            h.notices(None, 100)
                .await
                .unwrap()
                .into_iter()
                .filter(|n| n.kind == "consultation-invitation")
                .count()
        }
    };
    let (st, body) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &plans,
        Some(plan(w.patient, "fax")),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (422, Some("TR-K012")),
        "{body}"
    );
    // No consent for the other patient: refused, and nothing planned (one unit).
    let (_, before) = call(
        s,
        &w.doctor,
        reqwest::Method::GET,
        &format!("{plans}?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z"),
        None,
    )
    .await;
    let (st, body) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &plans,
        Some(plan(w.other_patient, "sms")),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (409, Some("TR-K014")),
        "{body}"
    );
    let (_, after) = call(
        s,
        &w.doctor,
        reqwest::Method::GET,
        &format!("{plans}?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z"),
        None,
    )
    .await;
    assert_eq!(
        before.as_array().unwrap().len(),
        after.as_array().unwrap().len()
    );
    assert_eq!(count(s).await, 0);
    // With consent: planned, and the link queued as an SMS to the patient.
    let (st, body) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &plans,
        Some(plan(w.patient, "sms")),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(count(s).await, 1);
    let log = ops(s, w.patient).await;
    assert!(
        log.iter().any(
            |(o, d)| o == "notice.queue" && d.as_deref() == Some("sms-consultation-invitation")
        ),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_messages_page_shows_threads_to_the_care_team_with_the_urgent_line_and_escapes_what_it_shows(
) {
    let w = world(&[]).await;
    let s = &w.s;
    let start = format!("/api/v1/orgs/{ORG}/patients/{}/threads", w.patient);
    let (st, posted) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &start,
        Some(json!({"subject": "Time <b>blåbærtime</b> uke", "body": "Linje én\n<script>alert(1)</script>"})),
    )
    .await;
    assert_eq!(st, 201, "{posted}");
    let get = |who: Option<&Session>, path: String| {
        let s = &w.s;
        let who = who.cloned();
        async move {
            let r = s
                .send(who.as_ref(), reqwest::Method::GET, &path, None)
                .await;
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Not signed in: to the login page.
    let r = s
        .client
        .get(s.url("/personell/meldinger"))
        .send()
        .await
        .unwrap();
    assert!(r.url().path().starts_with("/personell"), "{}", r.url());
    assert!(!r.text().await.unwrap().contains("Samtaler"));
    // The tasks (no patient chosen), the urgent line on every view (PC-EMERG-1).
    let (st, html) = get(Some(&w.doctor), "/personell/meldinger".into()).await;
    assert_eq!(st, 200);
    assert!(
        html.contains("Oppfølging") && html.contains("113"),
        "{html}"
    );
    let (st, html) = get(
        Some(&w.doctor),
        format!("/personell/meldinger?patient={}&lang=en", w.patient),
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        html.contains("113") && html.contains("Conversations"),
        "{html}"
    );
    assert!(
        html.contains("blåbærtime") && !html.contains("<b>blåbærtime"),
        "escaped: {html}"
    );
    let thread = posted["thread"].as_str().unwrap();
    let (st, html) = get(
        Some(&w.doctor),
        format!("/personell/meldinger?thread={thread}"),
    )
    .await;
    assert_eq!(st, 200);
    assert!(
        html.contains("alert(1)") && !html.contains("<script>alert"),
        "{html}"
    );
    assert!(
        html.contains("Ikke lest ennå") && html.contains("Før i journal") && html.contains("113")
    );
    // No care relationship, or no right: the page says so and shows nothing of the patient's.
    let (st, html) = get(
        Some(&w.nurse),
        format!("/personell/meldinger?thread={thread}"),
    )
    .await;
    assert_eq!(st, 403);
    assert!(
        !html.contains("blåbærtime") && html.contains("behandlingsforhold"),
        "{html}"
    );
    let (st, html) = get(
        Some(&w.secretary),
        format!("/personell/meldinger?patient={}", w.patient),
    )
    .await;
    assert_eq!(st, 403);
    assert!(!html.contains("blåbærtime"));
    // Nonsense in the query: the tasks view, not an error page.
    let (st, _) = get(
        Some(&w.doctor),
        "/personell/meldinger?thread=%00&x=1".into(),
    )
    .await;
    assert_eq!(st, 200);
}

/// The messages page and the thread API for the callers an attacker would be: a login below the
/// organisation's minimum for health data, someone from another organisation, a clinician whose
/// grants were revoked and one whose employment ended (the rule is decided live at every request,
/// not from a stored role: PC-ACL-1, PC-AUTHN-3). Each is refused and shown nothing of the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_messages_page_and_api_refuse_a_low_login_another_organisation_a_revoked_grant_and_an_ended_employment(
) {
    let w = world(&[]).await;
    let s = &w.s;
    let (st, posted) = call(
        s,
        &w.doctor,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/patients/{}/threads", w.patient),
        Some(json!({"subject": "Kontrolltime tyttebær", "body": "Hei"})),
    )
    .await;
    assert_eq!(st, 201, "{posted}");
    let thread = posted["thread"].as_str().unwrap().to_owned();
    let page = format!("/personell/meldinger?thread={thread}");
    let api = format!("/api/v1/orgs/{ORG}/threads/{thread}");
    // Refused on both faces, and nothing of the thread shown.
    let refused = |who: Session, what: &'static str| {
        let (page, api) = (page.clone(), api.clone());
        async move {
            let r = s.send(Some(&who), reqwest::Method::GET, &page, None).await;
            let st = r.status().as_u16();
            // An ended employment ends the person's sessions: to the login page.
            let to_login = r.url().path() != "/personell/meldinger";
            let html = r.text().await.unwrap();
            assert!(st == 403 || st == 404 || to_login, "{what}: page {st}");
            assert!(!html.contains("tyttebær"), "{what}: {html}");
            let (st, body) = call(s, &who, reqwest::Method::GET, &api, None).await;
            assert!(
                st == 401 || st == 403 || st == 404,
                "{what}: api {st} {body}"
            );
            assert!(!body.to_string().contains("tyttebær"), "{what}: {body}");
            let (st, body) = call(
                s,
                &who,
                reqwest::Method::POST,
                &format!("{api}/messages"),
                Some(json!({"body": "fra en som ikke skal"})),
            )
            .await;
            assert!(
                st == 401 || st == 403 || st == 404,
                "{what}: post {st} {body}"
            );
        }
    };
    // A developer login (assurance low) of the very doctor with the care relationship.
    let low = s
        .login_with(
            ORG,
            w.doctor_id,
            trygg_server::auth::AuthMethod::Developer,
            Assurance::Low,
        )
        .await;
    refused(low, "assurance low").await;
    // Another organisation's clinician (the thread id is no secret to them).
    refused(w.stranger.clone(), "another organisation").await;
    // The nurse, given a care relationship, whose employment then ends.
    let nurse_id = s.person(ORG, BuiltinRole::Nurse).await;
    let r = s
        .send(
            Some(&w.nurse),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/care-relationships"),
            Some(&json!({"personnel_id": nurse_id, "patient_id": w.patient, "reason": "fastlege", "days": 30})),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let ended = s.login(ORG, nurse_id).await;
    let (st, _) = call(s, &ended, reqwest::Method::GET, &api, None).await;
    assert_eq!(st, 200, "the nurse reads before the employment ends");
    s.end_employment(ORG, nurse_id).await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    refused(ended, "employment ended (its session)").await;
    // A session opened behind the login's back after the end: still refused.
    refused(
        s.login(ORG, nurse_id).await,
        "employment ended (a new session)",
    )
    .await;
    // The first doctor's grants revoked: the same session that read a moment ago is refused.
    let (st, _) = call(s, &w.doctor, reqwest::Method::GET, &api, None).await;
    assert_eq!(st, 200);
    let (_, grants) = call(
        s,
        &admin,
        reqwest::Method::GET,
        &format!("/api/v1/orgs/{ORG}/personnel/{}/grants", w.doctor_id),
        None,
    )
    .await;
    for g in grants.as_array().unwrap() {
        let (st, body) = call(
            s,
            &admin,
            reqwest::Method::POST,
            &format!(
                "/api/v1/orgs/{ORG}/grants/{}/revoke",
                g["id"].as_str().unwrap()
            ),
            Some(json!({"reason": "left"})),
        )
        .await;
        assert!((200..300).contains(&st), "{body}");
    }
    refused(w.doctor.clone(), "grant revoked").await;
}

/// A patient in the portal changes their own consents only (PC-CONSENT-2), at substantial or
/// high, in their own organisation; and never sends notices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_changes_only_their_own_consents_and_sends_no_notices() {
    use trygg_app::notices::{self as n, By, ConsentIn};
    let w = world(&[]).await;
    let app = &w.s.app;
    let now = app.now();
    let input = || ConsentIn {
        purpose: "appointments".into(),
        channel: "sms".into(),
        granted: true,
        text_version: "portal-2026-12".into(),
    };
    let me = patient_caller(w.patient, Assurance::Substantial);
    let row = n::set_consent(app, By::Patient(&me), ORG, w.patient, input(), now)
        .await
        .unwrap();
    assert_eq!(row.recorded_by, format!("patient:{}", w.patient));
    // Someone else's consent, a login below substantial, another organisation: refused.
    let e = n::set_consent(app, By::Patient(&me), ORG, w.other_patient, input(), now)
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-M060");
    let low = patient_caller(w.patient, Assurance::Low);
    let e = n::set_consent(app, By::Patient(&low), ORG, w.patient, input(), now)
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-M060");
    let e = n::set_consent(app, By::Patient(&me), OTHER, w.patient, input(), now)
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-A404");
    assert!(
        n::consents(app, By::Patient(&me), ORG, w.other_patient, now)
            .await
            .is_err()
    );
    let send: n::SendIn =
        serde_json::from_value(json!({"kind": "new-message", "channel": "sms"})).unwrap();
    let e = n::send(app, By::Patient(&me), ORG, w.patient, send, now)
        .await
        .unwrap_err();
    assert_eq!(e.code, "TR-M060");
}
