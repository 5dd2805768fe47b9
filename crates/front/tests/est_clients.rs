#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! EST (issue 18) with the clients integrators script: curl and openssl, as in
//! ../shared/INTEROP.md, against the front's HTTPS listener. Every endpoint: `cacerts`,
//! `csrattrs`, `simpleenroll` (HTTP Basic), `simplereenroll` over mutual TLS, `serverkeygen`
//! (the key in the reply matches the certificate) and `fullcmc` (501). The refusals: a wrong
//! password is 401 and five lock the user (the right password is then refused too); a
//! revoked or expired client certificate is refused; a name the profile forbids is 403; a
//! device certificate from a manufacturer's root enrols under the label that trusts that
//! root and is refused under a label that trusts another manufacturer (the handshake accepts
//! both: the listener trusts every label's roots); a new root in a label's anchor file is
//! trusted there without a restart. One address guessing across many users is refused with
//! 429 past its limit, whatever the password. Every certificate verifies with openssl and passes pkilint.

mod scep_common;

use scep_common::{openssl, openssl_bytes};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::{run, step, tool};

const PROFILE: &str = "est-device";
const APPROVED_PROFILE: &str = "est-approved";
const USER: &str = "device-enroller";
const PASSWORD: &str = "est-password-0123456789";

/// What a curl exchange gave: HTTP status, response headers, body.
struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The test's working state: the front's HTTPS base, the root to trust, a directory.
struct Est {
    base: String,
    root: PathBuf,
    dir: PathBuf,
}

