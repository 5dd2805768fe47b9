//! Directory, nonces and accounts (RFC 8555 §7.1.1, §7.2, §7.3): newAccount with
//! onlyReturnExisting, terms of service and external account binding (the binding's JWS is
//! kept and shown in the account object), account update and deactivation, the account's
//! orders list, and key rollover.
//!
//! In: verified requests. Out: account resources; accounts in the store; audit events.

use super::http::{client_ip, finish, fresh_nonce, rate_limited, verify, Answer, KeyRule, Reply};
use super::{views, Acme, Shared};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;
use strongroom_acme::jws::verify_eab;
use strongroom_acme::payload::{check_contacts, AccountUpdate, KeyChange, NewAccount};
use strongroom_acme::{b64, Jwk, Jws, Problem, ProblemType};
use strongroom_store::AuditOutcome;
use strongroom_store::{AccountStatus, NewAcmeAccount, StoreError};

/// Checks a profile path segment.
pub fn offered_profile(acme: &Acme, profile: &str) -> Result<(), Problem> {
    if acme.cfg.profile(profile).is_some() {
        Ok(())
    } else {
        Err(Problem::malformed(format!(
            "profile {:?} is not offered over ACME",
            profile.chars().take(64).collect::<String>()
        ))
        .with_status(404))
    }
}

