//! Users, roles and API keys. Secrets arrive already hashed (argon2id in control): the
//! store never sees a password or a key secret.
//!
//! In: hashed credentials and role assignments. Out: records for authentication and the
//! admin API; API keys are looked up by their public id and can be revoked at once.

use crate::{Store, StoreError};
use sqlx::Row;

/// RBAC roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// CAs and profiles.
    CaOperator,
    /// Approves requests (two-person integrity).
    Approver,
    /// Read-only plus audit.
    Auditor,
    /// Issues under allowed profiles.
    Enroller,
}

impl Role {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CaOperator => "ca-operator",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
            Role::Enroller => "enroller",
        }
    }

    /// Parses a stable name.
    pub fn parse(s: &str) -> Result<Role, StoreError> {
        Ok(match s {
            "admin" => Role::Admin,
            "ca-operator" => Role::CaOperator,
            "approver" => Role::Approver,
            "auditor" => Role::Auditor,
            "enroller" => Role::Enroller,
            other => return Err(StoreError::Invalid(format!("unknown role {other:?}"))),
        })
    }
}

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// argon2id PHC string (never logged; `Debug` of this record is for tests only).
    pub password_hash: String,
    /// The sealed break-glass account.
    pub break_glass: bool,
    /// Disabled accounts cannot log in.
    pub disabled: bool,
    /// Roles.
    pub roles: Vec<Role>,
    /// For the break-glass account: when it was first used since it was last sealed.
    pub unsealed_at: Option<i64>,
}

/// A key to store.
#[derive(Debug, Clone, Copy)]
pub struct NewApiKey<'a> {
    /// Public key id.
    pub key_id: &'a str,
    /// Hash of the secret.
    pub secret_hash: &'a str,
    /// Owning user.
    pub owner_id: i64,
    /// Roles it carries.
    pub roles: &'a [Role],
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Operator's label.
    pub label: &'a str,
}

/// An API key (the secret is only ever shown once, by control, at creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Row id.
    pub id: i64,
    /// Public key id (the part before the secret).
    pub key_id: String,
    /// Hash of the secret.
    pub secret_hash: String,
    /// Owning user.
    pub owner_id: i64,
    /// Roles the key carries (a subset of its owner's).
    pub roles: Vec<Role>,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// Revocation time.
    pub revoked_at: Option<i64>,
    /// Operator's label ("ci-deploy", "cli session").
    pub label: String,
    /// Creation time.
    pub created_at: i64,
}

impl Store {
    /// Creates a user with roles.
    pub async fn insert_user(
        &self,
        username: &str,
        password_hash: &str,
        roles: &[Role],
        break_glass: bool,
        now: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("INSERT INTO users (username, password_hash, break_glass, disabled, created_at) VALUES ($1, $2, $3, 0, $4) RETURNING id")
            .bind(username.to_string())
            .bind(password_hash.to_string())
            .bind(i64::from(break_glass))
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let id: i64 = row.try_get("id")?;
        for r in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(r.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// A user by login name.
    pub async fn user_by_name(&self, username: &str) -> Result<UserRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE username = $1")
            .bind(username.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {username}")))?;
        self.hydrate_user(&row).await
    }

    /// A user by id.
    pub async fn user(&self, id: i64) -> Result<UserRecord, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        self.hydrate_user(&row).await
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY username")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.hydrate_user(r).await?);
        }
        Ok(out)
    }

    async fn hydrate_user(&self, row: &sqlx::any::AnyRow) -> Result<UserRecord, StoreError> {
        let id: i64 = row.try_get("id")?;
        let roles = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Role::parse(&r.try_get::<String, _>("role")?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UserRecord {
            id,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            break_glass: row.try_get::<i64, _>("break_glass")? != 0,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            roles,
            unsealed_at: row.try_get("unsealed_at")?,
        })
    }

