//! Golden bytes: the encoding of one example of every request and every response, of the
//! enums they carry, and of a frame header, pinned as hex. The encoding is a contract
//! between the signer and the daemons of one release, and the fuzz corpus is written in it:
//! reordering variants or fields, changing a field's type, or swapping the serializer fails
//! here. A new variant or field is appended (lib.rs: "add variants only at the end"), its
//! example and hex line added below, and no existing line changes. On a mismatch the test
//! prints every line as this build encodes it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::collections::BTreeSet;
use strongroom_types::scep::{ContentCipher, ScepFailInfo, ScepPkiStatus};
use strongroom_types::{
    CsrExtensions, ExtendedKeyUsage, KeyAlgorithm, KeyUsage, Policy, Profile, RevocationReason,
};
use strongroom_wire::*;

/// Stand-ins for DER: the encoding carries them as length-prefixed bytes, whatever they hold.
const DER: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x2a];
const ROOT_DER: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x01];
const SERIAL: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn profile() -> Profile {
    Profile {
        name: "tls-server".parse().unwrap(),
        description: "TLS servers".into(),
        issuer: "issuing".parse().unwrap(),
        max_validity_secs: 7_776_000,
        backdate_secs: 60,
        key_algorithms: vec![KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048],
        key_usage: vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment],
        extended_key_usage: vec![ExtendedKeyUsage::ServerAuth],
        allowed_name_kinds: vec!["dns".into(), "ip".into()],
        allow_wildcards: false,
        max_names: 100,
        common_name_from_first_name: true,
        allowed_peers: vec!["control".into(), "front".into()],
        ocsp_nonce: true,
        csr_extensions: CsrExtensions::Ignore,
    }
}

fn requests() -> Vec<(&'static str, Request)> {
    vec![
        ("Health", Request::Health),
        (
            "GetCaChain",
            Request::GetCaChain {
                ca: "issuing".parse().unwrap(),
            },
        ),
        (
            "PutPolicy",
            Request::PutPolicy {
                policy: Policy {
                    version: 3,
                    profiles: vec![profile()],
                },
            },
        ),
        (
            "IssueCertificate",
            Request::IssueCertificate(IssuanceRequest {
                profile: "tls-server".parse().unwrap(),
                subject_key: SubjectKey::Csr(DER.to_vec()),
                names: vec![
                    "dns:www.lab.test".parse().unwrap(),
                    "ip:192.0.2.1".parse().unwrap(),
                ],
                validity_secs: Some(86_400),
            }),
        ),
        (
            "IssueCrl",
            Request::IssueCrl {
                ca: "root".parse().unwrap(),
            },
        ),
        (
            "RecordRevocation",
            Request::RecordRevocation(RevocationRecord {
                ca: "issuing".parse().unwrap(),
                serial: SERIAL.parse().unwrap(),
                reason: RevocationReason::KeyCompromise,
                revoked_at: 1_790_000_000,
                invalidity_date: Some(1_789_990_000),
            }),
        ),
        (
            "CreateCa",
            Request::CreateCa(CaCreation {
                id: "issuing-2".parse().unwrap(),
                parent: "root".parse().unwrap(),
                subject: "CN=Second Issuing CA".into(),
                algorithm: KeyAlgorithm::EcdsaP384,
                validity_days: 365,
                path_length: Some(0),
                permitted: vec!["dns:lab.test".into()],
                excluded: vec!["ip:10.0.0.0/8".into()],
                crl_url: Some("http://127.0.0.1:8080/crl/issuing-2.crl".into()),
                ocsp_url: Some("http://127.0.0.1:8080/ocsp".into()),
                ca_issuers_url: None,
                crl_shards: 4,
                delta_crl: true,
            }),
        ),
        (
            "SignAuditCheckpoint",
            Request::SignAuditCheckpoint(CheckpointRequest {
                ca: "issuing".parse().unwrap(),
                seq: 42,
                head_hash: "ab".repeat(32),
            }),
        ),
        (
            "SignOcspResponses",
            Request::SignOcspResponses(OcspSigningRequest {
                ca: "issuing".parse().unwrap(),
                serials: vec![SERIAL.parse().unwrap()],
                validity_secs: 3600,
                sha256_cert_ids: true,
                combined: true,
                nonce: Some(vec![1, 2, 3, 4]),
            }),
        ),
        (
            "IssueCrlScope",
            Request::IssueCrlScope {
                ca: "issuing".parse().unwrap(),
                shard: Some(3),
                delta: true,
            },
        ),
        (
            "JournaledIssuances",
            Request::JournaledIssuances {
                after: 41,
                limit: MAX_JOURNALED_ISSUANCES,
            },
        ),
        ("ListenerKey", Request::ListenerKey),
        (
            "SignTlsHandshake",
            Request::SignTlsHandshake {
                scheme: TlsSignatureScheme::EcdsaP256Sha256,
                message: b"TLS 1.3, server CertificateVerify\0".to_vec(),
            },
        ),
        ("Metrics", Request::Metrics),
        (
            "ScepRaCertificate",
            Request::ScepRaCertificate {
                ca: "issuing".parse().unwrap(),
            },
        ),
        (
            "DecryptScepEnvelope",
            Request::DecryptScepEnvelope(ScepEnvelope {
                ca: "issuing".parse().unwrap(),
                recipient_serial: vec![0x0a, 0x1b],
                encrypted_key: vec![1, 2, 3],
                cipher: ContentCipher::DesCbc,
                iv: vec![9; 8],
                ciphertext: vec![7; 16],
            }),
        ),
        (
            "SignScepReply",
            Request::SignScepReply(ScepReplyRequest {
                ca: "issuing".parse().unwrap(),
                pki_status: ScepPkiStatus::Failure,
                fail_info: Some(ScepFailInfo::BadRequest),
                transaction_id: "4A2B".into(),
                recipient_nonce: vec![5; 16],
                content_digest: vec![6; 32],
            }),
        ),
        (
            "SignScepNextCa",
            Request::SignScepNextCa {
                ca: "issuing".parse().unwrap(),
                successor: "issuing-2".parse().unwrap(),
            },
        ),
        (
            "SignEstKeyPackage",
            Request::SignEstKeyPackage {
                ca: "issuing".parse().unwrap(),
                package_digest: vec![6; 32],
            },
        ),
        (
            "TotpEnrol",
            Request::TotpEnrol {
                username: "alice".into(),
            },
        ),
        (
            "TotpVerify",
            Request::TotpVerify(TotpCheck {
                username: "alice".into(),
                sealed: vec![7; 4],
                code: "123456".into(),
                after_step: 57_000_000,
            }),
        ),
        ("KeyInventory", Request::KeyInventory),
    ]
}

