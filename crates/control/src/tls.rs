//! The listener's TLS: a fresh P-256 key made in memory at start-up (never written to
//! disk), a certificate for it from the signer under the configured profile, and optional
//! client-certificate verification against our own CAs.
//!
//! In: the configuration and the signer. Out: a rustls [`ServerConfig`] and the
//! certificate's expiry.

use crate::config::Config;
use crate::problem::Problem;
use crate::signer_link::SignerLink;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::sync::Arc;
use strongroom_wire::{IssuanceRequest, Request, Response, SubjectKey};

/// SubjectPublicKeyInfo prefix for an uncompressed P-256 point (id-ecPublicKey,
/// prime256v1, BIT STRING of 66 bytes): the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the listener's TLS configuration; returns it with the certificate's notAfter.
pub async fn server_config(
    config: &Config,
    signer: &SignerLink,
) -> Result<(ServerConfig, String), String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| "cannot generate the TLS key".to_string())?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "cannot read back the TLS key".to_string())?;
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let issued = match signer
        .call(Request::IssueCertificate(IssuanceRequest {
            profile: config.tls.profile.clone(),
            subject_key: SubjectKey::PublicKey(spki),
            names: config.tls.names.clone(),
            validity_secs: Some(config.tls.validity_secs),
        }))
        .await
        .map_err(|p: Problem| {
            format!(
                "the signer did not issue the listener certificate (profile {}): {}",
                config.tls.profile, p.detail
            )
        })? {
        Response::Certificate(c) => c,
        other => return Err(format!("unexpected signer answer {other:?}")),
    };
    let summary =
        strongroom_x509::CertificateSummary::from_der(&issued.der).map_err(|e| e.to_string())?;
    // The chain sent to clients: leaf and intermediates (not the root they must already trust).
    let mut chain = vec![CertificateDer::from(issued.der.clone())];
    let intermediates = issued.chain.len().saturating_sub(1);
    chain.extend(
        issued
            .chain
            .iter()
            .take(intermediates)
            .cloned()
            .map(CertificateDer::from),
    );
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()));

    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if config.tls.client_auth_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in &config.tls.client_auth_cas {
            let chain = match signer
                .call(Request::GetCaChain { ca: ca.clone() })
                .await
                .map_err(|p| format!("client_auth_cas: CA {ca}: {}", p.detail))?
            {
                Response::CaChain(c) => c,
                other => return Err(format!("unexpected signer answer {other:?}")),
            };
            let first = chain
                .first()
                .ok_or_else(|| format!("CA {ca} has an empty chain"))?;
            roots
                .add(CertificateDer::from(first.clone()))
                .map_err(|e| format!("client_auth_cas: CA {ca}: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| e.to_string())?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut tls = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((
        tls,
        format!(
            "serial {} valid until {}",
            summary.serial, summary.not_after
        ),
    ))
}
