//! Snooping detection over the real access log (issue #16): a clinician with a care
//! relationship reads their patient (explained, no case); another opens the record of a patient
//! who shares their surname with no relation (a case, reason "same surname"); the reading of
//! the log for control is itself logged.

use serde_json::json;
use trygg_core::BuiltinRole;

use crate::common::TestServer;
use crate::matrix::store_tx;

const ORG: &str = "normland-legesenter";
const OTHER: &str = "normbakken-kommune-hjemmetjenesten";

/// A new person of the organisation in a log-control role (PC-ACL-1: no built-in role has
/// `log-control`, so the console defines one) and a secretary's grant.
async fn log_controller(s: &TestServer, name: &str) -> uuid::Uuid {
    let now = s.app.now();
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
    let c = s.new_personnel(ORG, name, BuiltinRole::Secretary).await;
    store_tx(s, move |tx| {
        Box::pin(async move {
            let t = now.unix_timestamp();
            tx.grant_role(c, "logg-kontroll", t - 60, None, "test", t)
                .await
                .unwrap();
        })
    })
    .await;
    c
}

/// A server with the demo's organisations, and the patients of ours (id and name).
async fn demo_with_patients() -> (TestServer, Vec<(uuid::Uuid, String)>) {
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
    (s, pats)
}

/// A person's session after a passkey login (assurance substantial).
async fn signed_in(s: &TestServer, person: uuid::Uuid) -> crate::common::Session {
    s.login_with(
        ORG,
        person,
        trygg_server::auth::AuthMethod::Passkey,
        trygg_audit::Assurance::Substantial,
    )
    .await
}

