//! Notices through the API (issue #12): a person queues a notice to a patient and records the
//! patient's consent, with the access rule asked live (who may, from which organisation), the
//! guard and the consent checked, and every step in the patient's access log. Delivery itself
//! is tested against real peers in `tests/e2e/specs/notices.test.js`.

use serde_json::{json, Value};
use trygg_core::BuiltinRole;

use crate::common::TestServer;

const ORG: &str = "normland-legesenter";
const OTHER: &str = "normbakken-kommune-hjemmetjenesten";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_needs_the_right_the_guard_and_the_patients_consent() {
    // A gateway nobody answers on: notices are queued and wait; delivery is not what this tests.
    let s = TestServer::start_with(&[
        ("TRYGG_SMS_GATEWAY_URL", "http://127.0.0.1:9"),
        ("TRYGG_SMS_GATEWAY_TOKEN", "t"),
    ])
    .await;
    s.seed_demo().await;
    let org = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let secretary = s
        .login(ORG, s.person(ORG, BuiltinRole::Secretary).await)
        .await;
    let interpreter = s
        .login(ORG, s.person(ORG, BuiltinRole::Interpreter).await)
        .await;
    let stranger = s
        .login(OTHER, s.person(OTHER, BuiltinRole::Doctor).await)
        .await;
    let patients: Vec<Value> = s
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
    let patient = patients[0]["id"].as_str().unwrap().to_owned();
    let notices = format!("/api/v1/orgs/{ORG}/patients/{patient}/notices");
    let consents = format!("/api/v1/orgs/{ORG}/patients/{patient}/consents");
    let send = |who, body: Value| {
        let path = notices.clone();
        let s = &s;
        async move {
            let r = s
                .send(Some(who), reqwest::Method::POST, &path, Some(&body))
                .await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let reminder = json!({"kind": "new-message", "channel": "sms"});

    // The organisation's name is no SMS sender (11 letters at most): told how to set one.
    let (st, body) = send(&secretary, reminder.clone()).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (422, Some("TR-M006")),
        "{body}"
    );
    let mut m = s.store.messaging(&org).await.unwrap();
    m.sender_name = Some("Normland".into());
    s.store.set_messaging(&org, &m).await.unwrap();

    // No consent yet (PC-CONSENT-1): nothing is queued.
    let (st, body) = send(&secretary, reminder.clone()).await;
    assert_eq!(
        (st, body["code"].as_str()),
        (409, Some("TR-M013")),
        "{body}"
    );

    // Who may record consent and send: not an interpreter, not another organisation's doctor.
    let consent = json!({"purpose": "portal-notices", "channel": "sms", "granted": true, "text_version": "2026-12"});
    for (who, expected) in [(&interpreter, 403), (&stranger, 404)] {
        let r = s
            .send(Some(who), reqwest::Method::POST, &consents, Some(&consent))
            .await;
        assert_eq!(r.status().as_u16(), expected);
        assert_eq!(send(who, reminder.clone()).await.0, expected);
    }
    let r = s
        .send(
            Some(&secretary),
            reqwest::Method::POST,
            &consents,
            Some(&consent),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());

    let (st, body) = send(&secretary, reminder.clone()).await;
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["verdict"], "allow");
    let id = body["id"].as_str().unwrap().to_owned();

    // Health content is refused by the guard, with its reason; hostile input is a clear error.
    let (st, body) = send(
        &secretary,
        json!({"kind": "opening-hours", "channel": "sms",
               "params": {"text": "Husk å ta med blodsukkermåleren og insulinpennen."}}),
    )
    .await;
    assert_eq!(
        (st, body["code"].as_str()),
        (422, Some("TR-M020")),
        "{body}"
    );
    for bad in [
        json!({"kind": "new-message", "channel": "sms", "params": {"when": "i dag"}}),
        json!({"kind": "new-message\u{202e}", "channel": "sms"}),
        json!({"kind": "new-message", "channel": "sms", "extra": 1}),
        json!({"kind": "appointment-reminder", "channel": "sms", "params": {"when": "i dag\r\nBcc: x@y.no"}}),
        // One-time codes come from the login flow only; links that disguise their host.
        json!({"kind": "one-time-code", "channel": "sms", "params": {"code": "123456"}}),
        json!({"kind": "consultation-invitation", "channel": "sms",
               "params": {"when": "i dag", "link": "https://normland.no@evil.example/j"}}),
    ] {
        let (st, body) = send(&secretary, bad.clone()).await;
        assert_eq!(st, 422, "{bad}: {body}");
    }

    // Withdrawn (PC-CONSENT-2): the next one is refused; the history keeps both.
    let withdraw = json!({"purpose": "portal-notices", "channel": "sms", "granted": false, "text_version": "2026-12"});
    let r = s
        .send(
            Some(&secretary),
            reqwest::Method::POST,
            &consents,
            Some(&withdraw),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(send(&secretary, reminder.clone()).await.0, 409);
    let history: Vec<Value> = s
        .send(Some(&secretary), reqwest::Method::GET, &consents, None)
        .await
        .json()
        .await
        .unwrap();
    let granted: Vec<bool> = history
        .iter()
        .map(|c| c["granted"].as_bool().unwrap())
        .collect();
    assert_eq!(granted, [true, false]);

    // The patient's log shows the consent's changes and the notice, with who did it.
    let h = s.store.org(&org).await.unwrap();
    let events = h.audit_events(Some(&patient)).await.unwrap();
    let ops: Vec<String> = events
        .iter()
        .map(|(_, e)| e.operation.as_str().to_owned())
        .collect();
    for op in ["consent.give", "notice.queue", "consent.withdraw"] {
        assert!(ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }
    // Nothing of the notice's content or the patient's number is in the log.
    let dump = format!("{events:?}");
    assert!(
        !dump.contains("ny melding") && !dump.contains("+47"),
        "{dump}"
    );
    assert!(!id.is_empty());
}
