//! Tests of `dynamic`: one good token from a test double connector, then each lie a
//! token can tell, each refused for its own reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use super::*;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

const NOW: i64 = 1_700_000_000;
const HEADER: &str = r#"{"alg":"ES256","typ":"scep-challenge+jwt"}"#;

/// The test double of an MDM connector: a P-256 key made here.
struct TestDoubleConnector {
    key: EcdsaKeyPair,
    rng: SystemRandom,
}

impl TestDoubleConnector {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        TestDoubleConnector { key, rng }
    }

    /// Its public key as the operator's anchor file holds it.
    fn anchor_pem(&self) -> String {
        let mut der = P256_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.key.public_key().as_ref());
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    }

    fn anchor(&self) -> ConnectorKey {
        ConnectorKey::from_pem(&self.anchor_pem()).unwrap()
    }

    /// A compact JWS of `header` and `claims` (raw JSON text), signed with this key.
    fn sign_raw(&self, header: &str, claims: &str) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig = self.key.sign(&self.rng, signing_input.as_bytes()).unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_raw(HEADER, &claims.to_string())
    }
}

fn claims() -> Value {
    json!({
        "iss": "test double",
        "jti": "jti-0123456789abcdef",
        "device_id": "device-A",
        "profile": "scep-device",
        "sub": "dev1.lab.test",
        "sans": ["dns:dev1.lab.test", "dns:alias.lab.test"],
        "iat": NOW - 10,
        "exp": NOW + 3600,
    })
}

fn with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    change(c.as_object_mut().unwrap());
    c
}

fn profile() -> ProfileName {
    "scep-device".parse().unwrap()
}

/// The CSR of device A: CN dev1.lab.test, names as parse_csr lists them (SANs, then the CN).
struct Csr {
    cns: Vec<String>,
    names: Vec<RequestedName>,
}

impl Csr {
    fn device_a() -> Csr {
        Csr::new(
            &["dev1.lab.test"],
            &["dns:alias.lab.test", "dns:dev1.lab.test"],
        )
    }

