//! Orders, authorizations and challenges (RFC 8555 §7.4–7.5): newOrder with identifier
//! policy, ARI `replaces` and rate limits; challenge responses that start validation; the
//! state changes that follow (challenge → authorization → order).
//!
//! In: verified requests. Out: resources; rows in the store; validation tasks.

use super::account::{audit, offered_profile};
use super::http::{
    client_ip, finish, rate_limited, store_problem, verify, Answer, KeyRule, Refusal, Reply,
};
use super::{views, Acme, Shared};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use strongroom_acme::challenge::{key_authorization, new_token, AriCertId};
use strongroom_acme::identifier::AcmeName;
use strongroom_acme::payload::{AuthorizationUpdate, NewOrder};
use strongroom_acme::problem::Subproblem;
use strongroom_acme::{Problem, ProblemType};
use strongroom_store::{
    AcmeAccount, AcmeAuthorization, AcmeChallenge, AcmeOrder, AuthorizationStatus, ChallengeStatus,
    NewAcmeAuthorization, NewAcmeOrder, OrderLimits, OrderStatus,
};

/// How long a challenge response waits for its validation before answering `processing`.
const VALIDATION_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);

/// Most identifiers in one order.
const MAX_IDENTIFIERS: usize = 100;

fn parse_id(s: &str) -> Result<i64, Problem> {
    s.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| Problem::malformed("no such resource").with_status(404))
}

/// An order of the signing account (others' orders are 404, not 403: no probing).
pub async fn owned_order(acme: &Acme, id: &str, account: i64) -> Result<AcmeOrder, Problem> {
    let id = parse_id(id)?;
    let o = acme.app.store.acme_order(id).await.map_err(store_problem)?;
    if o.account_id != account {
        return Err(Problem::malformed("no such resource").with_status(404));
    }
    Ok(o)
}

/// An order's authorizations.
pub async fn authorizations_of(
    acme: &Acme,
    o: &AcmeOrder,
) -> Result<Vec<AcmeAuthorization>, Problem> {
    let mut out = Vec::with_capacity(o.authorizations.len());
    for id in &o.authorizations {
        out.push(
            acme.app
                .store
                .acme_authorization(*id)
                .await
                .map_err(store_problem)?,
        );
    }
    Ok(out)
}

/// The order as JSON.
pub async fn order_view(acme: &Acme, o: &AcmeOrder) -> Result<serde_json::Value, Problem> {
    let authzs = authorizations_of(acme, o).await?;
    order_view_with(acme, o, &authzs).await
}

/// The order as JSON, with its authorizations already loaded.
pub async fn order_view_with(
    acme: &Acme,
    o: &AcmeOrder,
    authzs: &[AcmeAuthorization],
) -> Result<serde_json::Value, Problem> {
    let mut v = views::order(acme, o, authzs);
    if let Some(id) = o.replaces_id {
        // RFC 9773 §5: an accepted `replaces` is reflected in the order (instant-acme
        // checks it), rebuilt from the replaced certificate's issuer and serial.
        let replaced = acme.app.store.certificate(id).await.map_err(|e| {
            tracing::error!(error = %e, "cannot read the certificate an order replaces");
            Problem::internal("the certificate this order replaces cannot be read")
        })?;
        let cas = acme.app.cas().await;
        if let Some(ca) = cas.iter().find(|c| c.id == replaced.certificate.issuer) {
            v["replaces"] = AriCertId::of(&ca.cert.key_id, &replaced.certificate.serial)
                .encode()
                .into();
        }
    }
    Ok(v)
}

/// Resolves an ARI certID to a certificate this account obtained.
async fn replaced_certificate(acme: &Acme, cert_id: &str, account: i64) -> Result<i64, Refusal> {
    let id = AriCertId::parse(cert_id)?;
    let serial = id
        .serial()
        .ok_or_else(|| Problem::malformed("the certID's serial is not a valid serial number"))?;
    let cas = acme.app.cas().await;
    let ca = cas
        .iter()
        .find(|c| c.cert.key_id == id.key_identifier)
        .ok_or_else(|| {
            Problem::malformed("replaces: no CA of this server has that key identifier")
        })?;
    let cert = match acme.app.store.certificate_by_serial(&ca.id, &serial).await {
        Ok(c) => c,
        Err(strongroom_store::StoreError::NotFound(_)) => {
            return Err(Problem::malformed("replaces: no certificate with that serial").into())
        }
        Err(e) => return Err(e.into()),
    };
    let order = acme.app.store.acme_order_by_certificate(cert.id).await?;
    if order.map(|o| o.account_id) != Some(account) {
        return Err(Problem::unauthorized(
            "replaces names a certificate this account did not obtain",
        )
        .into());
    }
    if acme.app.store.acme_certificate_replaced(cert.id).await? {
        return Err(Problem::new(
            ProblemType::AlreadyReplaced,
            "that certificate was already replaced by another order",
        )
        .into());
    }
    Ok(cert.id)
}

