//! OP_MSG (opcode 2013): every command and reply since MongoDB 3.6.
//!
//! ```text
//! struct OP_MSG {
//!     MsgHeader header;
//!     uint32    flagBits;
//!     Section   sections[];      // exactly one kind 0, any number of kind 1
//!     [uint32   checksum;]       // CRC-32C of everything before it, if flagBits & 1
//! }
//! section kind 0: uint8 0, document body
//! section kind 1: uint8 1, int32 size (itself included), cstring identifier, document*
//! ```

use std::collections::HashSet;

use bson::{Bson, Document};

use crate::compression::Compressor;
use crate::document::MIN_DOCUMENT_LEN;
use crate::error::WireError;
use crate::header::{MsgHeader, OP_MSG};
use crate::reader::Reader;
use crate::writer::MessageWriter;

/// A kind-1 section: documents standing for the array field `identifier`
/// of the command (for example the `documents` of an `insert`).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSequence {
    pub identifier: String,
    pub documents: Vec<Document>,
}

impl DocumentSequence {
    pub fn new(identifier: impl Into<String>, documents: Vec<Document>) -> DocumentSequence {
        DocumentSequence { identifier: identifier.into(), documents }
    }
}

/// A decoded OP_MSG.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsg {
    /// The flag bits as received; see the associated constants.
    pub flag_bits: u32,
    /// The kind-0 section: the command (first key is its name) or the reply.
    pub body: Document,
    /// The kind-1 sections, in message order.
    pub sequences: Vec<DocumentSequence>,
}

impl OpMsg {
    /// Bit 0: a CRC-32C checksum ends the message.
    pub const CHECKSUM_PRESENT: u32 = 1 << 0;
    /// Bit 1: the sender sends another message without waiting: on a
    /// request, no reply is wanted; on a reply, more replies follow (exhaust).
    pub const MORE_TO_COME: u32 = 1 << 1;
    /// Bit 16: the client accepts several replies to this request.
    pub const EXHAUST_ALLOWED: u32 = 1 << 16;

    /// The low 16 bits are "required": a receiver must reject unknown ones.
    const REQUIRED_BITS: u32 = 0xffff;
    const KNOWN_REQUIRED_BITS: u32 = Self::CHECKSUM_PRESENT | Self::MORE_TO_COME;

    /// A message with no flags and no document sequences.
    pub fn new(body: Document) -> OpMsg {
        OpMsg { flag_bits: 0, body, sequences: Vec::new() }
    }

    pub fn checksum_present(&self) -> bool {
        self.flag_bits & Self::CHECKSUM_PRESENT != 0
    }

    pub fn more_to_come(&self) -> bool {
        self.flag_bits & Self::MORE_TO_COME != 0
    }

    pub fn exhaust_allowed(&self) -> bool {
        self.flag_bits & Self::EXHAUST_ALLOWED != 0
    }

    /// The command name: the first key of the body.
    pub fn command_name(&self) -> Option<&str> {
        self.body.keys().next().map(String::as_str)
    }

    /// The command as one document, as a dispatcher wants it: each document
    /// sequence becomes an array field of the body named by its identifier,
    /// appended after the body's own fields (so the command name stays first).
    ///
    /// Errs if an identifier is also a body field or appears twice.
    pub fn into_command(self) -> Result<Document, WireError> {
        let mut command = self.body;
        for sequence in &self.sequences {
            if command.contains_key(&sequence.identifier) {
                return Err(WireError::SequenceConflictsWithBody(sequence.identifier.clone()));
            }
        }
        let mut seen = HashSet::new();
        for sequence in self.sequences {
            if !seen.insert(sequence.identifier.clone()) {
                return Err(WireError::DuplicateSequence(sequence.identifier));
            }
            let array = sequence.documents.into_iter().map(Bson::Document).collect::<Vec<_>>();
            command.insert(sequence.identifier, array);
        }
        Ok(command)
    }

