//! ACME state (RFC 8555): the record types, nonces, accounts and external account binding
//! keys (orders, authorizations and challenges are in `acme_orders.rs`).
//!
//! In: protocol decisions already made by the front (it checked signatures, identifiers and
//! the state machine) and listings for control. Out: rows. State changes are guarded by the
//! expected current status (`UPDATE … WHERE status IN (…)`), so two fronts racing on the
//! same challenge or order cannot both move it: the loser sees `false` and re-reads.

use crate::{AccountStatus, AuthorizationStatus, ChallengeStatus, OrderStatus, Store, StoreError};
use sqlx::{AssertSqlSafe, Row};

/// An ACME account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeAccount {
    /// Id (the account URL ends with it).
    pub id: i64,
    /// RFC 7638 thumbprint of the account key.
    pub thumbprint: String,
    /// The account key as a JWK (JSON text).
    pub jwk: String,
    /// Valid, deactivated or revoked.
    pub status: AccountStatus,
    /// `mailto:` URLs.
    pub contact: Vec<String>,
    /// The external account binding key it was created with.
    pub eab_kid: Option<String>,
    /// The external account binding JWS its newAccount carried (flattened JSON), shown in
    /// the account object.
    pub eab_jws: Option<String>,
    /// Where it was created from.
    pub created_ip: String,
    /// When.
    pub created_at: i64,
}

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAcmeAccount {
    /// Key thumbprint.
    pub thumbprint: String,
    /// Key (JWK JSON).
    pub jwk: String,
    /// Contacts.
    pub contact: Vec<String>,
    /// EAB key to bind (must be unbound).
    pub eab_kid: Option<String>,
    /// The EAB JWS as verified (flattened JSON), kept to be shown in the account object.
    pub eab_jws: Option<String>,
    /// Client address.
    pub created_ip: String,
}

/// An external account binding key.
#[derive(Clone, PartialEq, Eq)]
pub struct EabKey {
    /// Key identifier the client sends as `kid`.
    pub kid: String,
    /// The profile whose directory requires it.
    pub profile: String,
    /// The HMAC key (HS256).
    pub hmac_key: Vec<u8>,
    /// The account it is bound to, once used.
    pub account_id: Option<i64>,
    /// Who made it.
    pub created_by: String,
    /// When.
    pub created_at: i64,
    /// When an account was bound to it.
    pub bound_at: Option<i64>,
}

impl std::fmt::Debug for EabKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EabKey")
            .field("kid", &self.kid)
            .field("profile", &self.profile)
            .field("hmac_key", &"[redacted]")
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeOrder {
    /// Id.
    pub id: i64,
    /// Owning account.
    pub account_id: i64,
    /// Certificate profile.
    pub profile: String,
    /// Where it stands.
    pub status: OrderStatus,
    /// Expiry.
    pub expires_at: i64,
    /// Requested notBefore.
    pub not_before: Option<i64>,
    /// Requested notAfter.
    pub not_after: Option<i64>,
    /// Problem document (JSON) when invalid.
    pub error: Option<String>,
    /// The issued certificate.
    pub certificate_id: Option<i64>,
    /// ARI: the certificate it replaces.
    pub replaces_id: Option<i64>,
    /// Client address.
    pub client_ip: String,
    /// When.
    pub created_at: i64,
    /// Its authorizations, in creation order.
    pub authorizations: Vec<i64>,
}

/// An order to create, with its authorizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAcmeOrder {
    /// Owning account.
    pub account_id: i64,
    /// Profile.
    pub profile: String,
    /// Expiry.
    pub expires_at: i64,
    /// Requested notBefore.
    pub not_before: Option<i64>,
    /// Requested notAfter.
    pub not_after: Option<i64>,
    /// ARI replaces.
    pub replaces_id: Option<i64>,
    /// Client address.
    pub client_ip: String,
    /// One per identifier.
    pub authorizations: Vec<NewAcmeAuthorization>,
}

/// An authorization to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAcmeAuthorization {
    /// `dns` or `ip`.
    pub identifier_type: String,
    /// The value (without `*.` for wildcards).
    pub identifier_value: String,
    /// Whether the order asked for `*.value`.
    pub wildcard: bool,
    /// Expiry.
    pub expires_at: i64,
    /// (challenge type, token).
    pub challenges: Vec<(String, String)>,
}

/// An authorization with its challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeAuthorization {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// Account.
    pub account_id: i64,
    /// `dns` or `ip`.
    pub identifier_type: String,
    /// Value.
    pub identifier_value: String,
    /// Wildcard.
    pub wildcard: bool,
    /// Status.
    pub status: AuthorizationStatus,
    /// Expiry.
    pub expires_at: i64,
    /// Challenges.
    pub challenges: Vec<AcmeChallenge>,
}

/// A challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeChallenge {
    /// Id.
    pub id: i64,
    /// Authorization.
    pub authz_id: i64,
    /// `http-01`, `dns-01`, `tls-alpn-01`.
    pub kind: String,
    /// Token.
    pub token: String,
    /// Where its validation stands.
    pub status: ChallengeStatus,
    /// When it became valid.
    pub validated_at: Option<i64>,
    /// Problem document (JSON) when invalid.
    pub error: Option<String>,
}

