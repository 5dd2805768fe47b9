//! The listeners shared by control and front: HTTPS, and plain HTTP for the front's
//! public OCSP and CRL port.
//!
//! In: a [`ListenerCert`] (key, profile, names, validity, client-certificate CAs), the
//! signer socket, an axum router. Out: a TLS server whose P-256 key is the daemon's own
//! listener key in the HSM, signing each handshake through the signer (`key = "hsm"`,
//! module `hsm_key`), or a fresh key made in memory at start-up and never written to disk
//! (`key = "memory"`); a certificate for it from the signer; optional client certificate
//! verification against our own CAs; HTTP/1.1 with a header-read timeout and a connection
//! cap. A verified client certificate's fingerprint rides in each request's
//! extensions as a [`PeerCertificate`], the client's address as axum's `ConnectInfo`.
//! [`record_listener`] puts the listener certificate into the inventory; [`serve_plain`]
//! is the same accept loop without TLS (the front's public OCSP and CRL port).

mod deadline;
mod hsm_key;
mod inventory;
pub mod metrics;
mod serve;
pub use inventory::record_listener;
pub use serve::{serve_plain, serve_tls};

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strongroom_types::{CaId, ProfileName, RequestedName};
use strongroom_wire::{ClientError, IssuanceRequest, Request, Response, SignerClient, SubjectKey};

/// Where the listener's private key lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKeyKind {
    /// The daemon's own listener key in the HSM (the signer's `ListenerKey`); every
    /// handshake is signed by the signer (`SignTlsHandshake`). ARCHITECTURE.md §4.
    #[default]
    Hsm,
    /// A fresh key made in this process's memory at every start (development, or a signer
    /// whose allow-list lacks the listener-key operations).
    Memory,
}

/// The listener certificate: issued by the signer under `profile` at every start, for the
/// daemon's listener key in the HSM or for a key made in memory, so no TLS key ever sits on
/// disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerCert {
    /// Where the key lives (default `hsm`).
    #[serde(default)]
    pub key: ListenerKeyKind,
    /// The profile the listener certificate is issued under.
    pub profile: ProfileName,
    /// Its names (`ip:127.0.0.1`, `dns:ca.example.com`).
    pub names: Vec<RequestedName>,
    /// Its validity (default 7 days; a new one at every start).
    #[serde(default = "default_tls_validity")]
    pub validity_secs: u64,
    /// CAs whose client certificates are verified (mutual TLS; optional). What a verified
    /// certificate may do is the application's decision.
    #[serde(default)]
    pub client_auth_cas: Vec<CaId>,
}

fn default_tls_validity() -> u64 {
    7 * 86_400
}

/// The SHA-256 fingerprint of the connection's verified client certificate, in every
/// request's extensions.
#[derive(Debug, Clone)]
pub struct PeerCertificate {
    /// Colon-separated upper-case hex, as the inventory stores it.
    pub fingerprint: String,
}

async fn signer_call(socket: &Path, request: Request) -> Result<Response, String> {
    let socket: PathBuf = socket.to_path_buf();
    let answer = tokio::task::spawn_blocking(move || {
        SignerClient::connect(&socket).and_then(|mut c| c.call(&request))
    })
    .await
    .map_err(|e| e.to_string())?;
    match answer {
        Ok(Response::Error(e)) | Err(ClientError::Signer(e)) => Err(e.to_string()),
        Ok(r) => Ok(r),
        Err(e) => Err(format!("the signer is not answering: {e}")),
    }
}

/// SubjectPublicKeyInfo prefix for an uncompressed P-256 point (id-ecPublicKey,
/// prime256v1, BIT STRING of 66 bytes): the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A listener's TLS configuration and the certificate the signer issued for it.
pub struct Listener {
    /// The rustls configuration.
    pub tls: ServerConfig,
    /// One line for the log: serial, notAfter and where the key is.
    pub about: String,
    /// The certificate (for the inventory: [`record_listener`]).
    pub issued: strongroom_wire::IssuedCertificate,
}

// By hand: the TLS configuration holds the listener's private key.
impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

