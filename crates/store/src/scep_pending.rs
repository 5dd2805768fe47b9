//! SCEP and EST enrolments waiting for approval: recorded by the front, decided through
//! control.
//!
//! In: from the front, a device's PKCSReq (SCEP) or `simpleenroll` (EST) under a profile
//! that needs approvals ([`NewScepPending`]: the [`PendingProtocol`], the CSR, the
//! transactionID — for EST `est-` and the CSR's SHA-256 —, the fingerprint of the
//! certificate that signed the request or of the EST caller's identity, the names it
//! read), and a (profile, transactionID) to look up; from
//! control, the approval request filed for a row and the outcome. Out: for the front a
//! [`SubmitOutcome`] and a [`ScepPendingView`] (never the CSR); for control the whole
//! [`ScepPendingRecord`].
//!
//! Security: the front submits the row and its `scep.approve` job in one transaction, and
//! a submitted row is always [`ScepPendingStatus::Pending`]: only control marks it issued or
//! rejected. On PostgreSQL the front has no right on the table and goes through
//! `scep_pending_submit` and `scep_pending_status` (migrations/postgres/0014, SECURITY
//! DEFINER); on SQLite the same statements run here. The CSR carries the device's
//! challengePassword: it is kept only while the row is pending, and no `Debug` output
//! shows it. What this does not check: that the CSR is well formed or signed, or that the
//! names are the CSR's — control re-parses the CSR before it files or issues anything.

use crate::{Backend, Store, StoreError};
use sqlx::Row;
use std::fmt;
use strongroom_types::ProfileName;

/// Most requests one profile may have pending at once (a device, or a compromised front,
/// submitting in a loop fills this, not the approvers' queue without end). The PostgreSQL
/// function `scep_pending_submit` holds the same number.
pub const MAX_PENDING_PER_PROFILE: i64 = 1000;

/// Kind of the job a submission queues (control's job worker runs it).
pub const SCEP_APPROVE_JOB: &str = "scep.approve";

/// Longest SCEP transactionID recorded (the table's CHECK says the same).
const MAX_TRANSACTION_ID: usize = 256;

/// Over which protocol a pending request came. STORED FORMAT: the `protocol` column holds
/// [`PendingProtocol::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingProtocol {
    /// A SCEP PKCSReq.
    Scep,
    /// An EST `simpleenroll`.
    Est,
}

impl PendingProtocol {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            PendingProtocol::Scep => "scep",
            PendingProtocol::Est => "est",
        }
    }

    fn parse(s: &str) -> Result<PendingProtocol, StoreError> {
        match s {
            "scep" => Ok(PendingProtocol::Scep),
            "est" => Ok(PendingProtocol::Est),
            other => Err(StoreError::Backend(format!(
                "stored enrolment protocol {other:?} is unknown"
            ))),
        }
    }
}

/// Where a pending SCEP request stands. STORED FORMAT: the `status` column holds
/// [`ScepPendingStatus::name`]; the certificate and the reason have columns of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScepPendingStatus {
    /// Waiting for the approval.
    Pending,
    /// Approved and issued: this inventory entry.
    Issued {
        /// The certificate's inventory id.
        certificate_id: i64,
    },
    /// Rejected by an approver, expired, or refused by control's checks or the policy.
    Rejected {
        /// Why (for the log and the operator; the device gets one failInfo).
        reason: String,
    },
}

impl ScepPendingStatus {
    /// The stored name.
    pub fn name(&self) -> &'static str {
        match self {
            ScepPendingStatus::Pending => "pending",
            ScepPendingStatus::Issued { .. } => "issued",
            ScepPendingStatus::Rejected { .. } => "rejected",
        }
    }

    fn from_columns(
        name: &str,
        certificate_id: Option<i64>,
        reason: Option<String>,
    ) -> Result<Self, StoreError> {
        match (name, certificate_id, reason) {
            ("pending", None, None) => Ok(ScepPendingStatus::Pending),
            ("issued", Some(certificate_id), None) => {
                Ok(ScepPendingStatus::Issued { certificate_id })
            }
            ("rejected", None, Some(reason)) => Ok(ScepPendingStatus::Rejected { reason }),
            (other, _, _) => Err(StoreError::Backend(format!(
                "stored SCEP request status {other:?} does not match its columns"
            ))),
        }
    }
}

