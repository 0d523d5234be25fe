//! The database backends behind one enum. Today: SQLite files (the embedded default), one per
//! organisation plus the control database. PostgreSQL slots in as a second variant; the SQL that
//! differs between dialects is kept here (marked `DIALECT`), so callers never match on it.

use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::StoreError;

/// Which migration set a database gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Migrations {
    /// The control database.
    Control,
    /// An organisation's database.
    Org,
}

/// One database connection pool.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    /// A SQLite file in WAL mode.
    Sqlite(SqlitePool),
}

impl Db {
    /// Opens (creating with mode 0600 if needed) a SQLite file in WAL mode with full fsync, foreign
    /// keys on, and applies the embedded migrations.
    pub(crate) async fn open_sqlite(
        path: &Path,
        migrations: Migrations,
    ) -> Result<Self, StoreError> {
        create_private_file(path)?;
        let url = format!("sqlite://{}", path.display());
        // DIALECT: SQLite pragmas. `synchronous = FULL` so a committed write (an audit entry
        // above all) survives a power cut; `secure_delete` so content deleted by retention
        // (PC-STORE-1) is overwritten in the file, not left in free pages.
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .pragma("secure_delete", "ON")
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // An organisation's pool is small and lets idle readers go (issue #18: descriptors are
        // counted per open organisation, `FILES_PER_ORG`); the control database keeps more.
        let (max, idle) = match migrations {
            Migrations::Control => (8, Duration::from_secs(600)),
            Migrations::Org => (
                u32::try_from(crate::READERS_PER_ORG).unwrap_or(4),
                Duration::from_secs(30),
            ),
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(0)
            .idle_timeout(idle)
            .connect_with(opts)
            .await?;
        match migrations {
            Migrations::Control => sqlx::migrate!("./migrations/control").run(&pool).await?,
            Migrations::Org => sqlx::migrate!("./migrations/org").run(&pool).await?,
        }
        Ok(Self::Sqlite(pool))
    }

    /// A connection of its own for the organisation's writer (issue #8), with the pool's
    /// settings, so that reads on the pool never wait behind a batch. It does not checkpoint
    /// the WAL itself: that would stall a batch for the whole copy; the writer asks a pool
    /// connection for a passive checkpoint in the background instead ([`Db::checkpoint`]).
    pub(crate) async fn writer_connection(&self) -> Result<sqlx::SqliteConnection, StoreError> {
        use sqlx::ConnectOptions as _;
        match self {
            Self::Sqlite(p) => {
                let mut c = p.connect_options().connect().await?;
                // DIALECT: SQLite's automatic WAL checkpoint, per connection.
                sqlx::query("PRAGMA wal_autocheckpoint = 0")
                    .execute(&mut c)
                    .await?;
                Ok(c)
            }
        }
    }

    /// The control database's connection for copies of audit heads (issue #8): committed with
    /// `synchronous = NORMAL`, so a copy costs no fsync of its own. A copy survives a crash of
    /// the process (it is in the WAL); after a power cut the copy may be a few batches behind
    /// the organisation's log until the next write, which `trygg audit verify` accepts as an
    /// older head. Everything else in the control database is committed with a full fsync.
    pub(crate) async fn head_connection(&self) -> Result<sqlx::SqliteConnection, StoreError> {
        use sqlx::ConnectOptions as _;
        match self {
            Self::Sqlite(p) => Ok((*p.connect_options())
                .clone()
                .synchronous(SqliteSynchronous::Normal)
                .connect()
                .await?),
        }
    }

    /// Copies the WAL's committed pages into the database file without blocking the writer or
    /// readers (a passive checkpoint); the next writer then restarts the WAL from its start.
    pub(crate) async fn checkpoint(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(p) => {
                sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(p)
                    .await?;
                Ok(())
            }
        }
    }

    /// The SQLite pool.
    pub(crate) fn sqlite(&self) -> &SqlitePool {
        match self {
            Self::Sqlite(p) => p,
        }
    }

    /// Closes the pool; for SQLite this checkpoints the WAL into the main file.
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(p) => {
                // A failed checkpoint leaves a valid WAL behind, which SQLite replays on open.
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(p)
                    .await;
                p.close().await;
            }
        }
    }
}

/// Creates a directory (and parents) readable only by its owner, or checks an existing one.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        what: format!("creating {}", dir.display()),
        source,
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
    }
    Ok(())
}

/// Refuses a directory that group or others can enter, read or write (on Unix): the data
/// directory holds the databases and, by default, the keys (review finding 7).
pub(crate) fn check_private_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(dir).map_err(|source| StoreError::Io {
            what: format!("reading {}", dir.display()),
            source,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(StoreError::Permissions(format!(
                "the data directory {} is accessible to other users; run: chmod 700 {}",
                dir.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

fn create_private_file(path: &Path) -> Result<(), StoreError> {
    if path.exists() {
        return Ok(());
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    opts.open(path).map(drop).map_err(|source| StoreError::Io {
        what: format!("creating {}", path.display()),
        source,
    })
}
