#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The web console (issue 19) with curl's cookie engine as the browser, form posts as a
//! browser sends them: no page without a session; login through the API's own login (its
//! cookie, its throttle, its second factor); a form without the session's CSRF token, or
//! sent from another site, changes nothing; issue from a CSR, find it by SAN or serial, its
//! details, renew, bulk revoke, revoke; an approval the requester cannot decide and another
//! user can; what users typed (owner, a login name in the audit log, a comment) renders
//! escaped; the CSP on every page; logout ends the session. The administration pages and the
//! second factor are in console_admin_pages.rs; the full journey in Chromium is
//! crates/cli/tests/console_browser.rs.

mod console_support;

use console_support::{assert_safe_page, csrf_of, login};
use serde_json::json;
use strongroom_testkit::curl_browser::Browser;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

/// The pages a session is needed for.
const PAGES: &[&str] = &[
    "/console/",
    "/console/certificates",
    "/console/certificates/1",
    "/console/issue",
    "/console/approvals",
    "/console/audit",
];

#[test]
fn the_console_is_the_api_rendered_for_a_browser_session() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    let admin_password = strongroom_testkit::stack::ADMIN_PASSWORD.to_string();
    let b = Browser::new(&c.base, &c.root_der, c.dir(), "console-admin");

    let _step = step("no page without a session: each one sends the browser to the login page");
    for page in PAGES {
        let r = b.request("GET", page, None, &[]);
        assert_eq!(r.status, 303, "{page}: {}", r.body);
        assert_eq!(
            r.header("location").as_deref(),
            Some("/console/login"),
            "{page}"
        );
    }
    let r = b.request("GET", "/", None, &[]);
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (303, Some("/console/"))
    );
    let r = b.request("GET", "/console/login", None, &[]);
    assert_eq!(r.status, 200);
    assert_safe_page(&r);
    for label in ["for=\"username\"", "for=\"password\"", "for=\"totp\""] {
        assert!(r.body.contains(label), "every input has a label: {label}");
    }
    let css = b.request("GET", "/console/static/console.css", None, &[]);
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));

    let _step = step("a failed login names no reason beyond the API's, and the hostile name is escaped in the audit page later");
    let hostile = "<img src=x onerror=alert(1)>";
    let r = b.form(
        "/console/login",
        &[("username", hostile), ("password", "wrong-password-x")],
        &[],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("wrong user name or password"), "{}", r.body);
    assert!(
        !r.body.contains("<img"),
        "the name is escaped in the form: {}",
        r.body
    );
    assert!(!b.has_session());

    let _step = step("a login form posted from another site is refused before the API sees it");
    let r = b.form(
        "/console/login",
        &[("username", "admin"), ("password", &admin_password)],
        &["-H", "Origin: https://evil.example"],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!b.has_session());

    let _step = step("login: the API's cookie (HttpOnly, Secure, SameSite=Strict, __Host-), then the dashboard with its charts");
    let r = b.form(
        "/console/login",
        &[("username", "admin"), ("password", &admin_password)],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap();
    for attribute in [
        "__Host-strongroom-session=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    let dash = b.request("GET", "/console/", None, &[]);
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert_safe_page(&dash);
    for part in [
        "Certificates by status",
        "Expiring",
        "Issued per day",
        "<svg",
        "role=\"img\"",
        "Health",
        "Approvals",
    ] {
        assert!(dash.body.contains(part), "{part}: {}", dash.body);
    }
    let csrf = csrf_of(&dash);

    let _step = step("issue from a CSR without the CSRF token: refused, nothing issued");
    let (csr, _key) = c.csr(
        "shop.console.lab.test",
        "DNS:shop.console.lab.test,DNS:cart.console.lab.test",
    );
    let owner = "<script>alert('owner')</script>";
    let fields = [
        ("profile", "tls-server"),
        ("csr", csr.as_str()),
        ("owner", owner),
    ];
    let r = b.form("/console/issue", &fields, &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("CSRF"), "{}", r.body);
    let r = b.form(
        "/console/issue",
        &[&fields[..], &[("csrf", "0".repeat(64).as_str())]].concat(),
        &[],
    );
    assert_eq!(r.status, 403, "a wrong token: {}", r.body);
    let none = admin
        .get("/api/v1/certificates?name=shop.console.lab.test")
        .json();
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "{none}");

    let _step =
        step("the API's refusal on the form, the hostile owner escaped in it, the form kept");
    let r = b.form(
        "/console/issue",
        &[&fields[..], &[("csrf", csrf.as_str())]].concat(),
        &[],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_safe_page(&r);
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);
    assert!(
        r.body
            .contains("&lt;script&gt;alert(&#39;owner&#39;)&lt;/script&gt;"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<script"), "{}", r.body);
    assert!(
        r.body.contains("BEGIN CERTIFICATE REQUEST"),
        "the CSR is kept for the retry"
    );

    let _step = step("issue from a CSR with the token: the certificate's page");
    let fields = [
        ("profile", "tls-server"),
        ("csr", csr.as_str()),
        ("owner", "web-team"),
        ("tags", "env:prod, shop"),
        ("csrf", csrf.as_str()),
    ];
    let r = b.form("/console/issue", &fields, &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(location.starts_with("/console/certificates/"), "{location}");
    let page = b.request("GET", &location, None, &[]);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_safe_page(&page);
    assert!(page.body.contains("web-team"), "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/console/certificates?tag=env%3Aprod\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("dns:cart.console.lab.test"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Revoke certificate"),
        "an admin may revoke"
    );

    let _step = step("find it by a SAN");
    let found = b.request(
        "GET",
        "/console/certificates?name=cart.console.lab.test",
        None,
        &[],
    );
    assert_eq!(found.status, 200);
    let id = location
        .trim_start_matches("/console/certificates/")
        .split('?')
        .next()
        .unwrap();
    assert!(
        found
            .body
            .contains(&format!("href=\"/console/certificates/{id}\"")),
        "{}",
        found.body
    );
    let serial = admin.get(&format!("/api/v1/certificates/{id}")).json()["serial"]
        .as_str()
        .unwrap()
        .to_string();
    let by_serial = b.request(
        "GET",
        &format!("/console/certificates?serial={serial}"),
        None,
        &[],
    );
    assert!(
        by_serial
            .body
            .contains(&format!("href=\"/console/certificates/{id}\"")),
        "{}",
        by_serial.body
    );
    let nothing = b.request(
        "GET",
        "/console/certificates?name=absent.console.lab.test",
        None,
        &[],
    );
    assert!(
        nothing.body.contains("No certificate matches"),
        "{}",
        nothing.body
    );
    let bad = b.request("GET", "/console/certificates?status=maybe", None, &[]);
    assert!(
        bad.body
            .contains("status \"maybe\" is not valid or revoked")
            || bad.body.contains("status &quot;maybe&quot;"),
        "the API's reason: {}",
        bad.body
    );

    let _step = step("the certificate's extensions in words and its chain; renewal with a new CSR");
    let page = b.request("GET", &format!("/console/certificates/{id}"), None, &[]);
    for part in [
        "What it says",
        "subjectAltName",
        "dns:cart.console.lab.test",
        "extKeyUsage",
        "The certificate and its chain",
        "BEGIN CERTIFICATE",
    ] {
        assert!(page.body.contains(part), "{part}: {}", page.body);
    }
    let (csr2, _) = c.csr(
        "shop.console.lab.test",
        "DNS:shop.console.lab.test,DNS:cart.console.lab.test",
    );
    let r = b.form(
        &format!("/console/certificates/{id}/renew"),
        &[("csrf", &csrf), ("csr", &csr2)],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let renewed = b.request("GET", r.header("location").as_deref().unwrap(), None, &[]);
    assert!(
        renewed.body.contains(&format!(
            "href=\"/console/certificates/{id}\">certificate {id}</a>"
        )),
        "{}",
        renewed.body
    );

    let _step = step("bulk revoke of a search's page: refused without the confirmation, then each outcome listed");
    for n in 1..=2 {
        let (bulk_csr, _) = c.csr(
            &format!("bulk{n}.console.lab.test"),
            &format!("DNS:bulk{n}.console.lab.test"),
        );
        let r = admin.post(
            "/api/v1/certificates",
            &json!({"profile": "tls-server", "csr": bulk_csr, "tags": ["bulk"]}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let listed = b.request("GET", "/console/certificates?tag=bulk", None, &[]);
    assert!(
        listed.body.contains("Revoke 2 certificates"),
        "{}",
        listed.body
    );
    let ids: Vec<String> = admin.get("/api/v1/certificates?tag=bulk").json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].to_string())
        .collect();
    let mut fields = vec![("csrf", csrf.as_str()), ("reason", "cessationOfOperation")];
    fields.extend(ids.iter().map(|i| ("id", i.as_str())));
    let r = b.form("/console/certificates/revoke", &fields, &[]);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tick the box"), "{}", r.body);
    fields.push(("confirm", "yes"));
    let r = b.form("/console/certificates/revoke", &fields, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("2 revoked, 0 not."), "{}", r.body);
    for i in &ids {
        assert_eq!(
            admin.get(&format!("/api/v1/certificates/{i}")).json()["status"],
            "revoked"
        );
    }

    let _step = step("revoke from another site: refused; with the page's form: revoked");
    let revoke = format!("/console/certificates/{id}/revoke");
    let r = b.form(
        &revoke,
        &[("csrf", &csrf), ("reason", "keyCompromise")],
        &["-H", "Sec-Fetch-Site: cross-site"],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        admin.get(&format!("/api/v1/certificates/{id}")).json()["status"],
        "valid"
    );
    let r = b.form(
        &revoke,
        &[("csrf", &csrf), ("reason", "keyCompromise")],
        &["-H", &format!("Origin: {}", c.base)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.request("GET", r.header("location").as_deref().unwrap(), None, &[]);
    assert!(page.body.contains("status-revoked"), "{}", page.body);
    assert!(page.body.contains("keyCompromise"), "{}", page.body);
    assert!(
        !page.body.contains("Revoke certificate"),
        "no revoke form on a revoked certificate"
    );
    let r = b.form(&revoke, &[("csrf", &csrf), ("reason", "superseded")], &[]);
    assert_eq!(
        r.status, 409,
        "revoking twice: the API's answer on the page: {}",
        r.body
    );
    assert!(r.body.contains("role=\"alert\""), "{}", r.body);

    let _step = step(
        "the audit log: the hostile login name escaped, the chain verified, the export linked",
    );
    let audit = b.request("GET", "/console/audit", None, &[]);
    assert_eq!(audit.status, 200);
    assert_safe_page(&audit);
    assert!(
        audit.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        audit.body
    );
    assert!(!audit.body.contains("<img"), "{}", audit.body);
    assert!(
        audit.body.contains("The hash chain verifies"),
        "{}",
        audit.body
    );
    assert!(audit.body.contains("/api/v1/audit/export"));
    let filtered = b.request("GET", "/console/audit?action=certificate.revoke", None, &[]);
    assert!(
        filtered.body.contains(&format!("certificate:{id}")),
        "{}",
        filtered.body
    );
    let export = b.request("GET", "/api/v1/audit/export", None, &[]);
    assert_eq!(export.status, 200);
    assert!(export.body.lines().count() > 3, "{}", export.body);

    let _step = step("logout: the cookie cleared, the session dead on the server");
    let dash = b.request("GET", "/console/", None, &[]);
    let r = b.form("/console/logout", &[("csrf", &csrf_of(&dash))], &[]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/console/login"));
    assert!(!b.has_session());
    let r = b.request("GET", "/console/", None, &[]);
    assert_eq!(r.status, 303);
}

#[test]
fn an_approval_is_decided_by_another_user_never_the_requester() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    c.user(&admin, "olga", &["ca-operator"]);
    c.user(&admin, "abe", &["approver"]);
    c.user(&admin, "aud", &["auditor"]);
    let profile = admin.get("/api/v1/profiles/tls-client").json();
    let r = admin.send(
        "PUT",
        "/api/v1/profiles/tls-client",
        &json!({"profile": profile["profile"], "approvals_required": 1, "enrollers": ["*"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    let _step = step("the operator issues under a profile that needs approval: filed, not issued");
    let olga = Browser::new(&c.base, &c.root_der, c.dir(), "olga");
    login(&olga, "olga", "olga-password-long-enough");
    let issue = olga.request("GET", "/console/issue", None, &[]);
    assert!(
        issue.body.contains("<option value=\"tls-client\""),
        "{}",
        issue.body
    );
    let (csr, _) = c.csr("pay.console.lab.test", "DNS:pay.console.lab.test");
    let r = olga.form(
        "/console/issue",
        &[
            ("csrf", &csrf_of(&issue)),
            ("profile", "tls-client"),
            ("csr", &csr),
        ],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(
        location.starts_with("/console/approvals?filed="),
        "{location}"
    );
    let approval = location.rsplit('=').next().unwrap().to_string();

    let _step = step("the requester sees no decision buttons, and a crafted decision is refused");
    let queue = olga.request("GET", &location, None, &[]);
    assert!(
        queue.body.contains(&format!("Request {approval}")),
        "{}",
        queue.body
    );
    assert!(
        !queue.body.contains("/approve\""),
        "no approve form for olga: {}",
        queue.body
    );
    let r = olga.form(
        &format!("/console/approvals/{approval}/approve"),
        &[("csrf", &csrf_of(&queue)), ("comment", "my own")],
        &[],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("approval:decide"),
        "the API's reason: {}",
        r.body
    );

    let _step = step("the auditor sees the queue but no buttons, and has no Issue link");
    let aud = Browser::new(&c.base, &c.root_der, c.dir(), "aud");
    login(&aud, "aud", "aud-password-long-enough");
    let queue = aud.request("GET", "/console/approvals", None, &[]);
    assert_eq!(queue.status, 200);
    assert!(
        queue.body.contains(&format!("Request {approval}")),
        "{}",
        queue.body
    );
    assert!(!queue.body.contains("/approve\""), "{}", queue.body);
    assert!(
        !queue.body.contains("href=\"/console/issue\""),
        "{}",
        queue.body
    );
    let r = aud.request("GET", "/console/issue", None, &[]);
    assert!(
        r.body.contains("role=\"alert\"") || r.status == 200,
        "{}",
        r.body
    );

    let _step = step("another user approves with a comment: the certificate is issued");
    let abe = Browser::new(&c.base, &c.root_der, c.dir(), "abe");
    login(&abe, "abe", "abe-password-long-enough");
    let queue = abe.request("GET", "/console/approvals", None, &[]);
    assert!(
        queue
            .body
            .contains(&format!("/console/approvals/{approval}/approve")),
        "{}",
        queue.body
    );
    let r = abe.form(
        &format!("/console/approvals/{approval}/approve"),
        &[
            ("csrf", &csrf_of(&queue)),
            ("comment", "ticket <script>alert(1)</script>"),
        ],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let done = admin.get(&format!("/api/v1/approvals/{approval}")).json();
    assert_eq!(done["state"], "approved", "{done}");
    let id = done["result"]["ok"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{done}"));
    let issued = admin.get(&format!("/api/v1/certificates/{id}")).json();
    assert_eq!(issued["owner"], "olga", "{issued}");
    let decided = abe.request("GET", "/console/approvals?state=approved", None, &[]);
    assert!(
        decided
            .body
            .contains("ticket &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        decided.body
    );
    assert!(!decided.body.contains("<script"), "{}", decided.body);
}
