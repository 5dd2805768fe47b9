//! The accept loops: HTTPS ([`serve_tls`], control and the front's TLS port) and plain
//! HTTP ([`serve_plain`], the front's public OCSP and CRL port).
//!
//! In: a bound listener, an axum router, a shutdown future. Out: HTTP/1.1 connections
//! served until shutdown. Both loops hold the same line against hostile clients: at most
//! [`MAX_CONNECTIONS`] connections at once (more wait in the kernel's backlog), 10 s to send
//! a request's headers (which also closes idle keep-alive connections), 10 s to send the
//! rest of a body once it stalls ([`DeadlineBody`]), 10 s for a TLS handshake. Nagle is
//! off: each answer leaves in one write and must not wait for an ACK.

use crate::deadline::DeadlineBody;
use crate::PeerCertificate;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 512;
/// Time a client has to send a request's headers, the rest of a stalled body, and a TLS
/// client its handshake.
const CLIENT_DEADLINE: Duration = Duration::from_secs(10);

/// Accepts until `shutdown`, handing each connection to `serve` on its own task while
/// holding one of [`MAX_CONNECTIONS`] permits.
async fn accept_loop<F, Fut>(listener: TcpListener, shutdown: impl Future<Output = ()>, serve: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot turn Nagle off");
        }
        let connection = serve(tcp, peer);
        tokio::spawn(async move {
            let _permit = permit;
            connection.await;
        });
    }
    tracing::info!("shutting down");
}

/// One HTTP/1.1 connection with the header and body deadlines.
async fn serve_http1<I, S>(io: I, service: S)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: tower::Service<hyper::Request<DeadlineBody>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let service = service.map_request(|req: hyper::Request<Incoming>| {
        req.map(|body| DeadlineBody::new(body, CLIENT_DEADLINE))
    });
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_DEADLINE)
        .serve_connection(io, TowerToHyperService::new(service))
        .await;
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Serves `router` over plain HTTP on `listener` until `shutdown` completes. Requests
/// carry no `ConnectInfo`: nothing served in the clear needs the client's address.
pub async fn serve_plain(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    accept_loop(listener, shutdown, move |tcp, _peer| {
        serve_http1(TokioIo::new(tcp), router.clone())
    })
    .await
}

/// Serves `router` over TLS on `listener` until `shutdown` completes.
pub async fn serve_tls(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    router: axum::Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    accept_loop(listener, shutdown, move |tcp, peer| {
        let acceptor = acceptor.clone();
        let router = router.clone();
        async move {
            let tls = match tokio::time::timeout(CLIENT_DEADLINE, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| PeerCertificate {
                    fingerprint: strongroom_x509::fingerprint(c.as_ref()),
                });
            let service = router.map_request(move |mut req: hyper::Request<DeadlineBody>| {
                if let Some(c) = &cert {
                    req.extensions_mut().insert(c.clone());
                }
                // The client's address, as axum's `ConnectInfo` (ACME rate limits).
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            });
            serve_http1(TokioIo::new(tls), service).await
        }
    })
    .await
}
