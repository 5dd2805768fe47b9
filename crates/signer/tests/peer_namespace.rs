//! The peer view through user namespaces, with the kernel rather than a model of it.
//!
//! SO_PEERCRED translates the peer's uid into the user namespace of the process that
//! reads it. A client in a namespace of its own (front and control under
//! `PrivateUsers=yes`, which maps just root and their own uid) is still seen by the signer
//! with its real uid. A signer in such a namespace sees every caller but root and itself
//! as the overflow uid (65534): front and control become one peer, and an allow-list
//! entry for either can never match. So the signer's unit must not set `PrivateUsers=`
//! (`crates/testkit/tests/systemd_units.rs` reads the unit), and the signer refuses to
//! start with a peer table its namespace cannot tell apart (`src/preflight.rs`).
//!
//! Linux, as root (CI runs the tests as root): clients run as uids 4242 and 4343, and the
//! namespaces are made by util-linux `unshare`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::SIGNER;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_testkit::{tool, TestPki};
use strongroom_wire::{CallError, Request, SignerClient};

/// Stand-ins for the uids of front and control.
const FRONT_UID: u32 = 4242;
const CONTROL_UID: u32 = 4343;

/// What `unshare` does to match `PrivateUsers=yes` for a unit running as root: a new user
/// namespace in which only uid and gid 0 are mapped (to themselves).
const SIGNER_PRIVATE_USERS: &[&str] = &["unshare", "--user", "--map-root-user"];