fn directory_json(acme: &Acme, profile: &str) -> Value {
    let p = acme.cfg.profile(profile);
    let mut meta = json!({
        "externalAccountRequired": p.is_some_and(|p| p.external_account_required),
        "profiles": acme.cfg.profile.iter().map(|p| (p.name.clone(), json!(format!("certificate profile {}", p.name)))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(t) = &acme.cfg.terms_of_service {
        meta["termsOfService"] = json!(t);
    }
    json!({
        "newNonce": acme.url("/acme/new-nonce"),
        "newAccount": acme.url(&format!("/acme/{profile}/new-account")),
        "newOrder": acme.url(&format!("/acme/{profile}/new-order")),
        "revokeCert": acme.url("/acme/revoke-cert"),
        "keyChange": acme.url("/acme/key-change"),
        "renewalInfo": acme.url("/acme/renewal-info"),
        "meta": meta,
    })
}

/// GET /acme/directory (the default profile's).
pub async fn directory_default(State(acme): State<Shared>) -> Response {
    let body = directory_json(&acme, &acme.cfg.default_profile);
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// GET /acme/{profile}/directory.
pub async fn directory(State(acme): State<Shared>, Path(profile): Path<String>) -> Response {
    if let Err(p) = offered_profile(&acme, &profile) {
        return finish(&acme, Err(p.into())).await;
    }
    let body = directory_json(&acme, &profile);
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn nonce_response(acme: &Acme, status: StatusCode) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match fresh_nonce(acme).await {
        Some(n) => {
            if let Ok(v) = HeaderValue::from_str(&n) {
                headers.insert("replay-nonce", v);
            }
            (status, headers).into_response()
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, headers).into_response(),
    }
}

/// HEAD /acme/new-nonce.
pub async fn new_nonce_head(State(acme): State<Shared>) -> Response {
    nonce_response(&acme, StatusCode::OK).await
}

/// GET /acme/new-nonce.
pub async fn new_nonce_get(State(acme): State<Shared>) -> Response {
    nonce_response(&acme, StatusCode::NO_CONTENT).await
}

/// Appends an audit event; a failure is logged, not fatal (the store row is the record).
pub async fn audit(acme: &Acme, actor: String, action: &str, target: String, detail: String) {
    let event = strongroom_store::NewAuditEvent {
        actor,
        action: action.into(),
        target,
        outcome: AuditOutcome::Ok,
        detail,
    };
    if let Err(e) = acme.app.store.append_audit(&event, acme.app.now()).await {
        tracing::warn!(error = %e, action, "cannot append an ACME audit event");
    }
}

/// POST /acme/{profile}/new-account.
pub async fn new_account(
    State(acme): State<Shared>,
    Path(profile): Path<String>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = new_account_inner(&acme, &profile, peer.map(|c| c.0 .0), &headers, &body).await;
    finish(&acme, outcome).await
}

async fn new_account_inner(
    acme: &Acme,
    profile: &str,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    offered_profile(acme, profile)?;
    let path = format!("/acme/{profile}/new-account");
    let v = verify(acme, &path, headers, body, KeyRule::Jwk).await?;
    let req: NewAccount = v.jws.payload_as()?;
    let thumbprint = v.key.thumbprint();
    if let Some(existing) = acme
        .app
        .store
        .acme_account_by_thumbprint(&thumbprint)
        .await?
    {
        if existing.status != AccountStatus::Valid {
            return Err(Problem::unauthorized(format!(
                "account {} is {}",
                existing.id, existing.status
            ))
            .into());
        }
        let url = acme.url(&format!("/acme/account/{}", existing.id));
        return Ok(Reply::json(StatusCode::OK, &views::account(acme, &existing)).location(url));
    }
    if req.only_return_existing == Some(true) {
        return Err(Problem::new(
            ProblemType::AccountDoesNotExist,
            "no account exists for this key",
        )
        .into());
    }
    if acme.cfg.terms_of_service.is_some() && req.terms_of_service_agreed != Some(true) {
        return Err(Problem::new(
            ProblemType::UserActionRequired,
            "agree to the terms of service (termsOfServiceAgreed: true)",
        )
        .into());
    }
    let contact = req.contact.unwrap_or_default();
    check_contacts(&contact)?;
    let requires_eab = acme
        .cfg
        .profile(profile)
        .is_some_and(|p| p.external_account_required);
    let (eab_kid, eab_jws) = match &req.external_account_binding {
        None if requires_eab => {
            return Err(Problem::new(
                ProblemType::ExternalAccountRequired,
                format!("the {profile} directory requires external account binding: ask an operator for a key (strongroom acme eab create --profile {profile})"),
            )
            .into())
        }
        None => (None, None),
        Some(eab) => {
            let kid = eab_kid(eab)?;
            let stored = acme.app.store.eab_key(&kid).await?;
            let key = match stored {
                Some(k) if k.account_id.is_some() => {
                    return Err(Problem::unauthorized(format!("external account binding key {kid} is already bound to an account")).into())
                }
                Some(k) if k.profile != profile => {
                    return Err(Problem::unauthorized(format!("external account binding key {kid} belongs to profile {}, not {profile}", k.profile)).into())
                }
                Some(k) => k.hmac_key,
                None => return Err(Problem::unauthorized(format!("unknown external account binding key {kid:?}")).into()),
            };
            let kid = verify_eab(eab, &v.key, &acme.url(&path), |_| Some(key))?;
            (Some(kid), Some(reflected_eab(eab)))
        }
    };
    let ip = client_ip(peer);
    // The per-address limit is counted in the transaction that creates the account.
    let created = acme
        .app
        .store
        .create_acme_account_within(
            &NewAcmeAccount {
                thumbprint: thumbprint.clone(),
                jwk: v.key.canonical_json(),
                contact,
                eab_kid: eab_kid.clone(),
                eab_jws,
                created_ip: ip.clone(),
            },
            acme.cfg.limits.requests_per_ip,
            acme.app.now() - 3600,
            acme.app.now(),
        )
        .await;
    let account = match created {
        Ok(Ok(a)) => a,
        Ok(Err(hit)) => return Err(rate_limited(hit, &ip)),
        Err(StoreError::Conflict(detail)) => {
            // Raced with another request for the same key, or the EAB key went first.
            if let Some(existing) = acme
                .app
                .store
                .acme_account_by_thumbprint(&thumbprint)
                .await?
            {
                let url = acme.url(&format!("/acme/account/{}", existing.id));
                return Ok(
                    Reply::json(StatusCode::OK, &views::account(acme, &existing)).location(url),
                );
            }
            return Err(Problem::unauthorized(detail).into());
        }
        Err(e) => return Err(e.into()),
    };
    audit(
        acme,
        format!("acme:{}", account.id),
        "acme.account.create",
        format!("acme-account:{}", account.id),
        format!(
            "profile={profile} ip={ip} eab={}",
            eab_kid.as_deref().unwrap_or("-")
        ),
    )
    .await;
    let url = acme.url(&format!("/acme/account/{}", account.id));
    Ok(Reply::json(StatusCode::CREATED, &views::account(acme, &account)).location(url))
}

/// The binding as the account object shows it (RFC 8555 §7.1.2, as Pebble reflects it):
/// the flattened JWS the client sent, its three members only. It holds the account's public
/// key and a MAC, nothing secret. Called after `verify_eab` accepted it.
fn reflected_eab(eab: &Value) -> String {
    let member = |k: &str| eab.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "protected": member("protected"),
        "payload": member("payload"),
        "signature": member("signature"),
    })
    .to_string()
}

/// The kid of an EAB JWS (checked properly by `verify_eab`).
fn eab_kid(eab: &Value) -> Result<String, Problem> {
    let protected = eab
        .get("protected")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::malformed("externalAccountBinding must be a flattened JWS"))?;
    let header: Value = b64::decode(protected, "externalAccountBinding protected")
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| {
            Problem::malformed("externalAccountBinding: the protected header is not base64url JSON")
        })?;
    header
        .get("kid")
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .map(str::to_string)
        .ok_or_else(|| Problem::malformed("externalAccountBinding: kid is missing"))
}

