//! Client-certificate logins: which inventory certificate logs in which user.
//!
//! In: a certificate id and a user id, from control only (PostgreSQL grants the front no
//! right on this table). Out: the binding for a presented certificate's fingerprint. The
//! inventory's `owner` field plays no part: it is data the caller or the front chose.
//! Whether the certificate is still unrevoked and unexpired is the caller's check, made on
//! every request against the certificate's own row.

use crate::{Store, StoreError};
use sqlx::Row;

/// A certificate bound to a user for login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCertificate {
    /// The inventory id of the certificate.
    pub certificate_id: i64,
    /// Its SHA-256 fingerprint (hex), copied from the inventory at binding time.
    pub fingerprint: String,
    /// The user it logs in.
    pub user_id: i64,
    /// Who bound it (audit actor).
    pub bound_by: String,
    /// When (Unix seconds).
    pub created_at: i64,
}

impl LoginCertificate {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<LoginCertificate, StoreError> {
        Ok(LoginCertificate {
            certificate_id: row.try_get("certificate_id")?,
            fingerprint: row.try_get("fingerprint")?,
            user_id: row.try_get("user_id")?,
            bound_by: row.try_get("bound_by")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl Store {
    /// Binds inventory certificate `certificate_id` to user `user_id`. A certificate logs in
    /// at most one user: binding one that is bound already is [`StoreError::Conflict`].
    pub async fn bind_login_certificate(
        &self,
        certificate_id: i64,
        user_id: i64,
        bound_by: &str,
        now: i64,
    ) -> Result<LoginCertificate, StoreError> {
        // The fingerprint comes from the certificate's own row, never from the caller.
        let row = sqlx::query(
            "INSERT INTO login_certificates (certificate_id, fingerprint, user_id, bound_by, created_at) \
             SELECT id, fingerprint, $2, $3, $4 FROM certificates WHERE id = $1 \
             RETURNING certificate_id, fingerprint, user_id, bound_by, created_at",
        )
        .bind(certificate_id)
        .bind(user_id)
        .bind(bound_by.to_string())
        .bind(now)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "certificate {certificate_id} is already bound to a user"
            )),
            other => other,
        })?
        .ok_or_else(|| StoreError::NotFound(format!("certificate {certificate_id}")))?;
        LoginCertificate::from_row(&row)
    }

    /// The binding of the certificate with this fingerprint, if any.
    pub async fn login_certificate_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<LoginCertificate>, StoreError> {
        let row = sqlx::query("SELECT * FROM login_certificates WHERE fingerprint = $1")
            .bind(fingerprint.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(LoginCertificate::from_row).transpose()
    }

    /// A user's login certificates, oldest first.
    pub async fn login_certificates(
        &self,
        user_id: i64,
    ) -> Result<Vec<LoginCertificate>, StoreError> {
        sqlx::query("SELECT * FROM login_certificates WHERE user_id = $1 ORDER BY created_at, certificate_id")
            .bind(user_id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(LoginCertificate::from_row)
            .collect()
    }

    /// Removes a user's binding of a certificate; [`StoreError::NotFound`] when there is none.
    pub async fn unbind_login_certificate(
        &self,
        certificate_id: i64,
        user_id: i64,
    ) -> Result<(), StoreError> {
        let n = sqlx::query(
            "DELETE FROM login_certificates WHERE certificate_id = $1 AND user_id = $2",
        )
        .bind(certificate_id)
        .bind(user_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "login certificate {certificate_id} of user {user_id}"
            )));
        }
        Ok(())
    }
}
