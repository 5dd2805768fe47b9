//! Control API input from the network (hostile until authenticated, and after): the JSON
//! bodies of the write routes through the strict `Body` extractor, query strings through
//! `Params`, and pagination cursors. Every input is either a typed value or a 4xx problem
//! with a detail; nothing panics.
#![no_main]

use axum::extract::{FromRequest, FromRequestParts};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use strongroom_control::api::{
    acme, apikeys, approvals, cas, certificates, login_certificates, profiles, session, users,
};
use strongroom_control::cursor::CursorKey;
use strongroom_control::input::{Body, Params};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fn key() -> &'static CursorKey {
    static KEY: OnceLock<CursorKey> = OnceLock::new();
    KEY.get_or_init(|| CursorKey::generate().expect("a cursor key"))
}

async fn body<T: serde::de::DeserializeOwned>(data: &[u8]) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/x")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(data.to_vec()))
        .expect("a request");
    if let Err(p) = Body::<T>::from_request(req, &()).await {
        assert!((400..500).contains(&p.status.as_u16()), "{p:?}");
    }
}

async fn query<T: serde::de::DeserializeOwned + Send>(q: &str) {
    let Ok(req) = axum::http::Request::builder()
        .uri(format!("/api/v1/x?{q}"))
        .body(())
    else {
        return;
    };
    let (mut parts, ()) = req.into_parts();
    if let Err(p) = Params::<T>::from_request_parts(&mut parts, &()).await {
        assert!((400..500).contains(&p.status.as_u16()), "{p:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        body::<certificates::IssueBody>(data).await;
        body::<certificates::RenewBody>(data).await;
        body::<certificates::RevokeBody>(data).await;
        body::<certificates::BulkRevokeBody>(data).await;
        body::<cas::CreateCa>(data).await;
        body::<profiles::PutProfile>(data).await;
        body::<users::CreateUser>(data).await;
        body::<users::UpdateUser>(data).await;
        body::<apikeys::CreateKey>(data).await;
        body::<session::LoginRequest>(data).await;
        body::<acme::CreateEab>(data).await;
        body::<approvals::Decision>(data).await;
        body::<login_certificates::BindBody>(data).await;
        body::<login_certificates::EnrolBody>(data).await;
        if let Ok(q) = std::str::from_utf8(data) {
            query::<certificates::ListQuery>(q).await;
            query::<acme::OrderQuery>(q).await;
            // A cursor is refused unless this process issued it for this scope.
            let _ = key().open(q, "certificates");
        }
    });
});
