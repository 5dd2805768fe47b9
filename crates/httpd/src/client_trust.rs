//! The client-certificate trust of a TLS listener, replaceable while it serves.
//!
//! In: the listener's own CAs (`tls.client_auth_cas`, fixed at start) and the
//! application's extra anchors (the front's EST labels: manufacturer roots for device
//! identities, the issuing CAs of their profiles), which it may replace at any time
//! ([`ClientTrust::set_extra`]). Out: a rustls [`ClientCertVerifier`] that checks a
//! client's chain against their union (webpki: signatures, validity, the clientAuth
//! purpose when the certificate names purposes) and its handshake signature.
//!
//! What a verified certificate may do is the application's decision: a handler that
//! accepts only some anchors (one EST label's) verifies the chain again against those
//! ([`strongroom_httpd::PeerCertificate::chain`](crate::PeerCertificate)). Clients need
//! not present a certificate (`allow_unauthenticated`).
//!
//! The CertificateRequest names no CAs (`root_hint_subjects` is empty): the hints would
//! have to change with every reload, and the clients we serve (curl, OpenSSL, devices)
//! send their configured certificate whatever the hints say.

use crate::provider;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use std::sync::{Arc, RwLock};

/// The listener's client-certificate verifier (see the module header).
#[derive(Debug)]
pub struct ClientTrust {
    /// The listener's own CAs (never replaced).
    base: Vec<Vec<u8>>,
    /// The verifier over `base` and the current extra anchors.
    current: RwLock<Arc<dyn ClientCertVerifier>>,
}

/// A webpki verifier accepting chains to any of `anchors` (DER certificates), clients
/// without a certificate too.
pub fn verifier_for(anchors: &[Vec<u8>]) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for (i, der) in anchors.iter().enumerate() {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| format!("client trust anchor {}: {e}", i + 1))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .map(|v| v as Arc<dyn ClientCertVerifier>)
        .map_err(|e| format!("client trust: {e}"))
}

impl ClientTrust {
    /// Trust in `base` and `extra` (at least one anchor between them).
    pub fn new(base: Vec<Vec<u8>>, extra: &[Vec<u8>]) -> Result<ClientTrust, String> {
        let all: Vec<Vec<u8>> = base.iter().chain(extra).cloned().collect();
        Ok(ClientTrust {
            current: RwLock::new(verifier_for(&all)?),
            base,
        })
    }

    /// Replaces the extra anchors; handshakes from now on use the new set. An error (a
    /// certificate webpki cannot use as an anchor) leaves the current set in force.
    pub fn set_extra(&self, extra: &[Vec<u8>]) -> Result<(), String> {
        let all: Vec<Vec<u8>> = self.base.iter().chain(extra).cloned().collect();
        let next = verifier_for(&all)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }

    fn current(&self) -> Arc<dyn ClientCertVerifier> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ClientCertVerifier for ClientTrust {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.current().supported_verify_schemes()
    }
}
