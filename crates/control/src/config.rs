//! The control daemon's configuration file (TOML, unknown keys refused).
//!
//! In: the file named by `--config`. Out: a validated [`Config`]. Secrets never sit in it:
//! the bootstrap admin password comes from a 0400 file, read once on first start.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use strongroom_httpd::DatabaseSettings;
use strongroom_types::CaId;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HTTPS listen address (`127.0.0.1:9443`).
    pub listen: SocketAddr,
    /// `sqlite://PATH?mode=rwc` or `postgres://…` (a password belongs in the environment:
    /// `database_url_env` names the variable instead).
    #[serde(default)]
    pub database_url: Option<String>,
    /// Name of an environment variable that holds the database URL. Exactly one of the two
    /// ([`Config::database`]).
    #[serde(default)]
    pub database_url_env: Option<String>,
    /// Apply pending migrations at start (SQLite, development). With a narrow PostgreSQL
    /// role set this to false and run `strongroom-control migrate` as the schema owner.
    #[serde(default = "default_true")]
    pub migrate_on_start: bool,
    /// The signer's Unix socket.
    pub signer_socket: PathBuf,
    /// Production mode: CA retirement and creation always need two-person approval.
    #[serde(default)]
    pub production: bool,
    /// The control listener's own certificate (made fresh at each start, issued by the
    /// signer; client certificates of `client_auth_cas` may log in).
    pub tls: strongroom_httpd::ListenerCert,
    /// First-start settings.
    #[serde(default)]
    pub bootstrap: BootstrapConfig,
    /// Approval settings.
    #[serde(default)]
    pub approvals: ApprovalConfig,
    /// Signed audit checkpoints.
    #[serde(default)]
    pub audit: AuditConfig,
    /// OCSP and CRL upkeep.
    #[serde(default)]
    pub revocation: RevocationConfig,
    /// Login throttling and password-check concurrency.
    #[serde(default)]
    pub login: LoginConfig,
    /// Landlock paths beyond the database directory.
    #[serde(default)]
    pub sandbox: strongroom_sandbox::network_daemon::SandboxSettings,
    /// The Unix user to drop to when started as root.
    #[serde(default)]
    pub user: Option<String>,
    /// Allow running as root (development containers only).
    #[serde(default)]
    pub allow_root: bool,
}

fn default_true() -> bool {
    true
}

/// First-start settings (ignored once users exist).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConfig {
    /// A 0400/0600 file holding the first `admin` password.
    #[serde(default)]
    pub admin_password_file: Option<PathBuf>,
    /// Where the sealed break-glass password is written on first start (mode 0400).
    #[serde(default)]
    pub break_glass_file: Option<PathBuf>,
    /// A policy TOML whose profiles are imported when the store has none.
    #[serde(default)]
    pub policy_file: Option<PathBuf>,
    /// An EST user created at start when it does not exist (`strongroom up` writes one for
    /// its default label).
    #[serde(default)]
    pub est_user: Option<EstUserBootstrap>,
}

/// `[bootstrap.est_user]`: an EST user whose name and password are in 0400 files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EstUserBootstrap {
    /// The front's EST label it enrols under.
    pub label: String,
    /// A file holding its name (one line).
    pub username_file: PathBuf,
    /// A 0400/0600 file holding its password (one line).
    pub password_file: PathBuf,
}

/// Two-person integrity settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// How long a request waits for its approvers.
    #[serde(default = "default_ttl")]
    pub ttl_secs: i64,
    /// Approvers needed for CA operations in production mode.
    #[serde(default = "default_ca_approvers")]
    pub ca_approvers: i64,
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        ApprovalConfig {
            ttl_secs: default_ttl(),
            ca_approvers: default_ca_approvers(),
        }
    }
}

fn default_ttl() -> i64 {
    86_400
}

fn default_ca_approvers() -> i64 {
    2
}

/// Signed audit checkpoints: at this interval, when the chain has grown, control asks the
/// signer to sign its head with the audit key certified by `checkpoint_ca`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The CA that certifies the audit key; no periodic checkpoints when absent.
    #[serde(default)]
    pub checkpoint_ca: Option<CaId>,
    /// Seconds between checkpoints.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            checkpoint_ca: None,
            checkpoint_interval_secs: default_checkpoint_interval(),
        }
    }
}

fn default_checkpoint_interval() -> u64 {
    300
}

