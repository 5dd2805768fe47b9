//! Start-up and the plain-HTTP listener.
//!
//! In: a validated configuration. Out: a server until SIGTERM or SIGINT. The front does
//! not migrate the database (control does); it waits up to a minute for the schema.

use crate::app::App;
use crate::config::Config;
use crate::{ca_cert, crl, ocsp};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use strongroom_store::Store;
use strongroom_types::clock::{Clock, SystemClock};

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ocsp", axum::routing::post(ocsp::post))
        .route("/ocsp/{*request}", get(ocsp::get))
        .route("/crl/{file}", get(crl::get))
        .route("/crl/{ca}/{file}", get(crl::get_shard))
        .route("/ca/{file}", get(ca_cert::get))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(app)
}

async fn connect(url: &str) -> Result<Store, String> {
    let mut last = String::new();
    for _ in 0..120 {
        match Store::connect_without_migrating(url).await {
            Ok(store) => match store.schema_is_current().await {
                Ok(true) => return Ok(store),
                Ok(false) => {
                    last =
                        "the database schema is older than this build (control migrates it)".into()
                }
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("the database is not ready after 60 s: {last}"))
}

/// Serves until a termination signal: plain HTTP, and HTTPS when configured.
pub async fn run(config: Config) -> Result<(), String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let shutdown = strongroom_httpd::shutdown_signal();
    let store = connect(&config.database()?.url()?).await?;
    // HTTPS first (its certificate comes from the signer), then plain HTTP: whoever waits
    // for the plain port to accept finds both bound.
    let signer = strongroom_signer_client::SignerLink::new(config.signer_socket.clone());
    // EST's client-certificate trust: the labels' manufacturer roots and their profiles'
    // CAs, which the HTTPS listener must accept at the handshake.
    let est_trust = match &config.est {
        Some(cfg) => {
            let own = crate::est::own_cas(&store, &signer, cfg).await?;
            Some(Arc::new(crate::est::trust::Trust::load(cfg, own)?))
        }
        None => None,
    };
    let mut listener_trust = None;
    let https = match (&config.listen_https, &config.tls) {
        (Some(addr), Some(spec)) => {
            let anchors = est_trust
                .as_ref()
                .map(|t| t.listener_anchors())
                .unwrap_or_default();
            let listener = strongroom_httpd::listener(spec, &signer, &anchors).await?;
            listener_trust = listener.client_trust.clone();
            listener.record(&store, spec, "front", clock.now()).await?;
            tokio::spawn(strongroom_httpd::keep_current(
                listener.keeper,
                store.clone(),
                "front",
                {
                    let clock = clock.clone();
                    move || clock.now()
                },
            ));
            let tls = listener.tls;
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            Some((l, tls))
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen_http)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen_http))?;
    tracing::info!(listen = %config.listen_http, https = ?config.listen_https, "strongroom-front serving /ocsp and /crl");
    let app = Arc::new(App::new(store.clone(), config, clock));
    crate::metrics::serve(app.clone()).await?;
    // SCEP on both listeners: devices often cannot do TLS to a private root, and SCEP
    // protects its messages itself.
    let scep = match app.config.scep.clone() {
        Some(cfg) => {
            let default = cfg.default_profile.clone();
            let scep = Arc::new(crate::scep::Scep::new(app.clone(), cfg)?);
            tracing::info!(default_profile = %default, "SCEP served at /scep");
            Some(crate::scep::router(scep))
        }
        None => None,
    };
    let with_scep = |routes: Router| match &scep {
        Some(s) => routes.merge(s.clone()),
        None => routes,
    };
    let plain = strongroom_httpd::serve_plain(
        listener,
        crate::metrics::counted(app.clone(), with_scep(router(app.clone()))),
        std::future::pending(),
    );
    let est = match (app.config.est.clone(), est_trust) {
        (Some(cfg), Some(trust)) => {
            tokio::spawn(crate::est::trust::watch(trust.clone(), listener_trust));
            tracing::info!(default_label = %cfg.default_label, labels = cfg.label.len(), "EST served at /.well-known/est/");
            Some(crate::est::router(Arc::new(crate::est::Est::new(
                app.clone(),
                cfg,
                trust,
            ))))
        }
        _ => None,
    };
    let secure = async move {
        match https {
            Some((l, tls)) => {
                let mut routes = with_scep(router(app.clone()));
                if let Some(est) = est {
                    routes = routes.merge(est);
                }
                if let Some(cfg) = app.config.acme.clone() {
                    tracing::info!(base_url = %cfg.base_url, "ACME served at {}/acme/directory", cfg.base_url);
                    routes = routes.merge(crate::acme::router(Arc::new(crate::acme::Acme::new(
                        app.clone(),
                        cfg,
                    ))));
                }
                let routes = crate::metrics::counted(app, routes);
                strongroom_httpd::serve_tls(l, tls, routes, std::future::pending()).await
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = plain => {},
        _ = secure => {},
        _ = shutdown => tracing::info!("shutting down"),
    }
    store.close().await;
    Ok(())
}
