//! What the store's integration tests share: a store in a temporary directory, and fixtures.
#![allow(clippy::unwrap_used, dead_code)]

use trygg_core::{NationalId, OrgSlug, PersonName};
use trygg_store::{MasterKey, NewPatient, Organisation, Store, StoreConfig};

/// A store in `dir` (keys generated there) with the given write-queue bound.
pub async fn store_with_queue(dir: &std::path::Path, write_queue: usize) -> Store {
    store_with(dir, write_queue, trygg_store::OpenLimits::default()).await
}

/// A store in `dir` with the given write-queue bound and limits on open organisations.
pub async fn store_with(
    dir: &std::path::Path,
    write_queue: usize,
    open: trygg_store::OpenLimits,
) -> Store {
    let (key, _) = MasterKey::load_or_generate(&dir.join("master.key")).unwrap();
    let (audit_key, _) =
        trygg_store::audit::load_or_generate_signing_key(&dir.join("audit.key")).unwrap();
    Store::open(
        &StoreConfig {
            data_dir: dir.to_owned(),
            audit_host: "test.local".into(),
            write_queue,
            open,
            notice_keep: time::Duration::days(30),
        },
        key,
        audit_key,
    )
    .await
    .unwrap()
}

/// Now, by the real clock.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// A sample audit event of organisation `org` about `patient`.
pub fn event(org: &str, patient: &str) -> trygg_audit::AuditEvent {
    let mut e = trygg_audit::testing::sample_event(1_800_000_000_000, patient).unwrap();
    e.agent.organisation = Some(OrgSlug::parse(org).unwrap());
    e
}

/// The `i`th of many distinct synthetic patients.
pub fn patient(i: u32) -> NewPatient {
    NewPatient {
        name: PersonName::parse("Kari Testesen").unwrap(),
        national_id: NationalId::synthetic(
            u8::try_from(1 + i % 28).unwrap(),
            u8::try_from(1 + (i / 28) % 12).unwrap(),
            70,
            u16::try_from(100 + i / 336).unwrap(),
        )
        .unwrap(),
        phone: None,
        email: None,
    }
}

/// A new organisation with the short name `slug`.
pub async fn org(s: &Store, slug: &str) -> Organisation {
    s.create_org(&OrgSlug::parse(slug).unwrap(), "Testorg", now())
        .await
        .unwrap()
}
