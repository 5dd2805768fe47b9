//! `simpleenroll`, `serverkeygen` and `simplereenroll`: the request read, the caller let
//! in, the certificate issued by the signer under the label's profile and recorded.
//!
//! In: the label, the operation, the request ([`super::Call`]). Out: the certificate as a
//! base64 certificates-only PKCS#7, or for `serverkeygen` the multipart reply with the key
//! made here. The order of checks is the attacker's order: the body's syntax and the CSR's
//! self-signature first (nothing else is done for garbage), then who is asking
//! ([`super::access`]) and the channel binding, then the policy (the signer's, under the
//! profile, with only the CSR's key and names).
//!
//! Security: a key made for `serverkeygen` exists in this process only: it is made here
//! (ring's system randomness), issued for by its public key, sent once inside the TLS
//! session — in the clear, or encrypted to the TLS client certificate when the request names
//! it (RFC 7030 §4.4.1.2; the CA's key generator in the signer signs the package's digest) —
//! and its PKCS#8 bytes and the reply's buffer are wiped when dropped. Not wiped:
//! ring's own PKCS#8 document (freed when dropped, a moment after it was copied) and the
//! copy handed to the HTTP stack as the response body (freed once sent).

use super::access::{authorise, check_binding, forbidden, held, Caller};
use super::{plain, signer_trouble, Call, Est, Offered};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING,
    ECDSA_P384_SHA384_ASN1_SIGNING,
};
use strongroom_est::{
    encrypted_key_part, key_package, package_digest, parse_enrolment, server_keygen_reply,
    Enrolment, EstOperation, KeyEncryption, KeyGenerator, KeyPart, Recipient,
};
use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{AuditOutcome, CertificateSource, NewAuditEvent};
use strongroom_types::{KeyAlgorithm, RequestedName};
use strongroom_wire::{CallError, ErrorKind, IssuanceRequest, IssuedCertificate, SubjectKey};
use zeroize::Zeroizing;

/// SubjectPublicKeyInfo prefixes: the public key's bytes follow.
const P256_SPKI: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P384_SPKI: &[u8] = &[
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];
const ED25519_SPKI: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The request's enrolment body, or 400/415/413 saying what to fix.
fn read(est: &Est, call: &Call) -> Result<Enrolment, Box<Response>> {
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    parse_enrolment(content_type, &call.body).map_err(|e| {
        est.app.metrics.est_refused("bad-request");
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        Box::new(plain(status, e.to_string()))
    })
}

/// `simpleenroll` and `serverkeygen`.
pub async fn enrol(est: &Est, offered: &Offered, op: EstOperation, call: &Call) -> Response {
    let enrolment = match read(est, call) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let caller = match authorise(est, offered, call).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = check_binding(est, offered, call, &enrolment) {
        return *r;
    }
    if offered.record.approvals_required > 0 {
        if op == EstOperation::ServerKeygen {
            return forbidden(
                est,
                "policy",
                format!(
                    "profile {} needs approvals, and a key made here cannot wait for them: send a CSR to simpleenroll",
                    offered.name
                ),
            );
        }
        return super::pending::hold(est, offered, &caller, &enrolment).await;
    }
    if op == EstOperation::ServerKeygen {
        return server_keygen(est, offered, call, &caller, &enrolment).await;
    }
    let key = SubjectKey::CsrKeyAndNames(enrolment.csr_der.clone());
    match issue(
        est,
        offered,
        &caller,
        key,
        enrolment.csr.names.clone(),
        None,
    )
    .await
    {
        Ok(issued) => certificate_reply(offered, &issued),
        Err(r) => r,
    }
}

/// `simplereenroll`: the current certificate, over mutual TLS, renews itself — same
/// profile and CA, unexpired, unrevoked, and the same names unless the label allows a
/// change (RFC 7030 §4.2.2). The CSR may carry a new key. A renewal is not held for
/// approval again: the certificate it renews was approved (as SCEP's RenewalReq).
pub async fn reenrol(est: &Est, offered: &Offered, call: &Call) -> Response {
    let enrolment = match read(est, call) {
        Ok(e) => e,
        Err(r) => return *r,
    };
    let Some(peer) = &call.peer else {
        return forbidden(
            est,
            "reenroll",
            "simplereenroll needs the certificate being renewed as the TLS client certificate",
        );
    };
    let current = match held(est, offered, &peer.fingerprint).await {
        Ok(Ok(c)) => c,
        Ok(Err(why)) => {
            return forbidden(
                est,
                "reenroll",
                format!("the client certificate cannot be renewed here: {why}"),
            )
        }
        Err(r) => return r,
    };
    if let Err(r) = check_binding(est, offered, call, &enrolment) {
        return *r;
    }
    if !offered.settings.reenroll_name_change {
        let held_names =
            match strongroom_x509::CertificateSummary::from_der(&current.certificate.der) {
                Ok(s) => s.names,
                Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            };
        let mut asked: Vec<String> = enrolment.csr.names.iter().map(|n| n.to_string()).collect();
        let mut held_names = held_names;
        asked.sort();
        held_names.sort();
        if asked != held_names {
            return forbidden(
                est,
                "reenroll",
                format!(
                    "a renewal under EST label {} keeps the names of the certificate it renews ({})",
                    offered.settings.name,
                    held_names.join(", ")
                ),
            );
        }
    }
    let caller = Caller::Holder { id: current.id };
    let key = SubjectKey::CsrKeyAndNames(enrolment.csr_der.clone());
    match issue(
        est,
        offered,
        &caller,
        key,
        enrolment.csr.names.clone(),
        Some(current.id),
    )
    .await
    {
        Ok(issued) => certificate_reply(offered, &issued),
        Err(r) => r,
    }
}

