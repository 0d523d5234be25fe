//! The store's errors. Each variant says what went wrong without repeating personal data; the
//! server maps them to HTTP problems in one place.

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, constraint outside the cases below).
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file or directory operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Encryption, decryption or key handling failed.
    #[error("cryptography error: {0}")]
    Crypto(&'static str),
    /// A key file or value is not usable.
    #[error("master key: {0}")]
    MasterKey(String),
    /// A key file or the data directory can be read by other users (review finding 7).
    #[error("{0}")]
    Permissions(String),
    /// The row would break a uniqueness rule.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The thing named does not exist in this organisation.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A value handed to the store breaks a rule.
    #[error("invalid: {0}")]
    Invalid(&'static str),
    /// The audit log could not be written or read.
    #[error("audit log: {0}")]
    Audit(String),
    /// Personal data was touched in a transaction that appended no audit entry; the transaction
    /// was rolled back (PC-VENDOR-3: an access that cannot be logged does not happen).
    #[error("refused: personal data accessed without an audit entry")]
    Unaudited,
    /// The organisation's write queue is full (issue #8): nothing was done; try again shortly.
    #[error("busy: too many writes are waiting; try again shortly")]
    Overloaded,
    /// As many organisations as allowed are open and every one stays in use (issue #18):
    /// nothing was done; try again shortly.
    #[error("busy: every open organisation is in use; try again shortly")]
    AllInUse,
    /// The batch a unit was committed in could not be written: nothing of the unit was kept.
    #[error("the write failed: {0}")]
    Batch(String),
    /// A stored value could not be read back (corrupt or tampered).
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
}
