//! Signed dynamic SCEP challenges (the Intune model): the verification, and nothing else.
//!
//! In: a profile's connector key (a PEM P-256 SubjectPublicKeyInfo, parsed once at start
//! by [`ConnectorKey::from_pem`]); a device's challengePassword; the profile it enrols
//! under; what its CSR asks for (every subject CN, the names `parse_csr` lists); the time.
//! Out: the token's identity ([`TokenId`]: connector, jti, device) for the store's replay
//! cache and per-device limit, or a [`Refusal`] saying which check failed. No I/O, no
//! clock, no randomness: the caller records the use (crates/store, `use_dynamic_challenge`).
//!
//! The token is a compact JWS (docs/scep.md, Dynamic challenges): header exactly
//! `{"alg":"ES256","typ":"scep-challenge+jwt"}` — every other algorithm (`none`, HS256, RS256)
//! and every other header field (a `jwk`, `kid`, `x5c` or `jku` naming its own key) is
//! refused: the key is the profile's anchor, never one the token brings. Claims, exactly
//! `iss`, `jti`, `device_id`, `profile`, `sub`, `sans`, `iat`, `exp` (an unknown or repeated
//! claim is refused). The signature is checked before any claim is read.
//!
//! Security: the token is a bearer secret until used; a [`Refusal`] never carries it (its
//! Display names the check, and, once the signature held, the token's jti and device), and
//! neither does any Debug here. Not checked here: replay and the per-device limit (the
//! store, atomically), whether the profile's policy allows the names (the signer).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use strongroom_types::{KeyAlgorithm, ProfileName, RequestedName};

/// The longest token read, in bytes (the challengePassword bound of crates/scep is the
/// same 4096).
pub const MAX_TOKEN: usize = 4096;
/// The longest a token may live: `exp` is at most this after `iat`.
pub const MAX_LIFETIME_SECS: i64 = 86_400;
/// Clock skew allowed between the connector and the front, both ways.
pub const CLOCK_SKEW_SECS: i64 = 60;
/// The `typ` a token carries (RFC 8725 explicit typing: a connector's other JWTs are not
/// challenges).
pub const TOKEN_TYPE: &str = "scep-challenge+jwt";

/// Decoded header bytes accepted (the one valid header is 44 bytes).
const MAX_HEADER: usize = 128;
/// Names a token may list.
const MAX_SANS: usize = 100;

/// The DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point, as
/// `canonical_spki` re-encodes it: SEQUENCE, AlgorithmIdentifier (id-ecPublicKey,
/// prime256v1), BIT STRING of 66 bytes with no unused bits; the 65-byte point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// An MDM connector's public key: the profile's trust anchor.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectorKey {
    /// The uncompressed point (0x04 ‖ X ‖ Y).
    point: Vec<u8>,
}

impl fmt::Debug for ConnectorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public, but long: the first bytes of X identify it in a log.
        write!(f, "ConnectorKey(P-256 {}…)", hex::encode(&self.point[1..9]))
    }
}

impl ConnectorKey {
    /// Reads one `PUBLIC KEY` PEM block holding a P-256 key (anything else is refused, as
    /// is a point not on the curve — checked with an ECDH agreement, the one ring API that
    /// validates a peer point without a signature).
    pub fn from_pem(text: &str) -> Result<ConnectorKey, String> {
        let body = text
            .trim()
            .strip_prefix("-----BEGIN PUBLIC KEY-----")
            .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
            .ok_or("the trust anchor is not one PEM PUBLIC KEY block")?;
        let b64: String = body.split_whitespace().collect();
        let der = STANDARD
            .decode(b64)
            .map_err(|e| format!("the trust anchor's base64: {e}"))?;
        let (algorithm, canonical) = strongroom_x509::canonical_spki(&der)
            .map_err(|e| format!("the trust anchor's SubjectPublicKeyInfo: {e}"))?;
        if algorithm != KeyAlgorithm::EcdsaP256 {
            return Err(format!(
                "the trust anchor is a {algorithm:?} key; a connector signs with ES256 (P-256)"
            ));
        }
        let point = canonical
            .strip_prefix(&P256_SPKI_PREFIX[..])
            .filter(|p| p.len() == 65 && p[0] == 0x04)
            .ok_or("the trust anchor is not an uncompressed P-256 point")?
            .to_vec();
        on_curve(&point)?;
        Ok(ConnectorKey { point })
    }

