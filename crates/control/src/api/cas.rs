//! CAs: list, tree, one, chain, retire (two-person approval in production mode).
//!
//! The store's CA table mirrors the signer's CAs (synchronised at start-up); the signer
//! remains the authority on what it signs with.

use crate::api::approvals::{file_request, Filed};
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use strongroom_store::{AuditOutcome, CaRecord, CaState, StoreError};
use strongroom_types::{CaId, KeyAlgorithm};
use strongroom_wire::CaCreation;

/// The JSON view of a CA.
pub fn view(ca: &CaRecord) -> Value {
    json!({
        "id": ca.id.as_str(),
        "parent": ca.parent.as_ref().map(|p| p.as_str()),
        "subject": ca.subject,
        "state": ca.state.as_str(),
        "not_before": ca.not_before,
        "not_after": ca.not_after,
        "fingerprint": strongroom_x509::fingerprint(&ca.cert_der),
    })
}

fn parse_id(s: &str) -> Result<CaId, Problem> {
    s.parse()
        .map_err(|e| Problem::bad_request(format!("CA id {s:?}: {e}")))
}

/// Every CA.
pub async fn list(State(app): State<App>) -> ApiResult<Json<Value>> {
    let cas = app.store.cas().await?;
    Ok(Json(
        json!({"items": cas.iter().map(view).collect::<Vec<_>>()}),
    ))
}

/// The hierarchy: roots with their children, recursively, each with its newest full CRL
/// (number, thisUpdate, nextUpdate; `null` before the first, and for a sharded CA) and its
/// OCSP responder certificate's notAfter (`null` before the first OCSP response).
pub async fn tree(State(app): State<App>) -> ApiResult<Json<Value>> {
    let cas = app.store.cas().await?;
    let mut crls = HashMap::new();
    for ca in &cas {
        if let Some(crl) = app.store.latest_crl(&ca.id, "full").await? {
            crls.insert(
                ca.id.as_str().to_string(),
                json!({"number": crl.number, "this_update": crl.this_update, "next_update": crl.next_update}),
            );
        }
    }
    // The OCSP responder certificates are the signer's; an unreachable signer leaves them
    // out rather than the tree.
    let responders: HashMap<String, Option<i64>> = match app.signer.health().await {
        Ok(h) => h
            .cas
            .into_iter()
            .map(|c| (c.id.as_str().to_string(), c.ocsp_responder_not_after))
            .collect(),
        Err(_) => HashMap::new(),
    };
    fn node(
        ca: &CaRecord,
        all: &[CaRecord],
        crls: &HashMap<String, Value>,
        responders: &HashMap<String, Option<i64>>,
        depth: usize,
    ) -> Value {
        let mut v = view(ca);
        v["crl"] = crls.get(ca.id.as_str()).cloned().unwrap_or(Value::Null);
        v["ocsp_responder_not_after"] = json!(responders.get(ca.id.as_str()).copied().flatten());
        let children: Vec<Value> = if depth > 16 {
            Vec::new()
        } else {
            all.iter()
                .filter(|c| c.parent.as_ref() == Some(&ca.id))
                .map(|c| node(c, all, crls, responders, depth + 1))
                .collect()
        };
        v["children"] = Value::Array(children);
        v
    }
    let roots: Vec<Value> = cas
        .iter()
        .filter(|c| c.parent.is_none())
        .map(|c| node(c, &cas, &crls, &responders, 0))
        .collect();
    Ok(Json(json!({"roots": roots})))
}

/// One CA.
pub async fn get_one(
    State(app): State<App>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Value>> {
    let ca = app.store.ca(&parse_id(&id)?).await?;
    Ok(Json(view(&ca)))
}

/// The chain (PEM, the CA first), as the signer holds it.
pub async fn chain(
    State(app): State<App>,
    Segments(id): Segments<String>,
) -> ApiResult<impl IntoResponse> {
    let ca = parse_id(&id)?;
    app.store.ca(&ca).await?;
    let pem: String = app
        .signer
        .ca_chain(ca)
        .await?
        .iter()
        .map(|d| strongroom_x509::to_pem("CERTIFICATE", d))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
        pem,
    ))
}

/// Body of `POST /cas`: an intermediate ceremony (docs/ceremony.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCa {
    id: CaId,
    parent: CaId,
    subject: String,
    algorithm: KeyAlgorithm,
    validity_days: u32,
    #[serde(default)]
    path_length: Option<u8>,
    #[serde(default)]
    permitted: Vec<String>,
    #[serde(default)]
    excluded: Vec<String>,
    #[serde(default)]
    crl_url: Option<String>,
    #[serde(default)]
    ocsp_url: Option<String>,
    #[serde(default)]
    ca_issuers_url: Option<String>,
    #[serde(default)]
    crl_shards: u32,
    #[serde(default)]
    delta_crl: bool,
}

