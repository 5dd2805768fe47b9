#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The console in a real browser (issue 19): Debian's Chromium, headless, driven through
//! chromedriver against `strongroom up`. An admin logs in with a TOTP code computed by
//! `oathtool` (a wrong code and a replayed one are refused), issues a certificate from a
//! CSR, finds it by SAN, revokes it, reads and exports the audit log and logs out; an
//! operator files a request under a profile that needs approval and cannot decide it, an
//! approver approves it with a comment (both first enrol their authenticator on the console's
//! QR page, as every login needs a second factor); the login page works from the keyboard alone; the
//! layouts hold at 1280 and 390 px. Screenshots of the main pages are left in
//! `target/tmp/console-screenshots/` (a few are in docs/console/).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use strongroom_testkit::up::Up;
use strongroom_testkit::webdriver::Chrome;
use strongroom_testkit::{run, step, tool, totp_code};

fn ok(out: std::process::Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A P-256 key and CSR for `cn` with `sans`, as PEM text.
fn csr(dir: &Path, cn: &str, sans: &str) -> String {
    let key = dir.join(format!("{cn}.key"));
    let csr = dir.join(format!("{cn}.csr"));
    let out = run(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
        ])
        .arg(&key)
        .args([
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            &format!("subjectAltName={sans}"),
            "-out",
        ])
        .arg(&csr));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(csr).unwrap()
}

/// Logs in through the form; `totp` empty for an account without a second factor.
fn log_in(chrome: &Chrome, base: &str, user: &str, password: &str, totp: &str) {
    chrome.goto(&format!("{base}/console/login"));
    chrome.type_into("#username", user);
    chrome.type_into("#password", password);
    if !totp.is_empty() {
        chrome.type_into("#totp", totp);
    }
    chrome.click("form.stack button[type=submit]");
    chrome.wait_until("the login's answer", |c| {
        c.path() == "/console/" || c.count("[role=alert]") > 0
    });
}

/// Sent to the enrolment page after a password login: scan (here: read) the secret, type
/// the authenticator's code, get ten recovery codes, reach the dashboard.
fn enrol_in_browser(chrome: &Chrome, name: &str) {
    chrome.wait_until("the enrolment page", |c| {
        c.path() == "/console/second-factor"
    });
    both_widths(chrome, &format!("second-factor-{name}"));
    chrome.click("form[action='/console/second-factor'] button");
    chrome.wait_until("the new secret", |c| c.count("svg.qr") == 1);
    let secret = chrome.text("#secret");
    let shots = both_widths(chrome, &format!("second-factor-qr-{name}"));
    // The QR code, read off the screen as a phone's camera would, holds the same secret.
    let read = run(Command::new(tool("zbarimg"))
        .args(["--raw", "-q"])
        .arg(&shots[0]));
    let uri = String::from_utf8_lossy(&read.stdout);
    assert!(
        uri.starts_with("otpauth://totp/Strongroom:") && uri.contains(&format!("secret={secret}&")),
        "the QR code says {uri:?}"
    );
    chrome.type_into("#code", &totp_code(&secret, 0));
    chrome.click("form[action='/console/second-factor/confirm'] button");
    chrome.wait_until("the recovery codes", |c| c.count("ol.codes li") == 10);
    chrome.click("main a[href='/console/']");
    chrome.wait_until("the dashboard", |c| c.path() == "/console/");
}

fn log_out(chrome: &Chrome) {
    chrome.click("form.logout button");
    chrome.wait_until("the login page", |c| {
        c.path() == "/console/login" && c.count("#username") == 1
    });
}

/// Screenshots of the page at 1280 and 390 px; at 390 the page must not scroll sideways.
fn both_widths(chrome: &Chrome, name: &str) -> Vec<PathBuf> {
    let wide = chrome.screenshot(&format!("{name}-1280"));
    chrome.window(390, 844);
    let narrow = chrome.screenshot(&format!("{name}-390"));
    let over = chrome.overflowing();
    assert!(over.is_empty(), "{name} does not fit 390 px: {over:?}");
    chrome.window(1280, 900);
    vec![wide, narrow]
}

