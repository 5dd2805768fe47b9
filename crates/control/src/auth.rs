//! Who is asking: API keys (also what `login` hands out), TLS client certificates, and
//! passwords (argon2id) at login.
//!
//! In: the `Authorization` header or the verified client certificate of the connection.
//! Out: a [`Principal`] with the roles that apply, or a 401. API key format:
//! `sr_<key id>_<secret>`; the store keeps SHA-256 of the secret (it is 256 random bits,
//! so a slow hash adds nothing) and the check is constant-time. A revoked or expired
//! key, or a disabled owner, fails on the next request: nothing is cached. Password checks
//! at login run through [`PasswordChecks`], a few at a time (a flood of logins must not
//! take the memory and threads argon2id needs); which attempts get that far is
//! [`crate::login_throttle`]'s decision. The argon2id hashing itself is
//! `strongroom_httpd::password`, shared with the front (EST passwords made here).

use crate::app::App;
use crate::metrics::Metrics;
use crate::problem::Problem;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use strongroom_httpd::password::{dummy_hash, verify_password};
use strongroom_store::{Role, StoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

/// How the principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Bearer API key (including login sessions).
    ApiKey,
    /// TLS client certificate.
    ClientCertificate,
    /// A browser session: the console's cookie (an API key labelled `console`), with a
    /// CSRF token on every state change.
    Cookie,
}

/// The browser session's cookie. `__Host-`: the browser keeps it only if it was set over
/// HTTPS with `Secure`, `Path=/` and no `Domain`, so no other host (a sibling subdomain)
/// can plant or read one.
pub const SESSION_COOKIE: &str = "__Host-strongroom-session";
/// The header a browser session's state-changing request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The label of the API keys that browser sessions are.
pub const CONSOLE_LABEL: &str = "console";
/// The label of the API keys that password logins of the API and CLI are.
pub const LOGIN_LABEL: &str = "session";

/// A browser session's CSRF token: derived from the session's secret, which only the
/// cookie carries (HttpOnly; another site can neither read it nor, SameSite=Strict, send
/// it), so any control can check it and none stores it.
pub fn csrf_token(secret: &str) -> String {
    hex::encode(Sha256::digest(
        format!("strongroom-csrf-v1:{secret}").as_bytes(),
    ))
}

/// What a request presents to prove who sent it.
#[derive(Debug, Default)]
pub struct Presented<'a> {
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The session cookie's value.
    pub session_cookie: Option<&'a str>,
    /// The CSRF header's value.
    pub csrf: Option<&'a str>,
    /// The method changes state (anything but GET, HEAD, OPTIONS).
    pub state_changing: bool,
    /// The verified client certificate of the connection.
    pub client_cert: Option<&'a ClientCertificate>,
}

/// The session cookie's value among a request's `Cookie` headers.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user_id: i64,
    /// Their login name.
    pub username: String,
    /// Roles in force for this request (an API key's roles, never more than its owner's).
    pub roles: Vec<Role>,
    /// How they authenticated.
    pub method: AuthMethod,
    /// The API key id, when one was used.
    pub key_id: Option<String>,
    /// A login session (password) of a user who has no second factor while
    /// `[login] require_second_factor` holds: it may only enrol one (see
    /// [`crate::routes`]' guard).
    pub second_factor_missing: bool,
}

impl Principal {
    /// The audit actor string: `alice` or `alice (key k1a2…)`.
    pub fn actor(&self) -> String {
        match (&self.key_id, self.method) {
            (Some(k), _) => format!("{} (key {k})", self.username),
            (None, AuthMethod::ClientCertificate) => format!("{} (certificate)", self.username),
            (None, AuthMethod::ApiKey | AuthMethod::Cookie) => self.username.clone(),
        }
    }
}

/// The verified client certificate of the connection (from the shared listener).
pub use strongroom_httpd::PeerCertificate as ClientCertificate;

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A password or other secret from a request body: zeroized on drop, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        String::deserialize(d).map(|s| Secret(Zeroizing::new(s)))
    }
}

/// A freshly made API key: the secret is shown once and then only its hash exists.
#[derive(Debug)]
pub struct NewKey {
    /// Public id.
    pub key_id: String,
    /// The whole token `sr_<id>_<secret>` (zeroized on drop).
    pub token: Zeroizing<String>,
    /// What the store keeps.
    pub secret_hash: String,
}

/// Makes a new API key.
pub fn new_api_key(rng: &SystemRandom) -> Result<NewKey, Problem> {
    let mut id = [0u8; 8];
    let mut secret = Zeroizing::new([0u8; 32]);
    rng.fill(&mut id)
        .and_then(|_| rng.fill(&mut secret[..]))
        .map_err(|_| Problem::internal("no randomness for an API key"))?;
    let key_id = hex::encode(id);
    let secret_hex = Zeroizing::new(hex::encode(&secret[..]));
    Ok(NewKey {
        secret_hash: hash_secret(&secret_hex),
        token: Zeroizing::new(format!("sr_{key_id}_{}", secret_hex.as_str())),
        key_id,
    })
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Splits `sr_<id>_<secret>`.
fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("sr_")?;
    let (id, secret) = rest.split_once('_')?;
    let hex_ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_ok(id, 16) && hex_ok(secret, 64)).then_some((id, secret))
}

