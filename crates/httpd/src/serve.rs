//! The accept loops: HTTPS ([`serve_tls`], control and the front's TLS port) and plain
//! HTTP ([`serve_plain`], the front's public OCSP and CRL port).
//!
//! In: a bound listener, an axum router, a shutdown future. Out: HTTP/1.1 connections
//! served until shutdown. Both loops hold the same line against hostile clients: at most
//! [`MAX_CONNECTIONS`] connections at once (more wait in the kernel's backlog), of which one
//! client address holds at most [`MAX_CONNECTIONS_PER_SOURCE`] (more are closed as soon as
//! they are accepted), 10 s to send a request's headers (which also closes idle keep-alive
//! connections), 10 s to send the rest of a body once it stalls ([`DeadlineBody`]), 10 s for
//! a TLS handshake. Nagle is off: each answer leaves in one write and must not wait for an
//! ACK.

use crate::deadline::DeadlineBody;
use crate::{PeerCertificate, TlsSession};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 512;
/// Most connections one [`Source`] may hold at once; more are closed as soon as they are
/// accepted. Without it one client that opens [`MAX_CONNECTIONS`] idle connections holds
/// every slot, and everyone else waits in the backlog until the header deadline frees them
/// — for ever, if it reopens them. A relying party, an ACME client or an admin's browser
/// uses a handful of connections, and idle ones close after 10 s, so 64 leaves room for a
/// proxy or a NAT in front of many of them while it takes eight addresses, not one, to
/// fill the listener. It does not stop a client that holds many addresses (a botnet, or a
/// host that can use several IPv4 addresses): that is the firewall's job.
const MAX_CONNECTIONS_PER_SOURCE: usize = 64;
/// Time a client has to send a request's headers, the rest of a stalled body, and a TLS
/// client its handshake.
const CLIENT_DEADLINE: Duration = Duration::from_secs(10);

/// What a connection counts against: its IPv4 address, or the /64 of its IPv6 address (a
/// host is usually given a whole /64, so counting single IPv6 addresses would give it 2^64
/// allowances). An IPv4-mapped IPv6 address (a dual-stack listener) counts as its IPv4
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// An IPv4 client.
    V4(Ipv4Addr),
    /// The first 64 bits of an IPv6 client's address.
    V6Prefix(u64),
}

impl Source {
    /// What a client at `ip` counts against.
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(a) => Source::V4(a),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4),
                None => Source::V6Prefix((u128::from(a) >> 64) as u64),
            },
        }
    }
}

/// How many connections each [`Source`] holds. Only sources with a connection have an
/// entry, so it holds at most [`MAX_CONNECTIONS`] + 1 (the one waiting for a permit).
#[derive(Debug)]
struct SourceCounts {
    limit: usize,
    held: Mutex<HashMap<Source, usize>>,
}

impl SourceCounts {
    fn new(limit: usize) -> Arc<SourceCounts> {
        Arc::new(SourceCounts {
            limit,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `source`, or None when it holds `limit`.
    fn admit(self: &Arc<Self>, source: Source) -> Option<SourceSlot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(source).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            counts: self.clone(),
            source,
        })
    }
}

/// One connection's place in [`SourceCounts`]; given back when dropped.
#[derive(Debug)]
struct SourceSlot {
    counts: Arc<SourceCounts>,
    source: Source,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut held = self.counts.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.source);
            }
        }
    }
}

/// Accepts until `shutdown`, handing each connection to `serve` on its own task while
/// holding one of [`MAX_CONNECTIONS`] permits and one of its source's
/// [`MAX_CONNECTIONS_PER_SOURCE`] slots.
async fn accept_loop<F, Fut>(listener: TcpListener, shutdown: impl Future<Output = ()>, serve: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_source = SourceCounts::new(MAX_CONNECTIONS_PER_SOURCE);
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
        // Security: checked before the shared permit, so a source at its limit never
        // waits for one (and never holds the loop while it waits); its new connection is
        // closed here, unread.
        let Some(slot) = per_source.admit(Source::of(peer.ip())) else {
            tracing::debug!(%peer, "connection refused: its address holds too many");
            continue;
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot turn Nagle off");
        }
        let connection = serve(tcp, peer);
        tokio::spawn(async move {
            let _held = (permit, slot);
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
            let connection = tls.get_ref().1;
            let cert = connection.peer_certificates().and_then(|chain| {
                let leaf = chain.first()?;
                Some(PeerCertificate {
                    fingerprint: strongroom_x509::fingerprint(leaf.as_ref()),
                    chain: Arc::new(chain.iter().map(|c| c.as_ref().to_vec()).collect()),
                })
            });
            let tls13 = connection.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3);
            let session = TlsSession {
                tls13,
                channel_binding: tls13
                    .then(|| {
                        connection
                            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
                            .ok()
                    })
                    .flatten(),
            };
            let service = router.map_request(move |mut req: hyper::Request<DeadlineBody>| {
                if let Some(c) = &cert {
                    req.extensions_mut().insert(c.clone());
                }
                req.extensions_mut().insert(session.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_ipv4_addresses_and_ipv6_prefixes() {
        let v4 = |s: &str| Source::of(s.parse().unwrap());
        assert_eq!(v4("192.0.2.1"), v4("::ffff:192.0.2.1"));
        assert_ne!(v4("192.0.2.1"), v4("192.0.2.2"));
        assert_eq!(v4("2001:db8:1:2::1"), v4("2001:db8:1:2:ffff::9"));
        assert_ne!(v4("2001:db8:1:2::1"), v4("2001:db8:1:3::1"));
    }

    #[test]
    fn a_source_holds_at_most_its_limit_and_gets_slots_back() {
        let counts = SourceCounts::new(2);
        let a = Source::of("192.0.2.1".parse().unwrap());
        let b = Source::of("192.0.2.2".parse().unwrap());
        let first = counts.admit(a).unwrap();
        let _second = counts.admit(a).unwrap();
        assert!(counts.admit(a).is_none());
        assert!(counts.admit(b).is_some());
        drop(first);
        let _third = counts.admit(a).unwrap();
        assert!(counts.admit(a).is_none());
    }

    #[test]
    fn released_sources_leave_no_entry() {
        let counts = SourceCounts::new(2);
        let slots: Vec<_> = (0..100u8)
            .filter_map(|i| counts.admit(Source::V4(Ipv4Addr::new(192, 0, 2, i))))
            .collect();
        assert_eq!(counts.held.lock().unwrap().len(), 100);
        drop(slots);
        assert!(counts.held.lock().unwrap().is_empty());
    }
}
