//! Issuing from a CSR and renewing, directly or through a two-person approval.
//!
//! In: an [`IssueBody`] (profile, CSR, names, validity, owner, team, tags) or a renewal's
//! new CSR, and the caller. Out: 201 with the recorded certificate, its PEM and chain; 202
//! with the approval request filed when the profile needs approvals; problems for a caller
//! who may not enrol or name an owner. The signer checks the profile again and signs;
//! what it returns is recorded with source `api`, audited, and given a pre-signed "good"
//! OCSP response.

use super::{parse_id, san_names, view};
use crate::api::approvals::{file_request, Filed};
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Segments};
use crate::problem::{ApiResult, Problem};
use crate::rbac::{allows, issues_under_any_profile, may_enrol_under, Permission};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{AuditOutcome, CaState, CertificateSource, ProfileRecord, StoreError};
use strongroom_types::{ProfileName, RequestedName};
use strongroom_wire::{IssuanceRequest, SubjectKey};

/// Body of `POST /certificates`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueBody {
    /// Profile to issue under.
    pub profile: String,
    /// PKCS#10 CSR, PEM.
    pub csr: String,
    /// subjectAltNames (`dns:…`, `ip:…`); empty means the CSR's.
    #[serde(default)]
    pub names: Vec<String>,
    /// Requested validity; the profile's maximum when absent.
    #[serde(default)]
    pub validity_secs: Option<u64>,
    /// Owner (defaults to the caller).
    #[serde(default)]
    pub owner: Option<String>,
    /// Team.
    #[serde(default)]
    pub team: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Body of the renew route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    csr: String,
    #[serde(default)]
    validity_secs: Option<u64>,
}

/// A validated issuance, ready to run now or after approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Issuance {
    /// The request as accepted.
    pub body: IssueBody,
    /// The inventory id this replaces (renewal).
    pub replaces: Option<i64>,
}

fn csr_der(pem: &str) -> Result<Vec<u8>, Problem> {
    if pem.len() > 64 * 1024 {
        return Err(Problem::bad_request("csr is larger than 64 KiB"));
    }
    let (label, der) = der::pem::decode_vec(pem.trim().as_bytes())
        .map_err(|e| Problem::bad_request(format!("csr must be a PEM CERTIFICATE REQUEST: {e}")))?;
    if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
        return Err(Problem::bad_request(format!(
            "csr must be a PEM CERTIFICATE REQUEST, found {label}"
        )));
    }
    strongroom_x509::parse_csr(&der).map_err(|e| Problem::bad_request(format!("csr: {e}")))?;
    Ok(der)
}

/// The body's profile name, parsed.
fn profile_name(body: &IssueBody) -> Result<ProfileName, Problem> {
    body.profile
        .parse()
        .map_err(|e| Problem::bad_request(format!("profile: {e}")))
}

/// The body's names, parsed.
fn requested_names(body: &IssueBody) -> Result<Vec<RequestedName>, Problem> {
    body.names
        .iter()
        .map(|n| {
            n.parse::<RequestedName>()
                .map_err(|e| Problem::bad_request(format!("name {n:?}: {e}")))
        })
        .collect()
}

fn check_label(field: &str, v: &str) -> Result<(), Problem> {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:=@/-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "{field} {v:?} must be 1 to 128 characters of letters, digits and ._:=@/-"
        )))
    }
}

