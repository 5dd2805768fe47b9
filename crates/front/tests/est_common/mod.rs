//! What the EST client tests share: curl and openssl driven as INTEROP.md scripts them
//! ([`Est`]), a throwaway device manufacturer ([`Manufacturer`]: a root and device
//! certificates, one of them expired, made with Python's `cryptography`), and an RFC 9266
//! bound enrolment over a rustls TLS 1.3 session ([`bound_enrolment`]).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use crate::scep_common::{openssl, openssl_bytes};
use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::{run, tool};

/// What a curl exchange gave: HTTP status, response headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The test's working state: the front's HTTPS base, the root to trust, a directory.
pub struct Est {
    pub base: String,
    pub root: PathBuf,
    pub dir: PathBuf,
}

impl Est {
    /// curl against `path` with `args`; a TLS failure is status 0.
    pub fn curl(&self, path: &str, args: &[&str]) -> Reply {
        let body = self.dir.join("curl.body");
        let headers = self.dir.join("curl.headers");
        let _ = std::fs::remove_file(&body);
        let out = run(Command::new("curl")
            .args(["-sS", "--cacert"])
            .arg(&self.root)
            .arg("-o")
            .arg(&body)
            .arg("-D")
            .arg(&headers)
            .args(["-w", "%{http_code}"])
            .args(args)
            .arg(format!("{}{path}", self.base)));
        let status = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        Reply {
            status,
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
            body: std::fs::read(&body).unwrap_or_default(),
        }
    }

    /// A base64 CSR (openssl, one line per 64 columns) for `cn` with a new P-256 key in
    /// `name.key`, as INTEROP.md makes it.
    pub fn csr(&self, name: &str, cn: &str) -> PathBuf {
        let key = self.dir.join(format!("{name}.key"));
        let der = self.dir.join(format!("{name}.csr.der"));
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-subj",
            &format!("/CN={cn}"),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ]);
        let b64 = self.dir.join(format!("{name}.csr.b64"));
        openssl(&[
            "base64",
            "-in",
            der.to_str().unwrap(),
            "-out",
            b64.to_str().unwrap(),
        ]);
        b64
    }

    /// POST of a base64 CSR file to `path` with `auth` arguments.
    pub fn post_csr(&self, path: &str, csr: &Path, auth: &[&str]) -> Reply {
        let data = format!("@{}", csr.display());
        let mut args = vec![
            "-H",
            "Content-Type: application/pkcs10",
            "--data-binary",
            data.as_str(),
        ];
        args.extend_from_slice(auth);
        self.curl(path, &args)
    }

    /// POST of a base64 CSR file to `path` over mutual TLS with `cert` and its `key`.
    pub fn post_csr_as(&self, path: &str, csr: &Path, cert: &Path, key: &Path) -> Reply {
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        self.post_csr(path, csr, &["--cert", cert, "--key", key])
    }

    /// The certificate of a certs-only reply, as a PEM file `name.pem`.
    pub fn certificate(&self, reply: &Reply, name: &str) -> PathBuf {
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            reply
                .headers
                .contains("application/pkcs7-mime; smime-type=certs-only"),
            "{}",
            reply.headers
        );
        let b64 = self.dir.join(format!("{name}.p7.b64"));
        std::fs::write(&b64, &reply.body).unwrap();
        let p7 = openssl_bytes(&["base64", "-d", "-in", b64.to_str().unwrap()]);
        let p7_path = self.dir.join(format!("{name}.p7"));
        std::fs::write(&p7_path, p7).unwrap();
        let pem = self.dir.join(format!("{name}.pem"));
        openssl(&[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            p7_path.to_str().unwrap(),
            "-print_certs",
            "-out",
            pem.to_str().unwrap(),
        ]);
        pem
    }

    /// openssl verify against the root with the issuing CA as untrusted, and pkilint.
    pub fn verify(&self, pem: &Path, chain: &Path) {
        let out = openssl(&[
            "verify",
            "-CAfile",
            self.root.to_str().unwrap(),
            "-untrusted",
            chain.to_str().unwrap(),
            pem.to_str().unwrap(),
        ]);
        assert!(out.contains(": OK"), "{out}");
        let out = run(Command::new(tool("lint_pkix_cert"))
            .args(["lint", "-s", "ERROR"])
            .arg(pem));
        let report = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            !report.contains("ERROR") && !report.contains("FATAL"),
            "{}: {report}",
            pem.display()
        );
    }
}

/// A throwaway manufacturer: a root, and device certificates (IDevIDs) it signs, made with
/// Python's `cryptography` so one can be expired.
pub struct Manufacturer {
    pub root: PathBuf,
}

const MANUFACTURER_PY: &str = r#"
import datetime, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
now = datetime.datetime.now(datetime.timezone.utc)
def save(path, data):
    open(path, "wb").write(data)
def key():
    return ec.generate_private_key(ec.SECP256R1())
if mode == "root":
    k = key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Devices Inc")])
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
         .not_valid_after(now + datetime.timedelta(days=3650))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), critical=False)
         .sign(k, hashes.SHA256()))
else:
    root_key = serialization.load_pem_private_key(open(f"{out}/{mode}.key", "rb").read(), None)
    root = x509.load_pem_x509_certificate(open(f"{out}/{mode}.pem", "rb").read())
    expired = len(sys.argv) > 4 and sys.argv[4] == "expired"
    k = key()
    start = now - datetime.timedelta(days=400 if expired else 1)
    end = now - datetime.timedelta(days=30) if expired else now + datetime.timedelta(days=3650)
    c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.SERIAL_NUMBER, "SN-" + name)]))
         .issuer_name(root.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(end)
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
         .sign(root_key, hashes.SHA256()))