    fn new(cns: &[&str], names: &[&str]) -> Csr {
        Csr {
            cns: cns.iter().map(|s| s.to_string()).collect(),
            names: names.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn identity(&self) -> CsrIdentity<'_> {
        CsrIdentity {
            common_names: &self.cns,
            names: &self.names,
        }
    }
}

fn check(key: &ConnectorKey, token: &str, csr: &Csr, now: i64) -> Result<TokenId, Refusal> {
    verify(key, token, &profile(), csr.identity(), now)
}

fn reason(r: Result<TokenId, Refusal>) -> RefusalReason {
    r.unwrap_err().reason
}

#[test]
fn a_token_from_the_profiles_connector_for_this_csr_is_accepted() {
    let c = TestDoubleConnector::new();
    let token = c.sign(&claims());
    assert!(looks_like_jws(&token));
    let id = check(&c.anchor(), &token, &Csr::device_a(), NOW).unwrap();
    assert_eq!(
        id,
        TokenId {
            connector: "test double".into(),
            jti: "jti-0123456789abcdef".into(),
            device_id: "device-A".into(),
        }
    );
}

#[test]
fn a_signature_by_another_key_or_over_other_bytes_is_refused() {
    let (c, stranger) = (TestDoubleConnector::new(), TestDoubleConnector::new());
    let csr = Csr::device_a();
    let forged = stranger.sign(&claims());
    assert_eq!(
        reason(check(&c.anchor(), &forged, &csr, NOW)),
        RefusalReason::BadSignature
    );
    // The connector's signature, moved onto another device's claims.
    let good = c.sign(&claims());
    let other = c.sign(&with(|m| {
        m.insert("device_id".into(), json!("device-B"));
    }));
    let spliced = format!(
        "{}.{}",
        other.rsplit_once('.').unwrap().0,
        good.rsplit_once('.').unwrap().1
    );
    assert_eq!(
        reason(check(&c.anchor(), &spliced, &csr, NOW)),
        RefusalReason::BadSignature
    );
    // A DER signature (what a careless connector sends) is not the JWS's r ‖ s.
    let truncated = format!("{}.{}", good.rsplit_once('.').unwrap().0, "AAAA");
    assert_eq!(
        reason(check(&c.anchor(), &truncated, &csr, NOW)),
        RefusalReason::BadSignature
    );
}

#[test]
fn alg_none_hs256_and_a_key_in_the_header_are_refused() {
    let c = TestDoubleConnector::new();
    let csr = Csr::device_a();
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    // alg none: "unsigned", with an empty or any signature.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"scep-challenge+jwt"}"#);
    for sig in ["", "c2ln"] {
        let token = format!("{none_header}.{payload}.{sig}");
        let r = reason(check(&c.anchor(), &token, &csr, NOW));
        assert!(
            matches!(r, RefusalReason::BadHeader | RefusalReason::Malformed),
            "{sig:?}: {r:?}"
        );
    }
    // HS256 keyed with the public anchor itself (the classic algorithm confusion).
    let hs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"scep-challenge+jwt"}"#);
    let input = format!("{hs_header}.{payload}");
    let mac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, c.anchor_pem().as_bytes());
    let mac = ring::hmac::sign(&mac_key, input.as_bytes());
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    assert_eq!(
        reason(check(&c.anchor(), &token, &csr, NOW)),
        RefusalReason::BadHeader
    );
    // Properly signed by the connector, but the header names a key, another type or
    // another algorithm spelling: refused all the same.
    for header in [
        r#"{"alg":"ES256","typ":"scep-challenge+jwt","jwk":{"kty":"EC"}}"#,
        r#"{"alg":"ES256","typ":"scep-challenge+jwt","kid":"k1"}"#,
        r#"{"alg":"ES256","typ":"JWT"}"#,
        r#"{"alg":"ES256"}"#,
        r#"{"alg":"es256","typ":"scep-challenge+jwt"}"#,
        r#"{"alg":"ES256","alg":"ES256","typ":"scep-challenge+jwt"}"#,
        r#"{"alg":"ES384","typ":"scep-challenge+jwt"}"#,
        "not json",
    ] {
        let token = c.sign_raw(header, &claims().to_string());
        assert_eq!(
            reason(check(&c.anchor(), &token, &csr, NOW)),
            RefusalReason::BadHeader,
            "{header}"
        );
    }
}

#[test]
fn time_is_checked_with_a_small_skew() {
    let c = TestDoubleConnector::new();
    let csr = Csr::device_a();
    let at = |iat: i64, exp: i64| {
        c.sign(&with(|m| {
            m.insert("iat".into(), json!(iat));
            m.insert("exp".into(), json!(exp));
        }))
    };
    let key = c.anchor();
    let r = |token: &str, now: i64| check(&key, token, &csr, now).map_err(|e| e.reason);
    // Expired: at exp + skew, refused; within the skew, still accepted.
    let t = at(NOW - 3600, NOW);
    assert!(r(&t, NOW + CLOCK_SKEW_SECS - 1).is_ok());
    assert_eq!(r(&t, NOW + CLOCK_SKEW_SECS), Err(RefusalReason::Expired));
    // Not yet valid beyond the skew.
    let t = at(NOW + CLOCK_SKEW_SECS + 1, NOW + 3600);
    assert_eq!(r(&t, NOW), Err(RefusalReason::NotYetValid));
    assert!(r(&at(NOW + CLOCK_SKEW_SECS, NOW + 3600), NOW).is_ok());
    // At most 24 h of life, and exp after iat.
    assert!(r(&at(NOW - 10, NOW - 10 + MAX_LIFETIME_SECS), NOW).is_ok());
    for (iat, exp) in [
        (NOW - 10, NOW - 9 + MAX_LIFETIME_SECS),
        (NOW, NOW),
        (NOW + 10, NOW),
        (i64::MIN, i64::MAX),
    ] {
        assert_eq!(
            r(&at(iat, exp), NOW),
            Err(RefusalReason::BadLifetime),
            "{iat} {exp}"
        );
    }
}