    fn verify(&self, signed: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(signed, signature)
            .is_ok()
    }
}

fn on_curve(point: &[u8]) -> Result<(), String> {
    use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
    let rng = ring::rand::SystemRandom::new();
    let mine = EphemeralPrivateKey::generate(&ECDH_P256, &rng)
        .map_err(|_| "no randomness to check the trust anchor".to_string())?;
    agree_ephemeral(mine, &UnparsedPublicKey::new(&ECDH_P256, point), |_| ())
        .map_err(|_| "the trust anchor's point is not on P-256".to_string())
}

/// Whether a challenge is shaped like a compact JWS: three non-empty dot-separated parts
/// of base64url characters. Only such a challenge is tried as a dynamic one (one-time
/// challenges are base64url without dots; static ones are whatever the operator chose —
/// a static challenge shaped like a JWS is refused at start).
pub fn looks_like_jws(challenge: &str) -> bool {
    let parts: Vec<&str> = challenge.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What the CSR asks for, as the token must name it.
#[derive(Debug, Clone, Copy)]
pub struct CsrIdentity<'a> {
    /// Every commonName of the subject (`VerifiedCsr::common_names`).
    pub common_names: &'a [String],
    /// The names the certificate would carry (`VerifiedCsr::names`: the SAN request, then
    /// the CN when it is a DNS name).
    pub names: &'a [RequestedName],
}

/// Who a token is: logged, and the store's replay key and device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenId {
    /// `iss`: the connector's name.
    pub connector: String,
    /// `jti`: the token's unique id.
    pub jti: String,
    /// `device_id`: the device the connector vouches for.
    pub device_id: String,
}

/// Which check a token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// Longer than [`MAX_TOKEN`].
    TooLong,
    /// Not three base64url parts, or a part that does not decode.
    Malformed,
    /// The header is not exactly `{"alg":"ES256","typ":…}`: another algorithm (`none`,
    /// HS256…), another type, an extra field (a key of its own), or not JSON.
    BadHeader,
    /// The signature is not the connector's over this header and payload.
    BadSignature,
    /// Signed, but the claims are not exactly the ones documented, or one is out of
    /// bounds (lengths, name syntax, a name listed twice).
    BadClaims,
    /// `exp` is not after `iat`, or more than [`MAX_LIFETIME_SECS`] after it.
    BadLifetime,
    /// `iat` is in the future beyond the skew.
    NotYetValid,
    /// `exp` has passed (beyond the skew).
    Expired,
    /// `profile` names another profile.
    WrongProfile,
    /// `sub` is not the CSR's one commonName.
    SubjectMismatch,
    /// `sans` is not exactly the set of names the CSR asks for.
    NamesMismatch,
}

impl RefusalReason {
    /// A stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::TooLong => "too-long",
            RefusalReason::Malformed => "malformed",
            RefusalReason::BadHeader => "bad-header",
            RefusalReason::BadSignature => "bad-signature",
            RefusalReason::BadClaims => "bad-claims",
            RefusalReason::BadLifetime => "bad-lifetime",
            RefusalReason::NotYetValid => "not-yet-valid",
            RefusalReason::Expired => "expired",
            RefusalReason::WrongProfile => "wrong-profile",
            RefusalReason::SubjectMismatch => "subject-mismatch",
            RefusalReason::NamesMismatch => "names-mismatch",
        }
    }
}

/// A refused token: why, and — when its signature held — whose it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The check that failed.
    pub reason: RefusalReason,
    /// The signed token's identity (refusals after the signature check only).
    pub token: Option<TokenId>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason.as_str())?;
        if let Some(t) = &self.token {
            write!(
                f,
                " (connector {:?}, jti {:?}, device {:?})",
                t.connector, t.jti, t.device_id
            )?;
        }
        Ok(())
    }
}

fn refuse(reason: RefusalReason) -> Refusal {
    Refusal {
        reason,
        token: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    typ: String,
}

/// STORED FORMAT of sorts: connectors produce exactly these claims; adding one is a
/// documented change (docs/scep.md), not a silent acceptance.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    iss: String,
    jti: String,
    device_id: String,
    profile: String,
    sub: String,
    sans: Vec<String>,
    iat: i64,
    exp: i64,
}