    /// Enables or disables a user (disabled users cannot log in; their API keys stop working).
    pub async fn set_user_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        let n = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {id}")));
        }
        Ok(())
    }

    /// Replaces a user's roles.
    pub async fn set_user_roles(&self, id: i64, roles: &[Role]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let _ = n;
        sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        for r in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(r.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a password hash. For the break-glass account this also reseals it.
    pub async fn set_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        let n =
            sqlx::query("UPDATE users SET password_hash = $1, unsealed_at = NULL WHERE id = $2")
                .bind(password_hash.to_string())
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {id}")));
        }
        Ok(())
    }

    /// Records that the break-glass account was used; true when this broke the seal
    /// (the first use since it was last sealed).
    pub async fn unseal(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE users SET unsealed_at = $1 WHERE id = $2 AND break_glass = 1 AND unsealed_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1)
    }

    /// Stores an API key.
    pub async fn insert_api_key(&self, k: &NewApiKey<'_>, now: i64) -> Result<i64, StoreError> {
        let roles = k
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let row = sqlx::query(
            "INSERT INTO api_keys (key_id, secret_hash, owner_id, roles, expires_at, label, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(k.key_id.to_string())
        .bind(k.secret_hash.to_string())
        .bind(k.owner_id)
        .bind(roles)
        .bind(k.expires_at)
        .bind(k.label.to_string())
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok(row.try_get("id")?)
    }

    /// An API key by its public id.
    pub async fn api_key(&self, key_id: &str) -> Result<ApiKeyRecord, StoreError> {
        let r = sqlx::query("SELECT * FROM api_keys WHERE key_id = $1")
            .bind(key_id.to_string())
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("API key {key_id}")))?;
        row_to_api_key(&r)
    }

    /// API keys, newest first; of one owner when `owner_id` is given.
    pub async fn api_keys(&self, owner_id: Option<i64>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows = match owner_id {
            Some(o) => {
                sqlx::query("SELECT * FROM api_keys WHERE owner_id = $1 ORDER BY id DESC")
                    .bind(o)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM api_keys ORDER BY id DESC")
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(row_to_api_key).collect()
    }

    /// Revokes an API key (takes effect on the next request; no restart).
    pub async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<(), StoreError> {
        let n = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(key_id.to_string())
        .execute(self.pool())
        .await?
        .rows_affected();
        if n == 1 {
            Ok(())
        } else {
            self.api_key(key_id).await?;
            Err(StoreError::Conflict(format!(
                "API key {key_id} is already revoked"
            )))
        }
    }

    /// Records a use of the browser session `key_id` at `now`, if it was used within the
    /// last `idle_secs` (or made then): false when it sat idle longer (it is then revoked),
    /// or is revoked already.
    pub async fn touch_session(
        &self,
        key_id: &str,
        now: i64,
        idle_secs: i64,
    ) -> Result<bool, StoreError> {
        let alive = sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE key_id = $2 AND revoked_at IS NULL \
             AND COALESCE(last_used_at, created_at) > $3",
        )
        .bind(now)
        .bind(key_id.to_string())
        .bind(now - idle_secs)
        .execute(self.pool())
        .await?
        .rows_affected()
            == 1;
        if !alive {
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(key_id.to_string())
            .execute(self.pool())
            .await?;
        }
        Ok(alive)
    }

    /// Revokes every login session of a user — the API's (`session`) and the browser's
    /// (`console`) — leaving API keys made on purpose: "log out everywhere".
    pub async fn revoke_user_sessions(&self, owner_id: i64, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE owner_id = $2 AND revoked_at IS NULL \
             AND label IN ('session', 'console')",
        )
        .bind(now)
        .bind(owner_id)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Revokes every unrevoked API key (and login session) of a user; returns how many.
    pub async fn revoke_user_api_keys(&self, owner_id: i64, now: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE owner_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(owner_id)
        .execute(self.pool())
        .await?
        .rows_affected())
    }
}

fn row_to_api_key(r: &sqlx::any::AnyRow) -> Result<ApiKeyRecord, StoreError> {
    let roles: String = r.try_get("roles")?;
    Ok(ApiKeyRecord {
        id: r.try_get("id")?,
        key_id: r.try_get("key_id")?,
        secret_hash: r.try_get("secret_hash")?,
        owner_id: r.try_get("owner_id")?,
        roles: roles
            .split(',')
            .filter(|s| !s.is_empty())
            .map(Role::parse)
            .collect::<Result<Vec<_>, _>>()?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        label: r.try_get("label")?,
        created_at: r.try_get("created_at")?,
    })
}
