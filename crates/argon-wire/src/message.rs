//! Decoding whole frames into requests (server side) or responses (client
//! side), with OP_COMPRESSED removed on the way, and the reply encoders.
//!
//! ```text
//! frame ──peek_header──► OP_COMPRESSED? ──Envelope::open──► logical header + body
//!                              │ no                                │
//!                              └───────────────► OP_MSG / OP_QUERY / OP_REPLY parser
//! ```

use std::borrow::Cow;

use bson::Document;

use crate::compression::Compressor;
use crate::error::WireError;
use crate::header::{
    peek_header, unsupported, MsgHeader, HEADER_LEN, OP_COMPRESSED, OP_MSG, OP_QUERY, OP_REPLY,
};
use crate::op_compressed::Envelope;
use crate::op_msg::{self, DocumentSequence, OpMsg};
use crate::op_query::OpQuery;
use crate::op_reply::{self, OpReply};

/// A message a client sends to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Msg(OpMsg),
    /// Only for the legacy handshake; answer with OP_REPLY.
    Query(OpQuery),
}

impl Request {
    /// The command name (first key of the command document).
    pub fn command_name(&self) -> Option<&str> {
        match self {
            Request::Msg(msg) => msg.command_name(),
            Request::Query(query) => query.command_name(),
        }
    }

    /// The command as one document in OP_MSG form; see
    /// [`OpMsg::into_command`] and [`OpQuery::into_command`].
    pub fn into_command(self) -> Result<Document, WireError> {
        match self {
            Request::Msg(msg) => msg.into_command(),
            Request::Query(query) => query.into_command(),
        }
    }
}

/// A decoded request frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The header of the request as if it had not been compressed: for an
    /// OP_COMPRESSED frame, `op_code` is the wrapped opcode and
    /// `message_length` is 16 + `uncompressedSize`. `request_id` is what the
    /// reply's `response_to` must echo.
    pub header: MsgHeader,
    pub request: Request,
    /// The compressor the request arrived with (`None`: not compressed).
    /// Reply with the same one; see [`crate::reply_compressor`].
    pub compressor: Option<Compressor>,
}

/// A message the server sends to a client.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    Msg(OpMsg),
    Reply(OpReply),
}

/// A decoded response frame; fields as in [`Decoded`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedResponse {
    pub header: MsgHeader,
    pub response: Response,
    pub compressor: Option<Compressor>,
}

/// Decodes one complete request frame: exactly the bytes of one message, as
/// delimited with [`crate::frame_length`].
///
/// Accepts OP_MSG and OP_QUERY, bare or inside OP_COMPRESSED. Any other
/// opcode is an error naming it: legacy opcodes (OP_INSERT, OP_GET_MORE, ...)
/// and OP_REPLY as [`WireError::UnsupportedOpCode`], others as
/// [`WireError::UnknownOpCode`]. Never panics; never allocates more than a
/// bounded multiple of the frame's (or the checked uncompressed) size.
pub fn decode(frame: &[u8]) -> Result<Decoded, WireError> {
    let Opened { header, body, compressor } = open(frame, &[OP_MSG, OP_QUERY])?;
    let request = match header.op_code {
        OP_MSG => Request::Msg(OpMsg::parse(&header, &body)?),
        OP_QUERY => Request::Query(OpQuery::parse(&body)?),
        other => return Err(unsupported(other)),
    };
    Ok(Decoded { header, request, compressor })
}

/// Decodes one complete response frame (the client side, for tests and load
/// generators): OP_MSG or OP_REPLY, bare or inside OP_COMPRESSED.
pub fn decode_response(frame: &[u8]) -> Result<DecodedResponse, WireError> {
    let Opened { header, body, compressor } = open(frame, &[OP_MSG, OP_REPLY])?;
    let response = match header.op_code {
        OP_MSG => Response::Msg(OpMsg::parse(&header, &body)?),
        OP_REPLY => Response::Reply(OpReply::parse(&body)?),
        other => return Err(unsupported(other)),
    };
    Ok(DecodedResponse { header, response, compressor })
}

/// A frame with its OP_COMPRESSED envelope (if any) removed.
struct Opened<'a> {
    header: MsgHeader,
    body: Cow<'a, [u8]>,
    compressor: Option<Compressor>,
}

/// Checks the header and removes an OP_COMPRESSED envelope. The opcode
/// (wrapped or not) must be one of `accepted`, checked before decompressing.
fn open<'a>(frame: &'a [u8], accepted: &[i32]) -> Result<Opened<'a>, WireError> {
    let header = peek_header(frame)?;
    let body = &frame[HEADER_LEN..];
    if header.op_code != OP_COMPRESSED {
        if !accepted.contains(&header.op_code) {
            return Err(unsupported(header.op_code));
        }
        return Ok(Opened { header, body: body.into(), compressor: None });
    }
    let envelope = Envelope::parse(body)?;
    if !accepted.contains(&envelope.original_opcode) {
        return Err(unsupported(envelope.original_opcode));
    }
    let compressor = envelope.compressor;
    let (header, body) = envelope.open(&header)?;
    Ok(Opened { header, body: body.into(), compressor: Some(compressor) })
}