fn responses() -> Vec<(&'static str, Response)> {
    vec![
        (
            "Health",
            Response::Health(HealthReport {
                hsm_degraded: Some("CKR_DEVICE_ERROR".into()),
                token: "strongroom".into(),
                policy_version: 3,
                journal_records: 1234,
                cas: vec![CaSummary {
                    id: "issuing".parse().unwrap(),
                    subject: "CN=Issuing CA".into(),
                    not_after: 1_900_000_000,
                    crl_shards: 4,
                    delta_crl: true,
                    ocsp_responder_not_after: Some(1_800_000_000),
                }],
            }),
        ),
        (
            "CaChain",
            Response::CaChain(vec![DER.to_vec(), ROOT_DER.to_vec()]),
        ),
        ("PolicyAccepted", Response::PolicyAccepted { version: 3 }),
        (
            "Certificate",
            Response::Certificate(IssuedCertificate {
                der: DER.to_vec(),
                serial: SERIAL.parse().unwrap(),
                chain: vec![DER.to_vec(), ROOT_DER.to_vec()],
                journal_seq: 77,
                ca: "issuing".parse().unwrap(),
            }),
        ),
        (
            "Crl",
            Response::Crl {
                der: DER.to_vec(),
                number: 7,
            },
        ),
        (
            "RevocationRecorded",
            Response::RevocationRecorded {
                already_revoked: true,
            },
        ),
        (
            "Error",
            Response::Error(SignerError {
                kind: ErrorKind::PolicyDenied,
                detail: "unknown profile".into(),
            }),
        ),
        (
            "CaCreated",
            Response::CaCreated {
                chain: vec![DER.to_vec(), ROOT_DER.to_vec()],
            },
        ),
        (
            "AuditCheckpoint",
            Response::AuditCheckpoint(SignedCheckpoint {
                statement: "strongroom-audit-checkpoint-v1".into(),
                signature: vec![0x30, 0x00],
                certificate: DER.to_vec(),
                chain: vec![ROOT_DER.to_vec()],
            }),
        ),
        (
            "OcspResponses",
            Response::OcspResponses(vec![SignedOcspResponse {
                serial: SERIAL.parse().unwrap(),
                status: OcspStatus::Revoked {
                    at: 1_790_000_000,
                    reason: RevocationReason::Superseded,
                },
                der: DER.to_vec(),
                this_update: 1_790_000_000,
                next_update: 1_790_003_600,
            }]),
        ),
        (
            "JournaledIssuances",
            Response::JournaledIssuances {
                records: vec![JournaledIssuance {
                    seq: 42,
                    at: 1_790_000_000,
                    ca: "issuing".parse().unwrap(),
                    serial: SERIAL.parse().unwrap(),
                    peer: "front".into(),
                    profile: "tls-server".into(),
                    der: DER.to_vec(),
                }],
                through: 43,
            },
        ),
        (
            "ListenerKey",
            Response::ListenerKey {
                public_key: vec![0x30, 0x59, 0x30, 0x13],
                uri: "pkcs11:token=strongroom;object=strongroom-listener-front".into(),
            },
        ),
        (
            "TlsHandshakeSignature",
            Response::TlsHandshakeSignature {
                signature: vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02],
            },
        ),
        (
            "Metrics",
            Response::Metrics(SignerMetrics {
                operations: vec![
                    OperationCount {
                        operation: Operation::IssueCertificate,
                        refused: None,
                        count: 12,
                    },
                    OperationCount {
                        operation: Operation::SignTlsHandshake,
                        refused: Some(ErrorKind::HsmUnavailable),
                        count: 1,
                    },
                ],
                hsm_signatures: LatencySnapshot {
                    bounds_micros: vec![1_000, 10_000],
                    buckets: vec![5, 2, 0],
                    sum_micros: 9_500,
                },
                journal_syncs: LatencySnapshot::default(),
                hsm_degraded: true,
                journal_records: 42,
                policy_version: 3,
                uptime_secs: 600,
            }),
        ),
        (
            "ScepRaCertificate",
            Response::ScepRaCertificate {
                certificate: DER.to_vec(),
                encryption_certificate: ROOT_DER.to_vec(),
            },
        ),
        (
            "ScepPlaintext",
            Response::ScepPlaintext(ScepPlaintext(DER.to_vec())),
        ),
        (
            "ScepReply",
            Response::ScepReply(SignedScepReply {
                signed_attributes: vec![0x31, 0x00],
                signature: vec![1, 2],
                ra_certificate: DER.to_vec(),
            }),
        ),
        (
            "ScepNextCa",
            Response::ScepNextCa(SignedScepNextCa {
                content: vec![0x30, 0x00],
                certificates: vec![DER.to_vec()],
                signed_attributes: vec![0x31, 0x00],
                signature: vec![1, 2],
                ra_certificate: ROOT_DER.to_vec(),
            }),
        ),
        (
            "EstKeyPackage",
            Response::EstKeyPackage(SignedEstKeyPackage {
                signed_attributes: vec![0x31, 0x00],
                signature: vec![1, 2],
                certificate: DER.to_vec(),
            }),
        ),
        (
            "TotpEnrolment",
            Response::TotpEnrolment(TotpEnrolment {
                sealed: vec![7; 4],
                secret: vec![8; 4],
            }),
        ),
        ("TotpVerified", Response::TotpVerified { step: 57_000_001 }),
        (
            "KeyInventory",
            Response::KeyInventory {
                keys: vec![HsmKey {
                    uri: "pkcs11:token=t;object=k".into(),
                    class: HsmKeyClass::Secret,
                    key_type: "CKK_AES".into(),
                    sensitive: true,
                    extractable: false,
                }],
                truncated: false,
            },
        ),
    ]
}