save(f"{out}/{name}.key", k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
save(f"{out}/{name}.pem", c.public_bytes(serialization.Encoding.PEM))
"#;

impl Manufacturer {
    pub fn make(dir: &Path, name: &str, mode: &str, extra: &[&str]) {
        let out = run(Command::new(tool("python3"))
            .arg("-c")
            .arg(MANUFACTURER_PY)
            .arg(dir)
            .arg(name)
            .arg(mode)
            .args(extra));
        assert!(
            out.status.success(),
            "python: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn new(dir: &Path, name: &str) -> Manufacturer {
        Manufacturer::make(dir, name, "root", &[]);
        Manufacturer {
            root: dir.join(format!("{name}.pem")),
        }
    }

    /// A device certificate `name.pem` with key `name.key`.
    pub fn device(&self, name: &str, expired: bool) -> (PathBuf, PathBuf) {
        let dir = self.root.parent().unwrap();
        let root_name = self.root.file_stem().unwrap().to_str().unwrap();
        Manufacturer::make(
            dir,
            name,
            root_name,
            if expired { &["expired"] } else { &[] },
        );
        (
            dir.join(format!("{name}.pem")),
            dir.join(format!("{name}.key")),
        )
    }
}

/// How a `serverkeygen` CSR asks for its key encrypted (RFC 7030 §4.4.1).
pub enum Sealed<'a> {
    /// AsymmetricDecryptKeyIdentifier naming this certificate's key (its subjectKeyIdentifier,
    /// or the SHA-1 identifier RFC 5280 derives when it has none).
    To(&'a Path),
    /// AsymmetricDecryptKeyIdentifier naming a key nobody has.
    ToNobody,
    /// DecryptKeyIdentifier: a symmetric key shared beforehand.
    Symmetric,
}

const SEALED_CSR_PY: &str = r#"
import base64, sys
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
out, cn, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "to":
    cert = x509.load_pem_x509_certificate(open(sys.argv[4], "rb").read())
    try:
        ident = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        ident = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    oid = "1.2.840.113549.1.9.16.2.54"
elif mode == "nobody":
    ident, oid = bytes(range(20)), "1.2.840.113549.1.9.16.2.54"
else:
    ident, oid = b"shared-key-1", "1.2.840.113549.1.9.16.2.37"
csr = (x509.CertificateSigningRequestBuilder()
       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
       .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
       .add_attribute(ObjectIdentifier(oid), ident, _tag=_ASN1Type.OctetString)
       .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()))
from cryptography.hazmat.primitives import serialization
open(out, "wb").write(base64.b64encode(csr.public_bytes(serialization.Encoding.DER)))
"#;

/// A `serverkeygen` CSR for `cn` (signed by a throwaway key: the server makes the key) that
/// asks for the key encrypted as `sealed` says: the base64 file `name.csr.b64` in `dir`.
pub fn sealed_key_csr(dir: &Path, name: &str, cn: &str, sealed: Sealed<'_>) -> PathBuf {
    let path = dir.join(format!("{name}.csr.b64"));
    let mut cmd = Command::new(tool("python3"));
    cmd.arg("-c").arg(SEALED_CSR_PY).arg(&path).arg(cn);
    match sealed {
        Sealed::To(cert) => cmd.arg("to").arg(cert),
        Sealed::ToNobody => cmd.arg("nobody"),
        Sealed::Symmetric => cmd.arg("symmetric"),
    };
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// A multipart reply's parts: (headers, content), split at the boundary its
/// `Content-Type` names.
pub fn multipart(reply: &Reply) -> Vec<(String, String)> {
    let boundary = reply
        .headers
        .lines()
        .find_map(|l| l.split("boundary=").nth(1))
        .expect("a multipart Content-Type with a boundary")
        .trim()
        .to_string();
    reply
        .text()
        .split(&format!("--{boundary}"))
        .filter_map(|p| p.split_once("\r\n\r\n"))
        .map(|(h, c)| (h.to_string(), c.to_string()))
        .collect()
}

/// One `simpleenroll` under the `bound` label over a TLS 1.3 session of rustls, with a CSR
/// (openssl) whose challengePassword is this session's RFC 9266 exporter value, or with
/// `wrong` another session's: (HTTP status, body).
pub fn bound_enrolment(
    addr: &str,
    root_der: &[u8],
    dir: &Path,
    name: &str,
    basic: &str,
    wrong: bool,
) -> (u16, String) {
    use base64::Engine;
    use std::io::{Read, Write};
    use std::sync::Arc;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(root_der.to_vec()))
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let session = || {
        let server = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config.clone()), server).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, std::net::TcpStream::connect(addr).unwrap());
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        let value = tls
            .conn
            .export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", None)
            .unwrap();
        (tls, value)
    };
    let (mut tls, mut value) = session();
    if wrong {
        value = session().1;
    }
    let cnf = dir.join(format!("{name}.cnf"));
    std::fs::write(
        &cnf,
        format!(
            "[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n\
             [dn]\nCN = {name}.lab.test\n[attrs]\nchallengePassword = {}\n",
            b64.encode(value)
        ),
    )
    .unwrap();
    let der = openssl_bytes(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        dir.join(format!("{name}.key")).to_str().unwrap(),
        "-config",
        cnf.to_str().unwrap(),
        "-outform",
        "DER",
    ]);
    let body = b64.encode(der);
    let request = format!(
        "POST /.well-known/est/bound/simpleenroll HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {}\r\nContent-Type: application/pkcs10\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        b64.encode(basic),
        body.len()
    );
    tls.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
