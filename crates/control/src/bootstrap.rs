//! First start and every start: mirror the signer's CAs into the store, import profiles
//! into an empty store, create the first admin and the sealed break-glass account, and the
//! configured EST user when it does not exist.
//!
//! In: the configuration, the store, the signer. Out: a store that control can serve from.
//! Passwords are read from (or written to) 0400 files and never logged.

use crate::config::Config;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use strongroom_httpd::password::hash_password;
use strongroom_signer_client::SignerLink;
use strongroom_store::{CaRecord, CaState, Role, Store, StoreError};
use strongroom_types::{CaId, Policy};
use zeroize::Zeroizing;

/// The break-glass account's name.
pub const BREAK_GLASS: &str = "break-glass";

/// Inserts every CA the signer has that the store lacks (parents first).
pub async fn sync_cas(store: &Store, signer: &SignerLink, now: i64) -> Result<usize, String> {
    let health = signer.health().await.map_err(|e| e.to_string())?;
    let mut chains: Vec<(CaId, String, Vec<Vec<u8>>)> = Vec::new();
    for ca in &health.cas {
        let chain = signer
            .ca_chain(ca.id.clone())
            .await
            .map_err(|e| e.to_string())?;
        chains.push((ca.id.clone(), ca.subject.clone(), chain));
    }
    chains.sort_by_key(|(_, _, chain)| chain.len());
    let mut added = 0;
    for (id, subject, chain) in &chains {
        match store.ca(id).await {
            Ok(_) => continue,
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
        let der = chain
            .first()
            .ok_or_else(|| format!("CA {id}: empty chain"))?;
        let parsed =
            strongroom_x509::CaCertificate::from_der(der).map_err(|e| format!("CA {id}: {e}"))?;
        let parent = chain.get(1).and_then(|p| {
            chains
                .iter()
                .find(|(_, _, c)| c.first() == Some(p))
                .map(|(pid, _, _)| pid.clone())
        });
        store
            .insert_ca(
                &CaRecord {
                    id: id.clone(),
                    parent,
                    subject: subject.clone(),
                    state: CaState::Active,
                    not_before: parsed.not_before,
                    not_after: parsed.not_after,
                    cert_der: der.clone(),
                },
                now,
            )
            .await
            .map_err(|e| format!("CA {id}: {e}"))?;
        added += 1;
    }
    Ok(added)
}

/// Imports the policy file's profiles when the store has none; returns how many. Every
/// enroller may use them (`enrollers = ["*"]`); no approvals (change them in the API).
pub async fn import_profiles(
    config: &Config,
    store: &Store,
    now: i64,
) -> Result<Option<Policy>, String> {
    let Some(path) = &config.bootstrap.policy_file else {
        return Ok(None);
    };
    if !store
        .profiles()
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let policy: Policy = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    policy
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for p in &policy.profiles {
        store
            .put_profile(p, 0, &["*".to_string()], now)
            .await
            .map_err(|e| format!("profile {}: {e}", p.name))?;
    }
    Ok(Some(policy))
}

fn read_secret_file(path: &std::path::Path) -> Result<Zeroizing<String>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is readable by group or others; chmod 0400 it",
            path.display()
        ));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    );
    Ok(Zeroizing::new(
        text.trim_end_matches(['\n', '\r']).to_string(),
    ))
}

/// Creates the first admin and the break-glass account when there are no users.
pub async fn first_users(config: &Config, store: &Store, now: i64) -> Result<bool, String> {
    if !store.users().await.map_err(|e| e.to_string())?.is_empty() {
        return Ok(false);
    }
    let admin_file = config.bootstrap.admin_password_file.as_ref().ok_or(
        "the store has no users: set bootstrap.admin_password_file to a 0400 file holding the first admin password",
    )?;
    let password = read_secret_file(admin_file)?;
    crate::auth::check_password_strength(&password)
        .map_err(|p| format!("{}: {}", admin_file.display(), p.detail))?;
    let hash = hash_password(&password)?;
    store
        .insert_user("admin", &hash, &[Role::Admin], false, now)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(path) = &config.bootstrap.break_glass_file {
        let mut raw = Zeroizing::new([0u8; 24]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw[..])
            .map_err(|_| "no randomness for the break-glass password".to_string())?;
        let secret = Zeroizing::new(hex::encode(&raw[..]));
        let hash = hash_password(&secret)?;
        // create_new: never overwrite an envelope that already exists.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o400)
            .open(path)
            .map_err(|e| format!("cannot create the break-glass file {}: {e}", path.display()))?;
        f.write_all(format!("{BREAK_GLASS}\n{}\n", secret.as_str()).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        store
            .insert_user(BREAK_GLASS, &hash, &[Role::Admin], true, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(true)
}

/// Creates `[bootstrap.est_user]` when the store lacks it; true when it was created now.
/// An existing user keeps its password (change it through the API).
pub async fn est_user(config: &Config, store: &Store, now: i64) -> Result<bool, String> {
    let Some(spec) = &config.bootstrap.est_user else {
        return Ok(false);
    };
    let username = std::fs::read_to_string(&spec.username_file)
        .map_err(|e| format!("cannot read {}: {e}", spec.username_file.display()))?;
    let username = username.trim_end_matches(['\n', '\r']);
    match store.est_user(&spec.label, username).await {
        Ok(_) => return Ok(false),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(format!("EST user {username} of label {}: {e}", spec.label)),
    }
    let password = read_secret_file(&spec.password_file)?;
    crate::auth::check_password_strength(&password)
        .map_err(|p| format!("{}: {}", spec.password_file.display(), p.detail))?;
    let hash = hash_password(&password)?;
    store
        .create_est_user(&spec.label, username, &hash, "bootstrap", now)
        .await
        .map_err(|e| format!("EST user {username} of label {}: {e}", spec.label))?;
    Ok(true)
}
