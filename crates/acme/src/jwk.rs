//! Account keys as JSON Web Keys (RFC 7517/7518), the RFC 7638 thumbprint that identifies
//! an account, and signature verification for the algorithms we allow.
//!
//! In: a `jwk` object from a JWS header (hostile). Out: a [`Jwk`] that holds only public
//! members of an allowed key type — private members (`d`, `p`, …), unknown members, weak
//! RSA moduli and wrong coordinate lengths are refused — and `verify` for JWS signatures.

use crate::b64;
use crate::problem::{Problem, ProblemType};
use ring::signature::{self, UnparsedPublicKey};
use serde_json::{Map, Value};

/// JWS algorithms accepted for account keys (RFC 8555 §6.2 requires ES256 and EdDSA-capable
/// servers to refuse `none` and MAC algorithms).
pub const ALGORITHMS: [&str; 4] = ["ES256", "ES384", "RS256", "EdDSA"];

/// A public account key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Jwk {
    /// EC P-256 (ES256) or P-384 (ES384): uncompressed coordinates.
    Ec {
        /// `P-256` or `P-384`.
        crv: &'static str,
        /// x.
        x: Vec<u8>,
        /// y.
        y: Vec<u8>,
    },
    /// RSA (RS256), 2048–8192 bits.
    Rsa {
        /// Modulus, big-endian, no leading zero.
        n: Vec<u8>,
        /// Exponent.
        e: Vec<u8>,
    },
    /// Ed25519 (EdDSA).
    Ed25519 {
        /// The 32-byte public key.
        x: Vec<u8>,
    },
}

fn member<'a>(o: &'a Map<String, Value>, name: &str) -> Result<&'a str, Problem> {
    o.get(name).and_then(Value::as_str).ok_or_else(|| {
        Problem::new(
            ProblemType::BadPublicKey,
            format!("the JWK has no string member {name:?}"),
        )
    })
}

/// RFC 7517 §4 metadata a client may add to a public key (instant-acme sends `alg` and
/// `use`): accepted when it agrees with the key, checked in [`check_metadata`].
const METADATA: [&str; 4] = ["alg", "use", "key_ops", "kid"];

fn only(o: &Map<String, Value>, allowed: &[&str]) -> Result<(), Problem> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) && !METADATA.contains(&k.as_str()) {
            let why = if ["d", "p", "q", "dp", "dq", "qi", "oth", "k"].contains(&k.as_str()) {
                format!("the JWK carries private member {k:?}: send only the public key (and treat this key as compromised)")
            } else {
                format!("the JWK has an unexpected member {k:?}")
            };
            return Err(Problem::new(ProblemType::BadPublicKey, why));
        }
    }
    Ok(())
}

/// The optional members must describe a signature key for `alg`: a different `alg`, an
/// encryption `use` or `key_ops` without `verify` would be a key meant for something else.
fn check_metadata(o: &Map<String, Value>, alg: &str) -> Result<(), Problem> {
    let bad = |why: String| Err(Problem::new(ProblemType::BadPublicKey, why));
    if let Some(v) = o.get("alg") {
        if v.as_str() != Some(alg) {
            return bad(format!(
                "the JWK's \"alg\" is {v}, but this key signs with {alg}"
            ));
        }
    }
    if let Some(v) = o.get("use") {
        if v.as_str() != Some("sig") {
            return bad(format!(
                "the JWK's \"use\" is {v}; an account key must be \"sig\""
            ));
        }
    }
    if let Some(v) = o.get("key_ops") {
        let ops = v.as_array().filter(|a| a.iter().all(Value::is_string));
        if !ops.is_some_and(|a| a.iter().any(|op| op == "verify")) {
            return bad(format!(
                "the JWK's \"key_ops\" is {v}; it must be an array of strings with \"verify\""
            ));
        }
    }
    if o.get("kid").is_some_and(|v| !v.is_string()) {
        return bad("the JWK's \"kid\" must be a string".into());
    }
    Ok(())
}

