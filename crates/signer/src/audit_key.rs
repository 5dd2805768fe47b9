//! Audit checkpoints: the signer signs a statement over the audit chain's head with an
//! audit key that lives in the HSM and is certified by one of our CAs, so anyone holding
//! an audit export and the root certificate can check offline that the log was not
//! rewritten up to that point.
//!
//! In: `SignAuditCheckpoint { ca, seq, head_hash }` from control. Out: the statement, its
//! ECDSA P-256 signature, the audit certificate and its chain. The audit key is made on
//! first use per CA (`STATE/audit/CA/`) and replaced when its certificate has less than 30
//! days left. Its certificate's only name is `strongroom-audit-checkpoint.…`, a label the
//! signer refuses in every other certificate; no CA key ever signs anything but
//! certificates and CRLs.

use crate::ca::LoadedCa;
use crate::dispatch::Signer;
use crate::hsm_signer::{hsm_error, HsmTbsSigner};
use crate::state::write_atomic;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::str::FromStr;
use strongroom_hsm::{Hsm, KeyPurpose, KeyRef, Pkcs11Uri};
use strongroom_types::audit::{CheckpointFacts, AUDIT_NAME_LABEL};
use strongroom_types::{KeyAlgorithm, RequestedName, SignatureAlgorithm};
use strongroom_wire::{CheckpointRequest, ErrorKind, Response, SignedCheckpoint, SignerError};
use strongroom_x509::lint::{lint_certificate, Issuer};
use strongroom_x509::{sign_certificate, CertificatePlan, KeyUsageBits, SubjectPlan};
use x509_cert::name::Name;

/// How long an audit certificate lives (capped by its CA).
const AUDIT_CERT_SECS: i64 = 397 * 86_400;
/// Renew the audit key when its certificate has less than this left.
const RENEW_BEFORE_SECS: i64 = 30 * 86_400;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditKeyRecord {
    key_uri: String,
    not_after: i64,
}

fn err(kind: ErrorKind, detail: impl Into<String>) -> SignerError {
    SignerError {
        kind,
        detail: detail.into(),
    }
}

/// Whether a requested name uses the reserved audit label (refused in issuance).
pub fn is_reserved_name(name: &RequestedName) -> bool {
    match name {
        RequestedName::Dns(d) => d
            .as_str()
            .split('.')
            .next()
            .is_some_and(|l| l.eq_ignore_ascii_case(AUDIT_NAME_LABEL)),
        _ => false,
    }
}

/// The audit certificate's one DNS name: `strongroom-audit-checkpoint.invalid`, or under
/// a permitted DNS subtree of a name-constrained CA.
fn audit_name(ca: &LoadedCa) -> Result<RequestedName, SignerError> {
    let mut candidates = vec![format!("{AUDIT_NAME_LABEL}.invalid")];
    for s in &ca.cert.constraints.permitted {
        let text = s.to_string();
        if let Some(base) = text.strip_prefix("dns:") {
            candidates.push(format!(
                "{AUDIT_NAME_LABEL}.{}",
                base.trim_start_matches('.')
            ));
        }
    }
    for c in candidates {
        if let Ok(n) = RequestedName::parse("dns", &c) {
            if ca.cert.constraints.permits(&n) {
                return Ok(n);
            }
        }
    }
    Err(err(
        ErrorKind::BadRequest,
        format!(
            "CA {}'s name constraints leave no DNS name for an audit certificate; use another CA",
            ca.record.id
        ),
    ))
}

/// Signs a checkpoint.
pub fn sign_checkpoint(signer: &Signer, req: CheckpointRequest) -> Result<Response, SignerError> {
    if req.head_hash.len() != 64
        || !req
            .head_hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(err(
            ErrorKind::BadRequest,
            "head_hash must be 64 lowercase hex digits",
        ));
    }
    if req.seq == 0 {
        return Err(err(ErrorKind::BadRequest, "seq must be at least 1"));
    }
    let ca = signer
        .cas()
        .get(&req.ca)
        .ok_or_else(|| err(ErrorKind::BadRequest, format!("unknown CA {}", req.ca)))?;
    let hsm = signer.hsm.get()?;
    let now = signer.clock.now();
    let _guard = signer.audit_key_lock();
    let (key, cert_der) = audit_key(signer, &hsm, &ca, now)?;
    let facts = CheckpointFacts {
        ca: req.ca.to_string(),
        seq: req.seq,
        head_hash: req.head_hash.clone(),
        signed_at: now,
    };
    let statement = facts.statement();
    let signature = hsm
        .sign(&key, SignatureAlgorithm::EcdsaSha256, statement.as_bytes())
        .map_err(|e| hsm_error(&e))?;
    signer
        .journal()
        .append_durable(
            now,
            "audit-checkpoint",
            &json!({"ca": req.ca.as_str(), "seq": req.seq, "head": req.head_hash}),
        )
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    Ok(Response::AuditCheckpoint(SignedCheckpoint {
        statement,
        signature,
        certificate: cert_der,
        chain: ca.chain.clone(),
    }))
}

