//! `IssueCrl` / `IssueCrlScope`: a CRL for one CA — whole or one shard, full or delta —
//! from the revocations recorded here, with a CRL number that only goes up (one sequence
//! per CA across its scopes), persisted before the CRL is signed (a crash may skip a
//! number, never reuse one). Shard CRLs carry an IssuingDistributionPoint naming the
//! shard's URL; full CRLs of a CA with deltas carry FreshestCRL; deltas carry
//! DeltaCRLIndicator with their base's number.
//!
//! In: a CA id and a scope. Out: the signed DER CRL and its number.

use crate::dispatch::Signer;
use crate::error::{bad_request, internal};
use crate::hsm_signer::{hsm_error, signing_failure, HsmTbsSigner};
use crate::state::write_atomic;
use serde_json::json;
use sha2::{Digest, Sha256};
use strongroom_types::crl_scope::{crl_url, scope_name, shard_of};
use strongroom_types::CaId;
use strongroom_wire::{Response, SignerError};
use strongroom_x509::{build_crl, CrlPlan};

/// Signs a fresh CRL for one scope of `ca`: the whole CA or one shard, full or delta.
/// A full CRL records where its delta will start (`STATE/crl/CA.SCOPE.base`); a delta lists
/// the revocations recorded since, restricted to the shard.
pub fn issue_crl(
    signer: &Signer,
    ca_id: &CaId,
    shard: Option<u32>,
    delta: bool,
) -> Result<Response, SignerError> {
    let ca = signer
        .cas()
        .get(ca_id)
        .ok_or_else(|| bad_request(format!("unknown CA {ca_id}")))?;
    let shards = ca.record.crl_shards;
    match (shards, shard) {
        (0, None) => {}
        (0, Some(_)) => return Err(bad_request(format!("CA {ca_id} does not shard its CRL"))),
        (n, Some(k)) if (1..=n).contains(&k) => {}
        (n, Some(k)) => return Err(bad_request(format!("shard {k} is not in 1..={n}"))),
        (n, None) => {
            return Err(bad_request(format!(
                "CA {ca_id} splits its CRL into {n} shards: name one"
            )))
        }
    }
    if delta && !ca.record.delta_crl {
        return Err(bad_request(format!(
            "CA {ca_id} does not publish delta CRLs"
        )));
    }
    let scope = scope_name(shard, delta);
    let base_path = signer
        .state
        .crl_number(ca_id)
        .with_extension(format!("{}.base", scope_name(shard, false)));
    let in_scope =
        |e: &strongroom_x509::CrlEntry| shard.is_none_or(|k| shard_of(&e.serial, shards) == k);
    let hsm = signer.hsm.get()?;
    let key = ca.key(&hsm).map_err(|e| hsm_error(&e))?;
    let (entries, delta_base, recorded) = {
        let store = signer.revocations();
        let recorded = store.count(ca_id);
        if delta {
            let text = std::fs::read_to_string(&base_path).map_err(|_| {
                bad_request(format!(
                    "no full CRL for {ca_id} scope {} yet: issue it before its delta",
                    scope_name(shard, false)
                ))
            })?;
            let mut parts = text.split_whitespace();
            let base: u64 = parts
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| internal(format!("{} is corrupt", base_path.display())))?;
            let from: usize = parts
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| internal(format!("{} is corrupt", base_path.display())))?;
            let mut list = store.since(ca_id, from, in_scope);
            list.sort_by(|a, b| a.serial.cmp(&b.serial));
            (list, Some(base), recorded)
        } else {
            let list = store.entries(ca_id, in_scope);
            (list, None, recorded)
        }
    };

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
    let base_url = ca.record.crl_url.as_deref();
    let now = signer.clock.now();
    let plan = CrlPlan {
        ca: &ca.cert,
        signature: ca.record.signature,
        number,
        this_update: now,
        next_update: now + signer.config.crl_validity_secs as i64,
        entries: &entries,
        idp_url: shard.and_then(|k| base_url.and_then(|u| crl_url(u, Some(k), false))),
        delta_base,
        freshest_url: if ca.record.delta_crl && !delta {
            base_url.and_then(|u| crl_url(u, shard, true))
        } else {
            None
        },
    };
    let tbs_signer = HsmTbsSigner::new(&hsm, &key, ca.record.signature);
    let der = build_crl(&plan, &tbs_signer).map_err(signing_failure)?;
    signer
        .journal()
        .append_durable(now, "crl", &json!({"ca": ca_id.as_str(), "scope": scope, "number": number, "entries": entries.len(), "sha256": hex::encode(Sha256::digest(&der))}))
        .map_err(|e| internal(e.to_string()))?;
    if !delta {
        // Where this scope's next delta starts: its number and the revocations it holds.
        write_atomic(&base_path, format!("{number} {recorded}").as_bytes(), 0o600)
            .map_err(|e| internal(format!("{}: {e}", base_path.display())))?;
    }
    Ok(Response::Crl { der, number })
}
