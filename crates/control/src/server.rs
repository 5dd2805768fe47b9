//! Start-up: connect, bootstrap, get the listener certificate, serve.
//!
//! In: a validated configuration. Out: a running server until SIGTERM or SIGINT (the
//! listener itself is `strongroom-httpd`, shared with the front).

use crate::app::App;
use crate::auth::PasswordChecks;
use crate::bootstrap;
use crate::config::Config;
use crate::cursor::CursorKey;
use crate::login_throttle::{LoginLimits, LoginThrottle};
use crate::metrics::Metrics;
use crate::routes;
use std::sync::Arc;
use std::time::Duration;
use strongroom_signer_client::SignerLink;
use strongroom_store::Store;
use strongroom_types::clock::{Clock, SystemClock};
use tokio::net::TcpListener;

/// User names, addresses and (name, address) pairs the login throttle keeps, each: a few
/// hundred bytes apiece, so at most a few MiB.
const LOGIN_KEYS_TRACKED: usize = 4096;

/// Waits for the signer to answer (it may still be starting), up to 30 s.
async fn wait_for_signer(signer: &SignerLink) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..60 {
        match signer.health().await {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("the signer did not answer within 30 s: {last}"))
}

/// Connects, bootstraps and serves until a termination signal.
pub async fn run(config: Config) -> Result<(), String> {
    let shutdown = strongroom_httpd::shutdown_signal();
    let url = config.database()?.url()?;
    let store = if config.migrate_on_start {
        Store::connect(&url).await.map_err(|e| e.to_string())?
    } else {
        let store = Store::connect_without_migrating(&url)
            .await
            .map_err(|e| e.to_string())?;
        if !store.schema_is_current().await.map_err(|e| e.to_string())? {
            return Err("the database schema is older than this build: run `strongroom-control migrate --config FILE` with the schema owner's database URL".into());
        }
        store
    };
    let signer = SignerLink::new(config.signer_socket.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    wait_for_signer(&signer).await?;
    let added = bootstrap::sync_cas(&store, &signer, clock.now()).await?;
    if added > 0 {
        tracing::info!(added, "CAs mirrored from the signer");
    }
    let metrics = Arc::new(Metrics::default());
    let login = &config.login;
    let app = App {
        login: Arc::new(LoginThrottle::new(LoginLimits {
            user_failures: login.user_failures,
            address_failures: login.address_failures,
            window_secs: i64::from(login.window_secs),
            tracked: LOGIN_KEYS_TRACKED,
        })),
        passwords: Arc::new(PasswordChecks::new(
            login
                .argon2_concurrency
                .unwrap_or_else(PasswordChecks::default_concurrency),
            metrics.clone(),
        )),
        store: store.clone(),
        signer: signer.clone(),
        config: Arc::new(config.clone()),
        clock: clock.clone(),
        rng: ring::rand::SystemRandom::new(),
        cursors: Arc::new(CursorKey::generate()?),
        metrics,
        policy_lock: Arc::new(tokio::sync::Mutex::new(())),
        stats: Arc::new(crate::stats_cache::StatsCache::default()),
        crl_queue: Arc::new(crate::revocation::CrlQueue::default()),
    };
    if let Some(policy) = bootstrap::import_profiles(&config, &store, clock.now()).await? {
        let _guard = app.policy_lock.lock().await;
        let version = crate::api::profiles::push_policy(&app, policy.profiles.clone())
            .await
            .map_err(|p| format!("pushing the imported profiles to the signer: {}", p.detail))?;
        tracing::info!(
            profiles = policy.profiles.len(),
            version,
            "profiles imported and pushed to the signer"
        );
    }
    if bootstrap::first_users(&config, &store, clock.now()).await? {
        tracing::info!("first start: user admin created; break-glass account sealed");
        app.audit(
            "system",
            "bootstrap",
            "users",
            strongroom_store::AuditOutcome::Ok,
            "admin and break-glass created",
        )
        .await
        .map_err(|p| p.detail)?;
    }
    if bootstrap::est_user(&config, &store, clock.now()).await? {
        tracing::info!("EST user from [bootstrap.est_user] created");
        app.audit(
            "system",
            "est.user.create",
            "bootstrap",
            strongroom_store::AuditOutcome::Ok,
            "the EST user of [bootstrap.est_user]",
        )
        .await
        .map_err(|p| p.detail)?;
    }
    tokio::spawn(crate::revocation::crl_loop(app.clone()));
    tokio::spawn(crate::revocation::refresh_loop(app.clone()));
    tokio::spawn(crate::jobs::worker_loop(app.clone()));
    tokio::spawn(crate::reconcile::reconcile_loop(app.clone()));
    tokio::spawn(crate::login_throttle::sweep_loop(app.clone()));
    tokio::spawn(crate::stats_cache::refresh_loop(app.clone()));
    if let Some(ca) = config.audit.checkpoint_ca.clone() {
        tokio::spawn(crate::api::audit::checkpoint_loop(app.clone(), ca));
    }
    let listener_cert = strongroom_httpd::listener(&config.tls, &signer, &[]).await?;
    listener_cert
        .record(&store, &config.tls, "control", app.now())
        .await?;
    let clock = app.clone();
    tokio::spawn(strongroom_httpd::keep_current(
        listener_cert.keeper,
        store.clone(),
        "control",
        move || clock.now(),
    ));
    let tls = listener_cert.tls;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(listen = %config.listen, "strongroom-control serving /api/v1");
    strongroom_httpd::serve_tls(listener, tls, routes::router(app), shutdown).await;
    store.close().await;
    Ok(())
}
