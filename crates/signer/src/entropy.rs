//! The randomness source, injected so that logic can be tested with fixed values (STYLE.md
//! 14): the only place that draws serial-number and key-id entropy. (The clock is
//! `strongroom_types::clock`, shared by every daemon.)
//!
//! In: the operating system's CSPRNG. Out: unpredictable bytes, or
//! [`crate::Error::Entropy`].

use ring::rand::{SecureRandom, SystemRandom};

/// Cryptographic randomness for serial numbers and key ids.
pub trait Entropy: Send + Sync {
    /// Fills `out` with unpredictable bytes, or fails with [`crate::Error::Entropy`].
    fn fill(&self, out: &mut [u8]) -> Result<(), crate::Error>;
}

/// The operating system's CSPRNG (getrandom) through ring.
#[derive(Debug)]
pub struct SystemEntropy(SystemRandom);

impl Default for SystemEntropy {
    fn default() -> Self {
        SystemEntropy(SystemRandom::new())
    }
}

impl Entropy for SystemEntropy {
    fn fill(&self, out: &mut [u8]) -> Result<(), crate::Error> {
        self.0.fill(out).map_err(|_| crate::Error::Entropy)
    }
}

impl std::fmt::Debug for dyn Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entropy")
    }
}
