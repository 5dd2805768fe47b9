//! A strict, bounded BER→DER normaliser for what real SCEP clients send. In: the bytes of
//! one BER element (a PKIOperation body, or the envelope inside it). Out: the same element
//! in DER form — definite, minimal lengths; constructed OCTET STRINGs joined into primitive
//! ones — or a refusal.
//!
//! Why: Debian's `scepclient` and other PKCS#7 libraries emit indefinite lengths and
//! constructed strings, which the `der` crate rightly refuses. Normalising first keeps one
//! strict DER parser behind it. DER input comes out byte-for-byte unchanged, so a signature
//! over DER-encoded signed attributes still verifies over the normalised bytes.
//!
//! Not done here: SET OF ordering and the canonical forms of leaves (BOOLEAN, INTEGER),
//! which the parsers behind this one check where they matter. Only single-byte tags exist in
//! CMS and PKCS#10, so multi-byte tags are refused.

use crate::error::ScepError;

/// The deepest nesting accepted; CMS inside SCEP needs about 12.
const MAX_DEPTH: usize = 32;
/// The most elements one message may hold (a certificate has about 100).
const MAX_ELEMENTS: usize = 20_000;

/// Normalise `input`, which must be exactly one element no longer than `max_len` bytes.
pub(crate) fn to_der(
    input: &[u8],
    max_len: usize,
    what: &'static str,
) -> Result<Vec<u8>, ScepError> {
    if input.len() > max_len {
        return Err(ScepError::TooLarge {
            what,
            limit: max_len,
        });
    }
    let mut walker = Walker {
        input,
        pos: 0,
        elements: 0,
    };
    let mut out = Vec::with_capacity(input.len());
    walker.element(&mut out, 0)?;
    if walker.pos != input.len() {
        return Err(ScepError::Malformed("trailing bytes after the message"));
    }
    Ok(out)
}

struct Walker<'a> {
    input: &'a [u8],
    pos: usize,
    elements: usize,
}

impl Walker<'_> {
    fn byte(&mut self) -> Result<u8, ScepError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(ScepError::Malformed("truncated element"))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: usize) -> Result<&[u8], ScepError> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or(ScepError::Malformed("length overflow"))?;
        let slice = self
            .input
            .get(self.pos..end)
            .ok_or(ScepError::Malformed("truncated element"))?;
        self.pos = end;
        Ok(slice)
    }

    /// `None` is the indefinite form. Non-minimal long forms are BER and accepted.
    fn length(&mut self) -> Result<Option<usize>, ScepError> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(Some(usize::from(first)));
        }
        if first == 0x80 {
            return Ok(None);
        }
        let count = usize::from(first & 0x7f);
        if count > 4 {
            return Err(ScepError::Malformed("length field longer than 4 bytes"));
        }
        let mut len = 0usize;
        for _ in 0..count {
            len = (len << 8) | usize::from(self.byte()?);
        }
        Ok(Some(len))
    }

    fn element(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<(), ScepError> {
        if depth > MAX_DEPTH {
            return Err(ScepError::Malformed("nesting too deep"));
        }
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(ScepError::Malformed("too many elements"));
        }
        let tag = self.byte()?;
        if tag == 0 {
            return Err(ScepError::Malformed("unexpected end-of-contents"));
        }
        if tag & 0x1f == 0x1f {
            return Err(ScepError::Malformed("multi-byte tag"));
        }
        let constructed = tag & 0x20 != 0;
        let len = self.length()?;
        if !constructed {
            let len = len.ok_or(ScepError::Malformed(
                "indefinite length on a primitive element",
            ))?;
            let content = self.take(len)?;
            write_tlv(out, tag, content);
            return Ok(());
        }
        let mut children = Vec::new();
        match len {
            Some(len) => {
                let end = self
                    .pos
                    .checked_add(len)
                    .ok_or(ScepError::Malformed("length overflow"))?;
                if end > self.input.len() {
                    return Err(ScepError::Malformed("truncated element"));
                }
                while self.pos < end {
                    self.element(&mut children, depth + 1)?;
                }
                if self.pos != end {
                    return Err(ScepError::Malformed("child overruns its parent"));
                }
            }
            None => loop {
                if self.input.get(self.pos..self.pos.saturating_add(2)) == Some(&[0, 0][..]) {
                    self.pos += 2;
                    break;
                }
                if self.pos >= self.input.len() {
                    return Err(ScepError::Malformed("missing end-of-contents"));
                }
                self.element(&mut children, depth + 1)?;
            },
        }
        const UNIVERSAL_CONSTRUCTED_OCTET_STRING: u8 = 0x24;
        if tag == UNIVERSAL_CONSTRUCTED_OCTET_STRING {
            let joined = join_octet_strings(&children)?;
            write_tlv(out, 0x04, &joined);
        } else if tag & 0xc0 == 0 && tag != 0x30 && tag != 0x31 {
            // A constructed universal type other than SEQUENCE, SET and OCTET STRING (a
            // constructed BIT STRING or text string): no SCEP client sends these.
            return Err(ScepError::Malformed(
                "constructed string other than OCTET STRING",
            ));
        } else {
            write_tlv(out, tag, &children);
        }
        Ok(())
    }
}