fn own_account(v: &super::http::Verified, id: &str) -> Result<i64, Problem> {
    let account = v.account()?;
    if id.parse::<i64>().ok() != Some(account.id) {
        return Err(Problem::unauthorized(
            "a request may only name the account that signs it",
        ));
    }
    Ok(account.id)
}

/// POST /acme/account/{id}: POST-as-GET, contact update, deactivation.
pub async fn account(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let path = format!("/acme/account/{id}");
        let v = verify(&acme, &path, &headers, &body, KeyRule::Kid).await?;
        let account_id = own_account(&v, &id)?;
        let url = acme.url(&path);
        if !v.jws.is_post_as_get() {
            let update: AccountUpdate = v.jws.payload_as()?;
            if let Some(contact) = &update.contact {
                check_contacts(contact)?;
                acme.app
                    .store
                    .set_acme_account_contact(account_id, contact)
                    .await?;
            }
            match update.status.as_deref() {
                None => {}
                Some(s) if s == AccountStatus::Deactivated.as_str() => {
                    acme.app.store.deactivate_acme_account(account_id).await?;
                    audit(
                        &acme,
                        format!("acme:{account_id}"),
                        "acme.account.deactivate",
                        format!("acme-account:{account_id}"),
                        String::new(),
                    )
                    .await;
                }
                Some(other) => {
                    return Err(Problem::malformed(format!(
                        "an account's status can only be set to deactivated, not {other:?}"
                    ))
                    .into())
                }
            }
        }
        let a = acme.app.store.acme_account(account_id).await?;
        Ok(Reply::json(StatusCode::OK, &views::account(&acme, &a)).location(url))
    }
    .await;
    finish(&acme, outcome).await
}

/// Orders per page of an account's orders list.
const ORDERS_PAGE: i64 = 100;

/// The `after` cursor of an orders-list page: absent, or `after=ID` and nothing else.
fn orders_cursor(query: Option<&str>) -> Result<i64, Problem> {
    let Some(q) = query else { return Ok(0) };
    q.strip_prefix("after=")
        .and_then(|digits| {
            // Canonical digits only: no sign, no leading zeros.
            let n = digits.parse::<i64>().ok()?;
            (n > 0 && n.to_string() == digits).then_some(n)
        })
        .ok_or_else(|| {
            Problem::malformed("the orders list takes only ?after=ID (from its Link rel=\"next\")")
        })
}

