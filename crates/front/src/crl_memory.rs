//! Each CA's newest CRL of each scope, kept in memory for a few seconds so the CRL route
//! is a hash lookup.
//!
//! In: the store's CRLs. Out: [`CachedCrl`] for `/crl/…`; the last copy when the store
//! cannot be read.

use crate::app::App;
use std::sync::Arc;
use std::time::{Duration, Instant};
use strongroom_types::CaId;

/// How long a CRL copy is served before the store is asked for a newer one.
const CRL_CACHE_FOR: Duration = Duration::from_secs(5);

/// A CRL in memory.
#[derive(Debug, Clone)]
pub struct CachedCrl {
    /// cRLNumber.
    pub number: i64,
    /// DER.
    pub der: Arc<Vec<u8>>,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: i64,
    fetched: Instant,
}

impl App {
    /// The newest CRL of one scope of a CA (`full`, `delta`, `3`, `3-delta`), re-read from
    /// the store every few seconds.
    pub async fn crl(&self, ca: &CaId, scope: &str) -> Option<CachedCrl> {
        let key = (ca.clone(), scope.to_string());
        if let Some(c) = self
            .crls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if c.fetched.elapsed() < CRL_CACHE_FOR {
                return Some(c.clone());
            }
        }
        match self.store.latest_crl(ca, scope).await {
            Ok(Some(s)) => {
                let c = CachedCrl {
                    number: s.number,
                    der: Arc::new(s.der),
                    this_update: s.this_update,
                    next_update: s.next_update,
                    fetched: Instant::now(),
                };
                self.crls
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, c.clone());
                Some(c)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the CRL; serving the last copy");
                self.crls
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(&key)
                    .cloned()
            }
        }
    }
}
