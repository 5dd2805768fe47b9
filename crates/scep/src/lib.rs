//! SCEP (RFC 8894) message logic for the front. In: what a device sends — the query string,
//! a PKIOperation body (BER), the plaintext of its envelope once the signer has opened it.
//! Out: parsed, verified requests (`PkiRequest`, `InnerRequest`), the GetCACaps text, the
//! certs-only PKCS#7, the reply's envelope and the CertRep around the signer's signature.
//!
//! No I/O, no store, no HSM: the RA key's two uses (unwrapping a device's content key,
//! signing the reply's attributes) are signer operations, so this crate holds no secret and
//! every refusal is a `ScepError` that names its failInfo (docs/scep.md, Messages).
#![forbid(unsafe_code)]

mod ber;
mod caps;
mod cert_rep;
mod certificate;
mod certs_only;
mod der_reader;
mod der_writer;
mod envelope;
mod error;
mod inner;
mod oids;
mod pki_message;
mod query;
mod reply;
mod signature;
mod transaction_id;

pub use caps::ca_caps;
pub use cert_rep::{assemble_cert_rep, assemble_next_ca};
pub use certs_only::{certs_only, crl_only};
pub use envelope::Envelope;
pub use error::ScepError;
pub use inner::{challenge_password, parse_inner, ChallengePassword, InnerRequest};
pub use pki_message::{parse_pki_message, PkiRequest, MAX_MESSAGE};
pub use query::{decode_get_message, parse_query, ScepOperation, ScepQuery, MAX_QUERY};
pub use reply::{reply_envelope, MAX_REPLY_CONTENT};
pub use transaction_id::transaction_id_binds;

/// The operating system's CSPRNG, as the generator `reply_envelope` takes.
pub use getrandom::SysRng as SystemRandom;
/// The trait a generator passed to `reply_envelope` implements.
pub use rsa::rand_core::TryCryptoRng;
