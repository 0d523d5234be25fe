//! What the store's integration tests share: a store in a temporary directory.
#![allow(clippy::unwrap_used, dead_code)]

use trygg_store::{MasterKey, Store, StoreConfig};

/// A store in `dir` (keys generated there) with the given write-queue bound.
pub async fn store_with_queue(dir: &std::path::Path, write_queue: usize) -> Store {
    let (key, _) = MasterKey::load_or_generate(&dir.join("master.key")).unwrap();
    let (audit_key, _) =
        trygg_store::audit::load_or_generate_signing_key(&dir.join("audit.key")).unwrap();
    Store::open(
        &StoreConfig {
            data_dir: dir.to_owned(),
            audit_host: "test.local".into(),
            write_queue,
        },
        key,
        audit_key,
    )
    .await
    .unwrap()
}