/// The listener's key as the TLS configuration will hold it.
enum KeyMaterial {
    /// PKCS#8 of a key made in memory.
    Memory(PrivateKeyDer<'static>),
    /// The listener key in the HSM.
    Hsm(Arc<hsm_key::HsmListenerKey>),
}

/// A P-256 key made in memory, and its SubjectPublicKeyInfo.
fn memory_key() -> Result<(Vec<u8>, KeyMaterial), String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| "cannot generate the TLS key".to_string())?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "cannot read back the TLS key".to_string())?;
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()));
    Ok((spki, KeyMaterial::Memory(key)))
}

/// The daemon's listener key in the HSM (made by the signer on the first call), checked with
/// one signature before any client depends on it.
async fn hsm_key(signer_socket: &Path) -> Result<(Vec<u8>, KeyMaterial, String), String> {
    let (spki, uri) = match signer_call(signer_socket, Request::ListenerKey)
        .await
        .map_err(|e| {
            format!(
                "the signer did not give the listener key: {e} (its [[peer]] entry for this daemon needs ListenerKey and SignTlsHandshake; or set [tls] key = \"memory\")"
            )
        })? {
        Response::ListenerKey { public_key, uri } => (public_key, uri),
        other => return Err(format!("unexpected signer answer {other:?}")),
    };
    if spki.len() != P256_SPKI_PREFIX.len() + 65 || !spki.starts_with(&P256_SPKI_PREFIX) {
        return Err("the signer's listener key is not an ECDSA P-256 key".into());
    }
    let key = Arc::new(hsm_key::HsmListenerKey::new(
        spki.clone(),
        signer_socket.to_path_buf(),
    ));
    // A TLS 1.3 CertificateVerify input over an all-zero transcript hash: the shape the
    // signer accepts, signed once and verified here.
    let probe = [
        [0x20u8; 64].as_slice(),
        b"TLS 1.3, server CertificateVerify\0",
        &[0u8; 32],
    ]
    .concat();
    let signature = {
        let key = key.clone();
        let probe = probe.clone();
        tokio::task::spawn_blocking(move || key.sign_blocking(&probe))
            .await
            .map_err(|e| e.to_string())?
    }
    .map_err(|e| {
        format!("the signer does not sign with the listener key: {e} (its [[peer]] entry for this daemon needs SignTlsHandshake; or set [tls] key = \"memory\")")
    })?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        &spki[P256_SPKI_PREFIX.len()..],
    )
    .verify(&probe, &signature)
    .map_err(|_| "the signer's listener-key signature does not verify".to_string())?;
    Ok((spki, KeyMaterial::Hsm(key), uri))
}

/// Builds the listener's TLS configuration around its key (in the HSM or made in memory,
/// as `spec.key` says) and a certificate the signer issues for it now.
pub async fn server_config(spec: &ListenerCert, signer_socket: &Path) -> Result<Listener, String> {
    let (spki, key, where_key) = match spec.key {
        ListenerKeyKind::Memory => {
            let (spki, key) = memory_key()?;
            (spki, key, "a key made in memory".to_string())
        }
        ListenerKeyKind::Hsm => {
            let (spki, key, uri) = hsm_key(signer_socket).await?;
            (spki, key, format!("the HSM key {uri}"))
        }
    };
    let issued = match signer_call(
        signer_socket,
        Request::IssueCertificate(IssuanceRequest {
            profile: spec.profile.clone(),
            subject_key: SubjectKey::PublicKey(spki),
            names: spec.names.clone(),
            validity_secs: Some(spec.validity_secs),
        }),
    )
    .await
    .map_err(|e| {
        format!(
            "the signer did not issue the listener certificate (profile {}): {e}",
            spec.profile
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

    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if spec.client_auth_cas.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in &spec.client_auth_cas {
            let chain = match signer_call(signer_socket, Request::GetCaChain { ca: ca.clone() })
                .await
                .map_err(|e| format!("client_auth_cas: CA {ca}: {e}"))?
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
    let mut tls = match key {
        KeyMaterial::Memory(key) => builder
            .with_single_cert(chain, key)
            .map_err(|e| format!("TLS certificate: {e}"))?,
        KeyMaterial::Hsm(key) => {
            let certified = CertifiedKey::new(chain, key);
            // Security: the certificate must be for the key that signs the handshakes.
            certified
                .keys_match()
                .map_err(|e| format!("TLS certificate: {e}"))?;
            builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)))
        }
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Listener {
        tls,
        about: format!(
            "serial {} valid until {}, {where_key}",
            summary.serial, summary.not_after
        ),
        issued,
    })
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