/// A request as the front submits it.
#[derive(Clone, PartialEq, Eq)]
pub struct NewScepPending {
    /// The protocol it came over.
    pub protocol: PendingProtocol,
    /// The profile it arrived under.
    pub profile: ProfileName,
    /// The SCEP transactionID (unique per profile).
    pub transaction_id: String,
    /// The device's CSR, DER (it carries the challengePassword: never logged).
    pub csr: Vec<u8>,
    /// SHA-256 of the certificate that signed the request, as `strongroom_x509::fingerprint`.
    pub signer_fingerprint: String,
    /// The names the front read from the CSR (display only).
    pub names: Vec<String>,
}

impl fmt::Debug for NewScepPending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewScepPending")
            .field("protocol", &self.protocol)
            .field("profile", &self.profile)
            .field("transaction_id", &self.transaction_id)
            .field("csr", &format_args!("<{} bytes>", self.csr.len()))
            .field("signer_fingerprint", &self.signer_fingerprint)
            .field("names", &self.names)
            .finish()
    }
}

/// What a submission did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Recorded now, with its `scep.approve` job.
    Queued {
        /// The row.
        id: i64,
    },
    /// This profile already has a request with this transactionID; nothing was written.
    Exists {
        /// The existing row.
        id: i64,
    },
    /// The profile has [`MAX_PENDING_PER_PROFILE`] requests pending; nothing was written.
    Full,
}

/// What the front may read about one request: where it stands and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScepPendingView {
    /// The row.
    pub id: i64,
    /// The protocol it came over.
    pub protocol: PendingProtocol,
    /// Its status.
    pub status: ScepPendingStatus,
    /// Fingerprint of the certificate that signed the original request.
    pub signer_fingerprint: String,
}

/// A request as control reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct ScepPendingRecord {
    /// Id.
    pub id: i64,
    /// The protocol it came over.
    pub protocol: PendingProtocol,
    /// The profile.
    pub profile: ProfileName,
    /// The SCEP transactionID.
    pub transaction_id: String,
    /// The device's CSR while pending; `None` once decided.
    pub csr: Option<Vec<u8>>,
    /// Fingerprint of the certificate that signed the request.
    pub signer_fingerprint: String,
    /// What the front read from the CSR (display only).
    pub names: Vec<String>,
    /// Its status.
    pub status: ScepPendingStatus,
    /// The approval request filed for it, once control filed one.
    pub approval_id: Option<i64>,
    /// When the front recorded it.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

impl fmt::Debug for ScepPendingRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScepPendingRecord")
            .field("id", &self.id)
            .field("protocol", &self.protocol)
            .field("profile", &self.profile)
            .field("transaction_id", &self.transaction_id)
            .field(
                "csr",
                &format_args!("<{} bytes>", self.csr.as_ref().map_or(0, Vec::len)),
            )
            .field("signer_fingerprint", &self.signer_fingerprint)
            .field("names", &self.names)
            .field("status", &self.status)
            .field("approval_id", &self.approval_id)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What filing an approval for a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    /// Filed now: the approval request's id.
    Filed(i64),
    /// An approval was filed before (a job run twice): its id; nothing was written.
    AlreadyFiled(i64),
    /// The row is no longer pending; nothing was written.
    Decided,
}

/// An approval request to file for a row, in the row's transaction.
#[derive(Debug, Clone)]
pub struct ApprovalToFile<'a> {
    /// The approval's kind.
    pub kind: &'a str,
    /// Its payload (JSON).
    pub payload: &'a str,
    /// Who asks (`scep:{profile}`).
    pub requested_by: &'a str,
    /// Approvals needed (at least one).
    pub required: i64,
    /// Expiry.
    pub expires_at: i64,
}

fn check_submission(p: &NewScepPending) -> Result<String, StoreError> {
    let t = &p.transaction_id;
    if t.is_empty() || t.len() > MAX_TRANSACTION_ID || !t.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(StoreError::Invalid(format!(
            "a SCEP transactionID must be 1 to {MAX_TRANSACTION_ID} printable ASCII characters"
        )));
    }
    if p.csr.is_empty() || p.csr.len() > 64 * 1024 {
        return Err(StoreError::Invalid("a CSR is 1 byte to 64 KiB".into()));
    }
    if let Some(bad) = p.names.iter().find(|n| n.contains('\n')) {
        return Err(StoreError::Invalid(format!(
            "name {bad:?} holds a line break"
        )));
    }
    Ok(p.names.join("\n"))
}

