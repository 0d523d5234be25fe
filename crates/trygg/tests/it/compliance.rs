//! The compliance evidence end to end (issue #15): the report (a row for every ID and risk
//! scenario, a lowered setting shown as `not-met` with who and when, one changed byte breaking
//! the signature, the hash in the audit log, no personal data in JSON or HTML, the CLI's report
//! and verify); the incident register (the 72-hour clock with the clock moved, the states and
//! the facts each needs, drafts from security events and from a failed `trygg audit verify`,
//! the notification report in nb and en, hostile input and the callers who must be refused);
//! and the retention job moved past each data class's limit, with `trygg audit verify` passing
//! after it.

use std::process::Command;

use serde_json::{json, Value};
use trygg_app::compliance::{self, By};
use trygg_app::operator::{self, AssuranceIn, Console};
use trygg_core::BuiltinRole;

use crate::binary::BIN;
use crate::common::{Session, TestServer};
use crate::matrix::store_tx;

const ORG: &str = "normland-legesenter";
const OTHER: &str = "normbakken-kommune-hjemmetjenesten";

async fn admin(s: &TestServer, org: &str) -> Session {
    let id = s.person(org, BuiltinRole::OrgAdmin).await;
    s.login_with(
        org,
        id,
        trygg_server::auth::AuthMethod::Passkey,
        trygg_audit::Assurance::Substantial,
    )
    .await
}

