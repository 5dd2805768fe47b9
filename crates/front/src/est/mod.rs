//! The EST server (RFC 7030) hosted by the front on its HTTPS listener only, at
//! `/.well-known/est/{operation}` (the default label) and
//! `/.well-known/est/{label}/{operation}`.
//!
//! In: `GET cacerts` and `csrattrs`; `POST simpleenroll`, `simplereenroll`, `serverkeygen`
//! (base64 PKCS#10), `fullcmc` (refused with 501); the request's Basic credentials, the
//! connection's client certificate chain and its RFC 9266 channel binding (from
//! `strongroom-httpd`). Out: base64 certificates-only PKCS#7, `/csrattrs`, or the
//! serverkeygen multipart; refusals as plain text with RFC 7030's status codes (400 a bad
//! request, 401 with `WWW-Authenticate` no or wrong credentials, 403 the policy or the
//! certificate, 501 Full CMC, 503 + `Retry-After` when the signer or the store is away).
//! Message syntax comes from `strongroom-est`; this module owns the decisions
//! ([`access`] who may enrol, [`enrol`] what is issued) and issuance is the ordinary
//! `IssueCertificate` under the label's profile with only the CSR's key and names.

mod access;
pub mod config;
mod enrol;
mod password;
mod pending;
pub mod trust;

use crate::app::App;
use crate::plain_answers::{plain, unavailable};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use config::{EstConfig, EstLabel};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use strongroom_est::{csr_attributes, encode_body, parse_path, Base64Form, EstOperation, MAX_BODY};
use strongroom_httpd::{PeerCertificate, TlsSession};
use strongroom_store::ProfileRecord;
use strongroom_types::{CaId, ProfileName};
use strongroom_wire::CallError;

/// How long a CA chain read from the signer is served before it is read again: `cacerts`
/// is open to anyone, and must not cost a signer call each.
const CHAIN_CACHE: Duration = Duration::from_secs(60);

/// Each CA's chain (issuing CA first) and when it was read from the signer.
type ChainCache = HashMap<CaId, (Instant, Arc<Vec<Vec<u8>>>)>;

/// What every EST handler shares.
#[derive(Debug)]
pub struct Est {
    /// The front's state (store, signer, clock, metrics).
    pub app: Arc<App>,
    /// Settings.
    pub cfg: EstConfig,
    /// The labels' client-certificate trust.
    pub trust: Arc<trust::Trust>,
    passwords: password::PasswordChecks,
    chains: RwLock<ChainCache>,
}

/// Handler state.
pub type Shared = Arc<Est>;

impl Est {
    /// The state over the labels' trust ([`trust::Trust::load`]).
    pub fn new(app: Arc<App>, cfg: EstConfig, trust: Arc<trust::Trust>) -> Est {
        Est {
            app,
            cfg,
            trust,
            passwords: Default::default(),
            chains: RwLock::new(HashMap::new()),
        }
    }

    /// The chain of `ca`, issuing CA first, from the cache or the signer.
    async fn chain(&self, ca: &CaId) -> Result<Arc<Vec<Vec<u8>>>, CallError> {
        if let Some((at, chain)) = self
            .chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(ca)
        {
            if at.elapsed() < CHAIN_CACHE {
                return Ok(chain.clone());
            }
        }
        let chain = Arc::new(self.app.signer.ca_chain(ca.clone()).await?);
        self.chains
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ca.clone(), (Instant::now(), chain.clone()));
        Ok(chain)
    }
}

/// The issuing CA certificate of every label's profile: the anchors the HTTPS listener
/// accepts this CA's own client certificates from (re-enrolment).
pub async fn own_cas(
    store: &strongroom_store::Store,
    signer: &strongroom_signer_client::SignerLink,
    cfg: &EstConfig,
) -> Result<Vec<Vec<u8>>, String> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for label in &cfg.label {
        let name: ProfileName = label
            .profile
            .parse()
            .map_err(|e| format!("[est] label {:?} profile: {e}", label.name))?;
        let record = store.profile(&name).await.map_err(|e| {
            format!(
                "[est] label {:?}: profile {name}: {e} (add it with strongroom profile)",
                label.name
            )
        })?;
        let chain = signer
            .ca_chain(record.profile.issuer.clone())
            .await
            .map_err(|e| {
                format!(
                    "[est] label {:?}: CA {}: {e}",
                    label.name, record.profile.issuer
                )
            })?;
        if let Some(ca) = chain.first() {
            if !out.contains(ca) {
                out.push(ca.clone());
            }
        }
    }
    Ok(out)
}

/// The routes, for the HTTPS listener only.
pub fn router(est: Shared) -> Router {
    Router::new()
        .route("/.well-known/est/{operation}", any(default_label))
        .route("/.well-known/est/{label}/{operation}", any(named_label))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(est)
}

