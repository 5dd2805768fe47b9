//! Key and signature algorithms Strongroom supports, by stable text names.
//!
//! In: names such as `ecdsa-p256` from configuration and the wire. Out: closed enums that
//! the HSM layer maps to PKCS#11 mechanisms and the X.509 layer maps to OIDs.

use crate::TypesError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A key pair kind that can be generated in (and only used inside) the HSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on NIST P-384 (secp384r1).
    EcdsaP384,
    /// RSA with a 2048-bit modulus.
    Rsa2048,
    /// RSA with a 3072-bit modulus.
    Rsa3072,
    /// RSA with a 4096-bit modulus.
    Rsa4096,
    /// Ed25519 (RFC 8410), where the token supports `CKM_EDDSA`.
    Ed25519,
}

impl KeyAlgorithm {
    /// Every supported algorithm, in a stable order (used by tests and `--help`).
    pub const ALL: [KeyAlgorithm; 6] = [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::Ed25519,
    ];

    /// The stable text name used in configuration files and transcripts.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
            KeyAlgorithm::Rsa2048 => "rsa2048",
            KeyAlgorithm::Rsa3072 => "rsa3072",
            KeyAlgorithm::Rsa4096 => "rsa4096",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// RSA modulus size in bits, or `None` for non-RSA keys.
    pub fn rsa_bits(self) -> Option<u32> {
        match self {
            KeyAlgorithm::Rsa2048 => Some(2048),
            KeyAlgorithm::Rsa3072 => Some(3072),
            KeyAlgorithm::Rsa4096 => Some(4096),
            _ => None,
        }
    }

    /// Whether this is an ECDSA key (the only kind that may carry keyAgreement).
    pub fn is_ecdsa(self) -> bool {
        matches!(self, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384)
    }

    /// Whether this is an RSA key (the only kind that may carry keyEncipherment).
    pub fn is_rsa(self) -> bool {
        self.rsa_bits().is_some()
    }

    /// The signature algorithm a CA with this key uses unless configured otherwise.
    pub fn default_signature(self) -> SignatureAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256 => SignatureAlgorithm::EcdsaSha256,
            KeyAlgorithm::EcdsaP384 => SignatureAlgorithm::EcdsaSha384,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                SignatureAlgorithm::RsaPkcs1Sha256
            }
            KeyAlgorithm::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Self, TypesError> {
        KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| TypesError::UnknownKeyAlgorithm { name: s.to_owned() })
    }
}

/// A signature scheme: key type plus hash and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureAlgorithm {
    /// ECDSA with SHA-256 (ecdsa-with-SHA256).
    EcdsaSha256,
    /// ECDSA with SHA-384 (ecdsa-with-SHA384).
    EcdsaSha384,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length 32.
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt length 48.
    RsaPssSha384,
    /// Pure Ed25519 (no pre-hash).
    Ed25519,
}

impl SignatureAlgorithm {
    /// Every supported signature algorithm, in a stable order.
    pub const ALL: [SignatureAlgorithm; 7] = [
        SignatureAlgorithm::EcdsaSha256,
        SignatureAlgorithm::EcdsaSha384,
        SignatureAlgorithm::RsaPkcs1Sha256,
        SignatureAlgorithm::RsaPkcs1Sha384,
        SignatureAlgorithm::RsaPssSha256,
        SignatureAlgorithm::RsaPssSha384,
        SignatureAlgorithm::Ed25519,
    ];

    /// Stable text name.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::EcdsaSha256 => "ecdsa-sha256",
            SignatureAlgorithm::EcdsaSha384 => "ecdsa-sha384",
            SignatureAlgorithm::RsaPkcs1Sha256 => "rsa-pkcs1-sha256",
            SignatureAlgorithm::RsaPkcs1Sha384 => "rsa-pkcs1-sha384",
            SignatureAlgorithm::RsaPssSha256 => "rsa-pss-sha256",
            SignatureAlgorithm::RsaPssSha384 => "rsa-pss-sha384",
            SignatureAlgorithm::Ed25519 => "ed25519",
        }
    }

    /// Whether a key of `key` can produce this signature.
    pub fn fits_key(self, key: KeyAlgorithm) -> bool {
        match self {
            SignatureAlgorithm::EcdsaSha256 | SignatureAlgorithm::EcdsaSha384 => {
                matches!(key, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384)
            }
            SignatureAlgorithm::RsaPkcs1Sha256
            | SignatureAlgorithm::RsaPkcs1Sha384
            | SignatureAlgorithm::RsaPssSha256
            | SignatureAlgorithm::RsaPssSha384 => key.is_rsa(),
            SignatureAlgorithm::Ed25519 => key == KeyAlgorithm::Ed25519,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Self, TypesError> {
        SignatureAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| TypesError::UnknownSignatureAlgorithm { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in KeyAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<KeyAlgorithm>().unwrap(), a);
            assert!(a.default_signature().fits_key(a));
        }
        assert!("rsa1024"
            .parse::<KeyAlgorithm>()
            .unwrap_err()
            .to_string()
            .contains("ecdsa-p256"));
    }
}
