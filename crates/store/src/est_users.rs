//! EST (RFC 7030) HTTP Basic credentials: made by control for one EST label, checked by
//! the front when a client's request carries `Authorization: Basic`.
//!
//! In: from control, a label, a username, the argon2id PHC string of the password (control
//! hashes it; the store never sees a password), who made it and when; from the front, the
//! label and username a client sent, and the outcome of its password check. Out: for
//! control [`EstUserRecord`]s (never the hash); for the front one [`EstCredential`] — the
//! hash to verify against and the lock end — and, for a wrong password, whether that
//! failure locked the user now.
//!
//! Security: on PostgreSQL the front has no right on the table. It reads one row only
//! through `est_user_lookup(label, username)` and changes the counters only through
//! `est_user_failed` and `est_user_succeeded` (migrations/postgres/0016, SECURITY DEFINER),
//! so a compromised front cannot read every hash at once and guess passwords offline with
//! no failure counted; on SQLite the same statements run here. A failure is counted by one
//! guarded statement (not while a lock holds), so two fronts failing at once lose no count
//! and lock once. The lock runs from the earlier of the caller's `now` and the database's
//! own clock, and its length and the failure limit are bounded ([`MAX_EST_LOCK_SECS`],
//! [`MAX_EST_FAILURES_LIMIT`]): a front that lies about the time cannot lock a user for years.
//!
//! Not checked here: whether the label is one the front serves (its configuration says;
//! a user of an unknown label logs in nowhere), the password's strength (control's), and
//! the lock itself — the front refuses a locked user before it verifies any password.

use crate::{Backend, Store, StoreError};
use sqlx::Row;
use std::fmt;

/// Most users one label may have: a script that creates users in a loop fills this, not
/// the disk.
pub const MAX_EST_USERS_PER_LABEL: i64 = 100_000;

/// Longest EST label (the table's CHECK says the same).
pub const MAX_EST_LABEL: usize = 64;

/// Longest EST username (the table's CHECK says the same).
pub const MAX_EST_USERNAME: usize = 128;

/// Most failures [`Store::est_login_failed`] may be told to allow before a lock
/// (`est_user_failed` holds the same bound).
pub const MAX_EST_FAILURES_LIMIT: i64 = 1_000;

/// Longest lock [`Store::est_login_failed`] may be told to set: 24 hours
/// (`est_user_failed` holds the same bound).
pub const MAX_EST_LOCK_SECS: i64 = 86_400;

/// Whether `label` may name an EST label: 1 to 64 of `a-z 0-9 -` (the label of the URL
/// `/.well-known/est/<label>/`; the one without a label is named `default`).
pub fn check_est_label(label: &str) -> Result<(), StoreError> {
    let ok = !label.is_empty()
        && label.len() <= MAX_EST_LABEL
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "EST label {label:?} must be 1 to {MAX_EST_LABEL} of a-z 0-9 - (`default` for the URL without a label)"
        )))
    }
}

/// Whether `username` may be an EST username: 1 to 128 visible ASCII characters (`!` to
/// `~`) other than `:`. HTTP Basic splits the user from the password at the first `:`, so
/// a username with one could never log in; a space or control character is invisible in
/// a listing and no EST client needs one.
pub fn check_est_username(username: &str) -> Result<(), StoreError> {
    let ok = !username.is_empty()
        && username.len() <= MAX_EST_USERNAME
        && username.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "EST username must be 1 to {MAX_EST_USERNAME} visible ASCII characters without ':' (HTTP Basic splits at the first ':')"
        )))
    }
}

/// The hash must be an argon2id PHC string: a plaintext password passed here by mistake
/// is refused, not stored.
fn check_password_hash(hash: &str) -> Result<(), StoreError> {
    if hash.starts_with("$argon2id$") && hash.len() <= 512 {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "an EST password hash must be an argon2id PHC string ($argon2id$…)".into(),
        ))
    }
}

/// An EST user as control sees it: no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EstUserRecord {
    /// Id (the front's [`EstCredential::id`]).
    pub id: i64,
    /// The EST label it logs in under.
    pub label: String,
    /// The HTTP Basic username.
    pub username: String,
    /// Who made it (the audit actor).
    pub created_by: String,
    /// When (Unix seconds).
    pub created_at: i64,
    /// Wrong passwords since the last success or lock.
    pub failures: i64,
    /// Refused until then (Unix seconds), when a lock was ever set and not lifted; a time
    /// in the past is no lock.
    pub locked_until: Option<i64>,
}

/// What the front needs to check one login: the hash, and whether a lock holds.
#[derive(Clone, PartialEq, Eq)]
pub struct EstCredential {
    /// The user's id, for [`Store::est_login_failed`] and [`Store::est_login_succeeded`].
    pub id: i64,
    /// The argon2id PHC string to verify the presented password against
    /// (`strongroom_httpd::password::verify_password`). Never printed: see `Debug`.
    pub password_hash: String,
    /// Refused, without a password check, while `now < locked_until`.
    pub locked_until: Option<i64>,
}