fn bytes(o: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Problem> {
    b64::decode(member(o, name)?, &format!("JWK member {name:?}"))
        .map_err(|e| Problem::new(ProblemType::BadPublicKey, e))
}

impl Jwk {
    /// Parses a JWK object.
    pub fn from_value(v: &Value) -> Result<Jwk, Problem> {
        let jwk = Self::key(v)?;
        if let Some(o) = v.as_object() {
            check_metadata(o, jwk.algorithm())?;
        }
        Ok(jwk)
    }

    /// The key members alone (metadata is checked by the caller).
    fn key(v: &Value) -> Result<Jwk, Problem> {
        let o = v
            .as_object()
            .ok_or_else(|| Problem::new(ProblemType::BadPublicKey, "the JWK must be an object"))?;
        let bad = |why: String| Problem::new(ProblemType::BadPublicKey, why);
        match member(o, "kty")? {
            "EC" => {
                only(o, &["kty", "crv", "x", "y"])?;
                let (crv, len) = match member(o, "crv")? {
                    "P-256" => ("P-256", 32),
                    "P-384" => ("P-384", 48),
                    other => {
                        return Err(bad(format!(
                            "EC curve {other:?} is not accepted; use P-256 or P-384"
                        )))
                    }
                };
                let (x, y) = (bytes(o, "x")?, bytes(o, "y")?);
                if x.len() != len || y.len() != len {
                    return Err(bad(format!("{crv} coordinates must be {len} bytes each")));
                }
                Ok(Jwk::Ec { crv, x, y })
            }
            "RSA" => {
                only(o, &["kty", "n", "e"])?;
                let (n, e) = (bytes(o, "n")?, bytes(o, "e")?);
                if n.first() == Some(&0) || e.first() == Some(&0) {
                    return Err(bad("RSA n and e must not have leading zero bytes".into()));
                }
                let bits = n.len() * 8;
                if !(2048..=8192).contains(&bits) {
                    return Err(bad(format!(
                        "RSA keys must have 2048 to 8192 bits, this one has about {bits}"
                    )));
                }
                if e.is_empty() || e.len() > 4 {
                    return Err(bad("RSA exponent must be 1 to 4 bytes".into()));
                }
                Ok(Jwk::Rsa { n, e })
            }
            "OKP" => {
                only(o, &["kty", "crv", "x"])?;
                if member(o, "crv")? != "Ed25519" {
                    return Err(bad("OKP keys must be Ed25519".into()));
                }
                let x = bytes(o, "x")?;
                if x.len() != 32 {
                    return Err(bad("Ed25519 keys are 32 bytes".into()));
                }
                Ok(Jwk::Ed25519 { x })
            }
            other => Err(bad(format!(
                "key type {other:?} is not accepted; use EC, RSA or OKP"
            ))),
        }
    }

    /// The JWS algorithm this key signs with.
    pub fn algorithm(&self) -> &'static str {
        match self {
            Jwk::Ec { crv: "P-384", .. } => "ES384",
            Jwk::Ec { .. } => "ES256",
            Jwk::Rsa { .. } => "RS256",
            Jwk::Ed25519 { .. } => "EdDSA",
        }
    }

    /// The RFC 7638 canonical JSON (required members, lexicographic order, no spaces); also
    /// how the key is stored.
    pub fn canonical_json(&self) -> String {
        match self {
            Jwk::Ec { crv, x, y } => format!(
                r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}"}}"#,
                b64::encode(x),
                b64::encode(y)
            ),
            Jwk::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64::encode(e),
                b64::encode(n)
            ),
            Jwk::Ed25519 { x } => {
                format!(
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                    b64::encode(x)
                )
            }
        }
    }

    /// The key as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.canonical_json()).unwrap_or(Value::Null)
    }

    /// RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)).
    pub fn thumbprint(&self) -> String {
        b64::encode(
            ring::digest::digest(&ring::digest::SHA256, self.canonical_json().as_bytes()).as_ref(),
        )
    }

    /// Verifies a JWS signature made with `alg` over `message`.
    pub fn verify(&self, alg: &str, message: &[u8], sig: &[u8]) -> Result<(), Problem> {
        if alg != self.algorithm() {
            return Err(Problem::malformed(format!(
                "alg {alg:?} does not match the key (a {} key signs with {})",
                self.kind(),
                self.algorithm()
            )));
        }
        let ok = match self {
            Jwk::Ec { crv, x, y } => {
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(4);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                let algorithm: &dyn signature::VerificationAlgorithm = if *crv == "P-384" {
                    &signature::ECDSA_P384_SHA384_FIXED
                } else {
                    &signature::ECDSA_P256_SHA256_FIXED
                };
                UnparsedPublicKey::new(algorithm, &point)
                    .verify(message, sig)
                    .is_ok()
            }
            Jwk::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            Jwk::Ed25519 { x } => UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(Problem::malformed("JWS signature verification failed"))
        }
    }

    /// The key as a DER SubjectPublicKeyInfo, to compare with a certificate's (revocation
    /// signed with the certificate key, RFC 8555 §7.6).
    pub fn to_spki_der(&self) -> Vec<u8> {
        match self {
            Jwk::Ec { crv, x, y } => {
                // id-ecPublicKey with the named curve, then the uncompressed point.
                let mut out = if *crv == "P-384" {
                    hex_bytes("3076301006072a8648ce3d020106052b81040022036200")
                } else {
                    hex_bytes("3059301306072a8648ce3d020106082a8648ce3d030107034200")
                };
                out.push(4);
                out.extend_from_slice(x);
                out.extend_from_slice(y);
                out
            }
            Jwk::Ed25519 { x } => {
                let mut out = hex_bytes("302a300506032b6570032100");
                out.extend_from_slice(x);
                out
            }
            Jwk::Rsa { n, e } => {
                let rsa_key = tlv(0x30, &[der_uint(n), der_uint(e)].concat());
                let mut bits = vec![0u8];
                bits.extend_from_slice(&rsa_key);
                // rsaEncryption with NULL parameters.
                let alg = hex_bytes("300d06092a864886f70d0101010500");
                tlv(0x30, &[alg, tlv(0x03, &bits)].concat())
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Jwk::Ec { crv: "P-384", .. } => "P-384",
            Jwk::Ec { .. } => "P-256",
            Jwk::Rsa { .. } => "RSA",
            Jwk::Ed25519 { .. } => "Ed25519",
        }
    }
}