    /// Encodes this message. A checksum is appended if `flag_bits` has
    /// [`OpMsg::CHECKSUM_PRESENT`]; the other bits are written as they are.
    /// See [`crate::encode_op_msg`] for errors and compression.
    pub fn encode(
        &self,
        request_id: i32,
        response_to: i32,
        compressor: Option<Compressor>,
    ) -> Result<Vec<u8>, WireError> {
        encode(request_id, response_to, self.flag_bits, &self.body, &self.sequences, compressor)
    }

    /// Parses the body of an OP_MSG (the bytes after `header`).
    pub(crate) fn parse(header: &MsgHeader, body: &[u8]) -> Result<OpMsg, WireError> {
        let mut r = Reader::new(body);
        let flag_bits = r.u32("OP_MSG flagBits")?;
        let unknown = flag_bits & Self::REQUIRED_BITS & !Self::KNOWN_REQUIRED_BITS;
        if unknown != 0 {
            return Err(WireError::UnknownRequiredFlags(unknown));
        }

        let mut sections = r.rest();
        if flag_bits & Self::CHECKSUM_PRESENT != 0 {
            let Some((rest, carried)) = sections.split_last_chunk::<4>() else {
                return Err(WireError::Truncated("OP_MSG checksum"));
            };
            let carried = u32::from_le_bytes(*carried);
            // The checksum covers the header, flagBits and sections.
            let computed = crc32c::crc32c_append(crc32c::crc32c(&header.to_bytes()), &body[..body.len() - 4]);
            if carried != computed {
                return Err(WireError::ChecksumMismatch { carried, computed });
            }
            sections = rest;
        }

        let mut r = Reader::new(sections);
        let mut body_doc = None;
        let mut sequences: Vec<DocumentSequence> = Vec::new();
        let mut identifiers = HashSet::new();
        while !r.is_empty() {
            match r.u8("OP_MSG section kind")? {
                0 => {
                    if body_doc.is_some() {
                        return Err(WireError::DuplicateBody);
                    }
                    body_doc = Some(r.document(&|| "OP_MSG body".to_string())?);
                }
                1 => {
                    let sequence = parse_sequence(&mut r)?;
                    if !identifiers.insert(sequence.identifier.clone()) {
                        return Err(WireError::DuplicateSequence(sequence.identifier));
                    }
                    sequences.push(sequence);
                }
                kind => return Err(WireError::UnknownSectionKind(kind)),
            }
        }
        let body = body_doc.ok_or(WireError::MissingBody)?;
        Ok(OpMsg { flag_bits, body, sequences })
    }
}

fn parse_sequence(r: &mut Reader<'_>) -> Result<DocumentSequence, WireError> {
    let size = r.i32("OP_MSG document sequence size")?;
    // The size counts itself, the identifier and its NUL, and the documents.
    if size < 5 {
        return Err(WireError::InvalidSequence(format!("size {size} is too small to hold an identifier")));
    }
    let content_len = size as usize - 4;
    if content_len > r.remaining() {
        return Err(WireError::InvalidSequence(format!(
            "size {size} overruns the message ({} bytes left)",
            r.remaining() + 4
        )));
    }
    let mut content = Reader::new(r.bytes(content_len, "OP_MSG document sequence")?);
    let identifier = content.cstring("OP_MSG document sequence identifier")?;
    if identifier.is_empty() {
        return Err(WireError::InvalidSequence("empty identifier".to_string()));
    }
    let mut documents = Vec::new();
    while !content.is_empty() {
        if content.remaining() < MIN_DOCUMENT_LEN {
            return Err(WireError::InvalidSequence(format!(
                "{} stray bytes after the documents of {identifier:?}",
                content.remaining()
            )));
        }
        let index = documents.len();
        let context = || format!("OP_MSG document sequence {identifier:?}, document {index}");
        documents.push(content.document(&context)?);
    }
    Ok(DocumentSequence { identifier: identifier.to_string(), documents })
}