/// Security: the hash is left out, so a credential in a log line or an error message gives
/// an offline guesser nothing.
impl fmt::Debug for EstCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EstCredential")
            .field("id", &self.id)
            .field("password_hash", &"<redacted>")
            .field("locked_until", &self.locked_until)
            .finish()
    }
}

/// The columns every read for control selects (never the hash).
const COLUMNS: &str = "id, label, username, created_by, created_at, failures, locked_until";

fn record(r: &sqlx::any::AnyRow) -> Result<EstUserRecord, StoreError> {
    Ok(EstUserRecord {
        id: r.try_get("id")?,
        label: r.try_get("label")?,
        username: r.try_get("username")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        failures: r.try_get("failures")?,
        locked_until: r.try_get("locked_until")?,
    })
}

fn not_found(label: &str, username: &str) -> StoreError {
    StoreError::NotFound(format!("EST user {username:?} of label {label}"))
}

impl Store {
    /// Records a new EST user (control). `password_hash` is the argon2id PHC string of its
    /// password. [`StoreError::Conflict`] when the label already has this username or
    /// [`MAX_EST_USERS_PER_LABEL`] users; [`StoreError::Invalid`] for a bad label,
    /// username or hash.
    pub async fn create_est_user(
        &self,
        label: &str,
        username: &str,
        password_hash: &str,
        created_by: &str,
        now: i64,
    ) -> Result<EstUserRecord, StoreError> {
        check_est_label(label)?;
        check_est_username(username)?;
        check_password_hash(password_hash)?;
        let mut tx = self.begin_write().await?;
        // Counted in the transaction that inserts: on SQLite it holds the write lock; on
        // PostgreSQL two racing creations may both pass at the limit, which bounds the
        // excess by the number of concurrent callers.
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM est_users WHERE label = $1")
            .bind(label.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if count >= MAX_EST_USERS_PER_LABEL {
            return Err(StoreError::Conflict(format!(
                "EST label {label} has {count} users, the most it may have; delete some first"
            )));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO est_users (label, username, password_hash, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        )))
        .bind(label.to_string())
        .bind(username.to_string())
        .bind(password_hash.to_string())
        .bind(created_by.to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            // The database's own message names the constraint; this one names the user.
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("EST label {label} already has a user {username:?}"))
            }
            other => other,
        })?;
        let made = record(&row)?;
        tx.commit().await?;
        Ok(made)
    }

    /// EST users of one label or of all, by label then username (control's listing; no
    /// hash is read).
    pub async fn est_users(&self, label: Option<&str>) -> Result<Vec<EstUserRecord>, StoreError> {
        // Constant fragments only; the value is bound.
        let mut sql = format!("SELECT {COLUMNS} FROM est_users");
        if let Some(l) = label {
            check_est_label(l)?;
            sql.push_str(" WHERE label = $1");
        }
        sql.push_str(" ORDER BY label, username");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(l) = label {
            q = q.bind(l.to_string());
        }
        q.fetch_all(self.pool()).await?.iter().map(record).collect()
    }

    /// One EST user (control), without its hash.
    pub async fn est_user(&self, label: &str, username: &str) -> Result<EstUserRecord, StoreError> {
        self.one_est_user(
            "SELECT {COLUMNS} FROM est_users WHERE label = $1 AND username = $2",
            label,
            username,
        )
        .await
    }

    /// Deletes an EST user (control); its next login is refused like an unknown one's.
    /// Returns the record as it was. [`StoreError::NotFound`] when there is none.
    pub async fn delete_est_user(
        &self,
        label: &str,
        username: &str,
    ) -> Result<EstUserRecord, StoreError> {
        self.one_est_user(
            "DELETE FROM est_users WHERE label = $1 AND username = $2 RETURNING {COLUMNS}",
            label,
            username,
        )
        .await
    }

    /// Lifts an EST user's lock and clears its count of failures (control). Returns the
    /// record as it is now. [`StoreError::NotFound`] when there is none.
    pub async fn unlock_est_user(
        &self,
        label: &str,
        username: &str,
    ) -> Result<EstUserRecord, StoreError> {
        self.one_est_user(
            "UPDATE est_users SET failures = 0, locked_until = NULL \
             WHERE label = $1 AND username = $2 RETURNING {COLUMNS}",
            label,
            username,
        )
        .await
    }

    /// Runs `statement` (one of the three above: `$1` the label, `$2` the username,
    /// `{COLUMNS}` the record's columns) for one user, after checking both names.
    async fn one_est_user(
        &self,
        statement: &'static str,
        label: &str,
        username: &str,
    ) -> Result<EstUserRecord, StoreError> {
        check_est_label(label)?;
        check_est_username(username)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(statement.replace("{COLUMNS}", COLUMNS)))
            .bind(label.to_string())
            .bind(username.to_string())
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => record(&r),
            None => Err(not_found(label, username)),
        }
    }

    /// The credential a client names (the front): the hash to verify its password against
    /// and the lock end; `None` when the label has no such user — including a label or
    /// username that could never be stored, so a client's malformed name reads as unknown
    /// (the front then verifies against `strongroom_httpd::password::dummy_hash`, so that
    /// an unknown name costs as much as a wrong password).
    pub async fn est_credential(
        &self,
        label: &str,
        username: &str,
    ) -> Result<Option<EstCredential>, StoreError> {
        if check_est_label(label).is_err() || check_est_username(username).is_err() {
            return Ok(None);
        }
        let sql = match self.backend() {
            // Through the function: the front has no right on the table.
            Backend::Postgres => {
                "SELECT user_id AS id, user_password_hash AS password_hash, \
                 user_locked_until AS locked_until FROM est_user_lookup($1, $2)"
            }
            Backend::Sqlite => {
                "SELECT id, password_hash, locked_until FROM est_users \
                 WHERE label = $1 AND username = $2"
            }
        };
        let row = sqlx::query(sql)
            .bind(label.to_string())
            .bind(username.to_string())
            .fetch_optional(self.reads())
            .await?;
        row.map(|r| {
            Ok(EstCredential {
                id: r.try_get("id")?,
                password_hash: r.try_get("password_hash")?,
                locked_until: r.try_get("locked_until")?,
            })
        })
        .transpose()
    }

    /// Counts a wrong password for user `id` at `now` (the front), in one guarded
    /// statement that does nothing while a lock holds (`locked_until > now`). When the
    /// count reaches `max_failures` the user is locked for `lock_secs`, from the earlier of
    /// `now` and the database's clock, and the count starts again at 0. Returns the lock
    /// end when this failure locked the user; `None` otherwise (also for an unknown id).
    /// [`StoreError::Invalid`] unless `max_failures` is 1 to [`MAX_EST_FAILURES_LIMIT`] and
    /// `lock_secs` 1 to [`MAX_EST_LOCK_SECS`].
    pub async fn est_login_failed(
        &self,
        id: i64,
        now: i64,
        max_failures: i64,
        lock_secs: i64,
    ) -> Result<Option<i64>, StoreError> {
        if !(1..=MAX_EST_FAILURES_LIMIT).contains(&max_failures)
            || !(1..=MAX_EST_LOCK_SECS).contains(&lock_secs)
        {
            return Err(StoreError::Invalid(format!(
                "an EST lockout takes 1 to {MAX_EST_FAILURES_LIMIT} failures and a lock of 1 to {MAX_EST_LOCK_SECS} seconds"
            )));
        }
        match self.backend() {
            Backend::Postgres => {
                let row = sqlx::query("SELECT est_user_failed($1, $2, $3, $4) AS locked_until")
                    .bind(id)
                    .bind(now)
                    .bind(max_failures)
                    .bind(lock_secs)
                    .fetch_one(self.pool())
                    .await?;
                Ok(row.try_get("locked_until")?)
            }
            Backend::Sqlite => {
                // The same statement as est_user_failed; only the database clock is
                // spelt differently. A lock sets failures to 0, which no other outcome
                // does (a counted failure leaves at least 1).
                let row = sqlx::query(
                    "UPDATE est_users SET \
                     failures = CASE WHEN failures + 1 >= $1 THEN 0 ELSE failures + 1 END, \
                     locked_until = CASE WHEN failures + 1 >= $1 \
                         THEN MIN($2, CAST(strftime('%s', 'now') AS INTEGER)) + $3 \
                         ELSE NULL END \
                     WHERE id = $4 AND (locked_until IS NULL OR locked_until <= $2) \
                     RETURNING failures, locked_until",
                )
                .bind(max_failures)
                .bind(now)
                .bind(lock_secs)
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
                match row {
                    Some(r) if r.try_get::<i64, _>("failures")? == 0 => {
                        Ok(r.try_get("locked_until")?)
                    }
                    _ => Ok(None),
                }
            }
        }
    }

    /// Records the right password for user `id` (the front): the count of failures starts
    /// again. A lock is left as it is — the front does not check passwords while one holds.
    pub async fn est_login_succeeded(&self, id: i64) -> Result<(), StoreError> {
        let sql = match self.backend() {
            Backend::Postgres => "SELECT est_user_succeeded($1) AS cleared",
            Backend::Sqlite => "UPDATE est_users SET failures = 0 WHERE id = $1 AND failures <> 0",
        };
        sqlx::query(sql).bind(id).execute(self.pool()).await?;
        Ok(())
    }
}