/// The closed enums the messages carry, every variant (their tags are positions, not the
/// RFC codes: `RemoveFromCrl`, CRLReason 8, is tag 7).
fn enums() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "ErrorKind",
            enc(&[
                ErrorKind::PolicyDenied,
                ErrorKind::HsmUnavailable,
                ErrorKind::HsmFailed,
                ErrorKind::BadRequest,
                ErrorKind::NotAllowed,
                ErrorKind::Internal,
            ]),
        ),
        ("Operation", enc(&Operation::ALL)),
        ("OcspStatus", enc(&[OcspStatus::Good, OcspStatus::Unknown])),
        (
            "SubjectKey",
            enc(&[
                SubjectKey::Csr(vec![1]),
                SubjectKey::PublicKey(vec![2]),
                SubjectKey::CsrKeyAndNames(vec![3]),
            ]),
        ),
        (
            "TlsSignatureScheme",
            enc(&[TlsSignatureScheme::EcdsaP256Sha256]),
        ),
        (
            "RevocationReason",
            enc(&[
                RevocationReason::Unspecified,
                RevocationReason::KeyCompromise,
                RevocationReason::CaCompromise,
                RevocationReason::AffiliationChanged,
                RevocationReason::Superseded,
                RevocationReason::CessationOfOperation,
                RevocationReason::CertificateHold,
                RevocationReason::RemoveFromCrl,
                RevocationReason::PrivilegeWithdrawn,
                RevocationReason::AaCompromise,
            ]),
        ),
        ("KeyAlgorithm", enc(&KeyAlgorithm::ALL)),
        (
            "KeyUsage",
            enc(&[
                KeyUsage::DigitalSignature,
                KeyUsage::ContentCommitment,
                KeyUsage::KeyEncipherment,
                KeyUsage::DataEncipherment,
                KeyUsage::KeyAgreement,
            ]),
        ),
        (
            "ExtendedKeyUsage",
            enc(&[
                ExtendedKeyUsage::ServerAuth,
                ExtendedKeyUsage::ClientAuth,
                ExtendedKeyUsage::CodeSigning,
                ExtendedKeyUsage::EmailProtection,
                ExtendedKeyUsage::TimeStamping,
                ExtendedKeyUsage::OcspSigning,
            ]),
        ),
        (
            "CsrExtensions",
            enc(&[CsrExtensions::Strict, CsrExtensions::Ignore]),
        ),
        ("ContentCipher", enc(&ContentCipher::ALL)),
        (
            "ScepPkiStatus",
            enc(&[
                ScepPkiStatus::Success,
                ScepPkiStatus::Failure,
                ScepPkiStatus::Pending,
            ]),
        ),
        ("ScepFailInfo", enc(&ScepFailInfo::ALL)),
    ]
}

