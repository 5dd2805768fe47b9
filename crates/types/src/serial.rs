//! Certificate serial numbers.
//!
//! In: random bytes from the caller (randomness is injected, never drawn here) or bytes
//! from a parsed certificate. Out: a positive integer magnitude of at most 20 octets
//! (RFC 5280 §4.1.2.2), shown as lower-case hex.

use crate::TypesError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A certificate serial number: the big-endian magnitude of a positive INTEGER, without
/// leading zero octets. The DER encoder adds the sign octet when the high bit is set.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// Builds a serial from 16 random octets (128 bits of entropy, as the CA/B Forum
    /// asks for at least 64). Returns `None` only for the all-zero draw, which the caller
    /// should replace with a fresh draw.
    pub fn from_random(random: [u8; 16]) -> Option<Serial> {
        Serial::from_be_bytes(&random)
    }

    /// Builds a serial from a big-endian magnitude; leading zeros are dropped. `None`
    /// for zero or for more than 20 octets.
    pub fn from_be_bytes(bytes: &[u8]) -> Option<Serial> {
        let first = bytes.iter().position(|&b| b != 0)?;
        let magnitude = &bytes[first..];
        (magnitude.len() <= 20).then(|| Serial(magnitude.to_vec()))
    }

    /// The big-endian magnitude (no sign octet).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

impl FromStr for Serial {
    type Err = TypesError;
    fn from_str(s: &str) -> Result<Self, TypesError> {
        let refuse = |problem| TypesError::Serial {
            text: s.to_owned(),
            problem,
        };
        let cleaned: String = s.chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(&cleaned).map_err(|_| refuse("is not hex"))?;
        Serial::from_be_bytes(&bytes).ok_or_else(|| refuse("must be 1-20 non-zero octets"))
    }
}

impl Serialize for Serial {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Serial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials() {
        let s = Serial::from_random([0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]).unwrap();
        assert_eq!(s.as_bytes()[0], 1);
        assert_eq!(s.to_string().parse::<Serial>().unwrap(), s);
        assert!(Serial::from_random([0; 16]).is_none());
        assert!(Serial::from_be_bytes(&[1; 21]).is_none());
    }
}
