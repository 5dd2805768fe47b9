//! The daemons' side of the signer socket (docs/architecture.md): control, front and httpd
//! reach `strongroom-signer` only through [`SignerLink`], and every failure arrives as one
//! [`CallError`] (`Unavailable | Refused { kind, detail } | Unexpected`), the type the
//! blocking `strongroom_wire::SignerClient` returns too. What the signer issued becomes an
//! inventory row through [`record_issued`], in each daemon alike.
//!
//! In: the signer socket's path, typed requests, and the certificates the signer returns.
//! Out: typed answers (never a `Response` to match on, never `Response::Error`), and
//! `strongroom_store::NewCertificate` rows.

#![forbid(unsafe_code)]

mod inventory;
mod link;

pub use inventory::{record_issued, Provenance, SignerIssued};
pub use link::{SignedCrl, SignerLink};
pub use strongroom_wire::CallError;
