//! `strongroom-signer`: the key-holding process.
//!
//! In: framed requests on a Unix socket from peers identified by SO_PEERCRED, and the
//! operator's ceremony files. Out: certificates, CRLs and policy acknowledgements built,
//! linted and journalled here, signed by keys that never leave the HSM.
//!
//! Only this crate (and the ceremony/bench binaries it ships) links `strongroom-hsm`.

pub mod audit_key;
pub mod ca;
pub mod ceremony;
pub mod config;
pub mod crl;
pub mod delegated;
pub mod dispatch;
pub mod entropy;
pub(crate) mod error;
pub mod est_keygen;
pub mod hsm_signer;
pub mod issuance;
pub mod journal;
pub mod journal_read;
pub mod key_inventory;
pub mod listener_key;
pub mod metrics;
pub mod ocsp;
pub mod peer;
pub mod policy;
pub mod preflight;
pub mod revocations;
pub mod sandbox;
mod scep_content;
pub mod scep_ra;
pub mod server;
pub mod state;
pub mod totp;

pub use error::Error;
