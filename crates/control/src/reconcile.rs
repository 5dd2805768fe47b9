//! Reconciling the inventory with the signer's journal: every certificate the signer
//! issued ends up in the inventory, also when whoever asked for it (the front at ACME
//! finalize, control's own issue route) stopped between the signer's answer and its
//! commit.
//!
//! In: the journal's `issued` records after the store's watermark (signer operation
//! `JournaledIssuances`), once at start, then every [`INTERVAL`], or now through
//! `POST /api/v1/system/reconcile`. Out: each certificate the inventory lacks recorded —
//! source `acme` when the `front` peer asked for it, `api` otherwise; owner
//! `journal:{peer}`; tag `reconciled` — with a `certificate.reconcile` audit event by
//! `system` and a warning in the log; the watermark moved past what was compared.
//!
//! Records younger than the grace period (default [`GRACE_SECS`]) are left for a later
//! pass: their requester may still be recording them, and recording them first would make
//! its own insert fail. An ACME order whose front stopped mid-finalize is failed by the
//! front's garbage collection after the same ten minutes; its certificate lands here.

use crate::app::App;
use crate::problem::Problem;
use std::time::Duration;
use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{AuditOutcome, CertificateSource, NewAuditEvent, NewCertificate};
use strongroom_wire::{JournaledIssuance, MAX_JOURNALED_ISSUANCES};

/// Pause between passes.
pub const INTERVAL: Duration = Duration::from_secs(300);

/// Default age a journal record must reach before a pass compares it.
pub const GRACE_SECS: i64 = 600;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// `issued` records compared with the inventory.
    pub compared: usize,
    /// Ids of the certificates it recorded.
    pub recorded: Vec<i64>,
    /// The watermark afterwards.
    pub watermark: u64,
}

/// Reconciles once at start and then every [`INTERVAL`].
pub async fn reconcile_loop(app: App) {
    loop {
        if let Err(p) = reconcile_once(&app, GRACE_SECS).await {
            tracing::warn!(detail = %p.detail, "journal reconciliation failed; retrying next interval");
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// One pass over the records older than `grace_secs`.
pub async fn reconcile_once(app: &App, grace_secs: i64) -> Result<Report, Problem> {
    let mut report = Report {
        watermark: app.store.journal_watermark().await?,
        ..Report::default()
    };
    let cutoff = app.now() - grace_secs;
    loop {
        let (records, read_through) = app
            .signer
            .journaled_issuances(report.watermark, MAX_JOURNALED_ISSUANCES)
            .await?;
        let full_page = records.len() == MAX_JOURNALED_ISSUANCES as usize;
        let ripe: Vec<&JournaledIssuance> = records.iter().take_while(|r| r.at <= cutoff).collect();
        // When every record returned is old enough, the watermark may pass the records read
        // after them that held nothing to compare (other kinds, issuances from before the
        // journal kept certificates), so the next pass does not read them again; otherwise
        // it stops at the last old-enough record.
        let through = if ripe.len() == records.len() {
            read_through
        } else {
            ripe.last().map_or(report.watermark, |r| r.seq)
        };
        if through <= report.watermark {
            return Ok(report);
        }
        let found = ripe
            .iter()
            .map(|r| certificate(r))
            .collect::<Result<Vec<_>, _>>()?;
        let recorded = app
            .store
            .reconcile_from_journal(&found, through, audit_event, app.now())
            .await?;
        if !recorded.is_empty() {
            tracing::warn!(certificates = ?recorded, journal_through = through, "certificates the signer issued were missing from the inventory; recorded them from the journal");
        }
        report.compared += ripe.len();
        report.recorded.extend(recorded);
        report.watermark = through;
        if ripe.len() < records.len() || !full_page {
            return Ok(report);
        }
    }
}

/// The inventory row for a journal record.
fn certificate(r: &JournaledIssuance) -> Result<NewCertificate, Problem> {
    record_issued(
        r,
        Provenance {
            profile: r.profile.clone(),
            source: if r.peer == "front" {
                CertificateSource::Acme
            } else {
                CertificateSource::Api
            },
            owner: format!("journal:{}", r.peer),
            team: None,
            tags: vec!["reconciled".into()],
            replaces: None,
        },
    )
    .map_err(|e| Problem::internal(format!("journal record {}: {e}", r.seq)))
}

fn audit_event(id: i64, c: &NewCertificate) -> NewAuditEvent {
    NewAuditEvent {
        actor: "system".into(),
        action: "certificate.reconcile".into(),
        target: format!("certificate:{id}"),
        outcome: AuditOutcome::Ok,
        detail: format!(
            "serial {} of {} was in the signer's journal but not in the inventory ({})",
            c.serial,
            c.issuer,
            c.owner.as_deref().unwrap_or("journal")
        ),
    }
}
