//! Builds a root, an intermediate and leaves with an in-memory ring key (no HSM) and runs
//! them through the linter; parses CSR fixtures made by `openssl req`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use std::str::FromStr;
use strongroom_types::{ExtendedKeyUsage, KeyAlgorithm, RequestedName, Serial, SignatureAlgorithm};
use strongroom_x509::lint::{lint_certificate, Issuer};
use strongroom_x509::*;
use x509_cert::name::Name;

struct RingSigner(EcdsaKeyPair);

impl RingSigner {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        RingSigner(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
        )
    }
    fn spki(&self) -> Vec<u8> {
        let mut v = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        v.extend_from_slice(self.0.public_key().as_ref());
        v
    }
}

impl TbsSigner for RingSigner {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaSha256
    }
    fn sign(&self, tbs: &[u8]) -> Result<Vec<u8>, X509Error> {
        Ok(self
            .0
            .sign(&SystemRandom::new(), tbs)
            .map_err(|e| X509Error::SignerRefused(e.to_string()))?
            .as_ref()
            .to_vec())
    }
}

const NOW: i64 = 1_790_000_000;

fn serial(n: u8) -> Serial {
    Serial::from_random([n; 16]).unwrap()
}

fn ca_plan(
    key: &RingSigner,
    name: &str,
    issuer: Option<&CaCertificate>,
    path_len: Option<u8>,
    constraints: &[&str],
) -> CertificatePlan {
    let subject = Name::from_str(name).unwrap();
    CertificatePlan {
        serial: serial(7),
        signature: SignatureAlgorithm::EcdsaSha256,
        issuer_name: issuer.map_or(subject.clone(), |i| i.subject.clone()),
        issuer_key_id: issuer.map_or_else(
            || key_identifier(&key.spki()).unwrap(),
            |i| i.key_id.clone(),
        ),
        not_before: NOW,
        not_after: NOW + 86400 * 365,
        subject: SubjectPlan {
            name: subject,
            public_key_der: key.spki(),
        },
        ca: Some(CaPlan {
            path_len,
            constraints: Constraints {
                permitted: constraints
                    .iter()
                    .map(|s| Subtree::parse(s).unwrap())
                    .collect(),
                excluded: vec![],
            },
        }),
        key_usage: KeyUsageBits {
            digital_signature: true,
            key_cert_sign: true,
            crl_sign: true,
            ..Default::default()
        },
        extended_key_usage: vec![],
        names: vec![],
        crl_urls: vec!["http://127.0.0.1:8080/crl/root.crl".into()],
        ocsp_urls: vec![],
        ca_issuers_urls: vec![],
        ocsp_no_check: false,
    }
}

fn hierarchy() -> (RingSigner, CaCertificate, RingSigner, CaCertificate) {
    let root_key = RingSigner::new();
    let plan = ca_plan(&root_key, "CN=Test Root,O=Strongroom", None, Some(1), &[]);
    let linted = lint_certificate(plan.to_tbs_der().unwrap(), Issuer::SelfSigned).unwrap();
    let root = CaCertificate::from_der(&sign_certificate(linted, &root_key).unwrap()).unwrap();
    let int_key = RingSigner::new();
    let mut plan = ca_plan(
        &int_key,
        "CN=Test Issuing,O=Strongroom",
        Some(&root),
        Some(0),
        &["dns:lab.test", "ip:192.0.2.0/24"],
    );
    plan.not_after = root.not_after;
    let linted = lint_certificate(plan.to_tbs_der().unwrap(), Issuer::Ca(&root)).unwrap();
    let int = CaCertificate::from_der(&sign_certificate(linted, &root_key).unwrap()).unwrap();
    (root_key, root, int_key, int)
}

