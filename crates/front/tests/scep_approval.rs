#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! SCEP enrolment behind approval (issue 17) with Debian's `scepclient`, on SQLite and on
//! PostgreSQL (where the front reaches the pending requests only through its two
//! functions): under a profile needing one approval, two devices get PENDING; each request
//! appears in control's `GET /api/v1/approvals` with the names control read from the CSR;
//! an admin approves one and rejects the other, and each client's next poll (scepclient
//! re-sends its PKCSReq every 30 s) gets the certificate, or FAILURE with a failInfo.
//! Then the compromised front: a pending request it records itself — a CSR carrying a
//! one-time challenge another request consumed, a CSR whose signature does not verify —
//! is refused by control (no approval filed, the request rejected), and a poll signed by
//! another certificate learns nothing.

mod scep_common;

use scep_common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use strongroom_store::{NewScepPending, ScepPendingStatus, Store, SubmitOutcome};
use strongroom_testkit::stack::{Control, Db};
use strongroom_testkit::step;
use strongroom_testkit::tool;

const STATIC_CHALLENGE: &str = "static-challenge-approval-0123";
const PROFILE: &str = "scep-device";

/// One scepclient run in the background; its output goes to a file.
struct Enrolment {
    dir: PathBuf,
    child: Child,
}

impl Enrolment {
    fn start(root: &Path, name: &str, url: &str, ra: &str, challenge: &str) -> Enrolment {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("scepclient.log")).unwrap();
        let child = Command::new(tool("scepclient"))
            .args(["-server-url", url, "-keySize", "2048", "-debug"])
            .args(["-cn", &format!("{name}.lab.test")])
            .args(["-ca-fingerprint", ra, "-challenge", challenge])
            .arg("-private-key")
            .arg(dir.join("key.pem"))
            .arg("-certificate")
            .arg(dir.join("cert.pem"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Enrolment { dir, child }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("scepclient.log")).unwrap_or_default()
    }

