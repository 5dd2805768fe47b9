//! The [`Hsm`] handle: opening the token, the retry-once recovery around every call, the
//! private-key handle cache, and the health probe.
//!
//! In: an [`HsmConfig`]. Out: a cheap-to-clone, thread-safe [`Hsm`]. Operations live in
//! `keygen.rs`, `lookup.rs` and `sign.rs`; they all run through [`Hsm::with_session`], which
//! replaces a dead session (re-login included) and retries the operation exactly once.

use crate::config::HsmConfig;
use crate::error::{from_cryptoki, is_session_loss, is_stale_handle, rv_of, HsmError};
use crate::key::{self, KeyRef};
use crate::module;
use crate::pool::{SessionPool, SessionSource};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::object::{AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A connection to one token: a pool of logged-in sessions. Clones share it.
#[derive(Clone)]
pub struct Hsm {
    pub(crate) inner: Arc<HsmInner>,
}

pub(crate) struct HsmInner {
    pub(crate) pool: SessionPool,
    /// Mechanisms the token offered at open (the list does not change while it runs).
    pub(crate) mechanisms: Vec<MechanismType>,
    /// Private-key object handles by key URI. Handles are per process, not per session.
    handles: Mutex<HashMap<crate::Pkcs11Uri, ObjectHandle>>,
    /// Serializes key generation so two callers cannot both pass the duplicate-label check.
    pub(crate) keygen: Mutex<()>,
    /// How many sessions were replaced after the token dropped them.
    reopened: AtomicU64,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hsm")
            .field("token", &self.inner.pool.source().token_label)
            .field("slot", &self.inner.pool.source().slot.id())
            .finish_non_exhaustive()
    }
}

/// A health snapshot of the token, from [`Hsm::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStatus {
    /// Token label.
    pub label: String,
    /// Token manufacturer.
    pub manufacturer: String,
    /// Token model.
    pub model: String,
    /// Token serial number.
    pub serial: String,
    /// Sessions this [`Hsm`] holds open right now (idle or busy).
    pub sessions_open: usize,
    /// Human names of the mechanisms Strongroom uses that the token offers.
    pub mechanisms: Vec<String>,
    /// Sessions replaced since open because the token closed or lost them.
    pub sessions_reopened: u64,
}

/// The mechanisms Strongroom uses, with the names an operator reads in `status`.
const MECHANISMS_WE_USE: [(MechanismType, &str); 7] = [
    (MechanismType::ECC_KEY_PAIR_GEN, "EC key generation"),
    (MechanismType::ECDSA, "ECDSA"),
    (
        MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
        "Edwards key generation",
    ),
    (MechanismType::EDDSA, "EdDSA"),
    (MechanismType::RSA_PKCS_KEY_PAIR_GEN, "RSA key generation"),
    (MechanismType::RSA_PKCS, "RSA PKCS#1 v1.5"),
    (MechanismType::RSA_PKCS_PSS, "RSA-PSS"),
];