fn leaf_plan(int: &CaCertificate, names: &[&str]) -> CertificatePlan {
    let names: Vec<RequestedName> = names
        .iter()
        .map(|n| RequestedName::parse_tagged(n).unwrap())
        .collect();
    let cn = names[0].to_string().split_once(':').unwrap().1.to_owned();
    CertificatePlan {
        serial: serial(9),
        signature: SignatureAlgorithm::EcdsaSha256,
        issuer_name: int.subject.clone(),
        issuer_key_id: int.key_id.clone(),
        not_before: NOW + 10,
        not_after: NOW + 86400 * 90,
        subject: SubjectPlan {
            name: Name::from_str(&format!("CN={cn}")).unwrap(),
            public_key_der: RingSigner::new().spki(),
        },
        ca: None,
        key_usage: KeyUsageBits {
            digital_signature: true,
            ..Default::default()
        },
        extended_key_usage: vec![ExtendedKeyUsage::ServerAuth],
        names,
        crl_urls: vec!["http://127.0.0.1:8080/crl/issuing.crl".into()],
        ocsp_urls: vec!["http://127.0.0.1:8080/ocsp".into()],
        ca_issuers_urls: vec!["http://127.0.0.1:8080/ca/issuing.der".into()],
        ocsp_no_check: false,
    }
}

#[test]
fn root_intermediate_leaf() {
    let (_, root, int_key, int) = hierarchy();
    assert!(root.self_issued);
    assert_eq!(int.path_len, Some(0));
    assert_eq!(int.constraints.permitted.len(), 2);
    let linted = lint_certificate(
        leaf_plan(&int, &["dns:www.lab.test", "ip:192.0.2.1"])
            .to_tbs_der()
            .unwrap(),
        Issuer::Ca(&int),
    )
    .unwrap();
    let der = sign_certificate(linted, &int_key).unwrap();
    assert!(CaCertificate::from_der(&der).is_err(), "a leaf is not a CA");
}

/// A key holder that cannot sign, temporarily or for good.
struct DownSigner(X509Error);

impl TbsSigner for DownSigner {
    fn signature_algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::EcdsaSha256
    }
    fn sign(&self, _tbs: &[u8]) -> Result<Vec<u8>, X509Error> {
        Err(self.0.clone())
    }
}

/// The signer's own failure reaches the caller unchanged, so it can answer "try later" to
/// a lost HSM session and "refused" to a missing key (it once arrived as a string).
#[test]
fn a_signer_failure_keeps_its_kind() {
    let (_, _, _, int) = hierarchy();
    for (failure, temporary) in [
        (X509Error::SignerUnavailable("session lost".into()), true),
        (X509Error::SignerRefused("no such key".into()), false),
    ] {
        let linted = lint_certificate(
            leaf_plan(&int, &["dns:www.lab.test"]).to_tbs_der().unwrap(),
            Issuer::Ca(&int),
        )
        .unwrap();
        let err = sign_certificate(linted, &DownSigner(failure.clone())).unwrap_err();
        assert_eq!(err, failure);
        assert_eq!(err.is_temporary(), temporary, "{err}");
    }
}

#[test]
fn lint_refusals() {
    let (root_key, root, int_key, int) = hierarchy();
    let refuse = |plan: CertificatePlan, issuer: Issuer<'_>, rule: &str| {
        let err = lint_certificate(plan.to_tbs_der().unwrap(), issuer)
            .unwrap_err()
            .to_string();
        assert!(err.contains(rule), "{err} should mention {rule}");
    };
    refuse(
        leaf_plan(&int, &["dns:www.example.com"]),
        Issuer::Ca(&int),
        "name-constraints",
    );
    refuse(
        leaf_plan(&int, &["ip:198.51.100.1"]),
        Issuer::Ca(&int),
        "name-constraints",
    );
    let mut p = leaf_plan(&int, &["dns:a.lab.test"]);
    p.not_after = int.not_after + 1;
    refuse(p, Issuer::Ca(&int), "validity");
    let mut p = leaf_plan(&int, &["dns:a.lab.test"]);
    p.key_usage.key_encipherment = true;
    refuse(p, Issuer::Ca(&int), "key-usage");
    let mut p = leaf_plan(&int, &["dns:a.lab.test"]);
    p.issuer_key_id = vec![1; 20];
    refuse(p, Issuer::Ca(&int), "aki");
    let mut p = leaf_plan(&int, &["dns:a.lab.test"]);
    p.names.clear();
    refuse(p, Issuer::Ca(&int), "san");
    // pathLen 0 intermediate cannot sign a CA
    refuse(
        ca_plan(
            &RingSigner::new(),
            "CN=Sub",
            Some(&int),
            None,
            &["dns:lab.test", "ip:192.0.2.0/24"],
        ),
        Issuer::Ca(&int),
        "path-length",
    );
    // constraints must narrow
    let mut p = ca_plan(&RingSigner::new(), "CN=Sub2", Some(&root), Some(0), &[]);
    p.not_after = root.not_after;
    assert!(lint_certificate(p.to_tbs_der().unwrap(), Issuer::Ca(&root)).is_ok());
    let _ = (root_key, int_key);
}

