//! Key ceremonies: create a root CA or an intermediate inside the HSM from a small TOML
//! file, with RFC 5280's rules enforced (path length tightens, name constraints narrow,
//! validity stays within the parent's).
//!
//! In: a ceremony file and the signer configuration (the signer must be stopped: the
//! journal lock enforces it). Out: a key in the token (sensitive, never extractable), a
//! CA certificate, `STATE/cas/ID/`, a journal record and a human-readable transcript.

use crate::ca::{store_ca, CaRecord, CaRegistry};
use crate::entropy::Entropy;
use crate::hsm_signer::HsmTbsSigner;
use crate::journal::Journal;
use crate::state::StateDir;
use crate::Error;
use serde::Deserialize;
use serde_json::json;
use std::fmt::Write as _;
use std::str::FromStr;
use strongroom_hsm::{Hsm, HsmError, KeyPurpose};
use strongroom_types::clock::Clock;
use strongroom_types::{CaId, KeyAlgorithm, Serial, SignatureAlgorithm};
use strongroom_x509::lint::{lint_certificate, Issuer};
use strongroom_x509::{
    fingerprint, key_identifier, sign_certificate, CaCertificate, CaPlan, CertificatePlan,
    Constraints, KeyUsageBits, SubjectPlan, Subtree,
};
use x509_cert::name::Name;

/// A ceremony file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeremonyFile {
    /// Id of the new CA.
    pub id: CaId,
    /// Subject DN in RFC 4514 form, e.g. `CN=Example Root CA,O=Example`.
    pub subject: String,
    /// Key algorithm.
    pub algorithm: KeyAlgorithm,
    /// Signature algorithm of the new CA (default: the usual one for its key).
    #[serde(default)]
    pub signature: Option<SignatureAlgorithm>,
    /// Validity in days.
    pub validity_days: u32,
    /// pathLenConstraint; for an intermediate, defaults to one less than the parent's.
    #[serde(default)]
    pub path_length: Option<u8>,
    /// The parent CA; absent for a root.
    #[serde(default)]
    pub parent: Option<CaId>,
    /// Permitted subtrees: `dns:example.com`, `ip:10.0.0.0/8`, `email:example.com`.
    #[serde(default)]
    pub permitted: Vec<String>,
    /// Excluded subtrees.
    #[serde(default)]
    pub excluded: Vec<String>,
    /// URLs written into certificates this CA issues.
    #[serde(default)]
    pub issuance: IssuanceUrls,
}

/// URLs a CA writes into what it issues.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuanceUrls {
    /// CRL distribution point.
    pub crl_url: Option<String>,
    /// OCSP responder.
    pub ocsp_url: Option<String>,
    /// Where this CA's certificate can be downloaded.
    pub ca_issuers_url: Option<String>,
    /// Split this CA's CRL into shards (0: one CRL; else 2 to 256); needs a `crl_url`
    /// ending in `.crl` (see `strongroom_types::crl_scope`).
    #[serde(default)]
    pub crl_shards: u32,
    /// Publish delta CRLs next to the full ones.
    #[serde(default)]
    pub delta_crl: bool,
}

/// What a ceremony produced.
#[derive(Debug, Clone)]
pub struct CeremonyOutcome {
    /// The new CA's certificate, DER.
    pub cert_der: Vec<u8>,
    /// The transcript text (also written to `STATE/cas/ID/transcript.txt`).
    pub transcript: String,
}

impl CeremonyFile {
    /// Parses a ceremony file.
    pub fn parse(text: &str) -> Result<CeremonyFile, Error> {
        let c: CeremonyFile = toml::from_str(text)
            .map_err(|e| Error::Ceremony(e.to_string().trim().replace('\n', " ")))?;
        c.validate()?;
        Ok(c)
    }