/// Encodes an OP_MSG from its parts; the shared path of every OP_MSG encoder.
pub(crate) fn encode(
    request_id: i32,
    response_to: i32,
    flag_bits: u32,
    body: &Document,
    sequences: &[DocumentSequence],
    compressor: Option<Compressor>,
) -> Result<Vec<u8>, WireError> {
    let mut w = MessageWriter::new();
    w.u32(flag_bits);
    w.u8(0);
    w.document(body, &|| "OP_MSG body".to_string())?;
    for sequence in sequences {
        w.u8(1);
        let size_at = w.len();
        w.i32(0);
        w.cstring(&sequence.identifier, "OP_MSG document sequence identifier")?;
        for (index, doc) in sequence.documents.iter().enumerate() {
            let id = &sequence.identifier;
            w.document(doc, &|| format!("OP_MSG document sequence {id:?}, document {index}"))?;
        }
        let size = w.len() - size_at;
        w.patch_len(size_at, size)?;
    }
    let checksum = flag_bits & OpMsg::CHECKSUM_PRESENT != 0;
    w.finish(OP_MSG, request_id, response_to, checksum, compressor)
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;
    use crate::header::HEADER_LEN;

    fn parse(frame: &[u8]) -> Result<OpMsg, WireError> {
        let header = MsgHeader::parse(frame)?;
        OpMsg::parse(&header, &frame[HEADER_LEN..])
    }

    fn insert() -> OpMsg {
        OpMsg {
            flag_bits: 0,
            body: doc! { "insert": "coll", "$db": "test" },
            sequences: vec![DocumentSequence::new("documents", vec![doc! { "_id": 1 }, doc! { "_id": 2 }])],
        }
    }

    #[test]
    fn encode_then_parse_is_identity() {
        for flag_bits in [0, OpMsg::CHECKSUM_PRESENT, OpMsg::MORE_TO_COME | OpMsg::EXHAUST_ALLOWED] {
            let msg = OpMsg { flag_bits, ..insert() };
            assert_eq!(parse(&msg.encode(1, 0, None).unwrap()).unwrap(), msg);
        }
    }

    #[test]
    fn flag_accessors_read_their_bits() {
        let msg = OpMsg { flag_bits: OpMsg::MORE_TO_COME | OpMsg::EXHAUST_ALLOWED, ..insert() };
        assert!(msg.more_to_come() && msg.exhaust_allowed() && !msg.checksum_present());
        assert_eq!(msg.command_name(), Some("insert"));
        assert_eq!(OpMsg::new(Document::new()).command_name(), None);
    }

    #[test]
    fn sequences_fold_into_the_command() {
        let command = insert().into_command().unwrap();
        assert_eq!(
            command,
            doc! { "insert": "coll", "$db": "test", "documents": [{ "_id": 1 }, { "_id": 2 }] }
        );
        assert_eq!(command.keys().next().unwrap(), "insert");
    }

    #[test]
    fn a_sequence_may_not_shadow_a_body_field() {
        let mut msg = insert();
        msg.body.insert("documents", Bson::Array(vec![]));
        let err = msg.into_command().unwrap_err();
        assert_eq!(err.to_string(), "OP_MSG document sequence \"documents\" duplicates a field of the body");
        let mut msg = insert();
        msg.sequences.push(DocumentSequence::new("documents", vec![]));
        assert!(matches!(msg.into_command(), Err(WireError::DuplicateSequence(_))));
    }

    #[test]
    fn optional_high_flag_bits_are_ignored_but_required_low_bits_are_not() {
        let msg = OpMsg { flag_bits: 1 << 20, ..insert() };
        assert_eq!(parse(&msg.encode(1, 0, None).unwrap()).unwrap().flag_bits, 1 << 20);
        for bit in 2..16 {
            let msg = OpMsg { flag_bits: 1 << bit, ..insert() };
            let err = parse(&msg.encode(1, 0, None).unwrap()).unwrap_err();
            assert!(matches!(err, WireError::UnknownRequiredFlags(b) if b == 1 << bit), "{err}");
        }
    }

    #[test]
    fn an_identifier_with_a_nul_cannot_be_encoded() {
        let msg = OpMsg { sequences: vec![DocumentSequence::new("a\0b", vec![])], ..insert() };
        assert!(matches!(msg.encode(1, 0, None), Err(WireError::InvalidCString(_))));
    }
}
