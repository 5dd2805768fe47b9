//! Key ceremonies through the real binary: RFC 5280 rules, strict files, transcripts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::SIGNER;
use strongroom_testkit::{TestPki, ROOT_CEREMONY};

fn err(out: &std::process::Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure, got: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn transcript_names_the_key_and_proves_it_never_left_the_token() {
    let pki = TestPki::new(SIGNER, "");
    let t = pki.ceremony_ok("root", ROOT_CEREMONY);
    for needle in [
        "create root CA root",
        "key URI:           pkcs11:token=strongroom-test;object=strongroom-ca-root;id=",
        "never_extractable=true always_sensitive=true",
        "extractable=false",
        "path length:       1",
        "SHA-256 fingerprint:",
        "-----BEGIN CERTIFICATE-----",
    ] {
        assert!(t.contains(needle), "transcript lacks {needle:?}:\n{t}");
    }
    assert!(pki.state.join("cas/root/transcript.txt").exists());
}

#[test]
fn rfc5280_rules_and_strict_files() {
    let pki = TestPki::new(SIGNER, "");
    pki.ceremony_ok("root", ROOT_CEREMONY);
    let inter = |extra: &str| {
        format!("id = \"sub\"\nparent = \"root\"\nsubject = \"CN=Sub\"\nalgorithm = \"ecdsa-p256\"\n{extra}")
    };

    let e = err(&pki.ceremony("dup", ROOT_CEREMONY));
    assert!(e.contains("CA root already exists"), "{e}");

    let e = err(&pki.ceremony("long", &inter("validity_days = 5000\n")));
    assert!(e.contains("would outlive the parent root"), "{e}");

    let e = err(&pki.ceremony("path", &inter("validity_days = 100\npath_length = 1\n")));
    assert!(
        e.contains("path_length 1 must be below the parent's 1"),
        "{e}"
    );

    let e = err(&pki.ceremony("unknown", &inter("validity_days = 100\ncolour = \"red\"\n")));
    assert!(e.contains("unknown field") && e.contains("colour"), "{e}");

    let e = err(&pki.ceremony(
        "noparent",
        &inter("validity_days = 100\n").replace("parent = \"root\"", "parent = \"nope\""),
    ));
    assert!(e.contains("parent CA nope does not exist"), "{e}");

    // A constrained intermediate, then a child that tries to widen it.
    pki.ceremony_ok(
        "narrow",
        &inter("validity_days = 100\npermitted = [\"dns:lab.test\"]\n"),
    );
    let wide = "id = \"wide\"\nparent = \"sub\"\nsubject = \"CN=Wide\"\nalgorithm = \"ecdsa-p256\"\nvalidity_days = 50\npermitted = [\"dns:example.com\"]\n";
    let e = err(&pki.ceremony("wide", wide));
    // sub got path length 0 (one below root's 1), which is refused first.
    assert!(e.contains("path length 0 and cannot sign CAs"), "{e}");

    let pki2 = TestPki::new(SIGNER, "");
    pki2.ceremony_ok(
        "root",
        &ROOT_CEREMONY.replace("path_length = 1", "path_length = 3"),
    );
    pki2.ceremony_ok("mid", "id = \"mid\"\nparent = \"root\"\nsubject = \"CN=Mid\"\nalgorithm = \"ecdsa-p256\"\nvalidity_days = 100\npermitted = [\"dns:lab.test\"]\n");
    let e = err(&pki2.ceremony("wide", "id = \"wide\"\nparent = \"mid\"\nsubject = \"CN=Wide\"\nalgorithm = \"ecdsa-p256\"\nvalidity_days = 50\npermitted = [\"dns:example.com\"]\n"));
    assert!(
        e.contains("not inside the parent's permitted subtrees"),
        "{e}"
    );
    let e = err(&pki2.ceremony("open", "id = \"open\"\nparent = \"mid\"\nsubject = \"CN=Open\"\nalgorithm = \"ecdsa-p256\"\nvalidity_days = 50\n"));
    assert!(
        e.contains("the child must list permitted dns subtrees"),
        "{e}"
    );
    pki2.ceremony_ok("ok", "id = \"leafca\"\nparent = \"mid\"\nsubject = \"CN=Team\"\nalgorithm = \"rsa2048\"\nvalidity_days = 50\npermitted = [\"dns:team.lab.test\"]\n");
}

#[test]
fn wrong_pin_and_loose_pin_file_are_one_line_errors() {
    let pki = TestPki::new(SIGNER, "");
    std::fs::set_permissions(
        &pki.token.pin_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let e = err(&pki.ceremony("root", ROOT_CEREMONY));
    assert!(e.contains("chmod 0400"), "{e}");
    std::fs::remove_file(&pki.token.pin_file).unwrap();
    std::fs::write(&pki.token.pin_file, "0000\n").unwrap();
    std::fs::set_permissions(
        &pki.token.pin_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o400),
    )
    .unwrap();
    let e = err(&pki.ceremony("root", ROOT_CEREMONY));
    assert!(e.contains("PIN rejected") && !e.contains("0000"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");

    let module = format!("{:?}", strongroom_testkit::pkcs11_module());
    let cfg = std::fs::read_to_string(&pki.config)
        .unwrap()
        .replace(&module, "\"/nonexistent/libpkcs11.so\"");
    std::fs::write(&pki.config, cfg).unwrap();
    let e = err(&pki.ceremony("root", ROOT_CEREMONY));
    assert!(e.contains("/nonexistent/libpkcs11.so"), "{e}");
}
