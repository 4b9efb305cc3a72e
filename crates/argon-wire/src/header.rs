//! The 16-byte standard message header, opcodes, and the cheap frame check.
//!
//! ```text
//! struct MsgHeader {            // all little-endian
//!     int32 messageLength;      // total size, header included
//!     int32 requestID;
//!     int32 responseTo;         // requestID of the request this answers
//!     int32 opCode;
//! }
//! ```

use crate::error::WireError;

/// The largest message either side may send: MongoDB's `maxMessageSizeBytes`,
/// advertised in the `hello` reply.
pub const MAX_MESSAGE_BYTES: usize = 48_000_000;

/// The largest BSON document MongoDB stores: `maxBsonObjectSize` in the `hello`
/// reply. Messages may carry documents slightly larger, up to
/// [`crate::MAX_DOCUMENT_BYTES`], to leave room for command fields.
pub const MAX_BSON_OBJECT_SIZE: usize = 16 * 1024 * 1024;

/// Size of [`MsgHeader`] on the wire.
pub const HEADER_LEN: usize = 16;

/// Reply to an OP_QUERY.
pub const OP_REPLY: i32 = 1;
/// Legacy `OP_MSG` (a diagnostic string), removed long ago. Not today's OP_MSG.
pub const OP_LEGACY_MSG: i32 = 1000;
/// Legacy update, removed in MongoDB 5.1.
pub const OP_UPDATE: i32 = 2001;
/// Legacy insert, removed in MongoDB 5.1.
pub const OP_INSERT: i32 = 2002;
/// Formerly OP_GET_BY_OID.
pub const OP_RESERVED: i32 = 2003;
/// Legacy query; still sent by older drivers for the first `isMaster`/`hello`.
pub const OP_QUERY: i32 = 2004;
/// Legacy cursor continuation, removed in MongoDB 5.1.
pub const OP_GET_MORE: i32 = 2005;
/// Legacy delete, removed in MongoDB 5.1.
pub const OP_DELETE: i32 = 2006;
/// Legacy cursor kill, removed in MongoDB 5.1.
pub const OP_KILL_CURSORS: i32 = 2007;
/// Cluster-internal command request, removed.
pub const OP_COMMAND: i32 = 2010;
/// Cluster-internal command reply, removed.
pub const OP_COMMAND_REPLY: i32 = 2011;
/// A compressed wrapper around another message.
pub const OP_COMPRESSED: i32 = 2012;
/// The extensible message used for every command since MongoDB 3.6.
pub const OP_MSG: i32 = 2013;

/// The conventional name of a known opcode, or `None` for an unknown one.
pub fn opcode_name(op_code: i32) -> Option<&'static str> {
    Some(match op_code {
        OP_REPLY => "OP_REPLY",
        OP_LEGACY_MSG => "legacy OP_MSG",
        OP_UPDATE => "OP_UPDATE",
        OP_INSERT => "OP_INSERT",
        OP_RESERVED => "OP_RESERVED",
        OP_QUERY => "OP_QUERY",
        OP_GET_MORE => "OP_GET_MORE",
        OP_DELETE => "OP_DELETE",
        OP_KILL_CURSORS => "OP_KILL_CURSORS",
        OP_COMMAND => "OP_COMMAND",
        OP_COMMAND_REPLY => "OP_COMMANDREPLY",
        OP_COMPRESSED => "OP_COMPRESSED",
        OP_MSG => "OP_MSG",
        _ => return None,
    })
}

/// The error for an opcode a decoder does not accept: named if known.
pub(crate) fn unsupported(op_code: i32) -> WireError {
    match opcode_name(op_code) {
        Some(name) => WireError::UnsupportedOpCode { op_code, name },
        None => WireError::UnknownOpCode(op_code),
    }
}

/// The standard header in front of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MsgHeader {
    /// Total message size in bytes, these 16 included.
    pub message_length: i32,
    /// Sender-chosen id of this message.
    pub request_id: i32,
    /// For a reply, the `request_id` it answers; 0 in requests.
    pub response_to: i32,
    /// Which message follows; see the `OP_*` constants.
    pub op_code: i32,
}

impl MsgHeader {
    /// Reads a header from the first 16 bytes of `buf`, without checking its fields.
    pub fn parse(buf: &[u8]) -> Result<MsgHeader, WireError> {
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated("the 16-byte message header"));
        }
        let field = |i: usize| i32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        Ok(MsgHeader {
            message_length: field(0),
            request_id: field(4),
            response_to: field(8),
            op_code: field(12),
        })
    }

    /// The 16 bytes of this header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.message_length.to_le_bytes());
        out[4..8].copy_from_slice(&self.request_id.to_le_bytes());
        out[8..12].copy_from_slice(&self.response_to.to_le_bytes());
        out[12..16].copy_from_slice(&self.op_code.to_le_bytes());
        out
    }
}