#[test]
fn the_console_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(dir.path(), None);
    let home = dir.path().join("home");
    // The admin's authenticator is enrolled through the CLI (`totp enrol`, `totp confirm`).
    let secret = up.login(&home);
    let base = format!("https://127.0.0.1:{}", up.control);
    let admin_password = std::fs::read_to_string(up.data.join("secrets/admin-password")).unwrap();
    let admin_password = admin_password.trim();
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");

    let _step = step("an operator and an approver, neither with an authenticator yet; a profile that needs one approval");
    for (user, role) in [("olga", "ca-operator"), ("abe", "approver")] {
        let file = dir.path().join(format!("{user}.password"));
        std::fs::write(&file, format!("{user}-password-long-enough\n")).unwrap();
        ok(
            up.cli(
                &home,
                &[
                    "user",
                    "create",
                    user,
                    "--role",
                    role,
                    "--password-file",
                    file.to_str().unwrap(),
                ],
            ),
            "user create",
        );
    }
    let profile: Value = serde_json::from_str(&ok(
        up.cli(&home, &["--output", "json", "profile", "get", "tls-client"]),
        "profile get",
    ))
    .unwrap();
    let put = dir.path().join("tls-client.json");
    std::fs::write(
        &put,
        serde_json::json!({"profile": profile["profile"], "approvals_required": 1, "enrollers": ["*"]}).to_string(),
    )
    .unwrap();
    ok(
        up.cli(
            &home,
            &[
                "profile",
                "put",
                "tls-client",
                "--file",
                put.to_str().unwrap(),
            ],
        ),
        "profile put",
    );

    let chrome = Chrome::start(&artefacts);

    let _step = step("no page without a session: the console sends the browser to the login page");
    chrome.goto(&format!("{base}/console/certificates"));
    assert!(chrome.url().ends_with("/console/login"), "{}", chrome.url());
    both_widths(&chrome, "login");

    let _step =
        step("the login page from the keyboard: Tab reaches the skip link, then the user name");
    chrome.goto(&format!("{base}/console/login"));
    chrome.keys("\u{E004}");
    assert_eq!(chrome.focused("class"), "skip");
    chrome.keys("\u{E004}");
    assert_eq!(chrome.focused("id"), "username");

    let _step = step("a wrong TOTP code is refused");
    // The step after the one the CLI's enrolment used (a code is good for one login).
    let right = totp_code(&secret, 1);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    log_in(&chrome, &base, "admin", admin_password, wrong);
    assert!(chrome.url().ends_with("/console/login"), "{}", chrome.url());
    assert!(
        chrome.text("[role=alert]").contains("wrong"),
        "{}",
        chrome.source()
    );

    let _step = step("the password and the authenticator's code: the dashboard, and a __Host- cookie the page cannot read");
    log_in(&chrome, &base, "admin", admin_password, &right);
    assert!(
        chrome.url().ends_with("/console/"),
        "{}: {}",
        chrome.url(),
        chrome.source()
    );
    assert!(chrome.source().contains("Certificates by status"));
    let cookies = chrome.cookies();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "__Host-strongroom-session")
        .unwrap_or_else(|| panic!("{cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["secure"], true, "{session}");
    assert_eq!(session["sameSite"], "Strict", "{session}");

    let _step = step("issue a certificate from a CSR");
    let pem = csr(
        dir.path(),
        "shop.lab.test",
        "DNS:shop.lab.test,DNS:basket.lab.test",
    );
    chrome.click("nav a[href='/console/issue']");
    chrome.wait_until("the issue page", |c| c.count("#csr") == 1);
    chrome.choose("#profile", "tls-server");
    chrome.type_into("#csr", &pem);
    chrome.type_into("#tags", "env:prod");
    both_widths(&chrome, "issue");
    chrome.click("form.stack button[type=submit]");
    chrome.wait_until("the new certificate's page", |c| {
        c.path().starts_with("/console/certificates/")
    });
    assert!(
        chrome.text("[role=status]").contains("Issued"),
        "{}",
        chrome.source()
    );
    let certificate_page = chrome.url().split('?').next().unwrap().to_string();

    let _step = step("find it by a SAN");
    chrome.click("nav a[href='/console/certificates']");
    chrome.wait_until("the search page", |c| c.count("#name") == 1);
    chrome.type_into("#name", "basket.lab.test");
    chrome.click("form.filters button[type=submit]");
    chrome.wait_until("the results", |c| c.path().contains("name=basket"));
    let path = certificate_page.trim_start_matches(&base).to_string();
    assert_eq!(
        chrome.count(&format!("a[href='{path}']")),
        1,
        "{}",
        chrome.source()
    );
    both_widths(&chrome, "certificates");

    let _step = step("revoke it with a reason");
    chrome.goto(&certificate_page);
    both_widths(&chrome, "certificate");
    chrome.choose("#reason", "keyCompromise");
    chrome.click("form.inline button.danger");
    chrome.wait_until("the revocation", |c| c.path().contains("done=revoked"));
    assert!(
        chrome.text("[role=status]").contains("Revoked"),
        "{}",
        chrome.source()
    );
    assert!(chrome.source().contains("keyCompromise"));

    let _step =
        step("the dashboard counts it; the audit log shows the revocation, verifies, and exports");
    chrome.goto(&format!("{base}/console/"));
    assert!(
        chrome.source().contains("Revoked: 1"),
        "{}",
        chrome.source()
    );
    both_widths(&chrome, "dashboard");
    chrome.click("nav a[href='/console/audit']");
    chrome.wait_until("the audit page", |c| c.count("#action") == 1);
    chrome.type_into("#action", "certificate.revoke");
    chrome.click("form.filters button[type=submit]");
    chrome.wait_until("the filtered log", |c| {
        c.path().contains("action=certificate.revoke")
    });
    assert!(
        chrome.source().contains("certificate.revoke"),
        "{}",
        chrome.source()
    );
    assert!(
        chrome.text("[role=status]").contains("verifies"),
        "{}",
        chrome.source()
    );
    both_widths(&chrome, "audit");
    let _ = std::fs::remove_file(artefacts.join("downloads/strongroom-audit.jsonl"));
    chrome.click("a[download]");
    let export = std::fs::read_to_string(chrome.downloaded("strongroom-audit.jsonl")).unwrap();
    assert!(
        export.contains("certificate.revoke") && export.contains("\"hash\""),
        "{export}"
    );

    let _step =
        step("the other sections hold their layout: CAs, profiles, enrolment, users, system");
    for page in ["cas", "profiles", "enrolment", "users", "system"] {
        chrome.goto(&format!("{base}/console/{page}"));
        assert_eq!(chrome.count("main h1"), 1, "{page}: {}", chrome.source());
        both_widths(&chrome, page);
    }

    let _step = step("logout, and the code already used is refused as a replay");
    chrome.goto(&format!("{base}/console/"));
    log_out(&chrome);
    chrome.goto(&format!("{base}/console/"));
    assert!(
        chrome.url().ends_with("/console/login"),
        "the session is gone: {}",
        chrome.url()
    );
    log_in(&chrome, &base, "admin", admin_password, &right);
    assert_eq!(chrome.path(), "/console/login", "a replayed code");
    assert!(
        chrome.text("[role=alert]").contains("wrong"),
        "{}",
        chrome.source()
    );

    let _step = step(
        "the operator, by keyboard alone, files a request that needs approval and cannot decide it",
    );
    chrome.goto(&format!("{base}/console/login"));
    chrome.keys("\u{E004}\u{E004}olga\u{E004}olga-password-long-enough\u{E007}");
    enrol_in_browser(&chrome, "olga");
    let pem = csr(dir.path(), "pay.lab.test", "DNS:pay.lab.test");
    chrome.goto(&format!("{base}/console/issue"));
    chrome.choose("#profile", "tls-client");
    chrome.type_into("#csr", &pem);
    chrome.click("form.stack button[type=submit]");
    chrome.wait_until("the approvals queue", |c| {
        c.path().starts_with("/console/approvals?filed=")
    });
    assert!(chrome
        .text("[role=status]")
        .contains("another user must approve"));
    assert_eq!(
        chrome.count("form[action$='/approve']"),
        0,
        "no decision for the requester"
    );
    assert!(chrome.source().contains("You filed this request"));
    log_out(&chrome);

    let _step = step("the approver approves with a comment; the certificate exists");
    chrome.goto(&format!("{base}/console/login"));
    chrome.type_into("#username", "abe");
    chrome.type_into("#password", "abe-password-long-enough");
    chrome.click("form.stack button[type=submit]");
    enrol_in_browser(&chrome, "abe");
    chrome.goto(&format!("{base}/console/approvals"));
    assert_eq!(
        chrome.count("form[action$='/approve']"),
        1,
        "{}",
        chrome.source()
    );
    chrome.type_into(
        "form[action$='/approve'] input[name=comment]",
        "matches change 4711",
    );
    both_widths(&chrome, "approvals");
    chrome.click("form[action$='/approve'] button[type=submit]");
    chrome.wait_until("the decision", |c| c.path().contains("decided="));
    assert!(
        chrome.text("[role=status]").contains("recorded"),
        "{}",
        chrome.source()
    );
    chrome.goto(&format!("{base}/console/approvals?state=approved"));
    assert!(chrome.source().contains("matches change 4711"));
    log_out(&chrome);
    let issued = ok(
        up.cli(
            &home,
            &["--output", "json", "cert", "list", "--name", "pay.lab.test"],
        ),
        "cert list",
    );
    assert!(issued.contains("pay.lab.test"), "{issued}");
}
