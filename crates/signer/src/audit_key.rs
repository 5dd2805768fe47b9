//! Audit checkpoints: the signer signs a statement over the audit chain's head with an
//! audit key that lives in the HSM and is certified by one of our CAs, so anyone holding
//! an audit export and the root certificate can check offline that the log was not
//! rewritten up to that point.
//!
//! In: `SignAuditCheckpoint { ca, seq, head_hash }` from control. Out: the statement, its
//! ECDSA P-256 signature, the audit certificate and its chain. The audit key is made on
//! first use per CA ([`crate::delegated`]). Like certificates, CRLs and OCSP responses, a
//! checkpoint leaves only after its signature verified against the audit certificate's key
//! (`HsmFailed` otherwise, nothing journaled).

use crate::delegated::{delegated_key, Purpose};
use crate::dispatch::Signer;
use crate::error::wire_error;
use crate::hsm_signer::hsm_error;
use serde_json::json;
use strongroom_types::audit::CheckpointFacts;
use strongroom_types::SignatureAlgorithm;
use strongroom_wire::{CheckpointRequest, ErrorKind, Response, SignedCheckpoint, SignerError};

/// Signs a checkpoint.
pub fn sign_checkpoint(signer: &Signer, req: CheckpointRequest) -> Result<Response, SignerError> {
    if req.head_hash.len() != 64
        || !req
            .head_hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(wire_error(
            ErrorKind::BadRequest,
            "head_hash must be 64 lowercase hex digits",
        ));
    }
    if req.seq == 0 {
        return Err(wire_error(ErrorKind::BadRequest, "seq must be at least 1"));
    }
    let ca = signer
        .cas()
        .get(&req.ca)
        .ok_or_else(|| wire_error(ErrorKind::BadRequest, format!("unknown CA {}", req.ca)))?;
    let hsm = signer.hsm.get()?;
    let now = signer.clock.now();
    let _guard = signer.audit_key_lock();
    let d = delegated_key(signer, &hsm, &ca, Purpose::AuditCheckpoint, now)?;
    let (key, cert_der) = (d.key, d.cert_der);
    let facts = CheckpointFacts {
        ca: req.ca.to_string(),
        seq: req.seq,
        head_hash: req.head_hash.clone(),
        signed_at: now,
    };
    let statement = facts.statement();
    let signature = crate::metrics::timed_hsm_signature(|| {
        hsm.sign(&key, SignatureAlgorithm::EcdsaSha256, statement.as_bytes())
    })
    .map_err(|e| hsm_error(&e))?;
    // Security: the check `strongroom audit verify` makes, before release: a token that
    // signs with another key or returns garbage is caught here, not by an auditor.
    check_signature(&cert_der, &statement, &signature)?;
    signer
        .journal()
        .append_durable(
            now,
            "audit-checkpoint",
            &json!({"ca": req.ca.as_str(), "seq": req.seq, "head": req.head_hash}),
        )
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    Ok(Response::AuditCheckpoint(SignedCheckpoint {
        statement,
        signature,
        certificate: cert_der,
        chain: ca.chain.clone(),
    }))
}

/// Refuses a checkpoint signature that does not verify with the audit certificate's key.
fn check_signature(cert_der: &[u8], statement: &str, signature: &[u8]) -> Result<(), SignerError> {
    strongroom_x509::verify_checkpoint(cert_der, statement.as_bytes(), signature).map_err(|e| {
        tracing::error!(error = %e, "the HSM's audit checkpoint signature does not verify; not released");
        wire_error(
            ErrorKind::HsmFailed,
            format!("the HSM's checkpoint signature does not verify: {e}"),
        )
    })
}
