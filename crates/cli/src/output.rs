//! What the CLI prints and reads: tables or JSON on stdout, query strings, files and
//! passwords given to it.
//!
//! In: answers of the control API, paths, flags. Out: text on stdout; [`Failure`]s with
//! exit code 1 for local problems.

use crate::client::Failure;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub fn read_file(p: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(p).map_err(|e| Failure::local(format!("{}: {e}", p.display())))
}

pub fn password(file: &Option<PathBuf>) -> Result<String, Failure> {
    let text = match file {
        Some(p) => read_file(p)?,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Failure::local(e.to_string()))?;
            line
        }
    };
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prints JSON, or a table of `columns` for `{"items": [...]}` answers and key: value
/// lines for single objects.
pub fn print(v: &Value, output: &str, columns: &[&str]) {
    if output == "json" {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let cell = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(a) => a
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    if let Some(items) = v["items"].as_array() {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| columns.iter().map(|c| cell(&i[*c])).collect())
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(n, c)| {
                rows.iter()
                    .map(|r| r[n].chars().count())
                    .chain([c.len()])
                    .max()
                    .unwrap_or(0)
                    .min(60)
            })
            .collect();
        let line = |cells: Vec<String>| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        println!(
            "{}",
            line(columns.iter().map(|c| c.to_uppercase()).collect())
        );
        for r in rows {
            println!("{}", line(r));
        }
    } else if let Some(obj) = v.as_object() {
        for (k, x) in obj {
            if k != "pem" && k != "chain_pem" {
                println!("{k:<16} {}", cell(x));
            }
        }
    } else if !v.is_null() {
        println!("{v}");
    }
}