/// An enum line's bytes: the values as one list, through the serializer the frames use.
fn enc<T: serde::Serialize>(values: &[T]) -> Vec<u8> {
    postcard::to_stdvec(values).unwrap()
}

const GOLDEN_REQUESTS: &[(&str, &str)] = &[
    ("Health", "00"),
    ("GetCaChain", "010769737375696e67"),
    ("PutPolicy", "0203010a746c732d7365727665720b544c5320736572766572730769737375696e6780ceda033c02000202000201000203646e730269700064010207636f6e74726f6c0566726f6e740101"),
    ("IssueCertificate", "030a746c732d7365727665720005300302012a0210646e733a7777772e6c61622e746573740c69703a3139322e302e322e310180a305"),
    ("IssueCrl", "0404726f6f74"),
    ("RecordRevocation", "050769737375696e672030613162326333643465356636303731383239336134623563366437653866390180ee89ab0d01e0d188ab0d"),
    ("CreateCa", "060969737375696e672d3204726f6f7414434e3d5365636f6e642049737375696e6720434101ed020100010c646e733a6c61622e74657374010d69703a31302e302e302e302f380127687474703a2f2f3132372e302e302e313a383038302f63726c2f69737375696e672d322e63726c011a687474703a2f2f3132372e302e302e313a383038302f6f637370000401"),
    ("SignAuditCheckpoint", "070769737375696e672a4061626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162616261626162"),
    ("SignOcspResponses", "080769737375696e6701203061316232633364346535663630373138323933613462356336643765386639901c0101010401020304"),
    ("IssueCrlScope", "090769737375696e67010301"),
    ("JournaledIssuances", "0a29e807"),
    ("ListenerKey", "0b"),
    ("SignTlsHandshake", "0c0022544c5320312e332c2073657276657220436572746966696361746556657269667900"),
    ("Metrics", "0d"),
    ("ScepRaCertificate", "0e0769737375696e67"),
    ("DecryptScepEnvelope", "0f0769737375696e67020a1b03010203040809090909090909091007070707070707070707070707070707"),
    ("SignScepReply", "100769737375696e6701010204344132421005050505050505050505050505050505200606060606060606060606060606060606060606060606060606060606060606"),
    ("SignScepNextCa", "110769737375696e670969737375696e672d32"),
    ("SignEstKeyPackage", "120769737375696e67200606060606060606060606060606060606060606060606060606060606060606"),
    ("TotpEnrol", "1305616c696365"),
    ("TotpVerify", "1405616c696365040707070706313233343536c080971b"),
    ("KeyInventory", "15"),
];

