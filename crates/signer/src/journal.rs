//! The issuance journal: append-only, hash-chained, fsync'd before anything is returned.
//!
//! In: records (intent, outcome, policy, revocation, CRL, ceremony) as JSON values. Out:
//! sequence numbers, and durability: [`Journal::sync_through`] returns only when the
//! record is on disk. Concurrent callers share one `fdatasync` (group commit), so the
//! journal does not serialise issuance behind one fsync per certificate.
//!
//! Stored format (a stored contract — change it only with a version bump): one record per
//! line, `HASH JSON\n`, where JSON is `{"seq":N,"prev":HEX,"at":UNIX,"kind":K,"body":{..}}`
//! and HASH = hex(SHA-256(prev hash bytes ‖ JSON bytes)). The first record's prev is 32
//! zero bytes. Editing, deleting or reordering any record breaks the chain at that record.

use crate::Error;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Summary of a verified journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSummary {
    /// Number of records.
    pub records: u64,
    /// Hash of the last record (the head), hex.
    pub head: String,
    /// Bytes of a torn final line that recovery dropped (0 when the file was clean).
    pub torn_tail_bytes: u64,
}

/// The stored record shape; field order is part of the stored format.
#[derive(Serialize)]
struct RecordOut<'a, B: Serialize> {
    seq: u64,
    prev: &'a str,
    at: i64,
    kind: &'a str,
    body: &'a B,
}

struct State {
    file: File,
    seq: u64,
    head: [u8; 32],
    synced_seq: u64,
    syncing: bool,
    failed: Option<String>,
}

/// The open journal.
pub struct Journal {
    path: PathBuf,
    state: Mutex<State>,
    /// A second descriptor for the same file, so the group-commit leader can fsync
    /// without holding the lock (and without a dup() per commit).
    sync_handle: File,
    synced: Condvar,
    /// How long each fdatasync took.
    sync_latency: strongroom_wire::LatencyRecorder,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

fn record_hash(prev: &[u8; 32], json: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(json);
    h.finalize().into()
}

/// Checks one line against the running chain; returns the new head.
fn check_line(
    line_no: u64,
    line: &str,
    expect_seq: u64,
    prev: &[u8; 32],
) -> Result<[u8; 32], Error> {
    let broken = |why: String| Error::JournalBroken { line: line_no, why };
    let (hash_hex, json) = line
        .split_once(' ')
        .ok_or_else(|| broken("no hash field".into()))?;
    let value: Value = serde_json::from_str(json).map_err(|e| broken(format!("not JSON: {e}")))?;
    let seq = value
        .get("seq")
        .and_then(Value::as_u64)
        .ok_or_else(|| broken("no seq".into()))?;
    if seq != expect_seq {
        return Err(broken(format!(
            "sequence {seq}, expected {expect_seq} (record missing or reordered)"
        )));
    }
    let prev_field = value
        .get("prev")
        .and_then(Value::as_str)
        .ok_or_else(|| broken("no prev".into()))?;
    if prev_field != hex::encode(prev) {
        return Err(broken(
            "prev does not match the previous record's hash".into(),
        ));
    }
    let hash = record_hash(prev, json.as_bytes());
    if hash_hex != hex::encode(hash) {
        return Err(broken(
            "record hash mismatch (the record was edited)".into(),
        ));
    }
    Ok(hash)
}

/// Verifies a whole journal file. A final line without its newline is a torn write from a
/// crash: it is reported in `torn_tail_bytes`, not as tampering.
pub fn verify_file(path: &Path) -> Result<JournalSummary, Error> {
    let (summary, _) = scan(path)?;
    Ok(summary)
}

/// The serials this journal records as issued, with their CA (from each `issued` record's
/// `intent`). Read once at start for OCSP: a serial the signer never issued is `unknown`.
pub fn issued_serials(
    path: &Path,
) -> Result<std::collections::HashMap<strongroom_types::Serial, strongroom_types::CaId>, Error> {
    use std::collections::HashMap;
    let mut out = HashMap::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::JournalIo(format!("{}: {e}", path.display()))),
    };
    let mut intents: HashMap<u64, (String, String)> = HashMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::JournalIo(e.to_string()))?;
        let Some((_, json)) = line.split_once(' ') else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        let body = &v["body"];
        match v["kind"].as_str() {
            Some("intent") => {
                if let (Some(seq), Some(ca), Some(serial)) = (
                    v["seq"].as_u64(),
                    body["ca"].as_str(),
                    body["serial"].as_str(),
                ) {
                    intents.insert(seq, (ca.to_string(), serial.to_string()));
                }
            }
            Some("issued") => {
                if let Some((ca, serial)) = body["intent"].as_u64().and_then(|i| intents.remove(&i))
                {
                    if let (Ok(ca), Ok(serial)) = (ca.parse(), serial.parse()) {
                        out.insert(serial, ca);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Returns the summary and the byte length of the verified prefix.
fn scan(path: &Path) -> Result<(JournalSummary, u64), Error> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((
                JournalSummary {
                    records: 0,
                    head: hex::encode([0u8; 32]),
                    torn_tail_bytes: 0,
                },
                0,
            ))
        }
        Err(e) => return Err(Error::JournalIo(format!("{}: {e}", path.display()))),
    };
    let mut reader = BufReader::new(file);
    let mut head = [0u8; 32];
    let mut seq = 0u64;
    let mut good_len = 0u64;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::JournalIo(e.to_string()))?;
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') {
            let summary = JournalSummary {
                records: seq,
                head: hex::encode(head),
                torn_tail_bytes: n as u64,
            };
            return Ok((summary, good_len));
        }
        let line = std::str::from_utf8(&buf[..n - 1]).map_err(|_| Error::JournalBroken {
            line: seq + 1,
            why: "not UTF-8".into(),
        })?;
        head = check_line(seq + 1, line, seq + 1, &head)?;
        seq += 1;
        good_len += n as u64;
    }
    Ok((
        JournalSummary {
            records: seq,
            head: hex::encode(head),
            torn_tail_bytes: 0,
        },
        good_len,
    ))
}

