//! `IssueCrl`: a full CRL for one CA from the revocations recorded here, with a CRL
//! number that only goes up, persisted before the CRL is signed (a crash may skip a
//! number, never reuse one).
//!
//! In: a CA id. Out: the signed DER CRL and its number.

use crate::dispatch::Signer;
use crate::hsm_signer::{hsm_error, HsmTbsSigner};
use crate::state::write_atomic;
use serde_json::json;
use sha2::{Digest, Sha256};
use strongroom_types::CaId;
use strongroom_wire::{ErrorKind, Response, SignerError};
use strongroom_x509::{build_crl, CrlPlan};

fn internal(detail: String) -> SignerError {
    SignerError {
        kind: ErrorKind::Internal,
        detail,
    }
}

/// Signs a fresh CRL for `ca`.
pub fn issue_crl(signer: &Signer, ca_id: &CaId) -> Result<Response, SignerError> {
    let ca = signer.cas().get(ca_id).ok_or_else(|| SignerError {
        kind: ErrorKind::BadRequest,
        detail: format!("unknown CA {ca_id}"),
    })?;
    let hsm = signer.hsm.get()?;
    let key = ca.key(&hsm).map_err(|e| hsm_error(&e))?;
    let entries = signer.revocations().entries(ca_id);

    // Serialise number allocation; the signature itself may run concurrently.
    let number = {
        let _guard = signer.crl_number_lock();
        let path = signer.state.crl_number(ca_id);
        let last = match std::fs::read_to_string(&path) {
            Ok(t) => t
                .trim()
                .parse::<u64>()
                .map_err(|_| internal(format!("{} is corrupt", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(internal(format!("{}: {e}", path.display()))),
        };
        let next = last + 1;
        write_atomic(&path, next.to_string().as_bytes(), 0o600)
            .map_err(|e| internal(format!("{}: {e}", path.display())))?;
        next
    };
    let now = signer.clock.now();
    let plan = CrlPlan {
        ca: &ca.cert,
        signature: ca.record.signature,
        number,
        this_update: now,
        next_update: now + signer.config.crl_validity_secs as i64,
        entries: &entries,
    };
    let tbs_signer = HsmTbsSigner::new(&hsm, &key, ca.record.signature);
    let der = build_crl(&plan, &tbs_signer).map_err(|e| {
        tbs_signer
            .take_error()
            .map_or_else(|| internal(e.to_string()), |h| hsm_error(&h))
    })?;
    signer
        .journal()
        .append_durable(now, "crl", &json!({"ca": ca_id.as_str(), "number": number, "entries": entries.len(), "sha256": hex::encode(Sha256::digest(&der))}))
        .map_err(|e| internal(e.to_string()))?;
    Ok(Response::Crl { der, number })
}
