//! The listener certificate in the inventory.
//!
//! In: the certificate the signer issued for a daemon's HTTPS listener, the store. Out: an
//! inventory row (source `api`, owner `listener:{daemon}`, tag `listener`) and a
//! `certificate.issue` audit event by `system:{daemon}`, in one transaction. Every
//! certificate the signer issues belongs in the inventory — so it can be found, revoked
//! and watched for expiry — and control's journal reconciliation then finds nothing
//! missing after a restart. The row is `strongroom_signer_client::record_issued`'s, filed
//! under the CA the signer names; it waits up to 30 s for control to mirror that CA into
//! the store (a front starting beside control may get there first).

use strongroom_signer_client::{record_issued, Provenance};
use strongroom_store::{AuditOutcome, CertificateSource, NewAuditEvent, Store, StoreError};
use strongroom_types::ProfileName;
use strongroom_wire::IssuedCertificate;

/// Records `issued` (the listener certificate of `daemon`, issued under `profile`);
/// returns its inventory id.
pub async fn record_listener(
    store: &Store,
    issued: &IssuedCertificate,
    profile: &ProfileName,
    daemon: &str,
    now: i64,
) -> Result<i64, String> {
    let record = record_issued(
        issued,
        Provenance {
            profile: profile.to_string(),
            source: CertificateSource::Api,
            owner: format!("listener:{daemon}"),
            team: None,
            tags: vec!["listener".into()],
            replaces: None,
        },
    )
    .map_err(|e| e.to_string())?;
    // Control mirrors the signer's CAs into the store at start; a front starting beside it
    // may look first.
    let mut mirrored = false;
    for _ in 0..60 {
        match store.ca(&record.issuer).await {
            Ok(_) => {
                mirrored = true;
                break;
            }
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    if !mirrored {
        return Err(format!(
            "CA {}, which issued the listener certificate, is not in the store after 30 s (control mirrors it at start)",
            record.issuer
        ));
    }
    let event = |id: i64| NewAuditEvent {
        actor: format!("system:{daemon}"),
        action: "certificate.issue".into(),
        target: format!("certificate:{id}"),
        outcome: AuditOutcome::Ok,
        detail: format!(
            "listener certificate serial {} profile {profile} journal {}",
            record.serial, issued.journal_seq
        ),
    };
    store
        .insert_certificate_audited(&record, event, now)
        .await
        .map_err(|e| format!("recording the listener certificate: {e}"))
}
