//! Debian's Chromium, headless, driven through `chromedriver` (W3C WebDriver over HTTP): the
//! console's real browser in tests. A few commands only — open a page, find an element by
//! CSS, type, click, read, resize, screenshot — each a JSON call to the driver.
//!
//! In: an artefacts directory (screenshots land there). Out: a running [`Chrome`]; the
//! session and the driver end when it is dropped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use crate::stack::free_port;
use base64::Engine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C name of an element reference in a WebDriver answer.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium session.
#[derive(Debug)]
pub struct Chrome {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    artefacts: PathBuf,
}

impl Chrome {
    /// Starts chromedriver and a Chromium session (1280×900, the test's own profile
    /// directory, certificates of the test CA accepted).
    pub fn start(artefacts: &Path) -> Chrome {
        std::fs::create_dir_all(artefacts).unwrap();
        let port = free_port();
        let driver = Command::new(crate::tool("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver; scripts/install-deps.sh test)");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = agent
                .get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        // A fresh profile: no cookie of an earlier run (cookies ignore the port).
        let profile = artefacts.join("chromium-profile");
        let _ = std::fs::remove_dir_all(&profile);
        let mut chrome = Chrome {
            driver,
            base,
            session: String::new(),
            agent,
            artefacts: artefacts.to_path_buf(),
        };
        let answer = chrome.send(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                // The test's CA is not in Chromium's store; the console's TLS is tested
                // elsewhere (listener_tls).
                "acceptInsecureCerts": true,
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "prefs": {
                        "download.default_directory": artefacts.join("downloads").display().to_string(),
                        "download.prompt_for_download": false,
                    },
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--disable-dev-shm-usage", "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }}}),
        );
        chrome.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        chrome
    }

    fn send(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut answer = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self.agent.post(&url).send_json(&body),
        }
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = answer.body_mut().read_json().unwrap_or(Value::Null);
        if v["value"]["error"].is_string() {
            panic!("WebDriver {method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.send("POST", &self.session_path("/url"), json!({ "url": url }));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.send("GET", &self.session_path("/url"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (up to 15 s) for `done` — after a click or a key press that submits a form,
    /// whose navigation WebDriver does not always wait for.
    pub fn wait_until(&self, what: &str, done: impl Fn(&Chrome) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the browser is at {}: {}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The current URL's path and query.
    pub fn path(&self) -> String {
        let url = self.url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        after_scheme
            .find('/')
            .map_or("/".to_string(), |i| after_scheme[i..].to_string())
    }

    /// The page's HTML as the browser holds it.
    pub fn source(&self) -> String {
        self.send("GET", &self.session_path("/source"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn find(&self, css: &str) -> String {
        let v = self.send(
            "POST",
            &self.session_path("/element"),
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().unwrap().to_string()
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.send(
            "POST",
            &self.session_path("/elements"),
            json!({"using": "css selector", "value": css}),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    /// Types `text` into the element `css` (a field, a text area).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.send(
            "POST",
            &self.session_path(&format!("/element/{id}/clear")),
            json!({}),
        );
        self.send(
            "POST",
            &self.session_path(&format!("/element/{id}/value")),
            json!({ "text": text }),
        );
    }

    /// Chooses the option `value` of the select `css`.
    pub fn choose(&self, css: &str, value: &str) {
        let id = self.find(&format!("{css} option[value=\"{value}\"]"));
        self.send(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            json!({}),
        );
    }

    /// Clicks the element `css` (and waits for the navigation it starts).
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.send(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            json!({}),
        );
    }

    /// Presses keys on the focused element, as a keyboard does ("\u{E004}" is Tab,
    /// "\u{E007}" Enter).
    pub fn keys(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|c| {
                [
                    json!({"type": "keyDown", "value": c.to_string()}),
                    json!({"type": "keyUp", "value": c.to_string()}),
                ]
            })
            .collect();
        self.send(
            "POST",
            &self.session_path("/actions"),
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]}),
        );
    }

    /// The text of the element `css`.
    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.send(
            "GET",
            &self.session_path(&format!("/element/{id}/text")),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The focused element's `attribute`.
    pub fn focused(&self, attribute: &str) -> String {
        let v = self.send("GET", &self.session_path("/element/active"), Value::Null);
        let id = v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no focused element: {v}"))
            .to_string();
        self.send(
            "GET",
            &self.session_path(&format!("/element/{id}/attribute/{attribute}")),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The browser's cookies for the current page.
    pub fn cookies(&self) -> Vec<Value> {
        self.send("GET", &self.session_path("/cookie"), Value::Null)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Resizes the window to `width`×`height` CSS pixels.
    pub fn window(&self, width: u32, height: u32) {
        self.send(
            "POST",
            &self.session_path("/window/rect"),
            json!({"width": width, "height": height}),
        );
    }

    /// The elements that reach past the right edge of the window (a layout that does not
    /// hold), outside any box that scrolls on its own; empty when the page fits.
    pub fn overflowing(&self) -> Vec<String> {
        let script = "const w = document.documentElement.clientWidth; const out = []; \
            for (const e of document.body.querySelectorAll('*')) { \
              let scrolls = false; for (let p = e.parentElement; p; p = p.parentElement) { \
                if (getComputedStyle(p).overflowX === 'auto') { scrolls = true; break; } } \
              const r = e.getBoundingClientRect(); \
              if (!scrolls && r.width > 0 && r.right > w + 1) out.push(e.tagName + '.' + e.className + ' ' + Math.round(r.right) + '>' + w); } \
            return out;";
        self.send(
            "POST",
            &self.session_path("/execute/sync"),
            json!({"script": script, "args": []}),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec!["the script did not run".into()])
    }

    /// Waits (up to 30 s) for a download named `name` to finish; its path.
    pub fn downloaded(&self, name: &str) -> PathBuf {
        let path = self.artefacts.join("downloads").join(name);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !path.is_file() {
            assert!(Instant::now() < deadline, "{name} was not downloaded");
            std::thread::sleep(Duration::from_millis(100));
        }
        path
    }

    /// A PNG of the window, saved as `name.png` among the artefacts.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.send("GET", &self.session_path("/screenshot"), Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        let path = self.artefacts.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self.agent.delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
