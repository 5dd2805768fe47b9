#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! Browser sessions (issue 19) with curl's cookie engine as the browser: a login with
//! `"cookie": true` sets `__Host-strongroom-session` (Secure, HttpOnly, SameSite=Strict,
//! Path=/) and answers a CSRF token instead of the key; the cookie authenticates reads; a
//! state change without the CSRF token, or with another, is refused 403; an API session's
//! key planted in the cookie is refused; logout clears the cookie and ends the session; "log
//! out everywhere" ends every login session of the user but not API keys made on purpose, and
//! so does a change of the user's roles.

use serde_json::json;
use strongroom_testkit::curl_browser::Browser;
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;

const PASSWORD: &str = "bea-password-long-enough";

fn new_browser(c: &Control, name: &str) -> Browser {
    Browser::new(&c.base, &c.root_der, c.dir(), name)
}

/// Logs bea in with a cookie; the session's CSRF token.
fn login(b: &Browser) -> String {
    let r = b.request(
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"username": "bea", "password": PASSWORD, "cookie": true})),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["csrf_token"].as_str().unwrap().to_string()
}

#[test]
fn a_browser_session_is_a_cookie_with_a_csrf_token() {
    let c = Control::start(Db::Sqlite);
    let admin = c.admin();
    c.user(&admin, "bea", &["enroller"]);

    let _step = step(
        "login with a cookie: the key in an HttpOnly __Host- cookie, a CSRF token in the answer",
    );
    let browser = new_browser(&c, "bea-1");
    let r = browser.request(
        "POST",
        "/api/v1/auth/login",
        Some(&json!({"username": "bea", "password": PASSWORD, "cookie": true})),
        &[],
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let set_cookie = r
        .headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no Set-Cookie: {}", r.headers));
    for attribute in [
        "__Host-strongroom-session=sr_",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
    ] {
        assert!(set_cookie.contains(attribute), "{attribute}: {set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let v = r.json();
    assert!(
        v.get("token").is_none(),
        "the key is not in the answer: {v}"
    );
    let csrf = v["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(csrf.len(), 64);
    assert!(browser.has_session(), "curl kept the __Host- cookie");

    let _step = step("the cookie reads; a change needs the CSRF token");
    let r = browser.request("GET", "/api/v1/auth/whoami", None, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["method"], "Cookie");
    let r = browser.request("POST", "/api/v1/auth/totp", Some(&json!({})), &[]);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("CSRF"), "{}", r.body);
    let wrong = format!("X-CSRF-Token: {}", "0".repeat(64));
    let r = browser.request(
        "POST",
        "/api/v1/auth/totp",
        Some(&json!({})),
        &["-H", &wrong],
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let right = format!("X-CSRF-Token: {csrf}");
    let r = browser.request(
        "POST",
        "/api/v1/auth/totp",
        Some(&json!({})),
        &["-H", &right],
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let _step = step("an API session's key planted in the cookie is refused");
    let api = c.login("bea", PASSWORD);
    let token = api.token.clone().unwrap();
    let planted = format!("Cookie: __Host-strongroom-session={token}");
    let r =
        new_browser(&c, "planted").request("GET", "/api/v1/auth/whoami", None, &["-H", &planted]);
    assert_eq!(r.status, 401, "{}", r.body);

    let _step = step("logout clears the cookie and ends the session");
    let cookie_line = std::fs::read_to_string(&browser.jar).unwrap();
    let value = cookie_line
        .lines()
        .find(|l| l.contains("__Host-strongroom-session"))
        .and_then(|l| l.split('\t').next_back())
        .unwrap()
        .to_string();
    let r = browser.request("POST", "/api/v1/auth/logout", None, &["-H", &right]);
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(r.headers.contains("Max-Age=0"), "{}", r.headers);
    assert!(!browser.has_session(), "the browser dropped the cookie");
    let replayed = format!("Cookie: __Host-strongroom-session={value}");
    let r =
        new_browser(&c, "replay").request("GET", "/api/v1/auth/whoami", None, &["-H", &replayed]);
    assert_eq!(r.status, 401, "the old cookie after logout: {}", r.body);

    let _step = step("log out everywhere: every login session ends, API keys made on purpose stay");
    let made = api.post(
        "/api/v1/apikeys",
        &json!({"label": "deploy", "roles": ["enroller"]}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let deploy = admin.with_token(made.json()["token"].as_str().unwrap());
    let first = new_browser(&c, "bea-2");
    let csrf_first = login(&first);
    let second = new_browser(&c, "bea-3");
    login(&second);
    assert_eq!(
        second
            .request("GET", "/api/v1/auth/whoami", None, &[])
            .status,
        200
    );
    let r = first.request(
        "POST",
        "/api/v1/auth/logout-everywhere",
        None,
        &["-H", &format!("X-CSRF-Token: {csrf_first}")],
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        second
            .request("GET", "/api/v1/auth/whoami", None, &[])
            .status,
        401
    );
    assert_eq!(
        api.get("/api/v1/auth/whoami").status,
        401,
        "the API session too"
    );
    assert_eq!(
        deploy.get("/api/v1/auth/whoami").status,
        200,
        "the API key stays"
    );

    let _step = step("a change of roles ends the login sessions; the new roles need a new login");
    let third = new_browser(&c, "bea-4");
    login(&third);
    let api = c.login("bea", PASSWORD);
    let r = admin.send(
        "PATCH",
        "/api/v1/users/bea",
        &json!({"roles": ["enroller", "auditor"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        third
            .request("GET", "/api/v1/auth/whoami", None, &[])
            .status,
        401
    );
    assert_eq!(api.get("/api/v1/auth/whoami").status, 401);
    assert_eq!(
        deploy.get("/api/v1/auth/whoami").status,
        200,
        "the API key stays"
    );
    let fourth = new_browser(&c, "bea-5");
    login(&fourth);
    let r = fourth.request("GET", "/api/v1/auth/whoami", None, &[]);
    assert_eq!(
        r.json()["roles"],
        json!(["auditor", "enroller"]),
        "{}",
        r.body
    );
}