/// When run with STRONGROOM_TEST_PEER_SOCKET set (by the tests below, as another uid),
/// calls Health and prints the signer's answer: `HEALTH=ok` or `HEALTH=<detail>`.
#[test]
fn peer_view_helper() {
    let Some(socket) = std::env::var_os("STRONGROOM_TEST_PEER_SOCKET") else {
        return;
    };
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    println!(
        "CLIENT_UID_MAP={}",
        uid_map.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    let mut c = SignerClient::connect(Path::new(&socket)).unwrap();
    match c.call(&Request::Health) {
        Ok(_) => println!("HEALTH=ok"),
        Err(CallError::Refused { detail, .. }) => println!("HEALTH={detail}"),
        Err(e) => println!("HEALTH=transport {e}"),
    }
}

/// A test PKI without CAs (none is needed to answer Health).
fn bare_pki() -> TestPki {
    let pki = TestPki::new(SIGNER, "");
    std::fs::create_dir(&pki.state).unwrap();
    std::fs::set_permissions(&pki.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    pki
}

/// A copy of this test binary in the (0755) test directory, so other uids can run it
/// whatever the permissions of the cargo target directory.
fn helper_binary(pki: &TestPki) -> PathBuf {
    let helper = pki.dir.path().join("peer-helper");
    if !helper.exists() {
        std::fs::copy(std::env::current_exe().unwrap(), &helper).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    helper
}

/// Runs the helper as `uid`, optionally through `wrapper` (e.g. its own user namespace);
/// returns (the client's uid_map, what the signer answered to Health).
fn health_as(pki: &TestPki, uid: u32, wrapper: &[&str]) -> (String, String) {
    let helper = helper_binary(pki);
    let mut command = match wrapper.split_first() {
        None => Command::new(&helper),
        Some((program, args)) => {
            let mut c = Command::new(tool(program));
            c.args(args).arg(&helper);
            c
        }
    };
    let out = command
        .args([
            "--exact",
            "peer_view_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STRONGROOM_TEST_PEER_SOCKET", &pki.socket)
        .uid(uid)
        .gid(uid)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.split_once(name).map(|(_, value)| value))
            .map(str::to_owned)
            .unwrap_or_else(|| {
                panic!(
                    "helper as uid {uid} printed no {name}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    (field("CLIENT_UID_MAP="), field("HEALTH="))
}

/// Replaces the peer tables of the test configuration.
fn set_peers(pki: &TestPki, base: &str, peers: &[(&str, u32)]) {
    let tables: String = peers
        .iter()
        .map(|(name, uid)| {
            format!("[[peer]]\nname = \"{name}\"\nuid = {uid}\noperations = [\"Health\"]\n")
        })
        .collect();
    std::fs::write(&pki.config, format!("{base}\n{tables}")).unwrap();
}

/// Starts the signer (through `wrapper`, if any) and requires it to refuse to start
/// within 30 s; returns its stderr.
fn refused_start(pki: &TestPki, wrapper: &[&str]) -> String {
    let mut child = pki
        .signer_command_under(wrapper)
        .args(["run", "--config"])
        .arg(&pki.config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the signer started (still running after 30 s) instead of refusing:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
#[ignore = "needs root: clients as other uids (make test runs it when root, as CI does)"]
fn peers_stay_apart_only_when_the_signer_shares_their_user_namespace() {
    // dev_mode: the test (root) is the signer's `dev` peer, so start-up can be awaited.
    let pki = bare_pki();
    let base = std::fs::read_to_string(&pki.config).unwrap();

    // 1. The signer in the host's namespace; front runs in a namespace of its own, as
    //    PrivateUsers=yes makes it: the signer still reads its real uid, and allows it.
    set_peers(&pki, &base, &[("front", FRONT_UID)]);
    let signer = pki.start_signer();
    let (map, answer) = health_as(
        &pki,
        FRONT_UID,
        &["unshare", "--user", "--map-current-user"],
    );
    assert_eq!(
        map,
        format!("{FRONT_UID} {FRONT_UID} 1"),
        "the client's own namespace"
    );
    assert_eq!(answer, "ok", "a client's namespace must not hide its uid");
    let (_, answer) = health_as(&pki, CONTROL_UID, &[]);
    assert_eq!(answer, format!("uid {CONTROL_UID} may not call Health"));
    drop(signer);

    // 2. The signer under PrivateUsers (only root mapped); its allow-list is empty, so
    //    every answer names the uid SO_PEERCRED gave it: front and control are one peer.
    set_peers(&pki, &base, &[]);
    let signer = pki.start_signer_under(SIGNER_PRIVATE_USERS);
    let (map, front_view) = health_as(&pki, FRONT_UID, &[]);
    assert_eq!(
        map, "0 0 4294967295",
        "the client is in the host's namespace"
    );
    let (_, control_view) = health_as(&pki, CONTROL_UID, &[]);
    let overflow: u32 = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .map_or(65534, |t| t.trim().parse().unwrap());
    assert_eq!(front_view, format!("uid {overflow} may not call Health"));
    assert_eq!(control_view, front_view, "front and control look identical");
    drop(signer);

    // 3. So an entry that allows front in the host's namespace (step 1) could never match
    //    in the signer's: it refuses to start, naming the entry and the namespace.
    set_peers(&pki, &base, &[("front", FRONT_UID)]);
    let err = refused_start(&pki, SIGNER_PRIVATE_USERS);
    assert!(
        err.contains(&format!(
            "[[peer]] \"front\": uid = {FRONT_UID} is not mapped"
        )) && err.contains("PrivateUsers="),
        "{err}"
    );

    // 4. And the tempting "fix", allowing the overflow uid, is refused in any namespace:
    //    that entry would admit every unmapped process at once.
    set_peers(&pki, &base, &[("anyone", overflow)]);
    for wrapper in [&[][..], SIGNER_PRIVATE_USERS] {
        let err = refused_start(&pki, wrapper);
        assert!(
            err.contains(&format!(
                "[[peer]] \"anyone\": uid = {overflow} is the kernel's overflow uid"
            )),
            "{err}"
        );
    }
}

#[test]
#[ignore = "needs root: giving the socket to a group the test is not in (make test runs it when root, as CI does)"]
fn the_socket_is_given_to_socket_group_before_it_is_opened_up() {
    // Any group but root's: the signer (root here, CAP_CHOWN) may give the socket to it
    // only if its seccomp list lets fchownat through.
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let (group, gid) = groups
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.first()?.to_string(), f.get(2)?.parse::<u32>().ok()?))
        })
        .find(|(_, gid)| *gid != 0)
        .expect("a group other than root in /etc/group");
    let pki = bare_pki();
    let text = std::fs::read_to_string(&pki.config).unwrap().replace(
        "socket_mode = \"0666\"",
        &format!("socket_mode = \"0660\"\nsocket_group = \"{group}\""),
    );
    std::fs::write(&pki.config, &text).unwrap();
    let signer = pki.start_signer();
    let meta = std::fs::metadata(&pki.socket).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.gid(), gid, "socket group");
    assert_eq!(meta.mode() & 0o777, 0o660, "socket mode");
    drop(signer);

    std::fs::write(
        &pki.config,
        text.replace(&format!("\"{group}\""), "\"strongroom-no-such-group\""),
    )
    .unwrap();
    let err = refused_start(&pki, &[]);
    assert!(
        err.contains("socket_group \"strongroom-no-such-group\": no such group"),
        "{err}"
    );
}

#[test]
fn dev_mode_is_refused_when_systemd_starts_the_signer() {
    let pki = bare_pki();
    for var in ["INVOCATION_ID", "NOTIFY_SOCKET"] {
        let mut child = pki
            .signer_command()
            .env(var, "/run/systemd/notify")
            .args(["run", "--config"])
            .arg(&pki.config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("a dev_mode signer with {var} set started instead of refusing");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            err.contains("dev_mode = true is refused when systemd starts the signer")
                && err.contains(var),
            "{err}"
        );
    }
    // Without dev_mode the same marks change nothing: the production signer starts.
    // SAFETY: getuid has no preconditions.
    let own = unsafe { libc::getuid() };
    let text = std::fs::read_to_string(&pki.config)
        .unwrap()
        .replace("dev_mode = true", "dev_mode = false")
        .replace("socket_mode = \"0666\"", "socket_mode = \"0600\"");
    std::fs::write(
        &pki.config,
        format!("{text}\n[[peer]]\nname = \"test\"\nuid = {own}\noperations = [\"Health\"]\n"),
    )
    .unwrap();
    let signer = pki.start_signer_with_env(&[("INVOCATION_ID", "0123abcd".as_ref())]);
    assert!(signer.client().call(&Request::Health).is_ok());
}
