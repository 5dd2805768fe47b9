//! What it takes to reach the token: module, token label, PIN, pool size.
//!
//! In: values from the daemon's validated configuration. Out: [`HsmConfig`] for
//! [`crate::Hsm::open`]. Its `Debug` shows everything except the PIN.

use crate::pin::Pin;
use std::fmt;
use std::path::PathBuf;

/// How to open the HSM. `Clone` so a daemon can keep probing a token that is not there yet.
#[derive(Clone)]
pub struct HsmConfig {
    /// Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module_path: PathBuf,
    /// Label of the token holding the CA keys (matched exactly, padding spaces trimmed).
    pub token_label: String,
    /// The token user PIN.
    pub pin: Pin,
    /// How many logged-in sessions to keep open: at most this many HSM calls run at once.
    pub sessions: usize,
}

impl fmt::Debug for HsmConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Pin's own Debug is redacted; listed explicitly so the field cannot be missed.
        f.debug_struct("HsmConfig")
            .field("module_path", &self.module_path)
            .field("token_label", &self.token_label)
            .field("pin", &self.pin)
            .field("sessions", &self.sessions)
            .finish()
    }
}
