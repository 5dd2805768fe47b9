//! The one error type of the HSM crate, and the mapping from PKCS#11 return values into it.
//!
//! In: `cryptoki` errors plus the call they came from, and this crate's own refusals.
//! Out: [`HsmError`], whose `Display` is a single line saying what to fix and whose
//! [`HsmError::is_temporary`] tells the caller whether retrying later can help. No variant
//! ever carries a PIN.

use cryptoki::error::{Error as CkError, RvError};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong between Strongroom and its HSM.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HsmError {
    /// The PKCS#11 module file does not exist.
    ModuleNotFound {
        /// The configured module path.
        path: PathBuf,
    },
    /// The module exists but could not be loaded or initialized.
    ModuleLoad {
        /// The configured module path.
        path: PathBuf,
        /// What the loader or `C_Initialize` said.
        detail: String,
    },
    /// This process already loaded a different PKCS#11 module (one module per process).
    ModuleMismatch {
        /// The module loaded first.
        loaded: PathBuf,
        /// The module asked for now.
        requested: PathBuf,
    },
    /// No slot holds a token with the configured label.
    TokenNotFound {
        /// The label we looked for.
        label: String,
        /// The labels of the tokens that do exist.
        available: Vec<String>,
    },
    /// The token rejected the user PIN.
    PinIncorrect {
        /// The token label.
        token: String,
    },
    /// The user PIN is locked after too many failures; only the SO can unlock it.
    PinLocked {
        /// The token label.
        token: String,
    },
    /// The PIN file is unusable (missing, unreadable, empty or readable by others).
    PinFile {
        /// The PIN file path.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A PKCS#11 URI could not be parsed or names something we never accept.
    InvalidUri {
        /// Why it was rejected (the URI itself is not repeated: it may hold secrets).
        detail: String,
    },
    /// No key matches the URI on this token.
    KeyNotFound {
        /// The URI that was looked up.
        uri: String,
    },
    /// More than one key matches the URI, so using either would be a guess.
    KeyAmbiguous {
        /// The URI that was looked up.
        uri: String,
        /// How many private keys matched.
        count: usize,
    },
    /// An object with this label already exists; we never create a second key of one name.
    KeyExists {
        /// The label asked for.
        label: String,
    },
    /// The token refused to use the key for this operation (its CKA_SIGN/CKA_DECRYPT say no).
    KeyNotPermitted {
        /// The key label.
        label: String,
        /// The refused operation, e.g. "decrypt".
        operation: &'static str,
    },
    /// The token (or this crate) does not support what was asked.
    Unsupported {
        /// What is missing.
        what: String,
    },
    /// The caller asked for something inconsistent (e.g. an ECDSA signature from an RSA key).
    BadRequest {
        /// What is inconsistent.
        detail: String,
    },
    /// The token returned data this crate cannot interpret.
    Malformed {
        /// What was wrong with it.
        detail: String,
    },
    /// Every session stayed busy for the whole wait: the HSM is overloaded or stuck.
    Busy {
        /// How long we waited for a free session.
        waited: Duration,
    },
    /// The token is unreachable or out of resources right now; retrying later may work.
    TokenUnavailable {
        /// The PKCS#11 function that failed, e.g. "C_Sign".
        function: String,
        /// The return value name, e.g. "CKR_DEVICE_ERROR".
        code: String,
    },
    /// The token refused the call for a reason retrying will not change.
    TokenRefused {
        /// The PKCS#11 function that failed, e.g. "C_Sign".
        function: String,
        /// The return value name, e.g. "CKR_MECHANISM_INVALID".
        code: String,
    },
}

impl HsmError {
    /// Whether the failure may go away by itself (device trouble, session loss, overload), so
    /// the caller should report "try later" and keep the request; `false` means an operator or
    /// the caller must change something first.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            HsmError::Busy { .. } | HsmError::TokenUnavailable { .. }
        )
    }
}

