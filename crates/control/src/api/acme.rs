//! ACME from the operator's side: the accounts and orders the front keeps (read, and
//! deactivate an account), and the external account binding keys a profile's ACME
//! directory may require (make, list, delete an unused one).
//!
//! In: requests that passed the guard; the store's ACME tables. Out: JSON views — an
//! account shows its key's thumbprint, never the key; an EAB key's HMAC secret is shown
//! once, in the answer that makes it, and never again, nor in the audit log or the logs.

use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Params, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SecureRandom;
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::{AcmeAccount, AcmeOrder, EabKey, StoreError};
use strongroom_types::ProfileName;
use zeroize::{Zeroize, Zeroizing};

/// Length of a new EAB HMAC key (HS256 wants at least the hash length).
const EAB_KEY_BYTES: usize = 32;

/// The JSON view of an account (the thumbprint names the key; the JWK stays in the store).
fn account_view(a: &AcmeAccount) -> Value {
    json!({
        "id": a.id,
        "status": a.status,
        "contact": a.contact,
        "eab_kid": a.eab_kid,
        "thumbprint": a.thumbprint,
        "created_ip": a.created_ip,
        "created_at": a.created_at,
    })
}

/// The JSON view of an EAB key: everything but the HMAC key.
fn eab_view(k: &EabKey) -> Value {
    json!({
        "kid": k.kid,
        "profile": k.profile,
        "account_id": k.account_id,
        "created_by": k.created_by,
        "created_at": k.created_at,
        "bound_at": k.bound_at,
    })
}

/// The JSON view of an order with its identifiers (`*.` restored for wildcards).
async fn order_view(app: &App, o: &AcmeOrder) -> ApiResult<Value> {
    let mut identifiers = Vec::with_capacity(o.authorizations.len());
    for id in &o.authorizations {
        let a = app.store.acme_authorization(*id).await?;
        let value = if a.wildcard {
            format!("*.{}", a.identifier_value)
        } else {
            a.identifier_value.clone()
        };
        identifiers.push(json!({"type": a.identifier_type, "value": value}));
    }
    // Stored as an RFC 8555 problem document; shown as text if it ever is not JSON.
    let error = o
        .error
        .as_deref()
        .map(|e| serde_json::from_str::<Value>(e).unwrap_or_else(|_| Value::String(e.to_string())));
    Ok(json!({
        "id": o.id,
        "account_id": o.account_id,
        "profile": o.profile,
        "status": o.status,
        "identifiers": identifiers,
        "not_before": o.not_before,
        "not_after": o.not_after,
        "expires_at": o.expires_at,
        "certificate_id": o.certificate_id,
        "replaces_id": o.replaces_id,
        "error": error,
        "created_at": o.created_at,
    }))
}

fn parse_id(what: &str, s: &str) -> Result<i64, Problem> {
    s.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| Problem::bad_request(format!("{what} id {s:?} is not a positive integer")))
}

fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    let limit = limit.unwrap_or(100);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::bad_request("limit must be between 1 and 1000"))
    }
}

/// Query of `GET /acme/accounts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Accounts by id; `next` continues the walk.
pub async fn list_accounts(
    State(app): State<App>,
    Params(q): Params<AccountQuery>,
) -> ApiResult<Json<Value>> {
    const SCOPE: &str = "acme-accounts";
    let limit = page_limit(q.limit)?;
    let after = match &q.cursor {
        Some(c) => app.cursors.open(c, SCOPE)?,
        None => 0,
    };
    let mut accounts = app.store.acme_accounts(after, i64::from(limit) + 1).await?;
    let more = accounts.len() > limit as usize;
    accounts.truncate(limit as usize);
    let next = match accounts.last() {
        Some(a) if more => Some(app.cursors.issue(a.id, SCOPE)),
        _ => None,
    };
    Ok(Json(json!({
        "items": accounts.iter().map(account_view).collect::<Vec<_>>(),
        "next": next,
    })))
}

