#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The console's administration pages and its second factor, with curl's cookie engine as
//! the browser: the CA tree (CRL and OCSP responder state, an intermediate made in the HSM
//! and retired), profiles (the API's refusal of a bad text, a saved change; in production
//! mode the change reaches approvers as a diff), enrolment secrets shown once, users, the
//! HSM's key inventory (audit:read only); and a user without a second factor, who reaches
//! nothing but enrolling one — console and API, no API key as a way out.

mod console_support;

use console_support::{assert_safe_page, csrf_of, login};
use serde_json::json;
use strongroom_testkit::curl_browser::Browser;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

#[test]
fn the_administration_pages_do_what_the_api_allows() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    let b = Browser::new(&c.base, &c.root_der, c.dir(), "console-admin");
    login(&b, "admin", strongroom_testkit::stack::ADMIN_PASSWORD);
    let csrf = csrf_of(&b.request("GET", "/console/", None, &[]));
    // A certificate, so the issuing CA's OCSP responder is made when control has its OCSP
    // answer signed (at issuance, in the background).
    let (csr, _key) = c.csr("ocsp.console.lab.test", "DNS:ocsp.console.lab.test");
    let r = admin.post(
        "/api/v1/certificates",
        &json!({"profile": "tls-server", "csr": csr}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !b
        .request("GET", "/console/cas", None, &[])
        .body
        .contains("OCSP responder certificate valid until")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no OCSP responder after 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }

    let _step = step(
        "the CA tree with CRL state; an intermediate created in the HSM and retired from the page",
    );
    let cas = b.request("GET", "/console/cas", None, &[]);
    assert_eq!(cas.status, 200, "{}", cas.body);
    assert_safe_page(&cas);
    assert!(
        cas.body.contains("<strong>root</strong>") && cas.body.contains("<strong>issuing</strong>"),
        "{}",
        cas.body
    );
    assert!(cas.body.contains("CRL number"), "{}", cas.body);
    assert!(
        cas.body.contains("OCSP responder certificate valid until"),
        "the issuing CA's responder, made when its certificates' OCSP answers were signed: {}",
        cas.body
    );
    let r = b.form(
        "/console/cas",
        &[
            ("csrf", &csrf),
            ("id", "console-int"),
            ("parent", "root"),
            ("subject", "CN=Console Intermediate"),
            ("algorithm", "ecdsa-p256"),
            ("validity_days", "abc"),
        ],
        &[],
    );
    assert_eq!(r.status, 400, "a clear refusal of a non-number: {}", r.body);
    assert!(
        r.body.contains("validity_days must be a whole number"),
        "{}",
        r.body
    );
    let r = b.form(
        "/console/cas",
        &[
            ("csrf", &csrf),
            ("id", "console-int"),
            ("parent", "root"),
            ("subject", "CN=Console Intermediate"),
            ("algorithm", "ecdsa-p256"),
            ("validity_days", "365"),
            ("path_length", "0"),
        ],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/cas?done=created")
    );
    assert_eq!(
        admin.get("/api/v1/cas/console-int").json()["state"],
        "active"
    );
    let r = b.form("/console/cas/console-int/retire", &[("csrf", &csrf)], &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        admin.get("/api/v1/cas/console-int").json()["state"],
        "retired"
    );

    let _step = step(
        "profiles: shown, a text that is not JSON refused with the parse error, a change saved",
    );
    let profiles = b.request("GET", "/console/profiles", None, &[]);
    assert_eq!(profiles.status, 200);
    assert_safe_page(&profiles);
    assert!(
        profiles.body.contains("id=\"profile-tls-server\""),
        "{}",
        profiles.body
    );
    let r = b.form(
        "/console/profiles/tls-server",
        &[("csrf", &csrf), ("text", "{\"profile\": ")],
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("the text is not JSON"), "{}", r.body);
    let current = admin.get("/api/v1/profiles/tls-server").json();
    let mut text = serde_json::json!({"profile": current["profile"], "approvals_required": 0, "enrollers": ["*"]});
    text["profile"]["description"] = serde_json::json!("edited <in> the console");
    let r = b.form(
        "/console/profiles/tls-server",
        &[("csrf", &csrf), ("text", &text.to_string())],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.request("GET", r.header("location").as_deref().unwrap(), None, &[]);
    assert!(
        page.body.contains("edited &lt;in&gt; the console"),
        "{}",
        page.body
    );

    let _step = step(
        "enrolment: an EAB key and a SCEP challenge shown once; users, keys and roles; the system",
    );
    let r = b.form(
        "/console/enrolment/eab",
        &[("csrf", &csrf), ("profile", "tls-client")],
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"eab-hmac\""), "{}", r.body);
    let r = b.form(
        "/console/enrolment/scep",
        &[("csrf", &csrf), ("profile", "tls-server")],
        &[],
    );
    assert!(
        r.body.contains("id=\"scep-challenge\"") || r.body.contains("role=\"alert\""),
        "{}",
        r.body
    );
    for (page, part) in [
        ("/console/enrolment", "ACME accounts"),
        ("/console/users", "Roles"),
        ("/console/system", "Signer and HSM"),
    ] {
        let r = b.request("GET", page, None, &[]);
        assert_eq!(r.status, 200, "{page}: {}", r.body);
        assert_safe_page(&r);
        assert!(r.body.contains(part), "{page}: {}", r.body);
    }
    let system = b.request("GET", "/console/system", None, &[]);
    for part in ["Keys in the HSM", "pkcs11:token=", "CKK_EC"] {
        assert!(system.body.contains(part), "{part}: {}", system.body);
    }
    assert!(
        !system.body.contains("class=\"warn\""),
        "every key sensitive, none extractable: {}",
        system.body
    );
    let enroller = c.user(&admin, "enid", &["enroller"]);
    assert_eq!(
        enroller.get("/api/v1/system/keys").status,
        403,
        "the key inventory needs audit:read"
    );
    let r = b.form(
        "/console/users",
        &[
            ("csrf", &csrf),
            ("username", "zed"),
            ("password", "zed-password-long-enough"),
            ("role-auditor", "on"),
        ],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        admin.get("/api/v1/users/zed").json()["roles"],
        serde_json::json!(["auditor"])
    );
}