/// `serverkeygen`: a key of the profile's first algorithm ring can make (ECDSA P-256 or
/// P-384, Ed25519), issued for with the CSR's names.
async fn server_keygen(
    est: &Est,
    offered: &Offered,
    call: &Call,
    caller: &Caller,
    enrolment: &Enrolment,
) -> Response {
    if !offered.settings.server_keygen {
        return forbidden(
            est,
            "policy",
            format!(
                "EST label {} does not make keys (server_keygen is off); send a CSR to simpleenroll",
                offered.settings.name
            ),
        );
    }
    // Who the key is encrypted to, settled before a key is made or a certificate issued.
    let recipient = match &enrolment.key_encryption {
        None => None,
        Some(KeyEncryption::Symmetric(_)) => {
            // RFC 7030 §4.4.1.1: without a secret under that identifier the request ends in
            // an error. This server shares no symmetric keys with clients.
            est.app.metrics.est_refused("bad-request");
            return plain(
                StatusCode::BAD_REQUEST,
                "no symmetric key is known under the request's DecryptKeyIdentifier (RFC 7030 §4.4.1.1): \
                 this server encrypts a server-generated key only to the TLS client certificate — name it \
                 by its subjectKeyIdentifier in AsymmetricDecryptKeyIdentifier — or sends it unencrypted \
                 inside the TLS session when neither attribute is present",
            );
        }
        Some(KeyEncryption::Asymmetric(named)) => {
            let Some(leaf) = call.peer.as_ref().and_then(|p| p.chain.first()) else {
                est.app.metrics.est_refused("bad-request");
                return plain(
                    StatusCode::BAD_REQUEST,
                    "AsymmetricDecryptKeyIdentifier names the key to encrypt to, and this server encrypts \
                     only to the TLS client certificate: connect with the certificate it names",
                );
            };
            match Recipient::named_by(leaf, named) {
                Ok(r) => Some(r),
                Err(e) => {
                    est.app.metrics.est_refused("bad-request");
                    return plain(StatusCode::BAD_REQUEST, e.to_string());
                }
            }
        }
    };
    let (pkcs8, spki) = match make_key(&offered.record.profile.key_algorithms) {
        Ok(k) => k,
        Err(why) => return forbidden(est, "policy", why),
    };
    let names = enrolment.csr.names.clone();
    let issued = match issue(
        est,
        offered,
        caller,
        SubjectKey::PublicKey(spki),
        names,
        None,
    )
    .await
    {
        Ok(i) => i,
        Err(r) => return r,
    };
    let certs = match strongroom_x509::pkcs7::certs_only(&[&issued.der]) {
        Ok(c) => c,
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let form = offered.settings.base64_form();
    let reply = match &recipient {
        None => server_keygen_reply(KeyPart::Pkcs8(&pkcs8), &certs, form),
        Some(recipient) => {
            let sealed = match seal(est, offered, &pkcs8, recipient).await {
                Ok(s) => s,
                Err(r) => return r,
            };
            server_keygen_reply(KeyPart::Encrypted(&sealed), &certs, form)
        }
    };
    drop(pkcs8);
    let content_type = reply.content_type.clone();
    // The body is copied into the response once (freed, not wiped, once sent); the reply's
    // own buffer is wiped when dropped.
    ([(header::CONTENT_TYPE, content_type)], reply.body.to_vec()).into_response()
}

/// The key in an AsymmetricKeyPackage, signed by the CA's key generator in the signer (which
/// sees only its digest), encrypted to `recipient`: the `server-generated-key` part's DER.
/// The certificate is already issued and recorded; a failure here loses only this reply.
async fn seal(
    est: &Est,
    offered: &Offered,
    pkcs8: &[u8],
    recipient: &Recipient,
) -> Result<Vec<u8>, Response> {
    let internal =
        |e: strongroom_est::EstError| plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let package = key_package(pkcs8).map_err(internal)?;
    let signed = est
        .app
        .signer
        .sign_est_key_package(offered.ca().clone(), package_digest(&package))
        .await
        .map_err(signer_trouble)?;
    let generator = KeyGenerator {
        signed_attributes: &signed.signed_attributes,
        signature: &signed.signature,
        certificate: &signed.certificate,
    };
    encrypted_key_part(&package, generator, recipient).map_err(internal)
}

fn failed<E>(_: E) -> String {
    "the front could not make a key".to_string()
}

/// A new key pair: its PKCS#8 DER (wiped when dropped) and its SubjectPublicKeyInfo.
fn make_key(allowed: &[KeyAlgorithm]) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), String> {
    let rng = SystemRandom::new();
    for algorithm in allowed {
        let (ec, prefix) = match algorithm {
            KeyAlgorithm::EcdsaP256 => (&ECDSA_P256_SHA256_ASN1_SIGNING, P256_SPKI),
            KeyAlgorithm::EcdsaP384 => (&ECDSA_P384_SHA384_ASN1_SIGNING, P384_SPKI),
            KeyAlgorithm::Ed25519 => {
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(failed)?;
                let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
                let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(failed)?;
                return Ok((pkcs8, [ED25519_SPKI, pair.public_key().as_ref()].concat()));
            }
            _ => continue,
        };
        let doc = EcdsaKeyPair::generate_pkcs8(ec, &rng).map_err(failed)?;
        let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
        let pair = EcdsaKeyPair::from_pkcs8(ec, &pkcs8, &rng).map_err(failed)?;
        return Ok((pkcs8, [prefix, pair.public_key().as_ref()].concat()));
    }
    Err("the profile takes only RSA keys, which the front does not make; send a CSR to simpleenroll, or allow an ECDSA or Ed25519 key in the profile".into())
}

