//! OP_REPLY (opcode 1): the answer to an OP_QUERY.
//!
//! ```text
//! struct OP_REPLY {
//!     MsgHeader header;          // responseTo = the query's requestID
//!     int32     responseFlags;
//!     int64     cursorID;
//!     int32     startingFrom;
//!     int32     numberReturned;
//!     document  documents[];
//! }
//! ```

use bson::Document;

use crate::compression::Compressor;
use crate::error::WireError;
use crate::header::OP_REPLY;
use crate::reader::Reader;
use crate::writer::MessageWriter;

/// A decoded OP_REPLY.
#[derive(Debug, Clone, PartialEq)]
pub struct OpReply {
    /// See the associated constants.
    pub response_flags: u32,
    /// 0 when no cursor remains open (always, for command replies).
    pub cursor_id: i64,
    pub starting_from: i32,
    pub documents: Vec<Document>,
}

impl OpReply {
    pub const CURSOR_NOT_FOUND: u32 = 1 << 0;
    pub const QUERY_FAILURE: u32 = 1 << 1;
    pub const SHARD_CONFIG_STALE: u32 = 1 << 2;
    /// Set by every server since 1.6: it supports `AwaitData`.
    pub const AWAIT_CAPABLE: u32 = 1 << 3;

    /// A single-document command reply: no cursor, `AWAIT_CAPABLE` set, as
    /// MongoDB answers an OP_QUERY command.
    pub fn command_reply(document: Document) -> OpReply {
        OpReply {
            response_flags: Self::AWAIT_CAPABLE,
            cursor_id: 0,
            starting_from: 0,
            documents: vec![document],
        }
    }

    /// Encodes this reply; see [`crate::encode_op_reply`].
    pub fn encode(
        &self,
        request_id: i32,
        response_to: i32,
        compressor: Option<Compressor>,
    ) -> Result<Vec<u8>, WireError> {
        encode(
            request_id,
            response_to,
            self.response_flags,
            self.cursor_id,
            self.starting_from,
            &self.documents,
            compressor,
        )
    }

    /// Parses the body of an OP_REPLY (the bytes after the header).
    pub(crate) fn parse(body: &[u8]) -> Result<OpReply, WireError> {
        let mut r = Reader::new(body);
        let response_flags = r.u32("OP_REPLY responseFlags")?;
        let cursor_id = r.i64("OP_REPLY cursorID")?;
        let starting_from = r.i32("OP_REPLY startingFrom")?;
        let declared = r.i32("OP_REPLY numberReturned")?;
        // The count is not trusted for allocation: the documents are counted
        // as they are read, then compared.
        let mut documents = Vec::new();
        while !r.is_empty() {
            let index = documents.len();
            documents.push(r.document(&|| format!("OP_REPLY document {index}"))?);
        }
        if usize::try_from(declared).ok() != Some(documents.len()) {
            return Err(WireError::ReplyCountMismatch { declared, actual: documents.len() });
        }
        Ok(OpReply { response_flags, cursor_id, starting_from, documents })
    }
}

pub(crate) fn encode(
    request_id: i32,
    response_to: i32,
    response_flags: u32,
    cursor_id: i64,
    starting_from: i32,
    documents: &[Document],
    compressor: Option<Compressor>,
) -> Result<Vec<u8>, WireError> {
    let mut w = MessageWriter::new();
    w.u32(response_flags);
    w.i64(cursor_id);
    w.i32(starting_from);
    // Each document is at least 5 bytes and the message at most 48 MB, so a
    // count that fits the message fits an i32; larger slices fail below.
    w.i32(i32::try_from(documents.len()).unwrap_or(i32::MAX));
    for (index, doc) in documents.iter().enumerate() {
        w.document(doc, &|| format!("OP_REPLY document {index}"))?;
    }
    w.finish(OP_REPLY, request_id, response_to, false, compressor)
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::header::HEADER_LEN;

    #[test]
    fn encode_then_parse_is_identity() {
        let reply = OpReply {
            response_flags: OpReply::AWAIT_CAPABLE,
            cursor_id: -12345678901,
            starting_from: 3,
            documents: vec![doc! { "ok": 1.0 }, doc! {}, doc! { "a": [1, 2] }],
        };
        let frame = reply.encode(1, 2, None).unwrap();
        assert_eq!(OpReply::parse(&frame[HEADER_LEN..]).unwrap(), reply);
        let empty = OpReply { documents: vec![], ..reply };
        let frame = empty.encode(1, 2, None).unwrap();
        assert_eq!(OpReply::parse(&frame[HEADER_LEN..]).unwrap(), empty);
    }

    #[test]
    fn number_returned_must_match() {
        let frame = OpReply::command_reply(doc! { "ok": 1 }).encode(1, 2, None).unwrap();
        let mut body = frame[HEADER_LEN..].to_vec();
        for lie in [0i32, 2, -1, i32::MAX] {
            body[16..20].copy_from_slice(&lie.to_le_bytes());
            let err = OpReply::parse(&body).unwrap_err();
            assert!(
                matches!(err, WireError::ReplyCountMismatch { declared, actual: 1 } if declared == lie),
                "{err}"
            );
        }
    }
}
