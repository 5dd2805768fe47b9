//! A PKCSReq's signed dynamic challenge, end to end: verified against the profile's MDM
//! connector key ([`super::dynamic`], pure), then its use recorded in the store's replay
//! cache under the profile's per-device limit.
//!
//! In: the verified request, the profile it arrived under, the profile's connector key, the
//! challengePassword (a JWS) and the parsed CSR. Out: `Ok(None)` — the device may enrol;
//! `Ok(Some(answer))` — a FAILURE with `badRequest` whatever was wrong (the log says which:
//! the check, and once the signature held the token's connector, jti and device — never
//! the token); `Err` — 503, the database is away and nothing was recorded.

use super::dynamic::{self, ConnectorKey, CsrIdentity};
use super::reply::Answer;
use super::{unavailable, Offered, Scep};
use axum::response::Response;
use strongroom_scep::PkiRequest;
use strongroom_store::DynamicOutcome;
use strongroom_types::scep::ScepFailInfo;
use strongroom_x509::VerifiedCsr;

/// Verifies `token` for `csr` and records its use; see the module comment.
pub(super) async fn authorise(
    scep: &Scep,
    offered: &Offered,
    request: &PkiRequest,
    key: &ConnectorKey,
    token: &str,
    csr: &VerifiedCsr,
) -> Result<Option<Answer>, Response> {
    let refuse = |why: String| Some(Answer::Fail(ScepFailInfo::BadRequest, why));
    let Some(settings) = &offered.settings.dynamic_challenge else {
        return Ok(refuse(format!(
            "profile {} takes no dynamic challenge",
            offered.name
        )));
    };
    let common_names = match csr.common_names() {
        Ok(c) => c,
        Err(e) => return Ok(refuse(format!("dynamic challenge: the CSR's subject: {e}"))),
    };
    let now = scep.app.now();
    let identity = CsrIdentity {
        common_names: &common_names,
        names: &csr.names,
    };
    let token = match dynamic::verify(key, token, &offered.name, identity, now) {
        Ok(t) => t,
        Err(refusal) => return Ok(refuse(format!("dynamic challenge refused: {refusal}"))),
    };
    match scep
        .app
        .store
        .use_dynamic_challenge(
            &offered.name,
            &token.jti,
            &token.device_id,
            now,
            settings.per_device_per_day,
        )
        .await
    {
        Ok(DynamicOutcome::Accepted) => {
            tracing::info!(transaction = %request.transaction_id, connector = %token.connector, jti = %token.jti, device = %token.device_id, "SCEP: dynamic challenge used");
            Ok(None)
        }
        Ok(other) => Ok(refuse(format!(
            "dynamic challenge refused: {} (connector {:?}, jti {:?}, device {:?})",
            other.as_str(),
            token.connector,
            token.jti,
            token.device_id
        ))),
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot record a dynamic challenge");
            Err(unavailable("the database is unavailable"))
        }
    }
}
