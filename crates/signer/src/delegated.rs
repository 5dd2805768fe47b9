//! Delegated keys: keys the signer makes in the HSM for one narrow job and has one of its
//! CAs certify — the audit checkpoint key, the OCSP responder key, the SCEP registration
//! authority key and the EST key generator — so that no CA key ever signs anything but
//! certificates and CRLs.
//!
//! In: a CA and a purpose. Out: the key and its certificate, made on first use
//! (`STATE/<purpose>/<ca>/`) and replaced before the certificate runs out; the one it
//! replaced stays readable as the predecessor (`previous-key.toml`, `previous-cert.der`)
//! for what was addressed to it before the rotation (a device that encrypted its SCEP
//! request to the RA certificate it fetched a minute earlier). Each purpose's
//! certificate carries a reserved DNS label that issuance refuses everywhere else, so a
//! certificate with that name can only be the signer's own.

use crate::ca::LoadedCa;
use crate::dispatch::Signer;
use crate::error::wire_error;
use crate::hsm_signer::{hsm_error, signing_failure, HsmTbsSigner};
use crate::state::write_atomic;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::str::FromStr;
use strongroom_hsm::{Hsm, KeyPurpose, KeyRef, Pkcs11Uri};
use strongroom_types::audit::AUDIT_NAME_LABEL;
use strongroom_types::{ExtendedKeyUsage, KeyAlgorithm, RequestedName};
use strongroom_wire::{ErrorKind, SignerError};
use strongroom_x509::lint::{lint_certificate, Issuer};
use strongroom_x509::{sign_certificate, CertificatePlan, KeyUsageBits, SubjectPlan};
use x509_cert::name::Name;

/// The reserved first label of OCSP responder certificates' names.
pub const OCSP_NAME_LABEL: &str = "strongroom-ocsp-responder";
/// The reserved first label of SCEP registration authority certificates' names.
pub const SCEP_RA_NAME_LABEL: &str = "strongroom-scep-ra";
/// The reserved first label of EST key-generator certificates' names.
pub const EST_KEYGEN_NAME_LABEL: &str = "strongroom-est-keygen";

/// What a delegated key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing audit checkpoints (397 days, renewed 30 days before the end).
    AuditCheckpoint,
    /// Signing OCSP responses for its CA (30 days, renewed 7 days before the end;
    /// EKU OCSPSigning and id-pkix-ocsp-nocheck).
    OcspResponder,
    /// The SCEP registration authority (90 days, renewed 30 days before the end): an RSA
    /// key that decrypts what devices encrypt to its certificate and signs the replies
    /// (keyUsage digitalSignature and keyEncipherment, as strict clients check).
    ScepRa,
    /// EST's key generator (90 days, renewed 30 days before the end): signs the packages
    /// of server-generated keys delivered encrypted (RFC 7030 §4.4.2), nothing else.
    EstKeyGenerator,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::AuditCheckpoint => AUDIT_NAME_LABEL,
            Purpose::OcspResponder => OCSP_NAME_LABEL,
            Purpose::ScepRa => SCEP_RA_NAME_LABEL,
            Purpose::EstKeyGenerator => EST_KEYGEN_NAME_LABEL,
        }
    }
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Purpose::AuditCheckpoint => "audit",
            Purpose::OcspResponder => "ocsp",
            Purpose::ScepRa => "scep-ra",
            Purpose::EstKeyGenerator => "est-keygen",
        }
    }
    fn lifetime(self) -> i64 {
        match self {
            Purpose::AuditCheckpoint => 397 * 86_400,
            Purpose::OcspResponder => 30 * 86_400,
            Purpose::ScepRa | Purpose::EstKeyGenerator => 90 * 86_400,
        }
    }
    fn renew_before(self) -> i64 {
        match self {
            Purpose::AuditCheckpoint | Purpose::ScepRa | Purpose::EstKeyGenerator => 30 * 86_400,
            Purpose::OcspResponder => 7 * 86_400,
        }
    }
    fn unit(self) -> &'static str {
        match self {
            Purpose::AuditCheckpoint => "Audit checkpoints",
            Purpose::OcspResponder => "OCSP responder",
            Purpose::ScepRa => "SCEP registration authority",
            Purpose::EstKeyGenerator => "EST key generator",
        }
    }
    /// The key: RSA for the RA (devices encrypt to it with RSA key transport), P-256 for
    /// the signing-only purposes.
    fn key(self) -> (KeyAlgorithm, KeyPurpose) {
        match self {
            Purpose::ScepRa => (KeyAlgorithm::Rsa2048, KeyPurpose::SigningAndDecryption),
            Purpose::AuditCheckpoint | Purpose::OcspResponder | Purpose::EstKeyGenerator => {
                (KeyAlgorithm::EcdsaP256, KeyPurpose::Signing)
            }
        }
    }
}

