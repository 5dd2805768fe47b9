#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! An HSM outage seen from the outside, across the three daemons: the signer runs on the
//! fault shim (hsm-sim/shim) over the real token; control and front run as in production.
//! While the token fails every call, control still answers over HTTPS, `/ready` says the
//! HSM is degraded (503) and so does the console's dashboard, the front's HTTPS listener still
//! answers, issuance through the API gets a retryable 503 problem, the front
//! keeps serving the stored OCSP response, and nothing exits; when the token is back,
//! issuance works again without a restart.

mod console_support;

use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use strongroom_testkit::curl_browser::Browser;
use strongroom_testkit::stack::{Control, Db, ADMIN_PASSWORD};
use strongroom_testkit::step;

/// Restarts the stack's signer on the shim, with `control` as its rule file.
fn signer_on_shim(c: &mut Control, control: &Path) {
    std::fs::write(control, "ok").unwrap();
    c.signer.stop();
    c.signer = c.pki.start_signer_on_shim(control);
}

fn ocsp_good(c: &Control, dir: &Path, cert: &Path, issuing: &Path) -> String {
    let root = dir.join("root.pem");
    std::fs::write(&root, strongroom_x509::to_pem("CERTIFICATE", &c.root_der)).unwrap();
    let out = Command::new("openssl")
        .args(["ocsp", "-url", &format!("{}/ocsp", c.front_base), "-issuer"])
        .arg(issuing)
        .arg("-CAfile")
        .arg(&root)
        .arg("-cert")
        .arg(cert)
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Issuance through the API with a fresh client: a new TLS handshake with control, as a new
/// caller makes.
fn issue(c: &Control, token: &str, cn: &str) -> strongroom_testkit::stack::Reply {
    let (csr, _) = c.csr(cn, &format!("DNS:{cn}"));
    c.client().with_token(token).post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    )
}

#[test]
fn an_hsm_outage_gives_clean_retryable_errors_and_heals_without_a_restart() {
    let _step = step("set up: stack on SQLite, the signer on the fault shim");
    let mut c = Control::start(Db::Sqlite);
    let front_https = c.start_front_https(
        "[ocsp]\nvalidity_secs = 3600\n[tls]\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\"]\n",
    );
    let dir = c.dir().to_path_buf();
    let control = dir.join("shim-rules");
    signer_on_shim(&mut c, &control);
    let admin = c.admin();
    let token = admin.token.clone().unwrap();
    let before = issue(&c, &token, "before.lab.test");
    assert_eq!(before.status, 201, "{}", before.text);
    let before = before.json();
    let cert = dir.join("before.pem");
    std::fs::write(&cert, before["pem"].as_str().unwrap()).unwrap();
    let issuing = dir.join("issuing.pem");
    std::fs::write(
        &issuing,
        before["chain_pem"]
            .as_str()
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap(),
    )
    .unwrap();

    let browser = Browser::new(&c.base, &c.root_der, &dir, "operator");
    console_support::login(&browser, "admin", ADMIN_PASSWORD);

    let _step = step("the token fails every call");
    std::fs::write(&control, "fail=CKR_DEVICE_ERROR").unwrap();
    // The one handshake that meets the failure is lost (its certificate names the HSM key,
    // which cannot sign); from then on control serves its standby certificate.
    let first = c.client().call("GET", "/api/v1/ready", None, None);
    let ready = c.client().get("/api/v1/ready");
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert!(
        ready.text.contains("degraded") && ready.text.contains("CKR_DEVICE_ERROR"),
        "{}",
        ready.text
    );
    let refused = issue(&c, &token, "during.lab.test");
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert!(
        refused.text.contains("HSM is unavailable"),
        "{}",
        refused.text
    );
    // The console (a browser session opened before the outage) says so on its dashboard.
    let dashboard = browser.request("GET", "/console/", None, &[]);
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(
        dashboard.body.contains("not ready") && dashboard.body.contains("CKR_DEVICE_ERROR"),
        "{}",
        dashboard.body
    );
    let text = ocsp_good(&c, &dir, &cert, &issuing);
    assert!(
        text.contains("Response verify OK") && text.contains(": good"),
        "the stored OCSP response is not served during the outage:\n{text}"
    );
    // The front's HTTPS listener (ACME, EST, CRLs) answers too, on its standby certificate
    // after the one handshake that meets the failure.
    let crl_over_https = || {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(dir.join("root.pem"))
            .arg(format!("https://127.0.0.1:{front_https}/crl/issuing.crl"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let _lost = crl_over_https();
    assert_eq!(crl_over_https(), "200", "{}", c.front_log());
    assert!(c.front_alive(), "the front exited: {}", c.front_log());
    assert!(c.signer.is_running(), "{}", c.signer.log_text());
    // Still answering after the standby's probe interval (5 s): the probe runs off any
    // client's handshake, so no later client is lost to it.
    std::thread::sleep(Duration::from_secs(6));
    for _ in 0..3 {
        let r = c.client().get("/api/v1/ready");
        assert_eq!(r.status, 503, "{}", r.text);
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "first handshake in the outage: {:?}",
        first.map(|r| r.status)
    );

    let _step = step("the token is back: issuance resumes without a restart");
    std::fs::write(&control, "ok").unwrap();
    let cleared = Instant::now();
    loop {
        let r = issue(&c, &token, "after.lab.test");
        if r.status == 201 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(
            cleared.elapsed() < Duration::from_secs(30),
            "no issuance 30 s after the fault cleared: {}",
            r.text
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "issuance resumed {:?} after the fault cleared",
        cleared.elapsed()
    );
    assert_eq!(c.client().get("/api/v1/ready").status, 200);
}
