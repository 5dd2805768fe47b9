//! Flattened JWS (RFC 7515 §7.2.2) as ACME uses it (RFC 8555 §6.2): the request body.
//!
//! In: the raw body (the caller caps its size). Out: a [`Jws`] whose protected header is
//! typed — `alg` from the allow-list, `url`, `nonce`, exactly one of `jwk` / `kid` — and
//! whose signature the caller verifies with [`Jws::verify`] once it knows the key. General
//! JSON serialization, compact serialization, unprotected headers, `crit`, `b64` and any
//! other header member are refused.

use crate::b64;
use crate::jwk::{Jwk, ALGORITHMS};
use crate::problem::{Problem, ProblemType};
use serde::Deserialize;
use serde_json::Value;

/// The largest request body accepted (certificates for revocation and CSRs fit easily).
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Flattened {
    protected: String,
    payload: String,
    signature: String,
}

/// The protected header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedHeader {
    /// Signature algorithm (one of [`ALGORITHMS`]).
    pub alg: String,
    /// Replay nonce (absent only in the inner JWS of a key change and in EAB).
    pub nonce: Option<String>,
    /// The URL the request was sent to.
    pub url: String,
    /// The key, for newAccount and revocation by certificate key.
    pub jwk: Option<Jwk>,
    /// The account URL, for everything else.
    pub kid: Option<String>,
}

/// A parsed, not yet verified JWS.
#[derive(Clone, Debug)]
pub struct Jws {
    /// Header.
    pub header: ProtectedHeader,
    /// Decoded payload (empty for POST-as-GET).
    pub payload: Vec<u8>,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

/// A flattened JWS with its three parts decoded: (raw, header, payload, signature).
type Decoded = (Flattened, Vec<u8>, Vec<u8>, Vec<u8>);

fn parse_flattened(body: &[u8]) -> Result<Decoded, Problem> {
    if body.len() > MAX_BODY {
        return Err(Problem::malformed(format!(
            "the JWS is larger than {MAX_BODY} bytes"
        )));
    }
    let f: Flattened = serde_json::from_slice(body).map_err(|e| {
        Problem::malformed(format!(
            "the body must be a flattened JWS JSON object with protected, payload and signature: {e}"
        ))
    })?;
    let header = b64::decode(&f.protected, "protected").map_err(Problem::malformed)?;
    let payload = b64::decode(&f.payload, "payload").map_err(Problem::malformed)?;
    let signature = b64::decode(&f.signature, "signature").map_err(Problem::malformed)?;
    Ok((f, header, payload, signature))
}

impl Jws {
    /// Parses a request body.
    pub fn parse(body: &[u8]) -> Result<Jws, Problem> {
        let (f, header, payload, signature) = parse_flattened(body)?;
        let h: Value = serde_json::from_slice(&header)
            .map_err(|e| Problem::malformed(format!("the protected header is not JSON: {e}")))?;
        let h = h
            .as_object()
            .ok_or_else(|| Problem::malformed("the protected header must be a JSON object"))?;
        for k in h.keys() {
            if !["alg", "nonce", "url", "jwk", "kid"].contains(&k.as_str()) {
                return Err(Problem::malformed(format!(
                    "protected header member {k:?} is not accepted (only alg, nonce, url, jwk, kid)"
                )));
            }
        }
        let text = |name: &str| -> Result<Option<String>, Problem> {
            match h.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Problem::malformed(format!(
                    "protected header {name:?} must be a string"
                ))),
            }
        };
        let alg =
            text("alg")?.ok_or_else(|| Problem::malformed("the protected header has no alg"))?;
        if !ALGORITHMS.contains(&alg.as_str()) {
            let mut p = Problem::new(
                ProblemType::BadSignatureAlgorithm,
                format!(
                    "alg {:?} is not accepted; use one of {}",
                    alg.chars().take(32).collect::<String>(),
                    ALGORITHMS.join(", ")
                ),
            );
            p.algorithms = ALGORITHMS.iter().map(|a| a.to_string()).collect();
            return Err(p);
        }
        let url =
            text("url")?.ok_or_else(|| Problem::malformed("the protected header has no url"))?;
        let nonce = text("nonce")?;
        let kid = text("kid")?;
        let jwk = h.get("jwk").map(Jwk::from_value).transpose()?;
        if jwk.is_some() == kid.is_some() {
            return Err(Problem::malformed(
                "the protected header must carry exactly one of jwk and kid",
            ));
        }
        let mut signing_input = Vec::with_capacity(f.protected.len() + f.payload.len() + 1);
        signing_input.extend_from_slice(f.protected.as_bytes());
        signing_input.push(b'.');
        signing_input.extend_from_slice(f.payload.as_bytes());
        Ok(Jws {
            header: ProtectedHeader {
                alg,
                nonce,
                url,
                jwk,
                kid,
            },
            payload,
            signing_input,
            signature,
        })
    }

    /// Verifies the signature with `key` (the header's `jwk`, or the account's key).
    pub fn verify(&self, key: &Jwk) -> Result<(), Problem> {
        key.verify(&self.header.alg, &self.signing_input, &self.signature)
    }

    /// Whether this is a POST-as-GET (empty payload).
    pub fn is_post_as_get(&self) -> bool {
        self.payload.is_empty()
    }

    /// The payload as a JSON value of type `T` (unknown members ignored, known ones typed).
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, Problem> {
        serde_json::from_slice(&self.payload).map_err(|e| {
            Problem::malformed(format!("the payload is not what this resource takes: {e}"))
        })
    }
}

