//! Migrations, embedded in the binary per backend (migrations/sqlite, migrations/postgres).
//!
//! In: a pool. Out: a schema at the newest version, or an error that names the migration.

use crate::{Backend, StoreError};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};

/// (version, description, SQL). Append only: a shipped migration never changes (sqlx
/// checks each applied migration's checksum at start-up).
const SQLITE: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "approvals and expiry index",
        include_str!("../../../migrations/sqlite/0002_approvals_and_expiry_index.sql"),
    ),
    (
        3,
        "jobs",
        include_str!("../../../migrations/sqlite/0003_jobs.sql"),
    ),
    (
        4,
        "control",
        include_str!("../../../migrations/sqlite/0004_control.sql"),
    ),
    (
        5,
        "acme",
        include_str!("../../../migrations/sqlite/0005_acme.sql"),
    ),
    (
        6,
        "nonces in their own database",
        include_str!("../../../migrations/sqlite/0006_nonces_apart.sql"),
    ),
    (
        7,
        "acme processing since",
        include_str!("../../../migrations/sqlite/0007_acme_processing_since.sql"),
    ),
    (
        8,
        "journal reconciliation",
        include_str!("../../../migrations/sqlite/0008_journal_reconciliation.sql"),
    ),
    (
        9,
        "login certificates and OCSP for issued serials",
        include_str!("../../../migrations/sqlite/0009_login_certificates_and_issued_ocsp.sql"),
    ),
    (
        10,
        "audit hash rule 2",
        include_str!("../../../migrations/sqlite/0010_audit_hash_v2.sql"),
    ),
    (
        11,
        "dual control",
        include_str!("../../../migrations/sqlite/0011_dual_control.sql"),
    ),
    (
        12,
        "acme account eab jws",
        include_str!("../../../migrations/sqlite/0012_acme_account_eab_jws.sql"),
    ),
    (
        13,
        "scep challenges",
        include_str!("../../../migrations/sqlite/0013_scep_challenges.sql"),
    ),
    (
        14,
        "scep dynamic challenges",
        include_str!("../../../migrations/sqlite/0014_scep_dynamic_challenges.sql"),
    ),
    (
        15,
        "scep pending",
        include_str!("../../../migrations/sqlite/0015_scep_pending.sql"),
    ),
    (
        16,
        "ca successor",
        include_str!("../../../migrations/sqlite/0016_ca_successor.sql"),
    ),
    (
        17,
        "est users",
        include_str!("../../../migrations/sqlite/0017_est_users.sql"),
    ),
    (
        18,
        "enrolments pending approval over SCEP or EST",
        include_str!("../../../migrations/sqlite/0018_enrol_pending_protocol.sql"),
    ),
    (
        19,
        "user totp",
        include_str!("../../../migrations/sqlite/0019_user_totp.sql"),
    ),
    (
        20,
        "session activity",
        include_str!("../../../migrations/sqlite/0020_session_activity.sql"),
    ),
    (
        21,
        "certificates by creation time",
        include_str!("../../../migrations/sqlite/0021_certificates_created_at.sql"),
    ),
    (
        22,
        "certificates by serial",
        include_str!("../../../migrations/sqlite/0022_certificates_serial.sql"),
    ),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "approvals and expiry index",
        include_str!("../../../migrations/postgres/0002_approvals_and_expiry_index.sql"),
    ),
    (
        3,
        "jobs",
        include_str!("../../../migrations/postgres/0003_jobs.sql"),
    ),
    (
        4,
        "control",
        include_str!("../../../migrations/postgres/0004_control.sql"),
    ),
    (
        5,
        "acme",
        include_str!("../../../migrations/postgres/0005_acme.sql"),
    ),
    (
        6,
        "acme processing since",
        include_str!("../../../migrations/postgres/0006_acme_processing_since.sql"),
    ),
    (
        7,
        "journal reconciliation",
        include_str!("../../../migrations/postgres/0007_journal_reconciliation.sql"),
    ),
    (
        8,
        "login certificates and OCSP for issued serials",
        include_str!("../../../migrations/postgres/0008_login_certificates_and_issued_ocsp.sql"),
    ),
    (
        9,
        "audit hash rule 2 and audit_append",
        include_str!("../../../migrations/postgres/0009_audit_hash_v2.sql"),
    ),
    (
        10,
        "dual control",
        include_str!("../../../migrations/postgres/0010_dual_control.sql"),
    ),
    (
        11,
        "acme account eab jws",
        include_str!("../../../migrations/postgres/0011_acme_account_eab_jws.sql"),
    ),
    (
        12,
        "scep challenges and scep_challenge_consume",
        include_str!("../../../migrations/postgres/0012_scep_challenges.sql"),
    ),
    (
        13,
        "scep dynamic challenges and scep_dynamic_challenge_use",
        include_str!("../../../migrations/postgres/0013_scep_dynamic_challenges.sql"),
    ),
    (
        14,
        "scep pending, scep_pending_submit and scep_pending_status",
        include_str!("../../../migrations/postgres/0014_scep_pending.sql"),
    ),
    (
        15,
        "ca successor",
        include_str!("../../../migrations/postgres/0015_ca_successor.sql"),
    ),
    (
        16,
        "est users, est_user_lookup, est_user_failed and est_user_succeeded",
        include_str!("../../../migrations/postgres/0016_est_users.sql"),
    ),
    (
        17,
        "enrolments pending approval over SCEP or EST, scep_pending_submit with the protocol",
        include_str!("../../../migrations/postgres/0017_enrol_pending_protocol.sql"),
    ),
    (
        18,
        "user totp",
        include_str!("../../../migrations/postgres/0018_user_totp.sql"),
    ),
    (
        19,
        "session activity",
        include_str!("../../../migrations/postgres/0019_session_activity.sql"),
    ),
    (
        20,
        "certificates by creation time",
        include_str!("../../../migrations/postgres/0020_certificates_created_at.sql"),
    ),
    (
        21,
        "certificates by serial",
        include_str!("../../../migrations/postgres/0021_certificates_serial.sql"),
    ),
];

/// Per-daemon roles and grants (PostgreSQL), applied by `strongroom-control migrate --roles`.
pub(crate) const POSTGRES_ROLES: &str = include_str!("../../../migrations/postgres/roles.sql");

/// The newest migration version this build carries.
pub(crate) fn newest_version(backend: Backend) -> i64 {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    list.iter().map(|(v, _, _)| *v).max().unwrap_or(0)
}

/// The migrator for a backend.
pub(crate) fn migrator(backend: Backend) -> Migrator {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    Migrator::with_migrations(
        list.iter()
            .map(|(v, d, sql)| {
                Migration::new(
                    *v,
                    (*d).into(),
                    MigrationType::Simple,
                    (*sql).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Applies pending migrations.
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    migrator(backend)
        .run(pool)
        .await
        .map_err(|e| StoreError::Backend(format!("migration failed: {e}")))
}
