//! How the store may reach PostgreSQL: the transport rule and the TLS files a URL names.
//!
//! In: a `postgres://` URL (and the `PG*` variables libpq and sqlx also read). Out: a
//! refusal when a server off this host would be reached without `sslmode=verify-full` and
//! an operator CA file (`sslrootcert=`), a warning when the system CA store is trusted
//! beside that file, and the paths of the TLS files (CA, client certificate and key) for
//! the daemons' Landlock read-only lists. Nothing here opens a connection, and nothing
//! here logs the URL (it may carry a password).
//!
//! Why refuse rather than warn: the database holds the issuance records, the revocation
//! state and the audit chain. A server reached with `disable`/`allow`/`prefer` can be
//! read and rewritten on the wire; `require` and `verify-ca` take any certificate with no
//! host-name check (and sqlx's `verify-ca` also accepts every CA in the system store), so
//! a man in the middle holding any such certificate reads and rewrites the same. Loopback
//! TCP and Unix sockets never leave the host and keep every mode.

use crate::StoreError;
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// The TLS files a PostgreSQL URL names (`sslrootcert`, `sslcert`, `sslkey`, or their
/// `PGSSL*` variables), for a sandbox's read-only list. Empty for SQLite and for a URL
/// that does not parse; inline PEM is not a file and is left out.
pub fn database_files(url: &str) -> Vec<PathBuf> {
    if !is_postgres(url) {
        return Vec::new();
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return Vec::new();
    };
    let files = TlsFiles::from_url(&parsed);
    [files.root_cert, files.client_cert, files.client_key]
        .into_iter()
        .flatten()
        .collect()
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// The files named in the URL, each falling back to its `PGSSL*` variable as sqlx does.
struct TlsFiles {
    root_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

impl TlsFiles {
    fn from_url(url: &url::Url) -> TlsFiles {
        let mut files = TlsFiles {
            root_cert: env_file("PGSSLROOTCERT"),
            client_cert: env_file("PGSSLCERT"),
            client_key: env_file("PGSSLKEY"),
        };
        // The same keys sqlx-postgres accepts (options/parse.rs); the last one wins, as there.
        for (key, value) in url.query_pairs() {
            let slot = match &*key {
                "sslrootcert" | "ssl-root-cert" | "ssl-ca" => &mut files.root_cert,
                "sslcert" | "ssl-cert" => &mut files.client_cert,
                "sslkey" | "ssl-key" => &mut files.client_key,
                _ => continue,
            };
            *slot = file(&value);
        }
        files
    }
}

fn env_file(var: &str) -> Option<PathBuf> {
    std::env::var(var).ok().as_deref().and_then(file)
}

/// A path, or nothing for inline PEM (sqlx reads a value holding a PEM header as the
/// certificate itself).
fn file(value: &str) -> Option<PathBuf> {
    (!value.is_empty() && !value.contains("-----BEGIN")).then(|| PathBuf::from(value))
}

/// Refuses a PostgreSQL URL that would reach a server off this host without
/// `sslmode=verify-full` and `sslrootcert`; warns when sqlx would also trust the system CA
/// store. A SQLite URL passes untouched.
pub(crate) fn check_transport(url: &str) -> Result<(), StoreError> {
    if !is_postgres(url) {
        return Ok(());
    }
    // The effective options: the URL over the PG* variables, as the driver will see them.
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
    let parsed =
        url::Url::parse(url).map_err(|e| StoreError::Invalid(format!("database URL: {e}")))?;
    let root_cert = TlsFiles::from_url(&parsed).root_cert;
    let inline_root = std::env::var("PGSSLROOTCERT").is_ok_and(|v| v.contains("-----BEGIN"));
    let local = options.get_socket().is_some() || is_loopback(options.get_host());
    let mode = options.get_ssl_mode();
    if !local {
        if !matches!(mode, PgSslMode::VerifyFull) {
            return Err(StoreError::Invalid(format!(
                "PostgreSQL on host {} needs sslmode=verify-full (got {}): only loopback and \
                 Unix-socket connections may go without a verified TLS connection",
                options.get_host(),
                mode_name(mode)
            )));
        }
        if root_cert.is_none() && !inline_root {
            return Err(StoreError::Invalid(format!(
                "PostgreSQL on host {}: sslmode=verify-full needs sslrootcert=FILE, the CA \
                 that issued the server's certificate",
                options.get_host()
            )));
        }
    }
    if matches!(mode, PgSslMode::VerifyFull | PgSslMode::VerifyCa) && trusts_system_store() {
        // sqlx-core (tls_rustls.rs) adds the roots rustls-native-certs loads to the CA file;
        // rustls-native-certs reads only SSL_CERT_FILE / SSL_CERT_DIR when either is set.
        tracing::warn!(
            "PostgreSQL TLS trusts the system CA store beside sslrootcert; set \
             SSL_CERT_FILE=/dev/null in the daemon's environment to trust the CA file alone \
             (the shipped systemd units do)"
        );
    }
    Ok(())
}

/// Whether sqlx's rustls set-up would load the platform's CA store.
fn trusts_system_store() -> bool {
    std::env::var_os("SSL_CERT_FILE").is_none() && std::env::var_os("SSL_CERT_DIR").is_none()
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        // Only the name itself: `localhost.` or `db.localhost` could be resolved elsewhere.
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

fn mode_name(mode: PgSslMode) -> &'static str {
    match mode {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer (the default)",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        match check_transport(url) {
            Err(StoreError::Invalid(m)) => m,
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_remote_server_needs_verify_full_and_a_ca_file() {
        for mode in ["disable", "allow", "prefer", "require", "verify-ca"] {
            let m = refused(&format!(
                "postgres://u:secret@db.example.invalid/ca?sslmode={mode}&sslrootcert=/etc/ca.pem"
            ));
            assert!(m.contains("needs sslmode=verify-full"), "{m}");
            assert!(!m.contains("secret"), "the password leaked: {m}");
        }
        // No sslmode at all is sqlx's `prefer`.
        let m = refused("postgres://u@10.0.0.5:5432/ca");
        assert!(m.contains("prefer"), "{m}");
        let m = refused("postgres://u@db.example.invalid/ca?sslmode=verify-full");
        assert!(m.contains("needs sslrootcert"), "{m}");
        // `localhost.` and names under localhost are resolved by DNS, not the loopback rule.
        refused("postgres://u@db.localhost/ca?sslmode=require");
        refused("postgres://u@ca?host=db.example.invalid&sslmode=require");
        check_transport(
            "postgres://u@db.example.invalid/ca?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .unwrap();
    }

    #[test]
    fn loopback_and_unix_sockets_keep_every_mode() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://postgres@127.0.0.2/postgres?sslmode=disable",
            "postgres://postgres@localhost/postgres?sslmode=prefer",
            "postgres://postgres@[::1]:5432/postgres?sslmode=require",
            "postgres:///strongroom?host=/run/postgresql",
            "postgres://%2Frun%2Fpostgresql/strongroom",
            "sqlite://data/strongroom.db?mode=rwc",
        ] {
            check_transport(url).unwrap();
        }
    }

    #[test]
    fn the_tls_files_are_listed_for_the_sandbox() {
        let files = database_files(
            "postgres://u@db/ca?sslmode=verify-full&sslrootcert=/etc/strongroom/db%20ca.pem\
             &sslcert=/etc/strongroom/client.pem&sslkey=/etc/strongroom/client.key",
        );
        assert_eq!(
            files,
            [
                "/etc/strongroom/db ca.pem",
                "/etc/strongroom/client.pem",
                "/etc/strongroom/client.key"
            ]
            .map(PathBuf::from)
        );
        assert!(database_files("sqlite://x.db").is_empty());
    }
}
