//! Opening the HSM: what an operator sees when the module, token label, PIN or PIN file is
//! wrong, and that the PIN never shows up in output.

// Helpers outside #[test] fns fail the test the same way the tests do: loudly, with a location.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fixture, hsm, module_path, MAIN_TOKEN, RECOVERY_TOKEN, SPARE_TOKEN};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use strongroom_hsm::{Hsm, HsmConfig, HsmError, Pin};

fn config_with_pin(label: &str, pin: &str) -> HsmConfig {
    HsmConfig {
        module_path: module_path(),
        token_label: label.to_owned(),
        pin: Pin::new(pin.to_owned()),
        sessions: 1,
    }
}

#[test]
fn wrong_pin_is_a_permanent_error_naming_the_token() {
    fixture();
    let err = Hsm::open(config_with_pin(SPARE_TOKEN, "not-the-pin")).unwrap_err();
    assert_eq!(
        err,
        HsmError::PinIncorrect {
            token: SPARE_TOKEN.into()
        }
    );
    assert_eq!(
        err.to_string(),
        "PIN rejected by token Strongroom Spare (CKR_PIN_INCORRECT): check the PIN file"
    );
    assert!(!err.is_temporary());
    assert!(!err.to_string().contains("not-the-pin"));
}

#[test]
fn wrong_pin_cannot_ride_on_an_existing_login() {
    // The main token is logged in by this process already; PKCS#11 would answer
    // CKR_USER_ALREADY_LOGGED_IN without checking the PIN. We must still refuse.
    hsm();
    let err = Hsm::open(config_with_pin(MAIN_TOKEN, "not-the-pin")).unwrap_err();
    assert_eq!(
        err,
        HsmError::PinIncorrect {
            token: MAIN_TOKEN.into()
        }
    );
    // The right PIN opens a second handle on the same token.
    let second = Hsm::open(fixture().config(MAIN_TOKEN, 1)).unwrap();
    assert_eq!(second.status().unwrap().label, MAIN_TOKEN);
}

#[test]
fn unknown_token_lists_the_labels_that_exist() {
    fixture();
    let err = Hsm::open(config_with_pin("Strongroom Prod", "x")).unwrap_err();
    let HsmError::TokenNotFound { label, available } = &err else {
        panic!("{err}");
    };
    assert_eq!(label, "Strongroom Prod");
    for expected in [MAIN_TOKEN, SPARE_TOKEN, RECOVERY_TOKEN] {
        assert!(available.iter().any(|l| l == expected), "{available:?}");
        assert!(err.to_string().contains(&format!("{expected:?}")), "{err}");
    }
    assert!(!err.is_temporary());
}

#[test]
fn missing_module_says_what_to_install() {
    let mut config = config_with_pin(MAIN_TOKEN, "x");
    config.module_path = PathBuf::from("/nonexistent/libpkcs11.so");
    let err = Hsm::open(config).unwrap_err();
    assert_eq!(
        err.to_string(),
        "PKCS#11 module not found at /nonexistent/libpkcs11.so: install softhsm2 or set module_path"
    );
}

#[test]
fn a_second_module_in_one_process_is_refused() {
    hsm();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libother.so");
    std::fs::copy(module_path(), &copy).unwrap();
    let mut config = fixture().config(MAIN_TOKEN, 1);
    config.module_path = copy;
    let err = Hsm::open(config).unwrap_err();
    assert!(matches!(err, HsmError::ModuleMismatch { .. }), "{err}");
}

#[test]
fn zero_sessions_is_refused() {
    let mut config = fixture().config(MAIN_TOKEN, 1);
    config.sessions = 0;
    assert!(matches!(
        Hsm::open(config),
        Err(HsmError::BadRequest { .. })
    ));
}

#[test]
fn pin_file_must_be_private() {
    let fixture = fixture();
    let original = fixture.pin_file(MAIN_TOKEN);
    let pin = std::fs::read_to_string(&original).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pin");
    std::fs::write(&path, &pin).unwrap();

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Pin::read_file(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("chmod 0400 {}", path.display())),
        "{msg}"
    );
    assert!(!msg.contains(pin.trim()), "{msg}");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    let read = Pin::read_file(&path).unwrap();
    let hsm = Hsm::open(HsmConfig {
        module_path: module_path(),
        token_label: MAIN_TOKEN.to_owned(),
        pin: read,
        sessions: 1,
    })
    .unwrap();
    assert_eq!(hsm.token_label(), MAIN_TOKEN);
}

#[test]
fn debug_output_never_contains_the_pin() {
    let fixture = fixture();
    let pin = std::fs::read_to_string(fixture.pin_file(MAIN_TOKEN)).unwrap();
    let config = fixture.config(MAIN_TOKEN, 2);
    let shown = format!("{config:?} {:?} {config:#?}", config.pin);
    assert!(!shown.contains(pin.trim()), "{shown}");
    assert!(shown.contains("Pin(<redacted>)"), "{shown}");
    assert!(shown.contains(MAIN_TOKEN), "{shown}");
    let hsm = Hsm::open(config).unwrap();
    assert!(!format!("{hsm:?}").contains(pin.trim()));
}
