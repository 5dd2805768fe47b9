//! The database settings of control and the front: where the URL comes from, and what
//! the sandbox must leave open for it.
//!
//! In: `database_url` and `database_url_env` as the daemon's configuration file holds them
//! (top-level keys of each daemon's own file, so that its unknown-key and type errors keep
//! their line). Out: a [`DatabaseSettings`] when exactly one is set, else a refusal; the
//! URL, read from the named environment variable when the file names one; the SQLite
//! file's directory (read-write) and PostgreSQL's TLS files (read-only) for the daemon's
//! Landlock lists. The URL may hold a password, so [`Debug`] does not show it.

use std::path::PathBuf;
use strongroom_sandbox::network_daemon::sqlite_dir;

/// Where the database URL comes from: exactly one of the configuration's `database_url`
/// and `database_url_env`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseSettings {
    /// `database_url`: the URL itself (`sqlite://PATH?mode=rwc` or `postgres://…`).
    Url(String),
    /// `database_url_env`: the environment variable that holds it (where a password
    /// belongs).
    Environment(String),
}

/// The paths the sandbox leaves open for the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatabasePaths {
    /// The SQLite file's directory (SQLite writes its journal next to the file).
    pub read_write: Vec<PathBuf>,
    /// PostgreSQL's CA file and client certificate and key: sqlx reads them at every new
    /// connection, long after the sandbox is in place.
    pub read_only: Vec<PathBuf>,
}

impl DatabaseSettings {
    /// From a configuration's `database_url` and `database_url_env`; refuses both or
    /// neither.
    pub fn from_fields(
        database_url: Option<&str>,
        database_url_env: Option<&str>,
    ) -> Result<DatabaseSettings, String> {
        match (database_url, database_url_env) {
            (Some(url), None) => Ok(DatabaseSettings::Url(url.to_string())),
            (None, Some(var)) => Ok(DatabaseSettings::Environment(var.to_string())),
            _ => Err("set exactly one of database_url and database_url_env".into()),
        }
    }

    /// The database URL (from the file or the named environment variable).
    pub fn url(&self) -> Result<String, String> {
        match self {
            DatabaseSettings::Url(url) => Ok(url.clone()),
            DatabaseSettings::Environment(var) => std::env::var(var)
                .map_err(|_| format!("environment variable {var} (database_url_env) is not set")),
        }
    }

    /// What the sandbox must leave open for the database; nothing when the named
    /// variable is not set (the daemon then fails to connect, and says why).
    pub fn sandbox_paths(&self) -> DatabasePaths {
        match self.url() {
            Ok(url) => DatabasePaths {
                read_write: sqlite_dir(&url).into_iter().collect(),
                read_only: strongroom_store::database_files(&url),
            },
            Err(_) => DatabasePaths::default(),
        }
    }
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Security: a PostgreSQL URL may carry the role's password.
            DatabaseSettings::Url(_) => f.write_str("Url(<redacted>)"),
            DatabaseSettings::Environment(var) => f.debug_tuple("Environment").field(var).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_source_is_accepted() {
        for (url, var) in [(None, None), (Some("sqlite://x"), Some("V"))] {
            let e = DatabaseSettings::from_fields(url, var).unwrap_err();
            assert!(e.contains("exactly one of"), "{e}");
        }
        assert_eq!(
            DatabaseSettings::from_fields(Some("sqlite://x"), None).unwrap(),
            DatabaseSettings::Url("sqlite://x".into())
        );
        assert_eq!(
            DatabaseSettings::from_fields(None, Some("V")).unwrap(),
            DatabaseSettings::Environment("V".into())
        );
    }

    #[test]
    fn a_missing_variable_is_named() {
        let var = "STRONGROOM_TEST_DATABASE_URL_THAT_IS_NEVER_SET";
        let e = DatabaseSettings::Environment(var.into()).url().unwrap_err();
        assert!(e.contains(var), "{e}");
        assert_eq!(
            DatabaseSettings::Url("sqlite://x".into()).url().unwrap(),
            "sqlite://x"
        );
    }

    #[test]
    fn the_sandbox_opens_the_sqlite_directory_and_the_postgres_tls_files() {
        let sqlite =
            DatabaseSettings::Url("sqlite:///var/lib/strongroom/control.db?mode=rwc".into());
        assert_eq!(
            sqlite.sandbox_paths(),
            DatabasePaths {
                read_write: vec![PathBuf::from("/var/lib/strongroom")],
                read_only: vec![],
            }
        );
        let pg = DatabaseSettings::Url(
            "postgres://db.example/strongroom?sslmode=verify-full&sslrootcert=/etc/strongroom/db-ca.pem".into(),
        );
        let paths = pg.sandbox_paths();
        assert!(paths.read_write.is_empty(), "{paths:?}");
        assert!(
            paths
                .read_only
                .contains(&PathBuf::from("/etc/strongroom/db-ca.pem")),
            "{paths:?}"
        );
        let unset =
            DatabaseSettings::Environment("STRONGROOM_TEST_DATABASE_URL_THAT_IS_NEVER_SET".into());
        assert_eq!(unset.sandbox_paths(), DatabasePaths::default());
    }

    #[test]
    fn debug_does_not_show_the_url() {
        let s = DatabaseSettings::Url("postgres://strongroom:hunter2@db/strongroom".into());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
