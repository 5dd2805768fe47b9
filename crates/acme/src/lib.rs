//! ACME (RFC 8555) protocol logic, independent of HTTP and storage.
//!
//! In: bytes from the network (flattened JWS bodies, JSON payloads, DNS answers, ARI
//! certificate ids). Out: verified, typed values — a request whose signature, algorithm,
//! nonce and URL binding the front can check — or a [`Problem`] naming the
//! `urn:ietf:params:acme:error:*` type to answer with. The front (crates/front/src/acme)
//! owns the state machine, the store and the validation I/O.

#![forbid(unsafe_code)]

pub mod b64;
pub mod caa;
pub mod challenge;
pub mod dns;
pub mod identifier;
pub mod jwk;
pub mod jws;
pub mod payload;
pub mod problem;

pub use identifier::Identifier;
pub use jwk::Jwk;
pub use jws::{Jws, ProtectedHeader, Signer};
pub use problem::{Problem, ProblemType};