/// POST /acme/account/{id}/orders[?after=ID]: the account's orders, oldest first, 100 per
/// page, with `Link: rel="next"` while more follow (RFC 8555 §7.1.2.1).
pub async fn orders(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let base = format!("/acme/account/{id}/orders");
        let path = match &query {
            Some(q) => format!("{base}?{q}"),
            None => base.clone(),
        };
        let v = verify(&acme, &path, &headers, &body, KeyRule::Kid).await?;
        let account_id = own_account(&v, &id)?;
        let after = orders_cursor(query.as_deref())?;
        let ids = acme
            .app
            .store
            .acme_order_ids(Some(account_id), after, ORDERS_PAGE)
            .await?;
        let urls: Vec<String> = ids
            .iter()
            .map(|o| acme.url(&format!("/acme/order/{o}")))
            .collect();
        let mut reply = Reply::json(StatusCode::OK, &json!({ "orders": urls }));
        if let (true, Some(last)) = (ids.len() as i64 == ORDERS_PAGE, ids.last()) {
            reply = reply.link(&acme.url(&format!("{base}?after={last}")), "next");
        }
        Ok(reply)
    }
    .await;
    finish(&acme, outcome).await
}

/// POST /acme/key-change (RFC 8555 §7.3.5).
pub async fn key_change(State(acme): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let outcome = async {
        let path = "/acme/key-change";
        let v = verify(&acme, path, &headers, &body, KeyRule::Kid).await?;
        let account = v.account()?.clone();
        let inner = Jws::parse(&v.jws.payload)
            .map_err(|p| Problem::malformed(format!("inner JWS: {}", p.detail)))?;
        let new_key = inner
            .header
            .jwk
            .clone()
            .ok_or_else(|| Problem::malformed("the inner JWS must carry the new key as jwk"))?;
        if inner.header.nonce.is_some() {
            return Err(Problem::malformed("the inner JWS must not carry a nonce").into());
        }
        if inner.header.url != v.jws.header.url {
            return Err(Problem::malformed("the inner JWS url must equal the outer one").into());
        }
        inner
            .verify(&new_key)
            .map_err(|_| Problem::malformed("the inner JWS is not signed by the new key"))?;
        let change: KeyChange = inner.payload_as()?;
        if change.account != acme.url(&format!("/acme/account/{}", account.id)) {
            return Err(Problem::malformed(
                "the inner payload's account is not the signing account",
            )
            .into());
        }
        if Jwk::from_value(&change.old_key)? != v.key {
            return Err(Problem::malformed("oldKey is not the account's current key").into());
        }
        let new_thumbprint = new_key.thumbprint();
        if let Some(other) = acme
            .app
            .store
            .acme_account_by_thumbprint(&new_thumbprint)
            .await?
        {
            let url = acme.url(&format!("/acme/account/{}", other.id));
            // RFC 8555 §7.3.5: 409 with the Location of the account that has the key.
            let p = Problem::new(
                ProblemType::Malformed,
                "the new key already belongs to an account",
            )
            .with_status(409);
            return Ok(Reply::problem(&p).location(url));
        }
        let swapped = acme
            .app
            .store
            .roll_acme_account_key(
                account.id,
                &account.thumbprint,
                &new_thumbprint,
                &new_key.canonical_json(),
            )
            .await;
        match swapped {
            Ok(true) => {}
            Ok(false) => {
                return Err(
                    Problem::malformed("the account key changed concurrently; retry")
                        .with_status(409)
                        .into(),
                )
            }
            Err(StoreError::Conflict(_)) => {
                return Err(
                    Problem::malformed("the new key already belongs to an account")
                        .with_status(409)
                        .into(),
                )
            }
            Err(e) => return Err(e.into()),
        }
        audit(
            &acme,
            format!("acme:{}", account.id),
            "acme.account.key-change",
            format!("acme-account:{}", account.id),
            format!("new-thumbprint={new_thumbprint}"),
        )
        .await;
        let a = acme.app.store.acme_account(account.id).await?;
        Ok(Reply::json(StatusCode::OK, &views::account(&acme, &a)))
    }
    .await;
    finish(&acme, outcome).await
}

#[cfg(test)]
mod tests {
    use super::orders_cursor;

    #[test]
    fn orders_cursor_is_strict() {
        assert_eq!(orders_cursor(None).unwrap(), 0);
        assert_eq!(orders_cursor(Some("after=42")).unwrap(), 42);
        for bad in [
            "after=",
            "after=0",
            "after=-1",
            "after=+4",
            "after=042",
            "after=4&x=1",
            "page=2",
            "",
        ] {
            assert!(orders_cursor(Some(bad)).is_err(), "{bad}");
        }
    }
}
