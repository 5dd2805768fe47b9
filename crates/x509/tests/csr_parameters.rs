//! A CSR's key is the only caller-supplied part of a certificate, so its
//! AlgorithmIdentifier must be the one form each key type has: NULL parameters for RSA, a
//! namedCurve OID for EC. The CSRs here are built and signed in the test with real keys
//! (RSA from `openssl genpkey`, P-256 from ring), so their signatures verify and the
//! refusal has to come from the parameter check, not from a bad signature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::process::Command;
use std::str::FromStr;
use strongroom_testkit::{run, tool};
use strongroom_x509::{parse_csr, X509Error};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const SECP256R1: &str = "1.2.840.10045.3.1.7";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

fn any(der: &[u8]) -> Any {
    Any::from_der(der).unwrap()
}

/// A signed CSR for `CN=csr.lab.test` whose SPKI is `key_alg` + `key_bits`. Returns the CSR
/// and the certificationRequestInfo it signed.
fn csr(
    key_alg: AlgorithmIdentifierOwned,
    key_bits: &[u8],
    sig_alg: AlgorithmIdentifierOwned,
    sign: impl Fn(&[u8]) -> Vec<u8>,
) -> (Vec<u8>, Vec<u8>) {
    let info = CertReqInfo {
        version: Version::V1,
        subject: Name::from_str("CN=csr.lab.test").unwrap(),
        public_key: SubjectPublicKeyInfoOwned {
            algorithm: key_alg,
            subject_public_key: BitString::from_bytes(key_bits).unwrap(),
        },
        attributes: Default::default(),
    };
    let info_der = info.to_der().unwrap();
    let signature = sign(&info_der);
    let req = CertReq {
        info,
        algorithm: sig_alg,
        signature: BitString::from_bytes(&signature).unwrap(),
    };
    (req.to_der().unwrap(), info_der)
}

fn rsa_key(dir: &std::path::Path) -> RsaKeyPair {
    let path = dir.join("rsa.der");
    let out = run(Command::new(tool("openssl"))
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&path));
    assert!(out.status.success(), "{out:?}");
    // openssl writes a DER private key as PKCS#1 RSAPrivateKey.
    RsaKeyPair::from_der(&std::fs::read(path).unwrap()).unwrap()
}

/// The explicit (specifiedCurve) ECParameters of P-256, as openssl writes them.
fn p256_explicit_parameters(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("p256-explicit.der");
    let out = run(Command::new(tool("openssl"))
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-param_enc",
            "explicit",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&path));
    assert!(out.status.success(), "{out:?}");
    let der = std::fs::read(path).unwrap();
    assert_eq!(der[0], 0x30, "ECParameters is a SEQUENCE");
    der
}

/// Asserts a parameter refusal: not a signature error, and a message naming the rule.
fn refused(result: Result<strongroom_x509::VerifiedCsr, X509Error>, needle: &str) {
    match result {
        Err(X509Error::BadSignature(e)) => {
            panic!("{needle}: refused for its signature ({e}), not for its parameters")
        }
        Err(e) => assert!(e.to_string().contains(needle), "{e} should say {needle:?}"),
        Ok(csr) => panic!(
            "{needle}: accepted; the TBS would carry the SPKI {}",
            hex::encode(csr.public_key_der)
        ),
    }
}

#[test]
fn rsa_key_parameters_must_be_null() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa_key(dir.path());
    let rsa_public = key.public().as_ref().to_vec();
    let sign = |m: &[u8]| {
        let mut sig = vec![0; key.public().modulus_len()];
        key.sign(
            &signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            m,
            &mut sig,
        )
        .unwrap();
        sig
    };
    let sig_alg = AlgorithmIdentifierOwned {
        oid: oid(SHA256_WITH_RSA),
        parameters: Some(any(&[0x05, 0x00])),
    };
    let with = |parameters: Option<Any>| {
        let key_alg = AlgorithmIdentifierOwned {
            oid: oid(RSA_ENCRYPTION),
            parameters,
        };
        let (der, info) = csr(key_alg, &rsa_public, sig_alg.clone(), sign);
        // The CSR is well signed: whatever refuses it, it is not the signature.
        let req = CertReq::from_der(&der).unwrap();
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &rsa_public)
            .verify(&info, req.signature.raw_bytes())
            .unwrap();
        der
    };

    let good = with(Some(any(&[0x05, 0x00])));
    let parsed = parse_csr(&good).unwrap();
    let sent = CertReq::from_der(&good)
        .unwrap()
        .info
        .public_key
        .to_der()
        .unwrap();
    assert_eq!(
        parsed.public_key_der, sent,
        "a canonical SPKI goes through unchanged"
    );

    refused(
        parse_csr(&with(None)),
        "RSA key AlgorithmIdentifier parameters are absent; they must be NULL",
    );
    // Caller bytes riding in the parameters would have been copied into the TBS.
    let smuggled = OctetString::new(b"not a key".to_vec())
        .unwrap()
        .to_der()
        .unwrap();
    refused(parse_csr(&with(Some(any(&smuggled)))), "must be NULL");
    refused(
        parse_csr(&with(Some(any(&oid(SECP256R1).to_der().unwrap())))),
        "must be NULL",
    );
}

