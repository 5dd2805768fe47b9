//! `strongroom-bench`: issuance throughput against raw PKCS#11 signing, in one run, on one
//! token (a benchmark, not a test: it reports figures and asserts nothing about speed).
//!
//! In: `--seconds N` per phase (default 5), `--clients C` (default 16). Out: a Markdown
//! table on stdout: raw ECDSA P-256 signatures/s through `strongroom-hsm` with 1 and 2
//! sessions, and leaf issuances/s through the signer socket with C concurrent clients
//! (public-key requests and CSR requests), each with its ratio to the 2-session raw rate.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strongroom_hsm::{Hsm, HsmConfig, Pin, Pkcs11Uri};
use strongroom_types::{ProfileName, SignatureAlgorithm};
use strongroom_wire::{IssuanceRequest, Request, Response, SignerClient, SubjectKey};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What stops a benchmark run; printed once by `main`.
type Failure = Box<dyn std::error::Error>;

fn sh(cmd: &mut Command) -> Result<String, Failure> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (`self` for
/// this one), in seconds.
fn cpu_seconds(pid: &str) -> Result<f64, Failure> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) close with ')'.
    let rest = stat.rsplit_once(')').ok_or("unreadable /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Ok(ticks as f64 / per_second as f64)
}

/// Runs `threads` workers for `secs` seconds; returns operations per second.
fn rate(threads: usize, secs: u64, work: impl Fn(usize) -> Box<dyn FnMut() + Send> + Sync) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let mut job = work(t);
            let (stop, count) = (stop.clone(), count.clone());
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    job();
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    if let Err(e) = run() {
        eprintln!("strongroom-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Failure> {
    let secs = arg("--seconds", 5);
    let clients = arg("--clients", 16) as usize;
    let here = std::env::current_exe()?;
    let signer_bin = here.with_file_name("strongroom-signer");
    let dir = std::env::temp_dir().join(format!("strongroom-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hsm-sim/token.sh");
    let pin_file = dir.join("pin");
    let module = PathBuf::from(
        std::env::var("STRONGROOM_PKCS11_MODULE")
            .unwrap_or("/usr/lib/softhsm/libsofthsm2.so".into()),
    );
    let conf = PathBuf::from(
        sh(Command::new("bash")
            .arg(&script)
            .arg(dir.join("hsm"))
            .arg("bench")
            .arg(&pin_file)
            .env("STRONGROOM_PKCS11_MODULE", &module))?
        .trim(),
    );
    // Each module reads its own variable (SoftHSM2, kryoptic). Set before the first PKCS#11
    // call in this process; no other thread exists yet.
    let token_env = [("SOFTHSM2_CONF", &conf), ("KRYOPTIC_CONF", &conf)];
    for (var, value) in token_env {
        std::env::set_var(var, value);
    }
    let config = dir.join("signer.toml");
    std::fs::create_dir_all(dir.join("run"))?;
    std::fs::write(
        &config,
        format!(
            "socket = {:?}\nstate_dir = {:?}\ndev_mode = true\nallow_root = true\n[hsm]\nmodule = {module:?}\ntoken_label = \"bench\"\npin_file = {pin_file:?}\nsessions = 2\n[sandbox]\nread_only = [{conf:?}]\nread_write = [{:?}]\n",
            dir.join("run/signer.sock"),
            dir.join("state"),
            dir.join("hsm/tokens")
        ),
    )
    ?;
    for (id, text) in [
        ("root", "id = \"root\"\nsubject = \"CN=Bench Root\"\nalgorithm = \"ecdsa-p256\"\nvalidity_days = 3650\n"),
        ("issuing", "id = \"issuing\"\nparent = \"root\"\nsubject = \"CN=Bench Issuing\"\nalgorithm = \"ecdsa-p256\"\nvalidity_days = 1000\n"),
    ] {
        let f = dir.join(format!("{id}.toml"));
        std::fs::write(&f, text)?;
        sh(Command::new(&signer_bin).envs(token_env).args(["ceremony", "--config"]).arg(&config).arg("--file").arg(&f))?;
    }

    // Phase 1: raw PKCS#11 signing with the issuing CA's key.
    let hsm = Hsm::open(HsmConfig {
        module_path: module.clone(),
        token_label: "bench".into(),
        pin: Pin::read_file(&pin_file)?,
        sessions: 2,
    })?;
    let uri: Pkcs11Uri = "pkcs11:token=bench;object=strongroom-ca-issuing".parse()?;
    let key = hsm.find_key(&uri)?;
    let tbs = vec![0x5au8; 400]; // about the size of a leaf TBSCertificate
    let raw = |threads: usize| {
        rate(threads, secs, |_| {
            let (hsm, key, tbs) = (hsm.clone(), key.clone(), tbs.clone());
            Box::new(move || {
                let _ = hsm.sign(&key, SignatureAlgorithm::EcdsaSha256, &tbs);
            })
        })
    };
    let raw1 = raw(1);
    let cpu_before = cpu_seconds("self")?;
    let raw2 = raw(2);
    // The benchmark's own CPU per raw signature: SoftHSM signs in this process.
    let raw_cpu = (cpu_seconds("self")? - cpu_before) / (raw2 * secs as f64);
    drop(hsm);

    // Phase 2: the real signer process on the same token.
    let log = std::fs::File::create(dir.join("signer.log"))?;
    let mut signer = Command::new(&signer_bin)
        .envs(token_env)
        .env("STRONGROOM_LOG", "warn")
        .args(["run", "--config"])
        .arg(&config)
        .stderr(log)
        .stdout(Stdio::null())
        .spawn()?;
    let socket = dir.join("run/signer.sock");
    let mut ready = false;
    for _ in 0..200 {
        if SignerClient::connect(&socket).is_ok() {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if !ready {
        let _ = signer.kill();
        return Err("signer did not start".into());
    }
    let policy: strongroom_types::Policy = toml::from_str(
        "version = 1\n[[profile]]\nname = \"bench\"\nissuer = \"issuing\"\nmax_validity_secs = 86400\nkey_algorithms = [\"ecdsa-p256\"]\nkey_usage = [\"digital-signature\"]\nextended_key_usage = [\"server-auth\"]\nallowed_name_kinds = [\"dns\"]\n",
    )
    ?;
    SignerClient::connect(&socket).and_then(|mut c| c.call(&Request::PutPolicy { policy }))?;
    let csr_path = dir.join("leaf.csr");
    sh(Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "/dev/null",
            "-subj",
            "/CN=bench.example",
            "-outform",
            "DER",
            "-out",
        ])
        .arg(&csr_path))?;
    let csr = std::fs::read(&csr_path)?;
    let spki = strongroom_x509::parse_csr(&csr)?.public_key_der;
    let profile: ProfileName = "bench".parse()?;
    let issue = |key: SubjectKey| {
        rate(clients, secs, |t| {
            let mut c = SignerClient::connect(&socket).ok();
            let key = key.clone();
            let mut n = 0u64;
            let profile = profile.clone();
            Box::new(move || {
                n += 1;
                let Ok(name) = format!("dns:c{t}-{n}.bench.example").parse() else {
                    return;
                };
                let req = IssuanceRequest {
                    profile: profile.clone(),
                    subject_key: key.clone(),
                    names: vec![name],
                    validity_secs: Some(3600),
                };
                if let Some(c) = c.as_mut() {
                    match c.call(&Request::IssueCertificate(req)) {
                        Ok(Response::Certificate(_)) => {}
                        other => eprintln!("issuance failed: {other:?}"),
                    }
                }
            })
        })
    };
    // The signer's CPU per issuance (its process: the socket, checks, planning, encoding,
    // linting, journal and the HSM's signature, which SoftHSM makes in the same process).
    let pid = signer.id().to_string();
    let measured = |key: SubjectKey| -> Result<(f64, f64), Failure> {
        let before = cpu_seconds(&pid)?;
        let rate = issue(key);
        Ok((rate, (cpu_seconds(&pid)? - before) / (rate * secs as f64)))
    };
    let (by_key, by_key_cpu) = measured(SubjectKey::PublicKey(spki))?;
    let (by_csr, by_csr_cpu) = measured(SubjectKey::Csr(csr))?;
    let _ = signer.kill();
    let _ = signer.wait();
    let journal = sh(Command::new(&signer_bin)
        .args(["journal", "verify", "--config"])
        .arg(&config))?;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "| measurement (SoftHSM2, ECDSA P-256, {secs} s each) | ops/s | ratio to raw, 2 sessions |"
    );
    println!("|---|---:|---:|");
    println!(
        "| raw PKCS#11 sign through strongroom-hsm, 1 session | {raw1:.0} | {:.2} |",
        raw1 / raw2
    );
    println!("| raw PKCS#11 sign through strongroom-hsm, 2 sessions | {raw2:.0} | 1.00 |");
    println!("| issuance via signer socket, {clients} clients, public-key requests | {by_key:.0} | {:.2} |", by_key / raw2);
    println!(
        "| issuance via signer socket, {clients} clients, CSR requests | {by_csr:.0} | {:.2} |",
        by_csr / raw2
    );
    println!();
    let us = |seconds: f64| seconds * 1e6;
    println!("| CPU per operation | µs | of which the signer's own (minus one raw signature) |");
    println!("|---|---:|---:|");
    println!(
        "| raw signature (benchmark process, 2 sessions) | {:.0} | |",
        us(raw_cpu)
    );
    println!(
        "| issuance, public-key requests (signer process) | {:.0} | {:.0} |",
        us(by_key_cpu),
        us(by_key_cpu - raw_cpu)
    );
    println!(
        "| issuance, CSR requests (signer process) | {:.0} | {:.0} |",
        us(by_csr_cpu),
        us(by_csr_cpu - raw_cpu)
    );
    println!();
    println!("journal after the run: {}", journal.trim());
    Ok(())
}