fn hex_bytes(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0))
        .collect()
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A non-negative INTEGER from a big-endian magnitude.
fn der_uint(magnitude: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(magnitude);
    tlv(0x02, &content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_example_thumbprint() {
        // RFC 7638 §3.1.
        let v = json!({"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"});
        let k = Jwk::from_value(&v).unwrap();
        assert_eq!(
            k.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn metadata_that_agrees_with_the_key_is_accepted_and_not_hashed() {
        let x = b64::encode(&[1u8; 32]);
        let bare = Jwk::from_value(&json!({"kty":"EC","crv":"P-256","x":x,"y":x})).unwrap();
        let described = Jwk::from_value(&json!({"kty":"EC","crv":"P-256","x":x,"y":x,
            "alg":"ES256","use":"sig","key_ops":["verify"],"kid":"acct-1"}))
        .unwrap();
        assert_eq!(bare.thumbprint(), described.thumbprint());
    }

    #[test]
    fn refuses_private_unknown_and_weak() {
        let x = b64::encode(&[1u8; 32]);
        for v in [
            json!({"kty":"EC","crv":"P-256","x":x,"y":x,"d":x}),
            json!({"kty":"EC","crv":"P-256","x":x,"y":x,"foo":"bar"}),
            json!({"kty":"EC","crv":"P-256","x":x,"y":x,"use":"enc"}),
            json!({"kty":"EC","crv":"P-256","x":x,"y":x,"alg":"ES384"}),
            json!({"kty":"EC","crv":"P-256","x":x,"y":x,"key_ops":["encrypt"]}),
            json!({"kty":"EC","crv":"P-256","x":x,"y":x,"kid":7}),
            json!({"kty":"EC","crv":"P-521","x":x,"y":x}),
            json!({"kty":"EC","crv":"P-384","x":x,"y":x}),
            json!({"kty":"RSA","n":b64::encode(&[0xc1u8; 128]),"e":"AQAB"}),
            json!({"kty":"oct","k":x}),
            json!({"kty":"OKP","crv":"X25519","x":x}),
            json!("not an object"),
        ] {
            assert!(Jwk::from_value(&v).is_err(), "{v}");
        }
    }
}
