//! Inventory benchmark on both backends in one run (a benchmark, not a test).
//!
//! In: `--rows N` (default 1,000,000), `--samples S` (default 200). Out: a Markdown table
//! with p50/p99 of (a) a filtered page of 100 (profile + owner) at random positions,
//! (b) the "expiring in the next 30 days, not revoked" count, (c) the dashboard's counts
//! (`Store::certificate_stats`), and the time of (d) a full
//! keyset walk in pages of 1,000, for SQLite (a file in a temp dir) and PostgreSQL (a
//! fresh database on STRONGROOM_TEST_PG, dropped afterwards).
//!
//! Run: cargo run --release -p strongroom-store --example store-bench -- --rows 1000000
//! (`--backend sqlite|postgres` for one of them)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark tool

use sqlx::Executor;
use std::time::{Duration, Instant};
use strongroom_store::*;
use strongroom_types::Serial;

fn arg(name: &str, default: u64) -> u64 {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const BASE: i64 = 1_800_000_000;

fn cert(n: u64) -> NewCertificate {
    cert_at(n, BASE)
}

/// Certificate `n` of a seed whose time is `base`: valid from `base`, expiring over three years.
fn cert_at(n: u64, base: i64) -> NewCertificate {
    let mut s = [0u8; 16];
    s[0] = 1;
    s[8..].copy_from_slice(&n.to_be_bytes());
    NewCertificate {
        issuer: "issuing".parse().unwrap(),
        serial: Serial::from_random(s).unwrap(),
        profile: Some(["tls-server", "tls-client", "device", "code"][(n % 4) as usize].into()),
        subject_cn: Some(format!("h{n}.lab.test")),
        names: vec![format!("h{n}.lab.test")],
        not_before: base,
        // Spread expiry over ~3 years so "next 30 days" holds ~3 % of rows.
        not_after: base + ((n * 7919) % 1095) as i64 * 86_400,
        fingerprint: format!("{n:064x}"),
        der: vec![0u8; 600],
        source: CertificateSource::Api,
        owner: Some(format!("team-{}", n % 50)),
        team: None,
        tags: vec![["prod", "staging", "lab"][(n % 3) as usize].into()],
        replaces: None,
    }
}

fn pct(mut v: Vec<Duration>, p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

async fn run(label: &str, store: &Store, rows: u64, samples: u64) -> String {
    let t = Instant::now();
    store
        .insert_ca(
            &CaRecord {
                id: "issuing".parse().unwrap(),
                parent: None,
                subject: "CN=i".into(),
                state: CaState::Active,
                not_before: 0,
                not_after: i64::MAX / 2,
                cert_der: vec![0x30, 0],
            },
            1,
        )
        .await
        .unwrap();
    let batch: Vec<u64> = (1..=rows).collect();
    for (i, chunk) in batch.chunks(10_000).enumerate() {
        let certs: Vec<NewCertificate> = chunk.iter().map(|n| cert(*n)).collect();
        // Recorded over the last 100 days: the dashboard's issued-per-day range holds
        // 30 % of the rows.
        let recorded = BASE - (i as i64 % 100) * 86_400;
        store
            .insert_certificates_bulk(&certs, recorded)
            .await
            .unwrap();
    }
    store.analyze().await.unwrap();
    let seed = t.elapsed();

    let filter = CertificateFilter {
        profile: Some("tls-server".into()),
        owner: Some("team-8".into()),
        ..Default::default()
    };
    let mut page_times = Vec::new();
    let mut x: u64 = 12345;
    for _ in 0..samples {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after = (x >> 33) % rows;
        let t = Instant::now();
        let page = store
            .certificates(&filter, Some(after as i64), 100)
            .await
            .unwrap();
        page_times.push(t.elapsed());
        assert!(page.items.len() <= 100);
    }
    let expiring = CertificateFilter {
        revoked: Some(false),
        valid_at: Some(BASE),
        expiring_before: Some(BASE + 30 * 86_400),
        ..Default::default()
    };
    let mut count_times = Vec::new();
    let mut expiring_n = 0;
    for _ in 0..samples.min(50) {
        let t = Instant::now();
        expiring_n = store.count_certificates(&expiring).await.unwrap();
        count_times.push(t.elapsed());
    }
    // The dashboard's counts (GET /api/v1/stats/certificates): by status, expiring within
    // 7/30/90 days, recorded on each of the last 30 days.
    let mut stats_times = Vec::new();
    for _ in 0..samples.min(50) {
        let t = Instant::now();
        let s = store
            .certificate_stats(BASE, &[7, 30, 90], 30)
            .await
            .unwrap();
        stats_times.push(t.elapsed());
        assert_eq!((s.valid + s.expired + s.revoked) as u64, rows);
    }
    let t = Instant::now();
    let mut after = None;
    let mut walked = 0;
    loop {
        let page = store
            .certificates(&CertificateFilter::default(), after, 1000)
            .await
            .unwrap();
        walked += page.items.len();
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    let walk = t.elapsed();
    assert_eq!(walked as u64, rows);
    format!(
        "| {label} | {rows} | {:.0} s | {:.2} / {:.2} ms | {:.2} / {:.2} ms ({expiring_n} rows) | {:.1} / {:.1} ms | {:.1} s |",
        seed.as_secs_f64(),
        pct(page_times.clone(), 0.5),
        pct(page_times, 0.99),
        pct(count_times.clone(), 0.5),
        pct(count_times, 0.99),
        pct(stats_times.clone(), 0.5),
        pct(stats_times, 0.99),
        walk.as_secs_f64()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows = arg("--rows", 1_000_000);
    if let Some(url) = std::env::args().skip_while(|a| a != "--seed-into").nth(1) {
        seed_into(&url, rows).await;
        return;
    }
    let samples = arg("--samples", 200);
    let only = std::env::args().skip_while(|a| a != "--backend").nth(1);
    sqlx::any::install_default_drivers();
    let mut lines = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    if only.as_deref().is_none_or(|b| b == "sqlite") {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        let sqlite = Store::connect(&url).await.unwrap();
        lines.push(run("SQLite", &sqlite, rows, samples).await);
        sqlite.close().await;
    }
    if only.as_deref().is_some_and(|b| b != "postgres") {
        print_table(&lines);
        return;
    }

    let admin_url = std::env::var("STRONGROOM_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("strongroom_bench_{}", std::process::id());
    let admin = sqlx::AnyPool::connect(&admin_url).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let pg = Store::connect(&url).await.unwrap();
    lines.push(run("PostgreSQL", &pg, rows, samples).await);
    pg.close().await;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .unwrap();

    print_table(&lines);
}

/// `--seed-into URL`: adds `rows` certificates under the existing CA `issuing` of a real
/// installation (scripts/bench-console.sh), recorded over the last 100 days up to now, then
/// ANALYZE; no measurement.
async fn seed_into(url: &str, rows: u64) {
    sqlx::any::install_default_drivers();
    let store = Store::connect(url).await.unwrap();
    let now = strongroom_types::clock::Clock::now(&strongroom_types::clock::SystemClock);
    let t = Instant::now();
    let batch: Vec<u64> = (1..=rows).collect();
    for (i, chunk) in batch.chunks(10_000).enumerate() {
        let certs: Vec<NewCertificate> = chunk.iter().map(|n| cert_at(*n, now)).collect();
        let recorded = now - (i as i64 % 100) * 86_400;
        store
            .insert_certificates_bulk(&certs, recorded)
            .await
            .unwrap();
    }
    store.analyze().await.unwrap();
    eprintln!(
        "seeded {rows} certificates in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    store.close().await;
}

fn print_table(lines: &[String]) {
    println!("| backend | rows | seed (bulk import + ANALYZE) | filtered page of 100, p50 / p99 | expiring-in-30-days count, p50 / p99 | dashboard counts, p50 / p99 | full keyset walk (pages of 1,000) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for l in lines {
        println!("{l}");
    }
}