/// POST /acme/{profile}/new-order.
pub async fn new_order(
    State(acme): State<Shared>,
    Path(profile): Path<String>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = new_order_inner(&acme, &profile, peer.map(|c| c.0 .0), &headers, &body).await;
    finish(&acme, outcome).await
}

async fn new_order_inner(
    acme: &Acme,
    url_profile: &str,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    offered_profile(acme, url_profile)?;
    let v = verify(
        acme,
        &format!("/acme/{url_profile}/new-order"),
        headers,
        body,
        KeyRule::Kid,
    )
    .await?;
    let account = v.account()?.clone();
    let req: NewOrder = v.jws.payload_as()?;
    let profile = req
        .profile
        .clone()
        .unwrap_or_else(|| url_profile.to_string());
    let Some(acme_profile) = acme.cfg.profile(&profile) else {
        return Err(Problem::new(
            ProblemType::InvalidProfile,
            format!(
                "profile {:?} is not offered; see the directory's meta.profiles",
                profile.chars().take(64).collect::<String>()
            ),
        )
        .into());
    };
    if acme_profile.external_account_required {
        let bound = match &account.eab_kid {
            Some(kid) => acme
                .app
                .store
                .eab_key(kid)
                .await?
                .is_some_and(|k| k.profile == profile),
            None => false,
        };
        if !bound {
            return Err(Problem::new(ProblemType::ExternalAccountRequired, format!("profile {profile} needs an account created with an external account binding key for it")).into());
        }
    }
    if req.not_before.is_some() || req.not_after.is_some() {
        return Err(Problem::malformed(
            "notBefore and notAfter are not supported: the profile sets the validity",
        )
        .into());
    }
    if req.identifiers.is_empty() || req.identifiers.len() > MAX_IDENTIFIERS {
        return Err(Problem::malformed(format!(
            "an order needs 1 to {MAX_IDENTIFIERS} identifiers"
        ))
        .into());
    }
    let stored_profile = acme
        .app
        .store
        .profiles()
        .await?
        .into_iter()
        .find(|p| p.profile.name.as_str() == profile)
        .ok_or_else(|| {
            Problem::new(
                ProblemType::InvalidProfile,
                format!("profile {profile} does not exist on this CA"),
            )
        })?;
    let mut names = BTreeSet::new();
    let mut subproblems = Vec::new();
    for id in &req.identifiers {
        let name = AcmeName::parse(id)?;
        let requested = name.requested_name()?;
        if !stored_profile.profile.allows_name(&requested) {
            subproblems.push(Subproblem {
                kind: "urn:ietf:params:acme:error:rejectedIdentifier".into(),
                detail: format!("profile {profile} does not issue for {requested}"),
                identifier: name.to_identifier(),
            });
        }
        if !names.insert(name) {
            return Err(
                Problem::malformed(format!("identifier {} appears twice", id.value)).into(),
            );
        }
    }
    if names.len() > stored_profile.profile.max_names {
        return Err(Problem::new(
            ProblemType::RejectedIdentifier,
            format!(
                "profile {profile} allows at most {} names",
                stored_profile.profile.max_names
            ),
        )
        .into());
    }
    if !subproblems.is_empty() {
        let mut p = Problem::new(
            ProblemType::RejectedIdentifier,
            "the profile refuses some identifiers",
        );
        p.subproblems = subproblems;
        return Err(p.into());
    }
    let replaces_id = match &req.replaces {
        Some(c) => Some(replaced_certificate(acme, c, account.id).await?),
        None => None,
    };
    let now = acme.app.now();
    let ip = client_ip(peer);
    let expires_at = now + acme.cfg.order_lifetime_secs;
    let token =
        || new_token().ok_or_else(|| Problem::internal("no randomness for challenge tokens"));
    let authorizations = names
        .iter()
        .map(|n| {
            let id = n.authorization_identifier();
            let challenges = n
                .challenge_types()
                .iter()
                .map(|t| Ok((t.to_string(), token()?)))
                .collect::<Result<Vec<_>, Problem>>()?;
            Ok(NewAcmeAuthorization {
                identifier_type: id.kind,
                identifier_value: id.value,
                wildcard: matches!(n, AcmeName::Dns { wildcard: true, .. }),
                expires_at,
                challenges,
            })
        })
        .collect::<Result<Vec<_>, Problem>>()?;
    // Rate limits are counted in the transaction that creates the order (exact under
    // concurrency, see strongroom_store::acme_limits).
    let limits = &acme.cfg.limits;
    let within = OrderLimits {
        orders_per_account: limits.orders_per_account,
        requests_per_ip: limits.requests_per_ip,
        authorizations_per_identifier: limits.authorizations_per_identifier,
        since: now - 3600,
    };
    let created = acme
        .app
        .store
        .create_acme_order_within(
            &NewAcmeOrder {
                account_id: account.id,
                profile: profile.clone(),
                expires_at,
                not_before: None,
                not_after: None,
                replaces_id,
                client_ip: ip.clone(),
                authorizations,
            },
            &within,
            now,
        )
        .await?;
    let order = created.map_err(|hit| rate_limited(hit, &ip))?;
    let url = acme.url(&format!("/acme/order/{}", order.id));
    Ok(Reply::json(StatusCode::CREATED, &order_view(acme, &order).await?).location(url))
}

