//! The certificate inventory: search, one, download, issue from a CSR, renew, revoke, bulk
//! revoke. Issuance goes to the signer (which checks the profile again) and what it returns
//! is recorded with source `api`; revocation goes through [`crate::revoke`] (the signer
//! first, whose records the CRLs come from, then the store).

use crate::api::approvals::{file_request, Filed};
use crate::app::App;
use crate::auth::Principal;
use crate::input::{Body, Params, Segments};
use crate::problem::{ApiResult, Problem};
use crate::rbac::{allows, issues_under_any_profile, Permission};
use crate::revoke::{revoke_certificate, RevocationOutcome};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use strongroom_store::{
    AuditOutcome, CaState, CertificateFilter, CertificateRecord, CertificateSource, NewCertificate,
    StoreError,
};
use strongroom_types::{CaId, ProfileName, RequestedName, RevocationReason};
use strongroom_wire::{IssuanceRequest, Request, Response, SubjectKey};
use strongroom_x509::CertificateSummary;

/// The subjectAltNames of an inventory record (the inventory also indexes the bare
/// subject CN for search; it is not a SAN).
fn san_names(n: &NewCertificate) -> Vec<String> {
    n.names
        .iter()
        .filter(|x| Some(*x) != n.subject_cn.as_ref())
        .cloned()
        .collect()
}

/// The JSON view of a certificate.
pub fn view(c: &CertificateRecord) -> Value {
    let n = &c.certificate;
    json!({
        "id": c.id,
        "serial": n.serial.to_string(),
        "issuer": n.issuer.as_str(),
        "profile": n.profile,
        "subject_cn": n.subject_cn,
        "names": san_names(n),
        "not_before": n.not_before,
        "not_after": n.not_after,
        "fingerprint": n.fingerprint,
        "status": if c.revoked { "revoked" } else { "valid" },
        "source": n.source.as_str(),
        "owner": n.owner,
        "team": n.team,
        "tags": n.tags,
        "replaces": n.replaces,
        "created_at": c.created_at,
    })
}

/// Query of `GET /certificates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    expiring_before: Option<i64>,
    expiring_within_days: Option<u32>,
    issuer: Option<String>,
    profile: Option<String>,
    name: Option<String>,
    tag: Option<String>,
    owner: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

fn text_filter(field: &str, v: &Option<String>) -> Result<Option<String>, Problem> {
    match v {
        Some(s) if s.is_empty() || s.len() > 255 => Err(Problem::bad_request(format!(
            "{field} must be 1 to 255 characters"
        ))),
        other => Ok(other.clone()),
    }
}

/// Searches the inventory; `next` continues the walk.
pub async fn list(State(app): State<App>, Params(q): Params<ListQuery>) -> ApiResult<Json<Value>> {
    let now = app.now();
    let revoked = match q.status.as_deref() {
        None => None,
        Some("valid") => Some(false),
        Some("revoked") => Some(true),
        Some(other) => {
            return Err(Problem::bad_request(format!(
                "status {other:?} is not valid or revoked"
            )))
        }
    };
    let expiring_before = match (q.expiring_before, q.expiring_within_days) {
        (Some(_), Some(_)) => {
            return Err(Problem::bad_request(
                "use expiring_before or expiring_within_days, not both",
            ))
        }
        (Some(t), None) => Some(t),
        (None, Some(d)) if d <= 36_500 => Some(now + i64::from(d) * 86_400),
        (None, Some(_)) => {
            return Err(Problem::bad_request(
                "expiring_within_days is at most 36500",
            ))
        }
        (None, None) => None,
    };
    let issuer = match text_filter("issuer", &q.issuer)? {
        Some(s) => Some(
            s.parse::<CaId>()
                .map_err(|e| Problem::bad_request(format!("issuer: {e}")))?,
        ),
        None => None,
    };
    let filter = CertificateFilter {
        revoked,
        expiring_before,
        valid_at: expiring_before.map(|_| now),
        issuer,
        profile: text_filter("profile", &q.profile)?,
        name: text_filter("name", &q.name)?,
        tag: text_filter("tag", &q.tag)?,
        owner: text_filter("owner", &q.owner)?,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Problem::bad_request("limit must be between 1 and 1000"));
    }
    let scope = format!("{filter:?}");
    let after = match &q.cursor {
        Some(c) => Some(app.cursors.open(c, &scope)?),
        None => None,
    };
    let page = app.store.certificates(&filter, after, limit).await?;
    Ok(Json(json!({
        "items": page.items.iter().map(view).collect::<Vec<_>>(),
        "next": page.next_after.map(|id| app.cursors.issue(id, &scope)),
    })))
}

