//! The certificate inventory: every certificate Strongroom issued or imported, its names,
//! tags, owner, and revocation.
//!
//! In: issued certificates (from control or front, after the signer answered) and filters
//! from the API. Out: records and keyset pages (`id > after ORDER BY id LIMIT n`, so a walk
//! over a million rows costs the same per page at the end as at the start). Names and tags
//! live in their own indexed tables, so SAN search and tag filters use an index.

use crate::{Store, StoreError};
use sqlx::{AssertSqlSafe, Row};
use strongroom_types::{CaId, RevocationReason, Serial};

/// Where a certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateSource {
    /// The REST API / CLI.
    Api,
    /// ACME.
    Acme,
    /// SCEP.
    Scep,
    /// EST.
    Est,
    /// Imported from elsewhere.
    Import,
}

impl CertificateSource {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateSource::Api => "api",
            CertificateSource::Acme => "acme",
            CertificateSource::Scep => "scep",
            CertificateSource::Est => "est",
            CertificateSource::Import => "import",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "api" => CertificateSource::Api,
            "acme" => CertificateSource::Acme,
            "scep" => CertificateSource::Scep,
            "est" => CertificateSource::Est,
            "import" => CertificateSource::Import,
            other => {
                return Err(StoreError::Backend(format!(
                    "unknown source {other:?} in the database"
                )))
            }
        })
    }
}

/// A certificate to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// Issuing CA.
    pub issuer: CaId,
    /// Serial.
    pub serial: Serial,
    /// Profile it was issued under (None for imports).
    pub profile: Option<String>,
    /// Subject CN, if any.
    pub subject_cn: Option<String>,
    /// SAN values (DNS names, IP literals, e-mail addresses, URIs), as written in the certificate.
    pub names: Vec<String>,
    /// notBefore.
    pub not_before: i64,
    /// notAfter.
    pub not_after: i64,
    /// SHA-256 fingerprint, hex.
    pub fingerprint: String,
    /// DER.
    pub der: Vec<u8>,
    /// Origin.
    pub source: CertificateSource,
    /// Owner (user or service).
    pub owner: Option<String>,
    /// Team.
    pub team: Option<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// The certificate this one renews, if any.
    pub replaces: Option<i64>,
}

/// A stored certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Inventory id.
    pub id: i64,
    /// What was recorded.
    pub certificate: NewCertificate,
    /// Whether it is revoked.
    pub revoked: bool,
    /// When it was recorded.
    pub created_at: i64,
}

/// A revocation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRow {
    /// Inventory id of the certificate.
    pub certificate_id: i64,
    /// Reason.
    pub reason: RevocationReason,
    /// When.
    pub revoked_at: i64,
    /// Known compromise time.
    pub invalidity_date: Option<i64>,
    /// Who revoked it.
    pub revoked_by: String,
}

/// Filters for listing; every field narrows the result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateFilter {
    /// `Some(true)`: only revoked; `Some(false)`: only not revoked.
    pub revoked: Option<bool>,
    /// notAfter strictly before this time.
    pub expiring_before: Option<i64>,
    /// notAfter at or after this time (with `expiring_before`: a window).
    pub valid_at: Option<i64>,
    /// Issuing CA.
    pub issuer: Option<CaId>,
    /// Profile.
    pub profile: Option<String>,
    /// Exact SAN or CN value (lower-case for DNS names); without a kind prefix (`dns:`…) it
    /// also matches as a DNS name, IP address or e-mail address.
    pub name: Option<String>,
    /// Tag.
    pub tag: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Serial number, under any issuer.
    pub serial: Option<Serial>,
}

/// One page of a keyset walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` at the end.
    pub next_after: Option<i64>,
}

enum Arg {
    Int(i64),
    Text(String),
}

