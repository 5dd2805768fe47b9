//! Start-up refusals that depend on where the signer runs, not only on what its
//! configuration says.
//!
//! In: the validated configuration, this process's user namespace (`/proc/self/uid_map`,
//! `/proc/sys/kernel/overflowuid`) and its environment. Out: `Ok(())`, or a one-line
//! error that names the configuration key to fix. Called by `run` before the sandbox is
//! applied: Landlock grants nothing under `/proc`.
//!
//! Why the user namespace matters: SO_PEERCRED reports the peer's uid as seen from the
//! namespace of the process that *reads* it. In a signer started with `PrivateUsers=`
//! (only root and its own uid mapped), front, control and every other caller read as the
//! overflow uid (65534), so the allow-list could no longer tell them apart
//! (`tests/peer_namespace.rs` shows it with the kernel). A namespace around a *client*
//! changes nothing the signer sees: the signer reads the client's real uid.

use crate::config::{PeerRule, SignerConfig};
use crate::Error;
use std::collections::BTreeMap;

/// The overflow uid when `/proc/sys/kernel/overflowuid` cannot be read (e.g. under
/// `ProcSubset=pid`): the kernel's default.
pub const DEFAULT_OVERFLOW_UID: u32 = 65534;

/// Which uids SO_PEERCRED can report in this process's user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUidView {
    /// What the kernel reports for a peer whose uid has no mapping here.
    pub overflow_uid: u32,
    /// The uid_map lines (first uid here, first uid outside, count); `None` when it could
    /// not be read, in which case every uid is taken to be mapped.
    pub uid_map: Option<Vec<(u32, u32, u32)>>,
}

impl PeerUidView {
    /// Reads this process's view from `/proc`.
    pub fn of_this_process() -> PeerUidView {
        let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid").ok();
        let uid_map = std::fs::read_to_string("/proc/self/uid_map").ok();
        PeerUidView::from_proc_text(uid_map.as_deref(), overflow.as_deref())
    }

