//! Full TLS handshakes against one listener, each on a new TCP connection with no session
//! resumption, from several threads, for a fixed time; prints handshakes per second. Used
//! by `scripts/bench-tls-handshake.sh` to compare a listener key in the HSM with one in
//! memory (docs/performance.md).
//!
//! Usage: `tls_handshakes ADDR ROOT.pem [SECONDS] [THREADS] [tls13|tls12]`
//! (defaults 10 s, 2 threads, tls13). The first handshake verifies the server's chain
//! against ROOT.pem; the measured ones pin that leaf certificate and verify only the
//! server's handshake signature over it, so the client's chain checks (a P-384 root
//! signature each time) do not eat the cores the server is measured on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a measuring tool: fail loudly

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: tls_handshakes ADDR ROOT.pem [SECONDS] [THREADS] [tls13|tls12]";
    let addr: SocketAddr = args.get(1).expect(usage).parse().expect(usage);
    let root = args.get(2).expect(usage);
    let seconds: u64 = args.get(3).map_or(10, |s| s.parse().expect(usage));
    let threads: usize = args.get(4).map_or(2, |s| s.parse().expect(usage));
    let version = match args.get(5).map_or("tls13", String::as_str) {
        "tls13" => &rustls::version::TLS13,
        "tls12" => &rustls::version::TLS12,
        _ => panic!("{usage}"),
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root).expect("ROOT.pem") {
        roots.add(cert.expect("a PEM certificate")).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let name = ServerName::IpAddress(addr.ip().into());
    let verified = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let leaf = first_leaf(addr, Arc::new(verified), name.clone());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedLeaf {
            leaf,
            algorithms: provider.signature_verification_algorithms,
        }))
        .with_no_client_auth();
    // Every handshake a full one: the server signs each.
    config.resumption = rustls::client::Resumption::disabled();
    let config = Arc::new(config);

    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (config, name) = (config.clone(), name.clone());
            let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match handshake(addr, &config, name.clone()) {
                        Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "handshakes={done} failed={} seconds={elapsed:.2} rate={:.0}",
        failed.load(Ordering::Relaxed),
        done as f64 / elapsed
    );
}

/// The server's leaf certificate, from one handshake that verifies its chain.
fn first_leaf(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
) -> CertificateDer<'static> {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .expect("a verified first handshake");
    }
    conn.peer_certificates().unwrap()[0].clone().into_owned()
}

/// Accepts only the leaf the first handshake verified; checks every handshake signature.
#[derive(Debug)]
struct PinnedLeaf {
    leaf: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedLeaf {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.leaf.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the pinned certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// One full handshake on a new connection; the connection is then dropped.
fn handshake(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
) -> Result<(), String> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut conn =
        rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    Ok(())
}