/// Verifies an external account binding (RFC 8555 §7.3.4): an HS256 JWS over the account
/// key, made with the MAC key the CA handed out. `lookup` gives the MAC key for a kid.
/// Returns the kid.
pub fn verify_eab(
    eab: &Value,
    account_key: &Jwk,
    new_account_url: &str,
    lookup: impl FnOnce(&str) -> Option<Vec<u8>>,
) -> Result<String, Problem> {
    let body =
        serde_json::to_vec(eab).map_err(|_| Problem::malformed("bad externalAccountBinding"))?;
    let (f, header, payload, signature) = parse_flattened(&body)
        .map_err(|p| Problem::malformed(format!("externalAccountBinding: {}", p.detail)))?;
    let h: Value = serde_json::from_slice(&header).map_err(|_| {
        Problem::malformed("externalAccountBinding: the protected header is not JSON")
    })?;
    let h = h.as_object().ok_or_else(|| {
        Problem::malformed("externalAccountBinding: the header must be an object")
    })?;
    for k in h.keys() {
        if !["alg", "kid", "url"].contains(&k.as_str()) {
            return Err(Problem::malformed(format!(
                "externalAccountBinding: header member {k:?} is not accepted (only alg, kid, url; no nonce)"
            )));
        }
    }
    let get = |k: &str| h.get(k).and_then(Value::as_str);
    let alg = get("alg").unwrap_or_default();
    let algorithm = match alg {
        "HS256" => ring::hmac::HMAC_SHA256,
        "HS384" => ring::hmac::HMAC_SHA384,
        "HS512" => ring::hmac::HMAC_SHA512,
        _ => {
            return Err(Problem::malformed(
                "externalAccountBinding: alg must be HS256, HS384 or HS512",
            ))
        }
    };
    if get("url") != Some(new_account_url) {
        return Err(Problem::malformed(
            "externalAccountBinding: url must be the newAccount URL",
        ));
    }
    let kid = get("kid")
        .filter(|k| !k.is_empty() && k.len() <= 128)
        .ok_or_else(|| Problem::malformed("externalAccountBinding: kid is missing"))?
        .to_string();
    let inner: Value = serde_json::from_slice(&payload).map_err(|_| {
        Problem::malformed("externalAccountBinding: the payload must be the account JWK")
    })?;
    if Jwk::from_value(&inner)? != *account_key {
        return Err(Problem::malformed(
            "externalAccountBinding: the payload is not the account key of this request",
        ));
    }
    let mac_key = lookup(&kid).ok_or_else(|| {
        Problem::unauthorized(format!(
            "externalAccountBinding: unknown or used kid {kid:?}"
        ))
    })?;
    let key = ring::hmac::Key::new(algorithm, &mac_key);
    let input = format!("{}.{}", f.protected, f.payload);
    ring::hmac::verify(&key, input.as_bytes(), &signature)
        .map_err(|_| Problem::unauthorized("externalAccountBinding: the MAC does not verify"))?;
    Ok(kid)
}

/// An ES256 account key that signs requests (tests, benchmarks, fuzz seeds).
pub struct Signer {
    pair: ring::signature::EcdsaKeyPair,
    jwk: Jwk,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("jwk", &self.jwk)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A fresh P-256 key.
    pub fn generate() -> Result<Signer, String> {
        Signer::from_pkcs8(&Signer::generate_pkcs8()?)
    }

