//! A fault-injecting PKCS#11 module for tests (docs/architecture.md, Tests; hsm-sim/README.md).
//!
//! In: environment variables read when the module is loaded —
//! `STRONGROOM_SHIM_MODULE`, the real module to wrap (default SoftHSM2),
//! `STRONGROOM_SHIM_CONTROL`, a file of fault rules read on every wrapped call (grammar in
//! [`rules`]), and optionally `STRONGROOM_SHIM_COUNTERS`, a file the shim rewrites after every
//! wrapped call with one `C_Name count` line per function called so far.
//! Out: the real module's function list with fourteen calls wrapped (slot and token queries,
//! session open, login, session info, object search, key generation, signing, encryption and
//! decryption), so a test can make the token fail (any return value, every call or only the
//! Nth, or "gone" for a window of seconds), slow down, sign wrongly or come back while a
//! daemon runs.
//!
//! Never ship this: it is loaded only by tests that name it as the module path.

#![allow(non_snake_case)] // PKCS#11 names its entry points this way

mod rules;

use cryptoki_sys::*;
use rules::{Decision, Rules};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, PoisonError};
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

/// Calls per function since the module loaded, and since the control file last changed
/// (what `nth=` counts).
#[derive(Default)]
struct Counters {
    total: BTreeMap<&'static str, u64>,
    since_change: BTreeMap<&'static str, u64>,
    control_seen: String,
}

static COUNTERS: Mutex<Counters> = Mutex::new(Counters {
    total: BTreeMap::new(),
    since_change: BTreeMap::new(),
    control_seen: String::new(),
});

/// Counts this call of `function`, reads the rules and decides what the call does.
fn decide(function: &'static str) -> Decision {
    let control = std::env::var_os("STRONGROOM_SHIM_CONTROL")
        .map(|path| std::fs::read_to_string(&path).map(|text| (path, text)));
    let mut counters = COUNTERS.lock().unwrap_or_else(PoisonError::into_inner);
    let (text, age) = match control {
        Some(Ok((path, text))) => {
            let age = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|written| written.elapsed().ok());
            (text, age)
        }
        _ => (String::new(), None),
    };
    if text != counters.control_seen {
        counters.since_change.clear();
        counters.control_seen = text.clone();
    }
    *counters.total.entry(function).or_default() += 1;
    let nth = {
        let n = counters.since_change.entry(function).or_default();
        *n += 1;
        *n
    };
    write_counters(&counters.total);
    drop(counters);
    let decision = match Rules::parse(&text) {
        Ok(rules) => rules.decide(function, nth, age),
        Err(problem) => {
            // A test that writes a rule we cannot read must fail loudly, not pass on a
            // healthy token.
            eprintln!("strongroom-hsm-shim: {problem}");
            Decision::fail(CKR_GENERAL_ERROR)
        }
    };
    if decision.latency_ms > 0 {
        std::thread::sleep(Duration::from_millis(decision.latency_ms));
    }
    decision
}

/// Rewrites the counters file (temp file + rename: a reader never sees half of it).
fn write_counters(total: &BTreeMap<&'static str, u64>) {
    let Some(path) = std::env::var_os("STRONGROOM_SHIM_COUNTERS") else {
        return;
    };
    let text: String = total.iter().map(|(f, n)| format!("{f} {n}\n")).collect();
    let mut tmp = std::path::PathBuf::from(&path);
    tmp.as_mut_os_string().push(".tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
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
            if let Some(rv) = decide(stringify!($name)).fail {
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

type Ptr = *mut ::std::os::raw::c_void;

wrap!(C_GetSlotList(token_present: CK_BBOOL, list: *mut CK_SLOT_ID, count: *mut CK_ULONG));
wrap!(C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO));
wrap!(C_OpenSession(slot: CK_SLOT_ID, flags: CK_FLAGS, app: Ptr, notify: CK_NOTIFY, session: *mut CK_SESSION_HANDLE));
wrap!(C_Login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: *mut CK_UTF8CHAR, len: CK_ULONG));
wrap!(C_GetSessionInfo(session: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO));
wrap!(C_FindObjectsInit(session: CK_SESSION_HANDLE, template: *mut CK_ATTRIBUTE, count: CK_ULONG));
wrap!(C_FindObjects(session: CK_SESSION_HANDLE, objects: *mut CK_OBJECT_HANDLE, max: CK_ULONG, count: *mut CK_ULONG));
wrap!(C_GenerateKey(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, template: *mut CK_ATTRIBUTE, count: CK_ULONG, key: *mut CK_OBJECT_HANDLE));
wrap!(C_GenerateKeyPair(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, public: *mut CK_ATTRIBUTE, public_count: CK_ULONG, private: *mut CK_ATTRIBUTE, private_count: CK_ULONG, public_key: *mut CK_OBJECT_HANDLE, private_key: *mut CK_OBJECT_HANDLE));
wrap!(C_SignInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE));
wrap!(C_EncryptInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE));
wrap!(C_DecryptInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE));
wrap!(C_Decrypt(session: CK_SESSION_HANDLE, data: *mut CK_BYTE, len: CK_ULONG, out: *mut CK_BYTE, out_len: *mut CK_ULONG));

unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    len: CK_ULONG,
    sig: *mut CK_BYTE,
    sig_len: *mut CK_ULONG,
) -> CK_RV {
    let decision = decide("C_Sign");
    if let Some(rv) = decision.fail {
        return rv;
    }
    let rv = match real().and_then(|r| r.C_Sign) {
        // SAFETY: forwarding the caller's arguments unchanged to the real module.
        Some(f) => unsafe { f(session, data, len, sig, sig_len) },
        None => CKR_GENERAL_ERROR,
    };
    // Only a call that returned a signature (not the length query with a null buffer).
    if decision.corrupt_signature && rv == CKR_OK && !sig.is_null() && !sig_len.is_null() {
        // SAFETY: on CKR_OK with a non-null buffer the module wrote *sig_len bytes to `sig`.
        let n = unsafe { *sig_len } as usize;
        if n > 0 {
            // SAFETY: n - 1 is within the n bytes just written.
            unsafe { *sig.add(n - 1) ^= 0x01 };
        }
    }
    rv
}

/// The module's one exported entry point: the real function list with fourteen calls wrapped.
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
        l.C_Login = Some(C_Login);
        l.C_GetSessionInfo = Some(C_GetSessionInfo);
        l.C_FindObjectsInit = Some(C_FindObjectsInit);
        l.C_FindObjects = Some(C_FindObjects);
        l.C_GenerateKey = Some(C_GenerateKey);
        l.C_GenerateKeyPair = Some(C_GenerateKeyPair);
        l.C_SignInit = Some(C_SignInit);
        l.C_Sign = Some(C_Sign);
        l.C_EncryptInit = Some(C_EncryptInit);
        l.C_DecryptInit = Some(C_DecryptInit);
        l.C_Decrypt = Some(C_Decrypt);
        l.C_GetFunctionList = Some(C_GetFunctionList);
        l
    });
    // SAFETY: `list` is non-null (checked) and points to writable storage per the contract.
    // Callers treat the table as read-only.
    unsafe { *list = (&**ours as *const CK_FUNCTION_LIST).cast_mut() };
    CKR_OK
}