/// Encodes an OP_MSG reply with a body and no document sequences.
///
/// `flags` is written as given; with [`OpMsg::CHECKSUM_PRESENT`] a CRC-32C
/// is appended, with [`OpMsg::MORE_TO_COME`] it is an exhaust reply.
/// With a compressor the message goes inside OP_COMPRESSED, unless the
/// compressed frame would exceed [`crate::MAX_MESSAGE_BYTES`], in which case
/// it is sent uncompressed (the spec allows either).
///
/// Errors, never panics: [`WireError::Encode`] if `body` cannot be
/// serialized (for example a key containing NUL), and
/// [`WireError::TooLarge`] if the message would exceed
/// [`crate::MAX_MESSAGE_BYTES`]; building stops as soon as the limit is
/// passed. The server should then send a small error reply instead
/// (MongoDB uses code 10334, BSONObjectTooLarge).
pub fn encode_op_msg(
    request_id: i32,
    response_to: i32,
    flags: u32,
    body: &Document,
    compressor: Option<Compressor>,
) -> Result<Vec<u8>, WireError> {
    op_msg::encode(request_id, response_to, flags, body, &[], compressor)
}

/// Encodes an OP_MSG request (`response_to` 0) with document sequences;
/// set [`OpMsg::CHECKSUM_PRESENT`] in `flags` to append a checksum. Errors
/// as [`encode_op_msg`], plus [`WireError::InvalidCString`] for an
/// identifier containing NUL.
pub fn encode_op_msg_request(
    request_id: i32,
    flags: u32,
    body: &Document,
    sequences: &[DocumentSequence],
    compressor: Option<Compressor>,
) -> Result<Vec<u8>, WireError> {
    op_msg::encode(request_id, 0, flags, body, sequences, compressor)
}

/// Encodes an OP_REPLY (the answer to an OP_QUERY handshake). Errors and
/// compression as [`encode_op_msg`].
pub fn encode_op_reply(
    request_id: i32,
    response_to: i32,
    response_flags: u32,
    cursor_id: i64,
    starting_from: i32,
    documents: &[Document],
    compressor: Option<Compressor>,
) -> Result<Vec<u8>, WireError> {
    op_reply::encode(request_id, response_to, response_flags, cursor_id, starting_from, documents, compressor)
}

/// Encodes an OP_QUERY request; see [`OpQuery::encode`].
pub fn encode_op_query(
    request_id: i32,
    query: &OpQuery,
    compressor: Option<Compressor>,
) -> Result<Vec<u8>, WireError> {
    query.encode(request_id, compressor)
}

/// A plain OP_MSG request read in place: its body and at most one
/// document sequence, as raw BSON.
#[derive(Debug)]
pub struct PlainOpMsg<'a> {
    pub header: MsgHeader,
    pub body: &'a bson::RawDocument,
    /// (identifier, documents) of a kind 1 section, if there is one.
    pub sequence: Option<(&'a str, Vec<&'a bson::RawDocument>)>,
}

/// Reads an uncompressed OP_MSG with no flag bits set (no checksum, no
/// `moreToCome`/`exhaustAllowed`), a body and at most one document
/// sequence, without decoding any document. `None` for anything else
/// (callers then use [`decode`]). Document lengths are checked; their
/// elements are not (they are read lazily).
pub fn plain_op_msg(frame: &[u8]) -> Option<PlainOpMsg<'_>> {
    let header = crate::header::peek_header(frame).ok()?;
    if header.op_code != crate::header::OP_MSG {
        return None;
    }
    let rest = &frame[crate::header::HEADER_LEN..];
    // flagBits (4) = 0, then section kind 0.
    if rest.len() < 5 || rest[..4] != [0, 0, 0, 0] || rest[4] != 0 {
        return None;
    }
    let (body, mut rest) = split_document(&rest[5..])?;
    let mut sequence = None;
    if let Some((&kind, after)) = rest.split_first() {
        if kind != 1 {
            return None;
        }
        let size = i32::from_le_bytes(after.get(..4)?.try_into().ok()?);
        let size = usize::try_from(size).ok().filter(|s| *s >= 5 && *s <= after.len())?;
        let (section, after) = after.split_at(size);
        let section = &section[4..];
        let nul = section.iter().position(|b| *b == 0)?;
        let identifier = std::str::from_utf8(&section[..nul]).ok()?;
        let mut docs_bytes = &section[nul + 1..];
        let mut docs = Vec::new();
        while !docs_bytes.is_empty() {
            let (doc, more) = split_document(docs_bytes)?;
            docs.push(doc);
            docs_bytes = more;
        }
        sequence = Some((identifier, docs));
        rest = after;
    }
    if !rest.is_empty() {
        return None; // more sections
    }
    Some(PlainOpMsg { header, body, sequence })
}

/// The BSON document at the start of `bytes` (its length checked) and what follows.
fn split_document(bytes: &[u8]) -> Option<(&bson::RawDocument, &[u8])> {
    let len = i32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    let len = usize::try_from(len).ok().filter(|l| *l >= 5 && *l <= bytes.len())?;
    let (doc, rest) = bytes.split_at(len);
    Some((bson::RawDocument::from_bytes(doc).ok()?, rest))
}

/// Encodes an OP_MSG reply whose body is already BSON bytes (no flags, no
/// compression). Errs if the message would exceed [`crate::MAX_MESSAGE_BYTES`].
pub fn encode_op_msg_raw(
    request_id: i32,
    response_to: i32,
    body: &bson::RawDocument,
) -> Result<Vec<u8>, WireError> {
    let bytes = body.as_bytes();
    let total = crate::header::HEADER_LEN + 5 + bytes.len();
    if total > crate::header::MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(total as u64));
    }
    let header =
        MsgHeader { message_length: total as i32, request_id, response_to, op_code: crate::header::OP_MSG };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
    out.extend_from_slice(bytes);
    Ok(out)
}