impl fmt::Display for HsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HsmError::ModuleNotFound { path } => write!(
                f,
                "PKCS#11 module not found at {}: install softhsm2 or set module_path",
                path.display()
            ),
            HsmError::ModuleLoad { path, detail } => write!(
                f,
                "PKCS#11 module {} failed to load ({detail}): check that module_path names a PKCS#11 library for this architecture",
                path.display()
            ),
            HsmError::ModuleMismatch { loaded, requested } => write!(
                f,
                "this process already uses PKCS#11 module {}; cannot also load {}: use one module_path per process",
                loaded.display(),
                requested.display()
            ),
            HsmError::TokenNotFound { label, available } => {
                write!(f, "no token labelled {label:?}: ")?;
                if available.is_empty() {
                    write!(f, "the module shows no initialized token; initialize one (hsm-sim/token.sh) or check the module's configuration (SOFTHSM2_CONF, KRYOPTIC_CONF)")
                } else {
                    let names: Vec<String> = available.iter().map(|l| format!("{l:?}")).collect();
                    write!(f, "tokens present are {}; fix token_label", names.join(", "))
                }
            }
            HsmError::PinIncorrect { token } => write!(
                f,
                "PIN rejected by token {token} (CKR_PIN_INCORRECT): check the PIN file"
            ),
            HsmError::PinLocked { token } => write!(
                f,
                "user PIN of token {token} is locked (CKR_PIN_LOCKED): the token's security officer must reset it"
            ),
            HsmError::PinFile { path, problem } => {
                write!(f, "PIN file {}: {problem}", path.display())
            }
            HsmError::InvalidUri { detail } => write!(f, "invalid PKCS#11 URI: {detail}"),
            HsmError::KeyNotFound { uri } => write!(
                f,
                "no private key matches {uri} on this token: check the key URI or generate the key"
            ),
            HsmError::KeyAmbiguous { uri, count } => write!(
                f,
                "{count} private keys match {uri}: add id= to the URI to pick one"
            ),
            HsmError::KeyExists { label } => write!(
                f,
                "an object labelled {label:?} already exists on the token: choose another label or use the existing key"
            ),
            HsmError::KeyNotPermitted { label, operation } => write!(
                f,
                "token refuses to {operation} with key {label:?} (CKR_KEY_FUNCTION_NOT_PERMITTED): the key was generated for another purpose"
            ),
            HsmError::Unsupported { what } => write!(f, "unsupported: {what}"),
            HsmError::BadRequest { detail } => write!(f, "bad HSM request: {detail}"),
            HsmError::Malformed { detail } => {
                write!(f, "token returned data we cannot use: {detail}")
            }
            HsmError::Busy { waited } => write!(
                f,
                "all HSM sessions stayed busy for {} s: the HSM is overloaded or stuck; retry later or raise sessions",
                waited.as_secs()
            ),
            HsmError::TokenUnavailable { function, code } => write!(
                f,
                "{function} failed with {code}: the HSM is unavailable for now; check the device and retry"
            ),
            HsmError::TokenRefused { function, code } => {
                write!(f, "{function} failed with {code}: {}", refusal_hint(code))
            }
        }
    }
}

impl std::error::Error for HsmError {}

/// The fix an operator should try for a permanent PKCS#11 refusal.
fn refusal_hint(code: &str) -> &'static str {
    match code {
        "CKR_MECHANISM_INVALID" | "CKR_MECHANISM_PARAM_INVALID" => {
            "the token does not offer this mechanism; pick another algorithm"
        }
        "CKR_KEY_TYPE_INCONSISTENT" => "the key type does not fit the mechanism",
        "CKR_USER_PIN_NOT_INITIALIZED" => "initialize the user PIN of the token",
        "CKR_TOKEN_WRITE_PROTECTED" => {
            "the token is read-only; key generation needs a writable token"
        }
        "CKR_ENCRYPTED_DATA_INVALID" | "CKR_ENCRYPTED_DATA_LEN_RANGE" => {
            "the ciphertext does not decrypt under this key"
        }
        _ => "see the token's documentation for this return value",
    }
}

