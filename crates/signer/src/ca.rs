//! The CAs this signer holds keys for.
//!
//! In: `STATE/cas/ID/{ca.toml,cert.pem}` written by the ceremony. Out: a registry of
//! [`LoadedCa`]: the parsed certificate, its chain to the root, the URLs it writes into
//! what it issues, and (resolved lazily, because the HSM may be down at start-up) its key.
//! When a key is resolved its public key must equal the certificate's: a swapped token
//! object cannot make the signer sign with a key the certificate does not name.

use crate::state::{write_atomic, StateDir};
use crate::Error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use strongroom_hsm::{Hsm, HsmError, KeyRef, Pkcs11Uri};
use strongroom_types::{CaId, SignatureAlgorithm};
use strongroom_x509::CaCertificate;

/// The stored description of a CA (`ca.toml`). Stored format: add fields with defaults only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaRecord {
    /// The CA's id.
    pub id: CaId,
    /// Its key in the HSM.
    pub key_uri: String,
    /// How it signs.
    pub signature: SignatureAlgorithm,
    /// Its parent, `None` for a root.
    pub parent: Option<CaId>,
    /// CRL URL written into certificates it issues.
    #[serde(default)]
    pub crl_url: Option<String>,
    /// OCSP URL written into certificates it issues.
    #[serde(default)]
    pub ocsp_url: Option<String>,
    /// caIssuers URL (where its own certificate can be fetched) for certificates it issues.
    #[serde(default)]
    pub ca_issuers_url: Option<String>,
    /// CRL shards (0: one CRL); certificates name their shard's URL.
    #[serde(default)]
    pub crl_shards: u32,
    /// Whether delta CRLs are published.
    #[serde(default)]
    pub delta_crl: bool,
}

/// A CA ready for use.
#[derive(Debug)]
pub struct LoadedCa {
    /// Stored description.
    pub record: CaRecord,
    /// Its certificate.
    pub cert: CaCertificate,
    /// DER certificates: this CA first, then each parent up to the root.
    pub chain: Vec<Vec<u8>>,
    key: Mutex<Option<KeyRef>>,
}

impl LoadedCa {
    /// The CA's key, looked up in the HSM on first use and checked against the certificate.
    pub fn key(&self, hsm: &Hsm) -> Result<KeyRef, HsmError> {
        let mut cached = self.key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cached.as_ref() {
            return Ok(k.clone());
        }
        let uri: Pkcs11Uri =
            self.record
                .key_uri
                .parse()
                .map_err(|e: HsmError| HsmError::BadRequest {
                    detail: format!("CA {}: {e}", self.record.id),
                })?;
        let key = hsm.find_key(&uri)?;
        if key.public_key_der != self.cert.public_key_der {
            return Err(HsmError::BadRequest {
                detail: format!(
                    "CA {}: the key at {} does not match the CA certificate's public key",
                    self.record.id, self.record.key_uri
                ),
            });
        }
        *cached = Some(key.clone());
        Ok(key)
    }
}

/// All CAs, by id. CAs are added while the signer runs (`CreateCa`); none is removed.
#[derive(Debug, Default)]
pub struct CaRegistry {
    cas: RwLock<BTreeMap<CaId, Arc<LoadedCa>>>,
}