impl Est {
    /// curl against `path` with `args`; a TLS failure is status 0.
    fn curl(&self, path: &str, args: &[&str]) -> Reply {
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
    fn csr(&self, name: &str, cn: &str) -> PathBuf {
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
    fn post_csr(&self, path: &str, csr: &Path, auth: &[&str]) -> Reply {
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

    /// The certificate of a certs-only reply, as a PEM file `name.pem`.
    fn certificate(&self, reply: &Reply, name: &str) -> PathBuf {
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
    fn verify(&self, pem: &Path, chain: &Path) {
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

fn pem_of(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// A throwaway manufacturer: a root, and device certificates (IDevIDs) it signs, made with
/// Python's `cryptography` so one can be expired.
struct Manufacturer {
    root: PathBuf,
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
    fn make(dir: &Path, name: &str, mode: &str, extra: &[&str]) {
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

    fn new(dir: &Path, name: &str) -> Manufacturer {
        Manufacturer::make(dir, name, "root", &[]);
        Manufacturer {
            root: dir.join(format!("{name}.pem")),
        }
    }

    /// A device certificate `name.pem` with key `name.key`.
    fn device(&self, name: &str, expired: bool) -> (PathBuf, PathBuf) {
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

#[test]
fn curl_and_openssl_use_every_est_endpoint_and_are_refused_where_they_must_be() {
    let mut c = Control::start(Db::Sqlite);
    let admin = c.admin();
    let _step = step("an EST profile for devices (clientAuth), and EST users");
    {
        let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
        profile["name"] = json!(PROFILE);
        profile["extended_key_usage"] = json!(["client-auth"]);
        profile["key_usage"] = json!(["digital-signature"]);
        profile["key_algorithms"] = json!(["ecdsa-p256", "rsa2048"]);
        profile["allowed_name_kinds"] = json!(["dns"]);
        let r = admin.send(
            "PUT",
            &format!("/api/v1/profiles/{PROFILE}"),
            &json!({"profile": profile, "approvals_required": 0, "enrollers": ["*"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        profile["name"] = json!(APPROVED_PROFILE);
        let r = admin.send(
            "PUT",
            &format!("/api/v1/profiles/{APPROVED_PROFILE}"),
            &json!({"profile": profile, "approvals_required": 1, "enrollers": ["*"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        for (label, user) in [
            ("default", USER),
            ("default", "to-lock"),
            ("bound", USER),
            ("approved", USER),
            ("approved", "someone-else"),
        ] {
            let r = admin.post(
                "/api/v1/est/users",
                &json!({"label": label, "username": user, "password": PASSWORD}),
            );
            assert_eq!(r.status, 201, "{}", r.text);
            assert!(
                !r.text.contains(PASSWORD),
                "the password is echoed: {}",
                r.text
            );
        }
    }
    let work = c.dir().join("est");
    std::fs::create_dir_all(&work).unwrap();
    let acme_devices = Manufacturer::new(&work, "acme-devices-root");
    let other_devices = Manufacturer::new(&work, "other-devices-root");
    let anchors = work.join("factory-anchors.pem");
    std::fs::copy(&acme_devices.root, &anchors).unwrap();
    let other_anchors = work.join("other-factory-anchors.pem");
    std::fs::copy(&other_devices.root, &other_anchors).unwrap();
    let port = c.start_front_https(&format!(
        "[tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\n\n\
         [est]\ndefault_label = \"default\"\n\n\
         [[est.label]]\nname = \"default\"\nprofile = \"{PROFILE}\"\nauth = \"password\"\nserver_keygen = true\n\n\
         [[est.label]]\nname = \"factory\"\nprofile = \"{PROFILE}\"\nauth = \"certificate\"\nmanufacturer_anchors = {anchors:?}\n\n\
         [[est.label]]\nname = \"other-factory\"\nprofile = \"{PROFILE}\"\nauth = \"certificate\"\nmanufacturer_anchors = {other_anchors:?}\n\n\
         [[est.label]]\nname = \"bound\"\nprofile = \"{PROFILE}\"\nauth = \"password\"\nchannel_binding = true\n\n\
         [[est.label]]\nname = \"approved\"\nprofile = \"{APPROVED_PROFILE}\"\nauth = \"password\"\nserver_keygen = true\n"
    ));
    let root = work.join("root.pem");
    std::fs::write(&root, pem_of(&c.root_der)).unwrap();
    let est = Est {
        base: format!("https://127.0.0.1:{port}/.well-known/est"),
        root,
        dir: work.clone(),
    };
    let basic = format!("{USER}:{PASSWORD}");
    let auth = ["-u", basic.as_str()];

    let _step = step("cacerts: the issuing CA and the root, base64 certs-only");
    let chain = {
        let r = est.curl("/cacerts", &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        let b64 = work.join("cacerts.b64");
        std::fs::write(&b64, &r.body).unwrap();
        let p7 = openssl_bytes(&["base64", "-d", "-in", b64.to_str().unwrap()]);
        let p7_path = work.join("cacerts.p7");
        std::fs::write(&p7_path, p7).unwrap();
        let chain = work.join("chain.pem");
        let printed = openssl(&[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            p7_path.to_str().unwrap(),
            "-print_certs",
            "-out",
            chain.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&chain).unwrap() + &printed;
        assert!(text.contains("Strongroom Test Issuing CA"), "{text}");
        assert!(text.contains("Strongroom Test Root CA"), "{text}");
        // The same under a named label.
        assert_eq!(est.curl("/factory/cacerts", &[]).status, 200);
        chain
    };

    let _step =
        step("csrattrs: the profile's key types and subjectAltName; challengePassword where bound");
    {
        let r = est.curl("/csrattrs", &auth);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.headers.contains("application/csrattrs"), "{}", r.headers);
        let b64 = work.join("csrattrs.b64");
        std::fs::write(&b64, &r.body).unwrap();
        let der = openssl_bytes(&["base64", "-d", "-A", "-in", b64.to_str().unwrap()]);
        let der_path = work.join("csrattrs.der");
        std::fs::write(&der_path, der).unwrap();
        let parsed = openssl(&[
            "asn1parse",
            "-inform",
            "DER",
            "-in",
            der_path.to_str().unwrap(),
        ]);
        for want in [
            "id-ecPublicKey",
            "prime256v1",
            "rsaEncryption",
            "X509v3 Subject Alternative Name",
        ] {
            assert!(parsed.contains(want), "{want} missing: {parsed}");
        }
        assert!(!parsed.contains("challengePassword"), "{parsed}");
        let r = est.curl("/bound/csrattrs", &[]);
        std::fs::write(&b64, &r.body).unwrap();
        let der = openssl_bytes(&["base64", "-d", "-in", b64.to_str().unwrap()]);
        std::fs::write(&der_path, der).unwrap();
        let parsed = openssl(&[
            "asn1parse",
            "-inform",
            "DER",
            "-in",
            der_path.to_str().unwrap(),
        ]);
        assert!(parsed.contains("challengePassword"), "{parsed}");
    }

    let _step = step("simpleenroll with HTTP Basic");
    let first = {
        let csr = est.csr("d1", "d1.lab.test");
        let r = est.post_csr("/simpleenroll", &csr, &auth);
        let pem = est.certificate(&r, "d1");
        est.verify(&pem, &chain);
        let text = openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-text"]);
        assert!(text.contains("DNS:d1.lab.test"), "{text}");
        assert!(text.contains("TLS Web Client Authentication"), "{text}");
        let r = admin.get("/api/v1/certificates?name=d1.lab.test");
        let items = r.json()["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 1, "{}", r.text);
        assert_eq!(items[0]["source"], "est", "{}", r.text);
        pem
    };

    let _step = step("a CSR on one line is taken too; a PEM body, a wrong media type are refused");
    {
        let one_line = work.join("d2.csr.b64-one-line");
        let der = std::fs::read(work.join("d1.csr.der")).unwrap();
        let csr = est.csr("d2", "d2.lab.test");
        let _ = der;
        let text = std::fs::read_to_string(&csr).unwrap().replace('\n', "");
        std::fs::write(&one_line, text).unwrap();
        let r = est.post_csr("/simpleenroll", &one_line, &auth);
        assert_eq!(r.status, 200, "{}", r.text());
        let pem_body = work.join("d2.csr.pem");
        openssl(&[
            "req",
            "-inform",
            "DER",
            "-in",
            work.join("d2.csr.der").to_str().unwrap(),
            "-out",
            pem_body.to_str().unwrap(),
        ]);
        let r = est.post_csr("/simpleenroll", &pem_body, &auth);
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("base64"), "{}", r.text());
        let data = format!("@{}", csr.display());
        let r = est.curl(
            "/simpleenroll",
            &[
                "-H",
                "Content-Type: text/plain",
                "--data-binary",
                &data,
                "-u",
                &basic,
            ],
        );
        assert_eq!(r.status, 415, "{}", r.text());
        assert!(r.text().contains("application/pkcs10"), "{}", r.text());
    }

    let _step = step("no password and a wrong password are 401 with the Basic challenge");
    {
        let csr = est.csr("nopw", "nopw.lab.test");
        let r = est.post_csr("/simpleenroll", &csr, &[]);
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(
            r.headers
                .to_lowercase()
                .contains("www-authenticate: basic realm="),
            "{}",
            r.headers
        );
        let r = est.post_csr("/simpleenroll", &csr, &["-u", &format!("{USER}:wrong")]);
        assert_eq!(r.status, 401, "{}", r.text());
        let r = est.post_csr(
            "/simpleenroll",
            &csr,
            &["-u", &format!("nobody:{PASSWORD}")],
        );
        assert_eq!(r.status, 401, "{}", r.text());
    }

    let _step = step("five wrong passwords lock the user: the right one is refused too");
    {
        let csr = est.csr("locked", "locked.lab.test");
        let wrong = "to-lock:wrong-password";
        for _ in 0..5 {
            assert_eq!(
                est.post_csr("/simpleenroll", &csr, &["-u", wrong]).status,
                401
            );
        }
        let right = format!("to-lock:{PASSWORD}");
        let r = est.post_csr("/simpleenroll", &csr, &["-u", &right]);
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(r.text().contains("locked"), "{}", r.text());
        // Another user of the label is not affected.
        assert_eq!(est.post_csr("/simpleenroll", &csr, &auth).status, 200);
        assert!(
            !c.front_log().contains(PASSWORD),
            "a password is in the front's log"
        );
    }

    let _step = step("a name the profile forbids is 403, an IP name the profile lacks too");
    {
        let csr = est.csr("evil", "evil.example.com");
        let r = est.post_csr("/simpleenroll", &csr, &auth);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("refused"), "{}", r.text());
    }

    let _step = step("simplereenroll over mutual TLS with the current certificate");
    let renewed = {
        let csr = est.csr("d1-renew", "d1.lab.test");
        let key = work.join("d1.key");
        let r = est.post_csr(
            "/simplereenroll",
            &csr,
            &[
                "--cert",
                first.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        let pem = est.certificate(&r, "d1-renewed");
        est.verify(&pem, &chain);
        let serial = |p: &Path| openssl(&["x509", "-in", p.to_str().unwrap(), "-noout", "-serial"]);
        assert_ne!(serial(&first), serial(&pem));
        // Other names are refused; no certificate at all is refused.
        let other = est.csr("d1-other", "other.lab.test");
        let r = est.post_csr(
            "/simplereenroll",
            &other,
            &[
                "--cert",
                first.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("keeps the names"), "{}", r.text());
        let r = est.post_csr("/simplereenroll", &csr, &auth);
        assert_eq!(r.status, 403, "{}", r.text());
        (pem, work.join("d1-renew.key"))
    };

    let _step = step("a revoked certificate cannot re-enrol");
    {
        let r = admin.get("/api/v1/certificates?name=d1.lab.test");
        let items = r.json()["items"].as_array().cloned().unwrap_or_default();
        let serial = openssl(&[
            "x509",
            "-in",
            renewed.0.to_str().unwrap(),
            "-noout",
            "-serial",
        ]);
        let serial = serial.trim().trim_start_matches("serial=").to_lowercase();
        let id = items
            .iter()
            .find(|i| {
                i["serial"]
                    .as_str()
                    .unwrap_or_default()
                    .to_lowercase()
                    .trim_start_matches('0')
                    == serial.trim_start_matches('0')
            })
            .unwrap_or_else(|| panic!("{serial} not in {}", r.text))["id"]
            .as_i64()
            .unwrap();
        let r = admin.post(
            &format!("/api/v1/certificates/{id}/revoke"),
            &json!({"reason": "keyCompromise"}),
        );
        assert!(r.status == 200 || r.status == 202, "{}", r.text);
        let csr = est.csr("d1-again", "d1.lab.test");
        let r = est.post_csr(
            "/simplereenroll",
            &csr,
            &[
                "--cert",
                renewed.0.to_str().unwrap(),
                "--key",
                renewed.1.to_str().unwrap(),
            ],
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("revoked"), "{}", r.text());
    }

    let _step =
        step("a manufacturer's device certificate enrols under the label trusting its root only");
    {
        let (idevid, idevid_key) = acme_devices.device("idevid-1", false);
        let cert_args = [
            "--cert",
            idevid.to_str().unwrap(),
            "--key",
            idevid_key.to_str().unwrap(),
        ];
        let csr = est.csr("ldev-1", "ldev-1.lab.test");
        let r = est.post_csr("/factory/simpleenroll", &csr, &cert_args);
        let pem = est.certificate(&r, "ldev-1");
        est.verify(&pem, &chain);
        let r = est.post_csr("/other-factory/simpleenroll", &csr, &cert_args);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("not trusted"), "{}", r.text());
        // A password label does not take it instead of a password.
        assert_eq!(est.post_csr("/simpleenroll", &csr, &cert_args).status, 401);
        // Without a certificate the certificate label refuses.
        assert_eq!(
            est.post_csr("/factory/simpleenroll", &csr, &auth).status,
            403
        );
        let r = admin.get("/api/v1/audit?action=est.certificate.issue");
        assert!(r.text.contains("est:factory:device:"), "{}", r.text);
    }

    let _step = step("an expired device certificate is refused");
    {
        let (expired, key) = acme_devices.device("idevid-expired", true);
        let csr = est.csr("ldev-x", "ldev-x.lab.test");
        let r = est.post_csr(
            "/factory/simpleenroll",
            &csr,
            &[
                "--cert",
                expired.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        assert_ne!(r.status, 200, "{}", r.text());
    }

    let _step =
        step("a second manufacturer's root added to the anchor file is trusted without a restart");
    {
        let (idevid, key) = other_devices.device("idevid-2", false);
        let cert_args = [
            "--cert",
            idevid.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ];
        let csr = est.csr("ldev-2", "ldev-2.lab.test");
        // The listener knows that root (label other-factory trusts it); factory does not yet.
        let r = est.post_csr("/factory/simpleenroll", &csr, &cert_args);
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(
            est.post_csr("/other-factory/simpleenroll", &csr, &cert_args)
                .status,
            200
        );
        let csr = est.csr("ldev-2b", "ldev-2b.lab.test");
        let both = std::fs::read_to_string(&acme_devices.root).unwrap()
            + &std::fs::read_to_string(&other_devices.root).unwrap();
        let next = work.join("factory-anchors.pem.new");
        std::fs::write(&next, both).unwrap();
        std::fs::rename(&next, &anchors).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let r = est.post_csr("/factory/simpleenroll", &csr, &cert_args);
            if r.status == 200 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not reloaded: {} {}",
                r.status,
                r.text()
            );
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        assert!(
            c.front_log().contains("manufacturer anchors reloaded"),
            "{}",
            c.front_log()
        );
    }

    let _step = step("serverkeygen: the key in the reply is the certificate's key");
    {
        let csr = est.csr("skg", "skg.lab.test");
        let r = est.post_csr("/serverkeygen", &csr, &auth);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.headers.contains("multipart/mixed; boundary="),
            "{}",
            r.headers
        );
        let text = r.text();
        let boundary = r
            .headers
            .lines()
            .find_map(|l| l.split("boundary=").nth(1))
            .unwrap()
            .trim()
            .to_string();
        let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
        let content = |p: &str| p.split_once("\r\n\r\n").unwrap().1.to_string();
        let key_part = parts
            .iter()
            .find(|p| p.contains("application/pkcs8"))
            .unwrap();
        let cert_part = parts
            .iter()
            .find(|p| p.contains("smime-type=certs-only"))
            .unwrap();
        let key_b64 = work.join("skg.key.b64");
        std::fs::write(&key_b64, content(key_part)).unwrap();
        let key_der = work.join("skg.key.der");
        std::fs::write(
            &key_der,
            openssl_bytes(&["base64", "-d", "-in", key_b64.to_str().unwrap()]),
        )
        .unwrap();
        let cert_reply = Reply {
            status: 200,
            headers: "application/pkcs7-mime; smime-type=certs-only".into(),
            body: content(cert_part).into_bytes(),
        };
        let pem = est.certificate(&cert_reply, "skg");
        est.verify(&pem, &chain);
        let from_key = openssl(&[
            "pkey",
            "-inform",
            "DER",
            "-in",
            key_der.to_str().unwrap(),
            "-pubout",
        ]);
        let from_cert = openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-pubkey"]);
        assert_eq!(from_key, from_cert);
        let csr_key = openssl(&[
            "pkey",
            "-in",
            work.join("skg.key").to_str().unwrap(),
            "-pubout",
        ]);
        assert_ne!(
            from_key, csr_key,
            "the certificate is for the server's key, not the CSR's"
        );
        let r = est.post_csr("/factory/serverkeygen", &csr, &auth);
        assert_eq!(r.status, 403, "{}", r.text());
        // A request for the key encrypted to a key it names (RFC 7030 §4.4.1.2): refused,
        // saying so, rather than sent in a form it did not ask for.
        let cnf = work.join("enc.cnf");
        std::fs::write(
            &cnf,
            "oid_section = new_oids\n[new_oids]\nasymmDecryptKeyID = 1.2.840.113549.1.9.16.2.54\n\
             [req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n\
             [dn]\nCN = enc.lab.test\n[attrs]\nasymmDecryptKeyID = 0102030405\n",
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
            work.join("enc.key").to_str().unwrap(),
            "-config",
            cnf.to_str().unwrap(),
            "-outform",
            "DER",
        ]);
        let enc = work.join("enc.csr.b64");
        use base64::Engine;
        std::fs::write(&enc, base64::engine::general_purpose::STANDARD.encode(der)).unwrap();
        let r = est.post_csr("/serverkeygen", &enc, &auth);
        assert_eq!(r.status, 501, "{}", r.text());
        assert!(
            r.text().contains("AsymmetricDecryptKeyIdentifier"),
            "{}",
            r.text()
        );
    }

    let _step =
        step("channel binding: a TLS 1.2 client and a CSR without the exporter value are refused");
    {
        let csr = est.csr("bound-1", "bound-1.lab.test");
        let r = est.post_csr(
            "/bound/simpleenroll",
            &csr,
            &["-u", &basic, "--tls-max", "1.2"],
        );
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("TLS 1.3"), "{}", r.text());
        let r = est.post_csr("/bound/simpleenroll", &csr, &["-u", &basic]);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("tls-exporter"), "{}", r.text());
    }

    let _step = step("channel binding: the session's tls-exporter value in the CSR enrols; another session's does not");
    {
        let https = format!("127.0.0.1:{port}");
        let (status, text) = bound_enrolment(&https, &c.root_der, &work, "bound-2", &basic, false);
        assert_eq!(status, 200, "{text}");
        let (status, text) = bound_enrolment(&https, &c.root_der, &work, "bound-3", &basic, true);
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("tls-exporter"), "{text}");
    }

    let _step = step(
        "approval: 202 with Retry-After, the same request again gets the certificate once approved",
    );
    {
        let csr = est.csr("held", "held.lab.test");
        let r = est.post_csr("/approved/simpleenroll", &csr, &auth);
        assert_eq!(r.status, 202, "{}", r.text());
        assert!(
            r.headers.to_lowercase().contains("retry-after: 30"),
            "{}",
            r.headers
        );
        // Another user of the label sending the same CSR learns nothing.
        let other = format!("someone-else:{PASSWORD}");
        let r = est.post_csr("/approved/simpleenroll", &csr, &["-u", &other]);
        assert_eq!(r.status, 403, "{}", r.text());
        // A key made by the server cannot wait for approvers.
        assert_eq!(
            est.post_csr("/approved/serverkeygen", &csr, &auth).status,
            403
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let approval = loop {
            let r = admin.get("/api/v1/approvals?state=pending");
            let found = r.json()["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .find(|a| a["kind"] == "est.enrol");
            if let Some(a) = found {
                break a;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no est.enrol approval: {}",
                r.text
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        };
        assert_eq!(
            approval["payload"]["names"],
            json!(["dns:held.lab.test"]),
            "{approval}"
        );
        assert_eq!(
            approval["requested_by"],
            format!("est:{APPROVED_PROFILE}"),
            "{approval}"
        );
        let r = est.post_csr("/approved/simpleenroll", &csr, &auth);
        assert_eq!(r.status, 202, "{}", r.text());
        let r = admin.post(
            &format!("/api/v1/approvals/{}/approve", approval["id"]),
            &json!({"comment": "known device"}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["state"], "approved", "{}", r.text);
        let r = est.post_csr("/approved/simpleenroll", &csr, &auth);
        let pem = est.certificate(&r, "held");
        est.verify(&pem, &chain);
        let r = admin.get("/api/v1/certificates?name=held.lab.test");
        let items = r.json()["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 1, "{}", r.text);
        assert_eq!(items[0]["source"], "est", "{}", r.text);
    }

    let _step = step("fullcmc is 501 with what to use instead; a GET of simpleenroll is 405");
    {
        let csr = est.csr("cmc", "cmc.lab.test");
        let r = est.post_csr("/fullcmc", &csr, &auth);
        assert_eq!(r.status, 501, "{}", r.text());
        assert!(r.text().contains("simpleenroll"), "{}", r.text());
        let r = est.curl("/simpleenroll", &auth);
        assert_eq!(r.status, 405, "{}", r.text());
        assert!(
            r.headers.contains("allow: POST") || r.headers.contains("Allow: POST"),
            "{}",
            r.headers
        );
        assert_eq!(est.curl("/nosuch/cacerts", &[]).status, 404);
    }

    // Last: it shuts this address out of password enrolment for 15 minutes.
    let _step = step("one address guessing across many users is refused with 429 past its limit");
    {
        let csr = est.csr("spray", "spray.lab.test");
        let mut refused_at = None;
        for i in 0..40 {
            let guess = format!("user-{i}:guess-{i}");
            let r = est.post_csr("/simpleenroll", &csr, &["-u", &guess]);
            if r.status == 429 {
                assert!(
                    r.headers.to_lowercase().contains("retry-after:"),
                    "{}",
                    r.headers
                );
                refused_at = Some(i);
                break;
            }
            assert_eq!(r.status, 401, "{}", r.text());
        }
        // Earlier steps failed seven times from this address; 20 in 15 minutes is the limit.
        assert!(
            matches!(refused_at, Some(i) if i <= 20),
            "no 429 within 40 guesses: {refused_at:?}"
        );
        // The right password from that address is refused too, before any check.
        let r = est.post_csr("/simpleenroll", &csr, &auth);
        assert_eq!(r.status, 429, "{}", r.text());
        // A client certificate needs no password and still enrols.
        let (idevid, key) = acme_devices.device("idevid-3", false);
        let r = est.post_csr(
            "/factory/simpleenroll",
            &csr,
            &[
                "--cert",
                idevid.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
            ],
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// One `simpleenroll` under the `bound` label over a TLS 1.3 session of rustls, with a CSR
/// (openssl) whose challengePassword is this session's RFC 9266 exporter value, or with
/// `wrong` another session's: (HTTP status, body).
fn bound_enrolment(
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
