//! The ACME request and response envelope (RFC 8555 §6): nonces, the JWS checks every
//! POST goes through, and replies that carry a fresh Replay-Nonce and the index link.
//!
//! In: the request path, headers and body (read by [`bounded_body`], never past
//! [`MAX_BODY`]). Out: a [`Verified`] request (signature checked with the right key, nonce
//! used up, `url` equal to where it arrived) or a problem; and the HTTP response for a
//! handler's [`Reply`] or problem.

use super::{Acme, Shared};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use strongroom_acme::jws::MAX_BODY;
use strongroom_acme::{b64, Jwk, Jws, Problem, ProblemType};
use strongroom_store::{AccountStatus, AcmeAccount, NonceAndAccount};

/// A handler's successful answer.
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    location: Option<String>,
    links: Vec<String>,
    retry_after: Option<u64>,
}

impl Reply {
    /// A JSON resource.
    pub fn json(status: StatusCode, v: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
            location: None,
            links: Vec::new(),
            retry_after: None,
        }
    }

    /// Raw bytes of a type.
    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type,
            body,
            location: None,
            links: Vec::new(),
            retry_after: None,
        }
    }

    /// A problem document that must carry other headers too (a 409 with Location).
    pub fn problem(p: &Problem) -> Reply {
        Reply {
            status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST),
            content_type: "application/problem+json",
            body: p.to_json().into_bytes(),
            location: None,
            links: Vec::new(),
            retry_after: None,
        }
    }

    /// An empty 200.
    pub fn empty() -> Reply {
        Reply::bytes("application/json", Vec::new())
    }

    /// With a Location header.
    pub fn location(mut self, url: String) -> Reply {
        self.location = Some(url);
        self
    }

    /// With a Link header.
    pub fn link(mut self, url: &str, rel: &str) -> Reply {
        self.links.push(format!("<{url}>;rel=\"{rel}\""));
        self
    }

    /// With Retry-After.
    pub fn retry_after(mut self, secs: u64) -> Reply {
        self.retry_after = Some(secs);
        self
    }
}

/// A problem with a Retry-After (rate limits, a busy HSM).
#[derive(Debug)]
pub struct Refusal {
    /// The problem.
    pub problem: Problem,
    /// Seconds.
    pub retry_after: Option<u64>,
}

impl From<Problem> for Refusal {
    fn from(problem: Problem) -> Refusal {
        Refusal {
            problem,
            retry_after: None,
        }
    }
}

impl From<strongroom_store::StoreError> for Refusal {
    fn from(e: strongroom_store::StoreError) -> Refusal {
        store_problem(e).into()
    }
}

/// A rate limit the store refused an order or account for (429, retry in a minute).
pub fn rate_limited(hit: strongroom_store::LimitHit, ip: &str) -> Refusal {
    use strongroom_store::LimitHit;
    let detail = match hit {
        LimitHit::Account(max) => {
            format!("more than {max} new orders for this account in the last hour")
        }
        LimitHit::Ip(max) => {
            format!("more than {max} new accounts and orders from {ip} in the last hour")
        }
        LimitHit::Identifier(value, max) => {
            format!("more than {max} authorizations for {value} in the last hour")
        }
    };
    Refusal {
        problem: Problem::new(ProblemType::RateLimited, detail),
        retry_after: Some(60),
    }
}

/// A store failure as a problem (not found → 404 malformed, others → 500).
pub fn store_problem(e: strongroom_store::StoreError) -> Problem {
    match e {
        strongroom_store::StoreError::NotFound(what) => {
            Problem::malformed(format!("no such resource: {what}")).with_status(404)
        }
        other => {
            tracing::warn!(error = %other, "ACME store operation failed");
            Problem::internal("the database is unavailable; retry later")
        }
    }
}

/// What handlers return.
pub type Answer = Result<Reply, Refusal>;

/// Nonces made per store write.
const NONCE_BATCH: usize = 64;

/// Nonces already recorded in the store, waiting to be handed out (with their expiry).
#[derive(Debug, Default)]
pub struct NoncePool(std::sync::Mutex<Vec<(String, i64)>>);

