//! Log control's register facts (issue #16, PC-ACL-1): with the population register's facts set
//! at the console, the real access log yields a case for each rule that needs them — own record,
//! a colleague's record, the same address, the patient's next of kin, a protected person —
//! while the same look under a care relationship stays explained (so does a consultation's
//! host's). The facts are sealed (no address in the database file), setting a patient's is in their log, bad
//! input is refused with its reason, and a day still under way is not recorded as judged.

use serde_json::json;
use trygg_app::operator::Console;
use trygg_app::register::{self, PatientFactsIn};
use trygg_core::BuiltinRole;
use uuid::Uuid;

use crate::common::TestServer;

const ORG: &str = "normland-legesenter";
const ADDRESS: &str = "Bakkegata 7 B, 0153 Oslo";

/// A national identity number with valid control digits: birth date, the first individual
/// number from `individual` on whose control digits are both below 10.
fn valid_nid(date: &str, individual: u32) -> String {
    let k = |d: &[u32], w: &[u32]| {
        let r = 11 - d.iter().zip(w).map(|(a, b)| a * b).sum::<u32>() % 11;
        if r == 11 {
            0
        } else {
            r
        }
    };
    (individual..1000)
        .find_map(|i| {
            let mut d: Vec<u32> = format!("{date}{i:03}")
                .chars()
                .map(|c| c.to_digit(10).unwrap())
                .collect();
            d.push(k(&d, &[3, 7, 6, 1, 8, 9, 4, 5, 2]));
            d.push(k(&d, &[5, 4, 3, 2, 7, 6, 5, 4, 3, 2]));
            let s: String = d
                .iter()
                .map(|x| char::from_digit(*x, 10))
                .collect::<Option<_>>()?;
            trygg_core::national_id::NationalId::parse(&s)
                .ok()
                .map(|n| n.expose())
        })
        .unwrap()
}

