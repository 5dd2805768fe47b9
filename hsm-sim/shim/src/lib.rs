//! A fault-injecting PKCS#11 module for tests (docs/architecture.md, Tests).
//!
//! In: environment variables read when the module is loaded —
//! `STRONGROOM_SHIM_MODULE`, the real module to wrap (default SoftHSM2), and
//! `STRONGROOM_SHIM_CONTROL`, a file whose content is read on every wrapped call:
//! `ok` (pass through), `device_error` (answer `CKR_DEVICE_ERROR`), `latency_ms=N` (sleep,
//! then pass through), `corrupt_signature` (`C_Sign` succeeds but the signature's last
//! byte is flipped). Out: the real module's function list with `C_GetSlotList`,
//! `C_OpenSession`, `C_GetTokenInfo`, `C_SignInit` and `C_Sign` wrapped, so a test can make
//! the token fail, slow down, sign wrongly or come back while a daemon runs.
//!
//! Never ship this: it is loaded only by tests that name it as the module path.

#![allow(non_snake_case)] // PKCS#11 names its entry points this way

use cryptoki_sys::*;
use std::sync::OnceLock;
use std::time::Duration;

struct Real {
    // Keeps the real module mapped for the life of the process.
    _library: libloading::Library,
    list: CK_FUNCTION_LIST,
}

// SAFETY: the function list is a table of plain function pointers into the real module,
// which is itself safe to call from several threads (PKCS#11 modules are initialised for
// multi-threaded use by cryptoki).
unsafe impl Send for Real {}
// SAFETY: see above; the table is never mutated after it is built.
unsafe impl Sync for Real {}

static REAL: OnceLock<Result<Real, String>> = OnceLock::new();
static OURS: OnceLock<Box<CK_FUNCTION_LIST>> = OnceLock::new();

enum Fault {
    None,
    Fail(CK_RV),
    /// Pass through, then spoil what `C_Sign` returns.
    CorruptSignature,
}

fn fault() -> Fault {
    let Some(path) = std::env::var_os("STRONGROOM_SHIM_CONTROL") else {
        return Fault::None;
    };
    let mode = std::fs::read_to_string(path).unwrap_or_default();
    let mode = mode.trim();
    if mode == "device_error" {
        return Fault::Fail(CKR_DEVICE_ERROR);
    }
    if mode == "corrupt_signature" {
        return Fault::CorruptSignature;
    }
    if let Some(ms) = mode
        .strip_prefix("latency_ms=")
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    Fault::None
}

fn real() -> Option<&'static CK_FUNCTION_LIST> {
    REAL.get_or_init(load).as_ref().ok().map(|r| &r.list)
}

fn load() -> Result<Real, String> {
    let path = std::env::var("STRONGROOM_SHIM_MODULE")
        .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into());
    // SAFETY: loading a PKCS#11 module runs its initialisers; that is what a PKCS#11
    // consumer does anyway.
    let library = unsafe { libloading::Library::new(&path) }.map_err(|e| e.to_string())?;
    // SAFETY: C_GetFunctionList has this signature in every PKCS#11 module.
    let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { library.get(b"C_GetFunctionList\0") }.map_err(|e| e.to_string())?;
    let mut ptr: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: `ptr` is a valid out-pointer; on success the module points it at a static table.
    let rv = unsafe { get(&mut ptr) };
    if rv != CKR_OK || ptr.is_null() {
        return Err(format!("real C_GetFunctionList returned {rv}"));
    }
    // SAFETY: non-null pointer to the module's function table, copied by value.
    let list = unsafe { *ptr };
    Ok(Real {
        _library: library,
        list,
    })
}

macro_rules! wrap {
    ($name:ident ( $($arg:ident : $ty:ty),* )) => {
        unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
            if let Fault::Fail(rv) = fault() {
                return rv;
            }
            match real().and_then(|r| r.$name) {
                // SAFETY: forwarding the caller's arguments unchanged to the real module.
                Some(f) => unsafe { f($($arg),*) },
                None => CKR_GENERAL_ERROR,
            }
        }
    };
}

wrap!(C_GetSlotList(token_present: CK_BBOOL, list: *mut CK_SLOT_ID, count: *mut CK_ULONG));
wrap!(C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO));
wrap!(C_OpenSession(slot: CK_SLOT_ID, flags: CK_FLAGS, app: *mut ::std::os::raw::c_void, notify: CK_NOTIFY, session: *mut CK_SESSION_HANDLE));
wrap!(C_SignInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE));
unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    len: CK_ULONG,
    sig: *mut CK_BYTE,
    sig_len: *mut CK_ULONG,
) -> CK_RV {
    let fault = fault();
    if let Fault::Fail(rv) = fault {
        return rv;
    }
    let rv = match real().and_then(|r| r.C_Sign) {
        // SAFETY: forwarding the caller's arguments unchanged to the real module.
        Some(f) => unsafe { f(session, data, len, sig, sig_len) },
        None => CKR_GENERAL_ERROR,
    };
    // Only a call that returned a signature (not the length query with a null buffer).
    if matches!(fault, Fault::CorruptSignature)
        && rv == CKR_OK
        && !sig.is_null()
        && !sig_len.is_null()
    {
        // SAFETY: on CKR_OK with a non-null buffer the module wrote *sig_len bytes to `sig`.
        let n = unsafe { *sig_len } as usize;
        if n > 0 {
            // SAFETY: n - 1 is within the n bytes just written.
            unsafe { *sig.add(n - 1) ^= 0x01 };
        }
    }
    rv
}

/// The module's one exported entry point: the real function list with five calls wrapped.
///
/// # Safety
/// `list` must be a valid pointer to write a function-list pointer into (PKCS#11 contract).
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    if list.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    let Some(base) = real() else {
        return CKR_GENERAL_ERROR;
    };
    let ours = OURS.get_or_init(|| {
        let mut l = Box::new(*base);
        l.C_GetSlotList = Some(C_GetSlotList);
        l.C_GetTokenInfo = Some(C_GetTokenInfo);
        l.C_OpenSession = Some(C_OpenSession);
        l.C_SignInit = Some(C_SignInit);
        l.C_Sign = Some(C_Sign);
        l.C_GetFunctionList = Some(C_GetFunctionList);
        l
    });
    // SAFETY: `list` is non-null (checked) and points to writable storage per the contract.
    // Callers treat the table as read-only.
    unsafe { *list = (&**ours as *const CK_FUNCTION_LIST).cast_mut() };
    CKR_OK
}