/// Issues under the label's profile and records the certificate with its audit event.
async fn issue(
    est: &Est,
    offered: &Offered,
    caller: &Caller,
    subject_key: SubjectKey,
    names: Vec<RequestedName>,
    replaces: Option<i64>,
) -> Result<IssuedCertificate, Response> {
    let label = offered.settings.name.clone();
    let request = IssuanceRequest {
        profile: offered.name.clone(),
        subject_key,
        names,
        validity_secs: None,
    };
    let issued = match est.app.signer.issue_certificate(request).await {
        Ok(i) => i,
        Err(CallError::Refused {
            kind: ErrorKind::PolicyDenied | ErrorKind::BadRequest,
            detail,
        }) => {
            return Err(forbidden(
                est,
                "policy",
                format!("the policy of profile {} refused: {detail}", offered.name),
            ))
        }
        Err(e) => return Err(signer_trouble(e)),
    };
    let actor = caller.actor(&label);
    let row = record_issued(
        &issued,
        Provenance {
            profile: offered.name.to_string(),
            source: CertificateSource::Est,
            owner: format!("est:{label}"),
            team: None,
            tags: vec!["est".into()],
            replaces,
        },
    )
    .map_err(|e| {
        tracing::error!(serial = %issued.serial, error = %e, "EST: an issued certificate cannot be recorded; reconcile from the signer's journal");
        plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    })?;
    let serial = issued.serial.clone();
    let profile = offered.name.clone();
    let event = move |id: i64| NewAuditEvent {
        actor,
        action: if replaces.is_some() {
            "est.certificate.renew".into()
        } else {
            "est.certificate.issue".into()
        },
        target: format!("certificate:{id}"),
        outcome: AuditOutcome::Ok,
        detail: format!("label={label} profile={profile} serial={serial}"),
    };
    if let Err(e) = est
        .app
        .store
        .insert_certificate_audited(&row, event, est.app.now())
        .await
    {
        // The signer's journal holds it; control's reconciliation files it.
        tracing::error!(serial = %issued.serial, error = %e, "EST: an issued certificate cannot be recorded yet; reconcile from the signer's journal");
    }
    Ok(issued)
}

/// The certificate as RFC 7030 §4.2.3 sends it.
fn certificate_reply(offered: &Offered, issued: &IssuedCertificate) -> Response {
    certs_reply(offered, &issued.der)
}

/// A certificate (DER) as RFC 7030 §4.2.3 sends it.
pub(super) fn certs_reply(offered: &Offered, der: &[u8]) -> Response {
    match strongroom_x509::pkcs7::certs_only(&[der]) {
        Ok(der) => {
            let mut r = super::base64_reply(
                "application/pkcs7-mime",
                &der,
                offered.settings.base64_form(),
            );
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/pkcs7-mime; smime-type=certs-only"),
            );
            r
        }
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
