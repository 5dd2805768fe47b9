//! One-time SCEP challenge passwords: made by control for one profile, used once by the
//! front when a device's PKCSReq carries one.
//!
//! In: from control, the SHA-256 of a new challenge (control draws the challenge and shows
//! it once; the store never holds the text), its profile, who made it and until when it
//! lives; from the front, the challenge text a device presented, the profile it enrolled
//! under and the SCEP transactionID. Out: [`ChallengeRecord`]s (never a hash) and, for a
//! presented challenge, a [`ConsumeOutcome`] saying whether it was consumed now or why not.
//!
//! Security: a challenge is consumed by one guarded statement (`UPDATE … WHERE
//! challenge_hash = $ AND profile = $ AND consumed_at IS NULL AND expires_at > now
//! RETURNING …`), so of two fronts racing on one challenge exactly one consumes it. The
//! presented text is hashed and looked up by its hash: the database compares hashes, never
//! the secret, so whatever the comparison's timing reveals is about SHA-256 outputs of
//! 256-bit random values, which gives no handle on a challenge (this is the constant-time
//! comparison of the issue: no secret-dependent early exit on the secret itself). On
//! PostgreSQL the front consumes only through `scep_challenge_consume`
//! (migrations/postgres/0012), a SECURITY DEFINER function, and has no right on the table;
//! on SQLite the same statement runs here in a write transaction.
//!
//! Not checked here: whether the profile exists or takes SCEP (the front's and control's
//! business), and what the transactionID means (the front checks it against the request's
//! key); the store only bounds its length.

use crate::{Backend, Store, StoreError};
use sha2::{Digest, Sha256};
use sqlx::Row;
use strongroom_types::ProfileName;

/// Most challenges one profile may have unused and unexpired at once: an enroller who
/// scripts creation in a loop fills this, not the disk.
pub const MAX_OPEN_CHALLENGES_PER_PROFILE: i64 = 10_000;

/// Longest SCEP transactionID recorded (the table's CHECK says the same).
const MAX_TRANSACTION_ID: usize = 256;

/// The stored hash of a challenge: SHA-256 of its UTF-8 text exactly as presented.
/// STORED FORMAT: every row's `challenge_hash` was made with this; never change it.
pub fn scep_challenge_hash(challenge: &str) -> [u8; 32] {
    Sha256::digest(challenge.as_bytes()).into()
}

/// A one-time challenge as stored, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRecord {
    /// Id (the API and the audit log name it `scep-challenge:{id}`).
    pub id: i64,
    /// The only profile it enrols under.
    pub profile: ProfileName,
    /// Who made it (the audit actor).
    pub created_by: String,
    /// When (Unix seconds).
    pub created_at: i64,
    /// Usable while `now < expires_at`.
    pub expires_at: i64,
    /// When a device used it.
    pub consumed_at: Option<i64>,
    /// The SCEP transactionID of the request that used it.
    pub consumed_transaction: Option<String>,
}

/// What presenting a challenge did. The front answers every refusal with one failInfo
/// (a device learns nothing about which), and logs [`ConsumeOutcome::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// Used up now, by this request.
    Consumed(ChallengeRecord),
    /// No challenge has this text.
    Unknown,
    /// It belongs to another profile (checked before use and expiry: a challenge never
    /// enrols elsewhere).
    WrongProfile {
        /// The challenge.
        id: i64,
    },
    /// A request used it before. A device retrying its own PKCSReq presents the same
    /// transactionID, which the front may compare with `transaction_id`.
    AlreadyUsed {
        /// The challenge.
        id: i64,
        /// The transactionID that used it.
        transaction_id: String,
    },
    /// Its lifetime ended unused.
    Expired {
        /// The challenge.
        id: i64,
    },
}

impl ConsumeOutcome {
    /// A stable name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConsumeOutcome::Consumed(_) => "consumed",
            ConsumeOutcome::Unknown => "unknown",
            ConsumeOutcome::WrongProfile { .. } => "wrong-profile",
            ConsumeOutcome::AlreadyUsed { .. } => "already-used",
            ConsumeOutcome::Expired { .. } => "expired",
        }
    }
}

