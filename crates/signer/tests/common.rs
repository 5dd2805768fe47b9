//! Shared helpers for the signer's end-to-end tests.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::{run, tool, SignerProcess, TestPki};
use strongroom_types::{ProfileName, RequestedName};
use strongroom_wire::{
    IssuanceRequest, IssuedCertificate, Request, Response, SignerClient, SubjectKey,
};

pub const SIGNER: &str = env!("CARGO_BIN_EXE_strongroom-signer");

/// A PKI with the standard hierarchy, a running signer and the test policy in force.
pub fn running_pki(extra_config: &str) -> (TestPki, SignerProcess) {
    let pki = TestPki::new(SIGNER, extra_config);
    pki.standard_hierarchy();
    let signer = pki.start_signer();
    push_test_policy(&signer);
    (pki, signer)
}

/// Pushes the test kit's policy (version 1) and checks the signer accepted it.
pub fn push_test_policy(signer: &SignerProcess) {
    let resp = signer
        .client()
        .call(&Request::PutPolicy {
            policy: strongroom_testkit::test_policy(),
        })
        .unwrap();
    assert_eq!(resp, Response::PolicyAccepted { version: 1 });
}

/// Makes a key and CSR with openssl; returns the DER CSR.
pub fn openssl_csr(
    dir: &Path,
    name: &str,
    newkey: &[&str],
    subj: &str,
    san: Option<&str>,
) -> Vec<u8> {
    let csr = dir.join(format!("{name}.csr"));
    let key = dir.join(format!("{name}.key"));
    let mut cmd = Command::new(tool("openssl"));
    cmd.args(["req", "-new"])
        .args(newkey)
        .args(["-nodes", "-keyout"])
        .arg(&key)
        .args(["-subj", subj, "-outform", "DER", "-out"])
        .arg(&csr);
    if let Some(san) = san {
        cmd.args(["-addext", &format!("subjectAltName={san}")]);
    }
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(csr).unwrap()
}

pub fn ec_p256() -> Vec<&'static str> {
    vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
}

pub fn issue(
    client: &mut SignerClient,
    profile: &str,
    csr: Vec<u8>,
    names: &[&str],
    validity: Option<u64>,
) -> Result<IssuedCertificate, strongroom_wire::CallError> {
    let req = IssuanceRequest {
        profile: profile.parse::<ProfileName>().unwrap(),
        subject_key: SubjectKey::Csr(csr),
        names: names
            .iter()
            .map(|n| RequestedName::parse_tagged(n).unwrap())
            .collect(),
        validity_secs: validity,
    };
    match client.call(&Request::IssueCertificate(req))? {
        Response::Certificate(c) => Ok(c),
        other => panic!("unexpected response {other:?}"),
    }
}

/// Writes leaf.pem, issuing.pem, root.pem for an issued certificate; returns their paths.
pub fn write_chain(
    pki: &TestPki,
    name: &str,
    cert: &IssuedCertificate,
) -> (PathBuf, PathBuf, PathBuf) {
    let leaf = pki.write_pem(&format!("{name}.pem"), std::slice::from_ref(&cert.der));
    let issuing = pki.write_pem("issuing.pem", &[cert.chain[0].clone()]);
    let root = pki.write_pem("root.pem", &[cert.chain[1].clone()]);
    (leaf, issuing, root)
}

pub fn openssl_verify(
    root: &Path,
    issuing: &Path,
    leaf: &Path,
    extra: &[&str],
) -> std::process::Output {
    run(Command::new(tool("openssl"))
        .args(["verify", "-x509_strict"])
        .args(extra)
        .arg("-CAfile")
        .arg(root)
        .arg("-untrusted")
        .arg(issuing)
        .arg(leaf))
}

/// Number of records of a kind in the journal.
pub fn journal_count(pki: &TestPki, kind: &str) -> usize {
    let text = std::fs::read_to_string(pki.state.join("journal/issuance.log")).unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(&format!("\"kind\":\"{kind}\"")))
        .count()
}

/// `pkcs11-tool --list-objects` for the test token's private keys (logged in).
pub fn token_private_keys(pki: &TestPki) -> String {
    let pin = std::fs::read_to_string(&pki.token.pin_file).unwrap();
    let out = run(Command::new(tool("pkcs11-tool"))
        .envs(pki.token.env())
        .arg("--module")
        .arg(strongroom_testkit::pkcs11_module())
        .args([
            "--token-label",
            &pki.token.label,
            "--login",
            "--pin",
            pin.trim(),
        ])
        .args(["--list-objects", "--type", "privkey"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines pkcs11-tool prints for the object labelled `label`.
pub fn object_block(listing: &str, label: &str) -> String {
    listing
        .split("Private Key Object")
        .find(|b| {
            b.lines()
                .any(|l| l.trim() == format!("label:      {label}"))
        })
        .unwrap_or_else(|| panic!("no private key labelled {label}:\n{listing}"))
        .to_string()
}