/// The CA's audit key and certificate, made or renewed as needed.
fn audit_key(
    signer: &Signer,
    hsm: &Hsm,
    ca: &LoadedCa,
    now: i64,
) -> Result<(KeyRef, Vec<u8>), SignerError> {
    let dir = signer
        .state
        .root()
        .join("audit")
        .join(ca.record.id.as_str());
    let record_path = dir.join("key.toml");
    let cert_path = dir.join("cert.der");
    if let (Ok(text), Ok(der)) = (
        std::fs::read_to_string(&record_path),
        std::fs::read(&cert_path),
    ) {
        let record: AuditKeyRecord = toml::from_str(&text).map_err(|e| {
            err(
                ErrorKind::Internal,
                format!("{}: {e}", record_path.display()),
            )
        })?;
        if record.not_after - now > RENEW_BEFORE_SECS {
            let uri: Pkcs11Uri = record.key_uri.parse().map_err(|e| {
                err(
                    ErrorKind::Internal,
                    format!("{}: {e}", record_path.display()),
                )
            })?;
            let key = hsm.find_key(&uri).map_err(|e| hsm_error(&e))?;
            return Ok((key, der));
        }
    }
    // A new key (the old one, if any, stays in the token for verifying old checkpoints).
    let label = format!("strongroom-audit-{}-{now}", ca.record.id);
    let key = hsm
        .generate_key(&label, KeyAlgorithm::EcdsaP256, KeyPurpose::Signing)
        .map_err(|e| hsm_error(&e))?;
    let not_after = (now + AUDIT_CERT_SECS).min(ca.cert.not_after);
    let name = audit_name(ca)?;
    let cn = match &name {
        RequestedName::Dns(d) => d.as_str().to_string(),
        other => other.to_string(),
    };
    // The linter wants the CN to repeat a SAN; OU says what the certificate is for.
    let subject = Name::from_str(&format!("CN={cn},OU=Audit checkpoints,O=Strongroom"))
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    let serial = crate::issuance::fresh_serial(signer.entropy.as_ref())
        .map_err(|e| err(ErrorKind::Internal, e))?;
    let plan = CertificatePlan {
        serial: serial.clone(),
        signature: ca.record.signature,
        issuer_name: ca.cert.subject.clone(),
        issuer_key_id: ca.cert.key_id.clone(),
        not_before: (now - 60).max(ca.cert.not_before),
        not_after,
        subject: SubjectPlan {
            name: subject,
            public_key_der: key.public_key_der.clone(),
        },
        ca: None,
        key_usage: KeyUsageBits {
            digital_signature: true,
            ..Default::default()
        },
        extended_key_usage: vec![],
        names: vec![name],
        crl_urls: ca.record.crl_url.clone().into_iter().collect(),
        ocsp_urls: ca.record.ocsp_url.clone().into_iter().collect(),
        ca_issuers_urls: ca.record.ca_issuers_url.clone().into_iter().collect(),
    };
    let tbs = plan
        .to_tbs_der()
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    let linted = lint_certificate(tbs, Issuer::Ca(&ca.cert))
        .map_err(|e| err(ErrorKind::Internal, format!("audit certificate lint: {e}")))?;
    let ca_key = ca.key(hsm).map_err(|e| hsm_error(&e))?;
    let tbs_signer = HsmTbsSigner::new(hsm, &ca_key, ca.record.signature);
    let cert_der =
        sign_certificate(linted, &tbs_signer).map_err(|e| match tbs_signer.take_error() {
            Some(h) => hsm_error(&h),
            None => err(ErrorKind::Internal, e.to_string()),
        })?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| err(ErrorKind::Internal, format!("{}: {e}", dir.display())))?;
    let io = |e: std::io::Error| err(ErrorKind::Internal, format!("{}: {e}", dir.display()));
    write_atomic(&cert_path, &cert_der, 0o644).map_err(io)?;
    let record = toml::to_string(&AuditKeyRecord {
        key_uri: key.uri.to_string(),
        not_after,
    })
    .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    write_atomic(&record_path, record.as_bytes(), 0o600).map_err(io)?;
    signer
        .journal()
        .append_durable(now, "audit-key", &json!({"ca": ca.record.id.as_str(), "key_uri": key.uri.to_string(), "serial": serial.to_string(), "not_after": not_after}))
        .map_err(|e| err(ErrorKind::Internal, e.to_string()))?;
    Ok((key, cert_der))
}