const GOLDEN_RESPONSES: &[(&str, &str)] = &[
    // Its last 6 bytes are the OCSP responder's notAfter, appended in issue 19.
    ("Health", "000110434b525f4445564943455f4552524f520a7374726f6e67726f6f6d03d209010769737375696e670d434e3d49737375696e6720434180ccfd930e04010180c8ceb40d"),
    ("CaChain", "010205300302012a053003020101"),
    ("PolicyAccepted", "0203"),
    // Its last 8 bytes are the issuing CA, appended in issue 16 (`07` + "issuing").
    ("Certificate", "0305300302012a2030613162326333643465356636303731383239336134623563366437653866390205300302012a0530030201014d0769737375696e67"),
    ("Crl", "0405300302012a07"),
    ("RevocationRecorded", "0501"),
    ("Error", "06000f756e6b6e6f776e2070726f66696c65"),
    ("CaCreated", "070205300302012a053003020101"),
    ("AuditCheckpoint", "081e7374726f6e67726f6f6d2d61756469742d636865636b706f696e742d763102300005300302012a01053003020101"),
    ("OcspResponses", "09012030613162326333643465356636303731383239336134623563366437653866390180ee89ab0d0405300302012a80ee89ab0da0a68aab0d"),
    ("JournaledIssuances", "0a012a80ee89ab0d0769737375696e672030613162326333643465356636303731383239336134623563366437653866390566726f6e740a746c732d73657276657205300302012a2b"),
    ("ListenerKey", "0b043059301338706b637331313a746f6b656e3d7374726f6e67726f6f6d3b6f626a6563743d7374726f6e67726f6f6d2d6c697374656e65722d66726f6e74"),
    ("TlsHandshakeSignature", "0c083006020101020102"),
    ("Metrics", "0d0203000c0b01010102e807904e030502009c4a000000012a03d804"),
    ("ScepRaCertificate", "0e05300302012a053003020101"),
    ("ScepPlaintext", "0f05300302012a"),
    ("ScepReply", "1002310002010205300302012a"),
    ("ScepNextCa", "110230000105300302012a023100020102053003020101"),
    ("EstKeyPackage", "1202310002010205300302012a"),
    ("TotpEnrolment", "1304070707070408080808"),
    ("TotpVerified", "14c180971b"),
    ("KeyInventory", "150117706b637331313a746f6b656e3d743b6f626a6563743d6b0107434b4b5f414553010000"),
];

const GOLDEN_ENUMS: &[(&str, &str)] = &[
    ("ErrorKind", "06000102030405"),
    // The list's length (its first byte) grows with each appended operation.
    ("Operation", "15000102030405060708090a0b0c0d0e0f1011121314"),
    ("OcspStatus", "020002"),
    ("SubjectKey", "03000101010102020103"),
    ("TlsSignatureScheme", "0100"),
    ("RevocationReason", "0a00010203040506070809"),
    ("KeyAlgorithm", "06000102030405"),
    ("KeyUsage", "050001020304"),
    ("ExtendedKeyUsage", "06000102030405"),
    ("CsrExtensions", "020001"),
    ("ContentCipher", "050001020304"),
    ("ScepPkiStatus", "03000102"),
    ("ScepFailInfo", "050001020304"),
];

/// `Request::Health` framed with request id 0x0102030405060708: length (u32 big-endian,
/// excluding itself), version 1, the id (u64 big-endian), the payload.
const GOLDEN_FRAME: &str = "0000000a01010203040506070800";

/// The payload of a message as the frame API writes it.
fn payload<T: serde::Serialize>(message: &T) -> Vec<u8> {
    let frame = encode_frame_limited(7, message, MAX_RESPONSE_FRAME).unwrap();
    frame[4 + 1 + 8..].to_vec()
}

