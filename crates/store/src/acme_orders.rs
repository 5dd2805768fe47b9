//! ACME orders, authorizations and challenges, the counts behind rate limits, and expiry.
//!
//! In: orders the front decided to create and state moves it decided to make. Out: rows.
//! Every move is guarded by the expected current status (`UPDATE … WHERE status IN (…)`),
//! so of two fronts racing on one challenge or order exactly one moves it.

use crate::acme::{
    challenge_from, in_list, AcmeAuthorization, AcmeChallenge, AcmeOrder, NewAcmeOrder,
};
use crate::{AuthorizationStatus, ChallengeStatus, NewCertificate, OrderStatus, Store, StoreError};
use sqlx::{AssertSqlSafe, Row};

/// Creates an order with its authorizations and challenges inside the caller's
/// transaction.
pub(crate) async fn create_acme_order_on(
    conn: &mut sqlx::AnyConnection,
    o: &NewAcmeOrder,
    now: i64,
) -> Result<AcmeOrder, StoreError> {
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
    .fetch_one(&mut *conn)
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
        .fetch_one(&mut *conn)
        .await?;
        let authz_id: i64 = r.try_get("id")?;
        if !a.challenges.is_empty() {
            // All of an authorization's challenges in one statement.
            let values = (0..a.challenges.len())
                .map(|i| format!("($1, ${}, ${}, 'pending')", 2 * i + 2, 2 * i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO acme_challenges (authz_id, kind, token, status) VALUES {values}"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(authz_id);
            for (kind, token) in &a.challenges {
                q = q.bind(kind.clone()).bind(token.clone());
            }
            q.execute(&mut *conn).await?;
        }
        authorizations.push(authz_id);
    }
    // What was just written, without reading it back.
    Ok(AcmeOrder {
        id: order_id,
        account_id: o.account_id,
        profile: o.profile.clone(),
        status: OrderStatus::Pending,
        expires_at: o.expires_at,
        not_before: o.not_before,
        not_after: o.not_after,
        error: None,
        certificate_id: None,
        replaces_id: o.replaces_id,
        client_ip: o.client_ip.clone(),
        created_at: now,
        authorizations,
    })
}

/// A `processing` order becomes `valid` with its certificate, on `conn`; false when it was
/// not `processing`.
async fn close_order_on(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    certificate_id: i64,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE acme_orders SET status = 'valid', certificate_id = $1 WHERE id = $2 AND status = 'processing'",
    )
    .bind(certificate_id)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

impl Store {
    /// Creates an order with its authorizations and challenges, atomically (no rate
    /// limits: the front uses [`Store::create_acme_order_within`]).
    pub async fn create_acme_order(
        &self,
        o: &NewAcmeOrder,
        now: i64,
    ) -> Result<AcmeOrder, StoreError> {
        let mut tx = self.begin_write().await?;
        let order = create_acme_order_on(&mut tx, o, now).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// An order by id.
    pub async fn acme_order(&self, id: i64) -> Result<AcmeOrder, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_orders WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ACME order {id}")))?;
        let authorizations =
            sqlx::query("SELECT id FROM acme_authorizations WHERE order_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(self.reads())
                .await?
                .iter()
                .map(|r| r.try_get::<i64, _>("id"))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(AcmeOrder {
            id,
            account_id: r.try_get("account_id")?,
            profile: r.try_get("profile")?,
            status: OrderStatus::parse(&r.try_get::<String, _>("status")?)?,
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
            .fetch_all(self.reads())
            .await?,
            None => {
                sqlx::query("SELECT id FROM acme_orders WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after)
                    .bind(limit)
                    .fetch_all(self.reads())
                    .await?
            }
        };
        rows.iter()
            .map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// A certificate's issuer and DER, when one of `account_id`'s orders obtained it (the
    /// ACME download: one statement instead of reading the order and the whole record).
    pub async fn acme_certificate_of_account(
        &self,
        certificate_id: i64,
        account_id: i64,
    ) -> Result<Option<(strongroom_types::CaId, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT c.issuer_id, c.der FROM certificates c \
             WHERE c.id = $1 AND EXISTS \
               (SELECT 1 FROM acme_orders o WHERE o.certificate_id = c.id AND o.account_id = $2)",
        )
        .bind(certificate_id)
        .bind(account_id)
        .fetch_optional(self.reads())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let issuer: String = row.try_get("issuer_id")?;
        let issuer = issuer
            .parse()
            .map_err(|_| StoreError::Backend("stored issuer is invalid".into()))?;
        Ok(Some((issuer, row.try_get("der")?)))
    }

    /// Records an issued certificate, closes its order (`processing` → `valid`) and appends
    /// the audit event, in one transaction: one durable commit instead of three, and never
    /// a certificate without its event. `event` makes the audit event from the new
    /// certificate's id. Returns that id and whether this call closed the order (false if
    /// something else moved it).
    pub async fn record_acme_issuance(
        &self,
        certificate: &NewCertificate,
        order_id: i64,
        event: impl FnOnce(i64) -> crate::NewAuditEvent,
        now: i64,
    ) -> Result<(i64, bool), StoreError> {
        let mut tx = self.begin_write().await?;
        let id = crate::certificates::insert_audited_on(&mut tx, certificate, event, now).await?;
        let closed = close_order_on(&mut tx, order_id, id).await?;
        tx.commit().await?;
        Ok((id, closed))
    }

    /// Whether an ACME account may revoke a certificate (RFC 8555 §7.6): one of its orders
    /// obtained it, or the account holds a valid, unexpired authorization for every name
    /// in it (`dns:NAME`, `dns:*.NAME` as a wildcard authorization, `ip:ADDR`). A
    /// certificate with no names, or with a kind of name ACME never authorizes, can be
    /// revoked only by its own account. The front checks it and control checks it again.
    pub async fn acme_account_may_revoke(
        &self,
        account_id: i64,
        certificate_id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let own = sqlx::query(
            "SELECT 1 AS one FROM acme_orders WHERE certificate_id = $1 AND account_id = $2 LIMIT 1",
        )
        .bind(certificate_id)
        .bind(account_id)
        .fetch_optional(self.reads())
        .await?;
        if own.is_some() {
            return Ok(true);
        }
        let names: Vec<String> =
            sqlx::query("SELECT name FROM certificate_names WHERE certificate_id = $1")
                .bind(certificate_id)
                .fetch_all(self.reads())
                .await?
                .iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?;
        // The inventory lists the subjectAltNames (`kind:value`) and, unprefixed, the
        // subject CN, which repeats a DNS name: only the former are checked.
        let sans: Vec<&String> = names.iter().filter(|n| n.contains(':')).collect();
        if sans.is_empty() {
            return Ok(false);
        }
        for name in sans {
            let (kind, value, wildcard) = match name.split_once(':') {
                Some(("dns", v)) => match v.strip_prefix("*.") {
                    Some(base) => ("dns", base, 1i64),
                    None => ("dns", v, 0),
                },
                Some(("ip", v)) => ("ip", v, 0),
                _ => return Ok(false),
            };
            let held = sqlx::query(
                "SELECT 1 AS one FROM acme_authorizations WHERE account_id = $1 AND identifier_type = $2 \
                 AND identifier_value = $3 AND wildcard = $4 AND status = 'valid' AND expires_at > $5 LIMIT 1",
            )
            .bind(account_id)
            .bind(kind.to_string())
            .bind(value.to_string())
            .bind(wildcard)
            .bind(now)
            .fetch_optional(self.reads())
            .await?;
            if held.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The order that obtained a certificate, if it came through ACME.
    pub async fn acme_order_by_certificate(
        &self,
        certificate_id: i64,
    ) -> Result<Option<AcmeOrder>, StoreError> {
        let r = sqlx::query("SELECT id FROM acme_orders WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(self.reads())
            .await?;
        match r {
            Some(r) => Ok(Some(self.acme_order(r.try_get("id")?).await?)),
            None => Ok(None),
        }
    }

    /// How many orders are in each status now, as (status, count) sorted by status (the
    /// front's `strongroom_front_acme_orders` gauge, read at scrape time).
    pub async fn acme_orders_by_status(&self) -> Result<Vec<(OrderStatus, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM acme_orders GROUP BY status ORDER BY status",
        )
        .fetch_all(self.reads())
        .await?;
        rows.iter()
            .map(|r| {
                let status = OrderStatus::parse(&r.try_get::<String, _>("status")?)?;
                Ok((status, r.try_get("n")?))
            })
            .collect()
    }

    /// Whether some order already names `certificate_id` as the one it replaces (ARI:
    /// a certificate is replaced once).
    pub async fn acme_certificate_replaced(&self, certificate_id: i64) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "SELECT id FROM acme_orders WHERE replaces_id = $1 AND status <> 'invalid' LIMIT 1",
        )
        .bind(certificate_id)
        .fetch_optional(self.reads())
        .await?;
        Ok(r.is_some())
    }

    /// Moves an order from one of `from` to `to` (with an error document for `invalid`).
    pub async fn set_acme_order_status(
        &self,
        id: i64,
        from: &[OrderStatus],
        to: OrderStatus,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE acme_orders SET status = $1, error = $2 WHERE id = $3 AND status IN ({})",
            in_list(4, from.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(error.map(str::to_string))
            .bind(id);
        for f in from {
            q = q.bind(f.as_str());
        }
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// Claims a `ready` order for finalize (`processing`, stamped with `now`); false when
    /// it was not `ready` (another finalize won, or it moved on).
    pub async fn claim_acme_order_for_finalize(
        &self,
        id: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE acme_orders SET status = 'processing', processing_since = $1 WHERE id = $2 AND status = 'ready'",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Fails the orders claimed for finalize at or before `before` and still `processing`
    /// (the front that claimed them stopped mid-issuance), with a problem telling the
    /// client to order again; their ids, for the operator to reconcile with the signer's
    /// journal. Orders claimed before migration 7/6 carry no stamp and are left alone.
    pub async fn fail_stuck_acme_orders(&self, before: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "UPDATE acme_orders SET status = 'invalid', error = $1 \
             WHERE status = 'processing' AND processing_since IS NOT NULL AND processing_since <= $2 \
             RETURNING id",
        )
        .bind(
            r#"{"type":"urn:ietf:params:acme:error:serverInternal","detail":"issuance was interrupted; place a new order"}"#
                .to_string(),
        )
        .bind(before)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>("id").map_err(StoreError::from))
            .collect()
    }

    /// A `processing` order becomes `valid` with its certificate.
    pub async fn finish_acme_order(
        &self,
        id: i64,
        certificate_id: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool().acquire().await?;
        close_order_on(&mut conn, id, certificate_id).await
    }

    /// An authorization with its challenges.
    pub async fn acme_authorization(&self, id: i64) -> Result<AcmeAuthorization, StoreError> {
        // One statement for the authorization and its challenges (one row per challenge):
        // every ACME request already costs a nonce and an account read, so each round trip
        // to the database saved here is felt on every authorization and challenge request.
        let rows = sqlx::query(
            "SELECT z.order_id, z.account_id, z.identifier_type, z.identifier_value, z.wildcard, \
                    z.status, z.expires_at, c.id AS c_id, c.kind AS c_kind, c.token AS c_token, \
                    c.status AS c_status, c.validated_at AS c_validated_at, c.error AS c_error \
             FROM acme_authorizations z LEFT JOIN acme_challenges c ON c.authz_id = z.id \
             WHERE z.id = $1 ORDER BY c.id",
        )
        .bind(id)
        .fetch_all(self.reads())
        .await?;
        let r = rows
            .first()
            .ok_or_else(|| StoreError::NotFound(format!("ACME authorization {id}")))?;
        let mut challenges = Vec::with_capacity(rows.len());
        for c in &rows {
            let Some(challenge_id) = c.try_get::<Option<i64>, _>("c_id")? else {
                continue;
            };
            challenges.push(AcmeChallenge {
                id: challenge_id,
                authz_id: id,
                kind: c.try_get("c_kind")?,
                token: c.try_get("c_token")?,
                status: ChallengeStatus::parse(&c.try_get::<String, _>("c_status")?)?,
                validated_at: c.try_get("c_validated_at")?,
                error: c.try_get("c_error")?,
            });
        }
        Ok(AcmeAuthorization {
            id,
            order_id: r.try_get("order_id")?,
            account_id: r.try_get("account_id")?,
            identifier_type: r.try_get("identifier_type")?,
            identifier_value: r.try_get("identifier_value")?,
            wildcard: r.try_get::<i64, _>("wildcard")? == 1,
            status: AuthorizationStatus::parse(&r.try_get::<String, _>("status")?)?,
            expires_at: r.try_get("expires_at")?,
            challenges,
        })
    }

    /// Moves an authorization from one of `from` to `to`.
    pub async fn set_acme_authorization_status(
        &self,
        id: i64,
        from: &[AuthorizationStatus],
        to: AuthorizationStatus,
    ) -> Result<bool, StoreError> {
        let sql = format!(
            "UPDATE acme_authorizations SET status = $1 WHERE id = $2 AND status IN ({})",
            in_list(3, from.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(to.as_str()).bind(id);
        for f in from {
            q = q.bind(f.as_str());
        }
        Ok(q.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// A challenge by id.
    pub async fn acme_challenge(&self, id: i64) -> Result<AcmeChallenge, StoreError> {
        let r = sqlx::query("SELECT * FROM acme_challenges WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ACME challenge {id}")))?;
        challenge_from(&r)
    }

    /// Challenges left `processing` (a validation was started and its outcome never
    /// recorded: the front that ran it stopped), oldest first, at most `limit`.
    pub async fn acme_challenges_processing(
        &self,
        limit: i64,
    ) -> Result<Vec<AcmeChallenge>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM acme_challenges WHERE status = 'processing' ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.reads())
        .await?;
        rows.iter().map(challenge_from).collect()
    }

    /// Moves a challenge from `from` to `to`, with the validation time or the error.
    pub async fn set_acme_challenge_status(
        &self,
        id: i64,
        from: ChallengeStatus,
        to: ChallengeStatus,
        validated_at: Option<i64>,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE acme_challenges SET status = $1, validated_at = $2, error = $3 WHERE id = $4 AND status = $5",
        )
        .bind(to.as_str())
        .bind(validated_at)
        .bind(error.map(str::to_string))
        .bind(id)
        .bind(from.as_str())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records a validation outcome in one transaction: the challenge leaves `processing`,
    /// its authorization follows, and the order becomes `ready` (all authorizations valid)
    /// or `invalid` (with `error`). `Ok(validated_at)` for success, `Err(problem JSON)` for
    /// failure. False when the challenge was not `processing` (nothing changes).
    pub async fn record_acme_validation(
        &self,
        challenge: i64,
        authz: i64,
        order: i64,
        outcome: Result<i64, &str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        // The challenge and its authorization end the same way.
        let (challenge_to, authz_to, at, error) = match outcome {
            Ok(at) => (
                ChallengeStatus::Valid,
                AuthorizationStatus::Valid,
                Some(at),
                None,
            ),
            Err(e) => (
                ChallengeStatus::Invalid,
                AuthorizationStatus::Invalid,
                None,
                Some(e.to_string()),
            ),
        };
        let moved = sqlx::query(
            "UPDATE acme_challenges SET status = $1, validated_at = $2, error = $3 WHERE id = $4 AND status = 'processing'",
        )
        .bind(challenge_to.as_str())
        .bind(at)
        .bind(error.clone())
        .bind(challenge)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE acme_authorizations SET status = $1 WHERE id = $2 AND status = 'pending'",
        )
        .bind(authz_to.as_str())
        .bind(authz)
        .execute(&mut *tx)
        .await?;
        if authz_to == AuthorizationStatus::Valid {
            let r = sqlx::query(
                "SELECT COUNT(*) AS n FROM acme_authorizations WHERE order_id = $1 AND status <> 'valid'",
            )
            .bind(order)
            .fetch_one(&mut *tx)
            .await?;
            if r.try_get::<i64, _>("n")? == 0 {
                sqlx::query(
                    "UPDATE acme_orders SET status = 'ready' WHERE id = $1 AND status = 'pending'",
                )
                .bind(order)
                .execute(&mut *tx)
                .await?;
            }
        } else {
            sqlx::query(
                "UPDATE acme_orders SET status = 'invalid', error = $1 WHERE id = $2 AND status IN ('pending', 'ready')",
            )
            .bind(error)
            .bind(order)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Garbage collection: expired nonces go, pending/ready orders past their expiry become
    /// invalid and pending authorizations past theirs become expired. Returns
    /// (nonces deleted, orders expired, authorizations expired).
    pub async fn expire_acme(&self, now: i64) -> Result<(u64, u64, u64), StoreError> {
        let sql = format!("DELETE FROM {} WHERE expires_at <= $1", self.nonce_table());
        let nonces = sqlx::query(AssertSqlSafe(sql))
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
