//! Operations on a running signer that used to need it stopped: an intermediate CA created
//! live (usable at once, persisted across a restart, rules of ceremonies enforced), and
//! audit checkpoints signed by an HSM audit key whose certificate chains to the root and
//! whose reserved name no profile can obtain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_types::audit::CheckpointFacts;
use strongroom_wire::{CaCreation, CheckpointRequest, ErrorKind, Request, Response};

fn creation(id: &str, parent: &str) -> CaCreation {
    CaCreation {
        id: id.parse().unwrap(),
        parent: parent.parse().unwrap(),
        subject: format!("CN=Strongroom Test {id},O=Strongroom Test"),
        algorithm: strongroom_types::KeyAlgorithm::EcdsaP256,
        validity_days: 365,
        path_length: None,
        permitted: vec!["dns:lab.test".into()],
        excluded: vec![],
        crl_url: Some(format!("http://127.0.0.1:8080/crl/{id}.crl")),
        ocsp_url: None,
        ca_issuers_url: None,
        crl_shards: 0,
        delta_crl: false,
    }
}

#[test]
fn create_ca_live_and_sign_checkpoints() {
    let (pki, mut signer) = running_pki("");
    let mut c = signer.client();

    // A second issuing CA under the root, created while the signer runs.
    let chain = match c
        .call(&Request::CreateCa(creation("issuing-2", "root")))
        .unwrap()
    {
        Response::CaCreated { chain } => chain,
        other => panic!("{other:?}"),
    };
    assert_eq!(chain.len(), 2);
    let root_pem = pki.write_pem("root.pem", &chain[1..]);
    let ca_pem = pki.write_pem("issuing-2.pem", &chain[..1]);
    let out = run(Command::new(tool("openssl"))
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(&root_pem)
        .arg(&ca_pem));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Ceremony rules hold: the same id twice, wider name constraints than the parent,
    // an unknown parent.
    for (bad, why) in [
        (creation("issuing-2", "root"), "already exists"),
        (creation("sub", "issuing"), "path length 0"),
        (
            {
                let mut b = creation("long", "root");
                b.validity_days = 100_000;
                b
            },
            "outlive",
        ),
        (
            {
                let mut b = creation("badname", "root");
                b.permitted = vec!["nonsense".into()];
                b
            },
            "nonsense",
        ),
        (creation("orphan", "nope"), "does not exist"),
    ] {
        match c.call(&Request::CreateCa(bad)) {
            Err(strongroom_wire::CallError::Refused { kind, detail }) => {
                assert_eq!(kind, ErrorKind::BadRequest);
                assert!(detail.contains(why), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Usable at once: a policy naming it is accepted.
    let mut policy = strongroom_testkit::test_policy();
    policy.version = 2;
    policy.profiles[1].issuer = "issuing-2".parse().unwrap();
    assert_eq!(
        c.call(&Request::PutPolicy { policy }).unwrap(),
        Response::PolicyAccepted { version: 2 }
    );

    // An audit checkpoint: statement, signature by the HSM audit key, certificate chained
    // to the root.
    let head = "0f".repeat(32);
    let cp = match c
        .call(&Request::SignAuditCheckpoint(CheckpointRequest {
            ca: "issuing".parse().unwrap(),
            seq: 7,
            head_hash: head.clone(),
        }))
        .unwrap()
    {
        Response::AuditCheckpoint(cp) => cp,
        other => panic!("{other:?}"),
    };
    let facts = CheckpointFacts::parse(&cp.statement).unwrap();
    assert_eq!(
        (facts.seq, facts.head_hash.as_str(), facts.ca.as_str()),
        (7, head.as_str(), "issuing")
    );
    let cert_pem = pki.write_pem("audit.pem", std::slice::from_ref(&cp.certificate));
    let untrusted = pki.write_pem("audit-chain.pem", &cp.chain[..1]);
    let root_pem = pki.write_pem("root2.pem", &cp.chain[1..]);
    let out = run(Command::new(tool("openssl"))
        .args(["verify", "-x509_strict", "-CAfile"])
        .arg(&root_pem)
        .arg("-untrusted")
        .arg(&untrusted)
        .arg(&cert_pem));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = pki.dir.path();
    std::fs::write(dir.join("statement"), &cp.statement).unwrap();
    std::fs::write(dir.join("sig"), &cp.signature).unwrap();
    let out = run(Command::new(tool("openssl"))
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&cert_pem));
    std::fs::write(dir.join("audit.pub"), &out.stdout).unwrap();
    let out = run(Command::new(tool("openssl"))
        .args(["dgst", "-sha256", "-verify"])
        .arg(dir.join("audit.pub"))
        .arg("-signature")
        .arg(dir.join("sig"))
        .arg(dir.join("statement")));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Verified OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = run(Command::new(tool("openssl"))
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&cert_pem));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("DNS:strongroom-audit-checkpoint.lab.test")
    );
    // The same key signs the next checkpoint.
    let cp2 = match c
        .call(&Request::SignAuditCheckpoint(CheckpointRequest {
            ca: "issuing".parse().unwrap(),
            seq: 8,
            head_hash: "1e".repeat(32),
        }))
        .unwrap()
    {
        Response::AuditCheckpoint(cp) => cp,
        other => panic!("{other:?}"),
    };
    assert_eq!(cp2.certificate, cp.certificate);
    // Bad requests.
    for (seq, hash) in [(0, "0f".repeat(32)), (1, "XY".repeat(32)), (1, "0f".into())] {
        let r = c.call(&Request::SignAuditCheckpoint(CheckpointRequest {
            ca: "issuing".parse().unwrap(),
            seq,
            head_hash: hash,
        }));
        assert!(
            matches!(
                r,
                Err(strongroom_wire::CallError::Refused {
                    kind: ErrorKind::BadRequest,
                    ..
                })
            ),
            "{r:?}"
        );
    }
    // Nobody can obtain a certificate with the reserved audit name.
    let csr = openssl_csr(
        dir,
        "fake-audit",
        &ec_p256(),
        "/CN=strongroom-audit-checkpoint.lab.test",
        None,
    );
    let r = issue(&mut c, "tls-server", csr, &[], None);
    assert!(format!("{r:?}").contains("reserved"), "{r:?}");

    // After a restart the live CA and the audit key are still there.
    drop(c);
    signer.stop();
    let signer = pki.start_signer();
    let mut c = signer.client();
    let h = strongroom_testkit::health(&mut c);
    assert!(h.cas.iter().any(|ca| ca.id.as_str() == "issuing-2"));
    let cp3 = match c
        .call(&Request::SignAuditCheckpoint(CheckpointRequest {
            ca: "issuing".parse().unwrap(),
            seq: 9,
            head_hash: "2d".repeat(32),
        }))
        .unwrap()
    {
        Response::AuditCheckpoint(cp) => cp,
        other => panic!("{other:?}"),
    };
    assert_eq!(cp3.certificate, cp.certificate);
}
