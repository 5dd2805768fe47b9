//! Where ACME nonces live on SQLite: a database of their own, attached to every connection
//! as `ephemeral` (the main file's path plus `-nonces`, beside it; in memory for an
//! in-memory main database).
//!
//! In: a fresh SQLite connection. Out: the same connection with `ephemeral.acme_nonces`
//! ready. Why: every ACME request uses up a nonce, and with the main database's
//! `synchronous = FULL` each of those deletes was an fsync of its own — about half of the
//! commits behind one certificate. The nonce database commits with `synchronous = NORMAL`
//! (WAL: no fsync per commit and no corruption on power loss, but the last commits may be
//! lost with the machine). A lost delete would make a used nonce usable again, so the
//! table is emptied when the machine has rebooted since it was last filled (the kernel's
//! boot id differs): a process that merely restarts loses nothing (its writes were in the
//! page cache) and keeps the other processes' nonces valid. Where the boot id cannot be
//! read, every new connection empties the table. A client holding an emptied nonce gets
//! `badNonce` once, with a fresh nonce, and retries (RFC 8555 §6.5). Several processes on
//! one host share the table.

use sqlx::{AnyConnection, Executor, Row};

/// The kernel's id of this boot (Linux; readable in the daemons' sandbox).
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// Attaches and prepares the nonce database on `conn`.
pub(crate) async fn attach(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let main: String = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_one(&mut *conn)
        .await?
        .try_get("file")?;
    let file = if main.is_empty() {
        ":memory:".to_string()
    } else {
        format!("{main}-nonces")
    };
    sqlx::query("ATTACH DATABASE $1 AS ephemeral")
        .bind(file)
        .execute(&mut *conn)
        .await?;
    conn.execute(
        "PRAGMA ephemeral.journal_mode = WAL; \
         PRAGMA ephemeral.synchronous = NORMAL; \
         CREATE TABLE IF NOT EXISTS ephemeral.acme_nonces ( \
             nonce TEXT PRIMARY KEY, \
             expires_at INTEGER NOT NULL); \
         CREATE INDEX IF NOT EXISTS ephemeral.acme_nonces_expiry ON acme_nonces (expires_at); \
         CREATE TABLE IF NOT EXISTS ephemeral.nonce_boot ( \
             id INTEGER PRIMARY KEY CHECK (id = 1), \
             boot_id TEXT NOT NULL);",
    )
    .await?;
    let current = std::fs::read_to_string(BOOT_ID)
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let recorded: Option<String> = sqlx::query("SELECT boot_id FROM ephemeral.nonce_boot")
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("boot_id"))
        .transpose()?;
    if current.is_empty() || recorded.as_deref() != Some(current.as_str()) {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        tx.execute("DELETE FROM ephemeral.acme_nonces").await?;
        sqlx::query("INSERT OR REPLACE INTO ephemeral.nonce_boot (id, boot_id) VALUES (1, $1)")
            .bind(current)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