/// Creates an intermediate CA through the signer (its key made in the HSM); in production
/// mode this files an approval request instead (202).
pub async fn create(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(req): Body<CreateCa>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if req.subject.is_empty() || req.subject.len() > 512 {
        return Err(Problem::bad_request(
            "subject must be an RFC 4514 name of 1 to 512 characters",
        ));
    }
    if req.validity_days == 0 || req.validity_days > 36_500 {
        return Err(Problem::bad_request(
            "validity_days must be between 1 and 36500",
        ));
    }
    if req.permitted.len() + req.excluded.len() > 100 {
        return Err(Problem::bad_request("at most 100 name constraints"));
    }
    match app.store.ca(&req.id).await {
        Ok(_) => return Err(Problem::conflict(format!("CA {} already exists", req.id))),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let parent = match app.store.ca(&req.parent).await {
        Ok(p) => p,
        Err(StoreError::NotFound(_)) => {
            return Err(Problem::bad_request(format!(
                "parent CA {} does not exist",
                req.parent
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if parent.state != CaState::Active {
        return Err(Problem::conflict(format!(
            "parent CA {} is {}",
            parent.id,
            parent.state.as_str()
        )));
    }
    if app.config.production {
        let payload = serde_json::to_value(&req).map_err(Problem::internal)?;
        let Filed { id } = file_request(
            &app,
            &who,
            "ca.create",
            &payload,
            app.config.approvals.ca_approvers,
        )
        .await?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"approval": id, "state": "pending"})),
        ));
    }
    let v = execute_create(
        &app,
        &who.actor(),
        &serde_json::to_value(&req).map_err(Problem::internal)?,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Runs the ceremony in the signer and mirrors the new CA into the store.
pub async fn execute_create(app: &App, actor: &str, payload: &Value) -> ApiResult<Value> {
    let req: CreateCa =
        serde_json::from_value(payload.clone()).map_err(|e| Problem::bad_request(e.to_string()))?;
    let creation = CaCreation {
        id: req.id.clone(),
        parent: req.parent.clone(),
        subject: req.subject.clone(),
        algorithm: req.algorithm,
        validity_days: req.validity_days,
        path_length: req.path_length,
        permitted: req.permitted.clone(),
        excluded: req.excluded.clone(),
        crl_url: req.crl_url.clone(),
        ocsp_url: req.ocsp_url.clone(),
        ca_issuers_url: req.ca_issuers_url.clone(),
        crl_shards: req.crl_shards,
        delta_crl: req.delta_crl,
    };
    let target = format!("ca:{}", req.id);
    if let Err(e) = app.signer.create_ca(creation).await {
        let p = Problem::from(e);
        app.audit(actor, "ca.create", &target, AuditOutcome::Denied, &p.detail)
            .await?;
        return Err(p);
    }
    crate::bootstrap::sync_cas(&app.store, &app.signer, app.now())
        .await
        .map_err(Problem::internal)?;
    // Relying parties can fetch its (empty) CRLs at once.
    if let Err(p) = crate::revocation::publish_ca(app, &req.id, app.now(), true).await {
        tracing::warn!(detail = %p.detail, "could not publish the new CA's CRLs; the refresh pass will");
    }
    app.audit(
        actor,
        "ca.create",
        &target,
        AuditOutcome::Ok,
        format!("parent {}; key generated in the HSM", req.parent),
    )
    .await?;
    Ok(view(&app.store.ca(&req.id).await?))
}

/// Retires a CA: it issues nothing more through control. In production mode this files an
/// approval request instead (202).
pub async fn retire(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = parse_id(&id)?;
    let ca = app.store.ca(&id).await?;
    if ca.state == CaState::Retired {
        return Err(Problem::conflict(format!("CA {id} is already retired")));
    }
    if app.config.production {
        let payload = json!({"ca": id.as_str()});
        let Filed { id: request } = file_request(
            &app,
            &who,
            "ca.retire",
            &payload,
            app.config.approvals.ca_approvers,
        )
        .await?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"approval": request, "state": "pending"})),
        ));
    }
    let v = execute_retire(&app, &who.actor(), &id).await?;
    Ok((StatusCode::OK, Json(v)))
}

/// Carries out a retirement (directly, or when its approval completes).
pub async fn execute_retire(app: &App, actor: &str, id: &CaId) -> ApiResult<Value> {
    let profiles = app.store.profiles().await?;
    if let Some(p) = profiles.iter().find(|p| &p.profile.issuer == id) {
        return Err(Problem::conflict(format!(
            "profile {} still issues from CA {id}: move or delete it first",
            p.profile.name
        )));
    }
    app.store.set_ca_state(id, CaState::Retired).await?;
    app.audit(
        actor,
        "ca.retire",
        &format!("ca:{id}"),
        strongroom_store::AuditOutcome::Ok,
        "",
    )
    .await?;
    Ok(view(&app.store.ca(id).await?))
}
