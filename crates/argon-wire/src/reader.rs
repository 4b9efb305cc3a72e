//! A bounds-checked cursor over the bytes of one message.
//!
//! Every read checks the remaining length first and fails with
//! [`WireError::Truncated`] naming the field, so decoders never index out of
//! bounds and never allocate more than the input holds. [`Reader::finish`]
//! rejects trailing bytes.

use bson::Document;

use crate::document;
use crate::error::WireError;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes the next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if n > self.remaining() {
            return Err(WireError::Truncated(what));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    /// Reads a NUL-terminated UTF-8 string (the NUL is consumed, not returned).
    pub(crate) fn cstring(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let rest = &self.buf[self.pos..];
        let nul = rest.iter().position(|&b| b == 0).ok_or(WireError::InvalidCString(what))?;
        let s = std::str::from_utf8(&rest[..nul]).map_err(|_| WireError::InvalidCString(what))?;
        self.pos += nul + 1;
        Ok(s)
    }

    /// The raw bytes of the BSON document that starts here, judged by its
    /// leading int32 length, which must fit in what remains.
    pub(crate) fn document_bytes(&mut self, context: &dyn Fn() -> String) -> Result<&'a [u8], WireError> {
        let rest = &self.buf[self.pos..];
        let Some(prefix) = rest.first_chunk::<4>() else {
            return Err(WireError::InvalidBson {
                context: context(),
                reason: format!("{} bytes left, too few for a document", rest.len()),
            });
        };
        let len = i32::from_le_bytes(*prefix);
        if len < document::MIN_DOCUMENT_LEN as i32 || len as usize > rest.len() {
            return Err(WireError::InvalidBson {
                context: context(),
                reason: format!("document length {len} does not fit the {} bytes left", rest.len()),
            });
        }
        self.bytes(len as usize, "a BSON document")
    }

    /// Reads, validates and converts the BSON document that starts here.
    pub(crate) fn document(&mut self, context: &dyn Fn() -> String) -> Result<Document, WireError> {
        let bytes = self.document_bytes(context)?;
        document::parse(bytes, context)
    }

    /// Fails if any bytes remain.
    pub(crate) fn finish(&self, after: &'static str) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(WireError::TrailingBytes { after, count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_fields_in_order() {
        let buf = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 7, b'a', b'b', 0, 9];
        let mut r = Reader::new(&buf);
        assert_eq!(r.i32("a").unwrap(), 1);
        assert_eq!(r.i32("b").unwrap(), -1);
        assert_eq!(r.u8("c").unwrap(), 7);
        assert_eq!(r.cstring("d").unwrap(), "ab");
        assert!(matches!(r.finish("e"), Err(WireError::TrailingBytes { count: 1, .. })));
        assert_eq!(r.rest(), &[9]);
        r.finish("e").unwrap();
    }

    #[test]
    fn short_reads_name_the_field_and_do_not_advance() {
        let mut r = Reader::new(&[1, 2, 3]);
        let err = r.i32("OP_MSG flagBits").unwrap_err();
        assert_eq!(err.to_string(), "message truncated: no room for OP_MSG flagBits");
        assert_eq!(r.remaining(), 3);
        assert!(r.i64("x").is_err());
    }

    #[test]
    fn cstring_needs_a_terminator_and_utf8() {
        assert!(Reader::new(b"abc").cstring("name").is_err());
        assert!(Reader::new(b"\xff\xfe\0").cstring("name").is_err());
        assert_eq!(Reader::new(b"\0").cstring("name").unwrap(), "");
    }

    #[test]
    fn document_length_must_fit() {
        let ctx = || "test".to_string();
        assert!(Reader::new(&[5, 0, 0]).document_bytes(&ctx).is_err());
        assert!(Reader::new(&[6, 0, 0, 0, 0]).document_bytes(&ctx).is_err());
        assert!(Reader::new(&[4, 0, 0, 0, 0]).document_bytes(&ctx).is_err());
        assert!(Reader::new(&[0, 0, 0, 0x80, 0]).document_bytes(&ctx).is_err());
        assert_eq!(Reader::new(&[5, 0, 0, 0, 0, 1]).document_bytes(&ctx).unwrap().len(), 5);
    }
}
