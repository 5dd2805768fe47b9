//! Re-verifies the signed request behind an `acme.revoke` job before control revokes.
//!
//! In: the job's payload as the front queued it — the certificate's inventory id, the
//! reason, the account id (or none) and the client's own flattened JWS, exactly as it was
//! POSTed to `/acme/revoke-cert`. Out: the actor to record (`acme:{account}` or
//! `acme:certificate-key`), or why the job is refused.
//!
//! Security: the front holds no right to revoke, but it may insert into `jobs`; without
//! this check a compromised front could queue the revocation of any certificate. Control
//! checks here what it can check itself: the JWS signature; that it was made for
//! revokeCert; that the certificate it names is byte for byte the inventory's row (which
//! the front cannot change); that the reason is the one queued; and either that the key is
//! the certificate's own (nothing the front controls), or that the account's key signed it
//! and the account obtained the certificate or holds authorizations for all its names.
//! What this does not check: the nonce (used up by the front), and — for account requests —
//! the account key and authorizations themselves, which are ACME state the front keeps.

use crate::app::App;
use serde::Deserialize;
use strongroom_acme::payload::Revoke;
use strongroom_acme::{b64, Jwk, Jws};

/// Payload of an `acme.revoke` job (stored format: the front writes it; change only
/// compatibly with the front).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeRevocation {
    /// Inventory id of the certificate.
    pub certificate_id: i64,
    /// RFC 5280 CRLReason code.
    pub reason: u8,
    /// The account that asked, or `None` when the request was signed with the
    /// certificate's own key.
    pub account_id: Option<i64>,
    /// The client's flattened JWS, as POSTed (absent in jobs queued by a front older than
    /// this check: those are refused).
    #[serde(default)]
    pub jws: Option<String>,
}

/// Why a queued revocation is not carried out now.
#[derive(Debug)]
pub enum ProofError {
    /// The evidence does not hold: permanent, retrying cannot make it true.
    Refused(String),
    /// The store could not answer (timeout, lost connection): try again later.
    Unavailable(String),
}

fn refused(why: impl Into<String>) -> ProofError {
    ProofError::Refused(why.into())
}

/// A store error while checking: a missing row refuses, anything else is worth a retry
/// (a legitimate revocation must not be failed for good by a passing database outage).
fn store_trouble(what: String) -> impl FnOnce(strongroom_store::StoreError) -> ProofError {
    move |e| match e {
        strongroom_store::StoreError::NotFound(_) => ProofError::Refused(format!("{what}: {e}")),
        other => ProofError::Unavailable(format!("{what}: {other}")),
    }
}

/// Checks the client's signed request; returns the audit actor for the revocation.
pub async fn verify(app: &App, job: &AcmeRevocation) -> Result<String, ProofError> {
    let body = job
        .jws
        .as_deref()
        .ok_or_else(|| refused("the job carries no signed request to check"))?;
    let jws = Jws::parse(body.as_bytes())
        .map_err(|p| refused(format!("the signed request does not parse: {}", p.detail)))?;
    if !jws.header.url.ends_with("/acme/revoke-cert") {
        return Err(refused(format!(
            "the signed request was made for {}, not revokeCert",
            jws.header.url
        )));
    }
    let request: Revoke = jws
        .payload_as()
        .map_err(|p| refused(format!("the signed payload: {}", p.detail)))?;
    if request.reason.unwrap_or(0) != job.reason {
        return Err(refused(format!(
            "the client asked for reason {}, the job says {}",
            request.reason.unwrap_or(0),
            job.reason
        )));
    }
    let der = b64::decode(&request.certificate, "certificate").map_err(refused)?;
    let record = app
        .store
        .certificate(job.certificate_id)
        .await
        .map_err(store_trouble(format!("certificate {}", job.certificate_id)))?;
    if record.certificate.der != der {
        return Err(refused(format!(
            "the signed request names another certificate than inventory entry {}",
            job.certificate_id
        )));
    }
    match (&jws.header.jwk, &jws.header.kid, job.account_id) {
        (Some(key), None, None) => {
            let spki = strongroom_x509::acme_alpn::subject_public_key_info(&der)
                .map_err(|e| refused(format!("the certificate does not parse: {e}")))?;
            if key.to_spki_der() != spki {
                return Err(refused(
                    "the request is signed with a key other than the certificate's",
                ));
            }
            jws.verify(key)
                .map_err(|p| refused(format!("bad signature: {}", p.detail)))?;
            Ok("acme:certificate-key".into())
        }
        (None, Some(kid), Some(account_id)) => {
            if !kid.ends_with(&format!("/acme/account/{account_id}")) {
                return Err(refused(format!(
                    "the request was signed for {kid}, not account {account_id}"
                )));
            }
            let account = app
                .store
                .acme_account(account_id)
                .await
                .map_err(store_trouble(format!("ACME account {account_id}")))?;
            let value: serde_json::Value = serde_json::from_str(&account.jwk)
                .map_err(|e| refused(format!("account {account_id} key: {e}")))?;
            let key = Jwk::from_value(&value)
                .map_err(|p| refused(format!("account {account_id} key: {}", p.detail)))?;
            jws.verify(&key)
                .map_err(|p| refused(format!("bad signature: {}", p.detail)))?;
            let may = app
                .store
                .acme_account_may_revoke(account_id, job.certificate_id, app.now())
                .await
                .map_err(store_trouble(format!("ACME account {account_id}")))?;
            if !may {
                return Err(refused(format!(
                    "ACME account {account_id} neither obtained certificate {} nor holds authorizations for all of its names",
                    job.certificate_id
                )));
            }
            Ok(format!("acme:{account_id}"))
        }
        _ => Err(refused(
            "the signer of the request (jwk or kid) does not match the job's account",
        )),
    }
}
