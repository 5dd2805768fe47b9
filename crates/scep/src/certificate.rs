//! The parts of an X.509 certificate SCEP needs, as the exact bytes the certificate holds.
//! In: a certificate's DER (from a device's message or from the caller). Out: a
//! `CertificateView` — issuer Name, serial, subject, public key — borrowed from it, after
//! `x509-cert` has checked that the whole certificate is strict DER.
//!
//! Not checked here: validity dates, the issuer's signature, key usage. Which certificate
//! may sign which request is the caller's policy (a PKCSReq's signer is self-signed, a
//! RenewalReq's is the certificate it renews).

use const_oid::ObjectIdentifier;
use der::Decode;

use crate::der_reader::{self, context_constructed, DerReader, BIT_STRING, SEQUENCE};
use crate::error::ScepError;
use crate::oids::read_oid;

/// A certificate, parsed only as far as SCEP needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CertificateView<'a> {
    /// The whole certificate.
    pub raw: &'a [u8],
    /// The issuer Name, its DER.
    pub issuer: &'a [u8],
    /// The serial number INTEGER's content.
    pub serial: &'a [u8],
    /// The SubjectPublicKeyInfo's algorithm.
    pub key_algorithm: ObjectIdentifier,
    /// The algorithm's parameters (their DER), if any.
    pub key_parameters: Option<&'a [u8]>,
    /// The subjectPublicKey BIT STRING's bits (PKCS#1 RSAPublicKey for RSA; the point for EC).
    pub public_key: &'a [u8],
}

impl<'a> CertificateView<'a> {
    pub(crate) fn parse(raw: &'a [u8]) -> Result<Self, ScepError> {
        x509_cert::Certificate::from_der(raw).map_err(|_| ScepError::Malformed("certificate"))?;
        let cert = der_reader::single(raw, SEQUENCE, "certificate")?;
        let mut c = DerReader::new(cert.value);
        let tbs = c.expect(SEQUENCE, "tbsCertificate")?;
        let mut t = DerReader::new(tbs.value);
        let _version = t.optional(context_constructed(0))?;
        let serial = der_reader::integer_bytes(&t.read()?, "certificate serial number")?;
        let _signature = t.expect(SEQUENCE, "certificate signature algorithm")?;
        let issuer = t.expect(SEQUENCE, "certificate issuer")?;
        let _validity = t.expect(SEQUENCE, "certificate validity")?;
        let _subject = t.expect(SEQUENCE, "certificate subject")?;
        let spki = t.expect(SEQUENCE, "certificate public key")?;
        let key = public_key_info(spki.value)?;
        Ok(CertificateView {
            raw,
            issuer: issuer.raw,
            serial,
            key_algorithm: key.algorithm,
            key_parameters: key.parameters,
            public_key: key.key,
        })
    }
}

/// A SubjectPublicKeyInfo's parts.
pub(crate) struct PublicKeyInfo<'a> {
    pub algorithm: ObjectIdentifier,
    /// The parameters' DER, if present.
    pub parameters: Option<&'a [u8]>,
    /// The subjectPublicKey BIT STRING's bits.
    pub key: &'a [u8],
}

/// The algorithm, its parameters and the key bits of a SubjectPublicKeyInfo's content.
pub(crate) fn public_key_info(content: &[u8]) -> Result<PublicKeyInfo<'_>, ScepError> {
    let mut s = DerReader::new(content);
    let alg = s.expect(SEQUENCE, "public key algorithm")?;
    let bits = s.expect(BIT_STRING, "public key bits")?;
    s.finish("public key info")?;
    let mut a = DerReader::new(alg.value);
    let oid = read_oid(&a.read()?, "public key algorithm")?;
    let params = if a.is_empty() {
        None
    } else {
        Some(a.read()?.raw)
    };
    a.finish("public key algorithm")?;
    match bits.value.split_first() {
        Some((0, key)) => Ok(PublicKeyInfo {
            algorithm: oid,
            parameters: params,
            key,
        }),
        _ => Err(ScepError::Malformed("public key bits")),
    }
}