/// What a request brings besides its path.
struct Call {
    method: Method,
    /// The TCP peer's address (per-address password failures).
    client: Option<std::net::IpAddr>,
    headers: HeaderMap,
    peer: Option<PeerCertificate>,
    session: Option<TlsSession>,
    body: Bytes,
}

impl Call {
    /// What the handlers need from the request, its body read to at most [`MAX_BODY`].
    async fn read(request: axum::extract::Request) -> Result<Call, Response> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
            plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {MAX_BODY} bytes, or was cut off"),
            )
        })?;
        Ok(Call {
            client: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
            peer: parts.extensions.get::<PeerCertificate>().cloned(),
            session: parts.extensions.get::<TlsSession>().cloned(),
            method: parts.method,
            headers: parts.headers,
            body,
        })
    }
}

async fn default_label(
    State(est): State<Shared>,
    Path(operation): Path<String>,
    request: axum::extract::Request,
) -> Response {
    match Call::read(request).await {
        Ok(call) => serve(&est, None, &operation, call).await,
        Err(r) => r,
    }
}

async fn named_label(
    State(est): State<Shared>,
    Path((label, operation)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    match Call::read(request).await {
        Ok(call) => serve(&est, Some(&label), &operation, call).await,
        Err(r) => r,
    }
}

/// A label with its profile's policy entry.
#[derive(Debug, Clone)]
struct Offered {
    settings: EstLabel,
    name: ProfileName,
    record: ProfileRecord,
}

impl Offered {
    fn ca(&self) -> &CaId {
        &self.record.profile.issuer
    }
}

async fn serve(est: &Est, label: Option<&str>, operation: &str, call: Call) -> Response {
    let (label, op) = match parse_path(label, operation) {
        Ok(p) => p,
        Err(e) => return plain(StatusCode::NOT_FOUND, e.to_string()),
    };
    let label = label.map_or_else(|| est.cfg.default_label.clone(), |l| l.to_string());
    let Some(settings) = est.cfg.label(&label).cloned() else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no EST label {label:?} here"),
        );
    };
    let wanted = if op.is_post() {
        Method::POST
    } else {
        Method::GET
    };
    if call.method != wanted {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("EST {} takes {wanted}", op.as_str()),
        );
        if let Ok(v) = HeaderValue::from_str(wanted.as_str()) {
            r.headers_mut().insert(header::ALLOW, v);
        }
        return r;
    }
    let offered = match offered(est, settings).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    match op {
        EstOperation::CaCerts => ca_certs(est, &offered).await,
        EstOperation::CsrAttrs => {
            let p = &offered.record.profile;
            let der = csr_attributes(
                &p.key_algorithms,
                !p.allowed_name_kinds.is_empty(),
                offered.settings.channel_binding,
            );
            base64_reply("application/csrattrs", &der, offered.settings.base64_form())
        }
        EstOperation::SimpleEnroll | EstOperation::ServerKeygen => {
            enrol::enrol(est, &offered, op, &call).await
        }
        EstOperation::SimpleReenroll => enrol::reenrol(est, &offered, &call).await,
        EstOperation::FullCmc => plain(
            StatusCode::NOT_IMPLEMENTED,
            "this EST server does not offer Full CMC (RFC 5272): enrol with /simpleenroll, renew with /simplereenroll",
        ),
    }
}

/// The label's profile: it must exist in the policy.
async fn offered(est: &Est, settings: EstLabel) -> Result<Offered, Response> {
    let name: ProfileName = settings.profile.parse().map_err(|e| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("EST label {:?} profile: {e}", settings.name),
        )
    })?;
    match est.app.store.profile(&name).await {
        Ok(record) => Ok(Offered {
            settings,
            record,
            name,
        }),
        Err(strongroom_store::StoreError::NotFound(_)) => Err(plain(
            StatusCode::NOT_FOUND,
            format!(
                "EST profile {name} is not in the CA's policy; an operator adds it with strongroom profile"
            ),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "EST: cannot read the profile");
            Err(unavailable("the database is unavailable"))
        }
    }
}

/// `cacerts`: the label's CA and its chain to the root.
async fn ca_certs(est: &Est, offered: &Offered) -> Response {
    let chain = match est.chain(offered.ca()).await {
        Ok(c) => c,
        Err(e) => return signer_trouble(e),
    };
    let certs: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    match strongroom_x509::pkcs7::certs_only(&certs) {
        Ok(der) => base64_reply(
            "application/pkcs7-mime",
            &der,
            offered.settings.base64_form(),
        ),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A base64 body of `content_type` (RFC 7030 §4: `Content-Transfer-Encoding: base64`).
fn base64_reply(content_type: &'static str, der: &[u8], form: Base64Form) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::HeaderName::from_static("content-transfer-encoding"),
                "base64",
            ),
        ],
        encode_body(der, form),
    )
        .into_response()
}

/// A failed signer call.
fn signer_trouble(e: CallError) -> Response {
    crate::plain_answers::signer_trouble("EST", e)
}
