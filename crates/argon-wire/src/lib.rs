//! The MongoDB wire protocol for Argon: framing, decoding and encoding of
//! OP_MSG, the legacy OP_QUERY/OP_REPLY handshake, and OP_COMPRESSED
//! (snappy, zlib, zstd). Synchronous and I/O-free: the server reads bytes,
//! asks [`frame_length`] how many make a message, and hands each complete
//! frame to [`decode`].
//!
//! ```
//! use argon_wire::{decode, encode_op_msg, encode_op_msg_request, frame_length, Request};
//! use bson::doc;
//!
//! // A client sends `ping`...
//! let frame = encode_op_msg_request(7, 0, &doc! { "ping": 1, "$db": "admin" }, &[], None)?;
//! // ...the server learns the frame's length from its first four bytes...
//! assert_eq!(frame_length(&frame)?, Some(frame.len()));
//! // ...decodes it...
//! let decoded = decode(&frame)?;
//! let Request::Msg(msg) = decoded.request else { unreachable!() };
//! assert_eq!(msg.command_name(), Some("ping"));
//! // ...and replies to request 7, compressed the way the request was (not at all).
//! let reply = encode_op_msg(1, decoded.header.request_id, 0, &doc! { "ok": 1.0 }, decoded.compressor)?;
//! # assert_eq!(argon_wire::decode_response(&reply)?.header.response_to, 7);
//! # Ok::<(), argon_wire::WireError>(())
//! ```
//!
//! Safety on hostile input: every length is checked before it is used,
//! declared sizes never drive allocations beyond [`MAX_MESSAGE_BYTES`],
//! decompression stops one byte past the declared size, and BSON is
//! validated without recursion before conversion (nesting limited to
//! [`MAX_BSON_DEPTH`]). Decoders return [`WireError`] and never panic.
//!
//! Memory note: decoded documents are [`bson::Document`]s, whose per-field
//! overhead is far larger than the field's bytes on the wire (a 2-byte
//! `null` field becomes an entry of about a hundred bytes). A server should
//! therefore bound the bytes it decodes concurrently, not just per message.

mod compression;
mod document;
mod error;
mod header;
mod message;
mod op_compressed;
mod op_msg;
mod op_query;
mod op_reply;
mod reader;
mod writer;

pub use compression::{is_uncompressible_command, reply_compressor, Compressor};
pub use document::{MAX_BSON_DEPTH, MAX_DOCUMENT_BYTES};
pub use error::WireError;
pub use header::{
    frame_length, opcode_name, peek_header, MsgHeader, HEADER_LEN, MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_BYTES,
    OP_COMMAND, OP_COMMAND_REPLY, OP_COMPRESSED, OP_DELETE, OP_GET_MORE, OP_INSERT, OP_KILL_CURSORS,
    OP_LEGACY_MSG, OP_MSG, OP_QUERY, OP_REPLY, OP_RESERVED, OP_UPDATE,
};
pub use message::{
    decode, decode_response, encode_op_msg, encode_op_msg_raw, encode_op_msg_request, encode_op_query,
    encode_op_reply, plain_op_msg, Decoded, DecodedResponse, PlainOpMsg, Request, Response,
};
pub use op_msg::{DocumentSequence, OpMsg};
pub use op_query::OpQuery;
pub use op_reply::OpReply;
