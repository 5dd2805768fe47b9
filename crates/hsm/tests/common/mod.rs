//! Test fixture: private software tokens for this test process, plus a tiny SPKI reader.
//!
//! In: the module from STRONGROOM_PKCS11_MODULE (SoftHSM2 when unset; kryoptic is the
//! second implementation). Out: a token store in a temporary directory, created once per
//! process by hsm-sim/token.sh, with SOFTHSM2_CONF and KRYOPTIC_CONF pointing at it before
//! the first `Hsm::open`; and one shared `Hsm` on the
//! main token (cargo runs the tests of a file as threads of one process).

#![allow(dead_code)]
// each test file uses a different part of the fixture
// Test helpers: a failed setup step should stop the test run loudly, with its location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use strongroom_hsm::{Hsm, HsmConfig, Pin};

/// The token most tests share.
pub const MAIN_TOKEN: &str = "Strongroom Test";
/// A token nobody logs in to unless a test says so (wrong-PIN tests).
pub const SPARE_TOKEN: &str = "Strongroom Spare";
/// A token whose sessions a test closes behind the pool's back.
pub const RECOVERY_TOKEN: &str = "Strongroom Recovery";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl Fixture {
    pub fn pin_file(&self, label: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.pin", label.replace(' ', "-")))
    }

    pub fn config(&self, label: &str, sessions: usize) -> HsmConfig {
        HsmConfig {
            module_path: module_path(),
            token_label: label.to_owned(),
            pin: Pin::read_file(self.pin_file(label)).unwrap(),
            sessions,
        }
    }
}

pub fn module_path() -> PathBuf {
    std::env::var_os("STRONGROOM_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
}

/// The software token the tests run against, from the module's file name.
pub struct Implementation {
    /// What `C_GetTokenInfo` says in manufacturerID.
    pub manufacturer: &'static str,
    /// Whether it offers Ed25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA).
    pub ed25519: bool,
}

pub fn implementation() -> Implementation {
    let module = module_path();
    let name = module.file_name().unwrap().to_string_lossy();
    if name.contains("kryoptic") {
        Implementation {
            manufacturer: "Kryoptic",
            ed25519: false,
        }
    } else if name.contains("softhsm2") {
        Implementation {
            manufacturer: "SoftHSM",
            ed25519: true,
        }
    } else {
        panic!(
            "the hsm tests know SoftHSM2 and kryoptic, not {}",
            module.display()
        )
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hsm-sim/token.sh")
}

const FIXTURE_PREFIX: &str = "strongroom-hsm-test-";

/// Remove `strongroom-hsm-test-PID-*` directories whose process is gone.
fn sweep_dead_fixtures(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(FIXTURE_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The tokens of this process, created on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // tmpfs when there is one: token files are written on every key generation.
        let parent = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        // Statics are never dropped, so this TempDir outlives the process; each run sweeps
        // the directories of test processes that no longer exist.
        sweep_dead_fixtures(&parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{FIXTURE_PREFIX}{}-", std::process::id()))
            .tempdir_in(&parent)
            .unwrap();
        let store = dir.path().join("tokens");
        let mut conf = None;
        for label in [MAIN_TOKEN, SPARE_TOKEN, RECOVERY_TOKEN] {
            let pin_file = dir.path().join(format!("{}.pin", label.replace(' ', "-")));
            let out = Command::new("bash")
                .arg(script())
                .arg(&store)
                .arg(label)
                .arg(&pin_file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "token.sh: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8(out.stdout).unwrap();
            // Security of the script: the PIN must not appear on its output.
            let pin = std::fs::read_to_string(&pin_file).unwrap();
            assert!(
                !stdout.contains(pin.trim())
                    && !String::from_utf8_lossy(&out.stderr).contains(pin.trim())
            );
            conf = Some(PathBuf::from(stdout.trim()));
        }
        let conf = conf.unwrap();
        assert!(conf.is_file());
        // Before the first C_Initialize in this process, which is where the module reads it.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        std::env::set_var("KRYOPTIC_CONF", &conf);
        Fixture { dir, conf }
    })
}

/// The shared handle on the main token: two sessions, like a small signer.
pub fn hsm() -> &'static Hsm {
    static HSM: OnceLock<Hsm> = OnceLock::new();
    HSM.get_or_init(|| Hsm::open(fixture().config(MAIN_TOKEN, 2)).unwrap())
}

/// One DER TLV at the start of `data`: (tag, contents, rest).
fn tlv(data: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = data[0];
    let (len, header) = if data[1] < 0x80 {
        (data[1] as usize, 2)
    } else {
        let n = (data[1] & 0x7f) as usize;
        (
            data[2..2 + n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | b as usize),
            2 + n,
        )
    };
    (tag, &data[header..header + len], &data[header + len..])
}

/// The subjectPublicKey bits of a SubjectPublicKeyInfo (what ring wants: the EC point, the
/// Ed25519 key, or the PKCS#1 RSAPublicKey). Panics if the SPKI is not exactly one SEQUENCE
/// of AlgorithmIdentifier and BIT STRING.
pub fn spki_key_bits(spki: &[u8]) -> Vec<u8> {
    let (tag, body, rest) = tlv(spki);
    assert_eq!((tag, rest.len()), (0x30, 0));
    let (tag, _algorithm, rest) = tlv(body);
    assert_eq!(tag, 0x30);
    let (tag, bits, rest) = tlv(rest);
    assert_eq!((tag, rest.len(), bits[0]), (0x03, 0, 0));
    bits[1..].to_vec()
}

/// PEM of a DER SPKI, for openssl.
pub fn spki_pem(spki: &[u8]) -> String {
    let out = Command::new("openssl")
        .args(["pkey", "-pubin", "-inform", "DER", "-outform", "PEM"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(spki)?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "openssl cannot parse our SPKI");
    String::from_utf8(out.stdout).unwrap()
}
