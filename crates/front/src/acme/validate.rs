//! Challenge validation from the front (RFC 8555 §8.3–8.4, RFC 8737, RFC 8738): http-01,
//! dns-01 and tls-alpn-01, with an address guard against server-side request forgery.
//!
//! In: a challenge type, the identifier, the token and the key authorization. Out: Ok, or
//! the RFC 8555 problem to record on the challenge. Names are resolved through the
//! configured resolver only (no system resolver, no /etc/hosts); every address is checked
//! against the guard before a connection is made; redirects are not followed; answers
//! are read with hard size and time limits. When CAA identities are configured, a DNS
//! identifier is also checked against its CAA records (RFC 8659) once its challenge passes.

use super::config::AcmeConfig;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use strongroom_acme::challenge::{dns01_value, tls_alpn_digest, ACME_TLS_ALPN};
use strongroom_acme::dns;
use strongroom_acme::identifier::AcmeName;
use strongroom_acme::{Problem, ProblemType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Most bytes read from an http-01 answer (headers and body).
const HTTP_MAX: usize = 16 * 1024;

/// The validator.
#[derive(Debug, Clone)]
pub struct Validator {
    resolver: SocketAddr,
    http01_port: u16,
    tls_alpn01_port: u16,
    allowed: Vec<strongroom_x509::name_constraints::Subtree>,
    timeout: Duration,
    caa_identities: Vec<String>,
}

fn problem(kind: ProblemType, detail: String) -> Problem {
    Problem::new(kind, detail)
}

impl Validator {
    /// From the `[acme]` settings.
    pub fn new(c: &AcmeConfig) -> Validator {
        Validator {
            resolver: c
                .validation
                .resolver
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53))),
            http01_port: c.validation.http01_port,
            tls_alpn01_port: c.validation.tls_alpn01_port,
            allowed: c.allowed_networks(),
            timeout: Duration::from_secs(c.validation.timeout_secs),
            caa_identities: c.validation.caa_identities.clone(),
        }
    }

    /// CAA (RFC 8659): climbs from the identifier's name toward the root (not querying the
    /// root) and decides on the first non-empty CAA record set. IP identifiers have no CAA.
    /// A lookup that fails forbids issuance (`dns`); records that do not name this CA
    /// forbid it (`caa`). Nothing is checked while no identity is configured.
    pub async fn caa(
        &self,
        name: &AcmeName,
        method: &str,
        account_uri: &str,
    ) -> Result<(), Problem> {
        let AcmeName::Dns { base, wildcard } = name else {
            return Ok(());
        };
        if self.caa_identities.is_empty() {
            return Ok(());
        }
        let request = strongroom_acme::caa::CaaRequest {
            identities: &self.caa_identities,
            wildcard: *wildcard,
            account_uri,
            method,
        };
        let mut at = base.as_str();
        loop {
            let found = self.query(at, dns::CAA).await?;
            if !found.is_empty() {
                let records = found
                    .iter()
                    .map(|r| dns::caa_record(r))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| problem(ProblemType::Dns, format!("CAA at {at}: {e}")))?;
                return strongroom_acme::caa::permits(&records, &request)
                    .map_err(|why| problem(ProblemType::Caa, format!("CAA at {at}: {why}")));
            }
            match at.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => at = parent,
                _ => return Ok(()),
            }
        }
    }

    /// Checks one challenge within the configured time.
    pub async fn validate(
        &self,
        kind: &str,
        name: &AcmeName,
        token: &str,
        key_authorization: &str,
    ) -> Result<(), Problem> {
        let work = async {
            match kind {
                "http-01" => self.http01(name, token, key_authorization).await,
                "dns-01" => self.dns01(name, key_authorization).await,
                "tls-alpn-01" => self.tls_alpn01(name, key_authorization).await,
                other => Err(Problem::malformed(format!(
                    "unknown challenge type {other}"
                ))),
            }
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(problem(
                ProblemType::Connection,
                format!(
                    "{kind} validation timed out after {} s",
                    self.timeout.as_secs()
                ),
            )),
        }
    }

    /// Whether validation may connect to `ip` (public, or inside an allowed network).
    pub fn address_allowed(&self, ip: IpAddr) -> Result<(), Problem> {
        let ip = embedded_ipv4(ip).map(IpAddr::V4).unwrap_or(ip);
        let Some(why) = special_range(ip) else {
            return Ok(());
        };
        if self
            .allowed
            .iter()
            .any(|n| n.matches(&strongroom_types::RequestedName::Ip(ip)))
        {
            return Ok(());
        }
        Err(problem(
            ProblemType::RejectedIdentifier,
            format!("refusing to validate against {ip} ({why}); an operator can allow it with acme.validation.allowed_networks"),
        ))
    }

    async fn query(&self, name: &str, qtype: u16) -> Result<Vec<Vec<u8>>, Problem> {
        let dns_err = |d: String| problem(ProblemType::Dns, d);
        let bind: SocketAddr = if self.resolver.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let sock = UdpSocket::bind(bind)
            .await
            .map_err(|e| dns_err(format!("cannot open a DNS socket: {e}")))?;
        sock.connect(self.resolver)
            .await
            .map_err(|e| dns_err(format!("cannot reach the resolver {}: {e}", self.resolver)))?;
        let mut idb = [0u8; 2];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut idb)
            .map_err(|_| dns_err("no randomness for a DNS id".into()))?;
        let id = u16::from_be_bytes(idb);
        let q = dns::encode_query(id, name, qtype).map_err(dns_err)?;
        let mut buf = vec![0u8; 4096];
        for _attempt in 0..3 {
            sock.send(&q)
                .await
                .map_err(|e| dns_err(format!("cannot send to the resolver: {e}")))?;
            match tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await {
                Ok(Ok(n)) => match dns::parse_answer(&buf[..n], id, name, qtype) {
                    Ok(v) => return Ok(v),
                    // A stray or spoofed datagram: keep waiting for ours.
                    Err(dns::DnsError::Malformed(m)) if m.contains("id does not match") => continue,
                    Err(e) => return Err(dns_err(format!("looking up {name}: {e}"))),
                },
                Ok(Err(e)) => return Err(dns_err(format!("resolver {}: {e}", self.resolver))),
                Err(_) => continue,
            }
        }
        Err(dns_err(format!(
            "the resolver {} did not answer for {name}",
            self.resolver
        )))
    }

    /// Addresses to try for an identifier: the address itself, or AAAA then A.
    async fn addresses(&self, name: &AcmeName) -> Result<Vec<IpAddr>, Problem> {
        let host = match name {
            AcmeName::Ip(ip) => return Ok(vec![*ip]),
            AcmeName::Dns { base, .. } => base.to_string(),
        };
        let mut out = Vec::new();
        let mut failure = None;
        for (qtype, len) in [(dns::AAAA, 16), (dns::A, 4)] {
            // One family failing (a resolver that fumbles AAAA) must not hide the other.
            let records = match self.query(&host, qtype).await {
                Ok(r) => r,
                Err(p) => {
                    failure = Some(p);
                    continue;
                }
            };
            for rdata in records {
                if len == 16 {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&rdata);
                    out.push(IpAddr::from(b));
                } else {
                    let mut b = [0u8; 4];
                    b.copy_from_slice(&rdata);
                    out.push(IpAddr::from(b));
                }
            }
        }
        if out.is_empty() {
            if let Some(p) = failure {
                return Err(p);
            }
            return Err(problem(
                ProblemType::Dns,
                format!("{host} has no A or AAAA record"),
            ));
        }
        Ok(out)
    }

    /// Connects to the first address that accepts, after the guard.
    async fn connect(&self, name: &AcmeName, port: u16) -> Result<(TcpStream, IpAddr), Problem> {
        let addrs = self.addresses(name).await?;
        let mut last = None;
        for ip in addrs {
            self.address_allowed(ip)?;
            match TcpStream::connect(SocketAddr::new(ip, port)).await {
                Ok(s) => return Ok((s, ip)),
                Err(e) => last = Some(format!("{ip}:{port}: {e}")),
            }
        }
        Err(problem(
            ProblemType::Connection,
            format!(
                "cannot connect: {}",
                last.unwrap_or_else(|| "no address".into())
            ),
        ))
    }

    async fn http01(&self, name: &AcmeName, token: &str, key_auth: &str) -> Result<(), Problem> {
        let (mut s, ip) = self.connect(name, self.http01_port).await?;
        let host = match name {
            AcmeName::Dns { base, .. } => base.to_string(),
            AcmeName::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            AcmeName::Ip(v4) => v4.to_string(),
        };
        let request = format!(
            "GET /.well-known/acme-challenge/{token} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: strongroom-acme-validator\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        let conn_err = |e: std::io::Error| {
            problem(
                ProblemType::Connection,
                format!("http-01 to {ip}:{}: {e}", self.http01_port),
            )
        };
        s.write_all(request.as_bytes()).await.map_err(conn_err)?;
        let mut answer = Vec::with_capacity(1024);
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await.map_err(conn_err)?;
            if n == 0 {
                break;
            }
            if answer.len() + n > HTTP_MAX {
                return Err(problem(
                    ProblemType::Unauthorized,
                    format!("the http-01 answer is larger than {HTTP_MAX} bytes"),
                ));
            }
            answer.extend_from_slice(&chunk[..n]);
        }
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| {
                problem(
                    ProblemType::Connection,
                    "the http-01 answer is not HTTP".into(),
                )
            })?;
        let head = String::from_utf8_lossy(&answer[..split]);
        let status_line = head.lines().next().unwrap_or_default();
        let mut parts = status_line.split(' ');
        let (version, code) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        if !version.starts_with("HTTP/1.") {
            return Err(problem(
                ProblemType::Connection,
                "the http-01 answer is not HTTP/1.x".into(),
            ));
        }
        if code != "200" {
            return Err(problem(
                ProblemType::Unauthorized,
                format!("http-01: {host}/.well-known/acme-challenge/{token} answered {code} (redirects are not followed)"),
            ));
        }
        let body = &answer[split + 4..];
        let body = String::from_utf8_lossy(body);
        if body.trim_end() != key_auth {
            return Err(problem(
                ProblemType::IncorrectResponse,
                format!(
                    "http-01: the body is not the key authorization (got {:?})",
                    body.chars().take(100).collect::<String>()
                ),
            ));
        }
        Ok(())
    }

    async fn dns01(&self, name: &AcmeName, key_auth: &str) -> Result<(), Problem> {
        let AcmeName::Dns { base, .. } = name else {
            return Err(Problem::malformed("dns-01 cannot validate an IP address"));
        };
        let qname = format!("_acme-challenge.{base}");
        let want = dns01_value(key_auth);
        let found = self.query(&qname, dns::TXT).await?;
        if found.iter().any(|v| v == want.as_bytes()) {
            return Ok(());
        }
        Err(problem(
            ProblemType::IncorrectResponse,
            format!(
                "dns-01: none of the {} TXT record(s) at {qname} is the expected value",
                found.len()
            ),
        ))
    }

    async fn tls_alpn01(&self, name: &AcmeName, key_auth: &str) -> Result<(), Problem> {
        let (tcp, ip) = self.connect(name, self.tls_alpn01_port).await?;
        let sni = match name {
            AcmeName::Dns { base, .. } => base.to_string(),
            AcmeName::Ip(ip) => reverse_name(*ip),
        };
        let server_name = rustls::pki_types::ServerName::try_from(sni.clone())
            .map_err(|_| Problem::malformed(format!("{sni} is not a usable SNI name")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Problem::internal(format!("TLS client: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tls = connector.connect(server_name, tcp).await.map_err(|e| {
            problem(
                ProblemType::Tls,
                format!(
                    "tls-alpn-01 handshake with {ip}:{}: {e}",
                    self.tls_alpn01_port
                ),
            )
        })?;
        let (_, conn) = tls.get_ref();
        if conn.alpn_protocol() != Some(ACME_TLS_ALPN) {
            return Err(problem(
                ProblemType::Tls,
                "tls-alpn-01: the server did not negotiate acme-tls/1".into(),
            ));
        }
        let cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| problem(ProblemType::Tls, "tls-alpn-01: no certificate".into()))?;
        let wanted = name
            .requested_name()
            .map_err(|p| Problem::malformed(p.detail))?;
        strongroom_x509::acme_alpn::check_tls_alpn_certificate(
            cert.as_ref(),
            &wanted,
            &tls_alpn_digest(key_auth),
        )
        .map_err(|e| problem(ProblemType::IncorrectResponse, format!("tls-alpn-01: {e}")))
    }
}

