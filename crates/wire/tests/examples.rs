//! Every message kind round-trips through the frame codec. With STRONGROOM_FUZZ_SEEDS=DIR
//! set, the encoded frames are also written there as seeds for `fuzz/` (the committed
//! corpus under fuzz/corpus/ was made this way).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::io::Cursor;
use strongroom_types::Policy;
use strongroom_wire::*;

fn csr() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../x509/tests/testdata/p256.csr"
    ))
    .unwrap()
}

fn requests() -> Vec<Request> {
    let policy: Policy = Policy {
        version: 3,
        profiles: vec![],
    };
    vec![
        Request::Health,
        Request::GetCaChain {
            ca: "issuing".parse().unwrap(),
        },
        Request::PutPolicy { policy },
        Request::IssueCertificate(IssuanceRequest {
            profile: "tls-server".parse().unwrap(),
            subject_key: SubjectKey::Csr(csr()),
            names: vec![
                "dns:www.lab.test".parse().unwrap(),
                "ip:192.0.2.1".parse().unwrap(),
            ],
            validity_secs: Some(86400),
        }),
        Request::IssueCrl {
            ca: "root".parse().unwrap(),
        },
        Request::RecordRevocation(RevocationRecord {
            ca: "issuing".parse().unwrap(),
            serial: "0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap(),
            reason: strongroom_types::RevocationReason::KeyCompromise,
            revoked_at: 1_790_000_000,
            invalidity_date: None,
        }),
        Request::CreateCa(CaCreation {
            id: "issuing-2".parse().unwrap(),
            parent: "root".parse().unwrap(),
            subject: "CN=Second Issuing CA".into(),
            algorithm: strongroom_types::KeyAlgorithm::EcdsaP256,
            validity_days: 365,
            path_length: Some(0),
            permitted: vec!["dns:lab.test".into()],
            excluded: vec![],
            crl_url: Some("http://127.0.0.1:8080/crl/issuing-2.crl".into()),
            ocsp_url: None,
            ca_issuers_url: None,
            crl_shards: 0,
            delta_crl: false,
        }),
        Request::SignAuditCheckpoint(CheckpointRequest {
            ca: "issuing".parse().unwrap(),
            seq: 42,
            head_hash: "ab".repeat(32),
        }),
        Request::SignOcspResponses(OcspSigningRequest {
            ca: "issuing".parse().unwrap(),
            serials: vec!["0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap()],
            validity_secs: 3600,
            sha256_cert_ids: false,
            combined: false,
            nonce: None,
        }),
        Request::JournaledIssuances {
            after: 41,
            limit: MAX_JOURNALED_ISSUANCES,
        },
        Request::ListenerKey,
        // A TLS 1.3 server CertificateVerify input: 64 spaces, the context, a SHA-256 hash.
        Request::SignTlsHandshake {
            scheme: TlsSignatureScheme::EcdsaP256Sha256,
            message: [
                vec![0x20; 64],
                b"TLS 1.3, server CertificateVerify\0".to_vec(),
                vec![0xab; 32],
            ]
            .concat(),
        },
        Request::Metrics,
    ]
}

fn responses() -> Vec<Response> {
    vec![
        Response::CaChain(vec![csr(), csr()]),
        Response::PolicyAccepted { version: 3 },
        Response::Crl {
            der: csr(),
            number: 7,
        },
        Response::RevocationRecorded {
            already_revoked: true,
        },
        Response::Error(SignerError {
            kind: ErrorKind::PolicyDenied,
            detail: "unknown profile".into(),
        }),
        Response::CaCreated {
            chain: vec![csr(), csr()],
        },
        Response::AuditCheckpoint(SignedCheckpoint {
            statement: "strongroom-audit-checkpoint-v1".into(),
            signature: vec![0x30, 0x00],
            certificate: csr(),
            chain: vec![csr()],
        }),
        Response::OcspResponses(vec![SignedOcspResponse {
            serial: "0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap(),
            status: OcspStatus::Revoked {
                at: 1_790_000_000,
                reason: strongroom_types::RevocationReason::KeyCompromise,
            },
            der: vec![0x30, 0x03, 0x0a, 0x01, 0x00],
            this_update: 1_790_000_000,
            next_update: 1_790_003_600,
        }]),
        Response::JournaledIssuances {
            records: vec![JournaledIssuance {
                seq: 42,
                at: 1_790_000_000,
                ca: "issuing".parse().unwrap(),
                serial: "0a1b2c3d4e5f60718293a4b5c6d7e8f9".parse().unwrap(),
                peer: "front".into(),
                profile: "tls-server".into(),
                der: csr(),
            }],
            through: 43,
        },
        Response::ListenerKey {
            public_key: vec![0x30, 0x59, 0x30, 0x13],
            uri: "pkcs11:token=strongroom;object=strongroom-listener-front".into(),
        },
        Response::TlsHandshakeSignature {
            signature: vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02],
        },
        Response::Metrics(SignerMetrics {
            operations: vec![
                OperationCount {
                    operation: Operation::IssueCertificate,
                    refused: None,
                    count: 12,
                },
                OperationCount {
                    operation: Operation::IssueCertificate,
                    refused: Some(ErrorKind::PolicyDenied),
                    count: 1,
                },
            ],
            hsm_signatures: {
                let r = LatencyRecorder::new();
                r.observe(std::time::Duration::from_millis(3));
                r.snapshot()
            },
            journal_syncs: LatencySnapshot::default(),
            hsm_degraded: false,
            journal_records: 42,
            policy_version: 3,
            uptime_secs: 600,
        }),
    ]
}

