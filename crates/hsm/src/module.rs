//! The process-wide PKCS#11 module: loaded and `C_Initialize`d once, never finalized.
//!
//! In: a module path (and, for logins, a slot and PIN). Out: the shared `cryptoki::Pkcs11`
//! context; a second open with the same path reuses it, another path is refused. Also keeps
//! the PIN each slot was logged in with, because PKCS#11 login state belongs to the process
//! and a later `C_Login` answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN.
//!
//! Never fork after this has run: the child would share the parent's sessions.

use crate::error::{from_cryptoki, rv_of, HsmError};
use crate::pin::Pin;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

struct LoadedModule {
    path: PathBuf,
    context: Pkcs11,
    /// The PIN that last logged each slot in, by slot id.
    logins: HashMap<u64, Pin>,
}

/// At most one module per process: PKCS#11 has process-global state (initialization, login).
static LOADED: Mutex<Option<LoadedModule>> = Mutex::new(None);

fn loaded() -> std::sync::MutexGuard<'static, Option<LoadedModule>> {
    // A panic while holding this lock cannot leave the map half-updated in a harmful way
    // (each update is a single insert), so a poisoned lock is still usable.
    LOADED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The module's context, loading and initializing it on first use.
pub(crate) fn context_for(path: &Path) -> Result<Pkcs11, HsmError> {
    if !path.is_file() {
        return Err(HsmError::ModuleNotFound {
            path: path.to_path_buf(),
        });
    }
    let canonical = path.canonicalize().map_err(|e| HsmError::ModuleLoad {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut slot = loaded();
    if let Some(module) = slot.as_ref() {
        if module.path == canonical {
            return Ok(module.context.clone());
        }
        return Err(HsmError::ModuleMismatch {
            loaded: module.path.clone(),
            requested: canonical,
        });
    }
    let load_error = |detail: String| HsmError::ModuleLoad {
        path: path.to_path_buf(),
        detail,
    };
    let context = Pkcs11::new(&canonical).map_err(|e| load_error(e.to_string()))?;
    // OS locking: sessions are used from many threads (one at a time each).
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => {}
        // Someone else in this process initialized the same library: its state is ours too.
        Err(e) if rv_of(&e) == Some(RvError::CryptokiAlreadyInitialized) => {}
        Err(e) => return Err(load_error(format!("C_Initialize: {e}"))),
    }
    *slot = Some(LoadedModule {
        path: canonical,
        context: context.clone(),
        logins: HashMap::new(),
    });
    Ok(context)
}

/// Log `session` in as the user.
///
/// When the token says the user is already logged in (another session of this process did
/// it), the PIN is compared with the one that did; a different PIN is reported as
/// incorrect, so a wrong PIN can never ride on an earlier correct login.
pub(crate) fn login(session: &Session, slot: Slot, pin: &Pin, token: &str) -> Result<(), HsmError> {
    let auth = AuthPin::from(pin.expose().to_owned());
    match session.login(UserType::User, Some(&auth)) {
        Ok(()) => {
            if let Some(module) = loaded().as_mut() {
                module.logins.insert(slot.id(), pin.clone());
            }
            Ok(())
        }
        Err(e) => match rv_of(&e) {
            Some(RvError::UserAlreadyLoggedIn) => {
                let guard = loaded();
                let known = guard.as_ref().and_then(|m| m.logins.get(&slot.id()));
                match known {
                    Some(first) if !first.same_as(pin) => Err(HsmError::PinIncorrect {
                        token: token.to_owned(),
                    }),
                    // Same PIN, or a login by code outside this crate that shares the
                    // initialized module (see context_for): nothing to compare against.
                    _ => Ok(()),
                }
            }
            Some(RvError::PinIncorrect) | Some(RvError::PinLenRange) => {
                Err(HsmError::PinIncorrect {
                    token: token.to_owned(),
                })
            }
            Some(RvError::PinLocked) => Err(HsmError::PinLocked {
                token: token.to_owned(),
            }),
            _ => Err(from_cryptoki("C_Login", e)),
        },
    }
}

/// The path of the module this process loaded, if any (for the `test-hooks` feature).
#[cfg(feature = "test-hooks")]
pub(crate) fn loaded_path() -> Option<PathBuf> {
    loaded().as_ref().map(|m| m.path.clone())
}
