//! The ACME server (RFC 8555) hosted by the front, on the HTTPS listener only.
//!
//! In: HTTPS requests under `/acme/`. Out: RFC 8555 resources and problem documents. The
//! protocol values (JWS, JWK, identifiers, payloads) come from `strongroom-acme`; this
//! module owns the state machine (kept in the store so several fronts can share it), the
//! validation I/O and the one signer call (`IssueCertificate` at finalize). Revocations are
//! queued for control (only control may revoke, docs/architecture.md, Trust boundaries).

mod account;
pub mod config;
mod finalize;
mod gc;
mod http;
mod order;
mod revoke;
mod validate;
mod views;

use crate::app::App;
use axum::routing::{get, post};
use axum::Router;
use config::AcmeConfig;
use std::sync::Arc;
use validate::Validator;

/// What every ACME handler shares.
#[derive(Debug)]
pub struct Acme {
    /// The front's state (store, CA list, signer socket).
    pub app: Arc<App>,
    /// Settings.
    pub cfg: AcmeConfig,
    /// The challenge validator.
    validator: Validator,
    /// Recorded nonces not yet handed out.
    nonces: http::NoncePool,
}

/// Handler state.
pub type Shared = Arc<Acme>;

impl Acme {
    /// Builds the state.
    pub fn new(app: Arc<App>, cfg: AcmeConfig) -> Acme {
        let validator = Validator::new(&cfg);
        Acme {
            app,
            cfg,
            validator,
            nonces: http::NoncePool::default(),
        }
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.base_url)
    }
}

/// A POST-only ACME resource: any other method gets a problem document (RFC 8555 §6.7:
/// every error is one), `malformed` with status 405 and `Allow: POST`, not axum's empty 405.
fn post_only<H, T>(handler: H) -> axum::routing::MethodRouter<Shared>
where
    H: axum::handler::Handler<T, Shared>,
    T: 'static,
{
    post(handler).fallback(|| async {
        let p = strongroom_acme::Problem::malformed(
            "this ACME resource takes POST (POST-as-GET to read it, RFC 8555 §6.3)",
        )
        .with_status(405);
        (
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            [
                (axum::http::header::CONTENT_TYPE, "application/problem+json"),
                (axum::http::header::ALLOW, "POST"),
            ],
            p.to_json(),
        )
    })
}

/// The ACME routes; starts the garbage collector.
pub fn router(acme: Shared) -> Router {
    gc::spawn(acme.clone());
    Router::new()
        .route("/acme/directory", get(account::directory_default))
        .route("/acme/{profile}/directory", get(account::directory))
        .route(
            "/acme/new-nonce",
            get(account::new_nonce_get).head(account::new_nonce_head),
        )
        .route(
            "/acme/{profile}/new-account",
            post_only(account::new_account),
        )
        .route("/acme/account/{id}", post_only(account::account))
        .route("/acme/account/{id}/orders", post_only(account::orders))
        .route("/acme/key-change", post_only(account::key_change))
        .route("/acme/{profile}/new-order", post_only(order::new_order))
        .route("/acme/order/{id}", post_only(order::order))
        .route("/acme/order/{id}/finalize", post_only(finalize::finalize))
        .route("/acme/authz/{id}", post_only(order::authorization))
        .route("/acme/challenge/{id}", post_only(order::challenge))
        .route("/acme/cert/{id}", post_only(finalize::certificate))
        .route(
            "/acme/cert/{id}/{alternate}",
            post_only(finalize::certificate_alternate),
        )
        .route("/acme/revoke-cert", post_only(revoke::revoke))
        .route("/acme/renewal-info/{cert_id}", get(revoke::renewal_info))
        // Security: every ACME body is read here, at most strongroom_acme::jws::MAX_BODY.
        .layer(axum::middleware::from_fn_with_state(
            acme.clone(),
            http::bounded_body,
        ))
        .with_state(acme)
}
