//! instant-acme's `HttpClient` served by ureq (its default stack, hyper-rustls with the
//! platform verifier, is left out to keep the dependency graph lean). Shared by the
//! instant-acme interop test and the instant-acme benchmark client
//! (`examples/acme_bench_instant.rs`, which includes this file by path).
//!
//! In: requests instant-acme builds. Out: the answers, each request run on the given ureq
//! agent in a blocking task.

use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use std::future::Future;
use std::pin::Pin;
use ureq::http::Request;

/// instant-acme's transport: each request runs on ureq in a blocking task.
pub struct UreqHttp(pub ureq::Agent);

impl HttpClient for UreqHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let agent = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            // The request body is infallible: it is already in memory.
            let Ok(collected) = body.collect().await;
            let data = collected.to_bytes();
            let answer = tokio::task::spawn_blocking(move || {
                // ureq refuses a body on GET/HEAD, even an empty one.
                let mut resp = if data.is_empty() {
                    agent.run(Request::from_parts(parts, ()))?
                } else {
                    agent.run(Request::from_parts(parts, data.to_vec()))?
                };
                let bytes = resp.body_mut().read_to_vec()?;
                Ok::<_, ureq::Error>(resp.map(|_| bytes))
            })
            .await
            .map_err(|e| Error::Other(Box::new(e)))?
            .map_err(|e| Error::Other(Box::new(e)))?;
            let (parts, bytes) = answer.into_parts();
            Ok(BytesResponse {
                parts,
                body: Box::new(Bytes::from(bytes)),
            })
        })
    }
}