fn parse_id(s: &str) -> Result<i64, Problem> {
    s.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| {
        Problem::bad_request(format!("certificate id {s:?} is not a positive integer"))
    })
}

/// One certificate, with its revocation when revoked.
pub async fn get_one(
    State(app): State<App>,
    Segments(id): Segments<String>,
) -> ApiResult<Json<Value>> {
    let c = app.store.certificate(parse_id(&id)?).await?;
    let mut v = view(&c);
    if c.revoked {
        if let Some(r) = app.store.revocation(c.id).await? {
            v["revocation"] = json!({
                "reason": r.reason.as_str(),
                "revoked_at": r.revoked_at,
                "invalidity_date": r.invalidity_date,
                "revoked_by": r.revoked_by,
            });
        }
    }
    Ok(Json(v))
}

/// Query of the download route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    format: Option<String>,
}

/// PEM (default), DER, or PEM followed by the issuing chain.
pub async fn download(
    State(app): State<App>,
    Segments(id): Segments<String>,
    Params(q): Params<DownloadQuery>,
) -> ApiResult<HttpResponse> {
    let c = app.store.certificate(parse_id(&id)?).await?;
    let der = &c.certificate.der;
    Ok(match q.format.as_deref().unwrap_or("pem") {
        "pem" => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            strongroom_x509::to_pem("CERTIFICATE", der),
        )
            .into_response(),
        "der" => (
            [(header::CONTENT_TYPE, "application/pkix-cert")],
            der.clone(),
        )
            .into_response(),
        "chain" => {
            let chain = match app
                .signer
                .call(Request::GetCaChain {
                    ca: c.certificate.issuer.clone(),
                })
                .await?
            {
                Response::CaChain(chain) => chain,
                other => {
                    return Err(Problem::internal(format!(
                        "unexpected signer answer {other:?}"
                    )))
                }
            };
            let mut pem = strongroom_x509::to_pem("CERTIFICATE", der);
            for ca in &chain {
                pem.push_str(&strongroom_x509::to_pem("CERTIFICATE", ca));
            }
            (
                [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                pem,
            )
                .into_response()
        }
        other => {
            return Err(Problem::bad_request(format!(
                "format {other:?} is not pem, der or chain"
            )))
        }
    })
}

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

