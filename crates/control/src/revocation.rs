//! Keeping revocation data fresh for the front: a pre-signed OCSP response for every
//! certificate (signed at issuance, re-signed at once on revocation and before nextUpdate)
//! and each CA's CRL (regenerated shortly after revocations — several revocations within
//! the debounce window make one CRL — and before nextUpdate).
//!
//! In: issuance and revocation events from the handlers; a timer. Out: rows in the store's
//! `ocsp_responses` and `crls`, all signed by the signer from its own records.

use crate::app::App;
use crate::problem::Problem;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;
use strongroom_store::{StoredCrl, StoredOcsp};
use strongroom_types::{CaId, Serial};
use strongroom_wire::{OcspSigningRequest, OcspStatus, Request, Response};

/// CAs whose CRL should be regenerated soon.
#[derive(Debug, Default)]
pub struct CrlQueue {
    pending: Mutex<BTreeSet<CaId>>,
    notify: tokio::sync::Notify,
}

impl CrlQueue {
    /// Asks for a new CRL of `ca` (debounced).
    pub fn request(&self, ca: &CaId) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(ca.clone());
        self.notify.notify_one();
    }

    fn take(&self) -> BTreeSet<CaId> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

fn status_name(s: &OcspStatus) -> &'static str {
    match s {
        OcspStatus::Good => "good",
        OcspStatus::Revoked { .. } => "revoked",
        OcspStatus::Unknown => "unknown",
    }
}

/// Has the signer sign one response per serial and stores them.
pub async fn presign(app: &App, ca: &CaId, serials: Vec<Serial>) -> Result<usize, Problem> {
    let mut stored = 0;
    for chunk in serials.chunks(1000) {
        let request = Request::SignOcspResponses(OcspSigningRequest {
            ca: ca.clone(),
            serials: chunk.to_vec(),
            validity_secs: app.config.revocation.ocsp_validity_secs,
            sha256_cert_ids: false,
            combined: false,
            nonce: None,
        });
        let signed = match app.signer.call(request).await? {
            Response::OcspResponses(r) => r,
            other => {
                return Err(Problem::internal(format!(
                    "unexpected signer answer {other:?}"
                )))
            }
        };
        let rows: Vec<StoredOcsp> = signed
            .into_iter()
            .map(|s| StoredOcsp {
                ca: ca.clone(),
                serial: s.serial,
                status: status_name(&s.status).into(),
                der: s.der,
                this_update: s.this_update,
                next_update: s.next_update,
            })
            .collect();
        stored += rows.len();
        app.store.put_ocsp_responses(&rows).await?;
    }
    Ok(stored)
}

/// Has the signer sign a fresh CRL of `ca` and stores it.
pub async fn regenerate_crl(app: &App, ca: &CaId) -> Result<i64, Problem> {
    let (der, number) = match app
        .signer
        .call(Request::IssueCrl { ca: ca.clone() })
        .await?
    {
        Response::Crl { der, number } => (der, number),
        other => {
            return Err(Problem::internal(format!(
                "unexpected signer answer {other:?}"
            )))
        }
    };
    let (this_update, next_update) =
        strongroom_x509::crl_window(&der).map_err(Problem::internal)?;
    let number = i64::try_from(number).map_err(Problem::internal)?;
    app.store
        .put_crl(&StoredCrl {
            ca: ca.clone(),
            number,
            der,
            this_update,
            next_update,
        })
        .await?;
    Ok(number)
}

/// Regenerates requested CRLs, at most one per CA per debounce window.
pub async fn crl_loop(app: App) {
    let debounce = Duration::from_millis(app.config.revocation.crl_debounce_ms);
    loop {
        app.crl_queue.notify.notified().await;
        tokio::time::sleep(debounce).await;
        for ca in app.crl_queue.take() {
            match regenerate_crl(&app, &ca).await {
                Ok(n) => tracing::info!(ca = %ca, number = n, "CRL regenerated after revocation"),
                Err(p) => {
                    tracing::warn!(ca = %ca, detail = %p.detail, "CRL regeneration failed; retrying");
                    app.crl_queue.request(&ca);
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }
}

/// Once at start and then every `refresh_interval_secs`: re-sign responses past half
/// their validity, and regenerate CRLs missing or past half theirs.
pub async fn refresh_loop(app: App) {
    let every = Duration::from_secs(app.config.revocation.refresh_interval_secs);
    loop {
        if let Err(p) = refresh_once(&app).await {
            tracing::warn!(detail = %p.detail, "revocation refresh failed; retrying next interval");
        }
        tokio::time::sleep(every).await;
    }
}

/// One refresh pass (also called by tests through the loop's first iteration).
pub async fn refresh_once(app: &App) -> Result<(), Problem> {
    let now = app.now();
    let margin = i64::from(app.config.revocation.ocsp_validity_secs) / 2;
    loop {
        let due = app.store.ocsp_due(now + margin, 5000).await?;
        if due.is_empty() {
            break;
        }
        let mut by_ca: BTreeMap<CaId, Vec<Serial>> = BTreeMap::new();
        for (ca, serial) in due {
            by_ca.entry(ca).or_default().push(serial);
        }
        for (ca, serials) in by_ca {
            let n = presign(app, &ca, serials).await?;
            tracing::info!(ca = %ca, responses = n, "OCSP responses re-signed");
        }
    }
    for ca in app.store.cas().await? {
        let stale = match app.store.latest_crl(&ca.id).await? {
            None => true,
            Some(c) => c.next_update - now < (c.next_update - c.this_update) / 2,
        };
        if stale {
            let n = regenerate_crl(app, &ca.id).await?;
            tracing::info!(ca = %ca.id, number = n, "CRL refreshed");
        }
    }
    Ok(())
}