#[test]
fn ec_key_parameters_must_be_a_named_curve() {
    let dir = tempfile::tempdir().unwrap();
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let point = key.public_key().as_ref().to_vec();
    let sign = |m: &[u8]| key.sign(&rng, m).unwrap().as_ref().to_vec();
    let sig_alg = AlgorithmIdentifierOwned {
        oid: oid(ECDSA_SHA256),
        parameters: None,
    };
    let with = |parameters: Option<Any>| {
        let key_alg = AlgorithmIdentifierOwned {
            oid: oid(EC_PUBLIC_KEY),
            parameters,
        };
        let (der, info) = csr(key_alg, &point, sig_alg.clone(), sign);
        let req = CertReq::from_der(&der).unwrap();
        signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &point)
            .verify(&info, req.signature.raw_bytes())
            .unwrap();
        der
    };

    let good = with(Some(any(&oid(SECP256R1).to_der().unwrap())));
    let parsed = parse_csr(&good).unwrap();
    let sent = CertReq::from_der(&good)
        .unwrap()
        .info
        .public_key
        .to_der()
        .unwrap();
    assert_eq!(
        parsed.public_key_der, sent,
        "a canonical SPKI goes through unchanged"
    );

    refused(
        parse_csr(&with(Some(any(&p256_explicit_parameters(dir.path()))))),
        "EC key parameters are specifiedCurve",
    );
    refused(
        parse_csr(&with(Some(any(&[0x05, 0x00])))),
        "EC key parameters are implicitCA (NULL)",
    );
    refused(parse_csr(&with(None)), "a namedCurve OID");
}

/// A bare SPKI (IssueCertificate with a public key instead of a CSR) goes through the same
/// check and leaves re-encoded: what the signer writes into the TBS is its own encoding.
#[test]
fn bare_spki_is_checked_and_re_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let key = rsa_key(dir.path());
    let rsa_public = key.public().as_ref().to_vec();
    let spki = |parameters: Option<Any>, key_bits: &[u8]| {
        SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: oid(RSA_ENCRYPTION),
                parameters,
            },
            subject_public_key: BitString::from_bytes(key_bits).unwrap(),
        }
        .to_der()
        .unwrap()
    };
    let null = || Some(any(&[0x05, 0x00]));
    let good = spki(null(), &rsa_public);
    let (alg, canonical) = strongroom_x509::canonical_spki(&good).unwrap();
    assert_eq!(alg, strongroom_types::KeyAlgorithm::Rsa2048);
    assert_eq!(canonical, good);
    let err = strongroom_x509::canonical_spki(&spki(None, &rsa_public)).unwrap_err();
    assert!(err.to_string().contains("must be NULL"), "{err}");

    // RSAPublicKey ::= SEQUENCE { 02 82 01 01 00 <256 modulus octets>, 02 03 01 00 01 }:
    // the same modulus with one more leading zero octet is not DER.
    assert_eq!(&rsa_public[4..9], &[0x02, 0x82, 0x01, 0x01, 0x00]);
    let modulus = &rsa_public[9..265];
    let mut padded = vec![0x30, 0x82, 0x01, 0x0b, 0x02, 0x82, 0x01, 0x02, 0x00, 0x00];
    padded.extend_from_slice(modulus);
    padded.extend_from_slice(&rsa_public[265..]);
    let err = strongroom_x509::canonical_spki(&spki(null(), &padded)).unwrap_err();
    assert!(err.to_string().contains("not minimally encoded"), "{err}");
}
