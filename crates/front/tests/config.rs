#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

//! The documented example configuration loads, and bad ones are refused with a reason.

#[test]
fn example_loads_and_bad_configs_are_refused() {
    let root = strongroom_testkit::repo_root();
    let c = strongroom_front::Config::load(&root.join("docs/front.example.toml")).unwrap();
    assert!(!c.ocsp.nonce_on_demand);
    let dir = tempfile::tempdir().unwrap();
    for (text, why) in [
        ("listen_http = \"127.0.0.1:1\"\nsigner_socket = \"/s\"\n", "exactly one of"),
        ("listen_http = \"127.0.0.1:1\"\ndatabase_url = \"sqlite://x\"\nsigner_socket = \"/s\"\n[ocsp]\nvalidity_secs = 5\n", "validity_secs"),
        ("listen_http = \"127.0.0.1:1\"\ndatabase_url = \"sqlite://x\"\nsigner_socket = \"/s\"\nsurprise = 1\n", "unknown field"),
        // EST is served on the HTTPS listener only.
        ("listen_http = \"127.0.0.1:1\"\ndatabase_url = \"sqlite://x\"\nsigner_socket = \"/s\"\n[est]\ndefault_label = \"default\"\n[[est.label]]\nname = \"default\"\nprofile = \"device\"\nauth = \"password\"\n", "[est] needs the HTTPS listener"),
    ] {
        let p = dir.path().join("f.toml");
        std::fs::write(&p, text).unwrap();
        let e = strongroom_front::Config::load(&p).unwrap_err();
        assert!(e.contains(why), "{e}");
    }
}
