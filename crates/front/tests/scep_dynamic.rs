#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Signed dynamic SCEP challenges (issue 17) with a real client: a test double of an MDM
//! connector (a P-256 key made here, its public key the profile's trust anchor) signs
//! tokens, and Debian's `scepclient` carries each as its `-challenge`. A token enrols its
//! device once; the same token again is refused (replay); a token for another CN is
//! refused; a device's fourth token within a day is refused (limit 3). Each refusal is a
//! CertRep with a failInfo, the front's log says which check failed, and no token reaches
//! the log. On SQLite and on PostgreSQL (where the front records uses only through its
//! SECURITY DEFINER function).

mod scep_common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use scep_common::*;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;
use strongroom_testkit::{run, tool};
use strongroom_types::clock::{Clock, SystemClock};

const PROFILE: &str = "tls-server";

/// The test double of an MDM connector (Intune's, say): it vouches for a device by signing
/// a token naming the device, its CN and its names.
struct TestDoubleConnector {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    issued: u32,
}

impl TestDoubleConnector {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        TestDoubleConnector {
            key,
            rng,
            issued: 0,
        }
    }

    /// The public key as a PEM SubjectPublicKeyInfo (the profile's trust anchor).
    fn anchor_pem(&self) -> String {
        // SEQUENCE { AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, BIT STRING }.
        let mut der = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        der.extend_from_slice(self.key.public_key().as_ref());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    /// A token for `device` enrolling `cn` (its one name) under the profile, valid an hour.
    fn token(&mut self, device: &str, cn: &str) -> String {
        self.issued += 1;
        let now = SystemClock.now();
        let claims = json!({
            "iss": "test double",
            "jti": format!("test-double-jti-{:08}-{}", self.issued, now),
            "device_id": device,
            "profile": PROFILE,
            "sub": cn,
            "sans": [format!("dns:{cn}")],
            "iat": now - 5,
            "exp": now + 3600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"scep-challenge+jwt"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self.key.sign(&self.rng, input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// Runs scepclient as a fresh device (its own directory and key); (success, output, cert).
fn enrol(
    c: &Control,
    fingerprint: &str,
    dir: &str,
    cn: &str,
    token: &str,
) -> (bool, String, PathBuf) {
    let dir = c.dir().join("devices").join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let out = run(Command::new(tool("scepclient"))
        .args(["-server-url", &format!("{}/scep", c.front_base)])
        .args(["-cn", cn, "-keySize", "2048", "-debug"])
        .args(["-ca-fingerprint", fingerprint])
        .arg("-private-key")
        .arg(dir.join("key.pem"))
        .arg("-certificate")
        .arg(&cert)
        .args(["-challenge", token]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text, cert)
}

fn refused(c: &Control, (ok, out, cert): (bool, String, PathBuf), why: &str) {
    assert!(!ok, "enrolled, expected {why}: {out}");
    assert!(out.contains("failInfo"), "{out}");
    assert!(!cert.exists(), "a certificate was written");
    assert!(
        c.front_log()
            .contains(&format!("dynamic challenge refused: {why}")),
        "the front's log does not say {why}: {}",
        c.front_log()
    );
}

fn scepclient_enrols_with_signed_dynamic_challenges(db: Db) {
    let mut c = Control::start(db);
    let mut connector = TestDoubleConnector::new();
    let anchor = c.dir().join("mdm-connector.pem");
    std::fs::write(&anchor, connector.anchor_pem()).unwrap();
    c.start_front_with(&format!(
        "[ocsp]\nvalidity_secs = 3600\n\n[scep]\ndefault_profile = \"{PROFILE}\"\n\n[[scep.profile]]\nname = \"{PROFILE}\"\nkey_bound_transaction_id = true\ndynamic_challenge = {{ trust_anchor = {anchor:?}, per_device_per_day = 3 }}\n"
    ));
    let fingerprint = ra_fingerprint(&c, "/scep");
    let mut tokens = Vec::new();

    let _step = step("a token for device-1 enrols dev1.lab.test through scepclient");
    let first = connector.token("device-1", "dev1.lab.test");
    tokens.push(first.clone());
    {
        assert!(first.len() > 255, "the token is longer than PKCS#9's bound");
        let (ok, out, cert) = enrol(&c, &fingerprint, "dev1", "dev1.lab.test", &first);
        assert!(ok, "scepclient: {out}\nfront: {}", c.front_log());
        let text = openssl(&["x509", "-in", cert.to_str().unwrap(), "-noout", "-text"]);
        assert!(text.contains("DNS:dev1.lab.test"), "{text}");
        assert!(
            c.front_log().contains("SCEP: dynamic challenge used"),
            "{}",
            c.front_log()
        );
    }

    let _step = step("the same token again, from another key: replayed");
    refused(
        &c,
        enrol(&c, &fingerprint, "dev1-again", "dev1.lab.test", &first),
        "replayed",
    );

    let _step = step("a token for dev2.lab.test with a CSR for dev3.lab.test: refused");
    let other = connector.token("device-2", "dev2.lab.test");
    tokens.push(other.clone());
    refused(
        &c,
        enrol(&c, &fingerprint, "dev3", "dev3.lab.test", &other),
        "subject-mismatch",
    );

    let _step = step("three tokens a day for device-4; the fourth refused");
    for n in 1..=3 {
        let token = connector.token("device-4", &format!("dev4-{n}.lab.test"));
        tokens.push(token.clone());
        let (ok, out, _) = enrol(
            &c,
            &fingerprint,
            &format!("dev4-{n}"),
            &format!("dev4-{n}.lab.test"),
            &token,
        );
        assert!(ok, "token {n}: {out}\nfront: {}", c.front_log());
    }
    let fourth = connector.token("device-4", "dev4-4.lab.test");
    tokens.push(fourth.clone());
    refused(
        &c,
        enrol(&c, &fingerprint, "dev4-4", "dev4-4.lab.test", &fourth),
        "device-limit",
    );

    let _step = step("a token signed by a stranger: bad signature");
    let stranger = TestDoubleConnector::new().token("device-5", "dev5.lab.test");
    tokens.push(stranger.clone());
    refused(
        &c,
        enrol(&c, &fingerprint, "dev5", "dev5.lab.test", &stranger),
        "bad-signature",
    );

    let _step = step("no token reaches the front's log");
    let log = c.front_log();
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !log.contains(token.as_str()) && !log.contains(signature),
            "a token is in the front's log"
        );
    }
}

#[test]
fn scepclient_enrols_with_signed_dynamic_challenges_on_sqlite() {
    scepclient_enrols_with_signed_dynamic_challenges(Db::Sqlite);
}

#[test]
fn scepclient_enrols_with_signed_dynamic_challenges_on_postgres() {
    scepclient_enrols_with_signed_dynamic_challenges(Db::Postgres);
}