impl CaRegistry {
    /// Loads every CA under `STATE/cas`.
    pub fn load(state: &StateDir) -> Result<CaRegistry, Error> {
        let mut records = BTreeMap::new();
        let dir = state.cas();
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::file(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::file(&dir, e))?;
            if !entry.path().join("ca.toml").exists() {
                continue;
            }
            let (record, cert) = read_ca(&entry.path())?;
            records.insert(record.id.clone(), (record, cert));
        }
        let mut cas = BTreeMap::new();
        for (id, (record, cert)) in &records {
            let mut chain = vec![cert.der.clone()];
            let mut parent = record.parent.clone();
            while let Some(p) = parent {
                let (prec, pcert) = records.get(&p).ok_or_else(|| {
                    Error::CaRegistry(format!(
                        "CA {id}: parent {p} is missing from {}",
                        dir.display()
                    ))
                })?;
                if chain.len() > 8 {
                    return Err(Error::CaRegistry(format!(
                        "CA {id}: parent chain is too long or cyclic"
                    )));
                }
                chain.push(pcert.der.clone());
                parent = prec.parent.clone();
            }
            cas.insert(
                id.clone(),
                Arc::new(LoadedCa {
                    record: record.clone(),
                    cert: cert.clone(),
                    chain,
                    key: Mutex::new(None),
                }),
            );
        }
        Ok(CaRegistry {
            cas: RwLock::new(cas),
        })
    }

    fn map(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<CaId, Arc<LoadedCa>>> {
        self.cas.read().unwrap_or_else(|p| p.into_inner())
    }

    /// A CA by id.
    pub fn get(&self, id: &CaId) -> Option<Arc<LoadedCa>> {
        self.map().get(id).cloned()
    }

    /// Every CA, by id.
    pub fn iter(&self) -> std::vec::IntoIter<Arc<LoadedCa>> {
        self.map().values().cloned().collect::<Vec<_>>().into_iter()
    }

    /// Whether a CA exists.
    pub fn contains(&self, id: &CaId) -> bool {
        self.map().contains_key(id)
    }

    /// Loads a CA that a live ceremony just stored and makes it usable at once. Its parent
    /// must already be loaded.
    pub fn add_stored(&self, state: &StateDir, id: &CaId) -> Result<Arc<LoadedCa>, Error> {
        let (record, cert) = read_ca(&state.ca(id))?;
        let mut chain = vec![cert.der.clone()];
        if let Some(p) = &record.parent {
            let parent = self
                .get(p)
                .ok_or_else(|| Error::CaRegistry(format!("CA {id}: parent {p} is not loaded")))?;
            chain.extend(parent.chain.iter().cloned());
        }
        let ca = Arc::new(LoadedCa {
            record,
            cert,
            chain,
            key: Mutex::new(None),
        });
        let mut map = self.cas.write().unwrap_or_else(|p| p.into_inner());
        if map.contains_key(id) {
            return Err(Error::CaRegistry(format!("CA {id} already exists")));
        }
        map.insert(id.clone(), ca.clone());
        Ok(ca)
    }
}

fn read_ca(dir: &std::path::Path) -> Result<(CaRecord, CaCertificate), Error> {
    let toml_path = dir.join("ca.toml");
    let text = std::fs::read_to_string(&toml_path).map_err(|e| Error::file(&toml_path, e))?;
    let record: CaRecord = toml::from_str(&text).map_err(|e| Error::file(&toml_path, e))?;
    let pem_path = dir.join("cert.pem");
    let pem = std::fs::read_to_string(&pem_path).map_err(|e| Error::file(&pem_path, e))?;
    let (label, der) =
        der::pem::decode_vec(pem.as_bytes()).map_err(|e| Error::file(&pem_path, e))?;
    if label != "CERTIFICATE" {
        return Err(Error::file(&pem_path, "expected a CERTIFICATE PEM block"));
    }
    let cert = CaCertificate::from_der(&der).map_err(|e| Error::file(&pem_path, e))?;
    Ok((record, cert))
}

/// Writes a new CA's directory: certificate first, record last, so a crash in between
/// leaves no `ca.toml` and the half-made CA is ignored at load.
pub fn store_ca(
    state: &StateDir,
    record: &CaRecord,
    cert_der: &[u8],
    transcript: &str,
) -> Result<(), Error> {
    let dir = state.ca(&record.id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, e))?;
    let io = |e: std::io::Error| Error::file(&dir, e);
    write_atomic(
        &dir.join("cert.pem"),
        strongroom_x509::to_pem("CERTIFICATE", cert_der).as_bytes(),
        0o644,
    )
    .map_err(io)?;
    write_atomic(&dir.join("transcript.txt"), transcript.as_bytes(), 0o644).map_err(io)?;
    let text = toml::to_string(record).map_err(|e| Error::file(&dir, e))?;
    write_atomic(&dir.join("ca.toml"), text.as_bytes(), 0o600).map_err(io)
}