#[test]
fn a_token_for_another_profile_subject_or_names_is_refused() {
    let c = TestDoubleConnector::new();
    let key = c.anchor();
    let token = c.sign(&claims());
    let r = |token: &str, csr: &Csr| check(&key, token, csr, NOW).map_err(|e| e.reason);
    let other_profile = c.sign(&with(|m| {
        m.insert("profile".into(), json!("tls-server"));
    }));
    assert_eq!(
        r(&other_profile, &Csr::device_a()),
        Err(RefusalReason::WrongProfile)
    );
    // Device B's CSR with device A's token.
    let device_b = Csr::new(
        &["dev2.lab.test"],
        &["dns:dev2.lab.test", "dns:alias.lab.test"],
    );
    assert_eq!(r(&token, &device_b), Err(RefusalReason::SubjectMismatch));
    // A second CN smuggled after the authorised one; no CN at all.
    let two_cns = Csr::new(
        &["dev1.lab.test", "dev2.lab.test"],
        &["dns:alias.lab.test", "dns:dev1.lab.test"],
    );
    assert_eq!(r(&token, &two_cns), Err(RefusalReason::SubjectMismatch));
    let no_cn = Csr::new(&[], &["dns:alias.lab.test", "dns:dev1.lab.test"]);
    assert_eq!(r(&token, &no_cn), Err(RefusalReason::SubjectMismatch));
    // The right CN, but a name more, a name fewer, or another kind of name.
    for names in [
        &[
            "dns:alias.lab.test",
            "dns:dev1.lab.test",
            "dns:evil.lab.test",
        ][..],
        &["dns:dev1.lab.test"][..],
        &["dns:dev1.lab.test", "ip:192.0.2.1"][..],
    ] {
        let csr = Csr::new(&["dev1.lab.test"], names);
        assert_eq!(
            r(&token, &csr),
            Err(RefusalReason::NamesMismatch),
            "{names:?}"
        );
    }
    // The order of names does not matter; their set does.
    let reordered = Csr::new(
        &["dev1.lab.test"],
        &["dns:dev1.lab.test", "dns:alias.lab.test"],
    );
    assert!(r(&token, &reordered).is_ok());
    // The refusal names the signed token's jti and device, never the token.
    let refusal = check(&key, &token, &device_b, NOW).unwrap_err();
    let shown = format!("{refusal} {refusal:?}");
    assert!(
        shown.contains("jti-0123456789abcdef") && shown.contains("device-A"),
        "{shown}"
    );
    assert!(!shown.contains(&token) && !shown.contains(token.rsplit('.').next().unwrap()));
}

