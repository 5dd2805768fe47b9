//! `SignerLink` against a fake signer on a Unix socket, one connection per test: each way a
//! call can go wrong arrives as the one `CallError` variant a caller decides by — a signer
//! that is not there or does not answer is `Unavailable`, its typed refusal is `Refused`,
//! and an answer of the wrong kind, for another request or with bytes past the message is
//! `Unexpected`. The real signer is exercised by the control, front and CLI tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use strongroom_signer_client::{CallError, SignerLink};
use strongroom_wire::{
    body_length, decode_payload, encode_frame_limited, ErrorKind, HealthReport, Request, Response,
    SignerError, MAX_FRAME, MAX_RESPONSE_FRAME,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// What the fake signer sends back for the request it read.
enum Reply {
    /// A well-formed frame answering request id `id`.
    Answer { id: Option<u64>, response: Response },
    /// These bytes, as they are.
    Raw(Vec<u8>),
    /// Nothing: close the connection.
    Close,
    /// Nothing, and keep the connection open.
    Silence,
}

/// Serves one connection at `dir/signer.sock`: reads one request (strictly, as the signer
/// does), checks it is `expected`, and replies.
fn fake_signer(dir: &Path, expected: Request, reply: Reply) -> PathBuf {
    let socket = dir.join("signer.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut prefix = [0u8; 4];
        stream.read_exact(&mut prefix).await.unwrap();
        let mut body = vec![0u8; body_length(prefix, MAX_FRAME).unwrap()];
        stream.read_exact(&mut body).await.unwrap();
        let frame = decode_payload::<Request>(&body).unwrap();
        assert_eq!(frame.message, expected);
        match reply {
            Reply::Answer { id, response } => {
                let id = id.unwrap_or(frame.request_id);
                let bytes = encode_frame_limited(id, &response, MAX_RESPONSE_FRAME).unwrap();
                stream.write_all(&bytes).await.unwrap();
            }
            Reply::Raw(bytes) => stream.write_all(&bytes).await.unwrap(),
            Reply::Close => return,
            Reply::Silence => tokio::time::sleep(Duration::from_secs(30)).await,
        }
        // Until the client has read and hung up.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    });
    socket
}

fn health() -> HealthReport {
    HealthReport {
        hsm_degraded: None,
        token: "strongroom".into(),
        policy_version: 3,
        journal_records: 0,
        cas: vec![],
    }
}

#[tokio::test]
async fn a_typed_answer_comes_back_typed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_signer(
        dir.path(),
        Request::Health,
        Reply::Answer {
            id: None,
            response: Response::Health(health()),
        },
    );
    assert_eq!(SignerLink::new(socket).health().await.unwrap(), health());
}

#[tokio::test]
async fn the_signers_error_is_refused_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_signer(
        dir.path(),
        Request::ListenerKey,
        Reply::Answer {
            id: None,
            response: Response::Error(SignerError {
                kind: ErrorKind::NotAllowed,
                detail: "peer front may not call ListenerKey".into(),
            }),
        },
    );
    let e = SignerLink::new(socket).listener_key().await.unwrap_err();
    assert_eq!(
        e,
        CallError::Refused {
            kind: ErrorKind::NotAllowed,
            detail: "peer front may not call ListenerKey".into()
        }
    );
    assert!(!e.is_temporary());
}

#[tokio::test]
async fn an_answer_of_another_kind_is_unexpected() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_signer(
        dir.path(),
        Request::Metrics,
        Reply::Answer {
            id: None,
            // Megabytes of DER would not reach the message: only the variant's name does.
            response: Response::CaChain(vec![vec![0x30; 4096]]),
        },
    );
    match SignerLink::new(socket).metrics().await {
        Err(CallError::Unexpected(why)) => {
            assert_eq!(why, "the signer answered Metrics with CaChain")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_answer_to_another_request_is_unexpected() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_signer(
        dir.path(),
        Request::Health,
        Reply::Answer {
            id: Some(99),
            response: Response::Health(health()),
        },
    );
    match SignerLink::new(socket).health().await {
        Err(CallError::Unexpected(why)) => assert!(why.contains("request 99"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bytes_past_the_answer_are_unexpected() {
    let dir = tempfile::tempdir().unwrap();
    let mut frame =
        encode_frame_limited(1, &Response::Health(health()), MAX_RESPONSE_FRAME).unwrap();
    frame.push(0);
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    let socket = fake_signer(dir.path(), Request::Health, Reply::Raw(frame));
    match SignerLink::new(socket).health().await {
        Err(CallError::Unexpected(why)) => assert!(why.contains("trailing"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_oversize_answer_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let claim = ((MAX_RESPONSE_FRAME as u32) + 1).to_be_bytes().to_vec();
    let socket = fake_signer(dir.path(), Request::Health, Reply::Raw(claim));
    assert!(matches!(
        SignerLink::new(socket).health().await,
        Err(CallError::Unexpected(_))
    ));
}

#[tokio::test]
async fn no_signer_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let e = SignerLink::new(dir.path().join("absent.sock"))
        .health()
        .await
        .unwrap_err();
    match &e {
        CallError::Unavailable(why) => assert!(why.contains("cannot connect"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(e.is_temporary());
}

#[tokio::test]
async fn a_signer_that_hangs_up_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_signer(dir.path(), Request::Health, Reply::Close);
    assert!(matches!(
        SignerLink::new(socket).health().await,
        Err(CallError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_silent_signer_is_unavailable_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let socket = fake_signer(dir.path(), Request::Metrics, Reply::Silence);
    let started = Instant::now();
    let answer = SignerLink::new(socket)
        .within(Duration::from_millis(300))
        .metrics()
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    match answer {
        Err(CallError::Unavailable(why)) => assert!(why.contains("within 300 ms"), "{why}"),
        other => panic!("{other:?}"),
    }
}
