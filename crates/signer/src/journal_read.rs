//! Reading the journal's `issued` records back, for control's inventory reconciliation.
//!
//! In: the journal file, a sequence number to read after, a limit, and the signer's sparse
//! index of where records start (one mark per [`MARK_EVERY`] records, filled in as reads
//! pass them, so a reader that keeps up reads what is new, not the whole file). Out:
//! [`JournaledIssuance`]s, oldest first. Only complete lines are read (the writer may be
//! appending the next one); the chain itself was verified when the journal opened.
//! `issued` records written before they carried the certificate are skipped.

use crate::Error;
use base64::Engine;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use strongroom_wire::JournaledIssuance;

/// Records between two marks of the index.
pub const MARK_EVERY: u64 = 4096;

/// Where records start: `(seq, offset)` means record `seq + 1` begins at byte `offset`.
/// Lives in the signer's memory; the file only grows while the signer runs.
#[derive(Debug)]
pub struct JournalIndex {
    marks: Vec<(u64, u64)>,
}

impl Default for JournalIndex {
    fn default() -> Self {
        JournalIndex {
            marks: vec![(0, 0)],
        }
    }
}

impl JournalIndex {
    /// The last mark at or before `seq`.
    fn start_for(&self, seq: u64) -> (u64, u64) {
        let i = self.marks.partition_point(|&(s, _)| s <= seq);
        self.marks[i.saturating_sub(1)]
    }

    fn note(&mut self, seq: u64, offset: u64) {
        if seq % MARK_EVERY == 0 && self.marks.last().is_some_and(|&(s, _)| s < seq) {
            self.marks.push((seq, offset));
        }
    }
}

/// The `issued` records after `after`, at most `limit`, and the sequence number of the last
/// record read (at least `after`).
pub fn issuances_after(
    path: &Path,
    index: &mut JournalIndex,
    after: u64,
    limit: usize,
) -> Result<(Vec<JournaledIssuance>, u64), Error> {
    let io = |e: std::io::Error| Error::JournalIo(format!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((out, after)),
        Err(e) => return Err(io(e)),
    };
    let (mut seq, mut offset) = index.start_for(after);
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    reader.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = Vec::new();
    while out.len() < limit {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if n == 0 || buf.last() != Some(&b'\n') {
            break; // the end, or a line still being written
        }
        seq += 1;
        offset += n as u64;
        index.note(seq, offset);
        if seq <= after {
            continue;
        }
        if let Some(found) = issued_record(&buf[..n - 1], seq)? {
            out.push(found);
        }
    }
    Ok((out, seq.max(after)))
}

/// Parses one line; `Some` for an `issued` record that carries its certificate.
fn issued_record(line: &[u8], expected_seq: u64) -> Result<Option<JournaledIssuance>, Error> {
    let broken = |why: &str| Error::JournalBroken {
        line: expected_seq,
        why: why.to_string(),
    };
    let json = line
        .iter()
        .position(|&b| b == b' ')
        .map(|i| &line[i + 1..])
        .ok_or_else(|| broken("no space after the hash"))?;
    let v: Value = serde_json::from_slice(json).map_err(|_| broken("not JSON"))?;
    if v["seq"].as_u64() != Some(expected_seq) {
        return Err(broken(
            "sequence number out of place (was the file replaced?)",
        ));
    }
    if v["kind"].as_str() != Some("issued") {
        return Ok(None);
    }
    let body = &v["body"];
    let text = |k: &str| body[k].as_str();
    let (Some(ca), Some(serial), Some(peer), Some(profile), Some(der)) = (
        text("ca"),
        text("serial"),
        text("peer"),
        text("profile"),
        text("der"),
    ) else {
        return Ok(None); // written before `issued` records carried the certificate
    };
    Ok(Some(JournaledIssuance {
        seq: expected_seq,
        at: v["at"].as_i64().ok_or_else(|| broken("no time"))?,
        ca: ca.parse().map_err(|_| broken("bad CA id"))?,
        serial: serial.parse().map_err(|_| broken("bad serial"))?,
        peer: peer.to_string(),
        profile: profile.to_string(),
        der: base64::engine::general_purpose::STANDARD
            .decode(der)
            .map_err(|_| broken("certificate is not base64"))?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;
    use serde_json::json;

    fn issued(j: &Journal, n: u64) -> u64 {
        j.append(100, "intent", &json!({"n": n})).unwrap();
        j.append_durable(
            100 + n as i64,
            "issued",
            &json!({"intent": 1, "serial": format!("{:02x}", n + 1), "cert_sha256": "00",
                    "ca": "issuing", "profile": "tls-server", "peer": "front",
                    "der": base64::engine::general_purpose::STANDARD.encode([n as u8; 3])}),
        )
        .unwrap()
    }

    #[test]
    fn reads_issued_records_after_a_sequence_number_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let j = Journal::open(&path).unwrap();
        // An older `issued` record without the certificate is skipped.
        j.append(
            1,
            "issued",
            &json!({"intent": 0, "serial": "01", "cert_sha256": "00"}),
        )
        .unwrap();
        let seqs: Vec<u64> = (0..10).map(|n| issued(&j, n)).collect();
        let mut index = JournalIndex::default();
        let (all, through) = issuances_after(&path, &mut index, 0, 100).unwrap();
        assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs);
        assert_eq!(through, seqs[9]);
        assert_eq!(all[3].der, vec![3u8; 3]);
        assert_eq!(all[3].peer, "front");
        assert_eq!(all[3].at, 103);
        // Paging: after the fourth, three at a time.
        let (page, through) = issuances_after(&path, &mut index, seqs[3], 3).unwrap();
        assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs[4..7]);
        assert_eq!(through, seqs[6], "a full page ends at its last record");
        // Records after the last issuance (a restart's `startup`) are read past: `through`
        // lets the reader skip them next time.
        j.append_durable(200, "startup", &json!({})).unwrap();
        let (rest, through) = issuances_after(&path, &mut index, seqs[9], 3).unwrap();
        assert!(rest.is_empty());
        assert_eq!(through, seqs[9] + 1);
    }

    #[test]
    fn the_index_skips_what_was_read_and_stays_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let j = Journal::open(&path).unwrap();
        // Enough records for two marks.
        let seqs: Vec<u64> = (0..(MARK_EVERY + 100))
            .map(|n| issued(&j, n % 250))
            .collect();
        let mut index = JournalIndex::default();
        let (first, _) = issuances_after(&path, &mut index, 0, usize::MAX).unwrap();
        assert_eq!(first.len(), seqs.len());
        assert!(index.marks.len() >= 2, "{:?}", index.marks);
        // Every starting point gives the same answer as a read from the start.
        for after in [
            0,
            MARK_EVERY - 1,
            MARK_EVERY,
            MARK_EVERY + 1,
            2 * MARK_EVERY + 5,
        ] {
            let (got, _) = issuances_after(&path, &mut index, after, 5).unwrap();
            let want: Vec<u64> = first
                .iter()
                .map(|r| r.seq)
                .filter(|&s| s > after)
                .take(5)
                .collect();
            assert_eq!(
                got.iter().map(|r| r.seq).collect::<Vec<_>>(),
                want,
                "after {after}"
            );
        }
    }

    #[test]
    fn a_line_being_written_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let j = Journal::open(&path).unwrap();
        issued(&j, 1);
        drop(j);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"abc {\"seq\":3").unwrap();
        let (got, through) = issuances_after(&path, &mut JournalIndex::default(), 0, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(through, 2, "the torn third line is not read");
    }
}
