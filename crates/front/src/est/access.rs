//! Who may enrol under a label: its password users, its manufacturers' devices, the
//! holders of its own current certificates — and the RFC 9266 channel binding it may
//! require.
//!
//! In: the label's settings, the request's Basic credentials, the connection's client
//! chain (verified by the listener against the union of every label's anchors) and TLS
//! session. Out: the [`Caller`] (for the audit log), or the refusal to send: 401 with
//! `WWW-Authenticate` for missing or wrong credentials, 403 for a certificate this label
//! does not trust, 503 while passwords are being checked as fast as they may be.
//!
//! Security: the listener's verification is not enough here — it accepts any label's
//! anchors — so a device certificate is verified again against this label's manufacturers
//! only, and one of our own certificates must be in the inventory under this label's
//! profile and CA, unexpired and unrevoked, checked on every request (a revocation locks
//! the holder out at once).

use super::config::EstAuth;
use super::password::{self, Refusal};
use super::{plain, unavailable, Call, Est, Offered};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use rustls::pki_types::{CertificateDer, UnixTime};
use strongroom_est::{channel_binding_matches, Enrolment};
use strongroom_store::CertificateRecord;

/// Who was let in.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An EST user of the label.
    User(String),
    /// A device certificate from one of the label's manufacturers.
    Device {
        /// Its SHA-256 fingerprint.
        fingerprint: String,
    },
    /// One of our own certificates under the label's profile.
    Holder {
        /// Its inventory id.
        id: i64,
    },
    /// A user who also presented a certificate (`password-and-certificate`).
    UserWithCertificate(String, Box<Caller>),
}

impl Caller {
    /// The audit actor: `est:LABEL:alice`, `est:LABEL:device:FP`, `est:LABEL:certificate:ID`.
    pub fn actor(&self, label: &str) -> String {
        match self {
            Caller::User(u) => format!("est:{label}:{u}"),
            Caller::Device { fingerprint } => format!("est:{label}:device:{fingerprint}"),
            Caller::Holder { id } => format!("est:{label}:certificate:{id}"),
            Caller::UserWithCertificate(u, c) => format!("{} ({u})", c.actor(label)),
        }
    }
}