/// The reverse-mapping name of an address (RFC 8738 §6: the SNI for IP identifiers).
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

/// The IPv4 address inside an IPv6 one that reaches it, judged as IPv4: IPv4-mapped
/// (`::ffff:a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`). NAT64 and IPv4-compatible
/// addresses are not unwrapped: [`special_range`] refuses those prefixes whole.
fn embedded_ipv4(ip: IpAddr) -> Option<std::net::Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return None };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let o = v6.octets();
    if s[0] == 0x2002 {
        return Some(std::net::Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Why an address is not a public one (None: it is).
fn special_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private network")
            } else if v4.is_link_local() {
                Some("link-local, where cloud metadata services live")
            } else if v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || o[0] == 0 {
                Some("not a unicast address")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("carrier-grade NAT")
            } else if o[0] >= 240 {
                Some("reserved")
            } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
                Some("IETF protocol assignments")
            } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
                Some("benchmarking network")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() || v6.is_multicast() {
                Some("not a unicast address")
            } else if s[..6].iter().all(|x| *x == 0) {
                // Security: `::a.b.c.d` is deprecated (RFC 4291 §2.5.5.1); some stacks still
                // route it to the IPv4 address, which may be internal.
                Some("IPv4-compatible address (::/96, deprecated)")
            } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
                // Security: a NAT64 prefix reaches IPv4 through the operator's translator,
                // whose own view of "public" we cannot see; refused whole, whatever the
                // embedded address (a public target has an A record of its own).
                Some("NAT64 (64:ff9b::/96)")
            } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
                Some("local-use NAT64 (64:ff9b:1::/48)")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("unique local address")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (s[0] & 0xffc0) == 0xfec0 {
                Some("site-local (fec0::/10, deprecated)")
            } else {
                None
            }
        }
    }
}