/// OCSP and CRL upkeep: how long pre-signed responses live, how often control looks for
/// stale responses and CRLs, how long it gathers revocations into one CRL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationConfig {
    /// Validity of pre-signed OCSP responses (60 s to 7 days; default 1 day). They are
    /// re-signed when half of it has passed.
    #[serde(default = "default_ocsp_validity")]
    pub ocsp_validity_secs: u32,
    /// Seconds between refresh passes.
    #[serde(default = "default_refresh")]
    pub refresh_interval_secs: u64,
    /// Milliseconds to gather revocations into one CRL.
    #[serde(default = "default_debounce")]
    pub crl_debounce_ms: u64,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        RevocationConfig {
            ocsp_validity_secs: default_ocsp_validity(),
            refresh_interval_secs: default_refresh(),
            crl_debounce_ms: default_debounce(),
        }
    }
}

fn default_ocsp_validity() -> u32 {
    86_400
}

fn default_refresh() -> u64 {
    300
}

fn default_debounce() -> u64 {
    2000
}

/// Login throttling (`crate::login_throttle`) and how many argon2id password checks run at
/// once (`crate::auth::PasswordChecks`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginConfig {
    /// Failed logins for one user name within `window_secs` that lock it (1 to 1,000,000).
    #[serde(default = "default_user_failures")]
    pub user_failures: u32,
    /// Failed logins from one client address (IPv6: one /64) within `window_secs` that lock
    /// it (1 to 1,000,000).
    #[serde(default = "default_address_failures")]
    pub address_failures: u32,
    /// The counting window, and how long a lock lasts (60 to 86,400 seconds).
    #[serde(default = "default_login_window")]
    pub window_secs: u32,
    /// argon2id checks at once (1 to 64; each holds 19 MiB). Default: two per core, at most
    /// four.
    #[serde(default)]
    pub argon2_concurrency: Option<usize>,
    /// A browser session (cookie) unused this long ends (60 to 43,200 seconds; default 900).
    #[serde(default = "default_session_idle")]
    pub session_idle_secs: u32,
    /// Every password login needs a second factor (default true): a login session of a user
    /// who has none may only enrol one (`strongroom totp enrol`, or the console's page)
    /// until they do. The break-glass account keeps its sealed envelope instead.
    #[serde(default = "default_require_second_factor")]
    pub require_second_factor: bool,
}

impl Default for LoginConfig {
    fn default() -> Self {
        LoginConfig {
            user_failures: default_user_failures(),
            address_failures: default_address_failures(),
            window_secs: default_login_window(),
            argon2_concurrency: None,
            session_idle_secs: default_session_idle(),
            require_second_factor: default_require_second_factor(),
        }
    }
}

fn default_require_second_factor() -> bool {
    true
}

fn default_session_idle() -> u32 {
    900
}

fn default_user_failures() -> u32 {
    5
}

fn default_address_failures() -> u32 {
    20
}

fn default_login_window() -> u32 {
    900
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config
            .validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        self.database()?;
        self.tls.validate()?;
        if self.approvals.ttl_secs < 60 {
            return Err("approvals.ttl_secs must be at least 60".into());
        }
        if !(60..=7 * 86_400).contains(&self.revocation.ocsp_validity_secs) {
            return Err("revocation.ocsp_validity_secs must be between 60 and 604800".into());
        }
        if self.revocation.refresh_interval_secs < 5 {
            return Err("revocation.refresh_interval_secs must be at least 5".into());
        }
        if self.audit.checkpoint_interval_secs < 5 {
            return Err("audit.checkpoint_interval_secs must be at least 5".into());
        }
        if self.approvals.ca_approvers < 1 {
            return Err("approvals.ca_approvers must be at least 1".into());
        }
        for (name, n) in [
            ("login.user_failures", self.login.user_failures),
            ("login.address_failures", self.login.address_failures),
        ] {
            if !(1..=1_000_000).contains(&n) {
                return Err(format!("{name} must be between 1 and 1000000"));
            }
        }
        if !(60..=43_200).contains(&self.login.session_idle_secs) {
            return Err("login.session_idle_secs must be between 60 and 43200".into());
        }
        if !(60..=86_400).contains(&self.login.window_secs) {
            return Err("login.window_secs must be between 60 and 86400".into());
        }
        if self
            .login
            .argon2_concurrency
            .is_some_and(|n| !(1..=64).contains(&n))
        {
            return Err("login.argon2_concurrency must be between 1 and 64".into());
        }
        Ok(())
    }

    /// Where the database URL comes from; refuses both fields or neither.
    pub fn database(&self) -> Result<DatabaseSettings, String> {
        DatabaseSettings::from_fields(
            self.database_url.as_deref(),
            self.database_url_env.as_deref(),
        )
    }
}
