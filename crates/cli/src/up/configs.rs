//! The files `strongroom up` writes into `DATA/config` and `DATA/secrets`: the signer's,
//! control's and the front's configurations, the default issuance policy, the first admin
//! password and the SCEP profile's static challenge.
//!
//! In: the data directory's [`Layout`], the arguments of `up`, the token's paths. Out: TOML
//! text (the daemons' configurations only hold paths and addresses, so control's and the
//! front's are rewritten at every start) and a 0400 password file.

use super::{Layout, TlsKey, UpArgs};
use crate::devtoken;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub(super) const DEFAULT_POLICY: &str = r#"# Issuance policy pushed to the signer on first run (edit, raise `version`, then
# `strongroom signer push-policy --file THIS`).
version = 1

[[profile]]
name = "tls-server"
description = "TLS server certificates, 90 days"
issuer = "issuing"
max_validity_secs = 7776000
key_algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "rsa4096", "ed25519"]
key_usage = ["digital-signature", "key-encipherment"]
extended_key_usage = ["server-auth"]
allowed_name_kinds = ["dns", "ip"]
allow_wildcards = true

[[profile]]
name = "tls-client"
description = "TLS client certificates, 30 days"
issuer = "issuing"
max_validity_secs = 2592000
key_algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "ed25519"]
key_usage = ["digital-signature"]
extended_key_usage = ["client-auth"]
allowed_name_kinds = ["dns", "email", "uri"]
# Client certificates are issued by control only (peer `dev` is every daemon in development
# mode), so a compromised front cannot mint them; a login still needs control's binding.
allowed_peers = ["control", "dev"]

[[profile]]
name = "device"
description = "Devices enrolling over SCEP and EST (routers, phones, managed laptops), 1 year"
issuer = "issuing"
max_validity_secs = 31536000
key_algorithms = ["ecdsa-p256", "ecdsa-p384", "rsa2048", "rsa3072", "rsa4096"]
key_usage = ["digital-signature", "key-encipherment"]
extended_key_usage = ["client-auth"]
allowed_name_kinds = ["dns"]
"#;

pub(super) fn signer_config(
    l: &Layout,
    module: &Path,
    token: &devtoken::DevToken,
    allow_root: bool,
) -> String {
    format!(
        "# strongroom-signer configuration written by `strongroom up` (development mode).\n\
         # See docs/signer.example.toml for every setting.\n\
         socket = {socket:?}\nsocket_mode = \"0600\"\nstate_dir = {state:?}\n\
         # dev_mode: the user running `strongroom up` may call every signer operation.\n\
         dev_mode = true\nallow_root = {allow_root}\ncrl_validity_secs = 86400\n\n\
         [hsm]\nmodule = {module:?}\ntoken_label = {label:?}\npin_file = {pin:?}\nsessions = 2\n\n\
         # Landlock: the token's configuration (read) and its store (read-write).\n\
         [sandbox]\nread_only = [{conf:?}]\nread_write = [{tokens:?}]\n",
        socket = l.socket(),
        state = l.dir.join("signer"),
        label = devtoken::LABEL,
        pin = token.pin_file,
        conf = token.conf,
        tokens = l.dir.join("hsm/tokens"),
    )
}