/// Accepts any certificate (tls-alpn-01 checks the certificate's content itself) but still
/// checks the handshake signature against the certificate's key, so the peer holds it. The
/// signature is checked here with ring because general-purpose verifiers refuse the
/// certificate's critical acmeIdentifier extension.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl AnyCertificate {
    fn check(
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        use ring::signature as sig;
        use rustls::SignatureScheme as S;
        let algorithm: &dyn sig::VerificationAlgorithm = match dss.scheme {
            S::ECDSA_NISTP256_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
            S::ECDSA_NISTP384_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
            S::ED25519 => &sig::ED25519,
            S::RSA_PSS_SHA256 => &sig::RSA_PSS_2048_8192_SHA256,
            S::RSA_PSS_SHA384 => &sig::RSA_PSS_2048_8192_SHA384,
            S::RSA_PSS_SHA512 => &sig::RSA_PSS_2048_8192_SHA512,
            S::RSA_PKCS1_SHA256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            S::RSA_PKCS1_SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            S::RSA_PKCS1_SHA512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            _ => {
                return Err(rustls::Error::PeerIncompatible(
                    rustls::PeerIncompatible::NoSignatureSchemesInCommon,
                ))
            }
        };
        let key =
            strongroom_x509::acme_alpn::subject_public_key_bits(cert.as_ref()).map_err(|_| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
            })?;
        sig::UnparsedPublicKey::new(algorithm, key)
            .verify(message, dss.signature())
            .map_err(|_| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
            })?;
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
}

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Self::check(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 allows no PKCS#1 v1.5 in handshake signatures.
        if matches!(
            dss.scheme,
            rustls::SignatureScheme::RSA_PKCS1_SHA256
                | rustls::SignatureScheme::RSA_PKCS1_SHA384
                | rustls::SignatureScheme::RSA_PKCS1_SHA512
        ) {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        Self::check(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_reverse_names() {
        for (ip, special) in [
            ("127.0.0.1", true),
            ("10.1.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("192.168.0.1", true),
            ("8.8.8.8", false),
            ("::1", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("2001:db8::1", false),
            ("192.0.0.8", true),
            ("198.18.0.1", true),
        ] {
            assert_eq!(
                special_range(ip.parse().unwrap()).is_some(),
                special,
                "{ip}"
            );
        }
        assert_eq!(
            reverse_name("127.0.0.1".parse().unwrap()),
            "1.0.0.127.in-addr.arpa"
        );
        assert!(reverse_name("::1".parse().unwrap()).starts_with("1.0.0.0."));
        for (v6, v4) in [
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("2002:a00:1::1", "10.0.0.1"),
        ] {
            assert_eq!(
                embedded_ipv4(v6.parse().unwrap()),
                Some(v4.parse().unwrap()),
                "{v6}"
            );
        }
        assert_eq!(embedded_ipv4("2001:db8::1".parse().unwrap()), None);
    }

    /// The guard as a client meets it: each range with an example address, refused with
    /// no allowed networks configured; public addresses stay allowed.
    #[test]
    fn guard_refuses_embedded_and_deprecated_ipv6_ranges() {
        let validator = Validator {
            resolver: SocketAddr::from(([127, 0, 0, 1], 53)),
            http01_port: 80,
            tls_alpn01_port: 443,
            allowed: vec![],
            timeout: Duration::from_secs(1),
            caa_identities: vec![],
        };
        for (ip, range) in [
            ("::a00:1", "IPv4-compatible"),   // ::10.0.0.1
            ("::808:808", "IPv4-compatible"), // ::8.8.8.8: the range, not the address
            ("::7f00:1", "IPv4-compatible"),  // ::127.0.0.1
            ("64:ff9b::a9fe:a9fe", "NAT64"),  // 169.254.169.254 through NAT64
            ("64:ff9b::808:808", "NAT64"),    // 8.8.8.8 through NAT64: still the translator
            ("64:ff9b:1::a00:1", "local-use NAT64"),
            ("64:ff9b:1:ffff::1", "local-use NAT64"),
            ("fec0::1", "site-local"),
            ("feff:ffff::1", "site-local"),
            ("::ffff:10.0.0.1", "private network"),
            ("2002:a00:1::1", "private network"),
            ("fd00::1", "unique local"),
            ("fe80::1", "link-local"),
        ] {
            let refused = validator
                .address_allowed(ip.parse().unwrap())
                .expect_err(ip);
            assert!(
                refused.detail.contains(range),
                "{ip}: {:?} should name {range}",
                refused.detail
            );
        }
        for ip in [
            "2606:4700::1",
            "2a00:1450:4001::1",
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "2002:808:808::1", // 6to4 of a public address, judged as that address
        ] {
            assert!(
                validator.address_allowed(ip.parse().unwrap()).is_ok(),
                "{ip} must stay allowed"
            );
        }
    }
}
