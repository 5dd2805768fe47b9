//! Start-up and the plain-HTTP listener.
//!
//! In: a validated configuration. Out: a server until SIGTERM or SIGINT. The front does
//! not migrate the database (control does); it waits up to a minute for the schema.

use crate::app::App;
use crate::config::Config;
use crate::{crl, ocsp};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use strongroom_store::Store;

/// The routes.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/ocsp", axum::routing::post(ocsp::post))
        .route("/ocsp/{*request}", get(ocsp::get))
        .route("/crl/{file}", get(crl::get))
        .route("/crl/{ca}/{file}", get(crl::get_shard))
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

/// Serves until a termination signal.
pub async fn run(config: Config) -> Result<(), String> {
    let store = connect(&config.database_url()?).await?;
    let listener = tokio::net::TcpListener::bind(config.listen_http)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen_http))?;
    tracing::info!(listen = %config.listen_http, "strongroom-front serving /ocsp and /crl");
    let app = Arc::new(App::new(store.clone(), config));
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