pub(crate) fn in_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a request's nonce and account came to ([`Store::consume_acme_nonce_reading_account`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceAndAccount {
    /// The nonce is unknown, expired or already used (nothing else was read).
    BadNonce,
    /// The nonce was good and is now used up; no account has that id.
    NoAccount,
    /// The nonce was good and is now used up; the account.
    Account(AcmeAccount),
}

fn account_from(r: &sqlx::any::AnyRow) -> Result<AcmeAccount, StoreError> {
    let contact: String = r.try_get("contact")?;
    Ok(AcmeAccount {
        id: r.try_get("id")?,
        thumbprint: r.try_get("thumbprint")?,
        jwk: r.try_get("jwk")?,
        status: AccountStatus::parse(&r.try_get::<String, _>("status")?)?,
        contact: contact
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        eab_kid: r.try_get("eab_kid")?,
        eab_jws: r.try_get("eab_jws")?,
        created_ip: r.try_get("created_ip")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn challenge_from(r: &sqlx::any::AnyRow) -> Result<AcmeChallenge, StoreError> {
    Ok(AcmeChallenge {
        id: r.try_get("id")?,
        authz_id: r.try_get("authz_id")?,
        kind: r.try_get("kind")?,
        token: r.try_get("token")?,
        status: ChallengeStatus::parse(&r.try_get::<String, _>("status")?)?,
        validated_at: r.try_get("validated_at")?,
        error: r.try_get("error")?,
    })
}

/// Creates an account inside the caller's transaction, binding the EAB key when one is
/// given (a key already bound is a conflict).
pub(crate) async fn create_acme_account_on(
    conn: &mut sqlx::AnyConnection,
    a: &NewAcmeAccount,
    now: i64,
) -> Result<AcmeAccount, StoreError> {
    let row = sqlx::query(
        "INSERT INTO acme_accounts (thumbprint, jwk, status, contact, eab_kid, created_ip, created_at, eab_jws) \
         VALUES ($1, $2, 'valid', $3, $4, $5, $6, $7) RETURNING *",
    )
    .bind(a.thumbprint.clone())
    .bind(a.jwk.clone())
    .bind(a.contact.join("\n"))
    .bind(a.eab_kid.clone())
    .bind(a.created_ip.clone())
    .bind(now)
    .bind(a.eab_jws.clone())
    .fetch_one(&mut *conn)
    .await?;
    let account = account_from(&row)?;
    if let Some(kid) = &a.eab_kid {
        let n = sqlx::query(
            "UPDATE acme_eab_keys SET account_id = $1, bound_at = $2 WHERE kid = $3 AND account_id IS NULL",
        )
        .bind(account.id)
        .bind(now)
        .bind(kid.clone())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n != 1 {
            return Err(StoreError::Conflict(format!(
                "external account binding key {kid} is unknown or already bound to an account"
            )));
        }
    }
    Ok(account)
}

impl Store {
    /// Where nonces live: on SQLite, the attached `ephemeral` database (its own file,
    /// committed without an fsync each; see `crate::nonces`); on PostgreSQL, `acme_nonces`.
    pub(crate) fn nonce_table(&self) -> &'static str {
        match self.backend {
            crate::Backend::Sqlite => "ephemeral.acme_nonces",
            crate::Backend::Postgres => "acme_nonces",
        }
    }

    /// Records a batch of fresh nonces in one statement (the front hands them out from
    /// memory, so a response costs no write of its own).
    pub async fn add_acme_nonces(
        &self,
        nonces: &[String],
        expires_at: i64,
    ) -> Result<(), StoreError> {
        if nonces.is_empty() {
            return Ok(());
        }
        let values = (0..nonces.len())
            .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO {} (nonce, expires_at) VALUES {values}",
            self.nonce_table()
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for n in nonces {
            q = q.bind(n.clone()).bind(expires_at);
        }
        q.execute(self.pool()).await?;
        Ok(())
    }

    /// Uses a nonce up: true exactly once for a nonce that exists and has not expired.
    pub async fn consume_acme_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let sql = format!(
            "DELETE FROM {} WHERE nonce = $1 AND expires_at > $2",
            self.nonce_table()
        );
        let n = sqlx::query(AssertSqlSafe(sql))
            .bind(nonce.to_string())
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Uses a nonce up and, in the same statement, reads the account a request's `kid`
    /// names: every POST-as-`kid` to the front pays one round trip to the database instead
    /// of two. The account is read only when the nonce was good (the subqueries run in
    /// the DELETE's RETURNING clause, once per deleted row).
    pub async fn consume_acme_nonce_reading_account(
        &self,
        nonce: &str,
        now: i64,
        account_id: i64,
    ) -> Result<NonceAndAccount, StoreError> {
        const COLUMNS: [&str; 9] = [
            "id",
            "thumbprint",
            "jwk",
            "status",
            "contact",
            "eab_kid",
            "eab_jws",
            "created_ip",
            "created_at",
        ];
        let returning: Vec<String> = COLUMNS
            .iter()
            .map(|c| format!("(SELECT {c} FROM acme_accounts WHERE id = $3) AS {c}"))
            .collect();
        let sql = format!(
            "DELETE FROM {} WHERE nonce = $1 AND expires_at > $2 RETURNING {}",
            self.nonce_table(),
            returning.join(", ")
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(nonce.to_string())
            .bind(now)
            .bind(account_id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return Ok(NonceAndAccount::BadNonce);
        };
        if row.try_get::<Option<i64>, _>("id")?.is_none() {
            return Ok(NonceAndAccount::NoAccount);
        }
        Ok(NonceAndAccount::Account(account_from(&row)?))
    }

    /// Creates an account, binding the EAB key when one is given (one account per key: a
    /// key already bound is a conflict and nothing is created).
    pub async fn create_acme_account(
        &self,
        a: &NewAcmeAccount,
        now: i64,
    ) -> Result<AcmeAccount, StoreError> {
        let mut tx = self.begin_write().await?;
        let account = create_acme_account_on(&mut tx, a, now).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// An account by id.
    pub async fn acme_account(&self, id: i64) -> Result<AcmeAccount, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ACME account {id}")))?;
        account_from(&r)
    }

    /// The account of a key, if any.
    pub async fn acme_account_by_thumbprint(
        &self,
        thumbprint: &str,
    ) -> Result<Option<AcmeAccount>, StoreError> {
        sqlx::query("SELECT * FROM acme_accounts WHERE thumbprint = $1")
            .bind(thumbprint.to_string())
            .fetch_optional(self.reads())
            .await?
            .map(|r| account_from(&r))
            .transpose()
    }

    /// Accounts by id, `id > after`, for listings.
    pub async fn acme_accounts(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AcmeAccount>, StoreError> {
        sqlx::query("SELECT * FROM acme_accounts WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(self.reads())
            .await?
            .iter()
            .map(account_from)
            .collect()
    }

    /// Replaces an account's contacts.
    pub async fn set_acme_account_contact(
        &self,
        id: i64,
        contact: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE acme_accounts SET contact = $1 WHERE id = $2 AND status = 'valid'")
            .bind(contact.join("\n"))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deactivates a valid account (RFC 8555 §7.3.6); its pending authorizations go with it.
    /// False when it was not valid.
    pub async fn deactivate_acme_account(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE acme_accounts SET status = 'deactivated' WHERE id = $1 AND status = 'valid'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            sqlx::query(
                "UPDATE acme_authorizations SET status = 'deactivated' WHERE account_id = $1 AND status IN ('pending', 'valid')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Key rollover (§7.3.5): swaps the key when the account still has `old_thumbprint`.
    /// A new key that already belongs to an account is a conflict.
    pub async fn roll_acme_account_key(
        &self,
        id: i64,
        old_thumbprint: &str,
        new_thumbprint: &str,
        new_jwk: &str,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE acme_accounts SET thumbprint = $1, jwk = $2 WHERE id = $3 AND thumbprint = $4 AND status = 'valid'",
        )
        .bind(new_thumbprint.to_string())
        .bind(new_jwk.to_string())
        .bind(id)
        .bind(old_thumbprint.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a new EAB key (control).
    pub async fn create_eab_key(&self, k: &EabKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO acme_eab_keys (kid, profile, hmac_key, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(k.kid.clone())
        .bind(k.profile.clone())
        .bind(k.hmac_key.clone())
        .bind(k.created_by.clone())
        .bind(k.created_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// An EAB key by kid.
    pub async fn eab_key(&self, kid: &str) -> Result<Option<EabKey>, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_eab_keys WHERE kid = $1")
            .bind(kid.to_string())
            .fetch_optional(self.reads())
            .await?;
        r.map(|r| eab_from(&r)).transpose()
    }

    /// Every EAB key, newest first (control listing; the HMAC keys are in the records,
    /// callers must not show them).
    pub async fn eab_keys(&self) -> Result<Vec<EabKey>, StoreError> {
        sqlx::query("SELECT * FROM acme_eab_keys ORDER BY created_at DESC, kid")
            .fetch_all(self.reads())
            .await?
            .iter()
            .map(eab_from)
            .collect()
    }

    /// Deletes an EAB key no account used yet. False when none such exists.
    pub async fn delete_unbound_eab_key(&self, kid: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM acme_eab_keys WHERE kid = $1 AND account_id IS NULL")
            .bind(kid.to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

fn eab_from(r: &sqlx::any::AnyRow) -> Result<EabKey, StoreError> {
    Ok(EabKey {
        kid: r.try_get("kid")?,
        profile: r.try_get("profile")?,
        hmac_key: r.try_get("hmac_key")?,
        account_id: r.try_get("account_id")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        bound_at: r.try_get("bound_at")?,
    })
}
