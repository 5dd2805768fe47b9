//! The web console (issue 19): server-rendered pages under `/console/`, no script at all and
//! one stylesheet from this origin, so the CSP needs no exception.
//!
//! Every page and every form is a renderer of the API: it calls the API's own router
//! in-process ([`Console::call`]) with the browser's session cookie and, for a form that
//! changes anything, the CSRF token that form carried. Authentication, the permission guard,
//! validation, approvals and the audit are therefore the API's: the console has no
//! authorisation model of its own and cannot be a way around one. What a page shows of a
//! role (which links, which buttons) comes from `GET /api/v1/auth/whoami`; what it may do is
//! decided by the API again on every form.
//!
//! In: browser requests (the session cookie, URL-encoded forms). Out: HTML pages, 303
//! redirects, the stylesheet. Pages: [`pages`]; HTML and escaping: [`html`]; charts:
//! [`charts`].

mod caller;
mod charts;
pub(crate) mod diff;
mod html;
mod pages;
mod qr;

pub use caller::{ApiError, Caller, Me, Reply};

use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use strongroom_types::clock::Clock;

/// What every console handler holds: the API router it renders.
#[derive(Clone)]
pub struct Console {
    api: Router,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

impl Console {
    /// Now, in Unix seconds (control's one clock).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// The console's routes, rendering `api` (the API router, guard included).
pub fn router(api: Router, clock: Arc<dyn Clock>) -> Router {
    use pages::*;
    Router::new()
        .route("/", get(|| async { html::redirect("/console/") }))
        .route("/console", get(|| async { html::redirect("/console/") }))
        .route("/console/static/console.css", get(html::stylesheet))
        .route(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route(
            "/console/logout-everywhere",
            post(session::logout_everywhere),
        )
        .route(
            "/console/second-factor",
            get(second_factor::show).post(second_factor::begin),
        )
        .route(
            "/console/second-factor/confirm",
            post(second_factor::confirm),
        )
        .route("/console/", get(dashboard::show))
        .route("/console/certificates", get(certificates::search))
        .route("/console/certificates/{id}", get(certificates::detail))
        .route(
            "/console/certificates/revoke",
            post(certificates::bulk_revoke),
        )
        .route(
            "/console/certificates/{id}/renew",
            post(certificates::renew),
        )
        .route(
            "/console/certificates/{id}/revoke",
            post(certificates::revoke),
        )
        .route("/console/issue", get(issue::form_page).post(issue::submit))
        .route("/console/approvals", get(approvals::list))
        .route(
            "/console/approvals/{id}/{decision}",
            post(approvals::decide),
        )
        .route("/console/audit", get(audit::show))
        .route("/console/cas", get(cas::show).post(cas::create))
        .route("/console/cas/{id}/retire", post(cas::retire))
        .route("/console/profiles", get(profiles::show))
        .route("/console/profiles/{name}", post(profiles::save))
        .route("/console/enrolment", get(enrolment::show))
        .route("/console/enrolment/{kind}", post(enrolment::create))
        .route("/console/users", get(users::show).post(users::create))
        .route("/console/system", get(system::show))
        .with_state(Console { api, clock })
}
