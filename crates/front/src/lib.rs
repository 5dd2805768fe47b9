//! strongroom-front: the public protocol server. This build serves revocation data to
//! relying parties: CRLs (`/crl/{ca}.crl`) and OCSP (`/ocsp`, POST and the RFC 6960 GET
//! form), over plain HTTP as relying parties expect.
//!
//! In: HTTP requests from anyone (hostile), the store (through the front's own narrow
//! database role) and the signer socket (only `SignOcspResponses`, on a cache miss). Out:
//! DER CRLs and OCSP responses, with HTTP caching headers derived from nextUpdate. The
//! front holds no key and no admin right; what it serves was signed by the signer from the
//! signer's own records.

pub mod app;
pub mod config;
pub mod crl;
pub mod ocsp;
pub mod server;

pub use app::App;
pub use config::Config;
