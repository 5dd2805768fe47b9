//! Revocations the signer has recorded, per CA: the only source a CRL is built from, so a
//! compromised front cannot make the signer omit an entry.
//!
//! In: `RecordRevocation` requests from control. Out: the entry list for `IssueCrl`.
//! Stored as one line per revocation, `SERIAL REASON_CODE REVOKED_AT INVALIDITY|-`,
//! appended with fsync before the answer is sent.

use crate::state::{append_line_durable, StateDir};
use crate::Error;
use std::collections::{BTreeMap, HashMap};
use strongroom_types::{CaId, RevocationReason, Serial};
use strongroom_x509::CrlEntry;

/// Revocations of every CA.
#[derive(Debug, Default)]
pub struct RevocationStore {
    by_ca: HashMap<CaId, BTreeMap<Serial, CrlEntry>>,
    /// Serials in the order they were recorded (the log's order), for delta CRLs.
    order: HashMap<CaId, Vec<Serial>>,
}

fn parse_line(line: &str) -> Option<CrlEntry> {
    let mut parts = line.split(' ');
    let serial = parts.next()?.parse().ok()?;
    let reason = RevocationReason::from_code(parts.next()?.parse().ok()?)?;
    let revoked_at = parts.next()?.parse().ok()?;
    let invalidity_date = match parts.next()? {
        "-" => None,
        t => Some(t.parse().ok()?),
    };
    parts.next().is_none().then_some(CrlEntry {
        serial,
        revoked_at,
        reason,
        invalidity_date,
    })
}

impl RevocationStore {
    /// Loads the revocation logs of the given CAs. A malformed line is an error (the file
    /// is ours; damage must be looked at, not skipped).
    pub fn load(
        state: &StateDir,
        cas: impl Iterator<Item = CaId>,
    ) -> Result<RevocationStore, Error> {
        let mut by_ca = HashMap::new();
        let mut order: HashMap<CaId, Vec<Serial>> = HashMap::new();
        for ca in cas {
            let path = state.revocations(&ca);
            let mut entries = BTreeMap::new();
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    for (i, line) in text.lines().enumerate() {
                        let e = parse_line(line).ok_or_else(|| {
                            Error::file(
                                &path,
                                format_args!("line {}: malformed revocation record", i + 1),
                            )
                        })?;
                        if !entries.contains_key(&e.serial) {
                            order.entry(ca.clone()).or_default().push(e.serial.clone());
                        }
                        entries.insert(e.serial.clone(), e);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::file(&path, e)),
            }
            by_ca.insert(ca, entries);
        }
        Ok(RevocationStore { by_ca, order })
    }

    /// Records a revocation durably. Returns `true` when the serial was already revoked
    /// (the first record wins; retries are idempotent).
    pub fn record(&mut self, state: &StateDir, ca: &CaId, entry: CrlEntry) -> Result<bool, Error> {
        let entries = self.by_ca.entry(ca.clone()).or_default();
        if entries.contains_key(&entry.serial) {
            return Ok(true);
        }
        let line = format!(
            "{} {} {} {}",
            entry.serial,
            entry.reason.code(),
            entry.revoked_at,
            entry
                .invalidity_date
                .map_or("-".to_string(), |t| t.to_string())
        );
        let path = state.revocations(ca);
        append_line_durable(&path, &line)
            .map_err(|e| Error::file(&path, format_args!("cannot record revocation: {e}")))?;
        self.order
            .entry(ca.clone())
            .or_default()
            .push(entry.serial.clone());
        entries.insert(entry.serial.clone(), entry);
        Ok(false)
    }

    /// How many revocations of `ca` are recorded (a delta CRL's starting point).
    pub fn count(&self, ca: &CaId) -> usize {
        self.order.get(ca).map_or(0, Vec::len)
    }

    /// The revocations of `ca` recorded after the first `from` that `keep` accepts, in
    /// recording order.
    pub fn since(&self, ca: &CaId, from: usize, keep: impl Fn(&CrlEntry) -> bool) -> Vec<CrlEntry> {
        let (Some(order), Some(map)) = (self.order.get(ca), self.by_ca.get(ca)) else {
            return Vec::new();
        };
        order
            .iter()
            .skip(from)
            .filter_map(|s| map.get(s).filter(|e| keep(e)).cloned())
            .collect()
    }

    /// One revocation, if recorded.
    pub fn get(&self, ca: &CaId, serial: &strongroom_types::Serial) -> Option<CrlEntry> {
        self.by_ca.get(ca).and_then(|m| m.get(serial)).cloned()
    }

    /// The entries of one CA that `keep` accepts (one shard's, say), in serial order:
    /// filtered before they are copied, so a shard of a large CA copies only its own.
    pub fn entries(&self, ca: &CaId, keep: impl Fn(&CrlEntry) -> bool) -> Vec<CrlEntry> {
        self.by_ca
            .get(ca)
            .map(|m| m.values().filter(|e| keep(e)).cloned().collect())
            .unwrap_or_default()
    }
}
