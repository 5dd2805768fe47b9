//! CertRep: the reply to a PKIOperation, signed by the CA's RA key in the HSM.
//!
//! In: the parsed request (for its transactionID, nonce and the certificate to encrypt to)
//! and the outcome: a certs-only PKCS#7 to deliver, a failInfo, or PENDING. Out: the DER
//! `application/x-pki-message`. The content is encrypted here with AES-256-CBC (never DES,
//! whatever the device used) to the certificate that signed the request; the signer builds
//! and signs the attributes, and the front wraps them in the SignedData.

use super::Scep;
use crate::metrics::Outcome;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use strongroom_scep::PkiRequest;
use strongroom_types::scep::{ContentCipher, ScepDigest, ScepFailInfo, ScepPkiStatus};
use strongroom_types::CaId;
use strongroom_wire::ScepReplyRequest;

/// What the reply says.
#[derive(Debug)]
pub enum Answer {
    /// SUCCESS, delivering this certs-only PKCS#7 (the issued or asked-for certificate).
    Deliver(Vec<u8>),
    /// FAILURE with this failInfo; `why` goes to the log, not to the device.
    Fail(ScepFailInfo, String),
    /// PENDING: the request waits for approval (no failInfo, no content); the device
    /// polls with the same transactionID.
    Pending,
}

/// The CertRep for `request`, or a plain error when even that cannot be made.
pub async fn cert_rep(scep: &Scep, ca: &CaId, request: &PkiRequest, answer: Answer) -> Response {
    let (status, fail_info, encapsulated, outcome) = match answer {
        Answer::Deliver(content) => {
            let envelope = match strongroom_scep::reply_envelope(
                &request.signer_certificate,
                &content,
                reply_cipher(request.envelope.cipher),
                &mut strongroom_scep::SystemRandom,
            ) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(transaction = %request.transaction_id, error = %e, "SCEP: cannot encrypt the reply to the device's certificate");
                    return super::plain(
                        axum::http::StatusCode::BAD_REQUEST,
                        format!("the reply cannot be encrypted to the certificate that signed the request: {e}"),
                    );
                }
            };
            (ScepPkiStatus::Success, None, Some(envelope), "success")
        }
        Answer::Pending => {
            tracing::info!(transaction = %request.transaction_id, "SCEP request pending approval");
            (ScepPkiStatus::Pending, None, None, "pending")
        }
        Answer::Fail(info, why) => {
            tracing::info!(transaction = %request.transaction_id, fail_info = info.as_str(), reason = %why, "SCEP request refused");
            (ScepPkiStatus::Failure, Some(info), None, info.as_str())
        }
    };
    let content_digest = Sha256::digest(encapsulated.as_deref().unwrap_or_default()).to_vec();
    let signed = match scep
        .app
        .signer
        .sign_scep_reply(ScepReplyRequest {
            ca: ca.clone(),
            pki_status: status,
            fail_info,
            transaction_id: request.transaction_id.clone(),
            recipient_nonce: request.sender_nonce.clone(),
            content_digest,
        })
        .await
    {
        Ok(s) => s,
        Err(e) => return super::signer_trouble(e),
    };
    match strongroom_scep::assemble_cert_rep(
        encapsulated.as_deref(),
        &signed.ra_certificate,
        &signed.signed_attributes,
        &signed.signature,
        ScepDigest::Sha256,
    ) {
        Ok(der) => {
            let mut response =
                ([(header::CONTENT_TYPE, "application/x-pki-message")], der).into_response();
            response.extensions_mut().insert(Outcome(outcome));
            response
        }
        Err(e) => super::plain(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot assemble the CertRep: {e}"),
        ),
    }
}

/// AES of the request's size when it used AES, else AES-256: never DES in a reply (OpenSSL
/// 3 clients cannot decrypt it, and it protects a certificate poorly).
fn reply_cipher(request: ContentCipher) -> ContentCipher {
    match request {
        ContentCipher::Aes128Cbc | ContentCipher::Aes192Cbc | ContentCipher::Aes256Cbc => request,
        ContentCipher::DesEde3Cbc | ContentCipher::DesCbc => ContentCipher::Aes256Cbc,
    }
}
