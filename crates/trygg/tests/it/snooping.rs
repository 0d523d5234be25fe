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