#[test]
fn claims_are_exactly_the_documented_ones_within_bounds() {
    let c = TestDoubleConnector::new();
    let key = c.anchor();
    let csr = Csr::device_a();
    let r = |claims: Value| check(&key, &c.sign(&claims), &csr, NOW).map_err(|e| e.reason);
    let cases: Vec<(&str, Value)> = vec![
        (
            "an unknown claim",
            with(|m| {
                m.insert("admin".into(), json!(true));
            }),
        ),
        (
            "a missing claim",
            with(|m| {
                m.remove("device_id");
            }),
        ),
        (
            "a jti of 15 characters",
            with(|m| {
                m.insert("jti".into(), json!("jti-0123456789a"));
            }),
        ),
        (
            "a jti of 65 characters",
            with(|m| {
                m.insert("jti".into(), json!("j".repeat(65)));
            }),
        ),
        (
            "a device id with a space",
            with(|m| {
                m.insert("device_id".into(), json!("device A"));
            }),
        ),
        (
            "an empty issuer",
            with(|m| {
                m.insert("iss".into(), json!(""));
            }),
        ),
        (
            "a name listed twice",
            with(|m| {
                m.insert(
                    "sans".into(),
                    json!(["dns:dev1.lab.test", "dns:dev1.lab.test"]),
                );
            }),
        ),
        (
            "a name without its kind",
            with(|m| {
                m.insert("sans".into(), json!(["dev1.lab.test"]));
            }),
        ),
        (
            "a fractional time",
            with(|m| {
                m.insert("iat".into(), json!(1.5));
            }),
        ),
    ];
    for (what, claims) in cases {
        assert_eq!(r(claims), Err(RefusalReason::BadClaims), "{what}");
    }
    // A claim repeated in the JSON text (serde_json keeps the last; we refuse).
    let text = claims().to_string().replacen(
        "\"device_id\":\"device-A\"",
        "\"device_id\":\"device-A\",\"device_id\":\"device-B\"",
        1,
    );
    assert!(text.contains("device-B"));
    let token = c.sign_raw(HEADER, &text);
    assert_eq!(
        reason(check(&key, &token, &csr, NOW)),
        RefusalReason::BadClaims
    );
}

#[test]
fn an_oversized_or_malformed_token_is_refused_before_any_crypto() {
    let c = TestDoubleConnector::new();
    let key = c.anchor();
    let csr = Csr::device_a();
    // Signed tokens just under and just past the bound (a long claim pads them; base64
    // skips some lengths). Under it the claim's own bound refuses it; past it, its size.
    let padded = |pad: usize| {
        c.sign(&with(|m| {
            m.insert("iss".into(), json!("x".repeat(pad)));
        }))
    };
    let tokens: Vec<String> = (2500..3200).map(padded).collect();
    let under = tokens.iter().rev().find(|t| t.len() <= MAX_TOKEN).unwrap();
    let over = tokens.iter().find(|t| t.len() > MAX_TOKEN).unwrap();
    assert!(over.len() <= MAX_TOKEN + 3);
    assert_eq!(
        reason(check(&key, under, &csr, NOW)),
        RefusalReason::BadClaims
    );
    assert_eq!(reason(check(&key, over, &csr, NOW)), RefusalReason::TooLong);
    let good = c.sign(&claims());
    for bad in [
        good.replacen('.', "", 1),
        format!("{good}.extra"),
        format!("{good}="),
        good.replacen('.', "..", 1),
        good.replace('-', "+"),
        String::new(),
    ] {
        if bad == good {
            continue;
        }
        assert_eq!(
            reason(check(&key, &bad, &csr, NOW)),
            RefusalReason::Malformed,
            "{bad}"
        );
    }
}

#[test]
fn the_anchor_is_one_p256_public_key() {
    let c = TestDoubleConnector::new();
    assert_eq!(ConnectorKey::from_pem(&c.anchor_pem()).unwrap(), c.anchor());
    assert!(!format!("{:?}", c.anchor()).is_empty());
    // Not PEM; another block; a point off the curve; a truncated key.
    let mut off_curve = P256_SPKI_PREFIX.to_vec();
    off_curve.push(0x04);
    off_curve.extend_from_slice(&[0x01; 64]);
    let pem = |der: &[u8]| {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            STANDARD.encode(der)
        )
    };
    for bad in [
        "not a key".to_string(),
        c.anchor_pem().replace("PUBLIC KEY", "CERTIFICATE"),
        pem(&off_curve),
        pem(&off_curve[..60]),
    ] {
        assert!(ConnectorKey::from_pem(&bad).is_err(), "{bad}");
    }
}

#[test]
fn only_three_base64url_parts_look_like_a_jws() {
    assert!(looks_like_jws("a.b.c"));
    for not in [
        "",
        "a.b",
        "a.b.c.d",
        "a..c",
        "a.b.c=",
        "a b.c.d",
        "static-challenge-0123456789",
    ] {
        assert!(!looks_like_jws(not), "{not}");
    }
}