/// Why one attempt of an operation failed: a token return value (which may call for
/// recovery) or a decision of ours (which never does).
#[derive(Debug)]
pub(crate) enum Failure {
    /// The PKCS#11 call named first returned an error.
    Ck(&'static str, CkError),
    /// This crate refused or could not interpret something.
    Hsm(HsmError),
}

impl Failure {
    fn rv(&self) -> Option<RvError> {
        match self {
            Failure::Ck(_, e) => rv_of(e),
            Failure::Hsm(_) => None,
        }
    }
}

/// A failed decryption (`C_Decrypt`), told apart from a failing token. Tokens differ on a
/// ciphertext that does not open: SoftHSM2 answers `CKR_ENCRYPTED_DATA_INVALID` to bad RSA
/// padding but `CKR_GENERAL_ERROR` to a wrong AES-GCM tag, kryoptic `CKR_DEVICE_ERROR` to bad
/// padding. Taken at their word these would be a lost session or a temporary fault: the pool
/// would reopen and log in again at a stranger's will, and the SCEP RA would answer "retry"
/// to some ciphertexts and "refused" to others — a padding oracle on its key. So when the
/// same session still answers `C_GetSessionInfo` logged in, the token is well and the
/// ciphertext is at fault: the refusal is permanent and no session is touched.
pub(crate) fn blame_the_ciphertext(session: &Session, e: CkError) -> Failure {
    use cryptoki::context::Function;
    use cryptoki::session::SessionState;
    let code = match &e {
        CkError::Pkcs11(rv @ (RvError::DeviceError | RvError::GeneralError), Function::Decrypt) => {
            *rv
        }
        _ => return Failure::Ck("C_Decrypt", e),
    };
    let token_is_well = session.get_session_info().is_ok_and(|info| {
        matches!(
            info.session_state(),
            SessionState::RwUser | SessionState::RoUser
        )
    });
    if !token_is_well {
        return Failure::Ck("C_Decrypt", e);
    }
    Failure::Hsm(HsmError::TokenRefused {
        function: "C_Decrypt".to_owned(),
        code: format!(
            "{} on a healthy session (the ciphertext does not open with this key)",
            crate::error::ckr_name(code)
        ),
    })
}

impl From<Failure> for HsmError {
    fn from(f: Failure) -> HsmError {
        match f {
            Failure::Ck(function, e) => from_cryptoki(function, e),
            Failure::Hsm(e) => e,
        }
    }
}

impl From<HsmError> for Failure {
    fn from(e: HsmError) -> Failure {
        Failure::Hsm(e)
    }
}

impl Hsm {
    /// Load the module (once per process), find the token by label, open `sessions` R/W
    /// sessions and log each in as the user.
    ///
    /// Fails fast: a missing module, an unknown label or a wrong PIN is an error here, not
    /// at the first signature.
    pub fn open(config: HsmConfig) -> Result<Hsm, HsmError> {
        if config.sessions == 0 {
            return Err(HsmError::BadRequest {
                detail: "sessions must be at least 1".to_owned(),
            });
        }
        let context = module::context_for(&config.module_path)?;
        let slot = find_slot(&context, &config.token_label)?;
        let mechanisms = context
            .get_mechanism_list(slot)
            .map_err(|e| from_cryptoki("C_GetMechanismList", e))?;
        let source = SessionSource {
            context,
            slot,
            token_label: config.token_label,
            pin: config.pin,
        };
        let pool = SessionPool::open(source, config.sessions)?;
        Ok(Hsm {
            inner: Arc::new(HsmInner {
                pool,
                mechanisms,
                handles: Mutex::new(HashMap::new()),
                keygen: Mutex::new(()),
                reopened: AtomicU64::new(0),
            }),
        })
    }

    /// The label of the token this handle is logged in to.
    pub fn token_label(&self) -> &str {
        &self.inner.pool.source().token_label
    }

    /// Whether the token offers `mechanism`.
    pub(crate) fn has_mechanism(&self, mechanism: MechanismType) -> bool {
        self.inner.mechanisms.contains(&mechanism)
    }

    /// A cheap health probe: `C_GetTokenInfo` plus `C_GetSessionInfo` on a pooled session
    /// (which re-opens the session if the token dropped it).
    pub fn status(&self) -> Result<TokenStatus, HsmError> {
        let source = self.inner.pool.source();
        let info = source
            .context
            .get_token_info(source.slot)
            .map_err(|e| from_cryptoki("C_GetTokenInfo", e))?;
        self.with_session(|session| {
            session
                .get_session_info()
                .map(drop)
                .map_err(|e| Failure::Ck("C_GetSessionInfo", e))
        })?;
        let mechanisms = MECHANISMS_WE_USE
            .iter()
            .filter(|(m, _)| self.has_mechanism(*m))
            .map(|(_, name)| (*name).to_owned())
            .collect();
        Ok(TokenStatus {
            label: info.label().to_owned(),
            manufacturer: info.manufacturer_id().to_owned(),
            model: info.model().to_owned(),
            serial: info.serial_number().to_owned(),
            sessions_open: self.inner.pool.open_count(),
            mechanisms,
            sessions_reopened: self.inner.reopened.load(Ordering::Relaxed),
        })
    }

