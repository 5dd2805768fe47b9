//! EST (RFC 7030) message logic for the front's `/.well-known/est/` server.
//!
//! In: the path's label and operation ([`parse_path`]), a request's `Content-Type` and
//! body ([`parse_enrolment`]), a profile's key algorithms and settings ([`csr_attributes`]),
//! a TLS session's RFC 9266 exporter value ([`channel_binding_matches`]). Out: the
//! verified CSR with its challengePassword, the DER of `/csrattrs`, base64 bodies as RFC
//! 7030 sends them ([`encode_body`]), and the `/serverkeygen` multipart reply
//! ([`server_keygen_reply`]) with the key in the clear or encrypted to the client's TLS
//! certificate ([`encrypted_key_part`]).
//!
//! Decisions (who may enrol, under which profile, with which names) belong to the front;
//! issuance to the signer. Everything here is strict and bounded: a body is at most
//! [`MAX_BODY`] bytes, base64 only in the standard alphabet with CRLF or LF line breaks.

#![forbid(unsafe_code)]

mod body;
mod csr_attrs;
mod error;
mod key_delivery;
mod path;
mod request;
mod server_keygen;

pub use body::{decode_body, encode_body, Base64Form, MAX_BODY};
pub use csr_attrs::csr_attributes;
pub use error::EstError;
pub use key_delivery::{encrypted_key_part, key_package, package_digest, KeyGenerator, Recipient};
pub use path::{parse_path, EstOperation, Label};
pub use request::{channel_binding_matches, parse_enrolment, Enrolment, KeyEncryption};
pub use server_keygen::{server_keygen_reply, KeyPart, ServerKeygenReply};