/// Printable ASCII without spaces, `len` bytes.
fn bounded(s: &str, len: std::ops::RangeInclusive<usize>) -> bool {
    len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// Verifies `token` as a dynamic challenge for a CSR asking for `csr` under `profile`, at
/// `now` (Unix seconds), against the profile's connector `key`.
pub fn verify(
    key: &ConnectorKey,
    token: &str,
    profile: &ProfileName,
    csr: CsrIdentity<'_>,
    now: i64,
) -> Result<TokenId, Refusal> {
    if token.len() > MAX_TOKEN {
        return Err(refuse(RefusalReason::TooLong));
    }
    if !looks_like_jws(token) {
        return Err(refuse(RefusalReason::Malformed));
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(refuse(RefusalReason::Malformed));
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| refuse(RefusalReason::Malformed))
    };
    if header_b64.len() > MAX_HEADER * 4 / 3 + 4 {
        return Err(refuse(RefusalReason::BadHeader));
    }
    let header: Header = serde_json::from_slice(&decode(header_b64)?)
        .map_err(|_| refuse(RefusalReason::BadHeader))?;
    // Security: the algorithm is fixed by the anchor, not chosen by the token.
    if header.alg != "ES256" || header.typ != TOKEN_TYPE {
        return Err(refuse(RefusalReason::BadHeader));
    }
    let signature = decode(signature_b64)?;
    let signed_len = header_b64.len() + 1 + payload_b64.len();
    // Security: the signature covers the parts exactly as sent; nothing of the payload is
    // read before it verifies.
    if signature.len() != 64 || !key.verify(&token.as_bytes()[..signed_len], &signature) {
        return Err(refuse(RefusalReason::BadSignature));
    }
    let claims: Claims = serde_json::from_slice(&decode(payload_b64)?)
        .map_err(|_| refuse(RefusalReason::BadClaims))?;
    // A connector's name may have spaces ("test double"); ids may not.
    let name_ok = (1..=128).contains(&claims.iss.len())
        && claims
            .iss
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic());
    let id_ok = name_ok && bounded(&claims.jti, 16..=64) && bounded(&claims.device_id, 1..=128);
    if !id_ok {
        return Err(refuse(RefusalReason::BadClaims));
    }
    let id = TokenId {
        connector: claims.iss.clone(),
        jti: claims.jti.clone(),
        device_id: claims.device_id.clone(),
    };
    let refuse_signed = |reason| Refusal {
        reason,
        token: Some(id.clone()),
    };
    // The names as the certificate would carry them; a token listing one twice or an
    // unparsable one is malformed, not a near match.
    if claims.sans.len() > MAX_SANS || claims.sub.is_empty() || claims.sub.len() > 256 {
        return Err(refuse_signed(RefusalReason::BadClaims));
    }
    let mut granted = BTreeSet::new();
    for san in &claims.sans {
        let name: RequestedName = san
            .parse()
            .map_err(|_| refuse_signed(RefusalReason::BadClaims))?;
        if !granted.insert(name) {
            return Err(refuse_signed(RefusalReason::BadClaims));
        }
    }
    let lifetime = claims.exp.checked_sub(claims.iat);
    if !lifetime.is_some_and(|l| l > 0 && l <= MAX_LIFETIME_SECS) {
        return Err(refuse_signed(RefusalReason::BadLifetime));
    }
    if claims.iat > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(refuse_signed(RefusalReason::NotYetValid));
    }
    if now >= claims.exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(refuse_signed(RefusalReason::Expired));
    }
    if claims.profile != profile.as_str() {
        return Err(refuse_signed(RefusalReason::WrongProfile));
    }
    // Security: the token for device A never enrols a CSR for device B — one CN, the
    // token's, and exactly the token's names.
    if csr.common_names != [claims.sub.as_str()] {
        return Err(refuse_signed(RefusalReason::SubjectMismatch));
    }
    let asked: BTreeSet<RequestedName> = csr.names.iter().cloned().collect();
    if asked != granted {
        return Err(refuse_signed(RefusalReason::NamesMismatch));
    }
    Ok(id)
}

#[cfg(test)]
#[path = "dynamic_tests.rs"]
mod tests;