/// Builds `WHERE …` from a filter. Only constant fragments go into the SQL; values are bound.
fn where_clause(f: &CertificateFilter, first_placeholder: usize) -> (String, Vec<Arg>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Arg> = Vec::new();
    let mut push = |clause: &str, arg: Arg, args: &mut Vec<Arg>| {
        let n = first_placeholder + args.len();
        clauses.push(clause.replace('?', &format!("${n}")));
        args.push(arg);
    };
    if let Some(r) = f.revoked {
        push(
            "status = ?",
            Arg::Text(if r { "revoked" } else { "valid" }.into()),
            &mut args,
        );
    }
    if let Some(t) = f.expiring_before {
        push("not_after < ?", Arg::Int(t), &mut args);
    }
    if let Some(t) = f.valid_at {
        push("not_after >= ?", Arg::Int(t), &mut args);
    }
    if let Some(i) = &f.issuer {
        push(
            "issuer_id = ?",
            Arg::Text(i.as_str().to_string()),
            &mut args,
        );
    }
    if let Some(p) = &f.profile {
        push("profile = ?", Arg::Text(p.clone()), &mut args);
    }
    if let Some(n) = &f.name {
        // A name typed without its kind (`shop.example`, `10.0.0.1`, `ops@example`) is
        // looked for as each kind and as a bare CN; one with a kind only as itself.
        let clause = if n.contains(':') {
            "id IN (SELECT certificate_id FROM certificate_names WHERE name = ?)"
        } else {
            "id IN (SELECT certificate_id FROM certificate_names WHERE name IN (?, 'dns:' || ?, 'ip:' || ?, 'email:' || ?))"
        };
        push(clause, Arg::Text(n.to_ascii_lowercase()), &mut args);
    }
    if let Some(t) = &f.tag {
        push(
            "id IN (SELECT certificate_id FROM certificate_tags WHERE tag = ?)",
            Arg::Text(t.clone()),
            &mut args,
        );
    }
    if let Some(o) = &f.owner {
        push("owner = ?", Arg::Text(o.clone()), &mut args);
    }
    if let Some(s) = &f.serial {
        push("serial = ?", Arg::Text(s.to_string()), &mut args);
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        clauses.join(" AND ")
    };
    (sql, args)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for a in args {
        q = match a {
            Arg::Int(i) => q.bind(i),
            Arg::Text(t) => q.bind(t),
        };
    }
    q
}

