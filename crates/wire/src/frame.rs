//! Framing and strict decoding.
//!
//! In: a byte stream (or a complete payload). Out: one decoded message per frame, or an
//! error that tells the caller to drop the connection.

use serde::{de::DeserializeOwned, Serialize};
use std::fmt;
use std::io::{self, Read, Write};

/// Largest frame accepted, header included. A CSR or a CA chain fits easily; anything
/// bigger is an attack or a bug.
pub const MAX_FRAME: usize = 1024 * 1024;

/// Largest frame the signer sends and its clients accept: a response (a CRL of a million
/// entries is about 40 MiB). Requests stay under [`MAX_FRAME`]: the signer reads what
/// untrusted peers send with the small limit; clients read what the signer sends with this
/// one.
pub const MAX_RESPONSE_FRAME: usize = 96 * 1024 * 1024;
/// Protocol version carried in every frame.
pub const VERSION: u8 = 1;
/// Version byte plus request id.
const HEADER: usize = 1 + 8;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<T> {
    /// Chosen by the client; echoed in the response so callers can match them.
    pub request_id: u64,
    /// The message.
    pub message: T,
}

/// Why a frame was rejected. Every variant means: close the connection.
#[derive(Debug)]
pub enum WireError {
    /// The peer closed the stream cleanly between frames.
    Closed,
    /// Reading or writing the socket failed.
    Io(io::Error),
    /// The length prefix exceeds [`MAX_FRAME`] (the body is never read).
    Oversize(usize),
    /// The frame is shorter than its header.
    Truncated,
    /// The version byte is not [`VERSION`].
    Version(u8),
    /// The payload does not decode as the expected message (unknown tag, bad field).
    Malformed(String),
    /// The payload decoded but bytes were left over.
    TrailingBytes(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Closed => f.write_str("peer closed the connection"),
            WireError::Io(e) => write!(f, "socket error: {e}"),
            WireError::Oversize(n) => {
                write!(f, "frame of {n} bytes exceeds the {MAX_FRAME}-byte limit")
            }
            WireError::Truncated => f.write_str("frame shorter than its header"),
            WireError::Version(v) => {
                write!(f, "unsupported protocol version {v} (expected {VERSION})")
            }
            WireError::Malformed(why) => write!(f, "malformed message: {why}"),
            WireError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the message"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

/// Encodes a message as a complete frame, length prefix included (at most [`MAX_FRAME`]).
pub fn encode_frame<T: Serialize>(request_id: u64, message: &T) -> Result<Vec<u8>, WireError> {
    encode_frame_limited(request_id, message, MAX_FRAME)
}

/// Encodes a frame of at most `limit` bytes (the signer's responses: [`MAX_RESPONSE_FRAME`]).
pub fn encode_frame_limited<T: Serialize>(
    request_id: u64,
    message: &T,
    limit: usize,
) -> Result<Vec<u8>, WireError> {
    let payload = postcard::to_stdvec(message).map_err(|e| WireError::Malformed(e.to_string()))?;
    let body_len = HEADER + payload.len();
    if body_len + 4 > limit.min(MAX_RESPONSE_FRAME) {
        return Err(WireError::Oversize(body_len + 4));
    }
    let mut out = Vec::with_capacity(4 + body_len);
    // Invariant: body_len <= MAX_RESPONSE_FRAME (96 MiB) fits in u32.
    out.extend_from_slice(&(body_len as u32).to_be_bytes());
    out.push(VERSION);
    out.extend_from_slice(&request_id.to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Reads one frame body (version, id, payload) from a stream. The length is checked
/// before any body byte is read, so an oversize claim costs the reader nothing.
pub fn read_frame(stream: &mut impl Read) -> Result<Vec<u8>, WireError> {
    read_frame_limited(stream, MAX_FRAME)
}

/// Reads one frame of at most `limit` bytes (clients reading the signer's responses use
/// [`MAX_RESPONSE_FRAME`]).
pub fn read_frame_limited(stream: &mut impl Read, limit: usize) -> Result<Vec<u8>, WireError> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(WireError::Closed),
        Err(e) => return Err(WireError::Io(e)),
    }
    let body_len = body_length(len, limit)?;
    let mut body = vec![0u8; body_len];
    stream.read_exact(&mut body).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            WireError::Truncated
        } else {
            WireError::Io(e)
        }
    })?;
    Ok(body)
}

/// The body length a frame's 4-byte prefix announces, checked before any body byte is read:
/// at most `limit` (never more than [`MAX_RESPONSE_FRAME`]) with the prefix, and at least a
/// header. For readers that do their own I/O (the async client); [`read_frame_limited`]
/// uses it too.
pub fn body_length(prefix: [u8; 4], limit: usize) -> Result<usize, WireError> {
    let body_len = u32::from_be_bytes(prefix) as usize;
    if body_len + 4 > limit.min(MAX_RESPONSE_FRAME) {
        return Err(WireError::Oversize(body_len + 4));
    }
    if body_len < HEADER {
        return Err(WireError::Truncated);
    }
    Ok(body_len)
}

