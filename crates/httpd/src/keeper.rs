//! Keeps a listener's certificate current while the daemon serves.
//!
//! In: the [`Keeper`] a [`crate::listener`] call made, the store, the daemon's name and
//! clock. Out: a certificate swapped into the running listener (next handshake on), never a
//! restart:
//! - a signer-issued certificate is renewed once two thirds of its lifetime have passed, for
//!   the same key, and recorded in the inventory like the first; a failed renewal is retried
//!   (every tenth of the time left, between 5 s and 5 min) with a warning that says how long
//!   the served certificate has left;
//! - the operator's certificate files are read again every minute and on SIGHUP; a change
//!   that passes every check replaces the served certificate, one that fails leaves it and
//!   says why; from `expiry_warning_days` before notAfter a warning is logged every hour
//!   (an error once it has expired).

use crate::current_cert::CurrentCert;
use crate::listener::issue;
use crate::operator_cert::{self, Loaded};
use crate::ListenerCert;
use rustls::sign::SigningKey;
use std::sync::Arc;
use std::time::Duration;
use strongroom_signer_client::SignerLink;
use strongroom_store::Store;
use strongroom_types::time::rfc3339;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// How often the operator's files are read again (SIGHUP reads them at once).
const RELOAD_CHECK: Duration = Duration::from_secs(60);
/// At most one expiry warning per this many seconds.
const WARN_EVERY_SECS: i64 = 3600;

/// What keeps one listener's certificate current: run it with [`keep_current`].
pub struct Keeper {
    spec: ListenerCert,
    current: Arc<CurrentCert>,
    /// The served certificate's notAfter (Unix seconds).
    not_after: i64,
    source: Source,
}

/// A key and its SubjectPublicKeyInfo.
pub(crate) type ListenerKey = (Vec<u8>, Arc<dyn SigningKey>);

enum Source {
    /// Certificates the signer issues for `key` (public half `spki`), and for the standby
    /// key (served while the HSM does not sign handshakes) when there is one.
    Signer {
        signer: SignerLink,
        key: ListenerKey,
        standby: Option<ListenerKey>,
    },
    /// The operator's files, last read with this digest; SIGHUP asks for a re-read.
    Operator {
        digest: Vec<u8>,
        hangup: Option<Signal>,
    },
}

// By hand: the source holds the listener's private key.
impl std::fmt::Debug for Keeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keeper")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl Keeper {
    pub(crate) fn signer(
        spec: &ListenerCert,
        signer: &SignerLink,
        key: ListenerKey,
        standby: Option<ListenerKey>,
        current: Arc<CurrentCert>,
        not_after: i64,
    ) -> Keeper {
        Keeper {
            spec: spec.clone(),
            current,
            not_after,
            source: Source::Signer {
                signer: signer.clone(),
                key,
                standby,
            },
        }
    }

    pub(crate) fn operator(
        spec: &ListenerCert,
        current: Arc<CurrentCert>,
        loaded: Loaded,
    ) -> Result<Keeper, String> {
        // Registered now, while the caller still runs: SIGHUP would otherwise end the daemon.
        let hangup = signal(SignalKind::hangup())
            .map_err(|e| format!("cannot listen for SIGHUP: {e}"))
            .map(Some)?;
        Ok(Keeper {
            spec: spec.clone(),
            current,
            not_after: loaded.not_after,
            source: Source::Operator {
                digest: loaded.digest,
                hangup,
            },
        })
    }
}

