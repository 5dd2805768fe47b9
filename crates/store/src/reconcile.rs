//! Reconciling the inventory with the signer's journal.
//!
//! In: the journal position control has compared up to, and certificates built from the
//! journal's `issued` records. Out: the position (the watermark), and the certificates the
//! inventory lacked recorded with one audit event each, in the transaction that moves the
//! watermark — a crash in the middle makes control compare those records again, never skip
//! them. A certificate already in the inventory (same issuer and serial) is left as it is.

use crate::{NewAuditEvent, NewCertificate, Store, StoreError};
use sqlx::Row;

impl Store {
    /// The sequence number of the last journal record compared with the inventory.
    pub async fn journal_watermark(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT after_seq FROM journal_reconciliation WHERE id = 1")
            .fetch_one(self.pool())
            .await?;
        let seq: i64 = row.try_get("after_seq")?;
        u64::try_from(seq).map_err(|_| StoreError::Backend("negative journal watermark".into()))
    }

    /// Records the certificates of `found` the inventory lacks, each with the audit event
    /// `event` makes for its new id, and moves the watermark to `through` (never back).
    /// Returns the ids recorded.
    pub async fn reconcile_from_journal(
        &self,
        found: &[NewCertificate],
        through: u64,
        event: impl Fn(i64, &NewCertificate) -> NewAuditEvent,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let through = i64::try_from(through)
            .map_err(|_| StoreError::Invalid("journal position out of range".into()))?;
        let mut tx = self.begin_write().await?;
        let mut recorded = Vec::new();
        for certificate in found {
            let known =
                sqlx::query("SELECT id FROM certificates WHERE issuer_id = $1 AND serial = $2")
                    .bind(certificate.issuer.as_str().to_string())
                    .bind(certificate.serial.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            if known.is_some() {
                continue;
            }
            let id = crate::certificates::insert_audited_on(
                &mut tx,
                certificate,
                |id| event(id, certificate),
                now,
            )
            .await?;
            recorded.push(id);
        }
        sqlx::query(
            "UPDATE journal_reconciliation SET after_seq = $1 WHERE id = 1 AND after_seq < $1",
        )
        .bind(through)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(recorded)
    }
}