/// One account.
pub async fn get_account(
    State(app): State<App>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Value>> {
    let a = app
        .store
        .acme_account(parse_id("ACME account", &id)?)
        .await?;
    Ok(Json(account_view(&a)))
}

/// Deactivates a valid account (RFC 8555 §7.3.6): it can no longer order, and its pending
/// authorizations go with it. Its certificates stay valid.
pub async fn deactivate_account(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id("ACME account", &id)?;
    let before = app.store.acme_account(id).await?;
    if !app.store.deactivate_acme_account(id).await? {
        let now = app.store.acme_account(id).await?;
        return Err(Problem::conflict(format!(
            "ACME account {id} is {}, not valid; only a valid account can be deactivated",
            now.status
        )));
    }
    app.audit_ok(
        &who,
        "acme.account.deactivate",
        &format!("acme-account:{id}"),
        format!("was {}", before.status),
    )
    .await?;
    Ok(Json(account_view(&app.store.acme_account(id).await?)))
}

/// Query of `GET /acme/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    account: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Orders by id, optionally of one account; `next` continues the walk.
pub async fn list_orders(
    State(app): State<App>,
    Params(q): Params<OrderQuery>,
) -> ApiResult<Json<Value>> {
    let limit = page_limit(q.limit)?;
    if let Some(a) = q.account {
        if a <= 0 {
            return Err(Problem::bad_request(
                "account must be a positive ACME account id",
            ));
        }
        app.store.acme_account(a).await?;
    }
    let scope = format!("acme-orders account={:?}", q.account);
    let after = match &q.cursor {
        Some(c) => app.cursors.open(c, &scope)?,
        None => 0,
    };
    let mut ids = app
        .store
        .acme_order_ids(q.account, after, i64::from(limit) + 1)
        .await?;
    let more = ids.len() > limit as usize;
    ids.truncate(limit as usize);
    let mut items = Vec::with_capacity(ids.len());
    for id in &ids {
        items.push(order_view(&app, &app.store.acme_order(*id).await?).await?);
    }
    let next = match ids.last() {
        Some(last) if more => Some(app.cursors.issue(*last, &scope)),
        _ => None,
    };
    Ok(Json(json!({"items": items, "next": next})))
}

/// Every EAB key, newest first, without its HMAC key.
pub async fn list_eab_keys(State(app): State<App>) -> ApiResult<Json<Value>> {
    let keys = app.store.eab_keys().await?;
    Ok(Json(
        json!({"items": keys.iter().map(eab_view).collect::<Vec<_>>()}),
    ))
}

/// Body of `POST /acme/eab-keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEab {
    profile: String,
}

/// Makes an EAB key for a profile; the answer is the only place its HMAC key appears.
pub async fn create_eab_key(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateEab>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let profile: ProfileName = req
        .profile
        .parse()
        .map_err(|e| Problem::bad_request(format!("profile: {e}")))?;
    match app.store.profile(&profile).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => {
            return Err(Problem::bad_request(format!(
                "profile {profile} does not exist (GET /api/v1/profiles)"
            )))
        }
        Err(e) => return Err(e.into()),
    }
    let mut kid_bytes = [0u8; 8];
    let mut secret = Zeroizing::new(vec![0u8; EAB_KEY_BYTES]);
    app.rng
        .fill(&mut kid_bytes)
        .and_then(|()| app.rng.fill(&mut secret))
        .map_err(|_| Problem::internal("no randomness for an EAB key"))?;
    let kid = format!("eab_{}", hex::encode(kid_bytes));
    let mut record = EabKey {
        kid: kid.clone(),
        profile: profile.to_string(),
        hmac_key: secret.to_vec(),
        account_id: None,
        created_by: who.username.clone(),
        created_at: app.now(),
        bound_at: None,
    };
    let stored = app.store.create_eab_key(&record).await;
    // SECURITY: the record's copy is wiped whatever the store said; only `secret` (wiped
    // on drop) and the answer below hold the key from here on.
    record.hmac_key.zeroize();
    stored?;
    app.audit_ok(
        &who,
        "acme.eab.create",
        &format!("acme-eab:{kid}"),
        format!("profile {profile}"),
    )
    .await?;
    let encoded = Zeroizing::new(URL_SAFE_NO_PAD.encode(secret.as_slice()));
    Ok((
        StatusCode::CREATED,
        Json(json!({"kid": kid, "hmac_key": encoded.as_str(), "profile": profile.to_string()})),
    ))
}

/// Checks the shape of a kid from a path (ours are `eab_` and 16 hex digits).
fn check_kid(kid: &str) -> Result<(), Problem> {
    let ok = !kid.is_empty()
        && kid.len() <= 64
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "EAB key id {kid:?} must be 1 to 64 letters, digits, _ or -"
        )))
    }
}

/// Deletes an EAB key no account has used.
pub async fn delete_eab_key(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(kid): Segments<String>,
) -> ApiResult<StatusCode> {
    check_kid(&kid)?;
    let key = app
        .store
        .eab_key(&kid)
        .await?
        .ok_or_else(|| Problem::not_found(format!("EAB key {kid} does not exist")))?;
    let bound = |account: Option<i64>| {
        Problem::conflict(format!(
            "EAB key {kid} is bound to ACME account {}; deactivate the account instead",
            account.map_or_else(|| "?".to_string(), |a| a.to_string())
        ))
    };
    if key.account_id.is_some() {
        return Err(bound(key.account_id));
    }
    if !app.store.delete_unbound_eab_key(&kid).await? {
        // An account bound it (or someone deleted it) since we looked.
        return match app.store.eab_key(&kid).await? {
            Some(k) => Err(bound(k.account_id)),
            None => Err(Problem::not_found(format!("EAB key {kid} does not exist"))),
        };
    }
    app.audit_ok(
        &who,
        "acme.eab.delete",
        &format!("acme-eab:{kid}"),
        format!("profile {}", key.profile),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
