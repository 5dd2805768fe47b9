//! The signer, from async code: each call opens the socket on a blocking worker thread,
//! sends one request and reads the answer.
//!
//! In: a [`Request`]. Out: the signer's [`Response`], with `Response::Error` turned into a
//! [`Problem`] by kind. A connection per call keeps control simple and lets the signer
//! restart under it; the signer's answer time is dominated by the HSM, not the connect.

use crate::problem::Problem;
use std::path::PathBuf;
use std::sync::Arc;
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
}
