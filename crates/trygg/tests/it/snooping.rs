//! Snooping detection over the real access log (issue #16, begun): a clinician with a care
//! relationship reads their patient (explained, no case); another opens the record of a patient
//! who shares their surname with no relation (a case, reason "same surname"); the reading of
//! the log for control is itself logged.

use serde_json::json;
use trygg_core::BuiltinRole;

use crate::common::TestServer;
use crate::matrix::store_tx;

const ORG: &str = "normland-legesenter";

#[tokio::test]
async fn an_unexplained_look_at_a_namesake_is_a_case_and_a_cared_for_patient_is_not() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let pats = store_tx(&s, |tx| {
        Box::pin(async move {
            tx.list_patients()
                .await
                .unwrap()
                .into_iter()
                .map(|p| (p.id, p.name.expose().to_owned()))
                .collect::<Vec<_>>()
        })
    })
    .await;
    let (p, q) = (pats[0].clone(), pats[1].clone());
    let surname = q.1.split_whitespace().last().unwrap().to_owned();
    // A: a doctor with a care relationship to P, who reads P.
    let a = s.person(ORG, BuiltinRole::Doctor).await;
    let sa = s
        .login_with(
            ORG,
            a,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let res = s
        .send(
            Some(&sa),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/care-relationships"),
            Some(&json!({
                "personnel_id": a, "patient_id": p.0, "reason": "fastlege", "days": 30
            })),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let res = s
        .send(
            Some(&sa),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{}", p.0),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    // B: a new doctor who shares Q's surname, with no relation to Q, opens Q's record.
    let name = format!("Kari {surname}");
    let b = s.new_personnel(ORG, &name, BuiltinRole::Doctor).await;
    let sb = s
        .login_with(
            ORG,
            b,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let res = s
        .send(
            Some(&sb),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{}", q.0),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);

    let now = s.app.now();
    let day = now.date().midnight().assume_utc();
    let out = trygg_app::snooping::detect(&s.app, &trygg_app::operator::Console, ORG, day, now)
        .await
        .unwrap();
    assert!(out.explained >= 1, "{out:?}");
    let case = out
        .cases
        .iter()
        .find(|c| c.actor == b && c.patient == Some(q.0));
    let case = case.unwrap_or_else(|| panic!("no case for the namesake: {out:?}"));
    assert!(case.reasons.contains(&"SameSurname".to_owned()), "{case:?}");
    assert!(case
        .words
        .iter()
        .any(|w| w == "Samme etternavn som pasienten"));
    assert!(
        !out.cases
            .iter()
            .any(|c| c.actor == a && c.patient == Some(p.0)),
        "{out:?}"
    );
    // No names in what the console gets.
    let text = serde_json::to_string(&out).unwrap();
    assert!(!text.contains(&q.1) && !text.contains(&surname));
    // The control read is in the log.
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    let logged = h.audit_events(None).await.unwrap().iter().any(|(_, e)| {
        e.operation.as_str() == "audit.search"
            && e.entity
                .as_ref()
                .and_then(|x| x.detail.as_ref())
                .is_some_and(|d| d.as_str() == "snooping-detect")
    });
    assert!(logged);
}

/// The case queue (issue #16): only a log-control role of the organisation's own reads and
/// decides it (not the administrator, not the person the case is about); every read is logged,
/// one case's read in the patient's own log; an outcome is set once; a confirmed case opens an
/// incident with the patient as affected.
#[tokio::test]
async fn the_case_queue_is_for_log_control_and_every_read_is_logged() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let q = store_tx(&s, |tx| {
        Box::pin(async move { tx.list_patients().await.unwrap()[1].id })
    })
    .await;
    let b = s.person(ORG, BuiltinRole::Doctor).await;
    let now = s.app.now();
    // A log-control role and a person in it.
    trygg_app::operator::define_role(
        &s.app,
        &trygg_app::operator::Console,
        ORG,
        trygg_app::operator::RoleIn {
            name: "logg-kontroll".into(),
            permissions: vec!["log-control".into()],
        },
        now,
    )
    .await
    .unwrap();
    let c = s
        .new_personnel(ORG, "Line Kontroll", BuiltinRole::Secretary)
        .await;
    let day = now.date().to_string();
    let (case_b, case_c) = store_tx(&s, move |tx| {
        Box::pin(async move {
            let t = now.unix_timestamp();
            tx.grant_role(c, "logg-kontroll", t - 60, None, "test", t)
                .await
                .unwrap();
            tx.save_snoop_case(&day, b, Some(q), 40, "SameSurname", 2, now)
                .await
                .unwrap();
            tx.save_snoop_case(&day, c, Some(q), 30, "Colleague", 1, now)
                .await
                .unwrap();
            let all = tx.open_snoop_cases(100).await.unwrap();
            let find = |a| all.iter().find(|x| x.actor == a).unwrap().id;
            (find(b), find(c))
        })
    })
    .await;
    let sc = s
        .login_with(
            ORG,
            c,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let path = format!("/api/v1/orgs/{ORG}/snooping/cases");
    let res = s.send(Some(&sc), reqwest::Method::GET, &path, None).await;
    assert_eq!(res.status().as_u16(), 200);
    let list: serde_json::Value = res.json().await.unwrap();
    // C sees the case about B, not the one about C, and no patient in the queue.
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], case_b.to_string());
    assert!(list[0]["patient"].is_null());
    assert_eq!(list[0]["about_a_patient"], true);
    // Nor can C open their own case.
    let own = s
        .send(
            Some(&sc),
            reqwest::Method::GET,
            &format!("{path}/{case_c}"),
            None,
        )
        .await;
    assert_eq!(own.status().as_u16(), 403);
    // The administrator (a manager) and the doctor the case is about are refused.
    let admin = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let sa = s
        .login_with(
            ORG,
            admin,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    assert_eq!(
        s.send(Some(&sa), reqwest::Method::GET, &path, None)
            .await
            .status()
            .as_u16(),
        403
    );
    let sb = s
        .login_with(
            ORG,
            b,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    assert_eq!(
        s.send(
            Some(&sb),
            reqwest::Method::GET,
            &format!("{path}/{case_b}"),
            None
        )
        .await
        .status()
        .as_u16(),
        403
    );
    // One case read: logged in the patient's log.
    let res = s
        .send(
            Some(&sc),
            reqwest::Method::GET,
            &format!("{path}/{case_b}"),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    let q_log = h.audit_events(Some(&q.to_string())).await.unwrap();
    assert!(
        q_log
            .iter()
            .any(|(_, e)| e.operation.as_str() == "snoop.case-read"),
        "the read is in the patient's log"
    );
    // Nobody decides their own case; a bad outcome is refused; confirmed opens an incident.
    let decide = |id: uuid::Uuid, outcome: &str| {
        let body = json!({"outcome": outcome});
        let path = format!("{path}/{id}/outcome");
        let sc = &sc;
        let s = &s;
        async move {
            s.send(Some(sc), reqwest::Method::POST, &path, Some(&body))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(decide(case_c, "explained").await, 403);
    assert_eq!(decide(case_b, "ignored").await, 422);
    assert_eq!(decide(case_b, "confirmed").await, 200);
    assert_eq!(decide(case_b, "explained").await, 409, "once");
    // The patient's access log marks B's look at their record that day as found unjustified.
    let sb2 = s
        .login_with(
            ORG,
            b,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::High,
        )
        .await;
    let res = s
        .send(
            Some(&sb2),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{q}"),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    // Read, as the patient's own access log is shown, by a doctor in their care.
    let d = s.new_personnel(ORG, "Dag Lege", BuiltinRole::Doctor).await;
    store_tx(&s, move |tx| {
        Box::pin(async move {
            let t = now.unix_timestamp();
            tx.create_care_relationship(d, q, "fastlege", t - 60, t + 3600, "test", t)
                .await
                .unwrap();
        })
    })
    .await;
    let sd = s
        .login_with(
            ORG,
            d,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::High,
        )
        .await;
    let res = s
        .send(
            Some(&sd),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{q}/access-log"),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
    let lines: serde_json::Value = res.json().await.unwrap();
    let lines = lines.as_array().unwrap();
    assert!(lines.iter().any(|l| l["unjustified"] == true), "{lines:?}");
    assert!(
        lines.iter().any(|l| l["unjustified"] == false),
        "only that person's lines are marked"
    );
    let incidents =
        trygg_app::incidents::list(&s.app, trygg_app::compliance::By::Console, ORG, s.app.now())
            .await
            .unwrap();
    let i = incidents
        .iter()
        .find(|i| i.facts.affected_patients == [q.to_string()])
        .expect("an incident for the confirmed case");
    assert!(i.facts.confidentiality);
}
