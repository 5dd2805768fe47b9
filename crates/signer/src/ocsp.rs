//! `SignOcspResponses`: pre-signed OCSP responses, one per serial, signed by the CA's
//! delegated responder key in the HSM.
//!
//! In: a CA, up to 1,000 serials and a validity. Out: for each serial the status the signer
//! itself knows — revoked if it recorded the revocation, good if its journal says it issued
//! the serial under this CA, unknown otherwise — and the DER response stating it. The caller
//! (control, front) never tells the signer what the status is, so a compromised front
//! cannot obtain a "good" for a revoked certificate. CertIDs use SHA-1, as openssl and
//! most relying parties ask; nextUpdate never passes the responder certificate's notAfter.

use crate::delegated::{delegated_key, Purpose};
use crate::dispatch::Signer;
use crate::error::{bad_request, internal};
use crate::hsm_signer::{signing_failure, HsmTbsSigner};
use serde_json::json;
use strongroom_types::{KeyAlgorithm, SignatureAlgorithm};
use strongroom_wire::{OcspSigningRequest, OcspStatus, Response, SignedOcspResponse, SignerError};
use strongroom_x509::ocsp::{build_ocsp_response, cert_id, OcspAnswer, OcspPlan};

/// Most serials per request.
pub const MAX_SERIALS: usize = 1000;
/// Longest response validity.
pub const MAX_VALIDITY_SECS: u32 = 7 * 86_400;

/// Signs one response per serial.
pub fn sign_responses(signer: &Signer, req: OcspSigningRequest) -> Result<Response, SignerError> {
    if req.serials.is_empty() || req.serials.len() > MAX_SERIALS {
        return Err(bad_request(format!(
            "1 to {MAX_SERIALS} serials per request"
        )));
    }
    if !(60..=MAX_VALIDITY_SECS).contains(&req.validity_secs) {
        return Err(bad_request(format!(
            "validity_secs must be between 60 and {MAX_VALIDITY_SECS}"
        )));
    }
    if let Some(n) = &req.nonce {
        if n.is_empty() || n.len() > 32 || !req.combined {
            return Err(bad_request(
                "a nonce is 1 to 32 octets and only goes into a combined (on-demand) response",
            ));
        }
    }
    if req.combined && req.serials.len() > strongroom_x509::ocsp::MAX_REQUESTS {
        return Err(bad_request(format!(
            "a combined response answers at most {} certificates",
            strongroom_x509::ocsp::MAX_REQUESTS
        )));
    }
    let ca = signer
        .cas()
        .get(&req.ca)
        .ok_or_else(|| bad_request(format!("unknown CA {}", req.ca)))?;
    let hsm = signer.hsm.get()?;
    let now = signer.clock.now();
    let responder = {
        let _guard = signer.audit_key_lock();
        delegated_key(signer, &hsm, &ca, Purpose::OcspResponder, now)?
    };
    let next_update = (now + i64::from(req.validity_secs)).min(responder.not_after);
    let algorithm = match responder.key.algorithm {
        KeyAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaSha256,
        other => other.default_signature(),
    };
    let tbs_signer = HsmTbsSigner::new(&hsm, &responder.key, algorithm);
    let (mut good, mut revoked, mut unknown) = (0u32, 0u32, 0u32);
    let mut answers = Vec::with_capacity(req.serials.len());
    for serial in &req.serials {
        let status = match signer.revocations().get(&req.ca, serial) {
            Some(r) => {
                revoked += 1;
                OcspStatus::Revoked {
                    at: r.revoked_at,
                    reason: r.reason,
                }
            }
            None if signer.issuer_of(serial).as_ref() == Some(&req.ca) => {
                good += 1;
                OcspStatus::Good
            }
            None => {
                unknown += 1;
                OcspStatus::Unknown
            }
        };
        let answer = OcspAnswer {
            cert_id: cert_id(&ca.cert, serial, req.sha256_cert_ids)
                .map_err(|e| bad_request(e.to_string()))?,
            status,
        };
        answers.push((serial, status, answer));
    }
    let sign = |batch: &[OcspAnswer]| {
        let plan = OcspPlan {
            ca: &ca.cert,
            responder_cert: &responder.cert_der,
            responder_public_key: &responder.key.public_key_der,
            signature: algorithm,
            now,
            next_update,
            answers: batch,
            nonce: req.nonce.as_deref(),
        };
        build_ocsp_response(&plan, &tbs_signer).map_err(signing_failure)
    };
    let mut out = Vec::with_capacity(req.serials.len());
    if req.combined {
        let batch: Vec<OcspAnswer> = answers.iter().map(|(_, _, a)| a.clone()).collect();
        let der = sign(&batch)?;
        if let Some((serial, status, _)) = answers.first() {
            out.push(SignedOcspResponse {
                serial: (*serial).clone(),
                status: *status,
                der,
                this_update: now,
                next_update,
            });
        }
    } else {
        for (serial, status, answer) in &answers {
            out.push(SignedOcspResponse {
                serial: (*serial).clone(),
                status: *status,
                der: sign(std::slice::from_ref(answer))?,
                this_update: now,
                next_update,
            });
        }
    }
    // One journal record per batch (not per response): what was stated, in aggregate.
    signer
        .journal()
        .append(now, "ocsp", &json!({"ca": req.ca.as_str(), "good": good, "revoked": revoked, "unknown": unknown, "next_update": next_update}))
        .map_err(|e| internal(e.to_string()))?;
    Ok(Response::OcspResponses(out))
}
