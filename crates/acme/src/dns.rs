//! A strict DNS message codec (RFC 1035) for the validator's few questions: TXT for
//! dns-01, A and AAAA for http-01 and tls-alpn-01, CAA (RFC 8659) before issuance.
//!
//! In: a name and a type (to ask); the resolver's UDP answer (hostile). Out: a query
//! message; the answer records of the asked type, or an error naming what was wrong. Every
//! length is checked against the message, compression pointers may only point backwards,
//! and a truncated answer (TC) is reported, not half-read.

/// TXT.
pub const TXT: u16 = 16;
/// A.
pub const A: u16 = 1;
/// AAAA.
pub const AAAA: u16 = 28;
/// CAA (RFC 8659).
pub const CAA: u16 = 257;
const CNAME: u16 = 5;

/// Why an answer could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The message does not parse.
    Malformed(String),
    /// The resolver answered with an error code (2 SERVFAIL, 5 REFUSED …).
    Rcode(u8),
    /// The answer did not fit in UDP.
    Truncated,
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsError::Malformed(s) => write!(f, "malformed DNS answer: {s}"),
            DnsError::Rcode(2) => f.write_str("the resolver answered SERVFAIL"),
            DnsError::Rcode(5) => f.write_str("the resolver REFUSED the query"),
            DnsError::Rcode(c) => write!(f, "the resolver answered with error code {c}"),
            DnsError::Truncated => f.write_str("the DNS answer was truncated (too large for UDP)"),
        }
    }
}

/// A query with recursion desired.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    if name.is_empty() || name.len() > 253 {
        return Err(format!(
            "cannot ask for {name:?}: names are 1-253 characters"
        ));
    }
    let mut m = Vec::with_capacity(name.len() + 18);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("cannot ask for {name:?}: empty or long label"));
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    Ok(m)
}

struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

fn bad(s: &str) -> DnsError {
    DnsError::Malformed(s.into())
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DnsError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.msg.len())
            .ok_or_else(|| bad("runs past its end"))?;
        let s = &self.msg[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self) -> Result<u16, DnsError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a (possibly compressed) name, lower-cased, without the trailing dot.
    fn name(&mut self) -> Result<String, DnsError> {
        let mut out = String::new();
        let mut pos = self.pos;
        let mut jumped = false;
        for _ in 0..128 {
            let len = *self
                .msg
                .get(pos)
                .ok_or_else(|| bad("name runs past the end"))?;
            match len {
                0 => {
                    if !jumped {
                        self.pos = pos + 1;
                    }
                    if out.len() > 255 {
                        return Err(bad("name longer than 255 octets"));
                    }
                    return Ok(out);
                }
                l if l & 0xc0 == 0xc0 => {
                    let lo = *self.msg.get(pos + 1).ok_or_else(|| bad("cut pointer"))?;
                    let target = (usize::from(l & 0x3f) << 8) | usize::from(lo);
                    if target >= pos {
                        return Err(bad("compression pointer does not point backwards"));
                    }
                    if !jumped {
                        self.pos = pos + 2;
                        jumped = true;
                    }
                    pos = target;
                }
                l if l & 0xc0 != 0 => return Err(bad("reserved label type")),
                l => {
                    let l = usize::from(l);
                    let label = self
                        .msg
                        .get(pos + 1..pos + 1 + l)
                        .ok_or_else(|| bad("label runs past the end"))?;
                    if !out.is_empty() {
                        out.push('.');
                    }
                    for &b in label {
                        if !b.is_ascii_graphic() || b == b'.' {
                            return Err(bad("name has non-printable or dot octets in a label"));
                        }
                        out.push(char::from(b.to_ascii_lowercase()));
                    }
                    pos += 1 + l;
                }
            }
        }
        Err(bad("name has too many labels or pointers"))
    }
}

/// The rdata of every answer record of `qtype` for `qname` (following CNAMEs inside the
/// answer). NXDOMAIN and NODATA give an empty list.
pub fn parse_answer(
    msg: &[u8],
    id: u16,
    qname: &str,
    qtype: u16,
) -> Result<Vec<Vec<u8>>, DnsError> {
    let mut r = Reader { msg, pos: 0 };
    let got_id = r.u16()?;
    let flags = r.u16()?;
    if got_id != id {
        return Err(bad("the answer's id does not match the query"));
    }
    if flags & 0x8000 == 0 {
        return Err(bad("not a response"));
    }
    if flags & 0x0200 != 0 {
        return Err(DnsError::Truncated);
    }
    let rcode = (flags & 0x000f) as u8;
    let (qd, an) = (r.u16()?, r.u16()?);
    let _ns = r.u16()?;
    let _ar = r.u16()?;
    if rcode == 3 {
        return Ok(Vec::new());
    }
    if rcode != 0 {
        return Err(DnsError::Rcode(rcode));
    }
    if qd != 1 {
        return Err(bad("the answer must repeat exactly one question"));
    }
    let asked = qname.trim_end_matches('.').to_ascii_lowercase();
    if r.name()? != asked {
        return Err(bad("the answer is for a different question"));
    }
    if r.u16()? != qtype || r.u16()? != 1 {
        return Err(bad("the answer is for a different question type or class"));
    }
    let mut owners = vec![asked];
    let mut out = Vec::new();
    for _ in 0..an {
        let owner = r.name()?;
        let (rtype, class) = (r.u16()?, r.u16()?);
        r.take(4)?; // TTL
        let len = usize::from(r.u16()?);
        let rdata_start = r.pos;
        let rdata = r.take(len)?;
        if class != 1 || !owners.contains(&owner) {
            continue;
        }
        if rtype == CNAME {
            let mut inner = Reader {
                msg,
                pos: rdata_start,
            };
            owners.push(inner.name()?);
        } else if rtype == qtype {
            let value = match qtype {
                TXT => txt_strings(rdata)?,
                A if len != 4 => return Err(bad("an A record must have 4 octets")),
                AAAA if len != 16 => return Err(bad("an AAAA record must have 16 octets")),
                _ => rdata.to_vec(),
            };
            out.push(value);
        }
    }
    Ok(out)
}