/// The control daemon's configuration (rewritten at every start: it only holds paths).
pub(super) fn control_config(
    l: &Layout,
    listen: std::net::SocketAddr,
    tls_key: TlsKey,
    allow_root: bool,
) -> String {
    format!(
        "# strongroom-control configuration written by `strongroom up` (development mode).\n\
         listen = \"{listen}\"\ndatabase_url = \"sqlite://{db}?mode=rwc\"\nsigner_socket = {socket:?}\nallow_root = {allow_root}\n\n\
         # The listener key: in the token (hsm; the signer signs each handshake) or made in\n\
         # memory at every start (memory); the signer certifies it at every start.\n\
         [tls]\nkey = \"{tls_key}\"\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\", \"dns:localhost\"]\nclient_auth_cas = [\"issuing\"]\n\n\
         # First start only: the admin password, the sealed break-glass envelope, the profiles.\n\
         [bootstrap]\nadmin_password_file = {admin:?}\nbreak_glass_file = {glass:?}\npolicy_file = {policy:?}\n\n\
         # The EST user of the front's default label (created when missing).\n\
         [bootstrap.est_user]\nlabel = \"default\"\nusername_file = {est_user:?}\npassword_file = {est_password:?}\n\n\
         # Every 5 minutes, when the audit chain grew, the signer signs its head.\n\
         [audit]\ncheckpoint_ca = \"issuing\"\n",
        db = l.dir.join("control/control.db").display(),
        socket = l.socket(),
        admin = l.admin_password(),
        glass = l.dir.join("control/break-glass.txt"),
        policy = l.config("policy.toml"),
        tls_key = tls_key.as_str(),
        est_user = l.est_user(),
        est_password = l.est_password(),
    )
}

/// The front's configuration (rewritten at every start).
pub(super) fn front_config(l: &Layout, args: &UpArgs, allow_root: bool) -> String {
    let resolver = args
        .acme_resolver
        .map(|r| format!("resolver = \"{r}\"\n"))
        .unwrap_or_default();
    let caa = if args.acme_caa_identities.is_empty() {
        String::new()
    } else {
        format!("caa_identities = {:?}\n", args.acme_caa_identities)
    };
    format!(
        "# strongroom-front configuration written by `strongroom up` (development mode).\n\
         listen_http = \"{listen}\"\nlisten_https = \"{https}\"\ndatabase_url = \"sqlite://{db}?mode=rwc\"\nsigner_socket = {socket:?}\nallow_root = {allow_root}\n\n\
         [tls]\nkey = \"{tls_key}\"\nprofile = \"tls-server\"\nnames = [\"ip:127.0.0.1\", \"dns:localhost\"]\n\n\
         # ACME at https://{https}/acme/directory. Development mode lets validation reach\n\
         # loopback (a production front refuses private and loopback addresses by default).\n\
         [acme]\nbase_url = \"https://{https}\"\ndefault_profile = \"tls-server\"\n\n\
         [[acme.profile]]\nname = \"tls-server\"\n\n\
         # Client certificates only for accounts bound with `strongroom acme eab create`.\n\
         [[acme.profile]]\nname = \"tls-client\"\nexternal_account_required = true\n\n\
         [acme.validation]\nhttp01_port = {http01}\ntls_alpn01_port = {alpn}\n{resolver}{caa}\
         allowed_networks = [\"127.0.0.0/8\", \"::1/128\"]\n\n\
         # SCEP at http://{listen}/scep (and over HTTPS) for the device profile; devices\n\
         # enrol with the static challenge in {challenge:?} or a one-time one\n\
         # (strongroom scep challenge create --profile device).\n\
         [scep]\ndefault_profile = \"device\"\n\n\
         [[scep.profile]]\nname = \"device\"\nchallenge_file = {challenge:?}\n\n\
         # EST at https://{https}/.well-known/est/ for the device profile; the user and\n\
         # password are in {est_user:?} and {est_password:?}.\n\
         [est]\ndefault_label = \"default\"\n\n\
         [[est.label]]\nname = \"default\"\nprofile = \"device\"\nauth = \"password-or-certificate\"\nserver_keygen = true\n",
        listen = args.front_listen,
        https = args.front_https_listen,
        db = l.dir.join("control/control.db").display(),
        socket = l.socket(),
        http01 = args.acme_http01_port,
        alpn = args.acme_tls_alpn01_port,
        tls_key = args.tls_key.as_str(),
        challenge = l.scep_challenge(),
        est_user = l.est_user(),
        est_password = l.est_password(),
    )
}

/// A random secret (36 hex digits) in a 0400 file (first run only): the first admin
/// password, the SCEP static challenge.
pub(super) fn write_random_secret(path: &Path) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut raw = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    let password: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(password.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}
