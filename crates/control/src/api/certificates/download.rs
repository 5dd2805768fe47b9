//! Downloading a certificate from the inventory.
//!
//! In: a certificate id and a format. Out: the certificate as PEM (default) or DER, or as
//! PEM followed by the issuing chain the signer holds for its CA.

use super::parse_id;
use crate::app::App;
use crate::input::{Params, Segments};
use crate::problem::{ApiResult, Problem};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response as HttpResponse};
use serde::Deserialize;

/// Query of the download route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    format: Option<String>,
}

/// PEM (default), DER, or PEM followed by the issuing chain.
pub async fn download(
    State(app): State<App>,
    Segments(id): Segments<String>,
    Params(q): Params<DownloadQuery>,
) -> ApiResult<HttpResponse> {
    let c = app.store.certificate(parse_id(&id)?).await?;
    let der = &c.certificate.der;
    Ok(match q.format.as_deref().unwrap_or("pem") {
        "pem" => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            strongroom_x509::to_pem("CERTIFICATE", der),
        )
            .into_response(),
        "der" => (
            [(header::CONTENT_TYPE, "application/pkix-cert")],
            der.clone(),
        )
            .into_response(),
        "chain" => {
            let chain = app.signer.ca_chain(c.certificate.issuer.clone()).await?;
            let mut pem = strongroom_x509::to_pem("CERTIFICATE", der);
            for ca in &chain {
                pem.push_str(&strongroom_x509::to_pem("CERTIFICATE", ca));
            }
            (
                [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                pem,
            )
                .into_response()
        }
        other => {
            return Err(Problem::bad_request(format!(
                "format {other:?} is not pem, der or chain"
            )))
        }
    })
}
