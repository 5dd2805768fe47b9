//! The operator's own listener certificate (`[tls] key = "file"`): a chain and a private
//! key in PEM files, e.g. a publicly trusted certificate for the ACME endpoint, for clients
//! that do not trust our root.
//!
//! In: `certificate_file` (PEM certificates, leaf first) and `key_file` (one PEM private
//! key: PKCS#8, SEC1 or PKCS#1). Out: a [`Loaded`] certificate ready to serve, with its
//! notAfter, or an error that says which file is wrong and how. Strict: the key must be for
//! the leaf, the key file must not be readable by group or others, and nothing is served
//! half-read — a file caught mid-write fails the check and the previous certificate stays.

use crate::{provider, ListenerCert};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A certificate and key read from the operator's files.
pub(crate) struct Loaded {
    pub(crate) certified: CertifiedKey,
    /// Serial and notAfter, for the log.
    pub(crate) about: String,
    /// The leaf's notAfter (Unix seconds).
    pub(crate) not_after: i64,
    /// SHA-256 over both files' bytes: a change means a reload.
    pub(crate) digest: Vec<u8>,
}

/// The two files as read, not yet checked.
pub(crate) struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
    /// SHA-256 over both.
    pub(crate) digest: Vec<u8>,
}

/// Reads the two files.
pub(crate) fn read_files(spec: &ListenerCert) -> Result<Files, String> {
    let (cert_file, key_file) = match (&spec.certificate_file, &spec.key_file) {
        (Some(c), Some(k)) => (c, k),
        _ => return Err("tls.key = \"file\" needs tls.certificate_file and tls.key_file".into()),
    };
    let cert = std::fs::read(cert_file)
        .map_err(|e| format!("tls.certificate_file {}: {e}", cert_file.display()))?;
    check_key_mode(key_file)?;
    let key =
        std::fs::read(key_file).map_err(|e| format!("tls.key_file {}: {e}", key_file.display()))?;
    let mut both = ring::digest::Context::new(&ring::digest::SHA256);
    both.update(&cert);
    both.update(&key);
    let digest = both.finish().as_ref().to_vec();
    Ok(Files { cert, key, digest })
}

/// Reads and checks the operator's certificate and key.
pub(crate) fn load(spec: &ListenerCert) -> Result<Loaded, String> {
    parse(read_files(spec)?)
}

/// Checks the files' contents.
pub(crate) fn parse(files: Files) -> Result<Loaded, String> {
    let Files { cert, key, digest } = files;
    let (cert, key) = (cert.as_slice(), key.as_slice());
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls.certificate_file: not PEM certificates: {e}"))?;
    let leaf = chain
        .first()
        .ok_or("tls.certificate_file holds no CERTIFICATE block")?;
    let summary = strongroom_x509::CertificateSummary::from_der(leaf)
        .map_err(|e| format!("tls.certificate_file: the first certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| {
        format!("tls.key_file: no PEM private key (PKCS#8, EC or RSA PRIVATE KEY): {e}")
    })?;
    let key = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("tls.key_file: a key rustls cannot sign with: {e}"))?;
    let certified = CertifiedKey::new(chain, key);
    certified.keys_match().map_err(|e| {
        format!("tls.key_file is not the key of the first certificate in tls.certificate_file: {e}")
    })?;
    Ok(Loaded {
        certified,
        about: format!(
            "serial {} valid until {}",
            summary.serial,
            strongroom_types::time::rfc3339(summary.not_after)
        ),
        not_after: summary.not_after,
        digest,
    })
}

/// Refuses a key file that group or others may read (as ssh refuses such a key).
fn check_key_mode(key_file: &Path) -> Result<(), String> {
    let mode = std::fs::metadata(key_file)
        .map_err(|e| format!("tls.key_file {}: {e}", key_file.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "tls.key_file {} is readable by group or others (mode {:o}): chmod 600 it",
            key_file.display(),
            mode & 0o777
        ));
    }
    Ok(())
}