    /// Waits for the client to end (it polls every 30 s); whether it succeeded.
    fn finish(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("scepclient did not finish in time: {}", self.output());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Enrolment {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The pending `scep.enrol` approvals, by the name control read from each CSR.
fn scep_approvals(admin: &strongroom_testkit::stack::Client) -> Vec<Value> {
    let r = admin.get("/api/v1/approvals?state=pending");
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["kind"] == "scep.enrol")
        .collect()
}

fn wait_for<T>(what: &str, c: &Control, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; control: {}\nfront: {}",
            c.log_text(),
            c.front_log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A DER CSR for `cn` carrying `challenge` as its challengePassword (openssl).
fn csr_with_challenge(dir: &Path, cn: &str, challenge: &str) -> Vec<u8> {
    let cnf = dir.join(format!("{cn}.cnf"));
    std::fs::write(
        &cnf,
        format!(
            "[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\nreq_extensions = ext\n\
             [dn]\nCN = {cn}\n[attrs]\nchallengePassword = {challenge}\n[ext]\nsubjectAltName = DNS:{cn}\n"
        ),
    )
    .unwrap();
    let out = dir.join(format!("{cn}.csr.der"));
    openssl_bytes(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        dir.join(format!("{cn}.key")).to_str().unwrap(),
        "-config",
        cnf.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        out.to_str().unwrap(),
    ]);
    std::fs::read(out).unwrap()
}

fn approval_flow(db: Db) {
    let mut c = Control::start(db);
    let admin = c.admin();

    let _step = step("a profile that needs one approval, offered over SCEP");
    {
        let mut profile = admin.get("/api/v1/profiles/tls-server").json()["profile"].clone();
        profile["name"] = json!(PROFILE);
        let r = admin.send(
            "PUT",
            &format!("/api/v1/profiles/{PROFILE}"),
            &json!({"profile": profile, "approvals_required": 1, "enrollers": ["*"]}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let challenge_file = c.dir().join("scep-challenge");
    std::fs::write(&challenge_file, format!("{STATIC_CHALLENGE}\n")).unwrap();
    c.start_front_with(&format!(
        "[ocsp]\nvalidity_secs = 3600\n\n[scep]\ndefault_profile = \"{PROFILE}\"\n\n[[scep.profile]]\nname = \"{PROFILE}\"\nchallenge_file = {challenge_file:?}\n"
    ));
    let url = format!("{}/scep/{PROFILE}", c.front_base);
    let ra = ra_fingerprint(&c, &format!("/scep/{PROFILE}"));
    let work = c.dir().join("approval-devices");
    let one_time = {
        let r = admin.post(
            "/api/v1/scep/challenges",
            &json!({"profile": PROFILE, "ttl_secs": 600}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["challenge"].as_str().unwrap().to_string()
    };

    let _step = step("two devices enrol and get PENDING; control files two approvals");
    let mut good = Enrolment::start(&work, "dev-ok", &url, &ra, STATIC_CHALLENGE);
    let mut bad = Enrolment::start(&work, "dev-no", &url, &ra, &one_time);
    let approvals = wait_for("two scep.enrol approvals", &c, || {
        let a = scep_approvals(&admin);
        (a.len() == 2).then_some(a)
    });
    let by_name = |name: &str| {
        approvals
            .iter()
            .find(|a| a["payload"]["names"] == json!([format!("dns:{name}")]))
            .unwrap_or_else(|| panic!("no approval for {name}: {approvals:?}"))
            .clone()
    };
    let ok = by_name("dev-ok.lab.test");
    let no = by_name("dev-no.lab.test");
    assert_eq!(ok["requested_by"], format!("scep:{PROFILE}"), "{ok}");
    assert_eq!(ok["required"], 1, "{ok}");
    assert!(
        ok["payload"]["challenge"]
            .as_str()
            .unwrap()
            .contains("checked by the front only"),
        "{ok}"
    );
    assert!(
        no["payload"]["challenge"]
            .as_str()
            .unwrap()
            .contains("checked by control"),
        "{no}"
    );
    assert!(
        !c.log_text().contains(&one_time),
        "the challenge is in control's log"
    );
    assert!(
        !c.front_log().contains(&one_time),
        "the challenge is in the front's log"
    );
    assert!(
        !good.dir.join("cert.pem").exists(),
        "a certificate before approval"
    );

    let _step = step("an admin approves one and rejects the other");
    {
        let r = admin.post(
            &format!("/api/v1/approvals/{}/approve", ok["id"]),
            &json!({"comment": "known router"}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["state"], "approved", "{}", r.text);
        assert!(
            r.json()["result"]["ok"]["certificate"].is_i64(),
            "{}",
            r.text
        );
        let r = admin.post(
            &format!("/api/v1/approvals/{}/reject", no["id"]),
            &json!({"comment": "unknown device"}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["state"], "rejected", "{}", r.text);
    }

    let _step = step("the approved client's poll gets its certificate, the other FAILURE");
    {
        assert!(
            good.finish(Duration::from_secs(90)),
            "scepclient: {}\nfront: {}\ncontrol: {}",
            good.output(),
            c.front_log(),
            c.log_text()
        );
        assert!(good.output().contains("PENDING"), "{}", good.output());
        let text = String::from_utf8(openssl_bytes(&[
            "x509",
            "-in",
            good.dir.join("cert.pem").to_str().unwrap(),
            "-noout",
            "-text",
        ]))
        .unwrap();
        assert!(text.contains("DNS:dev-ok.lab.test"), "{text}");
        assert!(!text.contains("scep-client"), "{text}");
        assert!(!bad.finish(Duration::from_secs(90)), "{}", bad.output());
        assert!(bad.output().contains("PENDING"), "{}", bad.output());
        assert!(bad.output().contains("failInfo"), "{}", bad.output());
        assert!(!bad.dir.join("cert.pem").exists());
        let r = admin.get("/api/v1/certificates?name=dev-ok.lab.test");
        let items = r.json()["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 1, "{}", r.text);
        assert_eq!(items[0]["source"], "scep", "{}", r.text);
        let r = admin.get("/api/v1/certificates?name=dev-no.lab.test");
        assert_eq!(r.json()["items"], json!([]), "{}", r.text);
    }

    let _step = step("a compromised front's own pending requests are refused by control");
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let front = rt
            .block_on(Store::connect_without_migrating(&c.front_db_url))
            .unwrap();
        let fingerprint = strongroom_x509::fingerprint(b"any certificate");
        let forged = |transaction: &str, csr: Vec<u8>| NewScepPending {
            protocol: strongroom_store::PendingProtocol::Scep,
            profile: PROFILE.parse().unwrap(),
            transaction_id: transaction.into(),
            csr,
            signer_fingerprint: fingerprint.clone(),
            names: vec!["forged.lab.test".into()],
        };
        // dev-no's one-time challenge, consumed by dev-no's transaction, in a new CSR.
        let replayed = csr_with_challenge(&work, "forged.lab.test", &one_time);
        // A CSR whose signature does not verify (its last byte changed).
        let mut broken = csr_with_challenge(&work, "broken.lab.test", STATIC_CHALLENGE);
        let last = broken.len() - 1;
        broken[last] ^= 0x01;
        for (transaction, csr) in [("forged-replay", replayed), ("forged-broken", broken)] {
            let outcome = rt
                .block_on(front.submit_scep_pending(&forged(transaction, csr), 1))
                .unwrap();
            assert!(
                matches!(outcome, SubmitOutcome::Queued { .. }),
                "{outcome:?}"
            );
            let status = wait_for("control's refusal", &c, || {
                let v = rt
                    .block_on(front.scep_pending_status(&PROFILE.parse().unwrap(), transaction))
                    .unwrap()
                    .unwrap();
                (v.status != ScepPendingStatus::Pending).then_some(v.status)
            });
            assert!(
                matches!(status, ScepPendingStatus::Rejected { .. }),
                "{transaction}: {status:?}"
            );
        }
        assert!(scep_approvals(&admin).is_empty(), "an approval was filed");
        assert!(c.log_text().contains("job refused"), "{}", c.log_text());
        rt.block_on(front.close());
    }

    let _step = step("a request signed by another certificate gets nothing from the row");
    {
        // dev-ok's key (so dev-ok's transactionID, a hash of it) under a new self-signed
        // certificate: the row answers only the certificate that signed the original
        // request, so this gets FAILURE, not dev-ok's certificate.
        let thief_dir = work.join("dev-ok-thief");
        std::fs::create_dir_all(&thief_dir).unwrap();
        std::fs::copy(good.dir.join("key.pem"), thief_dir.join("key.pem")).unwrap();
        let mut thief = Enrolment::start(&work, "dev-ok-thief", &url, &ra, STATIC_CHALLENGE);
        assert!(!thief.finish(Duration::from_secs(60)), "{}", thief.output());
        assert!(thief.output().contains("failInfo"), "{}", thief.output());
        assert!(!thief.dir.join("cert.pem").exists());
        assert!(
            c.front_log()
                .contains("was made with another signing certificate"),
            "{}",
            c.front_log()
        );
    }
}

#[test]
fn scepclient_pending_then_approved_or_rejected_sqlite() {
    approval_flow(Db::Sqlite);
}

#[test]
fn scepclient_pending_then_approved_or_rejected_postgres() {
    approval_flow(Db::Postgres);
}