/// POST /acme/order/{id} (POST-as-GET).
pub async fn order(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let v = verify(
            &acme,
            &format!("/acme/order/{id}"),
            &headers,
            &body,
            KeyRule::Kid,
        )
        .await?;
        if !v.jws.is_post_as_get() {
            return Err(
                Problem::malformed("fetch an order with POST-as-GET (empty payload)").into(),
            );
        }
        let o = owned_order(&acme, &id, v.account()?.id).await?;
        let mut reply = Reply::json(StatusCode::OK, &order_view(&acme, &o).await?);
        if o.status == OrderStatus::Processing {
            reply = reply.retry_after(1);
        }
        Ok(reply)
    }
    .await;
    finish(&acme, outcome).await
}

async fn owned_authorization(
    acme: &Acme,
    id: &str,
    account: i64,
) -> Result<AcmeAuthorization, Problem> {
    let id = parse_id(id)?;
    let z = acme
        .app
        .store
        .acme_authorization(id)
        .await
        .map_err(store_problem)?;
    if z.account_id != account {
        return Err(Problem::malformed("no such resource").with_status(404));
    }
    Ok(z)
}

/// POST /acme/authz/{id}: POST-as-GET or deactivation.
pub async fn authorization(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = async {
        let v = verify(
            &acme,
            &format!("/acme/authz/{id}"),
            &headers,
            &body,
            KeyRule::Kid,
        )
        .await?;
        let account = v.account()?.id;
        let mut z = owned_authorization(&acme, &id, account).await?;
        if !v.jws.is_post_as_get() {
            let update: AuthorizationUpdate = v.jws.payload_as()?;
            if update.status != AuthorizationStatus::Deactivated.as_str() {
                return Err(Problem::malformed(
                    "an authorization's status can only be set to deactivated",
                )
                .into());
            }
            if !acme
                .app
                .store
                .set_acme_authorization_status(
                    z.id,
                    &[AuthorizationStatus::Pending, AuthorizationStatus::Valid],
                    AuthorizationStatus::Deactivated,
                )
                .await?
            {
                return Err(Problem::malformed(format!(
                    "the authorization is {}; only pending or valid ones can be deactivated",
                    z.status
                ))
                .into());
            }
            // RFC 8555 §7.1.6: an order with a deactivated authorization cannot complete.
            let why = Problem::unauthorized("an authorization of this order was deactivated");
            acme.app
                .store
                .set_acme_order_status(
                    z.order_id,
                    &[OrderStatus::Pending, OrderStatus::Ready],
                    OrderStatus::Invalid,
                    Some(&why.to_json()),
                )
                .await?;
            z = acme.app.store.acme_authorization(z.id).await?;
        }
        let mut reply = Reply::json(StatusCode::OK, &views::authorization(&acme, &z));
        if z.challenges
            .iter()
            .any(|c| c.status == ChallengeStatus::Processing)
        {
            reply = reply.retry_after(1);
        }
        Ok(reply)
    }
    .await;
    finish(&acme, outcome).await
}

