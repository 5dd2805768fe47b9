//! Minimal PEM for the CLI's inputs and outputs.
//!
//! In: DER or PEM text. Out: the other one. Strict: a PEM input must hold exactly the
//! expected label; anything that is neither is an error that says what was expected.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes DER as PEM.
pub fn encode(label: &str, der: &[u8]) -> String {
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn decode_b64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or("invalid base64 in PEM body")? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// Reads DER, or PEM with `label`, from file bytes.
pub fn der_from_file(bytes: &[u8], label: &str) -> Result<Vec<u8>, String> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(bytes.to_vec());
    };
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) if b < e => decode_b64(&text[b + begin.len()..e]),
        _ if text.contains("-----BEGIN") => Err(format!("expected a PEM block labelled {label}")),
        _ => Ok(bytes.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for n in 0..70u8 {
            let der: Vec<u8> = (0..n).collect();
            assert_eq!(
                der_from_file(encode("X", &der).as_bytes(), "X").unwrap(),
                der
            );
        }
        assert!(der_from_file(encode("Y", &[1]).as_bytes(), "X").is_err());
    }
}