/// The columns every read selects (never the hash).
const COLUMNS: &str =
    "id, profile, created_by, created_at, expires_at, consumed_at, consumed_transaction";

fn record(r: &sqlx::any::AnyRow, prefix: &str) -> Result<ChallengeRecord, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let profile: String = r.try_get(col("profile").as_str())?;
    Ok(ChallengeRecord {
        id: r.try_get(col("id").as_str())?,
        profile: profile
            .parse()
            .map_err(|e| StoreError::Backend(format!("stored SCEP challenge profile: {e}")))?,
        created_by: r.try_get(col("created_by").as_str())?,
        created_at: r.try_get(col("created_at").as_str())?,
        expires_at: r.try_get(col("expires_at").as_str())?,
        consumed_at: r.try_get(col("consumed_at").as_str())?,
        consumed_transaction: r.try_get(col("consumed_transaction").as_str())?,
    })
}

/// Why a challenge that was not consumed now was refused (the order is the one
/// [`ConsumeOutcome`] documents).
fn refusal(found: ChallengeRecord, profile: &ProfileName, now: i64) -> ConsumeOutcome {
    if &found.profile != profile {
        ConsumeOutcome::WrongProfile { id: found.id }
    } else if let Some(transaction_id) = found.consumed_transaction {
        ConsumeOutcome::AlreadyUsed {
            id: found.id,
            transaction_id,
        }
    } else if found.expires_at <= now {
        ConsumeOutcome::Expired { id: found.id }
    } else {
        // Usable now, yet the guarded UPDATE did not see it: it was committed between the
        // UPDATE and the read (PostgreSQL reads each statement afresh; SQLite's write
        // transaction rules it out). When the UPDATE ran it did not exist.
        ConsumeOutcome::Unknown
    }
}

fn check_transaction_id(transaction_id: &str) -> Result<(), StoreError> {
    let ok = !transaction_id.is_empty()
        && transaction_id.len() <= MAX_TRANSACTION_ID
        && transaction_id.bytes().all(|b| (0x20..0x7f).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "a SCEP transactionID must be 1 to {MAX_TRANSACTION_ID} printable ASCII characters"
        )))
    }
}