async fn call(
    s: &TestServer,
    who: &Session,
    m: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let res = s.send(Some(who), m, path, body.as_ref()).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn report_text(s: &TestServer, who: &Session) -> String {
    let (st, text) = call(
        s,
        who,
        reqwest::Method::GET,
        &format!("/api/v1/orgs/{ORG}/compliance/report"),
        None,
    )
    .await;
    assert_eq!(st, 200, "{text}");
    text
}

fn row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["report"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

/// VC-PBD-2, PC-AUTHN-3: every ID of the repo's catalogue is a row; lowering the minimum
/// assurance for health data turns PC-AUTHN-3 `not-met` with who changed it and when, and the
/// risk scenario resting on it follows.
#[tokio::test]
async fn the_report_has_every_id_and_shows_a_lowered_setting_with_who_and_when() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let a = admin(&s, ORG).await;
    let first: Value = serde_json::from_str(&report_text(&s, &a).await).unwrap();
    let items = trygg_core::compliance::catalogue();
    let rows = first["report"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), items.len());
    assert_eq!(rows.len(), 49 + 21 + 36);
    for (r, i) in rows.iter().zip(&items) {
        assert_eq!(r["id"], i.id.as_str());
        assert!(!r["evidence"].as_array().unwrap().is_empty(), "{}", i.id);
        assert_ne!(
            r["evidence"][0]["result"],
            "no check and no routine for this ID"
        );
    }
    assert_eq!(row(&first, "PC-AUTHN-3")["status"], "met-by-setting");
    assert_eq!(row(&first, "VC-CONF-4")["status"], "organisation-routine");
    // Issue #16 landed the exit (it::exit tests it).
    assert_eq!(row(&first, "VC-DPA-1")["status"], "met");
    assert!(row(&first, "VC-DPA-1")["evidence"][0]["result"]
        .as_str()
        .unwrap()
        .contains("trygg org delete"));
    // The test server serves plain HTTP: VC-ENC-1 says so.
    assert_eq!(row(&first, "VC-ENC-1")["status"], "not-met");
    assert_eq!(row(&first, "VC-STORE-2")["status"], "met");
    assert_eq!(row(&first, "PC-CONF-1")["status"], "met", "the guard ran");
    assert_eq!(row(&first, "VC-LOG-2")["status"], "met", "the log verified");
    // A row resting on rows later in the catalogue sees their answers.
    assert_eq!(row(&first, "VC-PRIV-1")["status"], "met");
    let header = &first["report"]["header"];
    assert_eq!(header["organisation"], ORG);
    assert!(header["audit_checkpoint"].as_str().unwrap().contains(ORG));
    assert_eq!(header["configuration_hash"].as_str().unwrap().len(), 64);

    // The console lowers it.
    operator::assurance(
        &s.app,
        &Console,
        ORG,
        Some(AssuranceIn {
            permission: "health-read".into(),
            level: "low".into(),
        }),
        s.app.now(),
    )
    .await
    .unwrap();
    let second: Value = serde_json::from_str(&report_text(&s, &a).await).unwrap();
    let r = row(&second, "PC-AUTHN-3");
    assert_eq!(r["status"], "not-met");
    let ev = r["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["setting"]["setting"] == "minimum assurance for health-read")
        .unwrap();
    assert_eq!(ev["setting"]["current"], "low");
    assert_eq!(ev["setting"]["recommended"], "high");
    assert!(
        ev["setting"]["changed_by"]
            .as_str()
            .unwrap()
            .starts_with("trygg:cli"),
        "{ev}"
    );
    assert!(ev["setting"]["changed_at"].as_str().is_some(), "{ev}");
    // The unchanged ones say so.
    let hw = r["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["setting"]["setting"] == "minimum assurance for health-write")
        .unwrap();
    assert_eq!(hw["setting"]["changed_by"], "default (never changed)");
    // A risk scenario resting on it follows.
    assert_eq!(row(&second, "PC-RISK-4")["status"], "not-met");
    // VC-AUTH-3 asks substantial of health data too, and VC-RISK-12 rests on it: four rows.
    assert_eq!(row(&second, "VC-AUTH-3")["status"], "not-met");
    assert_eq!(row(&second, "VC-RISK-12")["status"], "not-met");
    assert_eq!(
        second["report"]["summary"]["not-met"].as_u64().unwrap(),
        first["report"]["summary"]["not-met"].as_u64().unwrap() + 4
    );
}

/// The signature covers every byte; the hash is in the audit log; the console's verify agrees.
#[tokio::test]
async fn one_changed_byte_breaks_the_signature_and_the_hash_is_in_the_log() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let a = admin(&s, ORG).await;
    let text = report_text(&s, &a).await;
    let v = compliance::verify(&s.app, &text).unwrap();
    assert_eq!(v.organisation, ORG);
    assert!(compliance::logged(&s.app, ORG, &v.sha256).await.unwrap());
    // Every byte position (a stride through the file, and every byte of a status, a digit of
    // the hash and of the signature, and blank space) changed by one bit is refused.
    let bytes = text.as_bytes();
    let mut positions: Vec<usize> = (0..bytes.len()).step_by(97).collect();
    for needle in [
        "\"met-by-setting\"",
        "\"sha256\": \"",
        "\"ed25519\": \"",
        "\n  ",
    ] {
        let at = text.find(needle).unwrap();
        positions.extend(at..at + needle.len() + 4);
    }
    positions.push(bytes.len() - 1);
    for p in positions {
        let mut b = bytes.to_vec();
        b[p] ^= 0x01;
        if let Ok(t) = String::from_utf8(b) {
            assert!(
                compliance::verify(&s.app, &t).is_err(),
                "byte {p} changed and the report still verified"
            );
        }
    }
    // A report with a changed status and a recomputed, unsigned hash is refused too.
    let forged = text.replacen("\"not-met\"", "\"met\"", 1);
    assert!(compliance::verify(&s.app, &forged).is_err());
    // Nothing may be added beside the signed report, not even in sorted, pretty form.
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["signature"]["auditor_note"] = json!("all met");
    let added = serde_json::to_string_pretty(&v).unwrap() + "\n";
    assert!(compliance::verify(&s.app, &added).is_err());
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["verdict"] = json!("all met");
    let added = serde_json::to_string_pretty(&v).unwrap() + "\n";
    assert!(compliance::verify(&s.app, &added).is_err());
    // A hash that was never logged is named by the console.
    assert!(!compliance::logged(&s.app, ORG, &"0".repeat(64))
        .await
        .unwrap());
}

/// No personal data: every name, national ID, phone number and e-mail address of the demo's
/// patients and staff is absent from the JSON and the HTML.
#[tokio::test]
async fn the_report_holds_no_personal_data() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let a = admin(&s, ORG).await;
    // A routine with an owner role and a document.
    let (st, body) = call(&s, &a, reqwest::Method::POST, &format!("/api/v1/orgs/{ORG}/compliance/routines"), Some(json!({
        "key": "training", "owner": "Fagleder", "document": "Rutinehåndbok 4.2", "next_review": "2099-06-01"
    }))).await;
    assert_eq!(st, 200, "{body}");
    let mut secrets: Vec<String> = Vec::new();
    let found = store_tx(&s, |tx| {
        Box::pin(async move {
            let mut out = Vec::new();
            for p in tx.list_patients().await.unwrap() {
                out.push(p.name.expose().to_owned());
                if let Some(ph) = &p.phone {
                    out.push(ph.expose().to_owned());
                }
                if let Some(e) = &p.email {
                    out.push(e.expose().to_owned());
                }
                if let Some(n) = tx.patient_national_id(p.id).await.unwrap() {
                    out.push(n.expose());
                }
            }
            for p in tx.list_personnel().await.unwrap() {
                out.push(p.name.expose().to_owned());
            }
            out
        })
    })
    .await;
    secrets.extend(found);
    assert!(secrets.len() > 10, "{}", secrets.len());
    let json_text = report_text(&s, &a).await;
    let (st, html) = call(&s, &a, reqwest::Method::GET, "/admin/samsvar?lang=nb", None).await;
    assert_eq!(st, 200);
    let signed = compliance::report(
        &s.app,
        By::Console,
        ORG,
        &trygg_server::compliance_pages::edge_facts(),
        s.app.now(),
    )
    .await
    .unwrap();
    let file = trygg_server::compliance_pages::report_html(
        &signed,
        trygg_core::Lang::En,
        s.app.config.zone(),
    )
    .unwrap();
    for (what, text) in [("json", &json_text), ("page", &html), ("html file", &file)] {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} contains personal data"
            );
        }
        assert!(text.contains("Fagleder"), "{what} shows the routine");
    }
}