fn record(r: &sqlx::any::AnyRow) -> Result<ScepPendingRecord, StoreError> {
    let profile: String = r.try_get("profile")?;
    let names: String = r.try_get("names")?;
    Ok(ScepPendingRecord {
        id: r.try_get("id")?,
        protocol: PendingProtocol::parse(&r.try_get::<String, _>("protocol")?)?,
        profile: profile
            .parse()
            .map_err(|e| StoreError::Backend(format!("stored SCEP request profile: {e}")))?,
        transaction_id: r.try_get("transaction_id")?,
        csr: r.try_get("csr")?,
        signer_fingerprint: r.try_get("signer_fingerprint")?,
        names: names
            .split('\n')
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
        status: ScepPendingStatus::from_columns(
            &r.try_get::<String, _>("status")?,
            r.try_get("certificate_id")?,
            r.try_get("reason")?,
        )?,
        approval_id: r.try_get("approval_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Records a device's request and queues its `scep.approve` job, in one transaction
    /// (the front). A request already recorded under this profile and transactionID, or a
    /// profile full of pending requests, writes nothing.
    pub async fn submit_scep_pending(
        &self,
        p: &NewScepPending,
        now: i64,
    ) -> Result<SubmitOutcome, StoreError> {
        let names = check_submission(p)?;
        let (id, outcome): (Option<i64>, String) = match self.backend() {
            Backend::Postgres => {
                let r = sqlx::query(
                    "SELECT pending_id, outcome FROM scep_pending_submit($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(p.protocol.name().to_string())
                .bind(p.profile.as_str().to_string())
                .bind(p.transaction_id.clone())
                .bind(p.csr.clone())
                .bind(p.signer_fingerprint.clone())
                .bind(names)
                .bind(now)
                .fetch_one(self.pool())
                .await?;
                (r.try_get("pending_id")?, r.try_get("outcome")?)
            }
            Backend::Sqlite => self.submit_here(p, names, now).await?,
        };
        match (outcome.as_str(), id) {
            ("queued", Some(id)) => Ok(SubmitOutcome::Queued { id }),
            ("exists", Some(id)) => Ok(SubmitOutcome::Exists { id }),
            ("full", _) => Ok(SubmitOutcome::Full),
            (other, _) => Err(StoreError::Backend(format!(
                "scep_pending_submit answered {other:?}"
            ))),
        }
    }

    /// SQLite: the steps of `scep_pending_submit` in one write transaction.
    async fn submit_here(
        &self,
        p: &NewScepPending,
        names: String,
        now: i64,
    ) -> Result<(Option<i64>, String), StoreError> {
        let profile = p.profile.as_str().to_string();
        let mut tx = self.begin_write().await?;
        let existing =
            sqlx::query("SELECT id FROM scep_pending WHERE profile = $1 AND transaction_id = $2")
                .bind(profile.clone())
                .bind(p.transaction_id.clone())
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(r) = existing {
            return Ok((Some(r.try_get("id")?), "exists".into()));
        }
        let open: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM scep_pending WHERE profile = $1 AND status = 'pending'",
        )
        .bind(profile.clone())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if open >= MAX_PENDING_PER_PROFILE {
            return Ok((None, "full".into()));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO scep_pending (profile, transaction_id, csr, signer_fingerprint, names, \
             status, created_at, updated_at, protocol) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $7) RETURNING id",
        )
        .bind(profile)
        .bind(p.transaction_id.clone())
        .bind(p.csr.clone())
        .bind(p.signer_fingerprint.clone())
        .bind(names)
        .bind(now)
        .bind(p.protocol.name().to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        sqlx::query(
            "INSERT INTO jobs (kind, payload, state, run_at, attempts, max_attempts, created_at, \
             updated_at) VALUES ($1, $2, 'queued', $3, 0, 5, $3, $3)",
        )
        .bind(SCEP_APPROVE_JOB.to_string())
        .bind(format!("{{\"pending_id\":{id}}}"))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((Some(id), "queued".into()))
    }

    /// Where the request with `transaction_id` under `profile` stands (the front); `None`
    /// when there is none.
    pub async fn scep_pending_status(
        &self,
        profile: &ProfileName,
        transaction_id: &str,
    ) -> Result<Option<ScepPendingView>, StoreError> {
        let sql = match self.backend() {
            Backend::Postgres => {
                "SELECT pending_id, pending_protocol, pending_status, pending_certificate_id, \
                 pending_reason, pending_signer_fingerprint FROM scep_pending_status($1, $2)"
            }
            Backend::Sqlite => {
                "SELECT id AS pending_id, protocol AS pending_protocol, status AS pending_status, \
                 certificate_id AS pending_certificate_id, reason AS pending_reason, \
                 signer_fingerprint AS pending_signer_fingerprint \
                 FROM scep_pending WHERE profile = $1 AND transaction_id = $2"
            }
        };
        let row = sqlx::query(sql)
            .bind(profile.as_str().to_string())
            .bind(transaction_id.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(ScepPendingView {
                id: r.try_get("pending_id")?,
                protocol: PendingProtocol::parse(&r.try_get::<String, _>("pending_protocol")?)?,
                status: ScepPendingStatus::from_columns(
                    &r.try_get::<String, _>("pending_status")?,
                    r.try_get("pending_certificate_id")?,
                    r.try_get("pending_reason")?,
                )?,
                signer_fingerprint: r.try_get("pending_signer_fingerprint")?,
            })
        })
        .transpose()
    }

    /// One request, with its CSR while pending (control).
    pub async fn scep_pending(&self, id: i64) -> Result<ScepPendingRecord, StoreError> {
        let r = sqlx::query("SELECT * FROM scep_pending WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("SCEP request {id}")))?;
        record(&r)
    }

    /// Files the approval request for pending row `id` and links it, in one transaction
    /// (control's job worker): run twice, it files once.
    pub async fn file_scep_approval(
        &self,
        id: i64,
        approval: &ApprovalToFile<'_>,
        now: i64,
    ) -> Result<FileOutcome, StoreError> {
        if approval.required < 1 || approval.expires_at <= now {
            return Err(StoreError::Invalid(
                "an approval needs at least one approver and an expiry in the future".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        // A no-op UPDATE locks the row (PostgreSQL) so two workers cannot both file.
        let r = sqlx::query(
            "UPDATE scep_pending SET updated_at = updated_at WHERE id = $1 \
             RETURNING status, approval_id",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("SCEP request {id}")))?;
        if r.try_get::<String, _>("status")? != "pending" {
            return Ok(FileOutcome::Decided);
        }
        if let Some(existing) = r.try_get::<Option<i64>, _>("approval_id")? {
            return Ok(FileOutcome::AlreadyFiled(existing));
        }
        let approval_id: i64 = sqlx::query(
            "INSERT INTO approval_requests (kind, payload, requested_by, required, state, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
        )
        .bind(approval.kind.to_string())
        .bind(approval.payload.to_string())
        .bind(approval.requested_by.to_string())
        .bind(approval.required)
        .bind(now)
        .bind(approval.expires_at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        sqlx::query("UPDATE scep_pending SET approval_id = $1, updated_at = $2 WHERE id = $3")
            .bind(approval_id)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(FileOutcome::Filed(approval_id))
    }

    /// Records the outcome of pending row `id` (control) and forgets its CSR.
    /// [`StoreError::Conflict`] when it is no longer pending, or `outcome` is `Pending`.
    pub async fn decide_scep_pending(
        &self,
        id: i64,
        outcome: &ScepPendingStatus,
        now: i64,
    ) -> Result<(), StoreError> {
        let (certificate_id, reason) = match outcome {
            ScepPendingStatus::Pending => {
                return Err(StoreError::Conflict(
                    "a decision is issued or rejected".into(),
                ))
            }
            ScepPendingStatus::Issued { certificate_id } => (Some(*certificate_id), None),
            ScepPendingStatus::Rejected { reason } => {
                let mut r: String = reason.chars().take(2000).collect();
                if r.is_empty() {
                    r.push_str("rejected");
                }
                (None, Some(r))
            }
        };
        let n = sqlx::query(
            "UPDATE scep_pending SET status = $1, certificate_id = $2, reason = $3, csr = NULL, \
             updated_at = $4 WHERE id = $5 AND status = 'pending'",
        )
        .bind(outcome.name())
        .bind(certificate_id)
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "SCEP request {id} is not pending"
            )))
        }
    }

    /// The one-time challenge whose text is `challenge`, as control checks a pending
    /// request's: `Some((id, profile, transaction that consumed it))` when a challenge has
    /// this text (looked up by its SHA-256, like the front's consumption).
    pub async fn scep_challenge_use(
        &self,
        challenge: &str,
    ) -> Result<Option<(i64, String, Option<String>)>, StoreError> {
        let r = sqlx::query(
            "SELECT id, profile, consumed_transaction FROM scep_challenges WHERE challenge_hash = $1",
        )
        .bind(crate::scep_challenge_hash(challenge).to_vec())
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("profile")?,
                r.try_get("consumed_transaction")?,
            ))
        })
        .transpose()
    }

    /// Marks rejected every pending row whose approval request expired or was decided
    /// without the row being told (control, periodically); returns how many.
    pub async fn reject_lapsed_scep_pending(&self, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE scep_pending SET status = 'rejected', reason = 'the approval request expired', \
             csr = NULL, updated_at = $1 WHERE status = 'pending' AND approval_id IN \
             (SELECT id FROM approval_requests WHERE state = 'expired' \
              OR (state = 'pending' AND expires_at <= $1))",
        )
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}