/// One CAA record (RFC 8659 §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caa {
    /// The issuer-critical flag (flags bit 0, value 128).
    pub critical: bool,
    /// The property tag, lower-cased (`issue`, `issuewild`, `iodef`, …).
    pub tag: String,
    /// The property value, as sent.
    pub value: Vec<u8>,
}

/// Parses a CAA record's rdata: flags, a 1–15 octet alphanumeric tag, the value.
pub fn caa_record(rdata: &[u8]) -> Result<Caa, DnsError> {
    let [flags, tag_len, rest @ ..] = rdata else {
        return Err(bad("a CAA record needs flags and a tag length"));
    };
    let tag_len = usize::from(*tag_len);
    if tag_len == 0 || tag_len > 15 || rest.len() < tag_len {
        return Err(bad(
            "a CAA tag must be 1 to 15 octets long and fit in the record",
        ));
    }
    let (tag, value) = rest.split_at(tag_len);
    if !tag.iter().all(u8::is_ascii_alphanumeric) {
        return Err(bad("a CAA tag must be letters and digits"));
    }
    Ok(Caa {
        critical: flags & 0x80 != 0,
        tag: String::from_utf8_lossy(tag).to_ascii_lowercase(),
        value: value.to_vec(),
    })
}

/// A TXT record's character-strings, concatenated (RFC 8555 §8.4 values fit in one).
pub fn txt_strings(rdata: &[u8]) -> Result<Vec<u8>, DnsError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < rdata.len() {
        let l = usize::from(rdata[pos]);
        let s = rdata
            .get(pos + 1..pos + 1 + l)
            .ok_or_else(|| bad("TXT string runs past its record"))?;
        out.extend_from_slice(s);
        pos += 1 + l;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: u16, flags: u16, q: &str, qtype: u16, records: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = encode_query(id, q, qtype).unwrap();
        m[2..4].copy_from_slice(&flags.to_be_bytes());
        m[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (t, rdata) in records {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    #[test]
    fn txt_and_a() {
        let q = "_acme-challenge.lab.test";
        let m = answer(
            7,
            0x8180,
            q,
            TXT,
            &[(TXT, b"\x03abc\x02de".to_vec()), (A, vec![1, 2, 3, 4])],
        );
        assert_eq!(
            parse_answer(&m, 7, q, TXT).unwrap(),
            vec![b"abcde".to_vec()]
        );
        assert!(parse_answer(&m, 8, q, TXT).is_err());
        let m = answer(7, 0x8180, "h.lab.test", A, &[(A, vec![127, 0, 0, 1])]);
        assert_eq!(
            parse_answer(&m, 7, "H.lab.test.", A).unwrap(),
            vec![vec![127, 0, 0, 1]]
        );
        let nx = answer(7, 0x8183, q, TXT, &[]);
        assert!(parse_answer(&nx, 7, q, TXT).unwrap().is_empty());
        assert_eq!(
            parse_answer(&answer(7, 0x8182, q, TXT, &[]), 7, q, TXT),
            Err(DnsError::Rcode(2))
        );
        assert_eq!(
            parse_answer(&answer(7, 0x8380, q, TXT, &[]), 7, q, TXT),
            Err(DnsError::Truncated)
        );
    }

    #[test]
    fn caa_records() {
        let q = "lab.test";
        let rdata = b"\x80\x05ISSUEstrongroom.test; accounturi=x".to_vec();
        let m = answer(9, 0x8180, q, CAA, &[(CAA, rdata.clone())]);
        let got = parse_answer(&m, 9, q, CAA).unwrap();
        assert_eq!(
            caa_record(&got[0]).unwrap(),
            Caa {
                critical: true,
                tag: "issue".into(),
                value: b"strongroom.test; accounturi=x".to_vec(),
            }
        );
        assert_eq!(caa_record(b"\x00\x05iodef").unwrap().value, b"");
        for bad in [
            &b""[..],
            b"\x00",
            b"\x00\x00x",
            b"\x00\x10issue",
            b"\x00\x05iss-e",
        ] {
            assert!(caa_record(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostile_messages_are_errors_not_panics() {
        let q = "a.test";
        let good = answer(1, 0x8180, q, A, &[(A, vec![1, 2, 3, 4])]);
        for cut in 0..good.len() {
            let _ = parse_answer(&good[..cut], 1, q, A);
        }
        // A pointer loop.
        let mut m = good.clone();
        let at = 12 + 8; // the answer's owner pointer
        m[at] = 0xc0;
        m[at + 1] = at as u8;
        assert!(parse_answer(&m, 1, q, A).is_err());
        // A record with a wrong length.
        let m = answer(1, 0x8180, q, A, &[(A, vec![1, 2, 3])]);
        assert!(parse_answer(&m, 1, q, A).is_err());
        assert!(encode_query(1, &"a".repeat(64), A).is_err());
    }
}
