//! `VerifiedCsr::common_names` lists every CN of the requested subject, not only the first:
//! a caller matching the subject exactly (a SCEP dynamic challenge names one CN) must see a
//! second CN smuggled after the authorised one. The CSRs are built and signed in the test
//! with a P-256 key from ring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Encode};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::str::FromStr;
use strongroom_x509::parse_csr;
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};

/// A CSR for `subject`, signed with a fresh P-256 key.
fn csr(subject: &str) -> Vec<u8> {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(
        &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        pkcs8.as_ref(),
        &rng,
    )
    .unwrap();
    let curve = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    let info = CertReqInfo {
        version: Version::V1,
        subject: Name::from_str(subject).unwrap(),
        public_key: SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
                parameters: Some(Any::encode_from(&curve).unwrap()),
            },
            subject_public_key: BitString::from_bytes(key.public_key().as_ref()).unwrap(),
        },
        attributes: Default::default(),
    };
    let signature = key.sign(&rng, &info.to_der().unwrap()).unwrap();
    CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: BitString::from_bytes(signature.as_ref()).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn every_common_name_of_the_subject_is_listed() {
    let one = parse_csr(&csr("CN=dev1.lab.test,O=scep-client")).unwrap();
    assert_eq!(one.common_names().unwrap(), ["dev1.lab.test"]);
    let two = parse_csr(&csr("CN=dev1.lab.test,CN=dev2.lab.test")).unwrap();
    let mut names = two.common_names().unwrap();
    names.sort();
    assert_eq!(names, ["dev1.lab.test", "dev2.lab.test"]);
    let none = parse_csr(&csr("O=no common name")).unwrap();
    assert!(none.common_names().unwrap().is_empty());
}
