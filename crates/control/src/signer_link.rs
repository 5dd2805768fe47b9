//! The signer, from async code: each call opens the socket on a blocking worker thread,
//! sends one request and reads the answer.
//!
//! In: a [`Request`]. Out: the signer's [`Response`], with `Response::Error` turned into a
//! [`Problem`] by kind. A connection per call keeps control simple and lets the signer
//! restart under it; the signer's answer time is dominated by the HSM, not the connect.

use crate::problem::Problem;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use strongroom_wire::{ClientError, Request, Response, SignerClient};

/// Where the signer listens.
#[derive(Debug, Clone)]
pub struct SignerLink {
    socket: Arc<PathBuf>,
}

impl SignerLink {
    /// A link to the socket at `path`.
    pub fn new(path: PathBuf) -> SignerLink {
        SignerLink {
            socket: Arc::new(path),
        }
    }

    /// Sends one request.
    pub async fn call(&self, request: Request) -> Result<Response, Problem> {
        let socket = self.socket.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let mut client = SignerClient::connect(&socket)?;
            client.call(&request)
        })
        .await
        .map_err(Problem::internal)?;
        match answer {
            Ok(Response::Error(e)) | Err(ClientError::Signer(e)) => Err(e.into()),
            Ok(r) => Ok(r),
            Err(e) => Err(Problem::unavailable(format!(
                "the signer is not answering ({e}); check strongroom-signer"
            ))),
        }
    }

    /// The signer's counters, or `None` when it does not answer within `within` (down,
    /// wedged, or its allow-list lacks `Metrics` for control): a metrics scrape must not
    /// wait on the signer's 60 s timeout, nor fail because the signer is away.
    pub async fn metrics(&self, within: Duration) -> Option<strongroom_wire::SignerMetrics> {
        let socket = self.socket.clone();
        let call = tokio::task::spawn_blocking(move || {
            let mut client = SignerClient::connect(&socket)?;
            client.set_timeout(within)?;
            client.call(&Request::Metrics)
        });
        match tokio::time::timeout(within, call).await {
            Ok(Ok(Ok(Response::Metrics(m)))) => Some(m),
            Ok(Ok(Ok(other))) => {
                tracing::warn!(answer = ?other, "the signer answered Metrics with something else");
                None
            }
            Ok(Ok(Err(e))) => {
                tracing::debug!(error = %e, "no signer metrics at this scrape");
                None
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "signer metrics task failed");
                None
            }
            Err(_) => {
                tracing::debug!("the signer did not answer Metrics in time");
                None
            }
        }
    }
}
