//! The clock and the randomness source, injected so that logic can be tested with fixed
//! values (STYLE.md 14). These are the only places that read the system clock or draw
//! serial-number entropy.

use ring::rand::{SecureRandom, SystemRandom};

/// Current time in Unix seconds.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one adapter that may read the wall clock
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A fixed clock for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

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