impl Store {
    /// Records a new challenge (control). `challenge_hash` is [`scep_challenge_hash`] of
    /// the text shown to the operator. [`StoreError::Conflict`] when the profile already
    /// has [`MAX_OPEN_CHALLENGES_PER_PROFILE`] unused, unexpired challenges (or, never in
    /// practice, the hash exists).
    pub async fn create_scep_challenge(
        &self,
        profile: &ProfileName,
        challenge_hash: [u8; 32],
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<ChallengeRecord, StoreError> {
        if expires_at <= now {
            return Err(StoreError::Invalid(
                "a SCEP challenge must expire after it is made".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        // Counted in the transaction that inserts: on SQLite it holds the write lock; on
        // PostgreSQL two racing creations may both pass at the limit, which bounds the
        // excess by the number of concurrent callers.
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM scep_challenges \
             WHERE profile = $1 AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind(profile.as_str().to_string())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if open >= MAX_OPEN_CHALLENGES_PER_PROFILE {
            return Err(StoreError::Conflict(format!(
                "profile {profile} has {open} unused SCEP challenges; delete some or let them expire"
            )));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO scep_challenges (profile, challenge_hash, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        )))
        .bind(profile.as_str().to_string())
        .bind(challenge_hash.to_vec())
        .bind(created_by.to_string())
        .bind(now)
        .bind(expires_at)
        .fetch_one(&mut *tx)
        .await?;
        let made = record(&row, "")?;
        tx.commit().await?;
        Ok(made)
    }

    /// Uses up the challenge whose text a device presented for `profile` (the front), in
    /// one guarded statement, recording `transaction_id`; or says why not. A refusal
    /// changes nothing.
    pub async fn consume_scep_challenge(
        &self,
        profile: &ProfileName,
        challenge: &str,
        transaction_id: &str,
        now: i64,
    ) -> Result<ConsumeOutcome, StoreError> {
        check_transaction_id(transaction_id)?;
        let hash = scep_challenge_hash(challenge).to_vec();
        match self.backend() {
            Backend::Postgres => {
                self.consume_through_function(profile, hash, transaction_id, now)
                    .await
            }
            Backend::Sqlite => self.consume_here(profile, hash, transaction_id, now).await,
        }
    }

    /// PostgreSQL: `scep_challenge_consume` runs the guarded UPDATE (and, when it updated
    /// nothing, reads the row with that hash) as the schema owner.
    async fn consume_through_function(
        &self,
        profile: &ProfileName,
        hash: Vec<u8>,
        transaction_id: &str,
        now: i64,
    ) -> Result<ConsumeOutcome, StoreError> {
        let row = sqlx::query(
            "SELECT consumed_now, challenge_id, challenge_profile, challenge_created_by, \
             challenge_created_at, challenge_expires_at, challenge_consumed_at, \
             challenge_consumed_transaction FROM scep_challenge_consume($1, $2, $3, $4)",
        )
        .bind(profile.as_str().to_string())
        .bind(hash)
        .bind(transaction_id.to_string())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(ConsumeOutcome::Unknown);
        };
        let found = record(&row, "challenge_")?;
        if row.try_get::<bool, _>("consumed_now")? {
            Ok(ConsumeOutcome::Consumed(found))
        } else {
            Ok(refusal(found, profile, now))
        }
    }

    /// SQLite: the same steps as `scep_challenge_consume`, in one write transaction.
    async fn consume_here(
        &self,
        profile: &ProfileName,
        hash: Vec<u8>,
        transaction_id: &str,
        now: i64,
    ) -> Result<ConsumeOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let consumed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE scep_challenges SET consumed_at = $1, consumed_transaction = $2 \
             WHERE challenge_hash = $3 AND profile = $4 AND consumed_at IS NULL \
             AND expires_at > $5 RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(transaction_id.to_string())
        .bind(hash.clone())
        .bind(profile.as_str().to_string())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match consumed {
            Some(row) => ConsumeOutcome::Consumed(record(&row, "")?),
            None => {
                let found = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM scep_challenges WHERE challenge_hash = $1"
                )))
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await?;
                match found {
                    Some(row) => refusal(record(&row, "")?, profile, now),
                    None => ConsumeOutcome::Unknown,
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// One challenge by id (control).
    pub async fn scep_challenge(&self, id: i64) -> Result<Option<ChallengeRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM scep_challenges WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| record(&r, "")).transpose()
    }

    /// Challenges, newest first, of one profile or all; used ones only with
    /// `include_used` (control's listing; no hash is read).
    pub async fn scep_challenges(
        &self,
        profile: Option<&ProfileName>,
        include_used: bool,
    ) -> Result<Vec<ChallengeRecord>, StoreError> {
        // Constant fragments only; the values are bound.
        let mut sql = format!("SELECT {COLUMNS} FROM scep_challenges WHERE 1 = 1");
        if profile.is_some() {
            sql.push_str(" AND profile = $1");
        }
        if !include_used {
            sql.push_str(" AND consumed_at IS NULL");
        }
        sql.push_str(" ORDER BY id DESC");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(p) = profile {
            q = q.bind(p.as_str().to_string());
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| record(r, ""))
            .collect()
    }

    /// Deletes a challenge no device has used (control revokes it). False when no unused
    /// challenge has this id.
    pub async fn delete_unused_scep_challenge(&self, id: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM scep_challenges WHERE id = $1 AND consumed_at IS NULL")
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Deletes every challenge, used or not, that expired at or before `before`; returns
    /// how many. A purged challenge presented again is [`ConsumeOutcome::Unknown`] (still
    /// refused); the audit log keeps who made and who used it.
    pub async fn purge_expired_scep_challenges(&self, before: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM scep_challenges WHERE expires_at <= $1")
                .bind(before)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
