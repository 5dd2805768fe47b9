//! The listener certificate in the inventory.
//!
//! In: the certificate the signer issued for a daemon's HTTPS listener, the store. Out: an
//! inventory row (source `api`, owner `listener:{daemon}`, tag `listener`) and a
//! `certificate.issue` audit event by `system:{daemon}`, in one transaction. Every
//! certificate the signer issues belongs in the inventory — so it can be found, revoked
//! and watched for expiry — and control's journal reconciliation then finds nothing
//! missing after a restart. Waits up to 30 s for control to mirror the issuing CA.

use strongroom_store::{AuditOutcome, CertificateSource, NewAuditEvent, NewCertificate, Store};
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
    let head = issued
        .chain
        .first()
        .ok_or("the signer returned the listener certificate without a chain")?;
    // Control mirrors the signer's CAs into the store at start; a front starting beside it
    // may look first.
    let mut issuer = None;
    for _ in 0..60 {
        issuer = store
            .cas()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|c| &c.cert_der == head)
            .map(|c| c.id);
        if issuer.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let issuer = issuer.ok_or(
        "the CA that issued the listener certificate is not in the store after 30 s (control mirrors it at start)",
    )?;
    let s =
        strongroom_x509::CertificateSummary::from_der(&issued.der).map_err(|e| e.to_string())?;
    let record = NewCertificate {
        issuer,
        serial: s.serial.clone(),
        profile: Some(profile.to_string()),
        subject_cn: s.subject_cn,
        names: s.names,
        not_before: s.not_before,
        not_after: s.not_after,
        fingerprint: s.fingerprint,
        der: issued.der.clone(),
        source: CertificateSource::Api,
        owner: Some(format!("listener:{daemon}")),
        team: None,
        tags: vec!["listener".into()],
        replaces: None,
    };
    let event = |id: i64| NewAuditEvent {
        actor: format!("system:{daemon}"),
        action: "certificate.issue".into(),
        target: format!("certificate:{id}"),
        outcome: AuditOutcome::Ok,
        detail: format!(
            "listener certificate serial {} profile {profile} journal {}",
            s.serial, issued.journal_seq
        ),
    };
    store
        .insert_certificate_audited(&record, event, now)
        .await
        .map_err(|e| format!("recording the listener certificate: {e}"))
}
