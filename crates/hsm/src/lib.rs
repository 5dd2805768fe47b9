//! Strongroom's only door to the HSM: PKCS#11 through `cryptoki`, and nothing else.
//!
//! In: an [`HsmConfig`] (module, token label, PIN, pool size) and structured requests:
//! generate a key pair, find a key by [`Pkcs11Uri`], sign bytes, decrypt an RSA ciphertext,
//! probe health. Out: [`KeyRef`]s (URI, algorithm, DER SubjectPublicKeyInfo), signatures in
//! X.509 encoding, and [`HsmError`]s that say whether waiting can help
//! ([`HsmError::is_temporary`]).
//!
//! Private keys are generated inside the token as sensitive and non-extractable and never
//! leave it. All calls are blocking and meant for plain threads: an [`Hsm`] holds a pool of
//! logged-in sessions, one per concurrent caller, and transparently replaces a session the
//! token dropped (retrying the call once).
//!
//! The module is loaded and initialized once per process; do not fork after [`Hsm::open`].

#![warn(missing_docs)]

mod config;
mod der;
mod error;
mod hsm;
mod inventory;
mod key;
mod keygen;
mod lookup;
mod module;
mod pin;
mod pool;
mod sealing;
mod sign;
mod uri;

pub use config::HsmConfig;
pub use error::HsmError;
pub use hsm::{Hsm, TokenStatus};
pub use inventory::{KeyClass, KeyEntry, KeyInventory, MAX_INVENTORY};
pub use key::{KeyProperties, KeyPurpose, KeyRef};
pub use pin::Pin;
pub use sealing::{SealingKey, MAX_SEALED_PLAINTEXT};
pub use uri::Pkcs11Uri;