#[test]
fn a_login_without_a_second_factor_can_only_enrol_one() {
    let c = Control::start_with(Db::Sqlite, "[login]\nrequire_second_factor = true\n");
    let admin = c.admin();

    let _step = step("the admin's own session is limited until the admin enrols, through the API");
    let r = admin.get("/api/v1/certificates");
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("no second factor"), "{}", r.text);
    let begun = admin.post("/api/v1/auth/totp", &json!({}));
    assert_eq!(begun.status, 201, "{}", begun.text);
    let secret = begun.json()["secret"].as_str().unwrap().to_string();
    let r = admin.post(
        "/api/v1/auth/totp/confirm",
        &json!({"code": strongroom_testkit::totp_code(&secret, 0)}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(admin.get("/api/v1/certificates").status, 200);

    let _step = step(
        "a new user's API login says so, and the session reaches nothing else: no API key either",
    );
    let nia = c.user(&admin, "nia", &["ca-operator"]);
    let who = nia.get("/api/v1/auth/whoami").json();
    assert_eq!(who["second_factor_missing"], true, "{who}");
    for (method, path, body) in [
        ("GET", "/api/v1/certificates", None),
        ("GET", "/api/v1/stats/certificates", None),
        (
            "POST",
            "/api/v1/apikeys",
            Some(json!({"label": "escape", "roles": ["ca-operator"]})),
        ),
    ] {
        let r = match body {
            Some(b) => nia.send(method, path, &b),
            None => nia.get(path),
        };
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text);
        assert!(
            r.text.contains("enrol an authenticator first"),
            "{}",
            r.text
        );
    }

    let _step = step("in the console every page leads to the enrolment page until the QR code's secret is confirmed");
    let b = Browser::new(&c.base, &c.root_der, c.dir(), "nia");
    login(&b, "nia", "nia-password-long-enough");
    for page in ["/console/", "/console/certificates", "/console/audit"] {
        let r = b.request("GET", page, None, &[]);
        assert_eq!(r.status, 303, "{page}: {}", r.body);
        assert_eq!(
            r.header("location").as_deref(),
            Some("/console/second-factor"),
            "{page}"
        );
    }
    let page = b.request("GET", "/console/second-factor", None, &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_safe_page(&page);
    assert!(
        !page.body.contains("href=\"/console/certificates\""),
        "no navigation yet"
    );
    let r = b.form("/console/second-factor", &[], &[]);
    assert!(
        r.body.contains("CSRF") && !r.body.contains("svg class=\"qr\""),
        "{}",
        r.body
    );
    let shown = b.form("/console/second-factor", &[("csrf", &csrf_of(&page))], &[]);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_safe_page(&shown);
    assert!(shown.body.contains("<svg class=\"qr\""), "{}", shown.body);
    let at = shown.body.find("id=\"secret\">").unwrap() + 12;
    let secret = &shown.body[at..at + shown.body[at..].find('<').unwrap()];
    let wrong = b.form(
        "/console/second-factor/confirm",
        &[("csrf", &csrf_of(&shown)), ("code", "000000")],
        &[],
    );
    assert!(
        wrong.body.contains("role=\"alert\""),
        "a wrong code: {}",
        wrong.body
    );
    let done = b.form(
        "/console/second-factor/confirm",
        &[
            ("csrf", &csrf_of(&shown)),
            ("code", &strongroom_testkit::totp_code(secret, 0)),
        ],
        &[],
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let codes = &done.body[done.body.find("<ol class=\"codes\">").unwrap()..];
    let codes = &codes[..codes.find("</ol>").unwrap()];
    assert_eq!(
        codes.matches("<li>").count(),
        10,
        "ten recovery codes: {}",
        done.body
    );
    let dash = b.request("GET", "/console/", None, &[]);
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert_eq!(
        nia.get("/api/v1/certificates").status,
        200,
        "the API session too"
    );
}

#[test]
fn a_profile_change_in_production_mode_reaches_its_approvers_as_a_diff() {
    let c = Control::start_with(Db::Sqlite, "production = true\n");
    let admin = c.admin();
    let b = Browser::new(&c.base, &c.root_der, c.dir(), "prod-admin");
    login(&b, "admin", strongroom_testkit::stack::ADMIN_PASSWORD);
    let page = b.request("GET", "/console/profiles", None, &[]);
    let current = admin.get("/api/v1/profiles/tls-server").json();
    let text = json!({"profile": current["profile"], "approvals_required": 2, "enrollers": ["*"]});
    let r = b.form(
        "/console/profiles/tls-server",
        &[("csrf", &csrf_of(&page)), ("text", &text.to_string())],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("/console/approvals?filed="),
        "{location}"
    );
    let queue = b.request("GET", &location, None, &[]);
    assert!(
        queue.body.contains("The change to profile tls-server"),
        "{}",
        queue.body
    );
    assert!(
        queue
            .body
            .contains("<span class=\"removed\">-   &quot;approvals_required&quot;: 0,</span>"),
        "{}",
        queue.body
    );
    assert!(
        queue
            .body
            .contains("<span class=\"added\">+   &quot;approvals_required&quot;: 2,</span>"),
        "{}",
        queue.body
    );
    assert!(
        queue.body.contains("You filed this request"),
        "{}",
        queue.body
    );
    assert_eq!(
        admin.get("/api/v1/profiles/tls-server").json()["approvals_required"],
        0,
        "not changed before approval"
    );
}