/// A CA whose name constraints exclude `bad.example.com` must not sign `*.example.com`:
/// a relying party would accept that certificate for the excluded name. A wildcard whose
/// every name is permitted (and none excluded) still passes.
#[test]
fn wildcard_covering_an_excluded_name_is_refused() {
    let (root_key, root, _, _) = hierarchy();
    let key = RingSigner::new();
    let mut plan = ca_plan(
        &key,
        "CN=Constrained,O=Strongroom",
        Some(&root),
        Some(0),
        &["dns:example.com"],
    );
    plan.not_after = root.not_after;
    if let Some(ca) = plan.ca.as_mut() {
        ca.constraints.excluded = vec![Subtree::parse("dns:bad.example.com").unwrap()];
    }
    let linted = lint_certificate(plan.to_tbs_der().unwrap(), Issuer::Ca(&root)).unwrap();
    let ca = CaCertificate::from_der(&sign_certificate(linted, &root_key).unwrap()).unwrap();
    assert_eq!(
        ca.constraints.excluded.len(),
        1,
        "read back from the certificate"
    );

    let lint = |names: &[&str]| {
        lint_certificate(leaf_plan(&ca, names).to_tbs_der().unwrap(), Issuer::Ca(&ca))
    };
    let err = lint(&["dns:*.example.com"]).unwrap_err().to_string();
    assert!(
        err.contains("name-constraints") && err.contains("*.example.com"),
        "{err}"
    );
    assert!(lint(&["dns:bad.example.com"]).is_err());
    assert!(lint(&["dns:*.lab.example.com"]).is_ok());
    assert!(lint(&["dns:*.example.com"]).is_err());
    assert!(lint(&["dns:www.example.com"]).is_ok());
}

#[test]
fn crl_signs() {
    let (_, _, int_key, int) = hierarchy();
    let entries = vec![CrlEntry {
        serial: serial(3),
        revoked_at: NOW + 5,
        reason: strongroom_types::RevocationReason::KeyCompromise,
        invalidity_date: Some(NOW),
    }];
    let plan = CrlPlan {
        ca: &int,
        signature: SignatureAlgorithm::EcdsaSha256,
        number: 1,
        this_update: NOW + 10,
        next_update: NOW + 3600,
        entries: &entries,
        idp_url: None,
        delta_base: None,
        freshest_url: None,
    };
    let der = build_crl(&plan, &int_key).unwrap();
    assert!(der.len() > 100);
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn csr_fixtures_from_openssl() {
    let csr = parse_csr(&fixture("p256.csr")).unwrap();
    assert_eq!(csr.key_algorithm, KeyAlgorithm::EcdsaP256);
    let names: Vec<String> = csr.names.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        names,
        ["dns:www.lab.test", "dns:api.lab.test", "ip:192.0.2.7"]
    );
    assert_eq!(
        parse_csr(&fixture("p384.csr")).unwrap().key_algorithm,
        KeyAlgorithm::EcdsaP384
    );
    assert_eq!(
        parse_csr(&fixture("rsa2048.csr")).unwrap().key_algorithm,
        KeyAlgorithm::Rsa2048
    );
    assert_eq!(
        parse_csr(&fixture("rsa2048-pss.csr"))
            .unwrap()
            .key_algorithm,
        KeyAlgorithm::Rsa2048
    );
    assert_eq!(
        parse_csr(&fixture("ed25519.csr")).unwrap().key_algorithm,
        KeyAlgorithm::Ed25519
    );
    assert_eq!(
        parse_csr(&fixture("p256-codesigning.csr"))
            .unwrap()
            .requested_eku
            .len(),
        1
    );
    let weak = parse_csr(&fixture("rsa1024.csr")).unwrap_err().to_string();
    assert!(weak.contains("RSA-1024 is too weak"), "{weak}");
    assert!(matches!(
        parse_csr(&fixture("p256-badsig.csr")),
        Err(X509Error::BadSignature(_))
    ));
    let mut trailing = fixture("p256.csr");
    trailing.push(0);
    assert!(parse_csr(&trailing).is_err());
    assert!(parse_csr(b"not a csr").is_err());
}
