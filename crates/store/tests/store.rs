//! The store against real SQLite files: organisations are isolated (PC-VENDOR-4), personal data
//! is sealed, access needs an audit entry, and the authorisation register keeps its records
//! (PC-ACL-1, guide risk scenarios 15 and 16).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use trygg_core::access::{decide, AccessBasis, Denied, Permission};
use trygg_core::{BuiltinRole, Employment, NationalId, OrgSlug, PersonName};
use trygg_store::{NewPatient, NewPersonnel, Store, StoreError};

mod support;

async fn store(dir: &std::path::Path) -> Store {
    support::store_with_queue(dir, trygg_store::DEFAULT_WRITE_QUEUE).await
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn audit_event(org: &str) -> trygg_audit::AuditEvent {
    let mut e = trygg_audit::testing::sample_event(1_800_000_000_000, "p-1").unwrap();
    e.agent.organisation = Some(OrgSlug::parse(org).unwrap());
    e
}

#[tokio::test]
async fn organisations_are_isolated_and_access_needs_an_audit_entry() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let a = s
        .create_org(&OrgSlug::parse("a").unwrap(), "A legesenter", now())
        .await
        .unwrap();
    let b = s
        .create_org(&OrgSlug::parse("b").unwrap(), "B kommune", now())
        .await
        .unwrap();
    let (ha, hb) = (s.org(&a).await.unwrap(), s.org(&b).await.unwrap());
    let nid = NationalId::synthetic(5, 6, 70, 200).unwrap();
    let mut tx = ha.begin().await.unwrap();
    let p = tx
        .create_patient(
            &NewPatient {
                name: PersonName::parse("Kari Testesen").unwrap(),
                national_id: nid.clone(),
                phone: None,
                email: None,
            },
            now(),
        )
        .await
        .unwrap();
    // Without an audit entry the access does not happen.
    assert!(matches!(tx.commit().await, Err(StoreError::Unaudited)));
    let mut tx = ha.begin().await.unwrap();
    assert!(tx.patient(p.id).await.unwrap().is_none(), "rolled back");
    tx.create_patient(
        &NewPatient {
            name: PersonName::parse("Kari Testesen").unwrap(),
            national_id: nid.clone(),
            phone: None,
            email: None,
        },
        now(),
    )
    .await
    .unwrap();
    tx.audit(&audit_event("a")).await.unwrap();
    tx.commit().await.unwrap();

    // The other organisation's handle finds nothing, by id or by national identity number.
    let mut tx = hb.begin().await.unwrap();
    assert!(tx.patient_by_national_id(&nid).await.unwrap().is_none());
    assert!(tx.list_patients().await.unwrap().is_empty());
    drop(tx);
    // Both logs verify; A has one entry, B none.
    assert_eq!(
        ha.verify_audit_at(time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .unwrap()
            .entries,
        1
    );
    assert_eq!(
        hb.verify_audit_at(time::OffsetDateTime::now_utc())
            .await
            .unwrap()
            .unwrap()
            .entries,
        0
    );
    s.close().await;
}

#[tokio::test]
async fn grants_care_relationships_and_the_register() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let org = s
        .create_org(&OrgSlug::parse("a").unwrap(), "A legesenter", now())
        .await
        .unwrap();
    let h = s.org(&org).await.unwrap();
    let t = now().unix_timestamp();
    let mut tx = h.begin().await.unwrap();
    let doc = tx
        .create_personnel(
            &NewPersonnel {
                name: PersonName::parse("Ola Lege").unwrap(),
                email: None,
                role: BuiltinRole::Doctor,
                employment: Employment::Locum,
            },
            now(),
        )
        .await
        .unwrap();
    let patient = tx
        .create_patient(
            &NewPatient {
                name: PersonName::parse("Per Pasient").unwrap(),
                national_id: NationalId::synthetic(1, 1, 50, 100).unwrap(),
                phone: None,
                email: None,
            },
            now(),
        )
        .await
        .unwrap();
    // Registration gave an open-ended grant of the doctor role.
    let subject = tx.subject(doc.id).await.unwrap().unwrap();
    assert_eq!(
        decide(&subject, Permission::PatientRead, None, t),
        Ok(AccessBasis::Role)
    );
    assert_eq!(
        decide(&subject, Permission::HealthRead, Some(patient.id), t),
        Err(Denied::NoNeedToKnow)
    );
    let care = tx
        .create_care_relationship(doc.id, patient.id, "fastlege", t - 1, t + 3600, "test", t)
        .await
        .unwrap();
    let subject = tx.subject(doc.id).await.unwrap().unwrap();
    assert_eq!(
        decide(&subject, Permission::HealthRead, Some(patient.id), t),
        Ok(AccessBasis::CareRelationship(care.id))
    );
    // Nobody grants themselves a role.
    let me = format!("personnel:{}", doc.id);
    assert!(matches!(
        tx.grant_role(doc.id, "org-admin", t, None, &me, t).await,
        Err(StoreError::Invalid(_))
    ));
    // Revoking the registration grant stops everything at once; the record stays.
    let g = tx.grants_of(doc.id).await.unwrap().remove(0);
    tx.revoke_grant(g.id, "personnel:admin", "left-team", t)
        .await
        .unwrap();
    let subject = tx.subject(doc.id).await.unwrap().unwrap();
    assert_eq!(
        decide(&subject, Permission::PatientRead, None, t),
        Err(Denied::NoPermission)
    );
    assert!(tx.revoke_grant(g.id, "x", "again", t).await.is_err());
    // A time-limited grant, then the end of employment overrides it.
    tx.grant_role(doc.id, "doctor", t - 10, Some(t + 10), "personnel:admin", t)
        .await
        .unwrap();
    let subject = tx.subject(doc.id).await.unwrap().unwrap();
    assert!(decide(&subject, Permission::PatientRead, None, t).is_ok());
    assert!(decide(&subject, Permission::PatientRead, None, t + 10).is_err());
    tx.set_employment_end(
        doc.id,
        t,
        time::OffsetDateTime::from_unix_timestamp(t).unwrap(),
    )
    .await
    .unwrap();
    let subject = tx.subject(doc.id).await.unwrap().unwrap();
    assert_eq!(
        decide(&subject, Permission::PatientRead, None, t),
        Err(Denied::EmploymentEnded)
    );
    // An organisation-defined role works like a built-in one once granted.
    let nurse = tx
        .create_personnel(
            &NewPersonnel {
                name: PersonName::parse("Kari Lab").unwrap(),
                email: None,
                role: BuiltinRole::Interpreter,
                employment: Employment::Employee,
            },
            now(),
        )
        .await
        .unwrap();
    let perms = [Permission::PatientRead].into_iter().collect();
    tx.define_role("lab-secretary", &perms).await.unwrap();
    assert!(
        tx.define_role("nurse", &perms).await.is_err(),
        "built-in names are reserved"
    );
    let subject = tx.subject(nurse.id).await.unwrap().unwrap();
    assert!(decide(&subject, Permission::PatientRead, None, t).is_err());
    tx.grant_role(nurse.id, "lab-secretary", t - 1, None, "personnel:admin", t)
        .await
        .unwrap();
    let subject = tx.subject(nurse.id).await.unwrap().unwrap();
    assert_eq!(
        decide(&subject, Permission::PatientRead, None, t),
        Ok(AccessBasis::Role)
    );
    assert!(tx
        .grant_role(nurse.id, "no-such-role", t, None, "x", t)
        .await
        .is_err());
    tx.audit(&audit_event("a")).await.unwrap();
    tx.commit().await.unwrap();
    s.close().await;

    // The register refuses deletion of records younger than five years, even from SQL.
    let db = std::fs::read_dir(dir.path().join("orgs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .unwrap();
    use sqlx::Connection as _;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let err = sqlx::query("DELETE FROM grants")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("five years"), "{err}");
    let err = sqlx::query("UPDATE grants SET role = 'org-admin'")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be rewritten"), "{err}");
    // A record that ended more than five years ago may go.
    sqlx::query("DROP TRIGGER grants_history_is_fixed")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE grants SET revoked_at = unixepoch('now') - 160000000")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("DELETE FROM grants")
        .execute(&mut c)
        .await
        .unwrap();
}

#[tokio::test]
async fn two_processes_appending_to_one_log_keep_it_valid() {
    // The server and a CLI command each hold their own store on the same files.
    let dir = tempfile::tempdir().unwrap();
    let a = store(dir.path()).await;
    let org = a
        .create_org(&OrgSlug::parse("a").unwrap(), "A legesenter", now())
        .await
        .unwrap();
    let b = store(dir.path()).await;
    let (ha, hb) = (a.org(&org).await.unwrap(), b.org(&org).await.unwrap());
    for i in 0..6 {
        let h = if i % 2 == 0 { &ha } else { &hb };
        let mut tx = h.begin().await.unwrap();
        tx.audit(&audit_event("a")).await.unwrap();
        tx.commit().await.unwrap();
    }
    let sum = ha
        .verify_audit_at(time::OffsetDateTime::now_utc())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sum.entries, 6);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn finding_8_payload_may_go_only_after_its_retention_end() {
    // PC-STORE-1 with PC-VENDOR-3: retention deletion (salt, event and the patient lookup column
    // set to NULL) verifies once the committed retention end has passed, and is tampering before.
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let org = s
        .create_org(&OrgSlug::parse("a").unwrap(), "A legesenter", now())
        .await
        .unwrap();
    let h = s.org(&org).await.unwrap();
    for _ in 0..3 {
        let mut tx = h.begin().await.unwrap();
        tx.audit(&audit_event("a")).await.unwrap();
        tx.commit().await.unwrap();
    }
    // `audit_event` is recorded at 1_800_000_000_000 ms: its retention ends ten years later.
    let end = time::OffsetDateTime::from_unix_timestamp_nanos(
        (1_800_000_000_000 + i128::from(trygg_audit::RETENTION_MILLIS)) * 1_000_000,
    )
    .unwrap();
    let db = std::fs::read_dir(dir.path().join("orgs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .unwrap();
    use sqlx::Connection as _;
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entry SET salt = NULL, event = NULL, patient = NULL WHERE seq = 1")
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    let before = end - time::Duration::milliseconds(1);
    let e = h.verify_audit_at(before).await.unwrap().unwrap_err();
    assert_eq!(e.first_bad_seq, 1);
    assert!(
        matches!(
            e.kind,
            trygg_audit::VerifyErrorKind::PayloadRemovedEarly { .. }
        ),
        "{e}"
    );
    let sum = h.verify_audit_at(end).await.unwrap().unwrap();
    assert_eq!((sum.payloads_deleted, sum.payloads_present), (1, 2));
    s.close().await;
}
