//! ACME state (RFC 8555): nonces, accounts, external account binding keys, orders,
//! authorizations and challenges.
//!
//! In: protocol decisions already made by the front (it checked signatures, identifiers and
//! the state machine) and listings for control. Out: rows. State changes are guarded by the
//! expected current status (`UPDATE … WHERE status IN (…)`), so two fronts racing on the
//! same challenge or order cannot both move it: the loser sees `false` and re-reads.

use crate::{Store, StoreError};
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
    /// `valid`, `deactivated` or `revoked`.
    pub status: String,
    /// `mailto:` URLs.
    pub contact: Vec<String>,
    /// The external account binding key it was created with.
    pub eab_kid: Option<String>,
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
    /// `pending`, `ready`, `processing`, `valid`, `invalid`.
    pub status: String,
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
    pub status: String,
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
    /// `pending`, `processing`, `valid`, `invalid`.
    pub status: String,
    /// When it became valid.
    pub validated_at: Option<i64>,
    /// Problem document (JSON) when invalid.
    pub error: Option<String>,
}

fn in_list(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn account_from(r: &sqlx::any::AnyRow) -> Result<AcmeAccount, StoreError> {
    let contact: String = r.try_get("contact")?;
    Ok(AcmeAccount {
        id: r.try_get("id")?,
        thumbprint: r.try_get("thumbprint")?,
        jwk: r.try_get("jwk")?,
        status: r.try_get("status")?,
        contact: contact
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
        eab_kid: r.try_get("eab_kid")?,
        created_ip: r.try_get("created_ip")?,
        created_at: r.try_get("created_at")?,
    })
}

fn challenge_from(r: &sqlx::any::AnyRow) -> Result<AcmeChallenge, StoreError> {
    Ok(AcmeChallenge {
        id: r.try_get("id")?,
        authz_id: r.try_get("authz_id")?,
        kind: r.try_get("kind")?,
        token: r.try_get("token")?,
        status: r.try_get("status")?,
        validated_at: r.try_get("validated_at")?,
        error: r.try_get("error")?,
    })
}

impl Store {
    /// Records a fresh nonce.
    pub async fn add_acme_nonce(&self, nonce: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO acme_nonces (nonce, expires_at) VALUES ($1, $2)")
            .bind(nonce.to_string())
            .bind(expires_at)
            .execute(self.pool())
            .await?;
        Ok(())
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
        let sql = format!("INSERT INTO acme_nonces (nonce, expires_at) VALUES {values}");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for n in nonces {
            q = q.bind(n.clone()).bind(expires_at);
        }
        q.execute(self.pool()).await?;
        Ok(())
    }

    /// Uses a nonce up: true exactly once for a nonce that exists and has not expired.
    pub async fn consume_acme_nonce(&self, nonce: &str, now: i64) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM acme_nonces WHERE nonce = $1 AND expires_at > $2")
            .bind(nonce.to_string())
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Creates an account, binding the EAB key when one is given (one account per key: a
    /// key already bound is a conflict and nothing is created).
    pub async fn create_acme_account(
        &self,
        a: &NewAcmeAccount,
        now: i64,
    ) -> Result<AcmeAccount, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO acme_accounts (thumbprint, jwk, status, contact, eab_kid, created_ip, created_at) \
             VALUES ($1, $2, 'valid', $3, $4, $5, $6) RETURNING *",
        )
        .bind(a.thumbprint.clone())
        .bind(a.jwk.clone())
        .bind(a.contact.join("\n"))
        .bind(a.eab_kid.clone())
        .bind(a.created_ip.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let account = account_from(&row)?;
        if let Some(kid) = &a.eab_kid {
            let n = sqlx::query(
                "UPDATE acme_eab_keys SET account_id = $1, bound_at = $2 WHERE kid = $3 AND account_id IS NULL",
            )
            .bind(account.id)
            .bind(now)
            .bind(kid.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict(format!(
                    "external account binding key {kid} is unknown or already bound to an account"
                )));
            }
        }
        tx.commit().await?;
        Ok(account)
    }

    /// An account by id.
    pub async fn acme_account(&self, id: i64) -> Result<AcmeAccount, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
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
            .fetch_optional(self.pool())
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
            .fetch_all(self.pool())
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
        let mut tx = self.pool().begin().await?;
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
            .fetch_optional(self.pool())
            .await?;
        r.map(|r| eab_from(&r)).transpose()
    }

    /// Every EAB key, newest first (control listing; the HMAC keys are in the records,
    /// callers must not show them).
    pub async fn eab_keys(&self) -> Result<Vec<EabKey>, StoreError> {
        sqlx::query("SELECT * FROM acme_eab_keys ORDER BY created_at DESC, kid")
            .fetch_all(self.pool())
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

    /// Creates an order with its authorizations and challenges, atomically.
    pub async fn create_acme_order(
        &self,
        o: &NewAcmeOrder,
        now: i64,
    ) -> Result<AcmeOrder, StoreError> {
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query(
            "INSERT INTO acme_orders (account_id, profile, status, expires_at, not_before, not_after, replaces_id, client_ip, created_at) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(o.account_id)
        .bind(o.profile.clone())
        .bind(o.expires_at)
        .bind(o.not_before)
        .bind(o.not_after)
        .bind(o.replaces_id)
        .bind(o.client_ip.clone())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let order_id: i64 = r.try_get("id")?;
        let mut authorizations = Vec::with_capacity(o.authorizations.len());
        for a in &o.authorizations {
            let r = sqlx::query(
                "INSERT INTO acme_authorizations (order_id, account_id, identifier_type, identifier_value, wildcard, status, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING id",
            )
            .bind(order_id)
            .bind(o.account_id)
            .bind(a.identifier_type.clone())
            .bind(a.identifier_value.clone())
            .bind(i64::from(a.wildcard))
            .bind(a.expires_at)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let authz_id: i64 = r.try_get("id")?;
            for (kind, token) in &a.challenges {
                sqlx::query(
                    "INSERT INTO acme_challenges (authz_id, kind, token, status) VALUES ($1, $2, $3, 'pending')",
                )
                .bind(authz_id)
                .bind(kind.clone())
                .bind(token.clone())
                .execute(&mut *tx)
                .await?;
            }
            authorizations.push(authz_id);
        }
        tx.commit().await?;
        self.acme_order(order_id).await
    }

    /// An order by id.
    pub async fn acme_order(&self, id: i64) -> Result<AcmeOrder, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_orders WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ACME order {id}")))?;
        let authorizations =
            sqlx::query("SELECT id FROM acme_authorizations WHERE order_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(AcmeOrder {
            id,
            account_id: r.try_get("account_id")?,
            profile: r.try_get("profile")?,
            status: r.try_get("status")?,
            expires_at: r.try_get("expires_at")?,
            not_before: r.try_get("not_before")?,
            not_after: r.try_get("not_after")?,
            error: r.try_get("error")?,
            certificate_id: r.try_get("certificate_id")?,
            replaces_id: r.try_get("replaces_id")?,
            client_ip: r.try_get("client_ip")?,
            created_at: r.try_get("created_at")?,
            authorizations,
        })
    }

    /// Order ids, `id > after`, optionally of one account.
    pub async fn acme_order_ids(
        &self,
        account: Option<i64>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = match account {
            Some(a) => sqlx::query(
                "SELECT id FROM acme_orders WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(a)
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?,
            None => {
                sqlx::query("SELECT id FROM acme_orders WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter()
            .map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// The order that obtained a certificate, if it came through ACME.
    pub async fn acme_order_by_certificate(
        &self,
        certificate_id: i64,
    ) -> Result<Option<AcmeOrder>, StoreError> {
        let r = sqlx::query("SELECT id FROM acme_orders WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(self.pool())
            .await?;
        match r {
            Some(r) => Ok(Some(self.acme_order(r.try_get("id")?).await?)),
            None => Ok(None),
        }
    }

    /// Whether some order already names `certificate_id` as the one it replaces (ARI:
    /// a certificate is replaced once).
    pub async fn acme_certificate_replaced(&self, certificate_id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "SELECT id FROM acme_orders WHERE replaces_id = $1 AND status <> 'invalid' LIMIT 1",
        )
        .bind(certificate_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(r.is_some())
    }

    /// Moves an order from one of `from` to `to` (with an error document for `invalid`).
    pub async fn set_acme_order_status(
        &self,
        id: i64,
        from: &[&str],
        to: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE acme_orders SET status = $1, error = $2 WHERE id = $3 AND status IN ({})",
            in_list(4, from.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(to.to_string())
            .bind(error.map(str::to_string))
            .bind(id);
        for f in from {
            q = q.bind(f.to_string());
        }
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// A `processing` order becomes `valid` with its certificate.
    pub async fn finish_acme_order(
        &self,
        id: i64,
        certificate_id: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE acme_orders SET status = 'valid', certificate_id = $1 WHERE id = $2 AND status = 'processing'",
        )
        .bind(certificate_id)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// An authorization with its challenges.
    pub async fn acme_authorization(&self, id: i64) -> Result<AcmeAuthorization, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_authorizations WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ACME authorization {id}")))?;
        let challenges =
            sqlx::query("SELECT * FROM acme_challenges WHERE authz_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(challenge_from)
                .collect::<Result<Vec<_>, _>>()?;
        Ok(AcmeAuthorization {
            id,
            order_id: r.try_get("order_id")?,
            account_id: r.try_get("account_id")?,
            identifier_type: r.try_get("identifier_type")?,
            identifier_value: r.try_get("identifier_value")?,
            wildcard: r.try_get::<i64, _>("wildcard")? == 1,
            status: r.try_get("status")?,
            expires_at: r.try_get("expires_at")?,
            challenges,
        })
    }

    /// Moves an authorization from one of `from` to `to`.
    pub async fn set_acme_authorization_status(
        &self,
        id: i64,
        from: &[&str],
        to: &str,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE acme_authorizations SET status = $1 WHERE id = $2 AND status IN ({})",
            in_list(3, from.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(to.to_string())
            .bind(id);
        for f in from {
            q = q.bind(f.to_string());
        }
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// A challenge by id.
    pub async fn acme_challenge(&self, id: i64) -> Result<AcmeChallenge, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_challenges WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ACME challenge {id}")))?;
        challenge_from(&r)
    }

    /// Moves a challenge from `from` to `to`, with the validation time or the error.
    pub async fn set_acme_challenge_status(
        &self,
        id: i64,
        from: &str,
        to: &str,
        validated_at: Option<i64>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE acme_challenges SET status = $1, validated_at = $2, error = $3 WHERE id = $4 AND status = $5",
        )
        .bind(to.to_string())
        .bind(validated_at)
        .bind(error.map(str::to_string))
        .bind(id)
        .bind(from.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Orders an account created since `since` (rate limit).
    pub async fn acme_orders_by_account_since(
        &self,
        account_id: i64,
        since: i64,
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM acme_orders WHERE account_id = $1 AND created_at >= $2",
        )
        .bind(account_id)
        .bind(since)
        .fetch_one(self.pool())
        .await?;
        Ok(r.try_get("n")?)
    }

    /// Orders and accounts made from a client address since `since` (rate limit).
    pub async fn acme_requests_by_ip_since(&self, ip: &str, since: i64) -> Result<i64, StoreError> {
        let orders = count(
            self,
            "SELECT COUNT(*) AS n FROM acme_orders WHERE client_ip = $1 AND created_at >= $2",
            ip.to_string(),
            since,
        )
        .await?;
        let accounts = count(
            self,
            "SELECT COUNT(*) AS n FROM acme_accounts WHERE created_ip = $1 AND created_at >= $2",
            ip.to_string(),
            since,
        )
        .await?;
        Ok(orders + accounts)
    }

    /// Authorizations made for an identifier value since `since` (rate limit).
    pub async fn acme_authorizations_for_identifier_since(
        &self,
        value: &str,
        since: i64,
    ) -> Result<i64, StoreError> {
        count(
            self,
            "SELECT COUNT(*) AS n FROM acme_authorizations WHERE identifier_value = $1 AND created_at >= $2",
            value.to_string(),
            since,
        )
        .await
    }

    /// Garbage collection: expired nonces go, pending/ready orders past their expiry become
    /// invalid and pending authorizations past theirs become expired. Returns
    /// (nonces deleted, orders expired, authorizations expired).
    pub async fn expire_acme(&self, now: i64) -> Result<(u64, u64, u64), StoreError> {
        let nonces = sqlx::query("DELETE FROM acme_nonces WHERE expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        let orders = sqlx::query(
            "UPDATE acme_orders SET status = 'invalid', error = $1 WHERE status IN ('pending', 'ready') AND expires_at <= $2",
        )
        .bind(
            r#"{"type":"urn:ietf:params:acme:error:malformed","detail":"the order expired before it was finalized"}"#
                .to_string(),
        )
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        let authz = sqlx::query(
            "UPDATE acme_authorizations SET status = 'expired' WHERE status = 'pending' AND expires_at <= $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok((nonces, orders, authz))
    }
}

/// `COUNT(*) AS n` of a query bound to (text key, since).
async fn count(
    store: &Store,
    sql: &'static str,
    key: String,
    since: i64,
) -> Result<i64, StoreError> {
    let r = sqlx::query(sql)
        .bind(key)
        .bind(since)
        .fetch_one(store.pool())
        .await?;
    Ok(r.try_get("n")?)
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