async fn opens(s: &TestServer, person: Uuid, patient: Uuid) {
    let session = s
        .login_with(
            ORG,
            person,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let res = s
        .send(
            Some(&session),
            reqwest::Method::GET,
            &format!("/api/v1/orgs/{ORG}/patients/{patient}"),
            None,
        )
        .await;
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn register_facts_make_their_cases_and_a_care_relationship_explains() {
    let s = TestServer::start().await;
    s.seed_demo().await;
    let h = s.org_store(ORG).await;
    let mut tx = h.begin().await.unwrap();
    let mut pats = Vec::new();
    for p in tx.list_patients().await.unwrap() {
        let nid = tx
            .patient_national_id(p.id)
            .await
            .unwrap()
            .unwrap()
            .expose();
        pats.push((p.id, nid));
    }
    drop(tx);
    assert!(pats.len() >= 3);
    let now = s.app.now();
    let set = |patient: Uuid, input: PatientFactsIn| {
        register::set_patient_facts(&s.app, &Console, ORG, patient, input, now)
    };

    // Bad input: a clear refusal each, nothing stored.
    let bad = |protection: &str, kin: &[&str], address: Option<&str>| PatientFactsIn {
        address: address.map(str::to_owned),
        protection: protection.into(),
        next_of_kin: kin.iter().map(|k| (*k).to_owned()).collect(),
    };
    assert_eq!(
        set(pats[0].0, bad("famous", &[], None))
            .await
            .unwrap_err()
            .code,
        "TR-Y012"
    );
    assert_eq!(
        set(pats[0].0, bad("none", &["12345678901"], None))
            .await
            .unwrap_err()
            .code,
        "TR-Y011"
    );
    assert_eq!(
        set(pats[0].0, bad("none", &[], Some("Gata\u{202e}1")))
            .await
            .unwrap_err()
            .code,
        "TR-Y010"
    );
    assert_eq!(
        set(Uuid::new_v4(), bad("none", &[], None))
            .await
            .unwrap_err()
            .code,
        "TR-P404"
    );
    let nobody =
        register::set_personnel_facts(&s.app, &Console, ORG, Uuid::new_v4(), None, None, now);
    assert_eq!(nobody.await.unwrap_err().code, "TR-Q404");

    // P0 is one of the staff (X); P1 lives where Z lives and has W as next of kin; P2 has a
    // strictly confidential address.
    let x = s
        .new_personnel(ORG, "Xena Personell", BuiltinRole::Nurse)
        .await;
    let y = s
        .new_personnel(ORG, "Yngve Kollega", BuiltinRole::Doctor)
        .await;
    let z = s.new_personnel(ORG, "Zara Nabo", BuiltinRole::Doctor).await;
    let w = s
        .new_personnel(ORG, "Wenche Slekt", BuiltinRole::Doctor)
        .await;
    let v = s
        .new_personnel(ORG, "Vidar Nysgjerrig", BuiltinRole::Doctor)
        .await;
    let carer = s
        .new_personnel(ORG, "Carl Behandler", BuiltinRole::Doctor)
        .await;
    let w_nid = valid_nid("150385", 421);
    let staff = |person: Uuid, nid: Option<&str>, address: Option<&str>| {
        register::set_personnel_facts(
            &s.app,
            &Console,
            ORG,
            person,
            nid.map(str::to_owned),
            address.map(str::to_owned),
            now,
        )
    };
    staff(x, Some(&pats[0].1), None).await.unwrap();
    staff(z, None, Some("bakkegata 7 b, 0153 OSLO"))
        .await
        .unwrap();
    staff(w, Some(&w_nid), None).await.unwrap();
    set(
        pats[1].0,
        PatientFactsIn {
            address: Some(ADDRESS.into()),
            protection: "none".into(),
            next_of_kin: vec![w_nid.clone()],
        },
    )
    .await
    .unwrap();
    set(
        pats[2].0,
        PatientFactsIn {
            address: None,
            protection: "strictly-confidential".into(),
            next_of_kin: vec![],
        },
    )
    .await
    .unwrap();

    // The looks: X opens their own record; Y a colleague's (X's); Z the neighbour's; W their
    // relative's; V the protected person's; the carer the protected person's under a care
    // relationship.
    let nurse = s.login(ORG, s.person(ORG, BuiltinRole::Nurse).await).await;
    let res = s
        .send(
            Some(&nurse),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/care-relationships"),
            Some(&json!({"personnel_id": carer, "patient_id": pats[2].0, "reason": "fastlege", "days": 30})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    // A host of a consultation with the protected person, with no care relationship: the
    // consultation explains her look (a contact within a day).
    let host = s
        .new_personnel(ORG, "Hanne Vert", BuiltinRole::Doctor)
        .await;
    let hs = s
        .login_with(
            ORG,
            host,
            trygg_server::auth::AuthMethod::Passkey,
            trygg_audit::Assurance::Substantial,
        )
        .await;
    let res = s
        .send(
            Some(&hs),
            reqwest::Method::POST,
            &format!("/api/v1/orgs/{ORG}/consultations"),
            Some(&json!({"patient": pats[2].0.to_string(), "host": host, "minutes": 30})),
        )
        .await;
    assert_eq!(res.status().as_u16(), 201, "{}", res.text().await.unwrap());
    opens(&s, host, pats[2].0).await;
    for (who, whom) in [(x, 0), (y, 0), (z, 1), (w, 1), (v, 2), (carer, 2)] {
        opens(&s, who, pats[whom].0).await;
    }

    let today = s.app.config.zone().local(s.app.now()).date();
    let out = trygg_app::snooping::detect(&s.app, &Console, ORG, today, s.app.now())
        .await
        .unwrap();
    let reasons = |who: Uuid, whom: usize| -> Vec<String> {
        out.cases
            .iter()
            .filter(|c| c.actor == who && c.patient == Some(pats[whom].0))
            .flat_map(|c| c.reasons.clone())
            .collect()
    };
    for (who, whom, reason) in [
        (x, 0, "OwnRecord"),
        (y, 0, "Colleague"),
        (z, 1, "SameAddress"),
        (w, 1, "NextOfKin"),
        (v, 2, "Protected"),
    ] {
        assert!(
            reasons(who, whom).contains(&reason.to_owned()),
            "{reason}: {out:?}"
        );
    }
    assert!(
        reasons(carer, 2).is_empty(),
        "a care relationship explains: {out:?}"
    );
    assert!(
        reasons(host, 2).is_empty(),
        "a consultation explains: {out:?}"
    );

    // Sealed: the address is nowhere in the organisation's files.
    let dir = s.store.data_dir().join("orgs");
    for e in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        for needle in ["Bakkegata", "bakkegata"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()));
        }
    }
    // Setting a patient's facts is in their log.
    let logged = h
        .audit_events(Some(&pats[1].0.to_string()))
        .await
        .unwrap()
        .iter()
        .any(|(_, e)| e.operation.as_str() == "register.facts");
    assert!(logged);
    // Today is still under way: judged, but not recorded as judged (the job judges it again
    // when it has ended); a past day is.
    assert!(!h.snoop_day_judged(&today.to_string()).await.unwrap());
    let yesterday = today.previous_day().unwrap();
    trygg_app::snooping::detect(&s.app, &Console, ORG, yesterday, s.app.now())
        .await
        .unwrap();
    assert!(h.snoop_day_judged(&yesterday.to_string()).await.unwrap());
}

/// The console's facts commands (issue #16): `--stdin` keeps national identity numbers out of
/// the process list; bad input is one plain line and exit 1; the fact is in the patient's log.
#[tokio::test(flavor = "multi_thread")]
async fn the_facts_commands_read_standard_input_and_refuse_bad_input_plainly() {
    use std::io::Write as _;
    let dir = crate::common::private_tempdir();
    let d = dir.path();
    let store = crate::common::seeded_store(d).await;
    let o = store
        .org_by_slug(&trygg_core::OrgSlug::parse(ORG).unwrap())
        .await
        .unwrap()
        .unwrap();
    let h = store.org(&o).await.unwrap();
    let mut tx = h.begin().await.unwrap();
    let pats = tx.list_patients().await.unwrap();
    let kin = tx
        .patient_national_id(pats[1].id)
        .await
        .unwrap()
        .unwrap()
        .expose();
    drop(tx);
    store.close().await;
    let patient = pats[0].id.to_string();
    let run = |args: &[&str], input: &str| {
        let mut child = std::process::Command::new(crate::binary::BIN)
            .args(args)
            .args(["--data-dir", d.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let args = [
        "patient",
        "facts",
        "--org",
        ORG,
        "--patient",
        &patient,
        "--stdin",
    ];
    let body = serde_json::json!({"address": "Bakkegata 7", "protection": "public-figure", "next_of_kin": [kin]});
    let (code, err) = run(&args, &body.to_string());
    assert_eq!(code, Some(0), "{err}");
    for (input, needle) in [
        ("not json", "standard input"),
        (r#"{"protection": "famous"}"#, "protection"),
        (
            r#"{"next_of_kin": ["12345678901"]}"#,
            "national identity number",
        ),
        (r#"{"extra": 1}"#, "standard input"),
    ] {
        let (code, err) = run(&args, input);
        assert_eq!(code, Some(1), "{input}: {err}");
        assert!(err.contains(needle), "{input}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains(&kin) && !err.contains("panicked"), "{err}");
    }
    let staff = [
        "personnel",
        "facts",
        "--org",
        ORG,
        "--personnel",
        &patient,
        "--stdin",
    ];
    let (code, err) = run(&staff, r#"{"address": "Bakkegata 7"}"#);
    assert_eq!(code, Some(1), "a patient's id is no staff member's: {err}");
    assert!(err.contains("no such person"), "{err}");
    // The fact is in the patient's log.
    let store = trygg::startup::open_store(&crate::common::config_for(d))
        .await
        .unwrap();
    let h = store.org(&o).await.unwrap();
    let logged = h
        .audit_events(Some(&patient))
        .await
        .unwrap()
        .iter()
        .any(|(_, e)| e.operation.as_str() == "register.facts");
    store.close().await;
    assert!(logged);
}
