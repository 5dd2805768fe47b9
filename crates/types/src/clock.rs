//! The wall clock, injected (STYLE.md 14): logic reads the time from a [`Clock`] it was
//! given, so a test can run it at a chosen moment. [`SystemClock`] is the one place in the
//! workspace that reads the system time; clippy's `disallowed-methods` (clippy.toml)
//! refuses `SystemTime::now` everywhere else.
//!
//! In: the system time ([`SystemClock`]) or a value a test chose ([`FixedClock`]). Out:
//! Unix seconds. Nothing here sleeps, waits or touches a file.

/// Current time in Unix seconds.
pub trait Clock: Send + Sync {
    /// Now, in Unix seconds.
    fn now(&self) -> i64;
}

impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The system clock: what every daemon runs on.
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

/// A clock stopped at one instant, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_says_what_it_was_set_to_and_the_system_clock_is_past_2025() {
        let fixed: &dyn Clock = &FixedClock(1_795_900_000);
        assert_eq!(fixed.now(), 1_795_900_000);
        assert_eq!(format!("{fixed:?}"), "Clock");
        // 2025-01-01T00:00:00Z: a system clock reading 0 (the fallback) fails this.
        assert!(SystemClock.now() > 1_735_689_600);
    }
}
