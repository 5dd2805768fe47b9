//! The control API from the command line: where it is, which CA to trust, which token to
//! send, and what an answer means for the exit code.
//!
//! In: `--url`/`STRONGROOM_URL`, `--ca-file`/`STRONGROOM_CA`, `--token`/`STRONGROOM_TOKEN`,
//! or the session saved by `strongroom login` (mode 0600 under `$XDG_CONFIG_HOME` or
//! `~/.config/strongroom/`). Out: JSON answers, or a [`Failure`] whose exit code scripts
//! can rely on (README: 3 = authentication/permission, 4 = not found, 5 = conflict or
//! refused by policy, 6 = other bad request, 7 = server or transport failure).

use clap::Args;
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Connection options shared by every API command.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// Control API base URL.
    #[arg(long, env = "STRONGROOM_URL", global = true)]
    pub url: Option<String>,
    /// PEM file of the root CA that issued control's certificate.
    #[arg(long, env = "STRONGROOM_CA", global = true)]
    pub ca_file: Option<PathBuf>,
    /// API key (overrides the saved session).
    #[arg(long, env = "STRONGROOM_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_parser = ["table", "json"], default_value = "table")]
    pub output: String,
}

/// A failed command and its exit code.
#[derive(Debug)]
pub struct Failure {
    /// Exit code.
    pub code: u8,
    /// One line for stderr.
    pub message: String,
}

impl Failure {
    /// A local error (exit 1).
    pub fn local(message: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

fn session_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("strongroom").join("session.json"))
}

/// The saved session (`url`, `ca_file`, `token`), if any.
fn saved() -> Value {
    session_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null)
}

/// Saves a session, readable by the user only.
pub fn save_session(url: &str, ca_file: Option<&PathBuf>, token: &str) -> Result<PathBuf, Failure> {
    let path =
        session_path().ok_or_else(|| Failure::local("neither XDG_CONFIG_HOME nor HOME is set"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::local(format!("{}: {e}", dir.display())))?;
    }
    let body = json!({"url": url, "ca_file": ca_file, "token": token});
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
    f.write_all(body.to_string().as_bytes())
        .map_err(|e| Failure::local(format!("{}: {e}", path.display())))?;
    Ok(path)
}

/// A ready client.
pub struct Api {
    agent: ureq::Agent,
    /// Base URL.
    pub url: String,
    /// Root CA file in use.
    pub ca_file: Option<PathBuf>,
    token: Option<String>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// Builds a client from flags, environment and the saved session.
    pub fn new(c: &Connection) -> Result<Api, Failure> {
        let saved = saved();
        let url = c
            .url
            .clone()
            .or_else(|| saved["url"].as_str().map(str::to_string))
            .unwrap_or_else(|| "https://127.0.0.1:9443".into());
        let ca_file = c
            .ca_file
            .clone()
            .or_else(|| saved["ca_file"].as_str().map(PathBuf::from));
        let token = c
            .token
            .clone()
            .or_else(|| saved["token"].as_str().map(str::to_string));
        use ureq::tls::{Certificate, RootCerts, TlsConfig};
        let roots = match &ca_file {
            Some(p) => {
                let pem = std::fs::read(p)
                    .map_err(|e| Failure::local(format!("--ca-file {}: {e}", p.display())))?;
                let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(&pem)
                    .filter_map(|i| match i {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(Failure::local(format!(
                        "--ca-file {} holds no PEM certificate",
                        p.display()
                    )));
                }
                RootCerts::Specific(Arc::new(certs))
            }
            None => RootCerts::PlatformVerifier,
        };
        let agent = ureq::Agent::config_builder()
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            // Servers close idle keep-alive connections (control after 10 s); never reuse
            // one that old.
            .max_idle_age(Duration::from_secs(4))
            .build()
            .new_agent();
        Ok(Api {
            agent,
            url,
            ca_file,
            token,
        })
    }

    /// Sends a request; a 2xx answer's body (JSON, or `{"text": …}` otherwise).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let (status, text) = self.raw(method, path, body)?;
        if (200..300).contains(&status) {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return Ok(serde_json::from_str(&text).unwrap_or_else(|_| json!({"text": text})));
        }
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or(text);
        let code = match status {
            401 | 403 => 3,
            404 => 4,
            409 | 422 => 5,
            400..=499 => 6,
            _ => 7,
        };
        Err(Failure {
            code,
            message: format!("{status}: {detail}"),
        })
    }

    /// Sends a request and returns status and body text.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), Failure> {
        let (status, bytes) = self.raw_bytes(method, path, body)?;
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Sends a request and returns status and body bytes.
    pub fn raw_bytes(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let mut req = ureq::http::Request::builder().method(method).uri(format!(
            "{}{}",
            self.url.trim_end_matches('/'),
            path
        ));
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header("Content-Type", "application/json");
                b.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        let req = req.body(bytes).map_err(|e| Failure::local(e.to_string()))?;
        let mut resp = self.agent.run(req).map_err(|e| Failure {
            code: 7,
            message: format!("cannot reach {}: {e}", self.url),
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| Failure {
                code: 7,
                message: format!("reading the answer: {e}"),
            })?;
        Ok((status, text))
    }
}