/// A delegated key and its certificate.
#[derive(Debug, Clone)]
pub struct Delegated {
    /// The key in the HSM.
    pub key: KeyRef,
    /// Its certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate's notAfter.
    pub not_after: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRecord {
    key_uri: String,
    not_after: i64,
}

/// The notAfter of the CA's current delegated key for `purpose`, from the signer's state;
/// `None` before the first one is made (or when its record does not read: the next use
/// remakes it).
pub fn current_not_after(signer: &Signer, ca: &LoadedCa, purpose: Purpose) -> Option<i64> {
    let path = signer
        .state
        .root()
        .join(purpose.dir())
        .join(ca.record.id.as_str())
        .join("key.toml");
    let text = std::fs::read_to_string(path).ok()?;
    toml::from_str::<KeyRecord>(&text).ok().map(|r| r.not_after)
}

/// Whether a requested name uses a reserved label (refused in issuance).
pub fn is_reserved_name(name: &RequestedName) -> bool {
    match name {
        RequestedName::Dns(d) => d.as_str().split('.').next().is_some_and(|l| {
            l.eq_ignore_ascii_case(AUDIT_NAME_LABEL)
                || l.eq_ignore_ascii_case(OCSP_NAME_LABEL)
                || l.eq_ignore_ascii_case(SCEP_RA_NAME_LABEL)
                || l.eq_ignore_ascii_case(EST_KEYGEN_NAME_LABEL)
        }),
        _ => false,
    }
}

/// The certificate's one DNS name: `<label>.invalid`, or under a permitted DNS subtree of a
/// name-constrained CA.
fn reserved_name(ca: &LoadedCa, label: &str) -> Result<RequestedName, SignerError> {
    let mut candidates = vec![format!("{label}.invalid")];
    for s in &ca.cert.constraints.permitted {
        let text = s.to_string();
        if let Some(base) = text.strip_prefix("dns:") {
            candidates.push(format!("{label}.{}", base.trim_start_matches('.')));
        }
    }
    for c in candidates {
        if let Ok(n) = RequestedName::parse("dns", &c) {
            if ca.cert.constraints.permits(&n) {
                return Ok(n);
            }
        }
    }
    Err(wire_error(
        ErrorKind::BadRequest,
        format!(
            "CA {}'s name constraints leave no DNS name for a {label} certificate; use another CA",
            ca.record.id
        ),
    ))
}

const PREVIOUS_RECORD: &str = "previous-key.toml";
const PREVIOUS_CERT: &str = "previous-cert.der";

/// The key `purpose`'s current key replaced, while its certificate is still valid at `now`
/// (none before the first rotation). Callers hold the delegated-key lock.
pub fn previous_delegated_key(
    signer: &Signer,
    hsm: &Hsm,
    ca: &LoadedCa,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Delegated>, SignerError> {
    let dir = signer
        .state
        .root()
        .join(purpose.dir())
        .join(ca.record.id.as_str());
    let record_path = dir.join(PREVIOUS_RECORD);
    let (Ok(text), Ok(cert_der)) = (
        std::fs::read_to_string(&record_path),
        std::fs::read(dir.join(PREVIOUS_CERT)),
    ) else {
        return Ok(None);
    };
    let record: KeyRecord = toml::from_str(&text).map_err(|e| {
        wire_error(
            ErrorKind::Internal,
            format!("{}: {e}", record_path.display()),
        )
    })?;
    if record.not_after <= now {
        return Ok(None);
    }
    let uri: Pkcs11Uri = record.key_uri.parse().map_err(|e| {
        wire_error(
            ErrorKind::Internal,
            format!("{}: {e}", record_path.display()),
        )
    })?;
    let key = hsm.find_key(&uri).map_err(|e| hsm_error(&e))?;
    Ok(Some(Delegated {
        key,
        cert_der,
        not_after: record.not_after,
    }))
}

/// The CA's delegated key for `purpose`, made or renewed as needed. Callers serialise
/// calls (the signer's delegated-key lock).
pub fn delegated_key(
    signer: &Signer,
    hsm: &Hsm,
    ca: &LoadedCa,
    purpose: Purpose,
    now: i64,
) -> Result<Delegated, SignerError> {
    let dir = signer
        .state
        .root()
        .join(purpose.dir())
        .join(ca.record.id.as_str());
    let record_path = dir.join("key.toml");
    let cert_path = dir.join("cert.der");
    if let (Ok(text), Ok(der)) = (
        std::fs::read_to_string(&record_path),
        std::fs::read(&cert_path),
    ) {
        let record: KeyRecord = toml::from_str(&text).map_err(|e| {
            wire_error(
                ErrorKind::Internal,
                format!("{}: {e}", record_path.display()),
            )
        })?;
        if record.not_after - now > purpose.renew_before() {
            let uri: Pkcs11Uri = record.key_uri.parse().map_err(|e| {
                wire_error(
                    ErrorKind::Internal,
                    format!("{}: {e}", record_path.display()),
                )
            })?;
            let key = hsm.find_key(&uri).map_err(|e| hsm_error(&e))?;
            return Ok(Delegated {
                key,
                cert_der: der,
                not_after: record.not_after,
            });
        }
    }
    // A new key (the old one, if any, stays in the token for verifying old checkpoints).
    // The label carries random bytes besides the time: a rotation in the same second as
    // the key it replaces (a forced renewal, a test) must not collide with that key's label.
    let mut tag = [0u8; 4];
    signer
        .entropy
        .fill(&mut tag)
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    let label = format!(
        "strongroom-{}-{}-{now}-{}",
        purpose.dir(),
        ca.record.id,
        hex::encode(tag)
    );
    let (algorithm, key_purpose) = purpose.key();
    let key = hsm
        .generate_key(&label, algorithm, key_purpose)
        .map_err(|e| hsm_error(&e))?;
    let not_after = (now + purpose.lifetime()).min(ca.cert.not_after);
    let key_usage = KeyUsageBits {
        digital_signature: true,
        key_encipherment: purpose == Purpose::ScepRa,
        ..Default::default()
    };
    let (cert_der, serial) = certify(
        signer,
        hsm,
        ca,
        purpose,
        &key.public_key_der,
        not_after,
        now,
        key_usage,
    )?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| wire_error(ErrorKind::Internal, format!("{}: {e}", dir.display())))?;
    let io = |e: std::io::Error| wire_error(ErrorKind::Internal, format!("{}: {e}", dir.display()));
    // The one being replaced becomes the predecessor (certificate first, so a crash between
    // the two renames leaves at worst a predecessor without its record, which is ignored).
    if record_path.exists() && cert_path.exists() {
        std::fs::rename(&cert_path, dir.join(PREVIOUS_CERT)).map_err(io)?;
        std::fs::rename(&record_path, dir.join(PREVIOUS_RECORD)).map_err(io)?;
    }
    write_atomic(&cert_path, &cert_der, 0o644).map_err(io)?;
    let record = toml::to_string(&KeyRecord {
        key_uri: key.uri.to_string(),
        not_after,
    })
    .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    write_atomic(&record_path, record.as_bytes(), 0o600).map_err(io)?;
    signer
        .journal()
        .append_durable(now, "delegated-key", &json!({"purpose": purpose.dir(), "ca": ca.record.id.as_str(), "key_uri": key.uri.to_string(), "serial": serial.to_string(), "not_after": not_after}))
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    Ok(Delegated {
        key,
        cert_der,
        not_after,
    })
}

/// A certificate from `ca` for a delegated key of `purpose` (its reserved name, the CA's
/// URLs, `key_usage`), linted and signed with the CA key in the HSM: the DER and its serial.
#[allow(clippy::too_many_arguments)] // one call per certificate kind; a struct would only rename them
pub(crate) fn certify(
    signer: &Signer,
    hsm: &Hsm,
    ca: &LoadedCa,
    purpose: Purpose,
    public_key_der: &[u8],
    not_after: i64,
    now: i64,
    key_usage: KeyUsageBits,
) -> Result<(Vec<u8>, strongroom_types::Serial), SignerError> {
    let name = reserved_name(ca, purpose.label())?;
    let cn = match &name {
        RequestedName::Dns(d) => d.as_str().to_string(),
        other => other.to_string(),
    };
    // The linter wants the CN to repeat a SAN; OU says what the certificate is for.
    let subject = Name::from_str(&format!("CN={cn},OU={},O=Strongroom", purpose.unit()))
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    let serial = crate::issuance::fresh_serial(signer.entropy.as_ref())
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    let plan = CertificatePlan {
        serial: serial.clone(),
        signature: ca.record.signature,
        issuer_name: ca.cert.subject.clone(),
        issuer_key_id: ca.cert.key_id.clone(),
        not_before: (now - 60).max(ca.cert.not_before),
        not_after,
        subject: SubjectPlan {
            name: subject,
            public_key_der: public_key_der.to_vec(),
        },
        ca: None,
        key_usage,
        extended_key_usage: if purpose == Purpose::OcspResponder {
            vec![ExtendedKeyUsage::OcspSigning]
        } else {
            vec![]
        },
        names: vec![name],
        crl_urls: ca.record.crl_url.clone().into_iter().collect(),
        ocsp_urls: ca.record.ocsp_url.clone().into_iter().collect(),
        ca_issuers_urls: ca.record.ca_issuers_url.clone().into_iter().collect(),
        ocsp_no_check: purpose == Purpose::OcspResponder,
    };
    let tbs = plan
        .to_tbs_der()
        .map_err(|e| wire_error(ErrorKind::Internal, e.to_string()))?;
    let linted = lint_certificate(tbs, Issuer::Ca(&ca.cert)).map_err(|e| {
        wire_error(
            ErrorKind::Internal,
            format!("{} certificate lint: {e}", purpose.unit()),
        )
    })?;
    let ca_key = ca.key(hsm).map_err(|e| hsm_error(&e))?;
    let tbs_signer = HsmTbsSigner::new(hsm, &ca_key, ca.record.signature);
    let cert_der = sign_certificate(linted, &tbs_signer).map_err(signing_failure)?;
    Ok((cert_der, serial))
}

/// Checks a delegated key's signature against its public key before it leaves the signer,
/// as every signature the signer releases is checked: a token that signs with another key or
/// returns garbage is caught here, not by the relying party. `what` names the signature in
/// the log and the refusal.
pub(crate) fn check_before_release(
    spki_der: &[u8],
    algorithm: strongroom_types::SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
    what: &str,
) -> Result<(), SignerError> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoOwned::from_der(spki_der)
        .map_err(|e| crate::error::internal(format!("{what}: public key: {e}")))?;
    let alg = strongroom_x509::signature_algorithm_identifier(algorithm);
    strongroom_x509::verify_signature(&spki, &alg, message, signature).map_err(|e| {
        tracing::error!(error = %e, "the HSM's {what} signature does not verify; not released");
        wire_error(
            ErrorKind::HsmFailed,
            format!("the HSM's {what} signature does not verify: {e}"),
        )
    })
}