/// Compares `actual` with `golden` line by line; on any difference fails with every actual
/// line, ready to compare or (for a new variant only) paste.
fn check(what: &str, actual: &[(&str, Vec<u8>)], golden: &[(&str, &str)]) {
    let actual_hex: Vec<(&str, String)> = actual.iter().map(|(n, b)| (*n, hex(b))).collect();
    let golden_owned: Vec<(&str, String)> =
        golden.iter().map(|(n, h)| (*n, h.to_string())).collect();
    if actual_hex != golden_owned {
        let lines: String = actual_hex
            .iter()
            .map(|(n, h)| format!("    (\"{n}\", \"{h}\"),\n"))
            .collect();
        let changed: Vec<&str> = actual_hex
            .iter()
            .zip(golden_owned.iter())
            .filter(|(a, g)| a != g)
            .map(|(a, _)| a.0)
            .collect();
        panic!(
            "{what}: the encoding differs from the pinned bytes (changed: {changed:?}; {} lines now, {} pinned). This build encodes:\n{lines}",
            actual_hex.len(),
            golden_owned.len()
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A frame body (version, id, payload) around pinned payload bytes.
fn body_around(payload: &[u8]) -> Vec<u8> {
    let mut body = vec![VERSION];
    body.extend_from_slice(&7u64.to_be_bytes());
    body.extend_from_slice(payload);
    body
}

#[test]
fn requests_encode_as_pinned() {
    let examples = requests();
    let actual: Vec<(&str, Vec<u8>)> = examples.iter().map(|(n, r)| (*n, payload(r))).collect();
    check("requests", &actual, GOLDEN_REQUESTS);
    // And the pinned bytes decode, strictly, to the examples.
    for ((name, hex), (_, example)) in GOLDEN_REQUESTS.iter().zip(&examples) {
        let decoded = decode_payload::<Request>(&body_around(&unhex(hex))).unwrap();
        assert_eq!(&decoded.message, example, "{name}");
        // Named after its variant; `IssueCrlScope` shares `IssueCrl`'s allow-list entry.
        let operation = if *name == "IssueCrlScope" {
            "IssueCrl"
        } else {
            name
        };
        assert_eq!(decoded.message.operation().as_str(), operation, "{name}");
    }
}

#[test]
fn responses_encode_as_pinned() {
    let examples = responses();
    let actual: Vec<(&str, Vec<u8>)> = examples.iter().map(|(n, r)| (*n, payload(r))).collect();
    check("responses", &actual, GOLDEN_RESPONSES);
    for ((name, hex), (_, example)) in GOLDEN_RESPONSES.iter().zip(&examples) {
        let decoded = decode_payload::<Response>(&body_around(&unhex(hex))).unwrap();
        assert_eq!(&decoded.message, example, "{name}");
        assert_eq!(decoded.message.name(), *name);
    }
}

#[test]
fn carried_enums_encode_as_pinned() {
    check("enums", &enums(), GOLDEN_ENUMS);
}

#[test]
fn the_frame_is_pinned() {
    let frame = encode_frame(0x0102_0304_0506_0708, &Request::Health).unwrap();
    assert_eq!(hex(&frame), GOLDEN_FRAME);
}

/// Every variant has its line: the examples cover the tags 0..n in order, and tag n is
/// unknown. A variant appended without an example and a golden line fails here.
#[test]
fn every_variant_has_a_golden_line() {
    fn covered<T: serde::de::DeserializeOwned>(what: &str, tags: Vec<u8>) {
        let n = tags.len() as u8;
        assert_eq!(
            tags,
            (0..n).collect::<Vec<_>>(),
            "{what}: one example per tag, in tag order"
        );
        assert_eq!(
            tags.iter().collect::<BTreeSet<_>>().len(),
            tags.len(),
            "{what}: duplicate tags"
        );
        // An unknown variant index is serde's own error; a known variant missing its
        // fields would be an unexpected end.
        let unknown = postcard::from_bytes::<T>(&[n]).err();
        assert_eq!(
            unknown,
            Some(postcard::Error::SerdeDeCustom),
            "{what}: tag {n} is a variant: it was appended without a golden line"
        );
    }
    covered::<Request>(
        "requests",
        requests().iter().map(|(_, r)| payload(r)[0]).collect(),
    );
    covered::<Response>(
        "responses",
        responses().iter().map(|(_, r)| payload(r)[0]).collect(),
    );
}

/// `IssuedCertificate.ca` was appended: every byte before it encodes as it did before, and
/// an answer without it (an older signer's) is refused, not misread.
#[test]
fn the_issuing_ca_is_appended_to_issued_certificate() {
    let (_, certificate) = &responses()[3];
    let Response::Certificate(issued) = certificate else {
        panic!("example 3 is the Certificate answer");
    };
    let bytes = payload(certificate);
    let ca = postcard::to_stdvec(&issued.ca).unwrap();
    assert!(bytes.ends_with(&ca));
    let older = &bytes[..bytes.len() - ca.len()];
    assert!(matches!(
        decode_payload::<Response>(&body_around(older)),
        Err(WireError::Malformed(_))
    ));
}
