//! A strict DER reader over normalised bytes. In: DER (from `ber::to_der`, or DER that a
//! caller vouches for). Out: tag-length-value views borrowed from the input, or a refusal
//! for anything not minimal, truncated or trailing. The CMS structures of this crate are
//! read with it so that the exact bytes of each part (a signer's Name, the signed
//! attributes) stay available for comparison and verification, never re-encoded.

use crate::error::ScepError;

/// One element: its single-byte tag, its content, and all of its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const PRINTABLE_STRING: u8 = 0x13;
pub(crate) const BIT_STRING: u8 = 0x03;
/// `[n]` constructed, context-specific.
pub(crate) const fn context_constructed(n: u8) -> u8 {
    0xa0 | n
}
/// `[n]` primitive, context-specific.
pub(crate) const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// Split the first element off `input`.
pub(crate) fn split_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), ScepError> {
    let tag = *input
        .first()
        .ok_or(ScepError::Malformed("truncated element"))?;
    if tag & 0x1f == 0x1f {
        return Err(ScepError::Malformed("multi-byte tag"));
    }
    let first = *input
        .get(1)
        .ok_or(ScepError::Malformed("truncated element"))?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return Err(ScepError::Malformed("length form not allowed in DER"));
        }
        let bytes = input
            .get(2..2 + count)
            .ok_or(ScepError::Malformed("truncated element"))?;
        if bytes[0] == 0 {
            return Err(ScepError::Malformed("non-minimal length"));
        }
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        if len < 0x80 {
            return Err(ScepError::Malformed("non-minimal length"));
        }
        (len, 2 + count)
    };
    let end = header
        .checked_add(len)
        .ok_or(ScepError::Malformed("length overflow"))?;
    let raw = input
        .get(..end)
        .ok_or(ScepError::Malformed("truncated element"))?;
    Ok((
        Tlv {
            tag,
            value: &raw[header..],
            raw,
        },
        &input[end..],
    ))
}

/// `input` must be exactly one element with this tag.
pub(crate) fn single<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<Tlv<'a>, ScepError> {
    let mut r = DerReader::new(input);
    let tlv = r.expect(tag, what)?;
    r.finish(what)?;
    Ok(tlv)
}

/// `content` holds exactly one element, whatever its tag.
pub(crate) fn only_child<'a>(content: &'a [u8], what: &'static str) -> Result<Tlv<'a>, ScepError> {
    let mut r = DerReader::new(content);
    let tlv = r.read().map_err(|_| ScepError::Invalid(what))?;
    r.finish(what)?;
    Ok(tlv)
}

/// A cursor over the children of one constructed element.
#[derive(Debug)]
pub(crate) struct DerReader<'a> {
    rest: &'a [u8],
}

impl<'a> DerReader<'a> {
    pub(crate) fn new(content: &'a [u8]) -> Self {
        DerReader { rest: content }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    pub(crate) fn read(&mut self) -> Result<Tlv<'a>, ScepError> {
        let (tlv, rest) = split_tlv(self.rest)?;
        self.rest = rest;
        Ok(tlv)
    }

    pub(crate) fn expect(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, ScepError> {
        if self.peek_tag() != Some(tag) {
            return Err(ScepError::Malformed(what));
        }
        self.read()
    }

    pub(crate) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, ScepError> {
        if self.peek_tag() == Some(tag) {
            self.read().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every element is consumed: nothing unexpected follows.
    pub(crate) fn finish(self, what: &'static str) -> Result<(), ScepError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ScepError::Malformed(what))
        }
    }
}

/// A small non-negative INTEGER (a version number).
pub(crate) fn small_uint(tlv: &Tlv<'_>, what: &'static str) -> Result<u8, ScepError> {
    match (tlv.tag, tlv.value) {
        (INTEGER, [v]) if *v < 0x80 => Ok(*v),
        _ => Err(ScepError::Invalid(what)),
    }
}

/// An INTEGER's content, checked for DER minimality (a serial number).
pub(crate) fn integer_bytes<'a>(tlv: &Tlv<'a>, what: &'static str) -> Result<&'a [u8], ScepError> {
    if tlv.tag != INTEGER || tlv.value.is_empty() {
        return Err(ScepError::Malformed(what));
    }
    if tlv.value.len() > 1 {
        let (a, b) = (tlv.value[0], tlv.value[1]);
        if (a == 0 && b & 0x80 == 0) || (a == 0xff && b & 0x80 != 0) {
            return Err(ScepError::Malformed(what));
        }
    }
    Ok(tlv.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_lengths() {
        assert!(
            split_tlv(&[0x04, 0x81, 0x05, 0, 0, 0, 0, 0]).is_err(),
            "non-minimal long form"
        );
        assert!(split_tlv(&[0x04, 0x80]).is_err(), "indefinite");
        assert!(split_tlv(&[0x04, 0x02, 0]).is_err(), "truncated");
        let (t, rest) = split_tlv(&[0x04, 0x01, 0x09, 0xff]).expect("valid");
        assert_eq!((t.tag, t.value, rest), (0x04, &[0x09][..], &[0xff][..]));
        assert!(
            single(&[0x04, 0x01, 0x09, 0xff], 0x04, "x").is_err(),
            "trailing"
        );
    }

    #[test]
    fn integers() {
        let t = |v: &'static [u8]| Tlv {
            tag: INTEGER,
            value: v,
            raw: v,
        };
        assert!(integer_bytes(&t(&[0, 1]), "s").is_err());
        assert!(integer_bytes(&t(&[0, 0x81]), "s").is_ok());
        assert_eq!(small_uint(&t(&[1]), "v"), Ok(1));
    }
}