/// Keeps `keeper`'s listener certificate current, for ever. Renewed certificates are
/// recorded in `store`'s inventory as `daemon`'s listener (`now` is the daemon's clock).
pub async fn keep_current(
    keeper: Keeper,
    store: Store,
    daemon: &'static str,
    now: impl Fn() -> i64 + Send + 'static,
) {
    let Keeper {
        spec,
        current,
        mut not_after,
        source,
    } = keeper;
    match source {
        Source::Signer {
            signer,
            key: (spki, key),
            standby,
        } => {
            let mut issued_at = now();
            let mut due = renewal_due(issued_at, not_after);
            loop {
                tokio::time::sleep(secs(due - now())).await;
                match issue(&spec, &signer, &spki, &key).await {
                    Ok((issued, certified, summary)) => {
                        current.replace(certified);
                        issued_at = now();
                        not_after = summary.not_after;
                        due = renewal_due(issued_at, not_after);
                        tracing::info!(serial = %summary.serial, not_after = %rfc3339(not_after), renew_at = %rfc3339(due), "listener certificate renewed by the signer and served from the next handshake");
                        let mut renewed = vec![issued];
                        // The standby follows the main certificate: renewed on the same
                        // schedule (a failure leaves the one it has until the next renewal).
                        if let Some((standby_spki, standby_key)) = &standby {
                            match issue(&spec, &signer, standby_spki, standby_key).await {
                                Ok((issued, certified, summary)) => {
                                    current.replace_standby(certified);
                                    tracing::info!(serial = %summary.serial, "standby listener certificate renewed");
                                    renewed.push(issued);
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "the standby listener certificate could not be renewed; the one it has stays until the next renewal")
                                }
                            }
                        }
                        if let Some(profile) = &spec.profile {
                            for issued in &renewed {
                                if let Err(e) = crate::record_listener(
                                    &store, issued, profile, daemon, issued_at,
                                )
                                .await
                                {
                                    tracing::warn!(error = %e, "the renewed listener certificate is not in the inventory");
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let left = not_after - now();
                        due = now() + (left / 10).clamp(5, 300);
                        tracing::warn!(error = %e, seconds_left = left, retry_at = %rfc3339(due), "the listener certificate could not be renewed; the served one stays until it expires");
                    }
                }
            }
        }
        Source::Operator { mut digest, hangup } => {
            let mut hangup = hangup;
            let mut last_warned = None;
            loop {
                warn_of_expiry(&spec, not_after, now(), &mut last_warned);
                let woken_by_hangup = match hangup.as_mut() {
                    Some(h) => tokio::select! {
                        _ = tokio::time::sleep(RELOAD_CHECK) => false,
                        got = h.recv() => got.is_some(),
                    },
                    None => {
                        tokio::time::sleep(RELOAD_CHECK).await;
                        false
                    }
                };
                let read = operator_cert::read_files(&spec);
                match read {
                    Ok(files) if files.digest == digest => {
                        if woken_by_hangup {
                            tracing::info!("SIGHUP: the listener certificate files are unchanged");
                        }
                    }
                    Ok(files) => match operator_cert::parse(files) {
                        Ok(loaded) => {
                            current.replace(loaded.certified);
                            not_after = loaded.not_after;
                            digest = loaded.digest;
                            last_warned = None;
                            tracing::info!(certificate = %loaded.about, "the operator's listener certificate was reloaded and is served from the next handshake");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "the listener certificate files changed but fail a check; the previous certificate stays")
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "the listener certificate files cannot be read; the previous certificate stays")
                    }
                }
            }
        }
    }
}

/// When a certificate issued at `issued_at` that ends at `not_after` is renewed: two
/// thirds of the way, as ACME clients do by default.
fn renewal_due(issued_at: i64, not_after: i64) -> i64 {
    issued_at + (not_after - issued_at).max(0) * 2 / 3
}

fn secs(s: i64) -> Duration {
    Duration::from_secs(s.max(0) as u64)
}

/// Logs (at most hourly) that the operator's certificate expires soon or has expired.
fn warn_of_expiry(spec: &ListenerCert, not_after: i64, now: i64, last: &mut Option<i64>) {
    let window = spec.expiry_warning_days.saturating_mul(86_400) as i64;
    let left = not_after - now;
    if left > window || last.is_some_and(|t| now - t < WARN_EVERY_SECS) {
        return;
    }
    *last = Some(now);
    let file = spec
        .certificate_file
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if left <= 0 {
        tracing::error!(certificate_file = %file, not_after = %rfc3339(not_after), "the operator's listener certificate has expired: clients refuse it; replace the files (then SIGHUP, or wait a minute)");
    } else {
        tracing::warn!(certificate_file = %file, not_after = %rfc3339(not_after), days_left = left / 86_400, "the operator's listener certificate expires soon: renew it and replace the files");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_two_thirds_into_the_lifetime() {
        assert_eq!(renewal_due(1000, 1120), 1080);
        assert_eq!(renewal_due(0, 7 * 86_400), 4 * 86_400 + 57_600);
        // Already past notAfter (a clock jump): due at once.
        assert_eq!(renewal_due(2000, 1000), 2000);
    }
}
