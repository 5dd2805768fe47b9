//! What relying parties fetch: the newest CRL per CA and scope (whole, shard, delta) and
//! one pre-signed OCSP response per
//! certificate. Both are signed by the signer and stored here by control (or by the front
//! after a cache miss), so the front serves them without waiting for the HSM.
//!
//! In: DER blobs with their validity. Out: the newest CRL of a CA, the response for a
//! serial, and the responses due for re-signing.

use crate::{Store, StoreError};
use sqlx::Row;
use strongroom_types::{CaId, OcspStatusKind, Serial};

/// A stored CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCrl {
    /// The CA.
    pub ca: CaId,
    /// `full`, `delta`, a shard (`3`) or a shard's delta (`3-delta`).
    pub scope: String,
    /// cRLNumber.
    pub number: i64,
    /// DER.
    pub der: Vec<u8>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
}

/// A stored OCSP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOcsp {
    /// The CA.
    pub ca: CaId,
    /// The serial.
    pub serial: Serial,
    /// What the response says (without the revocation's time and reason).
    pub status: OcspStatusKind,
    /// DER OCSPResponse.
    pub der: Vec<u8>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
}

fn row_to_ocsp(r: &sqlx::any::AnyRow) -> Result<StoredOcsp, StoreError> {
    Ok(StoredOcsp {
        ca: r
            .try_get::<String, _>("ca_id")?
            .parse()
            .map_err(|e| StoreError::Backend(format!("stored CA id: {e}")))?,
        serial: r
            .try_get::<String, _>("serial")?
            .parse()
            .map_err(|e| StoreError::Backend(format!("stored serial: {e}")))?,
        status: {
            let s: String = r.try_get("status")?;
            OcspStatusKind::parse(&s)
                .ok_or_else(|| StoreError::Backend(format!("stored OCSP status {s:?}")))?
        },
        der: r.try_get("der")?,
        this_update: r.try_get("this_update")?,
        next_update: r.try_get("next_update")?,
    })
}

impl Store {
    /// Stores a CRL; a number not above the newest stored one is a conflict (CRL numbers
    /// only go up).
    pub async fn put_crl(&self, crl: &StoredCrl) -> Result<(), StoreError> {
        if crl.scope.is_empty() || crl.scope.len() > 16 {
            return Err(StoreError::Invalid(format!("CRL scope {:?}", crl.scope)));
        }
        if let Some(newest) = self.latest_crl(&crl.ca, &crl.scope).await? {
            if crl.number <= newest.number {
                return Err(StoreError::Conflict(format!(
                    "CRL {} of {} is not newer than the stored {}",
                    crl.number, crl.ca, newest.number
                )));
            }
        }
        sqlx::query("INSERT INTO crls (ca_id, scope, number, der, this_update, next_update) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(crl.ca.as_str().to_string())
            .bind(crl.scope.clone())
            .bind(crl.number)
            .bind(crl.der.clone())
            .bind(crl.this_update)
            .bind(crl.next_update)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The newest CRL of one scope of a CA.
    pub async fn latest_crl(
        &self,
        ca: &CaId,
        scope: &str,
    ) -> Result<Option<StoredCrl>, StoreError> {
        let r = sqlx::query(
            "SELECT * FROM crls WHERE ca_id = $1 AND scope = $2 ORDER BY number DESC LIMIT 1",
        )
        .bind(ca.as_str().to_string())
        .bind(scope.to_string())
        .fetch_optional(self.pool())
        .await?;
        r.map(|r| {
            Ok(StoredCrl {
                ca: ca.clone(),
                scope: scope.to_string(),
                number: r.try_get("number")?,
                der: r.try_get("der")?,
                this_update: r.try_get("this_update")?,
                next_update: r.try_get("next_update")?,
            })
        })
        .transpose()
    }

    /// Stores (or replaces) pre-signed OCSP responses. A response older than the stored
    /// one (by thisUpdate) does not replace it.
    pub async fn put_ocsp_responses(&self, responses: &[StoredOcsp]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for o in responses {
            sqlx::query(
                "INSERT INTO ocsp_responses (ca_id, serial, status, der, this_update, next_update) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (ca_id, serial) DO UPDATE SET status = excluded.status, der = excluded.der, \
                 this_update = excluded.this_update, next_update = excluded.next_update \
                 WHERE ocsp_responses.this_update <= excluded.this_update",
            )
            .bind(o.ca.as_str().to_string())
            .bind(o.serial.to_string())
            .bind(o.status.as_str())
            .bind(o.der.clone())
            .bind(o.this_update)
            .bind(o.next_update)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored response for a certificate.
    pub async fn ocsp_response(
        &self,
        ca: &CaId,
        serial: &Serial,
    ) -> Result<Option<StoredOcsp>, StoreError> {
        sqlx::query("SELECT * FROM ocsp_responses WHERE ca_id = $1 AND serial = $2")
            .bind(ca.as_str().to_string())
            .bind(serial.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(row_to_ocsp)
            .transpose()
    }

    /// Responses whose nextUpdate is before `before` (due for re-signing), oldest first.
    pub async fn ocsp_due(
        &self,
        before: i64,
        limit: u32,
    ) -> Result<Vec<(CaId, Serial)>, StoreError> {
        sqlx::query("SELECT ca_id, serial FROM ocsp_responses WHERE next_update < $1 ORDER BY next_update LIMIT $2")
            .bind(before)
            .bind(i64::from(limit.clamp(1, 10_000)))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let ca: String = r.try_get("ca_id")?;
                let serial: String = r.try_get("serial")?;
                Ok((
                    ca.parse().map_err(|e| StoreError::Backend(format!("stored CA id: {e}")))?,
                    serial.parse().map_err(|e| StoreError::Backend(format!("stored serial: {e}")))?,
                ))
            })
            .collect()
    }
}
