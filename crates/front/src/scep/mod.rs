//! The SCEP server (RFC 8894) hosted by the front, on the plain and the HTTPS listener
//! (devices often cannot do TLS to a private root; SCEP protects its messages itself).
//!
//! In: `GET`/`POST /scep` and `/scep/{profile}` with `operation=` GetCACaps, GetCACert or
//! PKIOperation (by POST, and by GET with `message=`, as some clients send it). Out: the
//! capabilities, the RA certificate with the CA chain (a degenerate PKCS#7), or a CertRep.
//! Message syntax comes from `strongroom-scep`; this module owns the decisions (which
//! challenge, which renewal, which failInfo) and the signer calls: the RA key that decrypts
//! the device's envelope and signs the reply lives in the HSM, and issuance is the ordinary
//! `IssueCertificate` under the profile's policy with only the CSR's key and names.
//!
//! Security: strangers reach the signer only within bounds. GetCACert's certificates are
//! served from memory for [`CA_CERT_CACHE`]; a PKIOperation that verifies (anyone can sign
//! one with a key of their own) and GetNextCACert take one of
//! [`SCEP_SIGNER_CALLS_AT_ONCE`] turns, and past them get 503 with `Retry-After` at once.

pub mod config;
pub mod dynamic;
mod dynamic_gate;
mod enrol;
mod pending;
mod reply;

