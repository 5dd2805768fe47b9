//! A minimal DER walker: the exact bytes of a SEQUENCE's elements.
//!
//! In: DER bytes. Out: slices of the original input. Signatures must be checked over the
//! bytes that were signed, never over a re-encoding (a re-encoder may "fix" the input).

use crate::X509Error;

/// One TLV split off the front of a buffer: (whole TLV, contents, rest).
type Split<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Splits one TLV off the front of `input`.
fn split_tlv(input: &[u8]) -> Result<Split<'_>, X509Error> {
    let bad = || X509Error::Malformed("truncated or invalid DER length".into());
    let (&tag, rest) = input.split_first().ok_or_else(bad)?;
    if tag & 0x1f == 0x1f {
        return Err(X509Error::Malformed(
            "multi-byte tags are not expected here".into(),
        ));
    }
    let (&first, rest) = rest.split_first().ok_or_else(bad)?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(bad());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        // DER: long form only when needed, and no leading zero octet.
        if len < 0x80 || rest[0] == 0 {
            return Err(X509Error::Malformed("non-minimal DER length".into()));
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad());
    }
    let header_len = input.len() - rest.len();
    Ok((&input[..header_len + len], &rest[..len], &rest[len..]))
}

/// Returns the raw TLVs of the elements of the single SEQUENCE that makes up `der`.
/// Trailing bytes after the SEQUENCE are an error.
pub(crate) fn sequence_elements(der: &[u8]) -> Result<Vec<&[u8]>, X509Error> {
    if der.first() != Some(&0x30) {
        return Err(X509Error::Malformed("expected a SEQUENCE".into()));
    }
    let (_, mut contents, rest) = split_tlv(der)?;
    if !rest.is_empty() {
        return Err(X509Error::Malformed(format!(
            "{} trailing bytes after the SEQUENCE",
            rest.len()
        )));
    }
    let mut out = Vec::new();
    while !contents.is_empty() {
        let (tlv, _, next) = split_tlv(contents)?;
        out.push(tlv);
        contents = next;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_and_rejects() {
        let seq = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        let parts = sequence_elements(&seq).unwrap();
        assert_eq!(
            parts,
            vec![&[0x02, 0x01, 0x05][..], &[0x04, 0x01, 0xaa][..]]
        );
        assert!(sequence_elements(&[0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(sequence_elements(&[0x30, 0x81, 0x01, 0x05]).is_err());
        let mut trailing = seq.to_vec();
        trailing.push(0);
        assert!(sequence_elements(&trailing).is_err());
    }
}