/// Checks an issuance before anything is filed or signed: the caller may enrol under the
/// profile, may name the owner (only `user:manage` names someone else), and every field is
/// well formed. Returns the approvals the profile needs and the parsed names.
pub async fn validate(
    app: &App,
    who: &Principal,
    issuance: &Issuance,
) -> Result<(i64, Vec<RequestedName>), Problem> {
    let body = &issuance.body;
    let name: ProfileName = body
        .profile
        .parse()
        .map_err(|e| Problem::bad_request(format!("profile: {e}")))?;
    let profile = match app.store.profile(&name).await {
        Ok(p) => p,
        Err(StoreError::NotFound(_)) => {
            return Err(Problem::bad_request(format!(
                "profile {name} does not exist (GET /api/v1/profiles)"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if !issues_under_any_profile(&who.roles)
        && !profile
            .enrollers
            .iter()
            .any(|e| e == "*" || e == &who.username)
    {
        return Err(Problem::forbidden(format!(
            "{} may not enrol under profile {name}: it is not among the profile's enrollers",
            who.username
        )));
    }
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
    let names = body
        .names
        .iter()
        .map(|n| {
            n.parse::<RequestedName>()
                .map_err(|e| Problem::bad_request(format!("name {n:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
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
    let profile: ProfileName = body
        .profile
        .parse()
        .map_err(|e| Problem::bad_request(format!("profile: {e}")))?;
    let names = body
        .names
        .iter()
        .map(|n| {
            n.parse::<RequestedName>()
                .map_err(|e| Problem::bad_request(format!("name {n:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let request = Request::IssueCertificate(IssuanceRequest {
        profile: profile.clone(),
        subject_key: SubjectKey::Csr(csr_der(&body.csr)?),
        names,
        validity_secs: body.validity_secs,
    });
    let target = format!("profile:{profile}");
    let issued = match app.signer.call(request).await {
        Ok(Response::Certificate(c)) => c,
        Ok(other) => {
            return Err(Problem::internal(format!(
                "unexpected signer answer {other:?}"
            )))
        }
        Err(p) => {
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
    let summary = CertificateSummary::from_der(&issued.der).map_err(Problem::internal)?;
    let profile_record = app.store.profile(&profile).await?;
    let record = NewCertificate {
        issuer: profile_record.profile.issuer.clone(),
        serial: summary.serial.clone(),
        profile: Some(profile.to_string()),
        subject_cn: summary.subject_cn.clone(),
        names: summary.names.clone(),
        not_before: summary.not_before,
        not_after: summary.not_after,
        fingerprint: summary.fingerprint.clone(),
        der: issued.der.clone(),
        source: CertificateSource::Api,
        owner: Some(body.owner.clone().unwrap_or_else(|| requester.to_string())),
        team: body.team.clone(),
        tags: body.tags.clone(),
        replaces: issuance.replaces,
    };
    let id = app.store.insert_certificate(&record, app.now()).await?;
    app.metrics.issued.fetch_add(1, Ordering::Relaxed);
    // A "good" OCSP response ready before anyone asks (the front signs one on a miss).
    if let Err(p) =
        crate::revocation::presign(app, &record.issuer, vec![summary.serial.clone()]).await
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
            summary.serial, issued.journal_seq
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
    Ok(v)
}

/// Body of the revoke route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    reason: String,
    #[serde(default)]
    invalidity_date: Option<i64>,
}

fn parse_reason(s: &str) -> Result<RevocationReason, Problem> {
    let r: RevocationReason = s
        .parse()
        .map_err(|e: String| Problem::bad_request(format!("reason: {e}")))?;
    if r == RevocationReason::RemoveFromCrl {
        return Err(Problem::bad_request(
            "reason removeFromCRL only appears in delta CRLs; it cannot start a revocation",
        ));
    }
    Ok(r)
}

/// Revokes one certificate.
pub async fn revoke(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Segments(id): Segments<String>,
    Body(body): Body<RevokeBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id)?;
    let reason = parse_reason(&body.reason)?;
    let now = app.now();
    if let Some(d) = body.invalidity_date {
        if d > now || d < 0 {
            return Err(Problem::bad_request(
                "invalidity_date must be in the past (Unix seconds)",
            ));
        }
    }
    revoke_one(&app, &who, id, reason, body.invalidity_date).await?;
    get_one(State(app), Segments(id.to_string())).await
}

/// Revokes through [`crate::revoke::revoke_certificate`]; a certificate revoked before is a
/// conflict here (an operator asked for something that cannot be done twice).
async fn revoke_one(
    app: &App,
    who: &Principal,
    id: i64,
    reason: RevocationReason,
    invalidity_date: Option<i64>,
) -> ApiResult<()> {
    match revoke_certificate(app, &who.actor(), id, reason, invalidity_date).await? {
        RevocationOutcome::Revoked => Ok(()),
        RevocationOutcome::AlreadyRevoked => Err(Problem::conflict(format!(
            "certificate {id} is already revoked"
        ))),
    }
}

/// Body of the bulk revoke route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkRevokeBody {
    ids: Vec<i64>,
    reason: String,
}

/// Revokes up to 1,000 certificates; the answer lists each id's outcome. The input is
/// checked as a whole first: a bad id list or reason changes nothing.
pub async fn bulk_revoke(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    Body(body): Body<BulkRevokeBody>,
) -> ApiResult<Json<Value>> {
    let reason = parse_reason(&body.reason)?;
    if body.ids.is_empty() || body.ids.len() > 1000 {
        return Err(Problem::bad_request(
            "ids must list 1 to 1000 certificate ids",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in &body.ids {
        if *id <= 0 || !seen.insert(*id) {
            return Err(Problem::bad_request(format!(
                "id {id} is not positive or appears twice"
            )));
        }
    }
    let mut results = Vec::with_capacity(body.ids.len());
    let (mut revoked, mut failed) = (0, 0);
    for id in &body.ids {
        let outcome = match revoke_one(&app, &who, *id, reason, None).await {
            Ok(()) => {
                revoked += 1;
                json!({"id": id, "outcome": "revoked"})
            }
            Err(p) => {
                failed += 1;
                json!({"id": id, "outcome": p.kind, "detail": p.detail})
            }
        };
        results.push(outcome);
    }
    Ok(Json(
        json!({"revoked": revoked, "failed": failed, "results": results}),
    ))
}
