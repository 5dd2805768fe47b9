//! Building a listener's TLS configuration.
//!
//! In: a validated [`ListenerCert`], the daemon's [`SignerLink`]. Out: a [`Listener`]: a rustls
//! server configuration whose certificate comes from a [`CurrentCert`] (so it can be
//! swapped while the daemon serves), the certificate the signer issued (for the inventory),
//! and the [`Keeper`] that keeps it current. The key is the daemon's listener key in the
//! HSM (checked with one signature before any client depends on it), a key made in memory,
//! or the operator's key file.

use crate::client_trust::ClientTrust;
use crate::current_cert::CurrentCert;
use crate::keeper::Keeper;
use crate::{hsm_key, operator_cert, provider, ListenerCert, ListenerKeyKind};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SigningKey};
use rustls::ServerConfig;
use std::sync::Arc;
use strongroom_signer_client::SignerLink;
use strongroom_wire::{IssuanceRequest, IssuedCertificate, SubjectKey};

/// A listener's TLS configuration and what keeps its certificate current.
pub struct Listener {
    /// The rustls configuration.
    pub tls: ServerConfig,
    /// One line for the log: serial, notAfter and where the key is.
    pub about: String,
    /// The certificate the signer issued (for the inventory: [`crate::record_listener`]);
    /// none for the operator's own.
    pub issued: Option<IssuedCertificate>,
    /// Renews or reloads the certificate: run it with [`crate::keep_current`].
    pub keeper: Keeper,
    /// The client-certificate trust, when the listener asks for client certificates: the
    /// application replaces its extra anchors with [`ClientTrust::set_extra`].
    pub client_trust: Option<Arc<ClientTrust>>,
}

// By hand: the TLS configuration holds the listener's private key.
impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("about", &self.about)
            .finish_non_exhaustive()
    }
}

/// SubjectPublicKeyInfo prefix for an uncompressed P-256 point (id-ecPublicKey,
/// prime256v1, BIT STRING of 66 bytes): the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 key made in memory, and its SubjectPublicKeyInfo.
fn memory_key() -> Result<(Vec<u8>, Arc<dyn SigningKey>), String> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| "cannot generate the TLS key".to_string())?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| "cannot read back the TLS key".to_string())?;
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(pair.public_key().as_ref());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec()));
    let key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("cannot load the TLS key: {e}"))?;
    Ok((spki, key))
}

/// The daemon's listener key in the HSM (made by the signer on the first call), checked with
/// one signature before any client depends on it.
async fn hsm_key(signer: &SignerLink) -> Result<(Vec<u8>, Arc<dyn SigningKey>, String), String> {
    let (spki, uri) = signer.listener_key().await.map_err(|e| {
        format!(
            "the signer did not give the listener key: {e} (its [[peer]] entry for this daemon needs ListenerKey and SignTlsHandshake; or set [tls] key = \"memory\")"
        )
    })?;
    if spki.len() != P256_SPKI_PREFIX.len() + 65 || !spki.starts_with(&P256_SPKI_PREFIX) {
        return Err("the signer's listener key is not an ECDSA P-256 key".into());
    }
    let key = Arc::new(hsm_key::HsmListenerKey::new(
        spki.clone(),
        signer.socket().to_path_buf(),
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
    Ok((spki, key as Arc<dyn SigningKey>, uri))
}

/// Builds the listener's TLS configuration around its key (in the HSM, made in memory, or
/// the operator's, as `spec.key` says) and its certificate: one the signer issues now, or
/// the operator's. Client certificates are asked for when `spec.client_auth_cas` or
/// `extra_client_anchors` (DER certificates, replaceable later through
/// [`Listener::client_trust`]) name any.
pub async fn listener(
    spec: &ListenerCert,
    signer: &SignerLink,
    extra_client_anchors: &[Vec<u8>],
) -> Result<Listener, String> {
    spec.validate()?;
    let (certified, about, issued, keeper) = match spec.key {
        ListenerKeyKind::File => {
            let loaded = operator_cert::load(spec)?;
            let about = format!("{}, the operator's certificate", loaded.about);
            let current = Arc::new(CurrentCert::new(loaded.certified.clone()));
            let keeper = Keeper::operator(spec, current.clone(), loaded)?;
            (current, about, None, keeper)
        }
        ListenerKeyKind::Memory | ListenerKeyKind::Hsm => {
            let (spki, key, where_key) = match spec.key {
                ListenerKeyKind::Hsm => {
                    let (spki, key, uri) = hsm_key(signer).await?;
                    (spki, key, format!("the HSM key {uri}"))
                }
                _ => {
                    let (spki, key) = memory_key()?;
                    (spki, key, "a key made in memory".to_string())
                }
            };
            let (issued, certified, summary) = issue(spec, signer, &spki, &key).await?;
            let about = format!(
                "serial {} valid until {}, {where_key}",
                summary.serial,
                strongroom_types::time::rfc3339(summary.not_after)
            );
            let current = Arc::new(CurrentCert::new(certified));
            let keeper =
                Keeper::signer(spec, signer, spki, key, current.clone(), summary.not_after);
            (current, about, Some(issued), keeper)
        }
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let (builder, client_trust) =
        if spec.client_auth_cas.is_empty() && extra_client_anchors.is_empty() {
            (builder.with_no_client_auth(), None)
        } else {
            let mut base = Vec::new();
            for ca in &spec.client_auth_cas {
                let chain = signer
                    .ca_chain(ca.clone())
                    .await
                    .map_err(|e| format!("client_auth_cas: CA {ca}: {e}"))?;
                let first = chain
                    .first()
                    .ok_or_else(|| format!("CA {ca} has an empty chain"))?;
                base.push(first.clone());
            }
            let trust = Arc::new(ClientTrust::new(base, extra_client_anchors)?);
            (
                builder.with_client_cert_verifier(trust.clone()),
                Some(trust),
            )
        };
    let mut tls = builder.with_cert_resolver(certified);
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Listener {
        tls,
        about,
        issued,
        keeper,
        client_trust,
    })
}

/// A certificate from the signer for `spki` under `spec`'s profile, names and validity,
/// ready to serve with `key`.
pub(crate) async fn issue(
    spec: &ListenerCert,
    signer: &SignerLink,
    spki: &[u8],
    key: &Arc<dyn SigningKey>,
) -> Result<
    (
        IssuedCertificate,
        CertifiedKey,
        strongroom_x509::CertificateSummary,
    ),
    String,
> {
    let profile = spec
        .profile
        .clone()
        .ok_or("tls.profile is required for a certificate the signer issues")?;
    let issued = signer
        .issue_certificate(IssuanceRequest {
            profile: profile.clone(),
            subject_key: SubjectKey::PublicKey(spki.to_vec()),
            names: spec.names.clone(),
            validity_secs: Some(spec.validity_secs),
        })
        .await
        .map_err(|e| {
            format!("the signer did not issue the listener certificate (profile {profile}): {e}")
        })?;
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
    let certified = CertifiedKey::new(chain, key.clone());
    // Security: the certificate must be for the key that signs the handshakes.
    certified
        .keys_match()
        .map_err(|e| format!("TLS certificate: {e}"))?;
    Ok((issued, certified, summary))
}
