//! What the console tests share: reading a page's CSRF token, logging in through the
//! login form, and the checks every page must pass (the CSP, no script, no inline style).

#![allow(dead_code)] // each test binary uses its own part

use strongroom_testkit::curl_browser::{Browser, Got};

/// The CSRF token of the page's forms.
pub fn csrf_of(page: &Got) -> String {
    let at = page
        .body
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field: {}", page.body));
    page.body[at + 19..at + 19 + 64].to_string()
}

pub fn login(b: &Browser, user: &str, password: &str) {
    let r = b.form(
        "/console/login",
        &[("username", user), ("password", password)],
        &[],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/console/"));
    assert!(b.has_session());
}

/// No script of any kind, and the CSP that forbids one.
pub fn assert_safe_page(r: &Got) {
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        !r.body.contains("<script"),
        "a script on a page: {}",
        r.body
    );
    assert!(!r.body.contains(" style=\""), "inline style on a page");
}
