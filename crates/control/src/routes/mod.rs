//! The router built from the route table ([`table`]): every handler wrapped in [`guard`],
//! which authenticates (API key, browser session with its CSRF token, client certificate)
//! and authorises against the route's permission; the console's pages beside them
//! ([`crate::console`], which calls this router in-process); and the security headers on
//! every answer.
//!
//! In: the [`App`]. Out: [`router`]; the table is re-exported ([`ROUTES`], [`RouteSpec`],
//! [`RouteId`]).

mod table;

pub use table::{RouteId, RouteSpec, ROUTES};

use crate::api;
use crate::app::App;
use crate::auth::{authenticate, ClientCertificate};
use crate::input::MAX_BODY;
use crate::problem::Problem;
use crate::rbac::{allows, Permission};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use strongroom_store::AuditOutcome;

/// Builds the router: every route from [`ROUTES`], each wrapped in [`guard`].
pub fn router(app: App) -> Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<App>> = BTreeMap::new();
    for spec in ROUTES {
        let handler =
            api::handler(spec.id).route_layer(from_fn_with_state((app.clone(), spec), guard));
        let entry = by_path.remove(spec.path);
        by_path.insert(
            spec.path,
            match entry {
                Some(existing) => existing.merge(handler),
                None => handler,
            },
        );
    }
    let mut router: Router<App> = Router::new();
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    let api: Router = router
        .fallback(|| async {
            Problem::not_found("no such route; GET /api/v1/openapi.json lists them all")
        })
        .method_not_allowed_fallback(|| async {
            Problem {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                kind: "method-not-allowed",
                detail: "this route does not take that method; see /api/v1/openapi.json".into(),
                retry_after: None,
            }
        })
        .with_state(app.clone());
    // The console renders the API through this very router (see crate::console); the
    // security headers go on both.
    crate::console::router(api.clone(), app.clock.clone())
        .merge(api)
        .layer(axum::middleware::map_response(crate::headers::secure))
}

/// Authenticates and authorises one request against its route's permission; denials are
/// audited and counted. Handlers find the [`crate::auth::Principal`] in the extensions.
async fn guard(
    State((app, spec)): State<(App, &'static RouteSpec)>,
    req: Request,
    next: Next,
) -> Response {
    let response = if spec.permission == Permission::Public {
        next.run(req).await
    } else {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
        let cert = req.extensions().get::<ClientCertificate>().cloned();
        let cookie = crate::auth::session_cookie(req.headers());
        let csrf = req
            .headers()
            .get(crate::auth::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let presented = crate::auth::Presented {
            authorization: authorization.as_deref(),
            session_cookie: cookie.as_deref(),
            csrf: csrf.as_deref(),
            state_changing: !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS),
            client_cert: cert.as_ref(),
        };
        let target = format!("{} {}", spec.method, spec.path);
        match authenticate(&app, &presented).await {
            Err(p) => {
                app.metrics.denied.fetch_add(1, Ordering::Relaxed);
                deny(&app, "anonymous", "auth.denied", &target, &p.detail).await;
                p.into_response()
            }
            Ok(who) if who.second_factor_missing && !enrols_second_factor(spec.id) => {
                app.metrics.denied.fetch_add(1, Ordering::Relaxed);
                deny(
                    &app,
                    &who.actor(),
                    "permission.denied",
                    &target,
                    "no second factor yet",
                )
                .await;
                Problem::forbidden(format!(
                    "{} has no second factor and every login needs one: enrol an authenticator first (strongroom totp enrol, or the console's page), then log in with its code",
                    who.username
                ))
                .into_response()
            }
            Ok(who) if !allows(&who.roles, spec.permission) => {
                app.metrics.denied.fetch_add(1, Ordering::Relaxed);
                let detail = format!("needs {}", spec.permission.as_str());
                deny(&app, &who.actor(), "permission.denied", &target, &detail).await;
                Problem::forbidden(format!(
                    "{} may not do this: it needs the permission {} (GET /api/v1/roles shows which roles grant it)",
                    who.username,
                    spec.permission.as_str()
                ))
                .into_response()
            }
            Ok(who) => match read_whole_body(req).await {
                Ok(mut req) => {
                    req.extensions_mut().insert(who);
                    next.run(req).await
                }
                Err(p) => p.into_response(),
            },
        }
    };
    app.metrics.request(spec.path, response.status().as_u16());
    response
}

/// The routes a login session without a second factor may call: who am I, enrol the
/// factor, log out.
fn enrols_second_factor(id: RouteId) -> bool {
    matches!(
        id,
        RouteId::WhoAmI
            | RouteId::TotpBegin
            | RouteId::TotpConfirm
            | RouteId::Logout
            | RouteId::LogoutEverywhere
    )
}

/// Reads the request body (at most [`MAX_BODY`] bytes) before the handler runs. A handler
/// that takes no body would otherwise answer while the client is still sending one, and
/// the connection, closed with unread bytes, would reset under the client: it would see a
/// broken pipe instead of the answer. Handlers that take a body parse it from memory.
async fn read_whole_body(req: Request) -> Result<Request, Problem> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| Problem::too_large(format!("the body is larger than {MAX_BODY} bytes")))?;
    Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
}

async fn deny(app: &App, actor: &str, action: &str, target: &str, detail: &str) {
    if let Err(e) = app
        .audit(actor, action, target, AuditOutcome::Denied, detail)
        .await
    {
        tracing::error!(detail = %e.detail, "cannot audit a denial");
    }
}
