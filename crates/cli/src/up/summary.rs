//! What `strongroom up` tells the developer once everything answers: where each file,
//! socket, listener and log is, and the first commands to try.
//!
//! In: the data directory's [`Layout`], the arguments of `up`, the signer's health. Out:
//! lines on stdout (write errors ignored, see `say!`).

use super::{Layout, UpArgs};
use strongroom_wire::HealthReport;

/// Prints the summary.
pub(super) fn print(l: &Layout, args: &UpArgs, health: &HealthReport) {
    say!();
    say!(
        "Strongroom is up ({})",
        if health.hsm_degraded.is_none() {
            "HSM ok"
        } else {
            "HSM DEGRADED"
        }
    );
    say!("  data directory   {}", l.dir.display());
    say!("  signer socket    {}", l.socket().display());
    say!("  root CA          {}", l.ca_pem("root").display());
    say!("  issuing CA       {}", l.ca_pem("issuing").display());
    say!("  chain            {}", l.ca_pem("chain").display());
    say!("  signer log       {}", l.log("signer").display());
    say!(
        "  journal          {}",
        l.dir.join("signer/journal/issuance.log").display()
    );
    say!("  profiles         tls-server, tls-client, device (config/policy.toml)");
    say!(
        "  control API      https://{}/api/v1 (OpenAPI: /api/v1/openapi.json)",
        args.control_listen
    );
    say!(
        "  admin password   {} (user admin)",
        l.admin_password().display()
    );
    say!("  control log      {}", l.log("control").display());
    say!(
        "  OCSP             http://{}/ocsp (and https://{}/ocsp)",
        args.front_listen,
        args.front_https_listen
    );
    say!(
        "  CRLs             http://{}/crl/issuing.crl, /crl/root.crl",
        args.front_listen
    );
    say!(
        "  ACME directory   https://{}/acme/directory (tls-server; tls-client needs an EAB key)",
        args.front_https_listen
    );
    say!(
        "  SCEP             http://{}/scep (device; challenge in {})",
        args.front_listen,
        l.scep_challenge().display()
    );
    say!(
        "  EST              https://{}/.well-known/est/ (device; user in {}, password in {})",
        args.front_https_listen,
        l.est_user().display(),
        l.est_password().display()
    );
    say!("  front log        {}", l.log("front").display());
    say!();
    say!("Log in and issue through the control API:");
    say!(
        "  strongroom login --url https://{} --ca-file {} --user admin --password-file {}",
        args.control_listen,
        l.ca_pem("root").display(),
        l.admin_password().display()
    );
    say!("  strongroom cert issue --profile tls-server --csr web.csr --out web.pem");
    say!("Or straight at the signer socket:");
    say!("  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key -subj /CN=web.lab.test -out web.csr");
    say!(
        "  strongroom signer --data-dir {} issue --profile tls-server --csr web.csr --out web.pem",
        l.dir.display()
    );
    say!("Press Ctrl-C to stop.");
}
