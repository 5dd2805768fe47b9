//! Domain types shared by every Strongroom crate.
//!
//! In: nothing but values. Out: validated domain types (algorithms, serial numbers,
//! identifiers, profiles, revocation reasons) that the wire protocol, the X.509 builder,
//! the HSM layer and the daemons all agree on, and the injected clock. This crate does no I/O
//! (beyond [`clock::SystemClock`] reading the time) and holds no secret.

#![forbid(unsafe_code)]

mod algorithm;
pub mod audit;
pub mod clock;
pub mod crl_scope;
mod error;
mod name;
mod ocsp_status;
mod profile;
mod revocation;
pub mod scep;
mod serial;
pub mod time;

pub use algorithm::{KeyAlgorithm, SignatureAlgorithm};
pub use error::TypesError;
pub use name::{CaId, DnsName, ProfileName, RequestedName};
pub use ocsp_status::{OcspStatus, OcspStatusKind};
pub use profile::{CsrExtensions, ExtendedKeyUsage, KeyUsage, Policy, Profile};
pub use revocation::RevocationReason;
pub use serial::Serial;