/// One writer per journal: a second signer, or a ceremony while the signer runs, would
/// fork the chain. The lock dies with the process.
fn lock_exclusive(file: &File, path: &Path) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a live file descriptor owned by `file`; no memory is passed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        return Err(Error::JournalIo(format!(
            "{} is in use by another process (is strongroom-signer running? stop it before a ceremony)",
            path.display()
        )));
    }
    Ok(())
}

impl Journal {
    /// Opens (or creates) the journal, verifying the whole chain. A torn final line is
    /// cut off (it was never acknowledged: acknowledgement follows fsync); a broken chain
    /// refuses to open.
    pub fn open(path: &Path) -> Result<Journal, Error> {
        let (summary, good_len) = scan(path)?;
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::JournalIo(format!("{}: {e}", path.display())))?;
        lock_exclusive(&file, path)?;
        if created {
            // Power loss after the first acknowledged record must not take the file with
            // it: its directory entry is durable only once the directory is fsynced.
            crate::state::sync_parent(path)
                .map_err(|e| Error::JournalIo(format!("{}: {e}", path.display())))?;
        }
        if summary.torn_tail_bytes > 0 {
            tracing::warn!(
                bytes = summary.torn_tail_bytes,
                "journal: dropping a torn final record left by a crash"
            );
            file.set_len(good_len)
                .map_err(|e| Error::JournalIo(e.to_string()))?;
            file.sync_all()
                .map_err(|e| Error::JournalIo(e.to_string()))?;
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::JournalIo(e.to_string()))?;
        let mut head = [0u8; 32];
        hex::decode_to_slice(&summary.head, &mut head)
            .map_err(|e| Error::JournalIo(e.to_string()))?;
        let sync_handle = file
            .try_clone()
            .map_err(|e| Error::JournalIo(e.to_string()))?;
        Ok(Journal {
            path: path.to_path_buf(),
            sync_handle,
            state: Mutex::new(State {
                file,
                seq: summary.records,
                head,
                synced_seq: summary.records,
                syncing: false,
                failed: None,
            }),
            synced: Condvar::new(),
            sync_latency: strongroom_wire::LatencyRecorder::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written line in memory: the
        // line is written with one write_all. Continue with the inner state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a record (buffered in the kernel, not yet durable) and returns its sequence
    /// number. Call [`Journal::sync_through`] before acting on durability.
    pub fn append<B: Serialize>(&self, at: i64, kind: &str, body: &B) -> Result<u64, Error> {
        let mut st = self.lock();
        if let Some(e) = &st.failed {
            return Err(Error::JournalIo(format!(
                "journal is failed and refuses writes: {e}"
            )));
        }
        let seq = st.seq + 1;
        let prev = hex::encode(st.head);
        let record = RecordOut {
            seq,
            prev: &prev,
            at,
            kind,
            body,
        };
        let json = serde_json::to_string(&record)
            .map_err(|e| Error::JournalIo(format!("cannot encode a journal record: {e}")))?;
        let hash = record_hash(&st.head, json.as_bytes());
        let line = format!("{} {}\n", hex::encode(hash), json);
        if let Err(e) = st.file.write_all(line.as_bytes()) {
            // A partial write would leave a torn line; refuse all further writes so the
            // tear stays at the tail, where recovery on restart cuts it.
            st.failed = Some(e.to_string());
            return Err(Error::JournalIo(e.to_string()));
        }
        st.seq = seq;
        st.head = hash;
        Ok(seq)
    }

    /// Waits until every record up to `seq` is on stable storage. One caller runs
    /// `fdatasync` for everyone waiting (group commit).
    pub fn sync_through(&self, seq: u64) -> Result<(), Error> {
        let mut st = self.lock();
        loop {
            if let Some(e) = &st.failed {
                return Err(Error::JournalIo(format!("journal sync failed: {e}")));
            }
            if st.synced_seq >= seq {
                return Ok(());
            }
            if st.syncing {
                st = self.synced.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.syncing = true;
            let target = st.seq;
            drop(st);
            // fdatasync covers the file, whichever descriptor it goes through.
            let started = std::time::Instant::now();
            let result = self.sync_handle.sync_data();
            self.sync_latency.observe(started.elapsed());
            st = self.lock();
            st.syncing = false;
            match result {
                Ok(()) => st.synced_seq = st.synced_seq.max(target),
                Err(e) => st.failed = Some(e.to_string()),
            }
            self.synced.notify_all();
        }
    }

    /// Appends and waits for durability.
    pub fn append_durable<B: Serialize>(
        &self,
        at: i64,
        kind: &str,
        body: &B,
    ) -> Result<u64, Error> {
        let seq = self.append(at, kind, body)?;
        self.sync_through(seq)?;
        Ok(seq)
    }

    /// The fdatasync latencies so far.
    pub fn sync_latency(&self) -> strongroom_wire::LatencySnapshot {
        self.sync_latency.snapshot()
    }

    /// Number of records written.
    pub fn records(&self) -> u64 {
        self.lock().seq
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn chain_survives_reopen_and_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let j = Journal::open(&path).unwrap();
        for i in 0..10 {
            j.append_durable(i, "intent", &json!({"n": i})).unwrap();
        }
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.records(), 10);
        j.append_durable(11, "issued", &json!({})).unwrap();
        assert_eq!(verify_file(&path).unwrap().records, 11);

        // Flip one byte inside record 5's body.
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replacen("{\"n\":4}", "{\"n\":5}", 1);
        assert_ne!(text, edited);
        std::fs::write(&path, &edited).unwrap();
        match verify_file(&path) {
            Err(Error::JournalBroken { line, .. }) => assert_eq!(line, 5),
            other => panic!("edit not detected: {other:?}"),
        }
        assert!(Journal::open(&path).is_err());

        // Delete a record.
        let lines: Vec<&str> = text.lines().collect();
        let deleted = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, l)| format!("{l}\n"))
            .collect::<String>();
        std::fs::write(&path, deleted).unwrap();
        assert!(matches!(
            verify_file(&path),
            Err(Error::JournalBroken { line: 4, .. })
        ));
    }

    #[test]
    fn torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let j = Journal::open(&path).unwrap();
        j.append_durable(1, "a", &json!({})).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        let torn = b"deadbeef {\"seq\":2";
        f.write_all(torn).unwrap();
        assert_eq!(
            verify_file(&path).unwrap().torn_tail_bytes,
            torn.len() as u64
        );
        let j = Journal::open(&path).unwrap();
        j.append_durable(2, "b", &json!({})).unwrap();
        assert_eq!(
            verify_file(&path).unwrap(),
            JournalSummary {
                records: 2,
                head: verify_file(&path).unwrap().head,
                torn_tail_bytes: 0
            }
        );
    }

    #[test]
    fn group_commit_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let j = Arc::new(Journal::open(&path).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let j = j.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        j.append_durable(i, "x", &json!({"t": t})).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(verify_file(&path).unwrap().records, 400);
    }
}
