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

/// A JSON file given to a command (a profile, a CA); exit code 6 when it is not JSON.
pub fn read_json(p: &Path) -> Result<Value, Failure> {
    serde_json::from_str(&read_file(p)?).map_err(|e| Failure {
        code: 6,
        message: format!("{}: {e}", p.display()),
    })
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

/// Whether a field of an API answer holds a time in Unix seconds (`not_before`,
/// `not_after`, `*_at`, `*_until`): tables print it as RFC 3339, JSON keeps the number.
fn is_time(field: &str) -> bool {
    matches!(field, "not_before" | "not_after")
        || field.ends_with("_at")
        || field.ends_with("_until")
}

/// One table cell or key: value line's value.
fn cell(field: &str, x: &Value) -> String {
    match x {
        Value::Number(n) if is_time(field) => match n.as_i64() {
            Some(secs) => strongroom_types::time::rfc3339(secs),
            None => n.to_string(),
        },
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
    }
}

/// Prints JSON, or a table of `columns` for `{"items": [...]}` answers and key: value
/// lines for single objects. Times are RFC 3339 in tables and lines, Unix seconds in JSON.
pub fn print(v: &Value, output: &str, columns: &[&str]) {
    if output == "json" {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    if let Some(items) = v["items"].as_array() {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| columns.iter().map(|c| cell(c, &i[*c])).collect())
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
                println!("{k:<16} {}", cell(k, x));
            }
        }
    } else if !v.is_null() {
        println!("{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_rfc_3339_and_other_numbers_stay() {
        assert_eq!(
            cell("not_after", &json!(1804383070)),
            "2027-03-07T01:31:10Z"
        );
        assert_eq!(cell("created_at", &json!(0)), "1970-01-01T00:00:00Z");
        assert_eq!(cell("revoked_at", &Value::Null), "-");
        assert_eq!(
            cell("locked_until", &json!(1804383070)),
            "2027-03-07T01:31:10Z"
        );
        assert_eq!(cell("id", &json!(1804383070)), "1804383070");
        assert_eq!(
            cell("names", &json!(["dns:a", "ip:1.2.3.4"])),
            "dns:a,ip:1.2.3.4"
        );
    }
}
