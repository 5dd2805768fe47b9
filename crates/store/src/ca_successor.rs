//! A CA's successor: the CA that takes over from it, named by control before a rollover so
//! that SCEP devices can fetch the new CA early (GetNextCACert, RFC 8894 §3.5.2).
//!
//! In: two CA ids (or none, to clear). Out: the link, read by the front; refusals for a CA
//! named as its own successor, an unknown CA, or a successor that no longer issues.

use crate::cas::CaState;
use crate::{Store, StoreError};
use sqlx::Row;
use strongroom_types::CaId;

impl Store {
    /// The CA named to take over from `id`, if any.
    pub async fn ca_successor(&self, id: &CaId) -> Result<Option<CaId>, StoreError> {
        let row = sqlx::query("SELECT successor_id FROM cas WHERE id = $1")
            .bind(id.as_str().to_string())
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CA {id}")))?;
        let successor: Option<String> = row.try_get("successor_id")?;
        successor
            .map(|s| {
                s.parse()
                    .map_err(|e| StoreError::Backend(format!("stored successor of {id}: {e}")))
            })
            .transpose()
    }

    /// Names `successor` as the CA that takes over from `id`, or clears the link. The
    /// successor must exist, differ from `id` and be active.
    pub async fn set_ca_successor(
        &self,
        id: &CaId,
        successor: Option<&CaId>,
    ) -> Result<(), StoreError> {
        self.ca(id).await?;
        if let Some(s) = successor {
            if s == id {
                return Err(StoreError::Invalid(format!(
                    "CA {id} cannot be its own successor"
                )));
            }
            if self.ca(s).await?.state != CaState::Active {
                return Err(StoreError::Invalid(format!(
                    "CA {s} no longer issues; name an active CA as the successor of {id}"
                )));
            }
        }
        sqlx::query("UPDATE cas SET successor_id = $1 WHERE id = $2")
            .bind(successor.map(|s| s.as_str().to_string()))
            .bind(id.as_str().to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
