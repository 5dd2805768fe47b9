#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! SCEP (issue 17) with a real client: Debian's `scepclient` (micromdm) enrols against the
//! front's plain port with the profile's static challenge and with a one-time challenge made
//! through control's API, renews with the certificate it got, and a reused one-time
//! challenge is refused with a failInfo. What it gets verifies with openssl against the
//! root and passes pkilint; the RA key is in the token, sensitive and never extractable.
//! scepclient encrypts with single DES (whatever GetCACaps says) and the front answers in
//! AES, which the client decrypts. A PKIOperation sent by GET is answered as by POST. A
//! stranger's flood of GetCACert is answered from memory, not by the signer.

mod scep_common;

use scep_common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;
use strongroom_testkit::{run, tool};
use strongroom_wire::{Operation, Request, Response};

const STATIC_CHALLENGE: &str = "static-challenge-0123456789";

/// A device: its own directory (scepclient keeps its key, CSR and self-signed certificate
/// beside the key).
struct Device {
    dir: PathBuf,
}

impl Device {
    fn new(root: &Path, name: &str) -> Device {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Device { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// Runs scepclient; (success, output).
    fn enrol(
        &self,
        url: &str,
        ra_fingerprint: &str,
        cn: &str,
        challenge: Option<&str>,
    ) -> (bool, String) {
        let mut cmd = Command::new(tool("scepclient"));
        cmd.args(["-server-url", url, "-cn", cn, "-keySize", "2048", "-debug"])
            .arg("-ca-fingerprint")
            .arg(ra_fingerprint)
            .arg("-private-key")
            .arg(self.dir.join("key.pem"))
            .arg("-certificate")
            .arg(self.cert());
        if let Some(c) = challenge {
            cmd.args(["-challenge", c]);
        }
        let out = run(&mut cmd);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
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

fn serial_of(pem: &Path) -> String {
    openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-serial"])
        .trim()
        .to_string()
}

#[test]
fn scepclient_enrols_renews_and_a_one_time_challenge_works_once() {
    let mut c = Control::start(Db::Sqlite);
    let challenge_file = c.dir().join("scep-challenge");
    std::fs::write(&challenge_file, format!("{STATIC_CHALLENGE}\n")).unwrap();
    c.start_front_with(&format!(
        "[ocsp]\nvalidity_secs = 3600\n\n[scep]\ndefault_profile = \"tls-server\"\n\n[[scep.profile]]\nname = \"tls-server\"\nchallenge_file = {challenge_file:?}\n"
    ));
    let url = format!("{}/scep", c.front_base);
    let work = c.dir().join("devices");

    let _step = step("GetCACaps and GetCACert");
    let (ra_der, chain_pem) = {
        let (status, caps) = http_get(&c.front_base, "/scep?operation=GetCACaps");
        assert!(status.contains(" 200 "), "{status}");
        let caps = String::from_utf8(caps).unwrap();
        for cap in [
            "POSTPKIOperation",
            "SHA-256",
            "AES",
            "SCEPStandard",
            "Renewal",
        ] {
            assert!(caps.lines().any(|l| l == cap), "{cap} missing from {caps}");
        }
        let (status, p7) = http_get(&c.front_base, "/scep?operation=GetCACert");
        assert!(status.contains(" 200 "), "{status}");
        let p7_path = c.dir().join("getcacert.p7");
        std::fs::write(&p7_path, &p7).unwrap();
        let printed = openssl(&[
            "pkcs7",
            "-inform",
            "DER",
            "-in",
            p7_path.to_str().unwrap(),
            "-print_certs",
        ]);
        assert!(printed.contains("strongroom-scep-ra"), "{printed}");
        assert!(printed.contains("Strongroom Test Root CA"), "{printed}");
        // The RA certificate is the first; the rest is the CA chain.
        let pems: Vec<&str> = printed
            .split("-----END CERTIFICATE-----")
            .filter(|p| p.contains("BEGIN CERTIFICATE"))
            .collect();
        assert!(pems.len() >= 3, "{printed}");
        let ra_pem = format!(
            "{}-----END CERTIFICATE-----\n",
            &pems[0][pems[0].find("-----BEGIN").unwrap()..]
        );
        let ra_path = c.dir().join("ra.pem");
        std::fs::write(&ra_path, &ra_pem).unwrap();
        let ra_text = openssl(&["x509", "-in", ra_path.to_str().unwrap(), "-noout", "-text"]);
        assert!(
            ra_text.contains("Digital Signature, Key Encipherment"),
            "{ra_text}"
        );
        assert!(ra_text.contains("rsaEncryption"), "{ra_text}");
        let der_path = c.dir().join("ra.der");
        openssl(&[
            "x509",
            "-in",
            ra_path.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der_path.to_str().unwrap(),
        ]);
        let mut chain = String::new();
        for p in &pems[1..] {
            chain.push_str(&p[p.find("-----BEGIN").unwrap()..]);
            chain.push_str("-----END CERTIFICATE-----\n");
        }
        (std::fs::read(der_path).unwrap(), chain)
    };
    let fingerprint = hex::encode(Sha256::digest(&ra_der));
    let chain_path = c.dir().join("chain.pem");
    std::fs::write(&chain_path, &chain_pem).unwrap();
    let root_path = c.dir().join("root.pem");
    std::fs::write(&root_path, pem_of(&c.root_der)).unwrap();

    let verify = |cert: &Path| {
        let out = openssl(&[
            "verify",
            "-CAfile",
            root_path.to_str().unwrap(),
            "-untrusted",
            chain_path.to_str().unwrap(),
            cert.to_str().unwrap(),
        ]);
        assert!(out.contains(": OK"), "{out}");
    };

    let first = Device::new(&work, "dev1");
    let _step = step("PKCSReq with the static challenge (single DES in, AES out)");
    {
        let (ok, out) = first.enrol(&url, &fingerprint, "dev1.lab.test", Some(STATIC_CHALLENGE));
        assert!(ok, "scepclient: {out}\nfront: {}", c.front_log());
        verify(&first.cert());
        let text = openssl(&[
            "x509",
            "-in",
            first.cert().to_str().unwrap(),
            "-noout",
            "-text",
        ]);
        assert!(text.contains("DNS:dev1.lab.test"), "{text}");
        // What the profile grants, not what the device asked (scepclient puts O=scep-client).
        assert!(!text.contains("scep-client"), "{text}");
        assert!(
            c.front_log().contains("des-cbc"),
            "the legacy cipher is logged"
        );
    }

    let _step = step("the inventory holds it, source scep");
    {
        let admin = c.admin();
        let r = admin.get("/api/v1/certificates?name=dev1.lab.test");
        assert_eq!(r.status, 200, "{}", r.text);
        let items = r.json()["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 1, "{}", r.text);
        assert_eq!(items[0]["source"], "scep", "{}", r.text);
    }

    let _step = step("a wrong challenge is refused with a failInfo");
    {
        let d = Device::new(&work, "wrong");
        let (ok, out) = d.enrol(
            &url,
            &fingerprint,
            "wrong.lab.test",
            Some("not-the-challenge"),
        );
        assert!(!ok, "{out}");
        assert!(out.contains("failInfo"), "{out}");
        assert!(!d.cert().exists());
    }

    let _step = step("a one-time challenge enrols once, then fails with a failInfo");
    {
        let admin = c.admin();
        let r = admin.post(
            "/api/v1/scep/challenges",
            &json!({"profile": "tls-server", "ttl_secs": 600}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        let once = r.json()["challenge"].as_str().unwrap().to_string();
        let d2 = Device::new(&work, "dev2");
        let (ok, out) = d2.enrol(&url, &fingerprint, "dev2.lab.test", Some(&once));
        assert!(ok, "scepclient: {out}\nfront: {}", c.front_log());
        verify(&d2.cert());
        let d3 = Device::new(&work, "dev3");
        let (ok, out) = d3.enrol(&url, &fingerprint, "dev3.lab.test", Some(&once));
        assert!(!ok, "a reused one-time challenge enrolled: {out}");
        assert!(out.contains("failInfo"), "{out}");
        assert!(c.front_log().contains("already-used"), "{}", c.front_log());
        assert!(
            !c.front_log().contains(&once),
            "the challenge is in the front's log"
        );
    }

    let _step = step("RenewalReq signed by the current certificate");
    {
        let before = serial_of(&first.cert());
        let (ok, out) = first.enrol(&url, &fingerprint, "dev1.lab.test", None);
        assert!(ok, "scepclient renewal: {out}\nfront: {}", c.front_log());
        let after = serial_of(&first.cert());
        assert_ne!(before, after, "renewal returned the same certificate");
        verify(&first.cert());
    }

    let _step = step("PKIOperation by GET is answered as by POST");
    {
        // A real scepclient request captured against another server (crates/scep's
        // fixture): it parses and verifies, its envelope is for another RA, so either way
        // the answer is a CertRep, FAILURE badMessageCheck, signed by our RA.
        let message = std::fs::read(
            strongroom_testkit::repo_root()
                .join("crates/scep/tests/fixtures/scepclient-pkcsreq-des.der"),
        )
        .unwrap();
        let (post_status, post_body) =
            http_post(&c.front_base, "/scep?operation=PKIOperation", &message);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&message);
        let query: String = b64
            .chars()
            .map(|ch| match ch {
                '+' => "%2B".to_string(),
                '/' => "%2F".to_string(),
                '=' => "%3D".to_string(),
                other => other.to_string(),
            })
            .collect();
        let (get_status, get_body) = http_get(
            &c.front_base,
            &format!("/scep?operation=PKIOperation&message={query}"),
        );
        for (how, status, body) in [
            ("POST", post_status, post_body),
            ("GET", get_status, get_body),
        ] {
            assert!(status.contains(" 200 "), "{how}: {status}");
            let path = c.dir().join(format!("certrep-{how}.der"));
            std::fs::write(&path, &body).unwrap();
            let printed = openssl(&[
                "cms",
                "-cmsout",
                "-print",
                "-inform",
                "DER",
                "-in",
                path.to_str().unwrap(),
            ]);
            // messageType 3 (CertRep) and pkiStatus 2 (FAILURE) among the signed attributes.
            assert!(
                printed.contains("2.16.840.1.113733.1.9.3"),
                "{how}: {printed}"
            );
        }
        let refusals = c
            .front_log()
            .matches("fail_info=\"badMessageCheck\"")
            .count();
        assert!(refusals >= 2, "{}", c.front_log());
    }

    let _step = step("a stranger's flood of GetCACert costs the signer nothing past the first");
    {
        let calls = || -> u64 {
            match c.signer.client().call(&Request::Metrics).unwrap() {
                Response::Metrics(m) => m
                    .operations
                    .iter()
                    .filter(|o| o.operation == Operation::ScepRaCertificate)
                    .map(|o| o.count)
                    .sum(),
                other => panic!("{other:?}"),
            }
        };
        let before = calls();
        for _ in 0..200 {
            let (status, _) = http_get(&c.front_base, "/scep?operation=GetCACert");
            assert!(status.contains(" 200 "), "{status}");
        }
        // At most one refresh of the one-minute memory during the flood.
        let made = calls() - before;
        assert!(made <= 1, "200 GetCACert made {made} signer calls");
    }

    let _step = step("pkilint finds no ERROR in what SCEP issued");
    {
        for cert in [first.cert(), work.join("dev2/cert.pem")] {
            let out = run(Command::new(tool("lint_pkix_cert"))
                .args(["lint", "-s", "ERROR"])
                .arg(&cert));
            let report = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(
                !report.contains("ERROR") && !report.contains("FATAL"),
                "{}: {report}",
                cert.display()
            );
        }
    }
}
