//! CAs as control manages them: hierarchy and lifecycle state.
//!
//! In: CA certificates the signer made (ceremonies) with their place in the hierarchy.
//! Out: the CA list and tree; state changes active → retiring → retired, never back.

use crate::{Store, StoreError};
use sqlx::Row;
use strongroom_types::CaId;

/// Lifecycle of a CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaState {
    /// Issuing.
    Active,
    /// No new issuance; still signs CRLs/OCSP for what it issued.
    Retiring,
    /// Done.
    Retired,
}

impl CaState {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaState::Active => "active",
            CaState::Retiring => "retiring",
            CaState::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Result<CaState, StoreError> {
        match s {
            "active" => Ok(CaState::Active),
            "retiring" => Ok(CaState::Retiring),
            "retired" => Ok(CaState::Retired),
            other => Err(StoreError::Backend(format!(
                "unknown CA state {other:?} in the database"
            ))),
        }
    }
}

/// One CA row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaRecord {
    /// Id (same as the signer's).
    pub id: CaId,
    /// Parent, `None` for a root.
    pub parent: Option<CaId>,
    /// Subject DN text.
    pub subject: String,
    /// Lifecycle state.
    pub state: CaState,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// Certificate, DER.
    pub cert_der: Vec<u8>,
}

fn row_to_ca(r: &sqlx::any::AnyRow) -> Result<CaRecord, StoreError> {
    let id: String = r.try_get("id")?;
    let parent: Option<String> = r.try_get("parent_id")?;
    let bad = |e: strongroom_types::TypesError| StoreError::Backend(format!("stored CA id: {e}"));
    Ok(CaRecord {
        id: id.parse().map_err(bad)?,
        parent: parent.map(|p| p.parse()).transpose().map_err(bad)?,
        subject: r.try_get("subject")?,
        state: CaState::parse(&r.try_get::<String, _>("state")?)?,
        not_before: r.try_get("not_before")?,
        not_after: r.try_get("not_after")?,
        cert_der: r.try_get("cert_der")?,
    })
}

impl Store {
    /// Records a CA. A duplicate id is a conflict; an unknown parent is invalid.
    pub async fn insert_ca(&self, ca: &CaRecord, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cas (id, parent_id, subject, state, not_before, not_after, cert_der, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ca.id.as_str().to_string())
        .bind(ca.parent.as_ref().map(|p| p.as_str().to_string()))
        .bind(ca.subject.clone())
        .bind(ca.state.as_str())
        .bind(ca.not_before)
        .bind(ca.not_after)
        .bind(ca.cert_der.clone())
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One CA.
    pub async fn ca(&self, id: &CaId) -> Result<CaRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM cas WHERE id = $1")
            .bind(id.as_str().to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("CA {id}")))?;
        row_to_ca(&row)
    }

    /// Every CA, parents before children (roots first, then by id).
    pub async fn cas(&self) -> Result<Vec<CaRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM cas ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        let mut all = rows.iter().map(row_to_ca).collect::<Result<Vec<_>, _>>()?;
        let mut ordered = Vec::with_capacity(all.len());
        let mut placed: Vec<CaId> = Vec::new();
        // Repeatedly take the CAs whose parent is already placed (the tree has no cycles:
        // parents must exist before children are inserted).
        while !all.is_empty() {
            let (ready, rest): (Vec<_>, Vec<_>) = all
                .into_iter()
                .partition(|c| c.parent.as_ref().is_none_or(|p| placed.contains(p)));
            if ready.is_empty() {
                return Err(StoreError::Backend(
                    "CA hierarchy has a dangling parent".into(),
                ));
            }
            placed.extend(ready.iter().map(|c| c.id.clone()));
            ordered.extend(ready);
            all = rest;
        }
        Ok(ordered)
    }

    /// Moves a CA forward in its lifecycle. Going back (retired → active) is refused.
    pub async fn set_ca_state(&self, id: &CaId, state: CaState) -> Result<(), StoreError> {
        let current = self.ca(id).await?.state;
        let rank = |s: CaState| match s {
            CaState::Active => 0,
            CaState::Retiring => 1,
            CaState::Retired => 2,
        };
        if rank(state) < rank(current) {
            return Err(StoreError::Conflict(format!(
                "CA {id} is {} and cannot become {}",
                current.as_str(),
                state.as_str()
            )));
        }
        sqlx::query("UPDATE cas SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id.as_str().to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
