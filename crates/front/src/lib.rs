//! strongroom-front: the public protocol server. It serves revocation data to relying
//! parties — CRLs (`/crl/{ca}.crl`), OCSP (`/ocsp`, POST and the RFC 6960 GET form) and CA
//! certificates for AIA (`/ca/{ca}.der`) — and SCEP (RFC 8894, `/scep`) over plain HTTP and
//! HTTPS, and ACME (RFC 8555, `/acme/…`) over HTTPS only.
//!
//! In: HTTP requests from anyone (hostile), the store (through the front's own narrow
//! database role) and the signer socket (`SignOcspResponses` on a cache miss,
//! `IssueCertificate` at ACME finalize and SCEP enrolment, the RA's `DecryptScepEnvelope`
//! and `SignScepReply`). Out: DER CRLs and OCSP responses, with HTTP
//! caching headers derived from nextUpdate; ACME resources and certificates. The
//! front holds no key and no admin right; what it serves was signed by the signer from the
//! signer's own records.

#![forbid(unsafe_code)]

pub mod acme;
pub mod app;
mod bounded_responses;
pub mod ca_cert;
pub mod ca_list;
pub mod config;
pub mod crl;
pub mod crl_memory;
pub mod est;
pub mod metrics;
mod nonce_profiles;
pub mod ocsp;
pub mod ocsp_memory;
mod plain_answers;
pub mod scep;
pub mod server;

pub use app::App;
pub use config::Config;
