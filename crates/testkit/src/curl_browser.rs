//! A cookie-keeping HTTP client for the browser-session and console tests: curl with a
//! cookie jar, so the `__Host-` cookie is kept and sent by a real cookie engine, not by
//! test code that could get the rules wrong.
//!
//! In: a control base URL and its root certificate, requests (JSON or form bodies, extra
//! curl arguments). Out: [`Got`]: status, response headers, body.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support

use crate::{run, tool};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// curl as a browser with its own cookie jar.
#[derive(Debug)]
pub struct Browser {
    base: String,
    root: PathBuf,
    /// The cookie jar (Netscape format).
    pub jar: PathBuf,
}

/// What curl got: status, response headers, body.
#[derive(Debug)]
pub struct Got {
    /// HTTP status.
    pub status: u16,
    /// Response headers as received.
    pub headers: String,
    /// Body.
    pub body: String,
}

impl Got {
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The first value of response header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

impl Browser {
    /// A browser for `base` trusting `root_der`, its jar and files in `dir` under `name`.
    pub fn new(base: &str, root_der: &[u8], dir: &Path, name: &str) -> Browser {
        let root = dir.join("browser-root.pem");
        std::fs::write(&root, strongroom_x509::to_pem("CERTIFICATE", root_der)).unwrap();
        Browser {
            base: base.to_string(),
            root,
            jar: dir.join(format!("{name}.jar")),
        }
    }

    /// Whether the jar holds the session cookie.
    pub fn has_session(&self) -> bool {
        std::fs::read_to_string(&self.jar)
            .unwrap_or_default()
            .contains("__Host-strongroom-session")
    }

    /// `method path` with an optional JSON body and extra curl arguments.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>, extra: &[&str]) -> Got {
        match body {
            Some(b) => {
                let text = b.to_string();
                let mut args = vec!["-H", "Content-Type: application/json", "--data-binary"];
                args.push(&text);
                args.extend_from_slice(extra);
                self.send(method, path, &args)
            }
            None => self.send(method, path, extra),
        }
    }

    /// A form POST (`application/x-www-form-urlencoded`), as a browser submits one.
    pub fn form(&self, path: &str, fields: &[(&str, &str)], extra: &[&str]) -> Got {
        let mut args: Vec<String> = Vec::new();
        for (k, v) in fields {
            args.push("--data-urlencode".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.send("POST", path, &refs)
    }

    fn send(&self, method: &str, path: &str, args: &[&str]) -> Got {
        let dir = self.jar.parent().unwrap();
        let headers = dir.join("last-headers");
        let mut cmd = Command::new(tool("curl"));
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method])
            .arg("--cacert")
            .arg(&self.root)
            .arg("-b")
            .arg(&self.jar)
            .arg("-c")
            .arg(&self.jar)
            .arg("-D")
            .arg(&headers)
            .args(args)
            .arg(format!("{}{path}", self.base));
        let out = run(&mut cmd);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap();
        Got {
            status: status.trim().parse().unwrap(),
            headers: std::fs::read_to_string(&headers).unwrap_or_default(),
            body: body.to_string(),
        }
    }
}
