//! strongroom-control: the administrators' REST API over the store, talking to the signer
//! for everything that gets signed.
//!
//! In: HTTPS requests on `/api/v1` (bearer API keys, login sessions, or TLS client
//! certificates issued by our own CA), the store, and the signer's Unix socket. Out:
//! JSON resources and RFC 9457 problem documents; every state change and every denial
//! becomes a hash-chained audit event. Control holds no CA key and never links the HSM:
//! CA and policy operations go to the signer, which checks them again.
//!
//! Layout: `config` (the TOML file), `app` (shared state), `auth` + `rbac` (who is asking
//! and what they may do), `routes` (the one route table: path, method, permission),
//! `login_throttle` (failed-login counts, locks and their audit notes),
//! `openapi` (generated from that table), `api/*` (one file per resource), `problem`
//! and `input` (strict request parsing), `bootstrap` (first start), `metrics`, `revoke`
//! (the one revocation path), `jobs` (the worker for jobs queued by the front, such as ACME
//! revocations and SCEP enrolments waiting for approval), `acme_proof` (which re-verifies
//! the client's signed request behind an ACME revocation job) and `scep_enrolment` (which
//! re-checks a device's stored request, files its approval and issues once approved).

#![forbid(unsafe_code)]

pub mod acme_proof;
pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod console;
pub mod cursor;
pub mod headers;
pub mod input;
pub mod jobs;
pub mod login_throttle;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod rbac;
pub mod reconcile;
pub mod revocation;
pub mod revoke;
pub mod routes;
pub mod sandbox;
pub mod scep_enrolment;
pub mod server;
pub mod stats_cache;

pub use app::App;
pub use config::Config;
