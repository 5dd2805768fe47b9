//! What `strongroom up` makes once and publishes at every start: on first run the data
//! directory, a private SoftHSM2 token and the root and issuing CAs (by exec of
//! `strongroom-signer ceremony`, with their transcripts in `DATA/logs`); at every start the
//! default policy when the signer has none, and the CA certificates as PEM files.
//!
//! In: the data directory's [`Layout`], the PKCS#11 module, the signer binary, a connected
//! [`SignerClient`]. Out: the token, the ceremony configurations and the signer's
//! configuration in `DATA/config`, `DATA/ca/{root,issuing,chain}.pem`.

use super::configs::{signer_config, DEFAULT_POLICY};
use super::supervise::euid;
use super::{mkdir, Layout};
use crate::devtoken;
use crate::signer_cmd::read_policy;
use std::path::Path;
use std::process::Command;
use strongroom_wire::{Request, Response, SignerClient};

const ROOT_CEREMONY: &str = r#"# Root CA ceremony used by `strongroom up` (development defaults).
id = "root"
subject = "CN=Strongroom Development Root CA,O=Strongroom"
algorithm = "ecdsa-p384"
validity_days = 3650
path_length = 1

[issuance]
crl_url = "http://127.0.0.1:8080/crl/root.crl"
ca_issuers_url = "http://127.0.0.1:8080/ca/root.der"
"#;

const ISSUING_CEREMONY: &str = r#"# Issuing CA ceremony used by `strongroom up` (development defaults).
id = "issuing"
parent = "root"
subject = "CN=Strongroom Development Issuing CA,O=Strongroom"
algorithm = "ecdsa-p256"
validity_days = 1825

[issuance]
crl_url = "http://127.0.0.1:8080/crl/issuing.crl"
ocsp_url = "http://127.0.0.1:8080/ocsp"
ca_issuers_url = "http://127.0.0.1:8080/ca/issuing.der"
"#;

/// First run: the directories, the token, the configurations and both CA ceremonies.
pub(super) fn first_run(l: &Layout, module: &Path, signer_bin: &Path) -> Result<(), String> {
    say!("first run: creating {}", l.dir.display());
    for (sub, mode) in [
        ("config", 0o755),
        ("run", 0o700),
        ("logs", 0o700),
        ("ca", 0o755),
    ] {
        mkdir(&l.dir.join(sub), mode)?;
    }
    let token = devtoken::create(&l.dir, module)?;
    say!(
        "  token '{}' of {} in {} (PIN in {}, mode 0400)",
        devtoken::LABEL,
        module.file_name().unwrap_or_default().to_string_lossy(),
        l.dir.join("hsm").display(),
        token.pin_file.display()
    );
    let allow_root = euid() == 0;
    if allow_root {
        say!("  note: running as root; the development signer is allowed to (production refuses)");
    }
    l.write_config("signer.toml", &signer_config(l, module, &token, allow_root))?;
    l.write_config("root.ceremony.toml", ROOT_CEREMONY)?;
    l.write_config("issuing.ceremony.toml", ISSUING_CEREMONY)?;
    l.write_config("policy.toml", DEFAULT_POLICY)?;
    for ceremony in ["root", "issuing"] {
        let out = Command::new(signer_bin)
            .envs(token.env())
            .args(["ceremony", "--config"])
            .arg(l.config("signer.toml"))
            .arg("--file")
            .arg(l.config(&format!("{ceremony}.ceremony.toml")))
            .output()
            .map_err(|e| format!("cannot run {}: {e}", signer_bin.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{ceremony} ceremony failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        std::fs::write(
            l.dir
                .join("logs")
                .join(format!("{ceremony}.transcript.txt")),
            &out.stdout,
        )
        .map_err(|e| e.to_string())?;
        say!("  {ceremony} CA created in the token (transcript: logs/{ceremony}.transcript.txt)");
    }
    Ok(())
}

/// At every start: the default policy (`DATA/config/policy.toml`) when the signer has none.
pub(super) fn push_default_policy(client: &mut SignerClient, l: &Layout) -> Result<(), String> {
    let policy = read_policy(&l.config("policy.toml"))?;
    client
        .call(&Request::PutPolicy { policy })
        .map_err(|e| format!("pushing the default policy: {e}"))?;
    Ok(())
}

/// At every start: the root, the issuing CA and the issuing CA's chain as PEM files in
/// `DATA/ca` (a CA the signer does not answer for is skipped).
pub(super) fn write_ca_files(client: &mut SignerClient, l: &Layout) -> Result<(), String> {
    for (name, ca) in [
        ("root", "root"),
        ("issuing", "issuing"),
        ("chain", "issuing"),
    ] {
        if let Ok(Response::CaChain(chain)) = client.call(&Request::GetCaChain {
            ca: ca.parse().map_err(|e| format!("{e}"))?,
        }) {
            let certs: Vec<&Vec<u8>> = if name == "chain" {
                chain.iter().collect()
            } else {
                chain.iter().take(1).collect()
            };
            let text: String = certs
                .iter()
                .map(|d| crate::pem::encode("CERTIFICATE", d))
                .collect();
            std::fs::write(l.ca_pem(name), text).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
