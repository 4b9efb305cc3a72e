//! OP_COMPRESSED: an envelope around another message minus its header.
//!
//! ```text
//! struct OP_COMPRESSED {
//!     MsgHeader header;          // opCode = 2012
//!     int32  originalOpcode;
//!     int32  uncompressedSize;   // of the wrapped message without its header
//!     uint8  compressorId;
//!     char   compressedMessage[];
//! }
//! ```
//!
//! Unwrapping yields the *logical* header of the wrapped message (same ids,
//! `originalOpcode`, length `16 + uncompressedSize`), which is also the header
//! an OP_MSG checksum inside covers.

use crate::compression::Compressor;
use crate::error::WireError;
use crate::header::{check_length, MsgHeader, HEADER_LEN, MAX_MESSAGE_BYTES, OP_COMPRESSED};
use crate::reader::Reader;

/// Bytes between the header and the compressed payload.
const ENVELOPE_LEN: usize = 4 + 4 + 1;

/// The fields of an OP_COMPRESSED body, payload still compressed.
pub(crate) struct Envelope<'a> {
    pub(crate) original_opcode: i32,
    pub(crate) uncompressed_size: usize,
    pub(crate) compressor: Compressor,
    pub(crate) payload: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses the envelope fields of `body` (the message after its header)
    /// and checks them, without decompressing anything yet.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Envelope<'a>, WireError> {
        let mut r = Reader::new(body);
        let original_opcode = r.i32("OP_COMPRESSED originalOpcode")?;
        let declared = r.i32("OP_COMPRESSED uncompressedSize")?;
        let compressor_id = r.u8("OP_COMPRESSED compressorId")?;
        if original_opcode == OP_COMPRESSED {
            return Err(WireError::NestedCompression(original_opcode));
        }
        if declared < 0 {
            return Err(WireError::InvalidUncompressedSize(declared));
        }
        let uncompressed_size = declared as usize;
        if uncompressed_size > MAX_MESSAGE_BYTES - HEADER_LEN {
            return Err(WireError::TooLarge(uncompressed_size as u64 + HEADER_LEN as u64));
        }
        let compressor =
            Compressor::from_id(compressor_id).ok_or(WireError::UnknownCompressor(compressor_id))?;
        Ok(Envelope { original_opcode, uncompressed_size, compressor, payload: r.rest() })
    }

    /// Decompresses the payload; returns the logical header and body.
    pub(crate) fn open(self, outer: &MsgHeader) -> Result<(MsgHeader, Vec<u8>), WireError> {
        let body = self.compressor.decompress(self.payload, self.uncompressed_size)?;
        let message_length = (HEADER_LEN + self.uncompressed_size) as i32;
        check_length(message_length)?;
        let header = MsgHeader { message_length, op_code: self.original_opcode, ..*outer };
        Ok((header, body))
    }
}

/// Wraps a complete, uncompressed `message` in OP_COMPRESSED.
///
/// If the compressed form would exceed [`MAX_MESSAGE_BYTES`] (snappy and
/// zstd can grow incompressible input slightly), the message is returned
/// uncompressed, which the spec allows: receivers must accept uncompressed
/// replies to compressed requests.
pub(crate) fn wrap(message: Vec<u8>, compressor: Compressor) -> Result<Vec<u8>, WireError> {
    let header = MsgHeader::parse(&message)?;
    let body = &message[HEADER_LEN..];
    let compressed = compressor.compress(body)?;
    let total = HEADER_LEN + ENVELOPE_LEN + compressed.len();
    if total > MAX_MESSAGE_BYTES {
        return Ok(message);
    }
    let outer = MsgHeader { message_length: total as i32, op_code: OP_COMPRESSED, ..header };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&outer.to_bytes());
    out.extend_from_slice(&header.op_code.to_le_bytes());
    out.extend_from_slice(&(body.len() as i32).to_le_bytes());
    out.push(compressor.id());
    out.extend_from_slice(&compressed);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::OP_MSG;

    fn message(body: &[u8]) -> Vec<u8> {
        let header = MsgHeader {
            message_length: (HEADER_LEN + body.len()) as i32,
            request_id: 5,
            response_to: 6,
            op_code: OP_MSG,
        };
        let mut out = header.to_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn wrap_then_open_restores_the_message() {
        let original = message(&[7u8; 1000]);
        for c in Compressor::ALL {
            let wrapped = wrap(original.clone(), c).unwrap();
            let outer = MsgHeader::parse(&wrapped).unwrap();
            assert_eq!(outer.op_code, OP_COMPRESSED);
            assert_eq!(outer.message_length as usize, wrapped.len());
            let envelope = Envelope::parse(&wrapped[HEADER_LEN..]).unwrap();
            assert_eq!(envelope.compressor, c);
            assert_eq!(envelope.original_opcode, OP_MSG);
            let (header, body) = envelope.open(&outer).unwrap();
            assert_eq!(header, MsgHeader::parse(&original).unwrap());
            assert_eq!(body, &original[HEADER_LEN..]);
        }
    }

    #[test]
    fn envelope_fields_are_checked_before_decompressing() {
        let envelope = |op: i32, size: i32, id: u8| {
            let mut b = op.to_le_bytes().to_vec();
            b.extend_from_slice(&size.to_le_bytes());
            b.push(id);
            b
        };
        let err = |b: Vec<u8>| Envelope::parse(&b).err().unwrap().to_string();
        assert_eq!(err(envelope(OP_COMPRESSED, 0, 0)), "OP_COMPRESSED cannot wrap opcode 2012");
        assert_eq!(err(envelope(OP_MSG, -1, 0)), "OP_COMPRESSED declares an invalid uncompressed size -1");
        assert_eq!(
            err(envelope(OP_MSG, 47_999_985, 1)),
            "message of 48000001 bytes exceeds the 48000000-byte limit"
        );
        assert_eq!(err(envelope(OP_MSG, 5, 4)), "unknown compressor id 4");
        assert_eq!(
            err(envelope(OP_MSG, 5, 0)[..8].to_vec()),
            "message truncated: no room for OP_COMPRESSED compressorId"
        );
        assert!(Envelope::parse(&envelope(OP_MSG, 47_999_984, 3)).is_ok());
    }
}