/// A fresh nonce, recorded in the store before it is handed out (None if the store is
/// down: the client then gets a badNonce on its next request and retries). Nonces are
/// recorded 64 at a time, so a response does not cost a write of its own; every front on
/// the database can still check every nonce.
pub async fn fresh_nonce(acme: &Acme) -> Option<String> {
    let now = acme.app.now();
    {
        let mut pool = acme.nonces.0.lock().unwrap_or_else(|p| p.into_inner());
        // Keep only nonces with most of their life left.
        while let Some((n, expires)) = pool.pop() {
            if expires - now > acme.cfg.nonce_lifetime_secs / 2 {
                return Some(n);
            }
        }
    }
    let mut batch = Vec::with_capacity(NONCE_BATCH);
    for _ in 0..NONCE_BATCH {
        let mut raw = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw).ok()?;
        batch.push(b64::encode(&raw));
    }
    let expires = now + acme.cfg.nonce_lifetime_secs;
    if let Err(e) = acme.app.store.add_acme_nonces(&batch, expires).await {
        tracing::warn!(error = %e, "cannot record nonces");
        return None;
    }
    let mine = batch.pop();
    acme.nonces
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(batch.into_iter().map(|n| (n, expires)));
    mine
}

/// Turns a handler's outcome into the HTTP response, with a fresh nonce and the index link.
pub async fn finish(acme: &Shared, outcome: Answer) -> Response {
    let nonce = fresh_nonce(acme).await;
    let directory = acme.url("/acme/directory");
    let mut headers = HeaderMap::new();
    let insert = |h: &mut HeaderMap, name: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.append(name, v);
        }
    };
    if let Some(n) = &nonce {
        insert(
            &mut headers,
            header::HeaderName::from_static("replay-nonce"),
            n,
        );
    }
    insert(&mut headers, header::CACHE_CONTROL, "no-store");
    insert(
        &mut headers,
        header::LINK,
        &format!("<{directory}>;rel=\"index\""),
    );
    match outcome {
        Ok(r) => {
            insert(&mut headers, header::CONTENT_TYPE, r.content_type);
            if let Some(l) = &r.location {
                insert(&mut headers, header::LOCATION, l);
            }
            for l in &r.links {
                insert(&mut headers, header::LINK, l);
            }
            if let Some(s) = r.retry_after {
                insert(&mut headers, header::RETRY_AFTER, &s.to_string());
            }
            (r.status, headers, r.body).into_response()
        }
        Err(refusal) => {
            let p = refusal.problem;
            insert(
                &mut headers,
                header::CONTENT_TYPE,
                "application/problem+json",
            );
            if let Some(s) = refusal.retry_after {
                insert(&mut headers, header::RETRY_AFTER, &s.to_string());
            }
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            if status.is_server_error() {
                tracing::warn!(problem = %p.detail, "ACME request failed");
            } else {
                tracing::debug!(problem = %p.detail, kind = %p.kind, "ACME request refused");
            }
            (status, headers, p.to_json()).into_response()
        }
    }
}

/// Most bytes of a too-large body announced with `Content-Length` that are read and thrown
/// away before the 413: a client that writes its whole body before it reads (most HTTP
/// libraries) then sees the problem document instead of a reset connection. Nothing is
/// kept, so the cost is bandwidth only, bounded by this and the listener's body deadline.
const DISCARDED_AT_MOST: u64 = 1024 * 1024;

/// Reads an ACME request's body before its handler runs, and never keeps more than
/// [`MAX_BODY`]: a `Content-Length` above [`DISCARDED_AT_MOST`] is refused before a byte of
/// the body is read, one between the two is read and discarded, then refused; a longer
/// chunked body is refused at the frame that crosses [`MAX_BODY`]. The client gets a
/// `malformed` problem with status 413 (and where the body was not read to its end, the
/// connection closes with the rest unread). Handlers take `Bytes`, which on its own buffers
/// up to axum's 2 MiB before the JWS parser sees the size.
pub async fn bounded_body(State(acme): State<Shared>, request: Request, next: Next) -> Response {
    let too_large = || Problem::malformed(format!("the JWS is larger than {MAX_BODY} bytes"));
    let (parts, body) = request.into_parts();
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > MAX_BODY as u64) {
        if n <= DISCARDED_AT_MOST {
            let mut body = std::pin::pin!(body);
            while let Some(Ok(_)) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {}
        }
        return finish(&acme, Err(too_large().with_status(413).into())).await;
    }
    let mut body = std::pin::pin!(body);
    let mut read: Vec<u8> = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
        let Ok(frame) = frame else {
            // A broken or stalled body (the listener's deadline): nothing to answer about
            // the JWS, and the connection closes after this answer.
            let p = Problem::malformed("the request body did not arrive whole");
            return finish(&acme, Err(p.into())).await;
        };
        if let Ok(data) = frame.into_data() {
            if read.len() + data.len() > MAX_BODY {
                return finish(&acme, Err(too_large().with_status(413).into())).await;
            }
            read.extend_from_slice(&data);
        }
    }
    next.run(Request::from_parts(parts, Body::from(read))).await
}

/// Which key must sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    /// A `jwk` (newAccount).
    Jwk,
    /// A `kid` naming a valid account.
    Kid,
    /// Either (revokeCert).
    Either,
}