/// The CKR_ name of a PKCS#11 return value, e.g. `PinIncorrect` → `CKR_PIN_INCORRECT`.
pub(crate) fn ckr_name(rv: RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Return values after which the session (or the token behind it) must be re-opened.
/// `CKR_OPERATION_ACTIVE` is one: a token that failed a `C_Sign` or `C_Decrypt` without
/// ending the operation (the standard says it ends; not every token does) leaves the session
/// refusing every later `C_SignInit`, so it is as good as lost (found by the fault matrix,
/// crates/hsm/tests/faults.rs).
pub(crate) fn is_session_loss(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::UserNotLoggedIn
            | RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::DeviceError
            | RvError::OperationActive
    )
}

/// Return values meaning a cached object handle went stale (the object may still exist).
pub(crate) fn is_stale_handle(rv: RvError) -> bool {
    matches!(rv, RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid)
}

/// Return values that may clear up without anyone changing configuration.
/// `CKR_GENERAL_ERROR` is among them: the standard calls it unrecoverable, but tokens use it
/// for passing trouble (SoftHSM2's file store under concurrent key generation; network HSMs
/// between a partition's restart and its return), and a client told "retry later" loses
/// less than one told "never" — while the probe and the degraded report say the HSM is ill.
fn is_temporary_rv(rv: RvError) -> bool {
    is_session_loss(rv)
        || matches!(
            rv,
            RvError::DeviceMemory | RvError::SessionCount | RvError::GeneralError
        )
}

/// The return value inside a cryptoki error, if it came from the token.
pub(crate) fn rv_of(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Map a cryptoki error from the PKCS#11 call `function` into an [`HsmError`], deciding
/// temporary versus permanent by the return value.
pub(crate) fn from_cryptoki(function: &str, e: CkError) -> HsmError {
    match e {
        CkError::Pkcs11(rv, _) => {
            let code = ckr_name(rv);
            let function = function.to_owned();
            if is_temporary_rv(rv) {
                HsmError::TokenUnavailable { function, code }
            } else {
                HsmError::TokenRefused { function, code }
            }
        }
        // Library-side failures (null function pointer, integer conversion): a broken or
        // incompatible module, which retrying will not fix.
        other => HsmError::TokenRefused {
            function: function.to_owned(),
            code: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckr_names_match_the_specification() {
        assert_eq!(ckr_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            ckr_name(RvError::SessionHandleInvalid),
            "CKR_SESSION_HANDLE_INVALID"
        );
        assert_eq!(ckr_name(RvError::DeviceError), "CKR_DEVICE_ERROR");
    }

    #[test]
    fn temporary_and_permanent_are_told_apart() {
        let dev = from_cryptoki(
            "C_Sign",
            CkError::Pkcs11(RvError::DeviceError, cryptoki::context::Function::Sign),
        );
        assert!(dev.is_temporary());
        let general = from_cryptoki(
            "C_Sign",
            CkError::Pkcs11(RvError::GeneralError, cryptoki::context::Function::Sign),
        );
        assert!(general.is_temporary());
        let mech = from_cryptoki(
            "C_Sign",
            CkError::Pkcs11(RvError::MechanismInvalid, cryptoki::context::Function::Sign),
        );
        assert!(!mech.is_temporary());
        assert_eq!(
            mech.to_string(),
            "C_Sign failed with CKR_MECHANISM_INVALID: the token does not offer this mechanism; pick another algorithm"
        );
        assert!(!HsmError::PinIncorrect { token: "t".into() }.is_temporary());
        assert!(HsmError::Busy {
            waited: Duration::from_secs(30)
        }
        .is_temporary());
    }

    #[test]
    fn token_not_found_lists_labels() {
        let e = HsmError::TokenNotFound {
            label: "Nope".into(),
            available: vec!["A".into(), "B C".into()],
        };
        assert_eq!(
            e.to_string(),
            "no token labelled \"Nope\": tokens present are \"A\", \"B C\"; fix token_label"
        );
    }
}