/// Checks a declared message length against the header size and the limit.
pub(crate) fn check_length(declared: i32) -> Result<usize, WireError> {
    if declared < HEADER_LEN as i32 {
        return Err(WireError::LengthBelowHeader(declared));
    }
    let len = declared as usize;
    if len > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(len as u64));
    }
    Ok(len)
}

/// How many bytes the message at the start of `buf` occupies, judged from its
/// first four bytes alone, so a connection knows how much to buffer before
/// calling [`crate::decode`].
///
/// - `Ok(None)`: fewer than 4 bytes buffered; read more.
/// - `Ok(Some(n))`: the message is `n` bytes long (`16 <= n <= MAX_MESSAGE_BYTES`);
///   `buf` may hold fewer (keep reading) or more (the next message follows).
/// - `Err`: the declared length is below 16 or above [`MAX_MESSAGE_BYTES`]; the
///   stream cannot be resynchronised, so the connection should be closed
///   without buffering anything more.
pub fn frame_length(buf: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(prefix) = buf.first_chunk::<4>() else {
        return Ok(None);
    };
    check_length(i32::from_le_bytes(*prefix)).map(Some)
}

/// Reads and checks the header of one complete frame: its declared length must
/// be valid and equal to `frame.len()`. The opcode is not checked.
///
/// Useful on its own when [`crate::decode`] fails and the server still wants
/// to address an error reply to the request's `request_id`.
pub fn peek_header(frame: &[u8]) -> Result<MsgHeader, WireError> {
    let header = MsgHeader::parse(frame)?;
    let declared = check_length(header.message_length)?;
    if declared != frame.len() {
        return Err(WireError::LengthMismatch { declared, actual: frame.len() });
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_waits_for_four_bytes() {
        assert_eq!(frame_length(&[]).unwrap(), None);
        assert_eq!(frame_length(&[0x33, 0, 0]).unwrap(), None);
        assert_eq!(frame_length(&[0x33, 0, 0, 0]).unwrap(), Some(51));
        assert_eq!(frame_length(&[16, 0, 0, 0, 9, 9]).unwrap(), Some(16));
    }

    #[test]
    fn frame_length_rejects_lengths_below_the_header() {
        for bad in [0i32, 15, -1, i32::MIN] {
            let err = frame_length(&bad.to_le_bytes()).unwrap_err();
            assert_eq!(err.to_string(), format!("message length {bad} is below the 16-byte header"));
        }
    }

    #[test]
    fn frame_length_rejects_lengths_above_the_limit() {
        let ok = (MAX_MESSAGE_BYTES as i32).to_le_bytes();
        assert_eq!(frame_length(&ok).unwrap(), Some(MAX_MESSAGE_BYTES));
        let err = frame_length(&(MAX_MESSAGE_BYTES as i32 + 1).to_le_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "message of 48000001 bytes exceeds the 48000000-byte limit");
        assert!(frame_length(&i32::MAX.to_le_bytes()).is_err());
    }

    #[test]
    fn header_round_trips_through_bytes() {
        let header = MsgHeader { message_length: 51, request_id: -7, response_to: 42, op_code: OP_MSG };
        assert_eq!(MsgHeader::parse(&header.to_bytes()).unwrap(), header);
    }

    #[test]
    fn peek_header_requires_the_exact_frame() {
        let header = MsgHeader { message_length: 20, request_id: 1, response_to: 0, op_code: OP_MSG };
        let mut frame = header.to_bytes().to_vec();
        assert!(matches!(peek_header(&frame), Err(WireError::LengthMismatch { declared: 20, actual: 16 })));
        frame.extend_from_slice(&[0; 4]);
        assert_eq!(peek_header(&frame).unwrap(), header);
        frame.push(0);
        assert!(peek_header(&frame).is_err());
    }

    #[test]
    fn opcodes_have_names() {
        assert_eq!(opcode_name(OP_INSERT), Some("OP_INSERT"));
        assert_eq!(opcode_name(OP_GET_MORE), Some("OP_GET_MORE"));
        assert_eq!(opcode_name(9999), None);
        assert_eq!(unsupported(2002).to_string(), "unsupported opcode OP_INSERT (2002)");
        assert_eq!(unsupported(9999).to_string(), "unknown opcode 9999");
    }
}
