//! The one error type of the wire layer.
//!
//! Every variant describes a message that cannot be decoded (or a reply that
//! cannot be encoded), with a message meant for a log line or an `errmsg`.
//!
//! How a server reacts: an error from [`crate::frame_length`] means the byte
//! stream cannot be trusted (close the connection). An error from
//! [`crate::decode`] concerns one complete frame that has already been
//! consumed, so the stream is still in step; the server may answer with an
//! error reply addressed to [`crate::peek_header`]'s `request_id`, or close.

use crate::compression::Compressor;
use crate::header::MAX_MESSAGE_BYTES;

/// Why a message could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The header's `messageLength` is smaller than the header itself.
    #[error("message length {0} is below the 16-byte header")]
    LengthBelowHeader(i32),

    /// The message (as declared, as decompressed, or as encoded) is larger
    /// than [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(u64),

    /// The frame handed to a decoder is not exactly as long as its header says.
    #[error("header declares a {declared}-byte message but the frame holds {actual} bytes")]
    LengthMismatch { declared: usize, actual: usize },

    /// An opcode that is not part of the MongoDB wire protocol.
    #[error("unknown opcode {0}")]
    UnknownOpCode(i32),

    /// A known opcode that this side of the connection does not accept
    /// (legacy opcodes removed in MongoDB 5.1, or a reply sent as a request).
    #[error("unsupported opcode {name} ({op_code})")]
    UnsupportedOpCode { op_code: i32, name: &'static str },

    /// The message ended in the middle of a field.
    #[error("message truncated: no room for {0}")]
    Truncated(&'static str),

    /// Bytes left over after the last field of a message.
    #[error("{count} unexpected trailing bytes after {after}")]
    TrailingBytes { after: &'static str, count: usize },

    /// A C string (NUL-terminated) is missing its terminator or is not UTF-8.
    #[error("invalid {0}: expected a NUL-terminated UTF-8 string")]
    InvalidCString(&'static str),

    /// A BSON document is malformed.
    #[error("invalid BSON in {context}: {reason}")]
    InvalidBson { context: String, reason: String },

    /// A document is larger than [`crate::MAX_DOCUMENT_BYTES`] (MongoDB answers
    /// such a request or reply with code 10334, BSONObjectTooLarge).
    #[error("{context} is a {size}-byte document, above the {max}-byte limit", max = crate::MAX_DOCUMENT_BYTES)]
    DocumentTooLarge { context: String, size: usize },

    /// A BSON document nests deeper than [`crate::MAX_BSON_DEPTH`].
    #[error("BSON in {context} nests deeper than {max} levels", max = crate::MAX_BSON_DEPTH)]
    BsonTooDeep { context: String },

    /// OP_MSG sets one of the low 16 ("required") flag bits that this
    /// implementation does not know. The spec says the receiver must error.
    #[error("OP_MSG sets unknown required flag bits {0:#06x}")]
    UnknownRequiredFlags(u32),

    /// The CRC-32C checksum at the end of an OP_MSG does not match its bytes.
    #[error("OP_MSG checksum mismatch: message carries {carried:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { carried: u32, computed: u32 },

    /// An OP_MSG section with a payload type other than 0 or 1.
    #[error("OP_MSG section kind {0} is unknown (expected 0 or 1)")]
    UnknownSectionKind(u8),

    /// An OP_MSG without a body (kind 0) section.
    #[error("OP_MSG has no body section (kind 0)")]
    MissingBody,

    /// An OP_MSG with two body sections.
    #[error("OP_MSG has more than one body section (kind 0)")]
    DuplicateBody,

    /// A document sequence (kind 1) section is malformed.
    #[error("invalid OP_MSG document sequence: {0}")]
    InvalidSequence(String),

    /// Two document sequences of one OP_MSG share an identifier.
    #[error("OP_MSG document sequence {0:?} appears more than once")]
    DuplicateSequence(String),

    /// A document sequence and a body field share a name, so the sequence
    /// cannot be folded into the command.
    #[error("OP_MSG document sequence {0:?} duplicates a field of the body")]
    SequenceConflictsWithBody(String),

    /// OP_COMPRESSED names a compressor id outside the specification.
    #[error("unknown compressor id {0}")]
    UnknownCompressor(u8),

    /// OP_COMPRESSED wraps a message that may not be wrapped (OP_COMPRESSED itself).
    #[error("OP_COMPRESSED cannot wrap opcode {0}")]
    NestedCompression(i32),

    /// OP_COMPRESSED declares a negative uncompressed size.
    #[error("OP_COMPRESSED declares an invalid uncompressed size {0}")]
    InvalidUncompressedSize(i32),

    /// The compressed payload does not inflate to the declared size.
    #[error(
        "OP_COMPRESSED declares {declared} uncompressed bytes but the payload decompresses to {}{actual}",
        if *at_least { "at least " } else { "" }
    )]
    UncompressedSizeMismatch { declared: usize, actual: usize, at_least: bool },

    /// The compressed payload is corrupt.
    #[error("{compressor} decompression failed: {reason}")]
    Decompression { compressor: Compressor, reason: String },

    /// Compressing an outgoing message failed.
    #[error("{compressor} compression failed: {reason}")]
    Compression { compressor: Compressor, reason: String },

    /// OP_REPLY's `numberReturned` disagrees with the documents it carries.
    #[error("OP_REPLY numberReturned is {declared} but the message holds {actual} documents")]
    ReplyCountMismatch { declared: i32, actual: usize },

    /// An OP_QUERY that is not a command (its namespace is not `<db>.$cmd`).
    /// Legacy queries against collections were removed in MongoDB 5.1.
    #[error("OP_QUERY on {0:?} is not a command; only <db>.$cmd is supported")]
    NotACommand(String),

    /// An OP_QUERY command that carries `$db`; MongoDB rejects it (code 40621).
    #[error("$db is not allowed in OP_QUERY requests")]
    DbInOpQuery,

    /// A document to be sent cannot be serialized (for example a key holding a NUL byte).
    #[error("cannot encode {context} as BSON: {reason}")]
    Encode { context: String, reason: String },
}
