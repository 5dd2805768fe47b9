//! Finalize and certificate download (RFC 8555 §7.4, §7.4.2): the CSR must name exactly
//! the order's identifiers; the signer issues under the order's profile, taking only the
//! CSR's key and names (other requested extensions are ignored, never an error); the
//! certificate lands in the inventory with source `acme`; the chain is served as PEM, with
//! the root-included chain offered as an alternate.
//!
//! In: verified finalize and download requests. Out: the order (valid) or a problem; PEM.

use super::http::{finish, verify, Answer, KeyRule, Refusal, Reply};
use super::order::{authorizations_of, order_view_with, owned_order};
use super::{Acme, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::collections::BTreeSet;
use strongroom_acme::payload::Finalize;
use strongroom_acme::{b64, Problem, ProblemType};
use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{
    AcmeOrder, AuditOutcome, CertificateSource, NewAuditEvent, NewCertificate, OrderStatus,
};
use strongroom_types::{ProfileName, RequestedName};
use strongroom_wire::{CallError, ErrorKind, IssuanceRequest, IssuedCertificate, SubjectKey};

/// POST /acme/order/{id}/finalize.
pub async fn finalize(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = finalize_inner(&acme, &id, &headers, &body).await;
    finish(&acme, outcome).await
}

async fn finalize_inner(acme: &Acme, id: &str, headers: &HeaderMap, body: &Bytes) -> Answer {
    let v = verify(
        acme,
        &format!("/acme/order/{id}/finalize"),
        headers,
        body,
        KeyRule::Kid,
    )
    .await?;
    let account = v.account()?.clone();
    let order = owned_order(acme, id, account.id).await?;
    let req: Finalize = v.jws.payload_as()?;
    if order.expires_at <= acme.app.now() {
        return Err(Problem::new(
            ProblemType::OrderNotReady,
            "the order has expired; place a new one",
        )
        .into());
    }
    match order.status {
        OrderStatus::Ready => {}
        OrderStatus::Pending => {
            return Err(Problem::new(
                ProblemType::OrderNotReady,
                "the order's authorizations are not all valid yet",
            )
            .into())
        }
        other => {
            return Err(Problem::new(
                ProblemType::OrderNotReady,
                format!("the order is {other}; it cannot be finalized again"),
            )
            .into())
        }
    }
    let csr_der = b64::decode(&req.csr, "csr").map_err(|e| Problem::new(ProblemType::BadCsr, e))?;
    let csr = strongroom_x509::parse_csr(&csr_der)
        .map_err(|e| Problem::new(ProblemType::BadCsr, format!("the CSR is unusable: {e}")))?;
    let authzs = authorizations_of(acme, &order).await?;
    let mut wanted = BTreeSet::new();
    for z in &authzs {
        wanted.insert(super::views::name_of(z)?.requested_name()?);
    }
    let asked: BTreeSet<RequestedName> = csr.names.iter().cloned().collect();
    if asked != wanted {
        let show = |s: &BTreeSet<RequestedName>| {
            s.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Problem::new(
            ProblemType::BadCsr,
            format!(
                "the CSR names {} but the order is for {}",
                show(&asked),
                show(&wanted)
            ),
        )
        .into());
    }
    if !acme
        .app
        .store
        .claim_acme_order_for_finalize(order.id, acme.app.now())
        .await?
    {
        return Err(Problem::new(
            ProblemType::OrderNotReady,
            "the order is being finalized by another request",
        )
        .into());
    }
    let issued = match issue(acme, &order, csr_der, wanted.into_iter().collect()).await {
        Ok(i) => i,
        Err(Trouble::Busy(detail)) => {
            // Nothing was signed: the client may finalize again.
            acme.app
                .store
                .set_acme_order_status(
                    order.id,
                    &[OrderStatus::Processing],
                    OrderStatus::Ready,
                    None,
                )
                .await?;
            return Err(Refusal {
                problem: Problem::internal(format!(
                    "the signer is unavailable ({detail}); finalize again shortly"
                ))
                .with_status(503),
                retry_after: Some(5),
            });
        }
        Err(Trouble::Refused(p)) => {
            acme.app
                .store
                .set_acme_order_status(
                    order.id,
                    &[OrderStatus::Processing],
                    OrderStatus::Invalid,
                    Some(&p.to_json()),
                )
                .await?;
            return Err(p.into());
        }
    };
    // The row is filed under the CA the signer names (no lookup that could fail now that
    // the certificate exists).
    let row = record_issued(
        &issued,
        Provenance {
            profile: order.profile.clone(),
            source: CertificateSource::Acme,
            owner: format!("acme:{}", account.id),
            team: None,
            tags: vec!["acme".into()],
            replaces: order.replaces_id,
        },
    )
    .map_err(|e| {
        tracing::error!(order = order.id, serial = %issued.serial, error = %e, "an issued certificate could not be recorded; reconcile from the signer's journal");
        Problem::internal(e.to_string())
    })?;
    // The signer has signed: recording it must not give up at the first store hiccup.
    let mut attempt = 0;
    let (cert_id, finished) = loop {
        attempt += 1;
        match record(acme, &order, &account.id, &issued, &row).await {
            Ok(recorded) => break recorded,
            Err(e) if attempt < 5 => {
                tracing::warn!(order = order.id, serial = %issued.serial, attempt, problem = %e.problem.detail, "cannot record an issued certificate yet; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => {
                // The order stays `processing`; the signer's journal holds the certificate.
                tracing::error!(order = order.id, serial = %issued.serial, problem = %e.problem.detail, "an issued certificate could not be recorded; reconcile from the signer's journal");
                return Err(e);
            }
        }
    };
    // The order as this request left it (read back only if something else moved it).
    let order = if finished {
        AcmeOrder {
            status: OrderStatus::Valid,
            certificate_id: Some(cert_id),
            ..order
        }
    } else {
        acme.app.store.acme_order(order.id).await?
    };
    let url = acme.url(&format!("/acme/order/{}", order.id));
    let view = order_view_with(acme, &order, &authzs).await?;
    Ok(Reply::json(StatusCode::OK, &view).location(url))
}

enum Trouble {
    Busy(String),
    Refused(Problem),
}

async fn issue(
    acme: &Acme,
    order: &AcmeOrder,
    csr: Vec<u8>,
    names: Vec<RequestedName>,
) -> Result<IssuedCertificate, Trouble> {
    let profile: ProfileName = order
        .profile
        .parse()
        .map_err(|_| Trouble::Refused(Problem::internal("the order's profile name is invalid")))?;
    let request = IssuanceRequest {
        profile,
        // Only the key and the names count (RFC 8555 CAs issue by profile): a CSR asking
        // for clientAuth or keyUsage (acme.sh's does) still gets what the profile grants.
        subject_key: SubjectKey::CsrKeyAndNames(csr),
        names,
        validity_secs: None,
    };
    acme.app
        .signer
        .issue_certificate(request)
        .await
        .map_err(|e| match e {
            CallError::Unavailable(why)
            | CallError::Refused {
                kind: ErrorKind::HsmUnavailable,
                detail: why,
            } => Trouble::Busy(why),
            CallError::Refused {
                kind: ErrorKind::PolicyDenied | ErrorKind::BadRequest,
                detail,
            } => Trouble::Refused(Problem::new(
                ProblemType::BadCsr,
                format!("the CA's policy refused the request: {detail}"),
            )),
            CallError::Refused { detail, .. } => {
                Trouble::Refused(Problem::internal(format!("the signer failed: {detail}")))
            }
            e @ CallError::Unexpected(_) => Trouble::Refused(Problem::internal(e.to_string())),
        })
}

/// Records the certificate in the inventory, closes the order and appends the
/// `acme.certificate.issue` audit event, in one transaction; (certificate id, whether
/// this closed the order).
async fn record(
    acme: &Acme,
    order: &AcmeOrder,
    account: &i64,
    issued: &IssuedCertificate,
    row: &NewCertificate,
) -> Result<(i64, bool), Refusal> {
    let event = |id: i64| NewAuditEvent {
        actor: format!("acme:{account}"),
        action: "acme.certificate.issue".into(),
        target: format!("certificate:{id}"),
        outcome: AuditOutcome::Ok,
        detail: format!(
            "order={} profile={} serial={}",
            order.id, order.profile, issued.serial
        ),
    };
    Ok(acme
        .app
        .store
        .record_acme_issuance(row, order.id, event, acme.app.now())
        .await?)
}

/// POST /acme/cert/{id}: leaf and intermediates, PEM.
pub async fn certificate(
    State(acme): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/acme/cert/{id}");
    let outcome = chain_reply(&acme, &path, &id, false, &headers, &body).await;
    finish(&acme, outcome).await
}

/// POST /acme/cert/{id}/{alternate}: `1` is the chain including the root.
pub async fn certificate_alternate(
    State(acme): State<Shared>,
    Path((id, alternate)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/acme/cert/{id}/{alternate}");
    let outcome = if alternate == "1" {
        chain_reply(&acme, &path, &id, true, &headers, &body).await
    } else {
        Err(Problem::malformed("no such alternate chain")
            .with_status(404)
            .into())
    };
    finish(&acme, outcome).await
}

async fn chain_reply(
    acme: &Acme,
    path: &str,
    id: &str,
    with_root: bool,
    headers: &HeaderMap,
    body: &Bytes,
) -> Answer {
    let v = verify(acme, path, headers, body, KeyRule::Kid).await?;
    if !v.jws.is_post_as_get() {
        return Err(Problem::malformed("download a certificate with POST-as-GET").into());
    }
    let cert_id: i64 = id
        .parse()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| Problem::malformed("no such certificate").with_status(404))?;
    let Some((issuer, der)) = acme
        .app
        .store
        .acme_certificate_of_account(cert_id, v.account()?.id)
        .await?
    else {
        return Err(Problem::malformed("no such certificate")
            .with_status(404)
            .into());
    };
    let cas = acme.app.cas().await;
    let mut pem = strongroom_x509::to_pem("CERTIFICATE", &der);
    let mut next = Some(issuer);
    let mut guard = 0;
    while let Some(ca_id) = next.take() {
        guard += 1;
        let Some(ca) = cas.iter().find(|c| c.id == ca_id) else {
            break;
        };
        if ca.parent.is_none() && !with_root {
            break;
        }
        pem.push_str(&strongroom_x509::to_pem("CERTIFICATE", &ca.cert.der));
        next = ca.parent.clone();
        if guard > 16 {
            break;
        }
    }
    let mut reply = Reply::bytes("application/pem-certificate-chain", pem.into_bytes());
    if !with_root {
        reply = reply.link(&acme.url(&format!("/acme/cert/{cert_id}/1")), "alternate");
    }
    Ok(reply)
}
