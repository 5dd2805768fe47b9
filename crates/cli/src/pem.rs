//! PEM for the CLI's inputs and outputs, on top of `der`'s strict PEM codec.
//!
//! In: DER or PEM text. Out: the other one. Strict: a PEM input must hold exactly the
//! expected label; anything that is neither PEM nor DER-looking is an error that says what
//! was expected.

/// Encodes DER as PEM.
pub fn encode(label: &str, der: &[u8]) -> String {
    // Encoding into a String cannot fail for a valid label; fall back to empty rather
    // than panic (the caller writes what it gets, and tests check the output parses).
    der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap_or_default()
}

/// Reads DER, or PEM with `label`, from file bytes.
pub fn der_from_file(bytes: &[u8], label: &str) -> Result<Vec<u8>, String> {
    let looks_pem = bytes.starts_with(b"-----BEGIN")
        || std::str::from_utf8(bytes).is_ok_and(|t| t.trim_start().starts_with("-----BEGIN"));
    if !looks_pem {
        return Ok(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "PEM file is not UTF-8".to_string())?;
    let (found, der) = der::pem::decode_vec(text.trim_start().as_bytes())
        .map_err(|e| format!("invalid PEM: {e}"))?;
    if found != label {
        return Err(format!(
            "expected a PEM block labelled {label}, found {found}"
        ));
    }
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for n in 1..70u8 {
            let der: Vec<u8> = (0..n).collect();
            assert_eq!(
                der_from_file(encode("X", &der).as_bytes(), "X").unwrap(),
                der
            );
        }
        assert!(der_from_file(encode("Y", &[1]).as_bytes(), "X")
            .unwrap_err()
            .contains("found Y"));
        assert_eq!(der_from_file(&[0x30, 0x00], "X").unwrap(), vec![0x30, 0x00]);
    }
}
