//! Certificate profiles as control manages them (the signer enforces the copy control
//! pushes with `PutPolicy`).
//!
//! In: validated [`Profile`]s and how many approvals issuance under each needs. Out: the
//! stored profiles with a per-profile version that goes up on every change.

use crate::{Store, StoreError};
use sqlx::Row;
use strongroom_types::{Profile, ProfileName};

/// A stored profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    /// The profile.
    pub profile: Profile,
    /// Approvals needed before a certificate is issued under it (0 = none).
    pub approvals_required: i64,
    /// Bumped on every change.
    pub version: i64,
    /// Users who may enrol under it with only the enroller role (`*` = every enroller).
    pub enrollers: Vec<String>,
}

fn row_to_profile(r: &sqlx::any::AnyRow) -> Result<ProfileRecord, StoreError> {
    let text: String = r.try_get("definition")?;
    Ok(ProfileRecord {
        profile: serde_json::from_str(&text)
            .map_err(|e| StoreError::Backend(format!("stored profile does not parse: {e}")))?,
        approvals_required: r.try_get("approvals_required")?,
        version: r.try_get("version")?,
        enrollers: r
            .try_get::<String, _>("enrollers")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

impl Store {
    /// Creates or replaces a profile; returns its new version. Its issuer must be a known CA.
    pub async fn put_profile(
        &self,
        profile: &Profile,
        approvals_required: i64,
        enrollers: &[String],
        now: i64,
    ) -> Result<i64, StoreError> {
        if let Some(bad) = enrollers.iter().find(|e| e.is_empty() || e.contains(',')) {
            return Err(StoreError::Invalid(format!(
                "enroller name {bad:?} is empty or contains a comma"
            )));
        }
        if approvals_required < 0 {
            return Err(StoreError::Invalid(
                "approvals_required cannot be negative".into(),
            ));
        }
        let definition =
            serde_json::to_string(profile).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let r = sqlx::query(
            "INSERT INTO profiles (name, issuer_id, definition, approvals_required, enrollers, version, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6) \
             ON CONFLICT (name) DO UPDATE SET issuer_id = excluded.issuer_id, definition = excluded.definition, \
             approvals_required = excluded.approvals_required, enrollers = excluded.enrollers, \
             version = profiles.version + 1, updated_at = excluded.updated_at \
             RETURNING version",
        )
        .bind(profile.name.as_str().to_string())
        .bind(profile.issuer.as_str().to_string())
        .bind(definition)
        .bind(approvals_required)
        .bind(enrollers.join(","))
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get("version")?)
    }

    /// One profile.
    pub async fn profile(&self, name: &ProfileName) -> Result<ProfileRecord, StoreError> {
        let r = sqlx::query("SELECT * FROM profiles WHERE name = $1")
            .bind(name.as_str().to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("profile {name}")))?;
        row_to_profile(&r)
    }

    /// Every profile, by name.
    pub async fn profiles(&self) -> Result<Vec<ProfileRecord>, StoreError> {
        sqlx::query("SELECT * FROM profiles ORDER BY name")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(row_to_profile)
            .collect()
    }

    /// Deletes a profile (certificates issued under it keep its name).
    pub async fn delete_profile(&self, name: &ProfileName) -> Result<(), StoreError> {
        let n = sqlx::query("DELETE FROM profiles WHERE name = $1")
            .bind(name.as_str().to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("profile {name}")));
        }
        Ok(())
    }
}
