//! Where a certificate's revocation is published when a CA's CRL is split: which shard a
//! serial belongs to, and the URL of each scope (full or delta, whole or shard).
//!
//! In: a serial and a shard count; a CA's CRL URL (ending in `.crl`). Out: a shard number
//! (1-based) and URLs. The signer uses the same function at issuance (to write the
//! certificate's CRL distribution point) and when it builds the shard's CRL.
//!
//! URL scheme for a CA whose CRL URL is `…/crl/issuing.crl`: the full CRL stays there,
//! its delta is `…/crl/issuing-delta.crl`; shard 3 is `…/crl/issuing/3.crl` with delta
//! `…/crl/issuing/3-delta.crl`.

use crate::Serial;
use sha2::{Digest, Sha256};

/// Most shards a CA may be split into.
pub const MAX_SHARDS: u32 = 256;

/// The shard (1..=shards) of a serial: SHA-256 of its bytes, first four octets, modulo.
pub fn shard_of(serial: &Serial, shards: u32) -> u32 {
    let h = Sha256::digest(serial.as_bytes());
    let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    n % shards.max(1) + 1
}

/// The URL of one CRL scope, or `None` when `base` does not end in `.crl`.
pub fn crl_url(base: &str, shard: Option<u32>, delta: bool) -> Option<String> {
    let stem = base.strip_suffix(".crl")?;
    let suffix = if delta { "-delta" } else { "" };
    Some(match shard {
        None => format!("{stem}{suffix}.crl"),
        Some(s) => format!("{stem}/{s}{suffix}.crl"),
    })
}

/// The scope's name in storage and journals: `full`, `delta`, `3`, `3-delta`.
pub fn scope_name(shard: Option<u32>, delta: bool) -> String {
    match (shard, delta) {
        (None, false) => "full".into(),
        (None, true) => "delta".into(),
        (Some(s), false) => s.to_string(),
        (Some(s), true) => format!("{s}-delta"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_urls_follow_the_scheme() {
        let mut seen = [0u32; 4];
        for i in 1..=400u32 {
            let s: Serial = format!("7f{i:030x}")
                .parse()
                .unwrap_or_else(|_| panic!("{i}"));
            let k = shard_of(&s, 4);
            assert!((1..=4).contains(&k));
            seen[(k - 1) as usize] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
        let base = "http://x/crl/issuing.crl";
        assert_eq!(
            crl_url(base, None, true).unwrap(),
            "http://x/crl/issuing-delta.crl"
        );
        assert_eq!(
            crl_url(base, Some(3), false).unwrap(),
            "http://x/crl/issuing/3.crl"
        );
        assert_eq!(
            crl_url(base, Some(3), true).unwrap(),
            "http://x/crl/issuing/3-delta.crl"
        );
        assert_eq!(crl_url("http://x/crl/issuing", None, false), None);
        assert_eq!(scope_name(Some(2), true), "2-delta");
    }
}