    /// An intermediate ceremony from a live `CreateCa` request.
    pub fn from_request(r: strongroom_wire::CaCreation) -> Result<CeremonyFile, Error> {
        let c = CeremonyFile {
            id: r.id,
            subject: r.subject,
            algorithm: r.algorithm,
            signature: None,
            validity_days: r.validity_days,
            path_length: r.path_length,
            parent: Some(r.parent),
            permitted: r.permitted,
            excluded: r.excluded,
            issuance: IssuanceUrls {
                crl_url: r.crl_url,
                ocsp_url: r.ocsp_url,
                ca_issuers_url: r.ca_issuers_url,
                crl_shards: r.crl_shards,
                delta_crl: r.delta_crl,
            },
        };
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), Error> {
        let refuse = Error::Ceremony;
        let c = self;
        if c.validity_days == 0 {
            return Err(refuse("validity_days must be positive".into()));
        }
        for url in [
            &c.issuance.crl_url,
            &c.issuance.ocsp_url,
            &c.issuance.ca_issuers_url,
        ]
        .into_iter()
        .flatten()
        {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(refuse(format!(
                    "URL {url:?} must start with http:// or https://"
                )));
            }
        }
        Name::from_str(&c.subject).map_err(|e| {
            refuse(format!(
                "subject {:?} is not an RFC 4514 name: {e}",
                c.subject
            ))
        })?;
        if let Some(sig) = c.signature {
            if !sig.fits_key(c.algorithm) {
                return Err(refuse(format!(
                    "signature {sig} cannot be made with a {} key",
                    c.algorithm
                )));
            }
        }
        c.constraints()?;
        let i = &c.issuance;
        if i.crl_shards == 1 || i.crl_shards > strongroom_types::crl_scope::MAX_SHARDS {
            return Err(refuse(format!(
                "crl_shards must be 0 (one CRL) or 2 to {}",
                strongroom_types::crl_scope::MAX_SHARDS
            )));
        }
        if (i.crl_shards > 0 || i.delta_crl)
            && !i.crl_url.as_deref().is_some_and(|u| u.ends_with(".crl"))
        {
            return Err(refuse(
                "sharded or delta CRLs need a crl_url ending in .crl".into(),
            ));
        }
        Ok(())
    }

    fn constraints(&self) -> Result<Constraints, Error> {
        let parse = |list: &[String]| {
            list.iter()
                .map(|s| Subtree::parse(s).map_err(|e| Error::Ceremony(e.to_string())))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Constraints {
            permitted: parse(&self.permitted)?,
            excluded: parse(&self.excluded)?,
        })
    }
}

/// Runs an offline ceremony (the signer stopped: this takes the journal lock). `hsm` must
/// be logged in to the token that holds (or will hold) the keys.
pub fn run(
    file: &CeremonyFile,
    state: &StateDir,
    hsm: &Hsm,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
) -> Result<CeremonyOutcome, Error> {
    let journal = Journal::open(&state.journal())?;
    let registry = CaRegistry::load(state)?;
    run_with(file, state, hsm, clock, entropy, &journal, &registry)
}