/// Hashes a password with argon2id (`strongroom_httpd::password`, shared with the front,
/// which checks EST passwords made here); a failure is a 500.
pub fn hash_password(password: &str) -> Result<String, Problem> {
    strongroom_httpd::password::hash_password(password).map_err(Problem::internal)
}

/// Login password checks that may wait for a turn beyond those running; more are refused
/// at once.
const MAX_WAITING: usize = 32;
/// How long a login password check waits for its turn before the login is refused.
const WAIT_FOR_TURN: Duration = Duration::from_secs(2);

/// The argon2id checks of login passwords: at most `concurrency` at once, each on a
/// blocking thread with its 19 MiB; at most [`MAX_WAITING`] more waiting, each for at most
/// [`WAIT_FOR_TURN`]; any other is refused at once with 503 and `Retry-After`. A flood of
/// parallel logins from many addresses (each under its throttle limit) therefore costs a
/// bounded amount of memory and threads — the unit allows 1 GiB and 512 tasks, and 500
/// checks at once would need 9.5 GiB — and leaves the runtime's workers free for other
/// requests. Creating users and changing passwords (authenticated admins) hash outside it.
#[derive(Debug)]
pub struct PasswordChecks {
    running: Arc<Semaphore>,
    places: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl PasswordChecks {
    /// At most `concurrency` checks at once.
    pub fn new(concurrency: usize, metrics: Arc<Metrics>) -> PasswordChecks {
        let concurrency = concurrency.max(1);
        PasswordChecks {
            running: Arc::new(Semaphore::new(concurrency)),
            places: Arc::new(Semaphore::new(concurrency + MAX_WAITING)),
            metrics,
        }
    }

    /// Two checks per core, at most four: argon2 keeps a core busy, and a few more than the
    /// cores keep them busy while a check's thread is scheduled.
    pub fn default_concurrency() -> usize {
        std::thread::available_parallelism()
            .map_or(2, |n| n.get().saturating_mul(2))
            .min(4)
    }

    /// A place in the queue, taken before the user is looked up (which bounds those
    /// lookups too), or 503 at once when every place is taken.
    pub fn admit(&self) -> Result<PasswordCheck, Problem> {
        let place = self
            .places
            .clone()
            .try_acquire_owned()
            .map_err(|_| busy(&self.metrics))?;
        Ok(PasswordCheck {
            _place: place,
            running: self.running.clone(),
            metrics: self.metrics.clone(),
        })
    }
}

/// The 503 of a login that found no place or no turn for its password check.
fn busy(metrics: &Metrics) -> Problem {
    metrics.logins_busy.fetch_add(1, Ordering::Relaxed);
    let mut p = Problem::unavailable(
        "control is checking as many passwords as it may at once; retry in a few seconds",
    );
    p.retry_after = Some(2);
    p
}

/// One admitted login password check ([`PasswordChecks::admit`]).
#[derive(Debug)]
pub struct PasswordCheck {
    _place: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl PasswordCheck {
    /// Verifies `password` against `phc` — or, for a user that does not exist, against
    /// [`dummy_hash`], so that an unknown name costs the same — when its turn comes, or
    /// refuses with 503 after [`WAIT_FOR_TURN`].
    pub async fn verify(self, password: Secret, phc: Option<String>) -> Result<bool, Problem> {
        let turn =
            match tokio::time::timeout(WAIT_FOR_TURN, self.running.clone().acquire_owned()).await {
                Ok(Ok(turn)) => turn,
                _ => return Err(busy(&self.metrics)),
            };
        // Security: the permits move into the blocking task, so they are released when
        // argon2 has finished, even if the client has gone and the request was dropped.
        tokio::task::spawn_blocking(move || {
            let _held = (turn, &self);
            self.metrics.password_checks.fetch_add(1, Ordering::Relaxed);
            match &phc {
                Some(phc) => verify_password(password.expose(), phc),
                None => verify_password(password.expose(), dummy_hash()),
            }
        })
        .await
        .map_err(Problem::internal)
    }
}

/// A password policy that refuses the obviously weak.
pub fn check_password_strength(password: &str) -> Result<(), Problem> {
    if password.chars().count() < 12 {
        return Err(Problem::bad_request(
            "the password must be at least 12 characters long",
        ));
    }
    if password.len() > 1024 {
        return Err(Problem::bad_request(
            "the password is longer than 1024 bytes",
        ));
    }
    Ok(())
}

/// Authenticates a request from its bearer token or its client certificate.
pub async fn authenticate(app: &App, presented: &Presented<'_>) -> Result<Principal, Problem> {
    if let Some(value) = presented.authorization {
        let token = value.strip_prefix("Bearer ").ok_or_else(|| {
            Problem::unauthenticated("the Authorization header must be `Bearer sr_…`")
        })?;
        let who = authenticate_key(app, token.trim()).await?;
        return Ok(who);
    }
    if let Some(token) = presented.session_cookie {
        return authenticate_cookie(app, token, presented).await;
    }
    if let Some(cert) = presented.client_cert {
        return authenticate_certificate(app, cert).await;
    }
    Err(Problem::unauthenticated(
        "credentials required: send `Authorization: Bearer <API key>` (strongroom login) or a client certificate",
    ))
}

/// A browser session: the cookie's key must be a console key, alive (used within the idle
/// timeout), and a state-changing request must carry the session's CSRF token.
async fn authenticate_cookie(
    app: &App,
    token: &str,
    presented: &Presented<'_>,
) -> Result<Principal, Problem> {
    let ended = || Problem::unauthenticated("the browser session has ended: log in again");
    let (key_id, secret) = parse_token(token).ok_or_else(ended)?;
    if presented.state_changing {
        let expected = csrf_token(secret);
        let sent = presented.csrf.unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(Problem::forbidden(
                "a browser session's request that changes anything needs the session's CSRF token in X-CSRF-Token (the console sends it; another site cannot)",
            ));
        }
    }
    let mut who = authenticate_key(app, token).await?;
    let key = app.store.api_key(key_id).await?;
    if key.label != CONSOLE_LABEL {
        return Err(Problem::unauthenticated(
            "this cookie does not hold a browser session; API keys go in Authorization",
        ));
    }
    let idle = i64::from(app.config.login.session_idle_secs);
    if !app.store.touch_session(key_id, app.now(), idle).await? {
        return Err(Problem::unauthenticated(format!(
            "the browser session ended after {} minutes without use: log in again",
            idle / 60
        )));
    }
    who.method = AuthMethod::Cookie;
    Ok(who)
}

async fn authenticate_key(app: &App, token: &str) -> Result<Principal, Problem> {
    let invalid = || Problem::unauthenticated("the API key is invalid, expired or revoked");
    let (key_id, secret) = parse_token(token).ok_or_else(invalid)?;
    let key = match app.store.api_key(key_id).await {
        Ok(k) => k,
        Err(StoreError::NotFound(_)) => return Err(invalid()),
        Err(e) => return Err(e.into()),
    };
    let presented = hash_secret(secret);
    let matches = constant_time_eq(presented.as_bytes(), key.secret_hash.as_bytes());
    let now = app.now();
    if !matches || key.revoked_at.is_some() || key.expires_at.is_some_and(|t| t <= now) {
        return Err(invalid());
    }
    let owner = app.store.user(key.owner_id).await?;
    if owner.disabled {
        return Err(Problem::unauthenticated("the key's owner is disabled"));
    }
    // A key never carries more than its owner holds today.
    let roles = key
        .roles
        .iter()
        .copied()
        .filter(|r| owner.roles.contains(r))
        .collect();
    // A login session stands for a password login: without a second factor (where one is
    // required) it may only enrol one. Keys made on purpose were made by a full session.
    let login_session = key.label == LOGIN_LABEL || key.label == CONSOLE_LABEL;
    let second_factor_missing = login_session
        && app.config.login.require_second_factor
        && !owner.break_glass
        && !crate::api::totp::has_factor(app, owner.id).await?;
    Ok(Principal {
        user_id: owner.id,
        username: owner.username,
        roles,
        method: AuthMethod::ApiKey,
        key_id: Some(key.key_id),
        second_factor_missing,
    })
}

async fn authenticate_certificate(
    app: &App,
    cert: &ClientCertificate,
) -> Result<Principal, Problem> {
    let refused = |why: &str| {
        Problem::unauthenticated(format!("the client certificate cannot log in: {why}"))
    };
    // Security: the user comes from the login binding, which only control writes (an admin's
    // bind, or a user's own enrolment). The inventory's owner is data the requester or the
    // front chose, and a certificate row the front inserted is never bound.
    let binding = app
        .store
        .login_certificate_by_fingerprint(&cert.fingerprint)
        .await?
        .ok_or_else(|| {
            refused("it is not bound to a user (POST /api/v1/users/{name}/login-certificates)")
        })?;
    let record = app.store.certificate(binding.certificate_id).await?;
    if record.revoked {
        return Err(refused("it is revoked"));
    }
    if record.certificate.not_after <= app.now() {
        return Err(refused("it has expired"));
    }
    let user = app.store.user(binding.user_id).await?;
    if user.disabled || user.break_glass {
        return Err(refused("its user is disabled or the break-glass account"));
    }
    Ok(Principal {
        user_id: user.id,
        username: user.username,
        roles: user.roles,
        method: AuthMethod::ClientCertificate,
        key_id: None,
        second_factor_missing: false,
    })
}
