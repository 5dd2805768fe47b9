//! The Strongroom store: the only crate that talks SQL.
//!
//! In: a database URL (`sqlite://PATH` for the embedded default, `postgres://…` for
//! production) and domain values from control and front. Out: repositories over one pool,
//! with the same behaviour on both backends (every repository test runs on both).
//! Queries are checked at run time (no compile-time macros, no live database at build
//! time) and are written once in the SQL both dialects accept (`$1` placeholders,
//! `RETURNING`); only the DDL differs, in `migrations/sqlite` and `migrations/postgres`.
//! A PostgreSQL server off this host is reached only over TLS with `sslmode=verify-full`
//! and the operator's CA file (`database_tls`).

#![forbid(unsafe_code)]

mod acme;
mod acme_limits;
mod acme_orders;
mod acme_status;
mod approvals;
mod audit;
mod ca_successor;
mod cas;
mod certificate_stats;
mod certificates;
mod database_tls;
mod error;
mod est_users;
mod identity;
mod jobs;
mod login_certificates;
mod migrate;
mod nonces;
mod profiles;
mod reconcile;
mod revocation_data;
mod scep_challenges;
mod scep_dynamic_challenges;
mod scep_pending;
mod user_totp;

pub use acme::{
    AcmeAccount, AcmeAuthorization, AcmeChallenge, AcmeOrder, EabKey, NewAcmeAccount,
    NewAcmeAuthorization, NewAcmeOrder, NonceAndAccount,
};
pub use acme_limits::{LimitHit, OrderLimits};
pub use acme_status::{AccountStatus, AuthorizationStatus, ChallengeStatus, OrderStatus};
pub use approvals::{ApprovalRequest, ApprovalState, Independence};
pub use audit::{AuditEvent, AuditOutcome, ChainBreak, HashRule, NewAuditEvent};
pub use cas::{CaRecord, CaState};
pub use certificate_stats::CertificateStats;
pub use certificates::{
    CertificateFilter, CertificateRecord, CertificateSource, NewCertificate, Page, RevocationRow,
};
pub use database_tls::database_files;
pub use error::StoreError;
pub use est_users::{
    check_est_label, check_est_username, EstCredential, EstUserRecord, MAX_EST_FAILURES_LIMIT,
    MAX_EST_LABEL, MAX_EST_LOCK_SECS, MAX_EST_USERNAME, MAX_EST_USERS_PER_LABEL,
};
pub use identity::{ApiKeyRecord, NewApiKey, Role, UserRecord};
pub use jobs::{Job, JobState};
pub use login_certificates::LoginCertificate;
pub use profiles::ProfileRecord;
pub use revocation_data::{StoredCrl, StoredOcsp};
pub use scep_challenges::{
    scep_challenge_hash, ChallengeRecord, ConsumeOutcome, MAX_OPEN_CHALLENGES_PER_PROFILE,
};
pub use scep_dynamic_challenges::{
    DynamicOutcome, DYNAMIC_DEVICE_WINDOW_SECS, DYNAMIC_RETENTION_SECS,
};
pub use user_totp::TotpRecord;

pub use scep_pending::{
    ApprovalToFile, FileOutcome, NewScepPending, PendingProtocol, ScepPendingRecord,
    ScepPendingStatus, ScepPendingView, SubmitOutcome, MAX_PENDING_PER_PROFILE, SCEP_APPROVE_JOB,
};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use std::str::FromStr;
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite (WAL, one writer).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A connected, migrated store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where hot-path reads go: on SQLite, read-only connections beside the single writer
    /// (WAL lets them read while the writer commits, so a read never waits behind an
    /// fsync); on PostgreSQL and for in-memory SQLite, the same pool.
    reads: AnyPool,
    backend: Backend,
}

/// Read connections beside SQLite's writer.
const SQLITE_READERS: u32 = 4;

impl Store {
    /// Connects and runs pending migrations. The URL never reaches a log (it may carry
    /// a password); errors name the backend only.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let store = Store::connect_without_migrating(url).await?;
        migrate::run(&store.pool, store.backend).await?;
        Ok(store)
    }

    /// Connects without migrating (for `strongroom-control migrate --check`).
    pub async fn connect_without_migrating(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Invalid(
                "database URL must start with sqlite: or postgres:".into(),
            ));
        };
        // A server off this host only over verified TLS (database_tls.rs says why).
        database_tls::check_transport(url)?;
        let options = AnyConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // One writer: SQLite serialises writes anyway; one connection avoids
            // SQLITE_BUSY between our own connections. WAL lets readers run alongside.
            // temp_store = MEMORY: statement journals and sort spills stay in memory, never
            // in /var/tmp — the sandboxed daemons may not create files there, and a
            // failed spill after the signer signed would lose the certificate's record.
            // Nonces go to a database of their own (crate::nonces).
            pool = pool.max_connections(1).after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;")
                        .await?;
                    nonces::attach(conn).await
                })
            });
        } else {
            pool = pool.max_connections(16);
        }
        let pool = pool
            .connect_with(options.clone())
            .await
            .map_err(|e| StoreError::Backend(format!("{backend:?}: cannot connect: {e}")))?;
        let reads = if backend == Backend::Sqlite && !in_memory {
            // query_only: a write sent here by mistake fails instead of racing the writer.
            AnyPoolOptions::new()
                .acquire_timeout(Duration::from_secs(10))
                .max_connections(SQLITE_READERS)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY; PRAGMA query_only = ON;")
                            .await
                            .map(|_| ())
                    })
                })
                .connect_with(options)
                .await
                .map_err(|e| StoreError::Backend(format!("{backend:?}: cannot connect: {e}")))?
        } else {
            pool.clone()
        };
        Ok(Store {
            pool,
            reads,
            backend,
        })
    }

    /// Whether every migration this build knows has been applied (a daemon running with a
    /// narrow database role cannot migrate; it checks this instead and refuses to start on
    /// an older schema).
    pub async fn schema_is_current(&self) -> Result<bool, StoreError> {
        let newest = migrate::newest_version(self.backend);
        let applied: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError::Backend(format!("cannot read the schema version: {e}")))?
        .try_get("v")?;
        Ok(applied >= newest)
    }

    /// Creates the per-daemon PostgreSQL roles and their grants
    /// (`migrations/postgres/roles.sql`); needs a superuser or the schema owner.
    pub async fn apply_postgres_roles(&self) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Err(StoreError::Invalid(
                "per-daemon roles exist only on PostgreSQL".into(),
            ));
        }
        self.pool
            .execute(sqlx::AssertSqlSafe(migrate::POSTGRES_ROLES))
            .await?;
        Ok(())
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A write transaction. On SQLite it begins `BEGIN IMMEDIATE`: the write lock is taken
    /// first, waiting up to the busy timeout for another process's writer (control and the
    /// front share the file). A deferred `BEGIN` that reads and then writes fails at once
    /// with `database is locked` when the other process committed after the read — its
    /// snapshot is stale and waiting cannot help — which the busy timeout never sees
    /// (tests/sqlite_contention.rs).
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// The pool for reads that need not see an uncommitted write of their own.
    pub(crate) fn reads(&self) -> &AnyPool {
        &self.reads
    }

    /// Refreshes the query planner's statistics after large imports (SQLite never does
    /// this on its own). On PostgreSQL it also vacuums, which sets the visibility map so
    /// counts can use index-only scans right away instead of after autovacuum's next pass.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "VACUUM (ANALYZE)",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pools.
    pub async fn close(&self) {
        self.reads.close().await;
        self.pool.close().await;
    }
}