    /// The view described by the text of `/proc/self/uid_map` and
    /// `/proc/sys/kernel/overflowuid` (either may be missing or unreadable).
    pub fn from_proc_text(uid_map: Option<&str>, overflowuid: Option<&str>) -> PeerUidView {
        let overflow_uid = overflowuid
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(DEFAULT_OVERFLOW_UID);
        let uid_map = uid_map.and_then(|text| {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| {
                    let mut f = l.split_whitespace().map(|v| v.parse::<u32>().ok());
                    match (f.next(), f.next(), f.next()) {
                        (Some(Some(inside)), Some(Some(outside)), Some(Some(count))) => {
                            Some((inside, outside, count))
                        }
                        _ => None,
                    }
                })
                .collect::<Option<Vec<_>>>()
        });
        PeerUidView {
            overflow_uid,
            uid_map,
        }
    }

    /// Whether SO_PEERCRED can ever report `uid` here (some peer's uid maps to it).
    pub fn can_report(&self, uid: u32) -> bool {
        match &self.uid_map {
            None => true,
            Some(lines) => lines.iter().any(|(inside, _, count)| {
                uid >= *inside && u64::from(uid - inside) < u64::from(*count)
            }),
        }
    }

    fn describe_map(&self) -> String {
        match &self.uid_map {
            None => "unreadable".into(),
            Some(lines) => lines
                .iter()
                .map(|(i, o, c)| format!("{i} {o} {c}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Refuses a peer table that cannot keep peers apart in this namespace: an entry for the
/// overflow uid (it would stand for every unmapped process at once), or for a uid that
/// has no mapping here (that peer would arrive as the overflow uid and never match).
/// Two entries with one uid are refused when the configuration is parsed.
pub fn check_peer_table(peers: &BTreeMap<u32, PeerRule>, view: &PeerUidView) -> Result<(), Error> {
    for peer in peers.values() {
        // Security: the overflow uid is not an identity, it is "someone we cannot name".
        if peer.uid == view.overflow_uid {
            return Err(Error::Preflight(format!(
                "[[peer]] {:?}: uid = {} is the kernel's overflow uid (/proc/sys/kernel/overflowuid): \
                 SO_PEERCRED reports it for every process whose uid is not mapped into the signer's \
                 user namespace, so this entry cannot name one peer; give the peer's own uid and run \
                 the signer without PrivateUsers=",
                peer.name, peer.uid
            )));
        }
        if !view.can_report(peer.uid) {
            return Err(Error::Preflight(format!(
                "[[peer]] {:?}: uid = {} is not mapped into the signer's user namespace \
                 (/proc/self/uid_map: {}; PrivateUsers= in its unit does this): the kernel would \
                 report that peer, and every other unmapped one, as uid {}; run the signer in the \
                 host's user namespace",
                peer.name,
                peer.uid,
                view.describe_map(),
                view.overflow_uid
            )));
        }
    }
    Ok(())
}

/// The environment variables systemd sets for a service it starts.
pub const SYSTEMD_SERVICE_ENV: [&str; 2] = ["INVOCATION_ID", "NOTIFY_SOCKET"];

/// Refuses `dev_mode` in a process systemd started (`env` looks up one variable): a unit
/// runs the production signer, and dev mode gives the signer's own uid every operation
/// and tolerates a socket anyone may open. `strongroom up` is the one place for it.
pub fn check_dev_mode(
    config: &SignerConfig,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<(), Error> {
    if !config.dev_mode {
        return Ok(());
    }
    match SYSTEMD_SERVICE_ENV.iter().find(|name| env(name).is_some()) {
        None => Ok(()),
        Some(name) => Err(Error::Preflight(format!(
            "dev_mode = true is refused when systemd starts the signer ({name} is set): set \
             dev_mode = false and list the callers in [[peer]]; dev_mode is for `strongroom up` \
             (a development shell that inherited {name} from a service manager must unset it)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn table(entries: &[(&str, u32)]) -> BTreeMap<u32, PeerRule> {
        entries
            .iter()
            .map(|(name, uid)| {
                (
                    *uid,
                    PeerRule {
                        name: (*name).into(),
                        uid: *uid,
                        operations: BTreeSet::new(),
                    },
                )
            })
            .collect()
    }

    const HOST: &str = "         0          0 4294967295\n";
    // What PrivateUsers=yes gives a unit running as uid 996.
    const PRIVATE_USERS: &str =
        "         0          0          1\n       996        996          1\n";

    #[test]
    fn the_overflow_uid_comes_from_proc_with_the_kernel_default_as_fallback() {
        assert_eq!(
            PeerUidView::from_proc_text(Some(HOST), Some("4242\n")).overflow_uid,
            4242
        );
        assert_eq!(
            PeerUidView::from_proc_text(Some(HOST), None).overflow_uid,
            65534
        );
        assert_eq!(
            PeerUidView::from_proc_text(Some(HOST), Some("garbage")).overflow_uid,
            65534
        );
    }

    #[test]
    fn an_overflow_uid_entry_is_refused_naming_the_key() {
        let host = PeerUidView::from_proc_text(Some(HOST), Some("65534\n"));
        let err = check_peer_table(&table(&[("front", 997), ("anyone", 65534)]), &host)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[[peer]] \"anyone\": uid = 65534"), "{err}");
        assert!(err.contains("overflow"), "{err}");
        // A host whose overflow uid was changed: that uid is refused instead.
        let moved = PeerUidView::from_proc_text(Some(HOST), Some("4242\n"));
        assert!(check_peer_table(&table(&[("front", 65534)]), &moved).is_ok());
        assert!(check_peer_table(&table(&[("front", 4242)]), &moved).is_err());
    }

    #[test]
    fn peers_outside_a_private_user_namespace_are_refused() {
        let ns = PeerUidView::from_proc_text(Some(PRIVATE_USERS), Some("65534\n"));
        let err = check_peer_table(&table(&[("control", 998), ("front", 997)]), &ns)
            .unwrap_err()
            .to_string();
        assert!(err.contains("uid = 997 is not mapped"), "{err}");
        assert!(err.contains("0 0 1, 996 996 1"), "{err}");
        // Root and the unit's own uid are mapped, so they are not refused.
        assert!(check_peer_table(&table(&[("root", 0), ("self", 996)]), &ns).is_ok());
        let host = PeerUidView::from_proc_text(Some(HOST), None);
        assert!(check_peer_table(&table(&[("control", 998), ("front", 997)]), &host).is_ok());
        // An unreadable map refuses nothing (but the overflow uid still is).
        let unknown = PeerUidView::from_proc_text(None, None);
        assert!(check_peer_table(&table(&[("front", 997)]), &unknown).is_ok());
    }

    #[test]
    fn dev_mode_is_refused_under_systemd_only() {
        let base = "socket = \"/run/s.sock\"\nstate_dir = \"/s\"\n[hsm]\nmodule = \"/m.so\"\ntoken_label = \"t\"\npin_file = \"/p\"\n";
        let dev = SignerConfig::parse(&format!("dev_mode = true\n{base}")).unwrap();
        let prod = SignerConfig::parse(base).unwrap();
        let none = |_: &str| None;
        let invocation = |k: &str| (k == "INVOCATION_ID").then(|| "0123abcd".into());
        let notify = |k: &str| (k == "NOTIFY_SOCKET").then(|| "/run/systemd/notify".into());
        assert!(check_dev_mode(&dev, none).is_ok());
        assert!(check_dev_mode(&prod, invocation).is_ok());
        let err = check_dev_mode(&dev, invocation).unwrap_err().to_string();
        assert!(
            err.contains("dev_mode") && err.contains("INVOCATION_ID"),
            "{err}"
        );
        assert!(check_dev_mode(&dev, notify)
            .unwrap_err()
            .to_string()
            .contains("NOTIFY_SOCKET"));
    }
}
