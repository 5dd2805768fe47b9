//! Client certificates that log a user in: an admin binds an inventory certificate to a
//! user, or a user enrols a new one for themselves. This is the only way a certificate
//! becomes a login; the inventory's `owner` grants nothing (docs/security.md, "enroller
//! becomes admin").
//!
//! In: a user name and a certificate id (admin), or a CSR (the caller, for themselves).
//! Out: the bindings of a user; every change is audited.

use crate::api::certificates::{execute_issue, validate, Issuance, IssueBody};
use crate::api::users::check_username;
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strongroom_store::{CertificateSource, LoginCertificate, StoreError};
use strongroom_types::{ExtendedKeyUsage, ProfileName};

/// The profile self-enrolment issues under unless the body names another client profile.
pub const DEFAULT_LOGIN_PROFILE: &str = "tls-client";

fn view(b: &LoginCertificate) -> Value {
    json!({
        "certificate_id": b.certificate_id,
        "fingerprint": b.fingerprint,
        "user_id": b.user_id,
        "bound_by": b.bound_by,
        "created_at": b.created_at,
    })
}

/// A user's login certificates.
pub async fn list(
    State(app): State<App>,
    Segments(name): Segments<String>,
) -> ApiResult<Json<Value>> {
    check_username(&name)?;
    let user = app.store.user_by_name(&name).await?;
    let items = app.store.login_certificates(user.id).await?;
    Ok(Json(
        json!({"items": items.iter().map(view).collect::<Vec<_>>()}),
    ))
}

/// Body of `POST /users/{name}/login-certificates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    certificate_id: i64,
}

/// Binds an inventory certificate to a user (an admin's decision, audited).
pub async fn bind(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(name): Segments<String>,
    Body(body): Body<BindBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_username(&name)?;
    let user = app.store.user_by_name(&name).await?;
    if user.break_glass {
        return Err(Problem::bad_request(
            "the break-glass account logs in with its sealed password only",
        ));
    }
    let record = match app.store.certificate(body.certificate_id).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => {
            return Err(Problem::bad_request(format!(
                "certificate {} is not in the inventory",
                body.certificate_id
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if record.revoked || record.certificate.not_after <= app.now() {
        return Err(Problem::conflict(format!(
            "certificate {} is revoked or expired",
            record.id
        )));
    }
    // Security: only certificates control itself recorded (source api), whose stored
    // fingerprint is that of their own bytes; a row the front wrote is never a login.
    if record.certificate.source != CertificateSource::Api
        || strongroom_x509::fingerprint(&record.certificate.der) != record.certificate.fingerprint
    {
        return Err(Problem::conflict(format!(
            "certificate {} was not issued through this API; issue a client certificate with POST /api/v1/certificates (or the user enrols one) and bind that",
            record.id
        )));
    }
    let binding = app
        .store
        .bind_login_certificate(record.id, user.id, &who.actor(), app.now())
        .await?;
    // Whoever binds a certificate to another user can act as that user (they may hold its
    // key), so they become that user's sponsor for dual control.
    if user.id != who.user_id {
        app.store
            .add_user_sponsor(user.id, &who.username, app.now())
            .await?;
    }
    app.audit_ok(
        &who,
        "user.login-certificate.bind",
        &format!("user:{name}"),
        format!(
            "certificate {} fingerprint {}",
            record.id, binding.fingerprint
        ),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view(&binding))))
}

/// Ends a binding (the certificate stays valid for whatever else it does).
pub async fn unbind(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments((name, id)): Segments<(String, i64)>,
) -> ApiResult<StatusCode> {
    check_username(&name)?;
    let user = app.store.user_by_name(&name).await?;
    app.store.unbind_login_certificate(id, user.id).await?;
    app.audit_ok(
        &who,
        "user.login-certificate.unbind",
        &format!("user:{name}"),
        format!("certificate {id}"),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /auth/login-certificates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolBody {
    csr: String,
    /// A profile whose certificates are for TLS clients; [`DEFAULT_LOGIN_PROFILE`] if absent.
    #[serde(default)]
    profile: Option<String>,
    /// subjectAltNames; empty means the CSR's.
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    validity_secs: Option<u64>,
}

/// Issues a client certificate to the caller and binds it to the caller — never to anyone
/// else. The caller must hold every role of their account in this request (a reduced API
/// key cannot mint a certificate that logs in with the account's full roles) and may enrol
/// under the profile as for any issuance (`certificate:issue` and the profile's enrollers):
/// a client certificate names whatever the caller asks, so it is an issuance like any other.
pub async fn enrol(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(body): Body<EnrolBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let user = app.store.user(who.user_id).await?;
    if user.break_glass {
        return Err(Problem::forbidden(
            "the break-glass account logs in with its sealed password only",
        ));
    }
    if user.roles.iter().any(|r| !who.roles.contains(r)) {
        return Err(Problem::forbidden(
            "this API key carries fewer roles than its account: enrol a login certificate from a full login (strongroom login)",
        ));
    }
    let profile_name = body.profile.as_deref().unwrap_or(DEFAULT_LOGIN_PROFILE);
    let name: ProfileName = profile_name
        .parse()
        .map_err(|e| Problem::bad_request(format!("profile: {e}")))?;
    let profile = app.store.profile(&name).await?;
    if !profile
        .profile
        .extended_key_usage
        .contains(&ExtendedKeyUsage::ClientAuth)
    {
        return Err(Problem::bad_request(format!(
            "profile {name} does not issue TLS client certificates (no client-auth)"
        )));
    }
    let issuance = Issuance {
        body: IssueBody {
            profile: name.to_string(),
            csr: body.csr,
            names: body.names,
            validity_secs: body.validity_secs,
            owner: Some(user.username.clone()),
            team: None,
            tags: vec!["login".into()],
        },
        replaces: None,
    };
    let (approvals, _) = validate(&app, &who, &issuance).await?;
    if approvals > 0 {
        return Err(Problem::conflict(format!(
            "profile {name} needs approval: request the certificate with POST /api/v1/certificates, then ask an admin to bind it"
        )));
    }
    let mut issued = execute_issue(&app, &who.actor(), &user.username, &issuance).await?;
    let id = issued["id"]
        .as_i64()
        .ok_or_else(|| Problem::internal("the issued certificate has no inventory id"))?;
    let binding = app
        .store
        .bind_login_certificate(id, user.id, &who.actor(), app.now())
        .await?;
    app.audit_ok(
        &who,
        "user.login-certificate.enrol",
        &format!("user:{}", user.username),
        format!("certificate {id} fingerprint {}", binding.fingerprint),
    )
    .await?;
    issued["login_binding"] = view(&binding);
    Ok((StatusCode::CREATED, Json(issued)))
}