/// A request that passed the envelope checks.
#[derive(Debug)]
pub struct Verified {
    /// The JWS.
    pub jws: Jws,
    /// The signing key.
    pub key: Jwk,
    /// The account, for `kid` requests.
    pub account: Option<AcmeAccount>,
}

impl Verified {
    /// The account (`kid` requests always have one).
    pub fn account(&self) -> Result<&AcmeAccount, Problem> {
        self.account.as_ref().ok_or_else(|| {
            Problem::malformed("this request must be signed with an account key (kid)")
        })
    }
}

/// The account id a `kid` URL names.
pub fn account_id_of(acme: &Acme, kid: &str) -> Result<i64, Problem> {
    let prefix = acme.url("/acme/account/");
    kid.strip_prefix(&prefix)
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Problem::new(
                ProblemType::AccountDoesNotExist,
                format!("kid must be an account URL of this server ({prefix}N)"),
            )
        })
}

/// Checks the envelope of a POST to `path` (RFC 8555 §6.2–6.5).
pub async fn verify(
    acme: &Acme,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    rule: KeyRule,
) -> Result<Verified, Problem> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if media.as_deref() != Some("application/jose+json") {
        return Err(
            Problem::malformed("Content-Type must be application/jose+json").with_status(415),
        );
    }
    let jws = Jws::parse(body)?;
    let expected = acme.url(path);
    if jws.header.url != expected {
        return Err(Problem::unauthorized(format!(
            "the JWS url {:?} is not the URL this request was sent to ({expected})",
            jws.header.url.chars().take(200).collect::<String>()
        )));
    }
    let nonce =
        jws.header.nonce.as_deref().ok_or_else(|| {
            Problem::new(ProblemType::BadNonce, "the protected header has no nonce")
        })?;
    if nonce.is_empty() || nonce.len() > 64 || b64::decode(nonce, "nonce").is_err() {
        return Err(Problem::new(
            ProblemType::BadNonce,
            "the nonce is not one of ours",
        ));
    }
    let bad_nonce = || {
        Problem::new(
            ProblemType::BadNonce,
            "the nonce is unknown, expired or already used; retry with the Replay-Nonce of this answer",
        )
    };
    // The key rules first (they need no database); then the nonce is used up — with the
    // account a `kid` names read in the same statement.
    let (key, account) = match (&jws.header.jwk, &jws.header.kid, rule) {
        (Some(_), _, KeyRule::Kid) => {
            return Err(Problem::malformed(
                "this request must use kid (the account URL), not jwk",
            ))
        }
        (_, Some(_), KeyRule::Jwk) => {
            return Err(Problem::malformed("this request must use jwk, not kid"))
        }
        (Some(_), Some(_), _) => {
            return Err(Problem::malformed(
                "the protected header must carry exactly one of jwk and kid",
            ))
        }
        (None, None, _) => return Err(Problem::malformed("no key in the protected header")),
        (Some(k), None, _) => {
            match acme
                .app
                .store
                .consume_acme_nonce(nonce, acme.app.now())
                .await
            {
                Ok(true) => {}
                Ok(false) => return Err(bad_nonce()),
                Err(e) => return Err(store_problem(e)),
            }
            (k.clone(), None)
        }
        (None, Some(kid), _) => {
            let id = account_id_of(acme, kid)?;
            let account = match acme
                .app
                .store
                .consume_acme_nonce_reading_account(nonce, acme.app.now(), id)
                .await
            {
                Ok(NonceAndAccount::Account(a)) => a,
                Ok(NonceAndAccount::BadNonce) => return Err(bad_nonce()),
                Ok(NonceAndAccount::NoAccount) => {
                    return Err(Problem::new(
                        ProblemType::AccountDoesNotExist,
                        format!("account {id} does not exist"),
                    ))
                }
                Err(e) => return Err(store_problem(e)),
            };
            if account.status != AccountStatus::Valid {
                // RFC 8555 §7.3.6: a deactivated account's requests are unauthorized (401).
                return Err(
                    Problem::unauthorized(format!("account {id} is {}", account.status))
                        .with_status(401),
                );
            }
            let stored: Value = serde_json::from_str(&account.jwk)
                .map_err(|_| Problem::internal("a stored account key is unreadable"))?;
            (Jwk::from_value(&stored)?, Some(account))
        }
    };
    jws.verify(&key)?;
    Ok(Verified { jws, key, account })
}

/// The client's address, for rate limits.
pub fn client_ip(addr: Option<std::net::SocketAddr>) -> String {
    addr.map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub use strongroom_types::time::rfc3339;
