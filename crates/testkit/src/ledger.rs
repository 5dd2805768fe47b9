//! What was issued against what is recorded, for the crash tests: the signer's journal
//! (every certificate it signed) and control's inventory, compared after a reconciliation.
//!
//! In: a running [`Control`] stack and an admin API key. Out: fingerprint sets, and a
//! failed test when the inventory and the journal differ in either direction or a
//! certificate a client received is missing from the journal.

use crate::stack::Control;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A certificate fingerprint as the journal and the API both can be compared in: hex, no
/// colons, lower case.
pub fn normalise_fingerprint(fingerprint: &str) -> String {
    fingerprint.replace(':', "").to_ascii_lowercase()
}

impl Control {
    /// The SHA-256 of every certificate the signer's journal records as issued
    /// ([`normalise_fingerprint`]ed).
    pub fn journal_issued(&self) -> BTreeSet<String> {
        let text = std::fs::read_to_string(self.pki.state.join("journal/issuance.log")).unwrap();
        text.lines()
            .filter_map(|line| {
                let record: Value = serde_json::from_str(line.split_once(' ').unwrap().1).unwrap();
                (record["kind"] == "issued")
                    .then(|| normalise_fingerprint(record["body"]["cert_sha256"].as_str().unwrap()))
            })
            .collect()
    }

    /// Every certificate in the inventory by fingerprint, read through the API with the key
    /// `token`; fails on a fingerprint listed twice.
    pub fn inventory_fingerprints(&self, token: &str) -> BTreeSet<String> {
        let client = self.client().with_token(token);
        let mut seen = BTreeSet::new();
        let mut path = "/api/v1/certificates?limit=1000".to_string();
        loop {
            let page = client.get(&path);
            assert_eq!(page.status, 200, "{}", page.text);
            let page = page.json();
            for item in page["items"].as_array().unwrap() {
                let fingerprint = normalise_fingerprint(item["fingerprint"].as_str().unwrap());
                assert!(
                    seen.insert(fingerprint.clone()),
                    "{fingerprint} is in the inventory twice"
                );
            }
            match page["next"].as_str() {
                Some(next) => path = format!("/api/v1/certificates?limit=1000&cursor={next}"),
                None => return seen,
            }
        }
    }

    /// Runs one reconciliation now (no grace period) with the admin key `token`, then fails
    /// unless every certificate in `delivered` is in the journal and the inventory is exactly
    /// the journal's issued set. Returns the reconciliation's report and that set.
    pub fn reconcile_to_journal(
        &self,
        token: &str,
        delivered: &BTreeSet<String>,
    ) -> (Value, BTreeSet<String>) {
        let r = self
            .client()
            .with_token(token)
            .post("/api/v1/system/reconcile", &json!({"grace_secs": 0}));
        assert_eq!(r.status, 200, "{}", r.text);
        let issued = self.journal_issued();
        let lost: Vec<_> = delivered.difference(&issued).collect();
        assert!(lost.is_empty(), "delivered, not journaled: {lost:?}");
        let listed = self.inventory_fingerprints(token);
        let missing: Vec<_> = issued.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "journaled, not in the inventory: {missing:?}"
        );
        let unknown: Vec<_> = listed.difference(&issued).collect();
        assert!(
            unknown.is_empty(),
            "in the inventory, not journaled: {unknown:?}"
        );
        (r.json(), issued)
    }
}