/// Inserts certificates (at most 500) with their names and tags inside the caller's
/// transaction; their ids in input order.
pub(crate) async fn insert_certificates_on(
    conn: &mut sqlx::AnyConnection,
    chunk: &[NewCertificate],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    const COLS: usize = 13;
    let rows = (0..chunk.len())
        .map(|r| {
            format!(
                "({}, 'valid', ${})",
                (1..=12)
                    .map(|c| format!("${}", r * COLS + c))
                    .collect::<Vec<_>>()
                    .join(", "),
                r * COLS + 13
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO certificates (issuer_id, serial, profile, subject_cn, not_before, not_after, fingerprint, der, \
         source, owner, team, replaces_id, status, created_at) VALUES {rows} RETURNING id, fingerprint"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for c in chunk {
        q = q
            .bind(c.issuer.as_str().to_string())
            .bind(c.serial.to_string())
            .bind(c.profile.clone())
            .bind(c.subject_cn.clone())
            .bind(c.not_before)
            .bind(c.not_after)
            .bind(c.fingerprint.clone())
            .bind(c.der.clone())
            .bind(c.source.as_str())
            .bind(c.owner.clone())
            .bind(c.team.clone())
            .bind(c.replaces)
            .bind(now);
    }
    let mut ids = std::collections::HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        ids.insert(
            r.try_get::<String, _>("fingerprint")?,
            r.try_get::<i64, _>("id")?,
        );
    }
    let mut names: Vec<(i64, String)> = Vec::new();
    let mut tags: Vec<(i64, String)> = Vec::new();
    let mut ids_in_order = Vec::with_capacity(chunk.len());
    for c in chunk {
        let id = *ids
            .get(&c.fingerprint)
            .ok_or_else(|| StoreError::Backend("bulk insert lost a row".into()))?;
        ids_in_order.push(id);
        let mut n: Vec<String> = c
            .names
            .iter()
            .chain(c.subject_cn.iter())
            .map(|x| x.to_ascii_lowercase())
            .collect();
        n.sort();
        n.dedup();
        names.extend(n.into_iter().map(|x| (id, x)));
        let mut t = c.tags.clone();
        t.sort();
        t.dedup();
        tags.extend(t.into_iter().map(|x| (id, x)));
    }
    for (table, column, list) in [
        ("certificate_names", "name", names),
        ("certificate_tags", "tag", tags),
    ] {
        for part in list.chunks(1000) {
            let values = (0..part.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let mut q = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {table} (certificate_id, {column}) VALUES {values}"
            )));
            for (id, v) in part {
                q = q.bind(*id).bind(v.clone());
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(ids_in_order)
}

/// Records one certificate and the audit event `event` makes for its id, on `conn` (the
/// caller's transaction); returns the id.
pub(crate) async fn insert_audited_on(
    conn: &mut sqlx::AnyConnection,
    c: &NewCertificate,
    event: impl FnOnce(i64) -> crate::NewAuditEvent,
    now: i64,
) -> Result<i64, StoreError> {
    let id = insert_certificates_on(conn, std::slice::from_ref(c), now)
        .await?
        .pop()
        .ok_or_else(|| StoreError::Backend("insert returned no id".into()))?;
    crate::audit::append_audit_on(conn, &event(id), now).await?;
    Ok(id)
}

impl Store {
    /// Records a certificate with its names and tags, atomically.
    pub async fn insert_certificate(
        &self,
        c: &NewCertificate,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.insert_certificates_bulk(std::slice::from_ref(c), now)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Backend("insert returned no id".into()))
    }

    /// Records a certificate and the audit event `event` makes for its id, in one
    /// transaction.
    pub async fn insert_certificate_audited(
        &self,
        c: &NewCertificate,
        event: impl FnOnce(i64) -> crate::NewAuditEvent,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = insert_audited_on(&mut tx, c, event, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Turns rows into records, loading names and tags for the whole batch in two queries
    /// (not two per row: a page of 100 costs 3 round trips, not 201).
    async fn hydrate(
        &self,
        rows: &[sqlx::any::AnyRow],
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut names: std::collections::HashMap<i64, Vec<String>> =
            std::collections::HashMap::new();
        let mut tags: std::collections::HashMap<i64, Vec<String>> =
            std::collections::HashMap::new();
        if !ids.is_empty() {
            // Ids are integers from our own rows; they are bound, not formatted.
            let placeholders = (1..=ids.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ");
            for (table, column, map) in [
                ("certificate_names", "name", &mut names),
                ("certificate_tags", "tag", &mut tags),
            ] {
                let sql = format!("SELECT certificate_id, {column} AS v FROM {table} WHERE certificate_id IN ({placeholders}) ORDER BY {column}");
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for id in &ids {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(self.reads()).await? {
                    map.entry(r.try_get("certificate_id")?)
                        .or_default()
                        .push(r.try_get("v")?);
                }
            }
        }
        let bad = |what: &str| StoreError::Backend(format!("stored {what} is invalid"));
        let mut out = Vec::with_capacity(rows.len());
        for (row, id) in rows.iter().zip(ids) {
            let issuer: String = row.try_get("issuer_id")?;
            let serial: String = row.try_get("serial")?;
            out.push(CertificateRecord {
                id,
                certificate: NewCertificate {
                    issuer: issuer.parse().map_err(|_| bad("issuer"))?,
                    serial: serial.parse().map_err(|_| bad("serial"))?,
                    profile: row.try_get("profile")?,
                    subject_cn: row.try_get("subject_cn")?,
                    names: names.remove(&id).unwrap_or_default(),
                    not_before: row.try_get("not_before")?,
                    not_after: row.try_get("not_after")?,
                    fingerprint: row.try_get("fingerprint")?,
                    der: row.try_get("der")?,
                    source: CertificateSource::parse(&row.try_get::<String, _>("source")?)?,
                    owner: row.try_get("owner")?,
                    team: row.try_get("team")?,
                    tags: tags.remove(&id).unwrap_or_default(),
                    replaces: row.try_get("replaces_id")?,
                },
                revoked: row.try_get::<String, _>("status")? == "revoked",
                created_at: row.try_get("created_at")?,
            });
        }
        Ok(out)
    }

    async fn hydrate_one(&self, row: sqlx::any::AnyRow) -> Result<CertificateRecord, StoreError> {
        self.hydrate(std::slice::from_ref(&row))
            .await?
            .pop()
            .ok_or_else(|| StoreError::Backend("row vanished while loading".into()))
    }

    /// Records many certificates (imports, seeding) in one transaction per 500, with
    /// multi-row inserts. Returns their ids in input order; a conflict aborts that batch
    /// (earlier batches stay).
    pub async fn insert_certificates_bulk(
        &self,
        certs: &[NewCertificate],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut all_ids = Vec::with_capacity(certs.len());
        for chunk in certs.chunks(500) {
            let mut tx = self.begin_write().await?;
            all_ids.extend(insert_certificates_on(&mut tx, chunk, now).await?);
            tx.commit().await?;
        }
        Ok(all_ids)
    }

    /// One certificate by inventory id.
    pub async fn certificate(&self, id: i64) -> Result<CertificateRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM certificates WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("certificate {id}")))?;
        self.hydrate_one(row).await
    }

    /// One certificate by issuer and serial.
    pub async fn certificate_by_serial(
        &self,
        issuer: &CaId,
        serial: &Serial,
    ) -> Result<CertificateRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM certificates WHERE issuer_id = $1 AND serial = $2")
            .bind(issuer.as_str().to_string())
            .bind(serial.to_string())
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("certificate {serial} of {issuer}")))?;
        self.hydrate_one(row).await
    }

    /// Whether the inventory holds a certificate of `issuer` with this serial (one indexed
    /// read, nothing hydrated: the OCSP miss path asks it for every stranger's serial).
    pub async fn certificate_issued(
        &self,
        issuer: &CaId,
        serial: &Serial,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM certificates WHERE issuer_id = $1 AND serial = $2")
                .bind(issuer.as_str().to_string())
                .bind(serial.to_string())
                .fetch_optional(self.reads())
                .await?
                .is_some(),
        )
    }

    /// One certificate by its SHA-256 fingerprint (lowercase hex), e.g. a TLS client's.
    pub async fn certificate_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<CertificateRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM certificates WHERE fingerprint = $1")
            .bind(fingerprint.to_string())
            .fetch_optional(self.reads())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("certificate {fingerprint}")))?;
        self.hydrate_one(row).await
    }

    /// A page of certificates matching `filter`, with ids above `after`, at most `limit`
    /// (1..=1000).
    pub async fn certificates(
        &self,
        filter: &CertificateFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<CertificateRecord>, StoreError> {
        if limit == 0 || limit > 1000 {
            return Err(StoreError::Invalid(
                "limit must be between 1 and 1000".into(),
            ));
        }
        let (clause, args) = where_clause(filter, 3);
        let sql = format!(
            "SELECT * FROM certificates WHERE id > $1 {} ORDER BY id LIMIT $2",
            if clause.is_empty() {
                String::new()
            } else {
                format!("AND {clause}")
            }
        );
        // Only constant fragments and numbered placeholders were formatted in.
        let q = sqlx::query(AssertSqlSafe(sql))
            .bind(after.unwrap_or(0))
            .bind(i64::from(limit) + 1);
        let rows = bind_all(q, args).fetch_all(self.pool()).await?;
        let more = rows.len() > limit as usize;
        let items = self
            .hydrate(&rows[..rows.len().min(limit as usize)])
            .await?;
        let next_after = if more {
            items.last().map(|c| c.id)
        } else {
            None
        };
        Ok(Page { items, next_after })
    }

    /// How many certificates match `filter` (e.g. expiring in the next 30 days and not revoked).
    pub async fn count_certificates(&self, filter: &CertificateFilter) -> Result<i64, StoreError> {
        let (clause, args) = where_clause(filter, 1);
        let sql = format!(
            "SELECT COUNT(*) AS n FROM certificates {}",
            if clause.is_empty() {
                String::new()
            } else {
                format!("WHERE {clause}")
            }
        );
        let row = bind_all(sqlx::query(AssertSqlSafe(sql)), args)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Marks a certificate revoked. A second revocation is a conflict (the first reason
    /// and time stand).
    pub async fn revoke_certificate(&self, r: &RevocationRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE certificates SET status = 'revoked' WHERE id = $1 AND status = 'valid'",
        )
        .bind(r.certificate_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            let exists = sqlx::query("SELECT id FROM certificates WHERE id = $1")
                .bind(r.certificate_id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match exists {
                Some(_) => StoreError::Conflict(format!(
                    "certificate {} is already revoked",
                    r.certificate_id
                )),
                None => StoreError::NotFound(format!("certificate {}", r.certificate_id)),
            });
        }
        sqlx::query("INSERT INTO revocations (certificate_id, reason, revoked_at, invalidity_date, revoked_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(r.certificate_id)
            .bind(i64::from(r.reason.code()))
            .bind(r.revoked_at)
            .bind(r.invalidity_date)
            .bind(r.revoked_by.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The revocation of a certificate, if any.
    pub async fn revocation(
        &self,
        certificate_id: i64,
    ) -> Result<Option<RevocationRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM revocations WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            let code: i64 = r.try_get("reason")?;
            Ok(RevocationRow {
                certificate_id,
                reason: u8::try_from(code)
                    .ok()
                    .and_then(RevocationReason::from_code)
                    .ok_or_else(|| {
                        StoreError::Backend(format!("stored reason {code} is invalid"))
                    })?,
                revoked_at: r.try_get("revoked_at")?,
                invalidity_date: r.try_get("invalidity_date")?,
                revoked_by: r.try_get("revoked_by")?,
            })
        })
        .transpose()
    }
}