/// The contents of a sequence of (already normalised, so primitive) OCTET STRINGs.
pub(crate) fn join_octet_strings(mut der: &[u8]) -> Result<Vec<u8>, ScepError> {
    let mut joined = Vec::with_capacity(der.len());
    while !der.is_empty() {
        let (tlv, rest) = crate::der_reader::split_tlv(der)?;
        if tlv.tag != 0x04 {
            return Err(ScepError::Malformed(
                "a segment of a constructed OCTET STRING is not an OCTET STRING",
            ));
        }
        joined.extend_from_slice(tlv.value);
        der = rest;
    }
    Ok(joined)
}

/// Append tag, minimal DER length and content.
pub(crate) fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    write_length(out, content.len());
    out.extend_from_slice(content);
}

fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Fits in the short form: the cast cannot truncate.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let significant = &bytes[skip..];
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_passes_through_unchanged() {
        let der = [0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0xaa];
        assert_eq!(to_der(&der, 100, "t"), Ok(der.to_vec()));
    }

    #[test]
    fn indefinite_and_constructed_octet_strings_become_der() {
        // SEQUENCE (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x02, b'a', b'b', 0x04, 0x01, b'c', 0, 0, 0, 0,
        ];
        assert_eq!(
            to_der(&ber, 100, "t"),
            Ok(vec![0x30, 0x05, 0x04, 0x03, b'a', b'b', b'c'])
        );
    }

    #[test]
    fn non_minimal_length_is_rewritten() {
        assert_eq!(
            to_der(&[0x04, 0x81, 0x01, 0x07], 100, "t"),
            Ok(vec![0x04, 0x01, 0x07])
        );
    }

    #[test]
    fn refusals() {
        assert!(
            to_der(&[0x04, 0x80, 0, 0], 100, "t").is_err(),
            "indefinite primitive"
        );
        assert!(
            to_der(&[0x30, 0x80, 0x04, 0x00], 100, "t").is_err(),
            "missing EOC"
        );
        assert!(
            to_der(&[0x30, 0x03, 0x04, 0x05, 0x00], 100, "t").is_err(),
            "child overrun"
        );
        assert!(to_der(&[0x04, 0x00, 0x00], 100, "t").is_err(), "trailing");
        assert!(
            to_der(&[0x1f, 0x01, 0x00], 100, "t").is_err(),
            "multi-byte tag"
        );
        assert!(
            to_der(&[0x23, 0x00], 100, "t").is_err(),
            "constructed BIT STRING"
        );
        assert!(
            to_der(&[0x04, 0x85, 1, 0, 0, 0, 0], 100, "t").is_err(),
            "5-byte length"
        );
        assert!(matches!(
            to_der(&[0u8; 101], 100, "t"),
            Err(ScepError::TooLarge { .. })
        ));
        let mut deep = Vec::new();
        for _ in 0..40 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        deep.extend(std::iter::repeat_n(0u8, 80));
        assert!(to_der(&deep, 1000, "t").is_err(), "too deep");
    }
}
