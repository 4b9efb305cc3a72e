//! Builds one outgoing message: body fields, then header, checksum and
//! optional OP_COMPRESSED envelope in [`MessageWriter::finish`].

use bson::Document;

use crate::compression::Compressor;
use crate::document;
use crate::error::WireError;
use crate::header::{MsgHeader, HEADER_LEN, MAX_MESSAGE_BYTES};
use crate::op_compressed;

pub(crate) struct MessageWriter {
    buf: Vec<u8>,
}

impl MessageWriter {
    /// Starts a message; the header is filled in by [`MessageWriter::finish`].
    pub(crate) fn new() -> MessageWriter {
        MessageWriter { buf: vec![0; HEADER_LEN] }
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes `s` and a NUL; `s` itself must not contain one.
    pub(crate) fn cstring(&mut self, s: &str, what: &'static str) -> Result<(), WireError> {
        if s.as_bytes().contains(&0) {
            return Err(WireError::InvalidCString(what));
        }
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    pub(crate) fn document(&mut self, doc: &Document, context: &dyn Fn() -> String) -> Result<(), WireError> {
        document::append(&mut self.buf, doc, context)?;
        self.check_size(0)
    }

    /// Overwrites the int32 at `at` (a length written as a placeholder).
    pub(crate) fn patch_len(&mut self, at: usize, len: usize) -> Result<(), WireError> {
        let len = i32::try_from(len).map_err(|_| WireError::TooLarge(len as u64))?;
        self.buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    /// Fails early once the message can no longer fit, so that building a
    /// huge reply stops before it has used more memory than necessary.
    fn check_size(&self, extra: usize) -> Result<(), WireError> {
        let total = self.buf.len() + extra;
        if total > MAX_MESSAGE_BYTES {
            return Err(WireError::TooLarge(total as u64));
        }
        Ok(())
    }

    /// Completes the message: fills in the header, appends the CRC-32C of
    /// the whole message when `checksum` is set, and wraps it in OP_COMPRESSED
    /// when a compressor is given (see [`op_compressed::wrap`] for when it
    /// falls back to the uncompressed form).
    ///
    /// Errs with [`WireError::TooLarge`] if the uncompressed message exceeds
    /// [`MAX_MESSAGE_BYTES`]; compression never rescues an oversized message,
    /// because the receiver checks the uncompressed size too.
    pub(crate) fn finish(
        mut self,
        op_code: i32,
        request_id: i32,
        response_to: i32,
        checksum: bool,
        compressor: Option<Compressor>,
    ) -> Result<Vec<u8>, WireError> {
        let checksum_len = if checksum { 4 } else { 0 };
        self.check_size(checksum_len)?;
        let message_length = (self.buf.len() + checksum_len) as i32;
        let header = MsgHeader { message_length, request_id, response_to, op_code };
        self.buf[..HEADER_LEN].copy_from_slice(&header.to_bytes());
        if checksum {
            let crc = crc32c::crc32c(&self.buf);
            self.buf.extend_from_slice(&crc.to_le_bytes());
        }
        match compressor {
            None => Ok(self.buf),
            Some(compressor) => op_compressed::wrap(self.buf, compressor),
        }
    }
}
