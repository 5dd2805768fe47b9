#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! EST (issue 18) with the clients integrators script: curl and openssl, as in
//! ../shared/INTEROP.md, against the front's HTTPS listener. Every endpoint: `cacerts`,
//! `csrattrs`, `simpleenroll` (HTTP Basic), `simplereenroll` over mutual TLS, `serverkeygen`
//! (the key in the reply matches the certificate; encrypted to the TLS client certificate
//! when the request names it, opened and verified by openssl) and `fullcmc` (501). The refusals: a wrong
//! password is 401 and five lock the user (the right password is then refused too); a
//! revoked or expired client certificate is refused; a name the profile forbids is 403; a
//! device certificate from a manufacturer's root enrols under the label that trusts that
//! root and is refused under a label that trusts another manufacturer (the handshake accepts
//! both: the listener trusts every label's roots); a new root in a label's anchor file is
//! trusted there without a restart. One address guessing across many users is refused with
//! 429 past its limit, whatever the password. Every certificate verifies with openssl and passes pkilint.

mod est_common;
mod scep_common;

use est_common::{bound_enrolment, multipart, sealed_key_csr, Est, Manufacturer, Reply, Sealed};
use scep_common::{openssl, openssl_bytes};
use serde_json::json;
use std::path::Path;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

const PROFILE: &str = "est-device";
const APPROVED_PROFILE: &str = "est-approved";
const USER: &str = "device-enroller";
const PASSWORD: &str = "est-password-0123456789";

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
         [[est.label]]\nname = \"factory\"\nprofile = \"{PROFILE}\"\nauth = \"certificate\"\nmanufacturer_anchors = {anchors:?}\nserver_keygen = true\n\n\
         [[est.label]]\nname = \"other-factory\"\nprofile = \"{PROFILE}\"\nauth = \"certificate\"\nmanufacturer_anchors = {other_anchors:?}\n\n\
         [[est.label]]\nname = \"bound\"\nprofile = \"{PROFILE}\"\nauth = \"password\"\nchannel_binding = true\n\n\
         [[est.label]]\nname = \"approved\"\nprofile = \"{APPROVED_PROFILE}\"\nauth = \"password\"\nserver_keygen = true\n"
    ));
    let root = work.join("root.pem");
    std::fs::write(&root, strongroom_testkit::pem("CERTIFICATE", &c.root_der)).unwrap();
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
        let r = est.post_csr_as("/simplereenroll", &csr, &first, &key);
        let pem = est.certificate(&r, "d1-renewed");
        est.verify(&pem, &chain);
        let serial = |p: &Path| openssl(&["x509", "-in", p.to_str().unwrap(), "-noout", "-serial"]);
        assert_ne!(serial(&first), serial(&pem));
        // Other names are refused; no certificate at all is refused.
        let other = est.csr("d1-other", "other.lab.test");
        let r = est.post_csr_as("/simplereenroll", &other, &first, &key);
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
        let r = est.post_csr_as("/simplereenroll", &csr, &renewed.0, &renewed.1);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("revoked"), "{}", r.text());
    }

    let _step =
        step("a manufacturer's device certificate enrols under the label trusting its root only");
    {
        let (idevid, idevid_key) = acme_devices.device("idevid-1", false);
        let device = (&idevid, &idevid_key);
        let csr = est.csr("ldev-1", "ldev-1.lab.test");
        let r = est.post_csr_as("/factory/simpleenroll", &csr, device.0, device.1);
        let pem = est.certificate(&r, "ldev-1");
        est.verify(&pem, &chain);
        let r = est.post_csr_as("/other-factory/simpleenroll", &csr, device.0, device.1);
        assert_eq!(r.status, 403, "{}", r.text());
        assert!(r.text().contains("not trusted"), "{}", r.text());
        // A password label does not take it instead of a password.
        assert_eq!(
            est.post_csr_as("/simpleenroll", &csr, device.0, device.1)
                .status,
            401
        );
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
        let r = est.post_csr_as("/factory/simpleenroll", &csr, &expired, &key);
        assert_ne!(r.status, 200, "{}", r.text());
    }

    let _step =
        step("a second manufacturer's root added to the anchor file is trusted without a restart");
    {
        let (idevid, key) = other_devices.device("idevid-2", false);
        let device = (&idevid, &key);
        let csr = est.csr("ldev-2", "ldev-2.lab.test");
        // The listener knows that root (label other-factory trusts it); factory does not yet.
        let r = est.post_csr_as("/factory/simpleenroll", &csr, device.0, device.1);
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(
            est.post_csr_as("/other-factory/simpleenroll", &csr, device.0, device.1)
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
            let r = est.post_csr_as("/factory/simpleenroll", &csr, device.0, device.1);
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
        let parts = multipart(&r);
        let content = |p: &(String, String)| p.1.clone();
        let key_part = parts
            .iter()
            .find(|p| p.0.contains("application/pkcs8"))
            .unwrap();
        let cert_part = parts
            .iter()
            .find(|p| p.0.contains("smime-type=certs-only"))
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
    }

    let _step = step("serverkeygen encrypted to the TLS client certificate the request names");
    {
        // The reply's key part is EnvelopedData(SignedData(AsymmetricKeyPackage)): openssl
        // opens it with the client's key, verifies the CA's key generator's signature up to
        // the root, and the key inside is the certificate's key.
        let open_sealed = |r: &Reply, name: &str, client_key: &Path| {
            assert_eq!(r.status, 200, "{}", r.text());
            let parts = multipart(r);
            assert!(
                !parts.iter().any(|p| p.0.contains("application/pkcs8")),
                "no key in the clear"
            );
            let sealed = parts
                .iter()
                .find(|p| p.0.contains("smime-type=server-generated-key"))
                .unwrap();
            let cert_part = parts
                .iter()
                .find(|p| p.0.contains("smime-type=certs-only"))
                .unwrap();
            let p7m = work.join(format!("{name}.p7m"));
            std::fs::write(
                &p7m,
                base64::engine::general_purpose::STANDARD
                    .decode(sealed.1.replace(['\r', '\n'], ""))
                    .unwrap(),
            )
            .unwrap();
            let signed = work.join(format!("{name}.signed.der"));
            openssl(&[
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-in",
                p7m.to_str().unwrap(),
                "-inkey",
                client_key.to_str().unwrap(),
                "-out",
                signed.to_str().unwrap(),
            ]);
            let package = openssl_bytes(&[
                "cms",
                "-verify",
                "-inform",
                "DER",
                "-in",
                signed.to_str().unwrap(),
                "-CAfile",
                chain.to_str().unwrap(),
                "-purpose",
                "any",
            ]);
            // AsymmetricKeyPackage: one OneAsymmetricKey (PKCS#8) in a SEQUENCE.
            let key_der = work.join(format!("{name}.key.der"));
            let header = if package[1] < 0x80 {
                2
            } else {
                2 + (package[1] & 0x7f) as usize
            };
            std::fs::write(&key_der, &package[header..]).unwrap();
            let from_key = openssl(&[
                "pkey",
                "-inform",
                "DER",
                "-in",
                key_der.to_str().unwrap(),
                "-pubout",
            ]);
            let cert_reply = Reply {
                status: 200,
                headers: "application/pkcs7-mime; smime-type=certs-only".into(),
                body: cert_part.1.clone().into_bytes(),
            };
            let pem = est.certificate(&cert_reply, name);
            est.verify(&pem, &chain);
            let from_cert = openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-pubkey"]);
            assert_eq!(
                from_key, from_cert,
                "{name}: the sealed key is the certificate's"
            );
        };
        use base64::Engine;

        // A manufacturer's device certificate without a subjectKeyIdentifier: named by the
        // SHA-1 identifier RFC 5280 derives (ECDH P-256 + AES key wrap).
        let (idevid, idevid_key) = acme_devices.device("idevid-skg", false);
        let csr = sealed_key_csr(&work, "sealed-1", "sealed-1.lab.test", Sealed::To(&idevid));
        let r = est.post_csr_as("/factory/serverkeygen", &csr, &idevid, &idevid_key);
        open_sealed(&r, "sealed-1", &idevid_key);

        // A certificate this CA issued (it has a subjectKeyIdentifier), with a password on
        // a password label: the key goes to the certificate of the session.
        let ldev_csr = est.csr("ldev-skg", "ldev-skg.lab.test");
        let r = est.post_csr_as("/factory/simpleenroll", &ldev_csr, &idevid, &idevid_key);
        let ldev = est.certificate(&r, "ldev-skg");
        let ldev_key = work.join("ldev-skg.key");
        let csr = sealed_key_csr(&work, "sealed-2", "sealed-2.lab.test", Sealed::To(&ldev));
        let (cert_arg, key_arg) = (ldev.to_str().unwrap(), ldev_key.to_str().unwrap());
        let with_cert = ["-u", basic.as_str(), "--cert", cert_arg, "--key", key_arg];
        let r = est.post_csr("/serverkeygen", &csr, &with_cert);
        open_sealed(&r, "sealed-2", &ldev_key);

        // Refused before a key is made, saying what to change: a key the session's
        // certificate is not, a symmetric key (none is shared), no certificate at all.
        let r = est.post_csr_as(
            "/factory/serverkeygen",
            &sealed_key_csr(&work, "sealed-3", "sealed-3.lab.test", Sealed::ToNobody),
            &idevid,
            &idevid_key,
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(
            r.text().contains("not the subjectKeyIdentifier"),
            "{}",
            r.text()
        );
        let r = est.post_csr_as(
            "/factory/serverkeygen",
            &sealed_key_csr(&work, "sealed-4", "sealed-4.lab.test", Sealed::Symmetric),
            &idevid,
            &idevid_key,
        );
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("no symmetric key"), "{}", r.text());
        let r = est.post_csr("/serverkeygen", &csr, &auth);
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("TLS client certificate"), "{}", r.text());
        for refused in ["sealed-3.lab.test", "sealed-4.lab.test"] {
            let found = admin.get(&format!("/api/v1/certificates?name={refused}"));
            assert_eq!(found.status, 200, "{}", found.text);
            let items = found.json()["items"].as_array().cloned().unwrap();
            assert!(
                items.is_empty(),
                "issued for a refused request: {}",
                found.text
            );
        }
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
        let r = est.post_csr_as("/factory/simpleenroll", &csr, &idevid, &key);
        assert_eq!(r.status, 200, "{}", r.text());
    }
}