/// The profile `name`, when it exists (400 otherwise) and the caller may enrol under it
/// (403 otherwise: [`may_enrol_under`]). Issuance and SCEP challenges both ask this.
pub async fn enrolment_profile(
    app: &App,
    who: &Principal,
    name: &ProfileName,
) -> Result<ProfileRecord, Problem> {
    let profile = match app.store.profile(name).await {
        Ok(p) => p,
        Err(StoreError::NotFound(_)) => {
            return Err(Problem::bad_request(format!(
                "profile {name} does not exist (GET /api/v1/profiles)"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if !may_enrol_under(&who.roles, &who.username, &profile.enrollers) {
        return Err(Problem::forbidden(format!(
            "{} may not enrol under profile {name}: it is not among the profile's enrollers",
            who.username
        )));
    }
    Ok(profile)
}

/// Checks an issuance before anything is filed or signed: the caller may enrol under the
/// profile, may name the owner (only `user:manage` names someone else), and every field is
/// well formed. Returns the approvals the profile needs and the parsed names.
pub async fn validate(
    app: &App,
    who: &Principal,
    issuance: &Issuance,
) -> Result<(i64, Vec<RequestedName>), Problem> {
    let body = &issuance.body;
    let name = profile_name(body)?;
    let profile = enrolment_profile(app, who, &name).await?;
    let ca = app.store.ca(&profile.profile.issuer).await?;
    if ca.state != CaState::Active {
        return Err(Problem::conflict(format!(
            "profile {name} issues from CA {}, which is {}",
            ca.id,
            ca.state.as_str()
        )));
    }
    csr_der(&body.csr)?;
    if body.names.len() > 100 {
        return Err(Problem::bad_request("at most 100 names"));
    }
    let names = requested_names(body)?;
    if let Some(o) = &body.owner {
        check_label("owner", o)?;
        // Security: the owner is who answers for the certificate; naming someone else is
        // user administration, not enrolment (an enroller once named `admin` here). A
        // renewal keeps the owner it had; `renew` checks who may renew another's.
        if issuance.replaces.is_none()
            && o != &who.username
            && !allows(&who.roles, Permission::UserManage)
        {
            return Err(Problem::forbidden(format!(
                "{} may not name {o} as owner: naming another owner needs user:manage",
                who.username
            )));
        }
    }
    if let Some(t) = &body.team {
        check_label("team", t)?;
    }
    if body.tags.len() > 20 {
        return Err(Problem::bad_request("at most 20 tags"));
    }
    for t in &body.tags {
        check_label("tag", t)?;
    }
    if body.validity_secs == Some(0) {
        return Err(Problem::bad_request("validity_secs must be positive"));
    }
    Ok((profile.approvals_required, names))
}

/// Issues from a CSR, or files an approval request when the profile needs one (202).
pub async fn issue(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(body): Body<IssueBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    start(
        &app,
        &who,
        Issuance {
            body,
            replaces: None,
        },
    )
    .await
}

/// Renews: same profile, names, owner, team and tags; a new CSR; `replaces` set.
pub async fn renew(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    Body(req): Body<RenewBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let old = app.store.certificate(parse_id(&id)?).await?;
    // Security: renewing someone else's certificate is managing the inventory, not
    // enrolling (the renewal keeps the owner); an enroller renews only their own.
    if old.certificate.owner.as_deref() != Some(who.username.as_str())
        && !issues_under_any_profile(&who.roles)
    {
        let p = Problem::forbidden(format!(
            "{} may not renew certificate {}: it is owned by {}, and renewing another's certificate needs the admin or ca-operator role",
            who.username,
            old.id,
            old.certificate.owner.as_deref().unwrap_or("nobody")
        ));
        app.audit(
            &who.actor(),
            "certificate.renew",
            &format!("certificate:{}", old.id),
            AuditOutcome::Denied,
            &p.detail,
        )
        .await?;
        return Err(p);
    }
    let profile = old.certificate.profile.clone().ok_or_else(|| {
        Problem::conflict(format!(
            "certificate {} has no profile (an import); issue a new one instead",
            old.id
        ))
    })?;
    let body = IssueBody {
        profile,
        csr: req.csr,
        names: san_names(&old.certificate),
        validity_secs: req.validity_secs,
        owner: old.certificate.owner.clone(),
        team: old.certificate.team.clone(),
        tags: old.certificate.tags.clone(),
    };
    start(
        &app,
        &who,
        Issuance {
            body,
            replaces: Some(old.id),
        },
    )
    .await
}

async fn start(
    app: &App,
    who: &Principal,
    issuance: Issuance,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (approvals, _) = match validate(app, who, &issuance).await {
        Ok(v) => v,
        Err(p) => {
            if p.status == StatusCode::FORBIDDEN {
                app.audit(
                    &who.actor(),
                    "certificate.issue",
                    &format!("profile:{}", issuance.body.profile),
                    AuditOutcome::Denied,
                    &p.detail,
                )
                .await?;
            }
            return Err(p);
        }
    };
    if approvals > 0 {
        let payload = serde_json::to_value(&issuance).map_err(Problem::internal)?;
        let Filed { id } = file_request(app, who, "certificate.issue", &payload, approvals).await?;
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"approval": id, "state": "pending"})),
        ));
    }
    let v = execute_issue(app, &who.actor(), &who.username, &issuance).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Asks the signer for the certificate and records it (directly, or when the approval
/// that held it completes). `requester` is the default owner.
pub async fn execute_issue(
    app: &App,
    actor: &str,
    requester: &str,
    issuance: &Issuance,
) -> ApiResult<Value> {
    let body = &issuance.body;
    let profile = profile_name(body)?;
    let names = requested_names(body)?;
    let request = IssuanceRequest {
        profile: profile.clone(),
        subject_key: SubjectKey::Csr(csr_der(&body.csr)?),
        names,
        validity_secs: body.validity_secs,
    };
    let target = format!("profile:{profile}");
    let issued = match app.signer.issue_certificate(request).await {
        Ok(c) => c,
        Err(e) => {
            let p = Problem::from(e);
            let outcome = if p.status == StatusCode::UNPROCESSABLE_ENTITY
                || p.status == StatusCode::BAD_REQUEST
            {
                AuditOutcome::Denied
            } else {
                AuditOutcome::Failed
            };
            app.audit(actor, "certificate.issue", &target, outcome, &p.detail)
                .await?;
            return Err(p);
        }
    };
    let record = record_issued(
        &issued,
        Provenance {
            profile: profile.to_string(),
            source: CertificateSource::Api,
            owner: body.owner.clone().unwrap_or_else(|| requester.to_string()),
            team: body.team.clone(),
            tags: body.tags.clone(),
            replaces: issuance.replaces,
        },
    )?;
    let id = app.store.insert_certificate(&record, app.now()).await?;
    app.metrics.issued.fetch_add(1, Ordering::Relaxed);
    // A "good" OCSP response ready before anyone asks (the front signs one on a miss).
    if let Err(p) =
        crate::revocation::presign(app, &record.issuer, vec![record.serial.clone()]).await
    {
        tracing::warn!(detail = %p.detail, "could not pre-sign the OCSP response; the front will on first request");
    }
    app.audit(
        actor,
        "certificate.issue",
        &format!("certificate:{id}"),
        AuditOutcome::Ok,
        format!(
            "serial {} profile {profile} journal {}",
            record.serial, issued.journal_seq
        ),
    )
    .await?;
    let mut v = view(&app.store.certificate(id).await?);
    v["pem"] = Value::String(strongroom_x509::to_pem("CERTIFICATE", &issued.der));
    v["chain_pem"] = Value::String(
        issued
            .chain
            .iter()
            .map(|d| strongroom_x509::to_pem("CERTIFICATE", d))
            .collect(),
    );
    app.stats.changed();
    Ok(v)
}