use crate::app::App;
use crate::plain_answers::{plain, unavailable};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use config::{ScepConfig, ScepProfile};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use strongroom_scep::{decode_get_message, parse_query, ScepOperation, ScepQuery};
use strongroom_types::{CaId, ProfileName};
use strongroom_wire::CallError;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Largest PKIOperation body read (a CSR with a 4096-bit key in its envelope and the
/// device's certificate fit in a few KiB).
const MAX_MESSAGE: usize = 64 * 1024;

/// How long GetCACert's certificates (the RA's two and the CA chain) are served from memory
/// before the signer is asked again. GetCACert is open to anyone: without it each request
/// cost two signer calls. The RA certificate is renewed 30 days before it ends, so a minute
/// old answer is never a stale one.
const CA_CERT_CACHE: Duration = Duration::from_secs(60);

/// Signer calls (envelope decryption, reply and next-CA signatures) the front makes at once
/// for SCEP. A PKIOperation whose message verifies costs the signer an RSA decryption and a
/// signature, and anyone can make such a message with a key of their own: past this many in
/// flight the answer is 503 with `Retry-After` at once, so a flood waits on nobody and
/// cannot queue without bound behind the signer (the same rule as OCSP's misses).
pub const SCEP_SIGNER_CALLS_AT_ONCE: usize = 8;

/// GetCACert's certificates in the order they are served, and when they were read.
type CaCertCache = HashMap<CaId, (Instant, Arc<Vec<Vec<u8>>>)>;

/// What every SCEP handler shares.
#[derive(Debug)]
pub struct Scep {
    /// The front's state (store, signer, clock, metrics).
    pub app: Arc<App>,
    /// Settings.
    pub cfg: ScepConfig,
    /// SHA-256 of each profile's static challenge (read once at start; the text is not
    /// kept).
    statics: HashMap<String, [u8; 32]>,
    /// Each profile's MDM connector key, for signed dynamic challenges (read once at start).
    connectors: HashMap<String, dynamic::ConnectorKey>,
    /// GetCACert's answers per CA ([`CA_CERT_CACHE`]).
    ca_certs: RwLock<CaCertCache>,
    /// Signer calls in flight for SCEP ([`SCEP_SIGNER_CALLS_AT_ONCE`]).
    signer_calls: Semaphore,
}

/// Handler state.
pub type Shared = Arc<Scep>;

impl Scep {
    /// Builds the state, reading each profile's static challenge file.
    pub fn new(app: Arc<App>, cfg: ScepConfig) -> Result<Scep, String> {
        let mut statics = HashMap::new();
        for p in &cfg.profile {
            if let Some(path) = &p.challenge_file {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("SCEP challenge file {}: {e}", path.display()))?;
                let challenge = text.trim_end_matches(['\n', '\r']);
                if challenge.chars().count() < 16 {
                    return Err(format!(
                        "SCEP challenge file {}: a static challenge has at least 16 characters",
                        path.display()
                    ));
                }
                if dynamic::looks_like_jws(challenge) {
                    // It would be tried as a signed token, and never match.
                    return Err(format!(
                        "SCEP challenge file {}: a static challenge may not look like a JWS (three base64url parts joined by dots)",
                        path.display()
                    ));
                }
                statics.insert(p.name.clone(), Sha256::digest(challenge.as_bytes()).into());
            }
        }
        let mut connectors = HashMap::new();
        for p in &cfg.profile {
            if let Some(d) = &p.dynamic_challenge {
                let path = &d.trust_anchor;
                let key = std::fs::read_to_string(path)
                    .map_err(|e| e.to_string())
                    .and_then(|pem| dynamic::ConnectorKey::from_pem(&pem))
                    .map_err(|e| format!("SCEP trust anchor {}: {e}", path.display()))?;
                tracing::info!(profile = %p.name, anchor = %path.display(), key = ?key, per_device_per_day = d.per_device_per_day, "SCEP: signed dynamic challenges accepted");
                connectors.insert(p.name.clone(), key);
            }
        }
        Ok(Scep {
            app,
            cfg,
            statics,
            connectors,
            ca_certs: RwLock::new(HashMap::new()),
            signer_calls: Semaphore::new(SCEP_SIGNER_CALLS_AT_ONCE),
        })
    }

    /// A turn for a signer call; none while [`SCEP_SIGNER_CALLS_AT_ONCE`] are in flight
    /// (answer [`busy`]).
    fn signer_turn(&self) -> Option<SemaphorePermit<'_>> {
        self.signer_calls.try_acquire().ok()
    }

    /// The MDM connector key of `profile`, if it takes signed dynamic challenges.
    fn connector(&self, profile: &str) -> Option<&dynamic::ConnectorKey> {
        self.connectors.get(profile)
    }

    /// Whether `challenge` is `profile`'s static challenge (compared as SHA-256 digests,
    /// in constant time).
    fn is_static_challenge(&self, profile: &str, challenge: &str) -> bool {
        let Some(expected) = self.statics.get(profile) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(challenge.as_bytes()).into();
        expected
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// The routes, for both listeners.
pub fn router(scep: Shared) -> Router {
    Router::new()
        .route("/scep", get(default_profile).post(default_profile))
        .route("/scep/{profile}", get(named_profile).post(named_profile))
        .layer(DefaultBodyLimit::max(MAX_MESSAGE))
        .with_state(scep)
}

async fn default_profile(
    State(scep): State<Shared>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let name = scep.cfg.default_profile.clone();
    serve(&scep, &name, method, query, body).await
}

async fn named_profile(
    State(scep): State<Shared>,
    Path(profile): Path<String>,
    method: Method,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    // Clients built for Cisco's layout append the CGI name to whatever URL they are given.
    let name = if profile == "pkiclient.exe" {
        scep.cfg.default_profile.clone()
    } else {
        profile
    };
    serve(&scep, &name, method, query, body).await
}

/// A profile offered over SCEP, with the CA that issues under it.
#[derive(Debug, Clone)]
struct Offered {
    settings: ScepProfile,
    name: ProfileName,
    ca: CaId,
    /// Approvals a PKCSReq under it needs (0: issued at once; more: PENDING until control
    /// has them, `pending`).
    approvals_required: i64,
}

async fn serve(
    scep: &Scep,
    profile: &str,
    method: Method,
    query: Option<String>,
    body: Bytes,
) -> Response {
    let Some(settings) = scep.cfg.profile(profile).cloned() else {
        return plain(
            StatusCode::NOT_FOUND,
            format!("no SCEP profile {profile:?} here"),
        );
    };
    let ScepQuery { operation, message } = match parse_query(query.as_deref().unwrap_or("")) {
        Ok(parsed) => parsed,
        Err(e) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let offered = match offered(scep, settings).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    match operation {
        ScepOperation::GetCaCaps => match successor(scep, &offered).await {
            Ok(next) => (
                [(header::CONTENT_TYPE, "text/plain")],
                strongroom_scep::ca_caps(next.is_some()),
            )
                .into_response(),
            Err(r) => r,
        },
        ScepOperation::GetCaCert => ca_certificates(scep, &offered).await,
        ScepOperation::GetNextCaCert => match successor(scep, &offered).await {
            Ok(Some(next)) => next_ca(scep, &offered, next).await,
            Ok(None) => plain(
                StatusCode::NOT_FOUND,
                format!(
                    "CA {} has no successor yet (GetCACaps does not offer GetNextCACert)",
                    offered.ca
                ),
            ),
            Err(r) => r,
        },
        ScepOperation::PkiOperation => {
            let der = if method == Method::POST {
                body.to_vec()
            } else {
                match message.as_deref().map(decode_get_message) {
                    Some(Ok(der)) => der,
                    Some(Err(e)) => return plain(StatusCode::BAD_REQUEST, e.to_string()),
                    None => {
                        return plain(
                            StatusCode::BAD_REQUEST,
                            "PKIOperation by GET carries the message in message=",
                        )
                    }
                }
            };
            enrol::pki_operation(scep, &offered, &der).await
        }
    }
}

/// The profile's policy entry: it must exist, and its issuer is the CA devices enrol with.
async fn offered(scep: &Scep, settings: ScepProfile) -> Result<Offered, Response> {
    let name: ProfileName = settings.name.parse().map_err(|e| {
        plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("SCEP profile {:?}: {e}", settings.name),
        )
    })?;
    match scep.app.store.profile(&name).await {
        Ok(record) => Ok(Offered {
            settings,
            ca: record.profile.issuer.clone(),
            approvals_required: record.approvals_required,
            name,
        }),
        Err(strongroom_store::StoreError::NotFound(_)) => Err(plain(
            StatusCode::NOT_FOUND,
            format!(
                "SCEP profile {name} is not in the CA's policy; an operator adds it with strongroom profile"
            ),
        )),
        Err(e) => {
            tracing::warn!(error = %e, "SCEP: cannot read the profile");
            Err(unavailable("the database is unavailable"))
        }
    }
}

/// GetCACert: the RA certificate first (it signs replies; clients that pin one certificate
/// encrypt to it), the same key's encryption-only certificate (for clients that choose the
/// recipient by keyUsage), then the CA and its chain to the root.
async fn ca_certificates(scep: &Scep, offered: &Offered) -> Response {
    let certs = match ra_and_chain(scep, &offered.ca).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let certs: Vec<&[u8]> = certs.iter().map(Vec::as_slice).collect();
    match strongroom_scep::certs_only(&certs) {
        Ok(der) => (
            [(header::CONTENT_TYPE, "application/x-x509-ca-ra-cert")],
            der,
        )
            .into_response(),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The RA certificate, its encryption-only twin and the CA chain of `ca`, from memory or
/// from the signer (two calls, within the signer-call limit).
async fn ra_and_chain(scep: &Scep, ca: &CaId) -> Result<Arc<Vec<Vec<u8>>>, Response> {
    if let Some((at, certs)) = scep
        .ca_certs
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(ca)
    {
        if at.elapsed() < CA_CERT_CACHE {
            return Ok(certs.clone());
        }
    }
    let _turn = scep.signer_turn().ok_or_else(busy)?;
    let signer = &scep.app.signer;
    let ((ra, ra_encryption), chain) = tokio::try_join!(
        signer.scep_ra_certificate(ca.clone()),
        signer.ca_chain(ca.clone())
    )
    .map_err(signer_trouble)?;
    let mut certs = vec![ra, ra_encryption];
    certs.extend(chain);
    let certs = Arc::new(certs);
    scep.ca_certs
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(ca.clone(), (Instant::now(), certs.clone()));
    Ok(certs)
}

/// The CA control named to take over from the profile's CA, if any.
async fn successor(scep: &Scep, offered: &Offered) -> Result<Option<CaId>, Response> {
    scep.app.store.ca_successor(&offered.ca).await.map_err(|e| {
        tracing::warn!(error = %e, "SCEP: cannot read the CA's successor");
        unavailable("the database is unavailable")
    })
}

/// GetNextCACert: the successor's chain, as a SignedData signed by the RA. The signer builds
/// the certificates-only content from the chain it holds and signs its digest.
async fn next_ca(scep: &Scep, offered: &Offered, next: CaId) -> Response {
    let Some(_turn) = scep.signer_turn() else {
        return busy();
    };
    let signed = match scep
        .app
        .signer
        .sign_scep_next_ca(offered.ca.clone(), next)
        .await
    {
        Ok(s) => s,
        Err(e) => return signer_trouble(e),
    };
    let certificates: Vec<&[u8]> = signed.certificates.iter().map(Vec::as_slice).collect();
    match strongroom_scep::assemble_next_ca(
        &signed.content,
        &certificates,
        &signed.ra_certificate,
        &signed.signed_attributes,
        &signed.signature,
    ) {
        Ok(der) => (
            [(header::CONTENT_TYPE, "application/x-x509-next-ca-cert")],
            der,
        )
            .into_response(),
        Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The 503 of a request that found every signer-call turn taken.
fn busy() -> Response {
    tracing::debug!("SCEP: {SCEP_SIGNER_CALLS_AT_ONCE} signer calls in flight; busy");
    unavailable("the SCEP service is busy")
}

/// A failed signer call.
fn signer_trouble(e: CallError) -> Response {
    crate::plain_answers::signer_trouble("SCEP", e)
}