/// POST /acme/challenge/{id}: `{}` starts validation; POST-as-GET reads.
pub async fn challenge(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = challenge_inner(&acme, &id, &headers, &body).await;
    finish(&acme, outcome).await
}

async fn challenge_inner(acme: &Shared, id: &str, headers: &HeaderMap, body: &Bytes) -> Answer {
    let v = verify(
        acme,
        &format!("/acme/challenge/{id}"),
        headers,
        body,
        KeyRule::Kid,
    )
    .await?;
    let account = v.account()?.clone();
    let cid = parse_id(id)?;
    let c = acme.app.store.acme_challenge(cid).await?;
    let z = acme.app.store.acme_authorization(c.authz_id).await?;
    if z.account_id != account.id {
        return Err(Problem::malformed("no such resource")
            .with_status(404)
            .into());
    }
    let up = acme.url(&format!("/acme/authz/{}", z.id));
    if !v.jws.is_post_as_get() {
        let payload: serde_json::Value = v.jws.payload_as()?;
        if !payload.is_object() {
            return Err(
                Problem::malformed("answer a challenge with an empty JSON object {}").into(),
            );
        }
        if c.status == ChallengeStatus::Pending && z.status == AuthorizationStatus::Pending {
            if z.expires_at <= acme.app.now() {
                return Err(Problem::malformed("the authorization has expired").into());
            }
            if acme
                .app
                .store
                .set_acme_challenge_status(
                    c.id,
                    ChallengeStatus::Pending,
                    ChallengeStatus::Processing,
                    None,
                    None,
                )
                .await?
            {
                let validation = start_validation(acme, &c, &z, &account)?;
                // Most validations take milliseconds: wait a little so the answer is final
                // and the client need not poll (a slow target keeps running in the task).
                let _ = tokio::time::timeout(VALIDATION_WAIT, validation).await;
            }
        }
    }
    let c = acme.app.store.acme_challenge(cid).await?;
    let mut reply = Reply::json(StatusCode::OK, &views::challenge(acme, &c)).link(&up, "up");
    if c.status == ChallengeStatus::Processing {
        reply = reply.retry_after(1);
    }
    Ok(reply)
}

/// Runs the validation of challenge `c` (already moved to `processing`) in a task that
/// records its outcome.
pub fn start_validation(
    acme: &Shared,
    c: &AcmeChallenge,
    z: &AcmeAuthorization,
    account: &AcmeAccount,
) -> Result<tokio::task::JoinHandle<()>, Problem> {
    let key_auth = key_authorization(&c.token, &account.thumbprint);
    let task = acme.clone();
    let (kind, token) = (c.kind.clone(), c.token.clone());
    let name = views::name_of(z)?;
    let (cid, zid, oid, aid) = (c.id, z.id, z.order_id, account.id);
    let account_uri = acme.url(&format!("/acme/account/{aid}"));
    Ok(tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut result = task
            .validator
            .validate(&kind, &name, &token, &key_auth)
            .await;
        task.app.metrics.validations.observe(started.elapsed());
        if result.is_ok() {
            // CAA is checked once control of the name is shown, as Boulder does: the
            // authorization is then good for this order's issuance only.
            result = task.validator.caa(&name, &kind, &account_uri).await;
        }
        record_validation(&task, cid, zid, oid, aid, &kind, result).await;
    }))
}

/// Records a validation outcome and moves the authorization and the order.
async fn record_validation(
    acme: &Acme,
    challenge: i64,
    authz: i64,
    order: i64,
    account: i64,
    kind: &str,
    result: Result<(), Problem>,
) {
    let store = &acme.app.store;
    let recorded = match &result {
        Ok(()) => {
            store
                .record_acme_validation(challenge, authz, order, Ok(acme.app.now()))
                .await
        }
        Err(p) => {
            store
                .record_acme_validation(challenge, authz, order, Err(&p.to_json()))
                .await
        }
    };
    let outcome = recorded.map(|_| ());
    match &result {
        Ok(()) => tracing::info!(account, authz, kind, "ACME challenge valid"),
        Err(p) => {
            tracing::info!(account, authz, kind, problem = %p.detail, "ACME challenge invalid");
            audit(
                acme,
                format!("acme:{account}"),
                "acme.challenge.invalid",
                format!("acme-authz:{authz}"),
                format!("{kind}: {}", p.detail),
            )
            .await;
        }
    }
    if let Err(e) = outcome {
        tracing::warn!(error = %e, challenge, "cannot record a validation outcome");
    }
}