#[test]
fn operations_keep_their_tags() {
    // Appended, never reordered: the tags are a contract between daemons of two builds.
    let tag = |r: &Request| body(&encode_frame(0, r).unwrap())[9];
    assert_eq!(tag(&Request::Health), 0);
    assert_eq!(tag(&Request::ListenerKey), 11);
    let sign = Request::SignTlsHandshake {
        scheme: TlsSignatureScheme::EcdsaP256Sha256,
        message: vec![],
    };
    assert_eq!(tag(&sign), 12);
    assert_eq!(tag(&Request::Metrics), 13);
    assert_eq!(Operation::ALL.len(), 21);
    let est = Request::SignEstKeyPackage {
        ca: "issuing".parse().unwrap(),
        package_digest: vec![],
    };
    assert_eq!(tag(&est), 18);
    assert_eq!(Operation::parse("Metrics"), Some(Operation::Metrics));
    assert_eq!(
        Operation::parse("SignTlsHandshake"),
        Some(Operation::SignTlsHandshake)
    );
}

fn body(frame: &[u8]) -> Vec<u8> {
    read_frame(&mut Cursor::new(frame)).unwrap()
}

#[test]
fn every_message_round_trips() {
    let seeds = std::env::var_os("STRONGROOM_FUZZ_SEEDS").map(std::path::PathBuf::from);
    for (i, r) in requests().into_iter().enumerate() {
        let f = encode_frame(i as u64, &r).unwrap();
        let back = decode_payload::<Request>(&body(&f)).unwrap();
        assert_eq!(back.message, r);
        assert_eq!(back.request_id, i as u64);
        if let Some(dir) = &seeds {
            std::fs::create_dir_all(dir.join("wire_request")).unwrap();
            std::fs::write(dir.join(format!("wire_request/{i}")), body(&f)).unwrap();
        }
    }
    for (i, r) in responses().into_iter().enumerate() {
        let f = encode_frame(i as u64, &r).unwrap();
        assert_eq!(decode_payload::<Response>(&body(&f)).unwrap().message, r);
        if let Some(dir) = &seeds {
            std::fs::create_dir_all(dir.join("wire_response")).unwrap();
            std::fs::write(dir.join(format!("wire_response/{i}")), body(&f)).unwrap();
        }
    }
}
