//! A leaf issued through the signer socket from real openssl CSRs verifies with
//! `openssl verify -x509_strict`, shows the profile's extensions, and passes pkilint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::*;
use std::process::Command;
use strongroom_testkit::{run, tool};
use strongroom_wire::{CallError, ErrorKind};

fn text_of(pem: &std::path::Path) -> String {
    let out = run(Command::new(tool("openssl"))
        .args(["x509", "-noout", "-text", "-in"])
        .arg(pem));
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn pkilint(linter: &str, args: &[&str], file: &std::path::Path) {
    let out = run(Command::new(tool(linter))
        .args(["lint"])
        .args(args)
        .arg(file));
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !report.contains("ERROR") && !report.contains("FATAL"),
        "{linter} on {}:\n{report}",
        file.display()
    );
}

#[test]
fn leaves_from_openssl_csrs_verify_and_lint_clean() {
    let (pki, signer) = running_pki("");
    let mut client = signer.client();
    let dir = pki.dir.path();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("p256", ec_p256()),
        (
            "p384",
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
        ("rsa2048", vec!["-newkey", "rsa:2048"]),
        ("ed25519", vec!["-newkey", "ed25519"]),
    ];
    for (name, newkey) in cases {
        let csr = openssl_csr(
            dir,
            name,
            &newkey,
            &format!("/CN={name}.lab.test"),
            Some(&format!("DNS:{name}.lab.test,IP:192.0.2.10")),
        );
        let cert = issue(&mut client, "tls-server", csr, &[], None).unwrap();
        assert_eq!(cert.chain.len(), 2);
        // The answer names the CA that signed (the profile's issuer, the chain's head).
        assert_eq!(cert.ca.as_str(), "issuing");
        let (leaf, issuing, root) = write_chain(&pki, name, &cert);
        let out = openssl_verify(&root, &issuing, &leaf, &["-purpose", "sslserver"]);
        assert!(
            out.status.success(),
            "{name}: openssl verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let text = text_of(&leaf);
        for needle in [
            "TLS Web Server Authentication",
            &format!("DNS:{name}.lab.test, IP Address:192.0.2.10"),
            "URI:http://127.0.0.1:8080/crl/issuing.crl",
            "OCSP - URI:http://127.0.0.1:8080/ocsp",
            "CA Issuers - URI:http://127.0.0.1:8080/ca/issuing.der",
            "X509v3 Authority Key Identifier",
            "CA:FALSE",
        ] {
            assert!(
                text.contains(needle),
                "{name}: missing {needle:?} in\n{text}"
            );
        }
        // keyEncipherment is in the profile but only RSA keys may carry it.
        assert_eq!(
            text.contains("Key Encipherment"),
            name == "rsa2048",
            "{name}:\n{text}"
        );
        pkilint("lint_pkix_cert", &["-s", "ERROR"], &leaf);
    }
    let (_, issuing, root) = write_chain(
        &pki,
        "x",
        &issue(
            &mut client,
            "tls-server",
            openssl_csr(dir, "x", &ec_p256(), "/CN=x.lab.test", None),
            &[],
            None,
        )
        .unwrap(),
    );
    pkilint("lint_pkix_cert", &["-s", "ERROR"], &root);
    pkilint("lint_pkix_cert", &["-s", "ERROR"], &issuing);
    let root_text = text_of(&root);
    assert!(root_text.contains("CA:TRUE, pathlen:1"), "{root_text}");
    let int_text = text_of(&issuing);
    assert!(int_text.contains("CA:TRUE, pathlen:0"), "{int_text}");
    assert!(
        int_text.contains("Permitted:") && int_text.contains("DNS:lab.test"),
        "{int_text}"
    );
}

#[test]
fn names_from_the_request_override_the_csr_and_validity_is_honoured() {
    let (pki, signer) = running_pki("");
    let mut client = signer.client();
    let csr = openssl_csr(
        pki.dir.path(),
        "n",
        &ec_p256(),
        "/CN=ignored.lab.test",
        None,
    );
    let cert = issue(
        &mut client,
        "tls-server",
        csr,
        &["dns:*.api.lab.test", "dns:api.lab.test"],
        Some(86400),
    )
    .unwrap();
    let (leaf, _, _) = write_chain(&pki, "n", &cert);
    let text = text_of(&leaf);
    assert!(
        text.contains("DNS:*.api.lab.test, DNS:api.lab.test"),
        "{text}"
    );
    assert!(text.contains("Subject: CN = *.api.lab.test"), "{text}");
    let out = run(Command::new(tool("openssl"))
        .args(["x509", "-noout", "-checkend", "90000", "-in"])
        .arg(&leaf));
    assert!(
        !out.status.success(),
        "a 1-day certificate must expire within 25 hours"
    );
}

fn assert_kind(
    result: Result<strongroom_wire::IssuedCertificate, CallError>,
    kind: ErrorKind,
    needle: &str,
) {
    match result {
        Err(CallError::Refused {
            kind: refused,
            detail,
        }) => {
            assert_eq!(refused, kind, "{detail}");
            assert!(
                detail.contains(needle),
                "{detail:?} should mention {needle:?}"
            );
        }
        other => panic!("expected {kind:?}, got {other:?}"),
    }
}

#[test]
fn policy_denials_write_no_certificate() {
    let (pki, signer) = running_pki("");
    let mut client = signer.client();
    let dir = pki.dir.path();
    let good = || openssl_csr(dir, "good", &ec_p256(), "/CN=ok.lab.test", None);
    let issued_before = journal_count(&pki, "issued");

    assert_kind(
        issue(&mut client, "tls-server", good(), &[], Some(7776000 + 1)),
        ErrorKind::PolicyDenied,
        "exceeds profile tls-server's maximum",
    );
    let weak = openssl_csr(
        dir,
        "weak",
        &["-newkey", "rsa:1024"],
        "/CN=weak.lab.test",
        None,
    );
    assert_kind(
        issue(&mut client, "tls-server", weak, &[], None),
        ErrorKind::PolicyDenied,
        "RSA-1024 is too weak",
    );
    let code = openssl_csr(
        dir,
        "code",
        &ec_p256(),
        "/CN=code.lab.test",
        Some("DNS:code.lab.test"),
    );
    // openssl cannot add EKU via -addext and SAN in one go portably; request codeSigning separately.
    let code_eku = {
        let csr = dir.join("code-eku.csr");
        let out = run(Command::new(tool("openssl"))
            .args(["req", "-new", "-key"])
            .arg(dir.join("code.key"))
            .args([
                "-subj",
                "/CN=code.lab.test",
                "-addext",
                "extendedKeyUsage=codeSigning",
                "-outform",
                "DER",
                "-out",
            ])
            .arg(&csr));
        assert!(out.status.success());
        std::fs::read(csr).unwrap()
    };
    let _ = code;
    assert_kind(
        issue(&mut client, "tls-server", code_eku, &[], None),
        ErrorKind::PolicyDenied,
        "extended key usage 1.3.6.1.5.5.7.3.3",
    );
    assert_kind(
        issue(
            &mut client,
            "tls-server",
            good(),
            &["dns:www.example.com"],
            None,
        ),
        ErrorKind::PolicyDenied,
        "outside the name constraints",
    );
    assert_kind(
        issue(
            &mut client,
            "tls-server",
            good(),
            &["ip:198.51.100.1"],
            None,
        ),
        ErrorKind::PolicyDenied,
        "outside the name constraints",
    );
    assert_kind(
        issue(&mut client, "no-such-profile", good(), &[], None),
        ErrorKind::PolicyDenied,
        "unknown profile",
    );
    assert_kind(
        issue(&mut client, "tls-client", good(), &["ip:192.0.2.1"], None),
        ErrorKind::PolicyDenied,
        "does not allow the name ip:192.0.2.1",
    );
    let rsa = openssl_csr(dir, "rsa", &["-newkey", "rsa:2048"], "/CN=r.lab.test", None);
    assert_kind(
        issue(&mut client, "tls-client", rsa, &[], None),
        ErrorKind::PolicyDenied,
        "does not accept rsa2048 keys",
    );

    let mut bad_sig = good();
    let n = bad_sig.len();
    bad_sig[n - 3] ^= 0x55;
    assert_kind(
        issue(&mut client, "tls-server", bad_sig, &[], None),
        ErrorKind::BadRequest,
        "CSR self-signature",
    );
    assert_kind(
        issue(&mut client, "tls-server", b"garbage".to_vec(), &[], None),
        ErrorKind::BadRequest,
        "subject key",
    );

    assert_eq!(
        journal_count(&pki, "issued"),
        issued_before,
        "a denial must not produce a certificate"
    );
    assert_eq!(
        journal_count(&pki, "intent"),
        issued_before,
        "a denial must not get as far as an intent"
    );
    // The connection survives denials.
    assert!(issue(&mut client, "tls-server", good(), &[], None).is_ok());
}

/// acme.sh's kind of CSR: extendedKeyUsage serverAuth + clientAuth and a keyUsage. Sent as
/// a plain CSR under a strict profile it is refused; sent for its key and names only (as
/// ACME finalize sends it), or under a profile whose `csr_extensions` is `ignore`, it issues
/// with the profile's usages and nothing the CSR added. The key's proof of possession is
/// checked either way.
#[test]
fn usages_a_csr_asks_beyond_the_profile_are_refused_or_left_out_never_granted() {
    use strongroom_wire::{IssuanceRequest, Request, Response, SubjectKey};
    let (pki, signer) = running_pki("");
    let mut client = signer.client();
    let dir = pki.dir.path();
    let csr_path = dir.join("acmesh.csr");
    let out = run(Command::new(tool("openssl"))
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-keyout"])
        .arg(dir.join("acmesh.key"))
        .args(["-subj", "/CN=acmesh.lab.test"])
        .args(["-addext", "subjectAltName=DNS:acmesh.lab.test"])
        .args(["-addext", "extendedKeyUsage=serverAuth,clientAuth"])
        .args([
            "-addext",
            "keyUsage=nonRepudiation,digitalSignature,keyEncipherment",
        ])
        .args(["-outform", "DER", "-out"])
        .arg(&csr_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csr = std::fs::read(&csr_path).unwrap();
    fn by_key(
        client: &mut strongroom_wire::SignerClient,
        key: SubjectKey,
    ) -> Result<strongroom_wire::IssuedCertificate, CallError> {
        let req = IssuanceRequest {
            profile: "tls-server".parse().unwrap(),
            subject_key: key,
            names: vec![],
            validity_secs: None,
        };
        match client.call(&Request::IssueCertificate(req)) {
            Ok(Response::Certificate(c)) => Ok(c),
            Ok(other) => panic!("unexpected response {other:?}"),
            Err(e) => Err(e),
        }
    }
    let only_the_profiles_usages = |name: &str, cert: &strongroom_wire::IssuedCertificate| {
        let (leaf, _, _) = write_chain(&pki, name, cert);
        let text = text_of(&leaf);
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        assert!(!text.contains("TLS Web Client Authentication"), "{text}");
        assert!(!text.contains("Non Repudiation"), "{text}");
        // An EC key: the profile's keyEncipherment is dropped, whatever the CSR asked.
        assert!(!text.contains("Key Encipherment"), "{text}");
        assert!(text.contains("DNS:acmesh.lab.test"), "{text}");
    };

    assert_kind(
        by_key(&mut client, SubjectKey::Csr(csr.clone())),
        ErrorKind::PolicyDenied,
        "extended key usage 1.3.6.1.5.5.7.3.2, which profile tls-server does not grant",
    );
    let cert = by_key(&mut client, SubjectKey::CsrKeyAndNames(csr.clone())).unwrap();
    only_the_profiles_usages("acmesh-key-and-names", &cert);

    let mut bad_sig = csr.clone();
    let n = bad_sig.len();
    bad_sig[n - 3] ^= 0x55;
    assert_kind(
        by_key(&mut client, SubjectKey::CsrKeyAndNames(bad_sig)),
        ErrorKind::BadRequest,
        "CSR self-signature",
    );

    // The profile's own choice: `ignore` lets a plain CSR through, granting no more.
    let mut policy = strongroom_testkit::test_policy();
    policy.version = 2;
    for p in &mut policy.profiles {
        p.csr_extensions = strongroom_types::CsrExtensions::Ignore;
    }
    assert_eq!(
        client.call(&Request::PutPolicy { policy }).unwrap(),
        Response::PolicyAccepted { version: 2 }
    );
    let cert = by_key(&mut client, SubjectKey::Csr(csr)).unwrap();
    only_the_profiles_usages("acmesh-ignore", &cert);
}
