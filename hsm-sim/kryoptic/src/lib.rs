//! The kryoptic soft token as a PKCS#11 module: the three entry points a PKCS#11
//! application looks up with `dlsym`, each handing over to kryoptic-lib.
//!
//! In: calls from a PKCS#11 application (the `hsm` crate, `pkcs11-tool`). Out: kryoptic's
//! function list and interfaces. The token's configuration comes from `KRYOPTIC_CONF`.

use kryoptic_lib::fns::general::{fn_get_function_list, fn_get_interface, fn_get_interface_list};
use kryoptic_lib::pkcs11::{
    CK_FLAGS, CK_FUNCTION_LIST_PTR_PTR, CK_INTERFACE_PTR, CK_INTERFACE_PTR_PTR, CK_RV,
    CK_ULONG_PTR, CK_UTF8CHAR_PTR, CK_VERSION_PTR,
};

/// The PKCS#11 2.x entry point.
#[no_mangle]
pub extern "C" fn C_GetFunctionList(list: CK_FUNCTION_LIST_PTR_PTR) -> CK_RV {
    fn_get_function_list(list)
}

/// The PKCS#11 3.x entry point: one interface by name and version.
#[no_mangle]
pub extern "C" fn C_GetInterface(
    name: CK_UTF8CHAR_PTR,
    version: CK_VERSION_PTR,
    interface: CK_INTERFACE_PTR_PTR,
    flags: CK_FLAGS,
) -> CK_RV {
    fn_get_interface(name, version, interface, flags)
}

/// The PKCS#11 3.x entry point: every interface the module offers.
#[no_mangle]
pub extern "C" fn C_GetInterfaceList(list: CK_INTERFACE_PTR, count: CK_ULONG_PTR) -> CK_RV {
    fn_get_interface_list(list, count)
}
