//! Opaque pagination cursors that cannot be forged or moved to another query.
//!
//! In: the last id of a page and a fingerprint of the query's filters. Out: a token
//! `<id hex>.<tag>` where the tag is an HMAC-SHA-256 (truncated to 128 bits) under a key
//! drawn at start-up. A tampered cursor, or one replayed against a different filter, is a
//! 400. Cursors do not survive a restart of control (the key is per process): a client
//! then starts its walk again.

use crate::problem::Problem;
use ring::hmac;
use ring::rand::SystemRandom;

/// The per-process cursor key.
#[derive(Debug)]
pub struct CursorKey(hmac::Key);

impl CursorKey {
    /// A fresh random key.
    pub fn generate() -> Result<CursorKey, String> {
        hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .map(CursorKey)
            .map_err(|_| "no randomness for the cursor key".to_string())
    }

    fn tag(&self, after: i64, scope: &str) -> String {
        let mut msg = after.to_be_bytes().to_vec();
        msg.extend_from_slice(scope.as_bytes());
        hex::encode(&hmac::sign(&self.0, &msg).as_ref()[..16])
    }

    /// Issues a cursor for "ids after `after`" under this query `scope`.
    pub fn issue(&self, after: i64, scope: &str) -> String {
        format!("{after:x}.{}", self.tag(after, scope))
    }

    /// Checks a cursor and returns the id it continues after.
    pub fn open(&self, cursor: &str, scope: &str) -> Result<i64, Problem> {
        let bad = || {
            Problem::bad_request(
                "invalid cursor: pass back the `next` value of the previous page unchanged, with the same filters",
            )
        };
        let (id, tag) = cursor.split_once('.').ok_or_else(bad)?;
        if id.is_empty() || id.len() > 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let after = i64::from_str_radix(id, 16).map_err(|_| bad())?;
        let expected = self.tag(after, scope);
        // Constant-time comparison of the tag.
        let ok = crate::auth::constant_time_eq(tag.as_bytes(), expected.as_bytes());
        if ok {
            Ok(after)
        } else {
            Err(bad())
        }
    }
}