    /// Run `op` on a pooled session. If it fails because the session is gone (closed,
    /// logged out, device trouble), replace the session, log in again and retry once; if a
    /// cached key handle went stale, forget the cache and retry once. A second failure is
    /// returned as is (session loss maps to a temporary error).
    pub(crate) fn with_session<T>(
        &self,
        mut op: impl FnMut(&Session) -> Result<T, Failure>,
    ) -> Result<T, HsmError> {
        let mut guard = self.inner.pool.checkout()?;
        let failure = match op(guard.session()?) {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        match failure.rv() {
            Some(rv) if is_session_loss(rv) => {
                tracing::warn!(
                    token = %self.token_label(),
                    code = %crate::error::ckr_name(rv),
                    "HSM session lost; opening a new session, logging in again and retrying once"
                );
                // Object handles may not survive the logout that losing sessions implies.
                self.forget_handles();
                guard.replace()?;
                self.inner.reopened.fetch_add(1, Ordering::Relaxed);
            }
            Some(rv) if is_stale_handle(rv) => self.forget_handles(),
            _ => return Err(failure.into()),
        }
        op(guard.session()?).map_err(HsmError::from)
    }

    /// Run `op` with the private key of `key`, finding (and caching) its handle first.
    pub(crate) fn with_private_key<T>(
        &self,
        key: &KeyRef,
        mut op: impl FnMut(&Session, ObjectHandle) -> Result<T, Failure>,
    ) -> Result<T, HsmError> {
        self.with_session(|session| {
            let handle = self.private_handle(session, key)?;
            op(session, handle)
        })
    }

    fn handles(&self) -> MutexGuard<'_, HashMap<crate::Pkcs11Uri, ObjectHandle>> {
        // A map of plain handles: a panic elsewhere cannot leave it inconsistent.
        self.inner
            .handles
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn forget_handles(&self) {
        self.handles().clear();
    }

    pub(crate) fn remember_handle(&self, uri: &crate::Pkcs11Uri, handle: ObjectHandle) {
        self.handles().insert(uri.clone(), handle);
    }

    /// The private key object of `key`, from the cache or by searching the token. A fresh
    /// find also checks that the key type is the one `key` claims.
    fn private_handle(&self, session: &Session, key: &KeyRef) -> Result<ObjectHandle, Failure> {
        if let Some(handle) = self.handles().get(&key.uri) {
            return Ok(*handle);
        }
        if key.uri.object.is_none() && key.uri.id.is_none() {
            return Err(Failure::Hsm(HsmError::BadRequest {
                detail: "key URI has neither object= nor id=".to_owned(),
            }));
        }
        let template = key::template(ObjectClass::PRIVATE_KEY, &key.uri);
        let handle = key::find_one(session, &template, &key.uri)?;
        let attrs = session
            .get_attributes(handle, &[AttributeType::KeyType])
            .map_err(|e| Failure::Ck("C_GetAttributeValue", e))?;
        let fits = attrs.iter().any(|a| match a {
            cryptoki::object::Attribute::KeyType(t) => key::key_type_fits(*t, key.algorithm),
            _ => false,
        });
        if !fits {
            return Err(Failure::Hsm(HsmError::BadRequest {
                detail: format!("the key at {} is not a {} key", key.uri, key.algorithm),
            }));
        }
        self.remember_handle(&key.uri, handle);
        Ok(handle)
    }

    /// Test hook: close every session of this process on the token behind the pool's back
    /// (`C_CloseAllSessions`), as a token reset or HSM fail-over would. The next operation
    /// on each pooled session then has to recover.
    /// Only with the `test-hooks` feature (the crate's own tests turn it on).
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn invalidate_sessions_for_test(&self) {
        let source = self.inner.pool.source();
        if let Err(e) = close_all_sessions(source.slot) {
            tracing::warn!(error = %e, "C_CloseAllSessions for test failed");
        }
    }
}

/// The slot holding the token labelled `label` (labels are space-padded; the comparison is
/// on the trimmed label). Never by index: slot numbers change when tokens are added.
fn find_slot(context: &cryptoki::context::Pkcs11, label: &str) -> Result<Slot, HsmError> {
    let slots = context
        .get_slots_with_token()
        .map_err(|e| from_cryptoki("C_GetSlotList", e))?;
    let mut available = Vec::new();
    let mut matches = Vec::new();
    for slot in slots {
        let info = match context.get_token_info(slot) {
            Ok(info) => info,
            // A token that will not describe itself is not ours; keep looking.
            Err(_) => continue,
        };
        if !info.token_initialized() {
            continue;
        }
        let found = info.label().trim_end_matches(' ').to_owned();
        if found == label {
            matches.push(slot);
        }
        available.push(found);
    }
    match matches.as_slice() {
        [slot] => Ok(*slot),
        [] => Err(HsmError::TokenNotFound {
            label: label.to_owned(),
            available,
        }),
        _ => Err(HsmError::BadRequest {
            detail: format!(
                "{} tokens are labelled {label:?}: relabel all but one",
                matches.len()
            ),
        }),
    }
}

/// Call the module's `C_CloseAllSessions` for `slot`. cryptoki 0.12 does not wrap this
/// function. A module need export only `C_GetFunctionList` by name (kryoptic exports nothing
/// else), so the function comes from the module's function list.
#[cfg(feature = "test-hooks")]
fn close_all_sessions(slot: Slot) -> Result<(), HsmError> {
    let module = module::loaded_path().ok_or_else(|| HsmError::BadRequest {
        detail: "no PKCS#11 module loaded".into(),
    })?;
    // SAFETY: dlopen of the module this process already loaded and initialized; it runs no
    // new initializer and only bumps the library's reference count.
    let library =
        unsafe { libloading::Library::new(&module) }.map_err(|e| HsmError::ModuleLoad {
            path: module.clone(),
            detail: e.to_string(),
        })?;
    let unsupported = |what: &str| HsmError::Unsupported {
        what: what.to_owned(),
    };
    // SAFETY: C_GetFunctionList has this signature in PKCS#11; the list it returns is the
    // module's own static table, valid while the library is loaded (it is, above), and
    // C_CloseAllSessions takes a CK_SLOT_ID.
    let rv = unsafe {
        let get: libloading::Symbol<'_, cryptoki_sys::CK_C_GetFunctionList> = library
            .get(b"C_GetFunctionList\0")
            .map_err(|_| unsupported("the module exports no C_GetFunctionList"))?;
        let get = (*get).ok_or_else(|| unsupported("C_GetFunctionList is null"))?;
        let mut list: *mut cryptoki_sys::CK_FUNCTION_LIST = std::ptr::null_mut();
        let rv = get(&mut list);
        if rv != 0 || list.is_null() {
            return Err(unsupported("C_GetFunctionList returned no list"));
        }
        let close_all = (*list)
            .C_CloseAllSessions
            .ok_or_else(|| unsupported("the function list has no C_CloseAllSessions"))?;
        close_all(slot.id() as cryptoki_sys::CK_SLOT_ID)
    };
    if rv == 0 {
        Ok(())
    } else {
        Err(HsmError::TokenRefused {
            function: "C_CloseAllSessions".into(),
            code: format!("0x{rv:x}"),
        })
    }
}
