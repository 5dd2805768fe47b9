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
    /// The certificates the signer issued (for the inventory: [`crate::record_listener`]):
    /// the listener's, and its standby's when it has one; none for the operator's own.
    pub issued: Vec<IssuedCertificate>,
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

impl Listener {
    /// Records the certificates the signer issued for this listener (its own and its
    /// standby's) in `store`'s inventory as `daemon`'s listener, and logs where the key is;
    /// the inventory ids (none for the operator's own certificate).
    pub async fn record(
        &self,
        store: &strongroom_store::Store,
        spec: &ListenerCert,
        daemon: &str,
        now: i64,
    ) -> Result<Vec<i64>, String> {
        let mut ids = Vec::new();
        if let Some(profile) = &spec.profile {
            for issued in &self.issued {
                ids.push(crate::record_listener(store, issued, profile, daemon, now).await?);
            }
        }
        if ids.is_empty() {
            tracing::info!(certificate = %self.about, "listener certificate");
        } else {
            tracing::info!(certificate = %self.about, inventory_ids = ?ids, "listener certificate issued by the signer");
        }
        Ok(ids)
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
async fn hsm_key(
    signer: &SignerLink,
) -> Result<(Vec<u8>, Arc<hsm_key::HsmListenerKey>, String), String> {
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
    // Signed once and verified here.
    let probe = hsm_key::probe_message();
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
    Ok((spki, key, uri))
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
            (current, about, Vec::new(), keeper)
        }
        ListenerKeyKind::Memory | ListenerKeyKind::Hsm => {
            let (spki, key, where_key, health) = match spec.key {
                ListenerKeyKind::Hsm => {
                    let (spki, key, uri) = hsm_key(signer).await?;
                    let health = key.health();
                    (
                        spki,
                        key as Arc<dyn SigningKey>,
                        format!("the HSM key {uri}"),
                        Some(health),
                    )
                }
                _ => {
                    let (spki, key) = memory_key()?;
                    (spki, key, "a key made in memory".to_string(), None)
                }
            };
            let (issued, certified, summary) = issue(spec, signer, &spki, &key).await?;
            let mut about = format!(
                "serial {} valid until {}, {where_key}",
                summary.serial,
                strongroom_types::time::rfc3339(summary.not_after)
            );
            let mut all_issued = vec![issued];
            let (current, standby) = match health {
                Some(health) if spec.standby_key => {
                    let (standby_spki, standby_key) = memory_key()?;
                    let (standby_issued, standby_certified, standby_summary) =
                        issue(spec, signer, &standby_spki, &standby_key).await?;
                    about.push_str(&format!(
                        "; standby serial {} (key in memory) served while the HSM does not sign handshakes",
                        standby_summary.serial
                    ));
                    all_issued.push(standby_issued);
                    (
                        CurrentCert::with_standby(certified, standby_certified, health),
                        Some((standby_spki, standby_key)),
                    )
                }
                _ => (CurrentCert::new(certified), None),
            };
            let current = Arc::new(current);
            let keeper = Keeper::signer(
                spec,
                signer,
                (spki, key),
                standby,
                current.clone(),
                summary.not_after,
            );
            (current, about, all_issued, keeper)
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