/// Runs a ceremony with the signer's open journal and CA registry (the live `CreateCa`
/// operation, and [`run`]). The new CA is in `registry` when this returns.
pub fn run_with(
    file: &CeremonyFile,
    state: &StateDir,
    hsm: &Hsm,
    clock: &dyn Clock,
    entropy: &dyn Entropy,
    journal: &Journal,
    registry: &CaRegistry,
) -> Result<CeremonyOutcome, Error> {
    let refuse = Error::Ceremony;
    if registry.contains(&file.id) || state.ca(&file.id).join("ca.toml").exists() {
        return Err(refuse(format!(
            "CA {} already exists in {}",
            file.id,
            state.ca(&file.id).display()
        )));
    }
    let parent_arc = match &file.parent {
        Some(p) => Some(registry.get(p).ok_or_else(|| {
            refuse(format!(
                "parent CA {p} does not exist; run its ceremony first"
            ))
        })?),
        None => None,
    };
    let parent = parent_arc.as_deref();
    let now = clock.now();
    let not_after = now + i64::from(file.validity_days) * 86400;
    let constraints = file.constraints()?;
    let path_len = match parent {
        None => file.path_length,
        Some(p) => {
            if let Some(max) = p.cert.path_len {
                if max == 0 {
                    return Err(refuse(format!(
                        "parent {} has path length 0 and cannot sign CAs",
                        p.record.id
                    )));
                }
                match file.path_length {
                    Some(l) if l >= max => {
                        return Err(refuse(format!(
                            "path_length {l} must be below the parent's {max}"
                        )));
                    }
                    Some(l) => Some(l),
                    None => Some(max - 1),
                }
            } else {
                file.path_length
            }
        }
    };
    if let Some(p) = parent {
        if not_after > p.cert.not_after {
            let days = (p.cert.not_after - now) / 86400;
            return Err(refuse(format!(
                "validity_days {} would outlive the parent {} (at most {days} days remain)",
                file.validity_days, p.record.id
            )));
        }
        constraints
            .check_subset_of(&p.cert.constraints)
            .map_err(|e| refuse(format!("name constraints: {e}")))?;
    }

    // The key. Its label names the CA so an operator can find it with pkcs11-tool.
    let label = format!("strongroom-ca-{}", file.id);
    let key = hsm.generate_key(&label, file.algorithm, KeyPurpose::Signing).map_err(|e| match e {
        HsmError::KeyExists { .. } => refuse(format!(
            "the token already holds an object labelled {label} (an earlier interrupted ceremony?); remove it with pkcs11-tool --delete-object or choose another id"
        )),
        other => Error::Hsm(other),
    })?;
    let props = hsm.key_properties(&key)?;
    if !(props.sensitive && props.never_extractable && props.always_sensitive && !props.extractable)
    {
        return Err(refuse(format!(
            "the token did not create {label} as sensitive and never-extractable: {props:?}"
        )));
    }
    let signature = file
        .signature
        .unwrap_or_else(|| file.algorithm.default_signature());
    let subject = Name::from_str(&file.subject).map_err(|e| refuse(e.to_string()))?;
    let serial = crate::issuance::fresh_serial(entropy)?;
    let own_key_id = key_identifier(&key.public_key_der)?;
    let (issuer_name, issuer_key_id, issuer_signature, not_before) = match parent {
        None => (subject.clone(), own_key_id.clone(), signature, now - 60),
        Some(p) => (
            p.cert.subject.clone(),
            p.cert.key_id.clone(),
            p.record.signature,
            (now - 60).max(p.cert.not_before),
        ),
    };
    let parent_urls = parent.map(|p| p.record.clone());
    let plan = CertificatePlan {
        serial: serial.clone(),
        signature: issuer_signature,
        issuer_name,
        issuer_key_id,
        not_before,
        not_after,
        subject: SubjectPlan {
            name: subject,
            public_key_der: key.public_key_der.clone(),
        },
        ca: Some(CaPlan {
            path_len,
            constraints: constraints.clone(),
        }),
        key_usage: KeyUsageBits {
            digital_signature: true,
            key_cert_sign: true,
            crl_sign: true,
            ..Default::default()
        },
        extended_key_usage: vec![],
        names: vec![],
        crl_urls: parent_urls
            .as_ref()
            .and_then(|r| r.crl_url.clone())
            .into_iter()
            .collect(),
        ocsp_urls: parent_urls
            .as_ref()
            .and_then(|r| r.ocsp_url.clone())
            .into_iter()
            .collect(),
        ca_issuers_urls: parent_urls
            .as_ref()
            .and_then(|r| r.ca_issuers_url.clone())
            .into_iter()
            .collect(),
        ocsp_no_check: false,
    };
    let tbs = plan.to_tbs_der()?;
    let cert_der = match parent {
        None => {
            let linted = lint_certificate(tbs, Issuer::SelfSigned)?;
            sign_certificate(linted, &HsmTbsSigner::new(hsm, &key, signature))?
        }
        Some(p) => {
            let linted = lint_certificate(tbs, Issuer::Ca(&p.cert))?;
            let parent_key = p.key(hsm)?;
            sign_certificate(
                linted,
                &HsmTbsSigner::new(hsm, &parent_key, p.record.signature),
            )?
        }
    };
    let ca = CaCertificate::from_der(&cert_der)?;
    let record = CaRecord {
        id: file.id.clone(),
        key_uri: key.uri.to_string(),
        signature,
        parent: file.parent.clone(),
        crl_url: file.issuance.crl_url.clone(),
        ocsp_url: file.issuance.ocsp_url.clone(),
        ca_issuers_url: file.issuance.ca_issuers_url.clone(),
        crl_shards: file.issuance.crl_shards,
        delta_crl: file.issuance.delta_crl,
    };
    let transcript = transcript(
        file,
        &record,
        &ca,
        &serial,
        &props,
        hsm.token_label(),
        now,
        path_len,
        &constraints,
    );
    store_ca(state, &record, &cert_der, &transcript)?;
    registry.add_stored(state, &file.id)?;
    journal.append_durable(now, "ceremony", &json!({
        "ca": file.id.as_str(), "parent": file.parent.as_ref().map(|p| p.as_str()), "key_uri": record.key_uri,
        "serial": serial.to_string(), "cert_sha256": fingerprint(&cert_der),
    }))?;
    Ok(CeremonyOutcome {
        cert_der,
        transcript,
    })
}

