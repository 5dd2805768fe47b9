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
use strongroom_signer_client::SignedCrl;
use strongroom_store::{StoredCrl, StoredOcsp};
use strongroom_types::{CaId, Serial};
use strongroom_wire::OcspSigningRequest;

/// One CRL a CA publishes: the whole CA or a shard, full or delta.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Scope {
    /// The CA.
    pub ca: CaId,
    /// The shard, when the CA's CRL is sharded.
    pub shard: Option<u32>,
    /// A delta CRL.
    pub delta: bool,
}

impl Scope {
    /// The scope's stored name (`full`, `delta`, `3`, `3-delta`).
    pub fn name(&self) -> String {
        strongroom_types::crl_scope::scope_name(self.shard, self.delta)
    }
}

/// CRL scopes that should be regenerated soon.
#[derive(Debug, Default)]
pub struct CrlQueue {
    pending: Mutex<BTreeSet<Scope>>,
    notify: tokio::sync::Notify,
}

impl CrlQueue {
    /// Asks for a new CRL of `scope` (debounced).
    pub fn request(&self, scope: Scope) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(scope);
        self.notify.notify_one();
    }

    fn take(&self) -> BTreeSet<Scope> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// How a CA publishes CRLs: (shards, deltas), as the signer holds it.
pub async fn crl_layout(app: &App, ca: &CaId) -> Result<(u32, bool), Problem> {
    Ok(app
        .signer
        .health()
        .await?
        .cas
        .iter()
        .find(|c| &c.id == ca)
        .map(|c| (c.crl_shards, c.delta_crl))
        .unwrap_or((0, false)))
}

/// Every full scope of a CA (one, or one per shard).
fn full_scopes(ca: &CaId, shards: u32) -> Vec<Scope> {
    if shards >= 2 {
        (1..=shards)
            .map(|k| Scope {
                ca: ca.clone(),
                shard: Some(k),
                delta: false,
            })
            .collect()
    } else {
        vec![Scope {
            ca: ca.clone(),
            shard: None,
            delta: false,
        }]
    }
}

/// What a revocation of `serial` makes stale: its scope's delta when the CA publishes
/// deltas (cheap, and what deltas are for), else its scope's full CRL.
pub async fn scope_of_revocation(app: &App, ca: &CaId, serial: &Serial) -> Result<Scope, Problem> {
    let (shards, delta) = crl_layout(app, ca).await?;
    Ok(Scope {
        ca: ca.clone(),
        shard: (shards >= 2).then(|| strongroom_types::crl_scope::shard_of(serial, shards)),
        delta,
    })
}

/// Has the signer sign one response per serial and stores them.
pub async fn presign(app: &App, ca: &CaId, serials: Vec<Serial>) -> Result<usize, Problem> {
    let mut stored = 0;
    for chunk in serials.chunks(1000) {
        let signed = app
            .signer
            .sign_ocsp_responses(OcspSigningRequest {
                ca: ca.clone(),
                serials: chunk.to_vec(),
                validity_secs: app.config.revocation.ocsp_validity_secs,
                sha256_cert_ids: false,
                combined: false,
                nonce: None,
            })
            .await?;
        let rows: Vec<StoredOcsp> = signed
            .into_iter()
            .map(|s| StoredOcsp {
                ca: ca.clone(),
                serial: s.serial,
                status: s.status.kind(),
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

/// Has the signer sign a fresh CRL of `scope` and stores it.
pub async fn regenerate_crl(app: &App, scope: &Scope) -> Result<i64, Problem> {
    let SignedCrl { der, number } = if scope.shard.is_none() && !scope.delta {
        app.signer.issue_crl(scope.ca.clone()).await?
    } else {
        app.signer
            .issue_crl_scope(scope.ca.clone(), scope.shard, scope.delta)
            .await?
    };
    let (this_update, next_update) =
        strongroom_x509::crl_window(&der).map_err(Problem::internal)?;
    let number = i64::try_from(number).map_err(Problem::internal)?;
    app.store
        .put_crl(&StoredCrl {
            ca: scope.ca.clone(),
            scope: scope.name(),
            number,
            der,
            this_update,
            next_update,
        })
        .await?;
    Ok(number)
}

/// Publishes a CA's CRLs: every full scope that is missing or past half its validity (all
/// of them with `force`), each followed by a fresh, empty delta when the CA publishes
/// deltas, so relying parties following FreshestCRL find one.
pub async fn publish_ca(app: &App, ca: &CaId, now: i64, force: bool) -> Result<(), Problem> {
    let (shards, delta) = crl_layout(app, ca).await?;
    for scope in full_scopes(ca, shards) {
        let stale = force
            || match app.store.latest_crl(ca, &scope.name()).await? {
                None => true,
                Some(c) => c.next_update - now < (c.next_update - c.this_update) / 2,
            };
        if stale {
            let n = regenerate_crl(app, &scope).await?;
            tracing::info!(ca = %ca, scope = %scope.name(), number = n, "CRL published");
            if delta {
                regenerate_crl(
                    app,
                    &Scope {
                        delta: true,
                        ..scope
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Regenerates requested CRLs, at most one per CA per debounce window.
pub async fn crl_loop(app: App) {
    let debounce = Duration::from_millis(app.config.revocation.crl_debounce_ms);
    loop {
        app.crl_queue.notify.notified().await;
        tokio::time::sleep(debounce).await;
        for scope in app.crl_queue.take() {
            match regenerate_crl(&app, &scope).await {
                Ok(n) => {
                    tracing::info!(ca = %scope.ca, scope = %scope.name(), number = n, "CRL regenerated after revocation")
                }
                Err(p) => {
                    tracing::warn!(ca = %scope.ca, scope = %scope.name(), detail = %p.detail, "CRL regeneration failed; retrying");
                    app.crl_queue.request(scope);
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
        publish_ca(app, &ca.id, now, false).await?;
    }
    Ok(())
}