/// The 401 of missing or wrong credentials, with the Basic challenge of the label.
fn unauthorised(est: &Est, offered: &Offered, why: &str) -> Response {
    est.app.metrics.est_refused("authentication");
    let mut r = plain(StatusCode::UNAUTHORIZED, why);
    let realm = format!(
        "Basic realm=\"strongroom EST {}\", charset=\"UTF-8\"",
        offered.settings.name
    );
    if let Ok(v) = HeaderValue::from_str(&realm) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// A refusal of the policy or of a certificate (403).
pub fn forbidden(est: &Est, reason: &'static str, why: impl Into<String>) -> Response {
    est.app.metrics.est_refused(reason);
    plain(StatusCode::FORBIDDEN, why)
}

/// The caller of `simpleenroll` or `serverkeygen`, as the label's `auth` demands.
pub async fn authorise(est: &Est, offered: &Offered, call: &Call) -> Result<Caller, Response> {
    let auth = offered.settings.auth;
    let certificate = match (&call.peer, auth.takes_certificate()) {
        (Some(_), true) => Some(certificate_caller(est, offered, call).await?),
        _ => None,
    };
    let wants_password = match auth {
        EstAuth::Password | EstAuth::PasswordAndCertificate => true,
        EstAuth::PasswordOrCertificate => certificate.is_none(),
        EstAuth::Certificate => false,
    };
    if auth == EstAuth::PasswordAndCertificate && certificate.is_none() {
        return Err(forbidden(
            est,
            "authentication",
            format!(
                "EST label {} needs a client certificate and a password",
                offered.settings.name
            ),
        ));
    }
    if !wants_password {
        return certificate.ok_or_else(|| {
            forbidden(
                est,
                "authentication",
                format!(
                    "EST label {} needs a client certificate (a device certificate from a manufacturer it trusts, or a current certificate of profile {})",
                    offered.settings.name, offered.name
                ),
            )
        });
    }
    let user = match password::authenticate(est, &offered.settings.name, &call.headers, call.client)
        .await
    {
        Ok(u) => u,
        Err(Refusal::Missing) => {
            return Err(unauthorised(
                est,
                offered,
                "send the EST user's name and password (HTTP Basic)",
            ))
        }
        Err(Refusal::Wrong) => {
            return Err(unauthorised(
                est,
                offered,
                &format!(
                    "wrong EST user or password (after {} failures in a row a user is locked for {} minutes)",
                    password::MAX_FAILURES,
                    password::LOCK_SECS / 60
                ),
            ))
        }
        Err(Refusal::Locked) => {
            est.app.metrics.est_refused("locked");
            return Err(unauthorised(
                est,
                offered,
                "this EST user is locked after repeated failures; wait, or an operator unlocks it (strongroom est user unlock)",
            ));
        }
        Err(Refusal::Busy) => {
            est.app.metrics.est_refused("busy");
            let mut r = unavailable("passwords are being checked as fast as they may be");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            return Err(r);
        }
        Err(Refusal::Unavailable) => return Err(unavailable("the database is unavailable")),
        Err(Refusal::AddressLimited(wait)) => {
            est.app.metrics.est_refused("address-limited");
            let mut r = plain(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many wrong EST passwords from this address ({} in {} minutes); retry in {wait} s",
                    password::MAX_ADDRESS_FAILURES,
                    password::ADDRESS_WINDOW_SECS / 60
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Err(r);
        }
    };
    Ok(match certificate {
        Some(c) => Caller::UserWithCertificate(user, Box::new(c)),
        None => Caller::User(user),
    })
}

/// The caller a client certificate makes: a device of one of the label's manufacturers,
/// or the holder of a current certificate of its profile.
async fn certificate_caller(est: &Est, offered: &Offered, call: &Call) -> Result<Caller, Response> {
    let Some(peer) = &call.peer else {
        return Err(forbidden(est, "authentication", "no client certificate"));
    };
    if let Some(verifier) = est.trust.manufacturer(&offered.settings.name) {
        let chain: Vec<CertificateDer<'_>> = peer
            .chain
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        if let Some((leaf, intermediates)) = chain.split_first() {
            if verifier
                .verify_client_cert(leaf, intermediates, UnixTime::now())
                .is_ok()
            {
                return Ok(Caller::Device {
                    fingerprint: peer.fingerprint.clone(),
                });
            }
        }
    }
    match held(est, offered, &peer.fingerprint).await? {
        Ok(current) => Ok(Caller::Holder { id: current.id }),
        Err(why) => Err(forbidden(
            est,
            "authentication",
            format!(
                "the client certificate is not trusted under EST label {}: {why}",
                offered.settings.name
            ),
        )),
    }
}

/// One of our certificates under the label's profile and CA, unexpired and unrevoked: the
/// record, or why not (`Err(Response)`: the store is away).
pub async fn held(
    est: &Est,
    offered: &Offered,
    fingerprint: &str,
) -> Result<Result<CertificateRecord, String>, Response> {
    let current = match est.app.store.certificate_by_fingerprint(fingerprint).await {
        Ok(c) => c,
        Err(strongroom_store::StoreError::NotFound(_)) => {
            return Ok(Err(format!(
            "it is neither from a manufacturer the label trusts nor issued here under profile {}",
            offered.name
        )))
        }
        Err(e) => {
            tracing::warn!(error = %e, "EST: cannot read the inventory");
            return Err(unavailable("the database is unavailable"));
        }
    };
    let now = est.app.now();
    let c = &current.certificate;
    let why = if current.revoked {
        Some("it is revoked".to_string())
    } else if c.not_after <= now || c.not_before > now {
        Some("it is not valid now".to_string())
    } else if c.profile.as_deref() != Some(offered.name.as_str()) || &c.issuer != offered.ca() {
        Some(format!("it was not issued under profile {}", offered.name))
    } else {
        None
    };
    Ok(match why {
        Some(why) => Err(why),
        None => Ok(current),
    })
}

/// The RFC 9266 channel binding, when the label requires it: a TLS 1.3 session whose
/// `tls-exporter` value is the CSR's challengePassword (base64).
pub fn check_binding(
    est: &Est,
    offered: &Offered,
    call: &Call,
    enrolment: &Enrolment,
) -> Result<(), Box<Response>> {
    if !offered.settings.channel_binding {
        return Ok(());
    }
    let Some(exporter) = call.session.as_ref().and_then(|s| s.channel_binding) else {
        return Err(Box::new(forbidden(
            est,
            "channel-binding",
            format!(
                "EST label {} requires RFC 9266 channel binding, which needs TLS 1.3; this connection is not TLS 1.3",
                offered.settings.name
            ),
        )));
    };
    let bound = enrolment
        .challenge
        .as_ref()
        .is_some_and(|c| channel_binding_matches(c, &exporter));
    if bound {
        Ok(())
    } else {
        Err(Box::new(forbidden(
            est,
            "channel-binding",
            "the CSR's challengePassword must be this TLS session's tls-exporter value (RFC 9266: 32 bytes exported with the label EXPORTER-Channel-Binding, base64)",
        )))
    }
}