/// Today's cases saved to the queue, each (person who looked, patient, score, reason codes,
/// accesses); their ids in the same order.
async fn saved_cases<const N: usize>(
    s: &TestServer,
    cases: [(uuid::Uuid, uuid::Uuid, u32, &'static str, u32); N],
) -> [uuid::Uuid; N] {
    let now = s.app.now();
    let day = now.date().to_string();
    store_tx(s, move |tx| {
        Box::pin(async move {
            for (actor, patient, score, reasons, n) in cases {
                tx.save_snoop_case(&day, actor, Some(patient), score, reasons, n, now)
                    .await
                    .unwrap();
            }
            let all = tx.open_snoop_cases(100).await.unwrap();
            cases.map(|(actor, patient, ..)| {
                all.iter()
                    .find(|x| x.actor == actor && x.patient == Some(patient))
                    .unwrap()
                    .id
            })
        })
    })
    .await
}

/// The organisation's audit log (about one patient, or all of it).
async fn audit_log(
    s: &TestServer,
    patient: Option<uuid::Uuid>,
) -> Vec<(u64, trygg_audit::AuditEvent)> {
    s.org_store(ORG)
        .await
        .audit_events(patient.map(|p| p.to_string()).as_deref())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_unexplained_look_at_a_namesake_is_a_case_and_a_cared_for_patient_is_not() {
    let (s, pats) = demo_with_patients().await;
    let (p, q) = (pats[0].clone(), pats[1].clone());
    let surname = q.1.split_whitespace().last().unwrap().to_owned();
    // A: a doctor with a care relationship to P, who reads P.
    let a = s.person(ORG, BuiltinRole::Doctor).await;
    let sa = signed_in(&s, a).await;
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
    let sb = signed_in(&s, b).await;
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
    let day = s.app.config.zone().local(now).date();
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
    let logged = audit_log(&s, None).await.iter().any(|(_, e)| {
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
    let c = log_controller(&s, "Line Kontroll").await;
    let [case_b, case_c] = saved_cases(
        &s,
        [(b, q, 40, "SameSurname", 2), (c, q, 30, "Colleague", 1)],
    )
    .await;
    let sc = signed_in(&s, c).await;
    let path = format!("/api/v1/orgs/{ORG}/snooping/cases");
    let res = s.send(Some(&sc), reqwest::Method::GET, &path, None).await;
    assert_eq!(res.status().as_u16(), 200);
    let list: serde_json::Value = res.json().await.unwrap();
    // C sees the case about B, not the one about C, and no patient in the queue.
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], case_b.to_string());
    assert!(list[0]["patient"].is_null() && list[0]["patient_name"].is_null());
    assert!(list[0]["actor_name"].is_string(), "who looked, by name");
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
    let sa = signed_in(&s, admin).await;
    assert_eq!(
        s.send(Some(&sa), reqwest::Method::GET, &path, None)
            .await
            .status()
            .as_u16(),
        403
    );
    let sb = signed_in(&s, b).await;
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
    let q_log = audit_log(&s, Some(q)).await;
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
    // Both refusals of one's own case are in the log as denied attempts.
    let denied = s
        .org_store(ORG)
        .await
        .audit_events(None)
        .await
        .unwrap()
        .iter()
        .filter(|(_, e)| {
            e.operation.as_str().starts_with("snoop.")
                && e.outcome == trygg_audit::Outcome::Denied
                && e.entity
                    .as_ref()
                    .and_then(|x| x.id.as_ref())
                    .map(|i| i.as_str())
                    == Some(case_c.to_string().as_str())
        })
        .count();
    assert_eq!(
        denied, 2,
        "the read and the decision of one's own case are logged"
    );
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

/// The log-control pages (issue #16, PC-ACL-1): the queue at `/admin/loggkontroll` names the
/// person who looked and the reasons in words, never the patient, and hides a case about the
/// reader; a case's page names the patient and the reasons in the page's language, with the form
/// that records the outcome once (a decided case shows its outcome and no form; a confirmed one
/// says an incident was opened). Someone without `log-control` gets the 403 page, too low a login
/// the same, nobody signed in the login page; the outcome posted through the API the page's
/// script uses is recorded once.
#[tokio::test]
async fn the_log_control_pages_show_the_queue_without_patients_and_decide_a_case_once() {
    let (s, pats) = demo_with_patients().await;
    let ((q, q_name), (r, r_name)) = (pats[1].clone(), pats[2].clone());
    let b = s
        .new_personnel(ORG, "Knut Kikker Vik", BuiltinRole::Doctor)
        .await;
    let c = log_controller(&s, "Line Kontroll").await;
    let [case_q, case_r, case_c] = saved_cases(
        &s,
        [
            (b, q, 65, "SameSurname,SearchThenOpen", 2),
            (b, r, 30, "Colleague", 1),
            (c, q, 30, "Colleague", 1),
        ],
    )
    .await;
    let server = &s;
    let get = move |path: String, cookie: Option<String>| async move {
        server.page(&path, cookie.as_deref()).await
    };
    let sc = signed_in(&s, c).await;
    let queue = "/admin/loggkontroll".to_owned();
    let page_q = format!("/admin/loggkontroll/{case_q}");

    // The queue: who looked by name, the reasons in words, no patient, not the reader's own case.
    let (st, _, html) = get(format!("{queue}?lang=nb"), Some(sc.cookie.clone())).await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains("Knut Kikker Vik"), "{html}");
    assert!(html.contains("Samme etternavn som pasienten"));
    assert!(html.contains("Søkte opp og åpnet journalen uten relasjon"));
    assert!(html.contains("Pasienten er en kollega"));
    for secret in [&q_name, &r_name, &q.to_string(), &r.to_string()] {
        assert!(!html.contains(secret.as_str()), "the queue names a patient");
    }
    assert!(!html.contains("SameSurname") && !html.contains("log-control"));
    assert!(html.contains(&format!("/admin/loggkontroll/{case_q}?lang=nb")));
    assert!(
        !html.contains(&case_c.to_string()),
        "nobody sees their own case"
    );
    assert!(html.contains("href=\"/admin/loggkontroll?lang=nb\" aria-current=\"page\""));
    assert!(html.contains("<th scope=\"col\">") && html.contains("<html lang=\"nb\">"));

    // One case: the patient by name, the reasons in the page's language, the form once.
    let (st, _, html) = get(format!("{page_q}?lang=en"), Some(sc.cookie.clone())).await;
    assert_eq!(st, 200, "{html}");
    assert!(html.contains(&q_name), "the opened case names the patient");
    assert!(html.contains("Same surname as the patient"));
    assert!(html.contains("Searched for and opened the record with no relation"));
    let form = format!("data-api=\"/api/v1/orgs/{ORG}/snooping/cases/{case_q}/outcome\"");
    assert!(html.contains(&form), "{html}");
    let (_, _, nn) = get(format!("{page_q}?lang=nn"), Some(sc.cookie.clone())).await;
    assert!(nn.contains("Same etternamn som pasienten") && nn.contains("<html lang=\"nn\">"));
    // Nor can the reader open the case about themselves.
    let (st, ..) = get(
        format!("/admin/loggkontroll/{case_c}"),
        Some(sc.cookie.clone()),
    )
    .await;
    assert_eq!(st, 403);
    let (st, ..) = get(
        "/admin/loggkontroll/not-a-case".into(),
        Some(sc.cookie.clone()),
    )
    .await;
    assert_eq!(st, 404);

    // Refused callers: no right (a nurse, and the administrator), too low, nobody signed in.
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let admin = s
        .login(ORG, s.person(ORG, BuiltinRole::OrgAdmin).await)
        .await;
    let low = s
        .login_with(
            ORG,
            c,
            trygg_server::auth::AuthMethod::Developer,
            trygg_audit::Assurance::Low,
        )
        .await;
    for p in [&queue, &page_q] {
        for (who, cookie) in [("nurse", &nurse), ("admin", &admin), ("low", &low)] {
            let (st, _, html) = get(p.clone(), Some(cookie.cookie.clone())).await;
            assert_eq!(st, 403, "{p}: {who}");
            assert!(!html.contains(&q_name), "{p}: {who}");
        }
        let (st, to, _) = get(format!("{p}?lang=en"), None).await;
        assert_eq!(st, 303, "{p}: anonymous");
        assert_eq!(to.as_deref(), Some("/personell?lang=en"));
    }
    // The navigation offers the queue to log control only (above), not to the administrator.
    let (st, _, page) = get("/admin".into(), Some(admin.cookie.clone())).await;
    assert_eq!(st, 200);
    assert!(!page.contains("/admin/loggkontroll"));

    // The outcome through the API the page's script posts to: recorded once.
    let decide = |id: uuid::Uuid, outcome: &str| {
        let body = json!({ "outcome": outcome });
        let path = format!("/api/v1/orgs/{ORG}/snooping/cases/{id}/outcome");
        let (s, sc) = (&s, &sc);
        async move {
            s.send(Some(sc), reqwest::Method::POST, &path, Some(&body))
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(decide(case_q, "warned").await, 200);
    assert_eq!(decide(case_q, "explained").await, 409, "once");
    let (st, _, html) = get(format!("{page_q}?lang=en"), Some(sc.cookie.clone())).await;
    assert_eq!(st, 200);
    assert!(
        html.contains("<dd id=\"case-outcome\">Warned</dd>"),
        "{html}"
    );
    assert!(html.contains("The case is decided"));
    assert!(!html.contains("data-api="), "a decided case has no form");
    // A confirmed case says an incident was opened; this reader may not open the register.
    assert_eq!(decide(case_r, "confirmed").await, 200);
    let (_, _, html) = get(
        format!("/admin/loggkontroll/{case_r}?lang=nb"),
        Some(sc.cookie.clone()),
    )
    .await;
    assert!(html.contains("Bekreftet urettmessig innsyn"));
    assert!(html.contains("Et avvik ble opprettet i avviksregisteret"));
    assert!(!html.contains("href=\"/admin/avvik"));
    // Decided cases leave the queue.
    let (_, _, html) = get(queue.clone(), Some(sc.cookie.clone())).await;
    assert!(html.contains("Ingen åpne saker."), "{html}");
    // One outcome in the log per decided case.
    let decided = audit_log(&s, None)
        .await
        .into_iter()
        .filter(|(_, e)| {
            e.operation.as_str() == "snoop.case-decide"
                && e.entity
                    .as_ref()
                    .and_then(|x| x.id.as_ref())
                    .is_some_and(|i| i.as_str() == case_q.to_string())
        })
        .count();
    assert_eq!(decided, 1);
}

/// The log-control pages refuse the callers a live rule must refuse, each refusal in the log as
/// a denied access (PC-ACL-1): the log-control grant revoked, the employment ended, another
/// organisation's log controller (its case ids answer like unknown ones), and a hostile or
/// oversized case id (404, no panic).
#[tokio::test]
async fn the_log_control_pages_follow_the_live_grant_the_employment_and_the_organisation() {
    let (s, pats) = demo_with_patients().await;
    let q = pats[1].0;
    let b = s
        .new_personnel(ORG, "Knut Kikker", BuiltinRole::Doctor)
        .await;
    let c = log_controller(&s, "Line Kontroll").await;
    let e = s
        .new_personnel(ORG, "Eva Kontroll", BuiltinRole::Secretary)
        .await;
    let [case_q] = saved_cases(&s, [(b, q, 65, "SameSurname", 2)]).await;
    let page = format!("/admin/loggkontroll/{case_q}");
    let status = |path: String, cookie: String| {
        let s = &s;
        async move { s.page(&path, Some(&cookie)).await.0 }
    };
    let denied = || async {
        audit_log(&s, None)
            .await
            .iter()
            .filter(|(_, e)| e.outcome == trygg_audit::Outcome::Denied)
            .count()
    };

    // Hostile and oversized ids: 404, nothing else.
    let sc = signed_in(&s, c).await;
    for bad in [
        "%E2%80%AEesac".to_owned(),
        "x".repeat(4000),
        "..%2F..%2Fadmin".into(),
    ] {
        let st = status(format!("/admin/loggkontroll/{bad}"), sc.cookie.clone()).await;
        assert!(st == 404 || st == 414, "{bad:.20}: {st}");
    }
    assert_eq!(status(page.clone(), sc.cookie.clone()).await, 200);

    // E holds the grant for a moment; revoked, the pages refuse her at once, and it is logged.
    let grant = store_tx(&s, move |tx| {
        Box::pin(async move {
            let t = time::OffsetDateTime::now_utc().unix_timestamp();
            tx.grant_role(e, "logg-kontroll", t - 60, None, "test", t)
                .await
                .unwrap()
                .id
        })
    })
    .await;
    let se = signed_in(&s, e).await;
    assert_eq!(status(page.clone(), se.cookie.clone()).await, 200);
    store_tx(&s, move |tx| {
        Box::pin(async move {
            let t = time::OffsetDateTime::now_utc().unix_timestamp();
            tx.revoke_grant(grant, "test", "test", t).await.unwrap();
        })
    })
    .await;
    let before = denied().await;
    for p in ["/admin/loggkontroll".to_owned(), page.clone()] {
        assert_eq!(status(p, se.cookie.clone()).await, 403);
    }
    assert!(
        denied().await >= before + 2,
        "each refusal is a denied access in the log"
    );

    // C's employment ends: the session no longer reaches the pages.
    s.end_employment(ORG, c).await;
    for p in ["/admin/loggkontroll".to_owned(), page.clone()] {
        let st = status(p, sc.cookie.clone()).await;
        assert!(st == 303 || st == 403, "after the employment ended: {st}");
    }

    // Another organisation's log controller: our case is unknown there.
    let now = s.app.now();
    trygg_app::operator::define_role(
        &s.app,
        &trygg_app::operator::Console,
        OTHER,
        trygg_app::operator::RoleIn {
            name: "logg-kontroll".into(),
            permissions: vec!["log-control".into()],
        },
        now,
    )
    .await
    .unwrap();
    let x = s
        .new_personnel(OTHER, "Xander Annen", BuiltinRole::Secretary)
        .await;
    let h = s.org_store(OTHER).await;
    let mut tx = h.begin().await.unwrap();
    let t = now.unix_timestamp();
    tx.grant_role(x, "logg-kontroll", t - 60, None, "test", t)
        .await
        .unwrap();
    tx.audit(&crate::common::test_event(OTHER)).await.unwrap();
    tx.commit().await.unwrap();
    let sx = s
        .login_with(
            OTHER,
            x,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    assert_eq!(status(page.clone(), sx.cookie.clone()).await, 404);
    let (st, _, html) = s.page("/admin/loggkontroll", Some(&sx.cookie)).await;
    assert_eq!(st, 200);
    assert!(
        !html.contains("Knut Kikker"),
        "another organisation's queue is its own"
    );
}