    /// A fresh P-256 key as PKCS#8 DER (ring's encoding, which OpenSSL also reads).
    pub fn generate_pkcs8() -> Result<Vec<u8>, String> {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| "P-256 key generation failed".to_string())
    }

    /// A P-256 key from PKCS#8 DER (e.g. `openssl genpkey` output).
    pub fn from_pkcs8(der: &[u8]) -> Result<Signer, String> {
        let rng = ring::rand::SystemRandom::new();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, der, &rng)
            .map_err(|e| format!("not a P-256 PKCS#8 key: {e}"))?;
        use ring::signature::KeyPair;
        let point = pair.public_key().as_ref();
        let jwk = Jwk::Ec {
            crv: "P-256",
            x: point[1..33].to_vec(),
            y: point[33..65].to_vec(),
        };
        Ok(Signer { pair, jwk })
    }

    /// The public key.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs a request: `kid` when given, else the `jwk`; `payload` None is POST-as-GET.
    pub fn sign(
        &self,
        url: &str,
        nonce: Option<&str>,
        kid: Option<&str>,
        payload: Option<&Value>,
    ) -> Value {
        let mut header = serde_json::json!({"alg": "ES256", "url": url});
        if let Some(n) = nonce {
            header["nonce"] = Value::String(n.into());
        }
        match kid {
            Some(k) => header["kid"] = Value::String(k.into()),
            None => header["jwk"] = self.jwk.to_value(),
        }
        self.sign_with_header(&header, payload)
    }

    /// Signs with an arbitrary protected header (negative tests).
    pub fn sign_with_header(&self, header: &Value, payload: Option<&Value>) -> Value {
        let protected = b64::encode(header.to_string().as_bytes());
        let payload = match payload {
            Some(p) => b64::encode(p.to_string().as_bytes()),
            None => String::new(),
        };
        let rng = ring::rand::SystemRandom::new();
        // ECDSA signing with a valid key only fails without system randomness; the
        // signature is then empty and the server refuses the request.
        let sig = self
            .pair
            .sign(&rng, format!("{protected}.{payload}").as_bytes())
            .map(|s| s.as_ref().to_vec())
            .unwrap_or_default();
        serde_json::json!({"protected": protected, "payload": payload, "signature": b64::encode(&sig)})
    }
}

/// Builds an EAB JWS binding `account_key` (tests and tooling).
pub fn sign_eab(kid: &str, mac_key: &[u8], account_key: &Jwk, new_account_url: &str) -> Value {
    let header = serde_json::json!({"alg": "HS256", "kid": kid, "url": new_account_url});
    let protected = b64::encode(header.to_string().as_bytes());
    let payload = b64::encode(account_key.canonical_json().as_bytes());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, mac_key);
    let tag = ring::hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
    serde_json::json!({"protected": protected, "payload": payload, "signature": b64::encode(tag.as_ref())})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sign_parse_verify() {
        let s = Signer::generate().unwrap();
        let body = s.sign(
            "https://x/acme/new-account",
            Some("n1"),
            None,
            Some(&json!({"a": 1})),
        );
        let jws = Jws::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(jws.header.nonce.as_deref(), Some("n1"));
        let key = jws.header.jwk.clone().unwrap();
        jws.verify(&key).unwrap();
        // A different key fails.
        assert!(jws.verify(Signer::generate().unwrap().jwk()).is_err());
        // Tampered payload fails.
        let mut t = body.clone();
        t["payload"] = Value::String(b64::encode(br#"{"a":2}"#));
        let jws = Jws::parse(t.to_string().as_bytes()).unwrap();
        assert!(jws.verify(&key).is_err());
    }

    #[test]
    fn header_rules() {
        let s = Signer::generate().unwrap();
        for (header, expect) in [
            (
                json!({"alg": "none", "url": "u", "kid": "k"}),
                "badSignatureAlgorithm",
            ),
            (
                json!({"alg": "HS256", "url": "u", "kid": "k"}),
                "badSignatureAlgorithm",
            ),
            (json!({"alg": "ES256", "url": "u"}), "malformed"),
            (
                json!({"alg": "ES256", "url": "u", "kid": "k", "jwk": s.jwk().to_value()}),
                "malformed",
            ),
            (json!({"alg": "ES256", "kid": "k"}), "malformed"),
            (
                json!({"alg": "ES256", "url": "u", "kid": "k", "crit": ["b64"]}),
                "malformed",
            ),
            (json!({"alg": "ES256", "url": 7, "kid": "k"}), "malformed"),
        ] {
            let body = s.sign_with_header(&header, None);
            let p = Jws::parse(body.to_string().as_bytes()).unwrap_err();
            assert!(p.kind.ends_with(expect), "{header}: {p:?}");
        }
        for body in [
            &b"{}"[..],
            b"[]",
            b"x.y.z",
            b"{\"protected\":\"\",\"payload\":\"\",\"signature\":\"\",\"header\":{}}",
        ] {
            assert!(Jws::parse(body).is_err());
        }
        assert!(Jws::parse(&vec![b' '; MAX_BODY + 1]).is_err());
    }

    #[test]
    fn eab() {
        let s = Signer::generate().unwrap();
        let url = "https://x/acme/new-account";
        let eab = sign_eab("kid-1", b"secret-mac-key-0123456789abcdef", s.jwk(), url);
        assert_eq!(
            verify_eab(&eab, s.jwk(), url, |_| Some(
                b"secret-mac-key-0123456789abcdef".to_vec()
            ))
            .unwrap(),
            "kid-1"
        );
        assert!(verify_eab(&eab, s.jwk(), url, |_| Some(b"wrong".to_vec())).is_err());
        assert!(verify_eab(&eab, s.jwk(), "https://x/other", |_| Some(vec![])).is_err());
        assert!(
            verify_eab(&eab, Signer::generate().unwrap().jwk(), url, |_| Some(
                vec![]
            ))
            .is_err()
        );
        assert!(verify_eab(&eab, s.jwk(), url, |_| None).is_err());
    }
}