/// The CLI: report as JSON, verify it (with the log), a changed file refused in plain words.
#[tokio::test]
async fn the_console_makes_and_verifies_a_report() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let data = s.dir.path().to_str().unwrap().to_owned();
    let out = Command::new(BIN)
        .args([
            "compliance",
            "report",
            "--org",
            ORG,
            "--json",
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = s.dir.path().join("report.json");
    std::fs::write(&file, &out.stdout).unwrap();
    let ok = Command::new(BIN)
        .args([
            "compliance",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--org",
            ORG,
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("its hash is in the audit log"));
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replacen("not-met", "not-mat", 1);
    std::fs::write(&file, text).unwrap();
    let bad = Command::new(BIN)
        .args([
            "compliance",
            "verify",
            "--file",
            file.to_str().unwrap(),
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("changed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let html = Command::new(BIN)
        .args([
            "compliance",
            "report",
            "--org",
            ORG,
            "--html",
            "--lang",
            "en",
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(html.status.success());
    assert!(String::from_utf8_lossy(&html.stdout).contains("PC-AUTHN-3"));
    let wrong = Command::new(BIN)
        .args([
            "compliance",
            "report",
            "--org",
            "ingen-slik",
            "--data-dir",
            &data,
        ])
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no organisation"));
}

async fn incident(s: &TestServer, who: &Session, id: &str, body: Value) -> (u16, Value) {
    let (st, text) = call(
        s,
        who,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/incidents/{id}"),
        Some(body),
    )
    .await;
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// PC-DEV-1: the 72-hour clock with the clock moved, the states one step at a time with the
/// facts each needs, every change a version, a closed incident fixed, and the notification
/// report in both languages without the affected patients.
#[tokio::test]
async fn the_incident_register_keeps_the_clock_and_the_states() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    s.clock.freeze();
    let a = admin(&s, ORG).await;
    let (st, text) = call(&s, &a, reqwest::Method::POST, &format!("/api/v1/orgs/{ORG}/incidents"), Some(json!({
        "facts": {"title": "Brev sendt til feil pasient", "what_happened": "Et brev gikk til feil adresse."}
    }))).await;
    assert_eq!(st, 201, "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let year = s.app.now().year();
    assert!(
        created["reference"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AVV-{year}-")),
        "{created}"
    );
    assert_eq!(created["state"], "reported");
    assert_eq!(created["clock"]["clock"], "running");
    assert_eq!(created["clock"]["minutes_left"], 72 * 60);
    // 73 hours later, nothing decided: overdue, here and in the report's counters.
    s.clock.advance(time::Duration::hours(73));
    let a = admin(&s, ORG).await;
    let (_, list) = call(
        &s,
        &a,
        reqwest::Method::GET,
        &format!("/api/v1/orgs/{ORG}/incidents"),
        None,
    )
    .await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["clock"]["clock"], "overdue");
    assert_eq!(list[0]["clock"]["minutes_over"], 60);
    let rep: Value = serde_json::from_str(&report_text(&s, &a).await).unwrap();
    assert_eq!(rep["report"]["counters"]["incidents_past_deadline"], 1);
    assert_eq!(row(&rep, "PC-DEV-1")["status"], "not-met");
    // Skipping a step, assessing without the risk, notifying without decisions: refused.
    let title = json!({"title": "Brev sendt til feil pasient"});
    assert_eq!(
        incident(&s, &a, &id, json!({"state": "assessed", "facts": title}))
            .await
            .0,
        422
    );
    assert_eq!(
        incident(&s, &a, &id, json!({"state": "triage", "facts": title}))
            .await
            .0,
        200
    );
    assert_eq!(
        incident(&s, &a, &id, json!({"state": "assessed", "facts": title}))
            .await
            .0,
        422
    );
    let patient = uuid::Uuid::new_v4().to_string();
    let mut facts = json!({
        "title": "Brev sendt til feil pasient", "owner": "Personvernombud",
        "confidentiality": true, "data_categories": "helseopplysninger", "people_approx": 1,
        "affected_patients": [patient], "risk": "high-risk", "risk_rationale": "Diagnose i brevet.",
        "measures": [{"what": "Ring pasienten", "owner": "Fastlege", "due": "2026-12-10"}]
    });
    let (st, v) = incident(&s, &a, &id, json!({"state": "assessed", "facts": facts})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        incident(&s, &a, &id, json!({"state": "notified", "facts": facts}))
            .await
            .0,
        422
    );
    facts["notify_authority"] = json!(true);
    facts["notify_people"] = json!(false);
    facts["no_notify_reason"] = json!("Vi fant ikke adressen.");
    let (st, v) = incident(&s, &a, &id, json!({"state": "notified", "facts": facts})).await;
    assert_eq!(st, 422, "a high risk means the people are told: {v}");
    facts["notify_people"] = json!(true);
    let (st, v) = incident(&s, &a, &id, json!({"state": "notified", "facts": facts})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["clock"]["clock"], "stopped");
    // The notification report in both languages, without the patient.
    for (lang, words) in [
        ("nb", "Omtrentlig antall berørte personer: ca. 1"),
        ("en", "Approximate number of people affected: ca. 1"),
    ] {
        let (st, text) = call(
            &s,
            &a,
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/incidents/{id}/report?lang={lang}"),
            None,
        )
        .await;
        assert_eq!(st, 200);
        assert!(text.contains(words), "{text}");
        assert!(!text.contains(&patient), "{lang} names the patient");
    }
    assert_eq!(
        incident(&s, &a, &id, json!({"state": "closed", "facts": facts}))
            .await
            .0,
        200
    );
    assert_eq!(
        incident(&s, &a, &id, json!({"state": "closed", "facts": facts}))
            .await
            .0,
        409
    );
    // Every change a version, in order, with who.
    let (_, hist) = call(
        &s,
        &a,
        reqwest::Method::GET,
        &format!("/api/v1/orgs/{ORG}/incidents/{id}"),
        None,
    )
    .await;
    let hist: Value = serde_json::from_str(&hist).unwrap();
    let states: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["reported", "triage", "assessed", "notified", "closed"]
    );
    assert!(hist[4]["by"].as_str().unwrap().starts_with("personnel:"));
    // The database refuses to rewrite a version, whoever asks.
    let err = store_tx(&s, |tx| {
        Box::pin(async move {
            tx.delete_closed_incidents(
                time::OffsetDateTime::now_utc() + time::Duration::days(9999),
                10,
            )
            .await
        })
    })
    .await;
    assert_eq!(
        err.unwrap(),
        0,
        "closed today: kept five years by the database's own clock"
    );
}

/// Hostile input and the callers who must be refused.
#[tokio::test]
async fn the_register_refuses_hostile_input_and_other_callers() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let a = admin(&s, ORG).await;
    let path = format!("/api/v1/orgs/{ORG}/incidents");
    for bad in [
        json!({"facts": {"title": "Avvik \u{202E}kcatta"}}),
        json!({"facts": {"title": "x".repeat(201)}}),
        json!({"facts": {"title": " "}}),
        json!({"facts": {"title": "Avvik", "affected_patients": ["'; DROP TABLE"]}}),
        json!({"facts": {"title": "Avvik", "measures": [{"what": "x", "owner": "y", "due": "31.12.2026"}]}}),
        json!({"facts": {"title": "Avvik"}, "aware_at": "i går"}),
        json!({"facts": {"title": "Avvik"}, "source": "security-event"}),
        json!({"facts": {"title": "Avvik"}, "nonsense": 1}),
    ] {
        let (st, text) = call(&s, &a, reqwest::Method::POST, &path, Some(bad.clone())).await;
        assert!(st == 422 || st == 400, "{bad}: {st} {text}");
        assert!(text.contains("TR-"), "{text}");
    }
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::GET,
        &format!("{path}/not-a-uuid"),
        None,
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::GET,
        &format!("{path}/{}", uuid::Uuid::new_v4()),
        None,
    )
    .await;
    assert_eq!(st, 404);
    // A doctor has no compliance-manage; another organisation's administrator sees nothing.
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let d = s
        .login_with(
            ORG,
            doctor,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::High,
        )
        .await;
    assert_eq!(call(&s, &d, reqwest::Method::GET, &path, None).await.0, 403);
    let other = admin(&s, OTHER).await;
    assert_eq!(
        call(&s, &other, reqwest::Method::GET, &path, None).await.0,
        404
    );
    assert_eq!(
        call(
            &s,
            &other,
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/compliance/report"),
            None
        )
        .await
        .0,
        404
    );
    // An administrator whose employment ended is out at once.
    let gone = s
        .new_personnel(ORG, "Avgått Administrator", BuiltinRole::OrgAdmin)
        .await;
    let g = s
        .login_with(
            ORG,
            gone,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    s.end_employment(ORG, gone).await;
    assert_eq!(call(&s, &g, reqwest::Method::GET, &path, None).await.0, 401);
    // Retention outside its limits, or of an unknown class.
    for bad in [
        json!({"class": "audit-log", "value": 4}),
        json!({"class": "messages", "value": 25}),
        json!({"class": "call-chat", "value": 1}),
        json!({"class": "alt", "value": 1}),
    ] {
        let (st, _) = call(
            &s,
            &a,
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/retention"),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(st, 422, "{bad}");
    }
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/compliance/routines"),
        Some(json!({"key": "training", "owner": "a\nb", "document": ""})),
    )
    .await;
    assert_eq!(st, 422);
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/compliance/routines"),
        Some(json!({"key": "ukjent", "owner": "", "document": ""})),
    )
    .await;
    assert_eq!(st, 422);
}

/// PC-VENDOR-6, guide risk scenario 17: a burst of refusals by one person opens a draft (once),
/// and a failed `trygg audit verify` opens one too.
#[tokio::test]
async fn security_events_open_draft_incidents() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let d = s
        .login_with(
            ORG,
            doctor,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    for _ in 0..12 {
        assert_eq!(
            call(
                &s,
                &d,
                reqwest::Method::GET,
                &format!("/api/v1/orgs/{ORG}/personnel"),
                None
            )
            .await
            .0,
            403
        );
    }
    trygg_app::incidents::watch_round(&s.app, s.app.now())
        .await
        .unwrap();
    assert_eq!(
        trygg_app::incidents::watch_round(&s.app, s.app.now())
            .await
            .unwrap(),
        0,
        "once a day"
    );
    let list = trygg_app::incidents::list(&s.app, By::Console, ORG, s.app.now())
        .await
        .unwrap();
    let drafts: Vec<_> = list
        .iter()
        .filter(|i| i.rule.as_deref() == Some("denied-burst"))
        .collect();
    assert_eq!(drafts.len(), 1, "{list:?}");
    assert_eq!(drafts[0].source, "security-event");
    assert_eq!(drafts[0].state, "reported");
    assert!(
        drafts[0].facts.observed.contains("refused accesses"),
        "{:?}",
        drafts[0].facts.observed
    );
    // A quiet organisation gets none.
    let quiet = trygg_app::incidents::list(&s.app, By::Console, OTHER, s.app.now())
        .await
        .unwrap();
    assert!(quiet.is_empty());
    // Another organisation's administrator reaching for this one's register: a probe, written
    // when its window ends, and a draft here.
    let other = admin(&s, OTHER).await;
    let path = format!("/api/v1/orgs/{ORG}/incidents");
    assert_eq!(
        call(&s, &other, reqwest::Method::GET, &path, None).await.0,
        404
    );
    trygg_app::access::flush_probes(&s.app, s.app.now(), true)
        .await
        .unwrap();
    trygg_app::incidents::watch_round(&s.app, s.app.now())
        .await
        .unwrap();
    let list = trygg_app::incidents::list(&s.app, By::Console, ORG, s.app.now())
        .await
        .unwrap();
    assert!(
        list.iter()
            .any(|i| i.rule.as_deref() == Some("cross-organisation")),
        "{list:?}"
    );
    // A verification failure: one stored byte changed under the log.
    let db = org_db(&s).await;
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE audit_entry SET root_after = zeroblob(32) WHERE seq = 1")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::Connection::close(c).await.unwrap();
    let v = operator::verify_audit(&s.app, &Console, ORG, s.app.now())
        .await
        .unwrap();
    assert!(v.is_err());
    let list = trygg_app::incidents::list(&s.app, By::Console, ORG, s.app.now())
        .await
        .unwrap();
    assert!(
        list.iter().any(|i| i.rule.as_deref() == Some("integrity")),
        "{list:?}"
    );
}

/// PC-STORE-1: the retention job with the clock moved past each class's limit: security events'
/// contents after two years, quiet threads' unfiled messages after twelve months, grant records
/// five years after they ended, closed incidents and the audit log's contents after ten; what
/// is not yet due stays; every run is recorded; `trygg audit verify` passes after each.
#[tokio::test]
async fn the_retention_job_deletes_each_class_past_its_limit_and_the_log_still_verifies() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    // Start twelve years ago, so the database's own five-year floors (by the real clock) agree.
    s.clock.advance(-time::Duration::days(12 * 366));
    s.clock.freeze();
    let t0 = s.app.now();
    // The demo's people were registered "later" (at the real time), so at t0 nobody has a live
    // grant: a doctor's request is refused, which is the security event this test needs.
    let doctor = s.person(ORG, BuiltinRole::Doctor).await;
    let d = s
        .login_with(
            ORG,
            doctor,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    assert_eq!(
        call(
            &s,
            &d,
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/personnel"),
            None
        )
        .await
        .0,
        403
    );
    // An unfiled message in a thread, a grant that ends at once, an incident closed at t0.
    let (message, grant) = store_tx(&s, |tx| {
        Box::pin(async move {
            use trygg_store::messages::NewMessage;
            let patient = tx.list_patients().await.unwrap()[0].id;
            let thread = tx.create_thread(patient, "Emne", "test", t0).await.unwrap();
            let m = tx
                .add_message(
                    &NewMessage {
                        thread,
                        patient,
                        author: "test",
                        from_patient: false,
                        body: "Hei",
                        attachments: &[],
                        notified: None,
                        escalate_at: None,
                        expires_at: t0 + time::Duration::days(3650),
                    },
                    t0,
                )
                .await
                .unwrap();
            // Read by the patient: an unread message is never deleted by this class.
            tx.mark_read(thread, false, "patient", t0).await.unwrap();
            let t = t0.unix_timestamp();
            let g = tx
                .grant_role(doctor, "interpreter", t, Some(t + 60), "test", t)
                .await
                .unwrap()
                .id;
            (m, g)
        })
    })
    .await;
    let facts: trygg_core::incident::Facts = serde_json::from_value(json!({
        "title": "Lukket avvik", "risk": "no-risk", "risk_rationale": "Ingen",
        "notify_authority": false, "notify_people": false, "no_notify_reason": "Ingen risiko"
    }))
    .unwrap();
    let input = |state: Option<&str>| trygg_app::incidents::IncidentIn {
        state: state.map(str::to_owned),
        facts: facts.clone(),
        ..Default::default()
    };
    let created = trygg_app::incidents::create(&s.app, By::Console, ORG, input(None), t0)
        .await
        .unwrap();
    let id = created.id.to_string();
    for state in ["triage", "assessed", "notified", "closed"] {
        trygg_app::incidents::update(&s.app, By::Console, ORG, created.id, input(Some(state)), t0)
            .await
            .unwrap();
    }
    let security_entries = |s: &TestServer| {
        let app = s.app.clone();
        async move {
            let o = app
                .store
                .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
                .await
                .unwrap()
                .unwrap();
            let h = app.store.org(&o).await.unwrap();
            let all = h.audit_events(None).await.unwrap();
            let t = t0 + time::Duration::hours(1);
            let old =
                |e: &trygg_audit::AuditEvent| e.recorded.unix_millis() < t.unix_timestamp() * 1000;
            (
                all.iter()
                    .filter(|(_, e)| old(e) && e.category.is_security_event())
                    .count(),
                all.iter()
                    .filter(|(_, e)| old(e) && !e.category.is_security_event())
                    .count(),
            )
        }
    };
    let (sec0, other0) = security_entries(&s).await;
    assert!(sec0 >= 1 && other0 >= 5, "{sec0} {other0}");
    let verify = |s: &TestServer| {
        let app = s.app.clone();
        async move {
            operator::verify_audit(&app, &Console, ORG, app.now())
                .await
                .unwrap()
        }
    };
    let run = |s: &TestServer| {
        let app = s.app.clone();
        async move {
            trygg_app::retention::run(&app, ORG, app.now())
                .await
                .unwrap()
        }
    };
    // Eleven months: nothing is due.
    s.clock.advance(time::Duration::days(330));
    let r = run(&s).await;
    assert_eq!(
        (r.messages, r.grant_records, r.incidents),
        (0, 0, 0),
        "{r:?}"
    );
    assert!(
        message_there(&s, message).await
            && grant_there(&s, grant).await
            && incident_there(&s, id.clone()).await
    );
    // Thirteen months: the quiet thread's unfiled message goes.
    s.clock.advance(time::Duration::days(66));
    let r = run(&s).await;
    assert!(r.messages >= 1, "{r:?}");
    assert!(!message_there(&s, message).await);
    assert_eq!(
        security_entries(&s).await,
        (sec0, other0),
        "the log keeps its contents"
    );
    assert!(verify(&s).await.is_ok());
    // Two years and a day: the security events' contents go; the rest of the log stays.
    s.clock.advance(time::Duration::days(2 * 366 - 396 + 2));
    let r = run(&s).await;
    assert!(r.audit_payloads as usize >= sec0, "{r:?}");
    assert_eq!(security_entries(&s).await, (0, other0));
    assert!(grant_there(&s, grant).await && incident_there(&s, id.clone()).await);
    assert!(
        verify(&s).await.is_ok(),
        "commitments kept, the log verifies"
    );
    // Five years after the grant ended: its record goes; the incident stays.
    s.clock.advance(time::Duration::days(3 * 366));
    let r = run(&s).await;
    assert_eq!(r.grant_records, 1, "{r:?}");
    assert!(!grant_there(&s, grant).await && incident_there(&s, id.clone()).await);
    // Ten years: the closed incident, and the contents of the log's oldest entries.
    s.clock.advance(time::Duration::days(5 * 366));
    let r = run(&s).await;
    assert_eq!(r.incidents, 1, "{r:?}");
    assert!(!incident_there(&s, id.clone()).await);
    assert_eq!(security_entries(&s).await, (0, 0));
    assert!(verify(&s).await.is_ok());
    // Every run was recorded and logged; the last is shown in the report.
    let (_, last) = trygg_app::retention::last_run_by(&s.app, By::Console, ORG, s.app.now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.incidents, 1);
    // And the real binary, with the real time, agrees the log is intact.
    let data = s.dir.path().to_str().unwrap().to_owned();
    let out = Command::new(BIN)
        .args(["audit", "verify", "--org", ORG, "--data-dir", &data])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn message_there(s: &TestServer, message: uuid::Uuid) -> bool {
    store_tx(s, move |tx| {
        Box::pin(async move {
            let far = time::OffsetDateTime::now_utc() + time::Duration::days(99_999);
            let all = tx.messages_of_quiet_threads(far, 10_000).await.unwrap();
            all.iter().any(|(m, _)| *m == message)
        })
    })
    .await
}

async fn grant_there(s: &TestServer, grant: uuid::Uuid) -> bool {
    store_tx(s, move |tx| {
        Box::pin(async move { tx.all_grants().await.unwrap().iter().any(|g| g.id == grant) })
    })
    .await
}

async fn incident_there(s: &TestServer, id: String) -> bool {
    store_tx(s, move |tx| {
        Box::pin(async move { tx.incident(id.parse().unwrap()).await.unwrap().is_some() })
    })
    .await
}

/// Times out of bounds or out of order, and an awareness moved later (which would hide a missed
/// deadline), are refused and nothing is stored; two retention changes at once that each fit the
/// old policy but not each other leave one refused and a policy the organisation can open.
#[tokio::test]
async fn incident_times_and_concurrent_retention_changes_are_checked() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let a = admin(&s, ORG).await;
    let path = format!("/api/v1/orgs/{ORG}/incidents");
    for bad in [
        json!({"facts": {"title": "Avvik"}, "aware_at": "9999-12-31T23:59:59Z"}),
        json!({"facts": {"title": "Avvik"}, "occurred_at": "1970-01-01T00:00:00Z"}),
        json!({"facts": {"title": "Avvik"}, "discovered_at": "2026-01-02T00:00:00Z", "aware_at": "2026-01-01T00:00:00Z"}),
    ] {
        let (st, text) = call(&s, &a, reqwest::Method::POST, &path, Some(bad.clone())).await;
        assert_eq!(st, 422, "{bad}: {text}");
    }
    let (st, text) = call(
        &s,
        &a,
        reqwest::Method::POST,
        &path,
        Some(json!({"facts": {"title": "Avvik"}})),
    )
    .await;
    assert_eq!(st, 201, "{text}");
    let made: Value = serde_json::from_str(&text).unwrap();
    let later = (s.app.now() + time::Duration::minutes(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let one = format!("{path}/{}", made["id"].as_str().unwrap());
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::POST,
        &one,
        Some(json!({"facts": {"title": "Avvik"}, "aware_at": later})),
    )
    .await;
    assert_eq!(st, 422, "the awareness only moves earlier");
    let (_, list) = call(&s, &a, reqwest::Method::GET, &path, None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&list)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (_, hist) = call(&s, &a, reqwest::Method::GET, &one, None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&hist)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let retention = format!("/api/v1/orgs/{ORG}/retention");
    let (x, y) = tokio::join!(
        call(
            &s,
            &a,
            reqwest::Method::POST,
            &retention,
            Some(json!({"class": "audit-log", "value": 5}))
        ),
        call(
            &s,
            &a,
            reqwest::Method::POST,
            &retention,
            Some(json!({"class": "security-events", "value": 6}))
        ),
    );
    let mut codes = [x.0, y.0];
    codes.sort_unstable();
    assert_eq!(codes, [200, 422], "{x:?} {y:?}");
    let (st, text) = call(&s, &a, reqwest::Method::GET, &retention, None).await;
    assert_eq!(st, 200, "{text}");
    let classes: Value = serde_json::from_str(&text).unwrap();
    let get = |c: &str| {
        classes
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["class"] == c)
            .unwrap()["value"]
            .as_u64()
            .unwrap()
    };
    assert!(get("security-events") <= get("audit-log"));
}

/// The retention job checks a payload against its commitment before it clears it: one edited
/// under the log is kept (the evidence), an integrity draft is opened, and verify still fails.
#[tokio::test]
async fn the_retention_job_keeps_a_tampered_payload_and_opens_a_draft() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    s.clock.advance(-time::Duration::days(11 * 366));
    s.clock.freeze();
    let t0 = s.app.now();
    let facts: trygg_core::incident::Facts =
        serde_json::from_value(json!({"title": "Gammelt avvik"})).unwrap();
    let input = trygg_app::incidents::IncidentIn {
        facts,
        ..Default::default()
    };
    trygg_app::incidents::create(&s.app, By::Console, ORG, input, t0)
        .await
        .unwrap();
    // Edit every entry recorded at t0 (the incident's), under the log.
    let db = org_db(&s).await;
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    let t0_ms = t0.unix_timestamp() * 1000;
    let edited = sqlx::query("UPDATE audit_entry SET event = CAST(replace(CAST(event AS TEXT), 'incident.create', 'incident.update') AS BLOB) WHERE recorded <= ?")
        .bind(t0_ms + 60_000)
        .execute(&mut c)
        .await
        .unwrap()
        .rows_affected();
    sqlx::Connection::close(c).await.unwrap();
    assert!(edited >= 1);
    s.clock.advance(time::Duration::days(3653 + 2));
    let r = trygg_app::retention::run(&s.app, ORG, s.app.now())
        .await
        .unwrap();
    let list = trygg_app::incidents::list(&s.app, By::Console, ORG, s.app.now())
        .await
        .unwrap();
    assert!(
        list.iter().any(|i| i.rule.as_deref() == Some("integrity")),
        "{r:?} {list:?}"
    );
    let v = operator::verify_audit(&s.app, &Console, ORG, s.app.now())
        .await
        .unwrap();
    assert!(v.is_err(), "the edited entry is still there to be found");
}

/// The organisation's database file.
async fn org_db(s: &TestServer) -> std::path::PathBuf {
    let control = s.dir.path().join("control.sqlite");
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        control.display()
    ))
    .await
    .unwrap();
    let org_id: String = sqlx::query_scalar("SELECT id FROM organisations WHERE slug = ?")
        .bind(ORG)
        .fetch_one(&mut c)
        .await
        .unwrap();
    sqlx::Connection::close(c).await.unwrap();
    s.dir.path().join("orgs").join(format!("{org_id}.sqlite"))
}

/// The new pages and routes against the callers they must refuse (issue #15): nobody signed in,
/// no right, too low a login, an ended employment, a forged session, a POST without its CSRF
/// token, a hostile id in the path, an oversized, malformed or hostile-Unicode body. A refusal by
/// the access rule leaves a security event in the log.
#[tokio::test]
async fn the_new_pages_and_routes_refuse_the_callers_they_must() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let once = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String, cookie: Option<String>| {
        let mut r = once.get(s.url(&path));
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    let incident = format!("/admin/avvik/{}", uuid::Uuid::new_v4());
    let pages = [
        "/admin/samsvar",
        "/admin/avvik",
        incident.as_str(),
        "/admin/lagring",
    ];
    for p in pages {
        assert_eq!(get(p.to_owned(), None).await, 303, "{p}: anonymous");
    }
    let nurse_id = s.person(ORG, BuiltinRole::Nurse).await;
    let nurse = s.login(ORG, nurse_id).await;
    let admin_id = s.person(ORG, BuiltinRole::OrgAdmin).await;
    let low = s
        .login_with(
            ORG,
            admin_id,
            trygg_server::auth::AuthMethod::Developer,
            trygg_audit::Assurance::Low,
        )
        .await;
    let gone = s.new_personnel(ORG, "Gått Av", BuiltinRole::OrgAdmin).await;
    let ended = s.login(ORG, gone).await;
    s.end_employment(ORG, gone).await;
    for p in pages {
        assert_eq!(
            get(p.to_owned(), Some(nurse.cookie.clone())).await,
            403,
            "{p}: no right"
        );
        assert_eq!(
            get(p.to_owned(), Some(low.cookie.clone())).await,
            403,
            "{p}: too low"
        );
        assert_eq!(
            get(p.to_owned(), Some(ended.cookie.clone())).await,
            303,
            "{p}: ended"
        );
        let forged = format!("trygg_session={ORG}.not-a-session");
        assert_eq!(
            get(p.to_owned(), Some(forged)).await,
            303,
            "{p}: forged session"
        );
    }
    // The nurse's refusals are security events in the log.
    let o = s
        .store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = s.store.org(&o).await.unwrap();
    let nurse_actor = format!("personnel:{nurse_id}");
    let denied = h
        .audit_events(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| {
            e.category.is_security_event()
                && e.agent.id.as_ref().map(|i| i.as_str()) == Some(nurse_actor.as_str())
        })
        .count();
    assert!(denied >= pages.len(), "{denied} refusals logged");
    // A hostile id in the path: not found, and the input not echoed.
    let a = admin(&s, ORG).await;
    let r = once
        .get(s.url("/admin/avvik/%E2%80%AEabc%3Cscript%3E"))
        .header("cookie", &a.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(!r.text().await.unwrap().contains("<script>"));
    // A POST without its CSRF token is refused.
    let r = once
        .post(s.url(&format!("/api/v1/orgs/{ORG}/retention")))
        .header("cookie", &a.cookie)
        .header("origin", &a.origin)
        .json(&json!({"class": "messages", "value": 6}))
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 401 | 403), "{}", r.status());
    // Oversized, malformed and hostile bodies: problems, never a 5xx.
    let big = json!({"key": "training", "owner": "x".repeat(2 * 1024 * 1024), "document": ""});
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/compliance/routines"),
        Some(big),
    )
    .await;
    assert_eq!(st, 413);
    let r = s
        .send_raw(
            &a,
            &format!("/api/v1/orgs/{ORG}/retention"),
            "application/json",
            "{\"class\": ",
        )
        .await;
    assert!(
        matches!(r.status().as_u16(), 400 | 403 | 422),
        "{}",
        r.status()
    );
    let (st, _) = call(
        &s,
        &a,
        reqwest::Method::POST,
        &format!("/api/v1/orgs/{ORG}/compliance/routines"),
        Some(json!({
            "key": "training", "owner": "Fag\u{202E}leder", "document": ""
        })),
    )
    .await;
    assert_eq!(st, 422);
}