/// Decodes a frame body read by [`read_frame`]: version, request id, then exactly one
/// message with no trailing bytes, in canonical form (re-encoding the message must give
/// the same bytes: no overlong varints or other second spellings of one message).
pub fn decode_payload<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<Frame<T>, WireError> {
    let (&version, rest) = body.split_first().ok_or(WireError::Truncated)?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let (id, payload) = rest.split_at_checked(8).ok_or(WireError::Truncated)?;
    let mut id_bytes = [0u8; 8];
    id_bytes.copy_from_slice(id);
    let (message, trailing) =
        postcard::take_from_bytes::<T>(payload).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !trailing.is_empty() {
        return Err(WireError::TrailingBytes(trailing.len()));
    }
    // Found by fuzz/wire_request: postcard accepts overlong varints. One message, one
    // encoding: anything else is refused.
    let canonical =
        postcard::to_stdvec(&message).map_err(|e| WireError::Malformed(e.to_string()))?;
    if canonical != payload {
        return Err(WireError::Malformed("non-canonical encoding".into()));
    }
    Ok(Frame {
        request_id: u64::from_be_bytes(id_bytes),
        message,
    })
}

/// Writes a complete frame and flushes.
pub fn write_frame<T: Serialize>(
    stream: &mut impl Write,
    request_id: u64,
    message: &T,
) -> Result<(), WireError> {
    let bytes = encode_frame(request_id, message)?;
    stream.write_all(&bytes)?;
    stream.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Request;
    use std::io::Cursor;

    fn body_of(frame: &[u8]) -> Vec<u8> {
        read_frame(&mut Cursor::new(frame)).unwrap()
    }

    #[test]
    fn round_trip() {
        let f = encode_frame(7, &Request::Health).unwrap();
        let decoded: Frame<Request> = decode_payload(&body_of(&f)).unwrap();
        assert_eq!(
            decoded,
            Frame {
                request_id: 7,
                message: Request::Health
            }
        );
    }

    #[test]
    fn rejects_bad_frames() {
        let f = encode_frame(1, &Request::Health).unwrap();
        // trailing byte inside the frame
        let mut trailing = f.clone();
        trailing.push(0);
        let len = (trailing.len() - 4) as u32;
        trailing[..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            decode_payload::<Request>(&body_of(&trailing)),
            Err(WireError::TrailingBytes(1))
        ));
        // unknown tag
        let mut unknown = f.clone();
        *unknown.last_mut().unwrap() = 200;
        assert!(matches!(
            decode_payload::<Request>(&body_of(&unknown)),
            Err(WireError::Malformed(_))
        ));
        // wrong version
        let mut version = f.clone();
        version[4] = 9;
        assert!(matches!(
            decode_payload::<Request>(&body_of(&version)),
            Err(WireError::Version(9))
        ));
        // overlong varint (PutPolicy, version 59 spelled in two bytes)
        let overlong = [1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0xbb, 0x00, 0x00];
        assert!(
            matches!(decode_payload::<Request>(&overlong), Err(WireError::Malformed(m)) if m.contains("non-canonical"))
        );
        // oversize claim: rejected before reading the body
        let huge = ((MAX_FRAME as u32) + 1).to_be_bytes();
        assert!(matches!(
            read_frame(&mut Cursor::new(huge)),
            Err(WireError::Oversize(_))
        ));
        // truncated body
        assert!(matches!(
            read_frame(&mut Cursor::new(&f[..f.len() - 1])),
            Err(WireError::Truncated)
        ));
        // clean close
        assert!(matches!(
            read_frame(&mut Cursor::new(Vec::new())),
            Err(WireError::Closed)
        ));
    }

    #[test]
    fn responses_may_be_larger_than_requests() {
        let big = vec![7u8; 2 * MAX_FRAME];
        assert!(matches!(encode_frame(1, &big), Err(WireError::Oversize(_))));
        let frame = encode_frame_limited(1, &big, MAX_RESPONSE_FRAME).unwrap();
        // The signer's request reader refuses it; a client reading responses accepts it.
        assert!(matches!(
            read_frame(&mut std::io::Cursor::new(&frame)),
            Err(WireError::Oversize(_))
        ));
        let body =
            read_frame_limited(&mut std::io::Cursor::new(&frame), MAX_RESPONSE_FRAME).unwrap();
        assert_eq!(decode_payload::<Vec<u8>>(&body).unwrap().message, big);
        // Nothing beyond the response limit, whatever a caller asks for.
        let claim = ((MAX_RESPONSE_FRAME as u32) + 1).to_be_bytes();
        assert!(matches!(
            read_frame_limited(&mut std::io::Cursor::new(&claim), usize::MAX),
            Err(WireError::Oversize(_))
        ));
    }
}