#[allow(clippy::too_many_arguments)]
fn transcript(
    file: &CeremonyFile,
    record: &CaRecord,
    ca: &CaCertificate,
    serial: &Serial,
    props: &strongroom_hsm::KeyProperties,
    token: &str,
    now: i64,
    path_len: Option<u8>,
    constraints: &Constraints,
) -> String {
    let mut t = String::new();
    let kind = if file.parent.is_some() {
        "intermediate"
    } else {
        "root"
    };
    let _ = writeln!(t, "Strongroom key ceremony transcript");
    let _ = writeln!(t, "==================================");
    let _ = writeln!(t, "ceremony:          create {kind} CA {}", file.id);
    let _ = writeln!(t, "time (unix):       {now}");
    let _ = writeln!(t, "operator uid:      {}", crate::peer::own_uid());
    let _ = writeln!(t, "token:             {token}");
    let _ = writeln!(t, "key URI:           {}", record.key_uri);
    let _ = writeln!(t, "key algorithm:     {}", file.algorithm);
    let _ = writeln!(t, "key attributes:    sensitive={} extractable={} never_extractable={} always_sensitive={} private={}",
        props.sensitive, props.extractable, props.never_extractable, props.always_sensitive, props.private);
    let _ = writeln!(t, "signature:         {}", record.signature);
    let _ = writeln!(t, "subject:           {}", ca.subject);
    let _ = writeln!(
        t,
        "parent:            {}",
        file.parent
            .as_ref()
            .map_or("(self-signed root)".into(), |p| p.to_string())
    );
    let _ = writeln!(t, "serial:            {serial}");
    let _ = writeln!(
        t,
        "validity (unix):   {} .. {}",
        ca.not_before, ca.not_after
    );
    let _ = writeln!(
        t,
        "path length:       {}",
        path_len.map_or("unlimited".into(), |l| l.to_string())
    );
    let list = |v: &[Subtree]| {
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(t, "permitted names:   {}", list(&constraints.permitted));
    let _ = writeln!(t, "excluded names:    {}", list(&constraints.excluded));
    let _ = writeln!(t, "subject key id:    {}", hex::encode(&ca.key_id));
    let _ = writeln!(t, "SHA-256 fingerprint: {}", ca.fingerprint());
    let _ = writeln!(
        t,
        "issues with CRL URL: {}",
        record.crl_url.as_deref().unwrap_or("(none)")
    );
    let _ = writeln!(
        t,
        "issues with OCSP URL: {}",
        record.ocsp_url.as_deref().unwrap_or("(none)")
    );
    let _ = writeln!(t);
    t.push_str(&strongroom_x509::to_pem("CERTIFICATE", &ca.der));
    t
}
