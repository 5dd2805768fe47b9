//! ACME rate limits counted where the order is created, so they hold exactly under
//! concurrency: the counts and the insert share one transaction. On SQLite the single
//! writing connection already serialises such transactions; on PostgreSQL each
//! transaction first takes advisory locks on its keys (account, address, identifiers, in
//! sorted order so two orders cannot deadlock), so the second of two racing orders counts
//! the first.
//!
//! The same holds for a new account and its address: the account's insert and the
//! address count share a transaction, under the address's lock on PostgreSQL.
//!
//! In: the order or account to create, the per-hour limits, now. Out: what was created, or
//! which limit it would exceed (nothing is written then).

use crate::acme::{create_acme_account_on, AcmeAccount, AcmeOrder, NewAcmeAccount, NewAcmeOrder};
use crate::acme_orders::create_acme_order_on;
use crate::{Backend, Store, StoreError};
use sqlx::Row;

/// Per-hour limits for a new order; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLimits {
    /// Orders one account may create.
    pub orders_per_account: i64,
    /// New accounts and orders from one client address.
    pub requests_per_ip: i64,
    /// Authorizations for one identifier value.
    pub authorizations_per_identifier: i64,
    /// Start of the window (now − 1 hour).
    pub since: i64,
}

/// The limit a new order would exceed, with the limit's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitHit {
    /// Orders of the account.
    Account(i64),
    /// Accounts and orders from the client address.
    Ip(i64),
    /// Authorizations for this identifier value.
    Identifier(String, i64),
}

/// New orders and accounts from one client address since `$2` (per-address limit).
pub(crate) const REQUESTS_FROM_IP: &str =
    "SELECT (SELECT COUNT(*) FROM acme_orders WHERE client_ip = $1 AND created_at >= $2) \
          + (SELECT COUNT(*) FROM acme_accounts WHERE created_ip = $1 AND created_at >= $2) AS n";

/// `COUNT(*) AS n` of a query bound to (text key, since).
pub(crate) async fn count(
    conn: &mut sqlx::AnyConnection,
    sql: &'static str,
    key: String,
    since: i64,
) -> Result<i64, StoreError> {
    let r = sqlx::query(sql)
        .bind(key)
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
    Ok(r.try_get("n")?)
}

/// Takes PostgreSQL transaction-scoped advisory locks on `keys` (sorted, deduplicated, so
/// two transactions always lock in the same order); nothing on SQLite, where the single
/// writing connection serialises these transactions anyway.
async fn lock_keys(
    store: &Store,
    conn: &mut sqlx::AnyConnection,
    mut keys: Vec<String>,
) -> Result<(), StoreError> {
    if store.backend != Backend::Postgres {
        return Ok(());
    }
    keys.sort();
    keys.dedup();
    for key in keys {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    /// Creates an account unless its address made `requests_per_ip` accounts and orders
    /// since `since` (0 turns the limit off); counting and inserting in one transaction.
    pub async fn create_acme_account_within(
        &self,
        a: &NewAcmeAccount,
        requests_per_ip: i64,
        since: i64,
        now: i64,
    ) -> Result<Result<AcmeAccount, LimitHit>, StoreError> {
        let mut tx = self.begin_write().await?;
        if requests_per_ip > 0 {
            lock_keys(self, &mut tx, vec![format!("acme-ip:{}", a.created_ip)]).await?;
            let n = count(&mut tx, REQUESTS_FROM_IP, a.created_ip.clone(), since).await?;
            if n >= requests_per_ip {
                return Ok(Err(LimitHit::Ip(requests_per_ip)));
            }
        }
        let account = create_acme_account_on(&mut tx, a, now).await?;
        tx.commit().await?;
        Ok(Ok(account))
    }

    /// Creates an order unless it would exceed one of `limits`, counting and inserting in
    /// one transaction.
    pub async fn create_acme_order_within(
        &self,
        o: &NewAcmeOrder,
        limits: &OrderLimits,
        now: i64,
    ) -> Result<Result<AcmeOrder, LimitHit>, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut keys = vec![
            format!("acme-account:{}", o.account_id),
            format!("acme-ip:{}", o.client_ip),
        ];
        keys.extend(
            o.authorizations
                .iter()
                .map(|a| format!("acme-identifier:{}", a.identifier_value)),
        );
        lock_keys(self, &mut tx, keys).await?;
        if limits.orders_per_account > 0 {
            let n: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM acme_orders WHERE account_id = $1 AND created_at >= $2",
            )
            .bind(o.account_id)
            .bind(limits.since)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if n >= limits.orders_per_account {
                return Ok(Err(LimitHit::Account(limits.orders_per_account)));
            }
        }
        if limits.requests_per_ip > 0 {
            let n = count(&mut tx, REQUESTS_FROM_IP, o.client_ip.clone(), limits.since).await?;
            if n >= limits.requests_per_ip {
                return Ok(Err(LimitHit::Ip(limits.requests_per_ip)));
            }
        }
        if limits.authorizations_per_identifier > 0 {
            for a in &o.authorizations {
                let n = count(
                    &mut tx,
                    "SELECT COUNT(*) AS n FROM acme_authorizations WHERE identifier_value = $1 AND created_at >= $2",
                    a.identifier_value.clone(),
                    limits.since,
                )
                .await?;
                if n >= limits.authorizations_per_identifier {
                    return Ok(Err(LimitHit::Identifier(
                        a.identifier_value.clone(),
                        limits.authorizations_per_identifier,
                    )));
                }
            }
        }
        let order = create_acme_order_on(&mut tx, o, now).await?;
        tx.commit().await?;
        Ok(Ok(order))
    }
}
