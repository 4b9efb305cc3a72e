//! BSON documents at the edge of the network: validate, then convert.
//!
//! The `bson` crate converts raw bytes to a [`Document`] recursively, so a
//! hostile message of a few megabytes nested a million levels deep would
//! overflow the stack. [`validate`] therefore walks the bytes first, without
//! recursion (an explicit stack of open documents), checking every length,
//! type tag, C string and UTF-8 string, and the nesting depth against
//! [`MAX_BSON_DEPTH`]. Only bytes that pass are handed to `bson`.

use bson::{Document, RawDocument};

use crate::error::WireError;

/// The deepest nesting of documents and arrays accepted on the wire, counting
/// the outermost document as level 1.
///
/// MongoDB stores documents nested up to 100 levels; commands wrap user
/// documents in a few more (body, `documents` array, update operators), so
/// the wire accepts 200 and leaves the storage rule to the server. The limit
/// exists to bound recursion in the code that consumes the decoded documents.
pub const MAX_BSON_DEPTH: usize = 200;

/// The largest single document accepted or sent in any message: MongoDB's
/// `BSONObjMaxInternalSize`, the 16 MiB user limit plus 16 KiB of room for
/// command fields around a maximal user document.
pub const MAX_DOCUMENT_BYTES: usize = crate::MAX_BSON_OBJECT_SIZE + 16 * 1024;

/// The smallest BSON document: a 4-byte length and the terminating NUL.
pub(crate) const MIN_DOCUMENT_LEN: usize = 5;

/// Validates `bytes` (exactly one document) and converts it.
pub(crate) fn parse(bytes: &[u8], context: &dyn Fn() -> String) -> Result<Document, WireError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(WireError::DocumentTooLarge { context: context(), size: bytes.len() });
    }
    validate(bytes).map_err(|e| e.into_wire(context))?;
    let raw = RawDocument::from_bytes(bytes)
        .map_err(|e| WireError::InvalidBson { context: context(), reason: e.to_string() })?;
    Document::try_from(raw).map_err(|e| WireError::InvalidBson { context: context(), reason: e.to_string() })
}

/// Serializes `doc`, appending it to `out`; refuses documents above
/// [`MAX_DOCUMENT_BYTES`], which the receiver would refuse.
pub(crate) fn append(
    out: &mut Vec<u8>,
    doc: &Document,
    context: &dyn Fn() -> String,
) -> Result<(), WireError> {
    let start = out.len();
    doc.to_writer(&mut *out).map_err(|e| WireError::Encode { context: context(), reason: e.to_string() })?;
    let size = out.len() - start;
    if size > MAX_DOCUMENT_BYTES {
        out.truncate(start);
        return Err(WireError::DocumentTooLarge { context: context(), size });
    }
    Ok(())
}

/// What [`validate`] found wrong.
#[derive(Debug)]
pub(crate) enum Invalid {
    Malformed { offset: usize, reason: String },
    TooDeep,
}

impl Invalid {
    fn at(offset: usize, reason: impl Into<String>) -> Invalid {
        Invalid::Malformed { offset, reason: reason.into() }
    }

    pub(crate) fn into_wire(self, context: &dyn Fn() -> String) -> WireError {
        match self {
            Invalid::Malformed { offset, reason } => {
                WireError::InvalidBson { context: context(), reason: format!("{reason} at byte {offset}") }
            }
            Invalid::TooDeep => WireError::BsonTooDeep { context: context() },
        }
    }
}

fn read_i32(bytes: &[u8], at: usize, end: usize) -> Result<i32, Invalid> {
    if at.checked_add(4).is_none_or(|stop| stop > end) {
        return Err(Invalid::at(at, "truncated int32"));
    }
    Ok(i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]))
}

/// Position just past the NUL of the C string at `at`, which must end before `end`.
fn skip_cstring(bytes: &[u8], at: usize, end: usize) -> Result<usize, Invalid> {
    let region = bytes.get(at..end).ok_or_else(|| Invalid::at(at, "truncated string"))?;
    let nul = region.iter().position(|&b| b == 0).ok_or_else(|| Invalid::at(at, "unterminated C string"))?;
    std::str::from_utf8(&region[..nul]).map_err(|_| Invalid::at(at, "C string is not UTF-8"))?;
    Ok(at + nul + 1)
}

/// Position just past the length-prefixed string (`int32 len, bytes, NUL`) at `at`.
fn skip_string(bytes: &[u8], at: usize, end: usize) -> Result<usize, Invalid> {
    let len = read_i32(bytes, at, end)?;
    if len < 1 {
        return Err(Invalid::at(at, format!("string length {len} is below 1")));
    }
    let start = at + 4;
    let stop = start
        .checked_add(len as usize)
        .filter(|&s| s <= end)
        .ok_or_else(|| Invalid::at(at, format!("string length {len} overruns its document")))?;
    if bytes[stop - 1] != 0 {
        return Err(Invalid::at(at, "string is not NUL-terminated"));
    }
    std::str::from_utf8(&bytes[start..stop - 1]).map_err(|_| Invalid::at(at, "string is not UTF-8"))?;
    Ok(stop)
}

/// The end of the document whose length prefix is at `at`, which must lie
/// within `end`; checks the terminating NUL.
fn document_end(bytes: &[u8], at: usize, end: usize) -> Result<usize, Invalid> {
    let len = read_i32(bytes, at, end)?;
    if len < MIN_DOCUMENT_LEN as i32 {
        return Err(Invalid::at(at, format!("document length {len} is below 5")));
    }
    let stop = at
        .checked_add(len as usize)
        .filter(|&s| s <= end)
        .ok_or_else(|| Invalid::at(at, format!("document length {len} overruns its container")))?;
    if bytes[stop - 1] != 0 {
        return Err(Invalid::at(stop - 1, "document is not NUL-terminated"));
    }
    Ok(stop)
}

/// Checks that `bytes` is exactly one well-formed BSON document nested no
/// deeper than [`MAX_BSON_DEPTH`]. Never recurses, never allocates more than
/// the explicit stack of open documents (at most `MAX_BSON_DEPTH` entries).
pub(crate) fn validate(bytes: &[u8]) -> Result<(), Invalid> {
    let top_end = document_end(bytes, 0, bytes.len())?;
    if top_end != bytes.len() {
        return Err(Invalid::at(
            0,
            format!("document length {top_end} differs from the {} bytes given", bytes.len()),
        ));
    }
    // End offsets of the documents currently open; the innermost is last.
    let mut open: Vec<usize> = vec![top_end];
    let mut pos = 4;
    while let Some(&end) = open.last() {
        // `end - 1` is the terminating NUL of the innermost open document.
        if pos >= end {
            return Err(Invalid::at(pos, "element overruns its document"));
        }
        let tag = bytes[pos];
        if tag == 0 {
            if pos != end - 1 {
                return Err(Invalid::at(pos, "document ends before its declared length"));
            }
            open.pop();
            pos = end;
            continue;
        }
        let value = skip_cstring(bytes, pos + 1, end - 1)?;
        let fixed = |n: usize| -> Result<usize, Invalid> {
            value
                .checked_add(n)
                .filter(|&s| s < end)
                .ok_or_else(|| Invalid::at(value, "value overruns its document"))
        };
        pos = match tag {
            0x01 | 0x09 | 0x11 | 0x12 => fixed(8)?, // double, datetime, timestamp, int64
            0x10 => fixed(4)?,                      // int32
            0x07 => fixed(12)?,                     // ObjectId
            0x13 => fixed(16)?,                     // decimal128
            0x06 | 0x0A | 0x7F | 0xFF => value,     // undefined, null, maxkey, minkey
            0x08 => {
                let stop = fixed(1)?;
                if bytes[value] > 1 {
                    return Err(Invalid::at(value, format!("boolean byte {} is not 0 or 1", bytes[value])));
                }
                stop
            }
            0x02 | 0x0D | 0x0E => skip_string(bytes, value, end - 1)?, // string, code, symbol
            0x0C => {
                // DBPointer: string then ObjectId
                let after = skip_string(bytes, value, end - 1)?;
                after
                    .checked_add(12)
                    .filter(|&s| s < end)
                    .ok_or_else(|| Invalid::at(value, "truncated DBPointer"))?
            }
            0x0B => {
                // regex: pattern and options, both C strings
                let after = skip_cstring(bytes, value, end - 1)?;
                skip_cstring(bytes, after, end - 1)?
            }
            0x05 => {
                let len = read_i32(bytes, value, end - 1)?;
                if len < 0 {
                    return Err(Invalid::at(value, format!("binary length {len} is negative")));
                }
                let data = value + 5;
                let stop = data.checked_add(len as usize).filter(|&s| s < end).ok_or_else(|| {
                    Invalid::at(value, format!("binary length {len} overruns its document"))
                })?;
                if bytes[value + 4] == 0x02 {
                    // The old binary subtype repeats the length inside the payload.
                    let inner = read_i32(bytes, data, stop)?;
                    if len < 4 || inner != len - 4 {
                        return Err(Invalid::at(value, "old binary subtype has a wrong inner length"));
                    }
                }
                stop
            }
            0x03 | 0x04 => {
                // embedded document or array: open it
                let stop = document_end(bytes, value, end - 1)?;
                if open.len() >= MAX_BSON_DEPTH {
                    return Err(Invalid::TooDeep);
                }
                open.push(stop);
                value + 4
            }
            0x0F => {
                // code with scope: int32 total, string code, document scope
                let total = read_i32(bytes, value, end - 1)?;
                let scope = skip_string(bytes, value + 4, end - 1)?;
                let stop = document_end(bytes, scope, end - 1)?;
                if total < 0 || value.checked_add(total as usize) != Some(stop) {
                    return Err(Invalid::at(
                        value,
                        format!("code-with-scope length {total} is inconsistent"),
                    ));
                }
                if open.len() >= MAX_BSON_DEPTH {
                    return Err(Invalid::TooDeep);
                }
                open.push(stop);
                scope + 4
            }
            other => return Err(Invalid::at(pos, format!("unknown element type {other:#04x}"))),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128};
    use bson::{JavaScriptCodeWithScope, Regex, Timestamp};

    use super::*;

    fn ctx() -> String {
        "test".to_string()
    }

    fn every_type() -> Document {
        doc! {
            "double": 1.5,
            "string": "héllo",
            "doc": { "a": { "b": [] } },
            "array": [1, "two", { "three": 3 }],
            "binary": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "old_binary": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![4, 5] },
            "undefined": Bson::Undefined,
            "oid": ObjectId::from_bytes([7; 12]),
            "bool": true,
            "date": DateTime::from_millis(1_700_000_000_000),
            "null": Bson::Null,
            "regex": Regex { pattern: "^a.*".try_into().unwrap(), options: "i".try_into().unwrap() },
            "code": Bson::JavaScriptCode("x = 1".into()),
            "symbol": Bson::Symbol("sym".into()),
            "scope": JavaScriptCodeWithScope { code: "y".into(), scope: doc! { "y": 2 } },
            "int32": 7,
            "timestamp": Timestamp { time: 1, increment: 2 },
            "int64": 8i64,
            "decimal": Decimal128::from_bytes([0; 16]),
            "min": Bson::MinKey,
            "max": Bson::MaxKey,
        }
    }

    /// Wraps raw element bytes in a document: length prefix and terminator.
    fn wrap(elements: &[u8]) -> Vec<u8> {
        let mut out = ((elements.len() + 5) as i32).to_le_bytes().to_vec();
        out.extend_from_slice(elements);
        out.push(0);
        out
    }

    /// `depth` documents nested inside each other: {a: {a: ... {}}}.
    /// Built front to back in linear time: level k (1 = innermost) is 5 + 8(k-1) bytes.
    fn nested(depth: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(depth * 8);
        for level in (2..=depth).rev() {
            out.extend_from_slice(&((5 + 8 * (level - 1)) as i32).to_le_bytes());
            out.extend_from_slice(&[0x03, b'a', 0]);
        }
        out.extend_from_slice(&[5, 0, 0, 0, 0]);
        out.resize(out.len() + depth - 1, 0);
        out
    }

    #[test]
    fn valid_documents_of_every_type_pass_and_convert() {
        let doc = every_type();
        let bytes = doc.to_vec().unwrap();
        validate(&bytes).unwrap();
        assert_eq!(parse(&bytes, &ctx).unwrap(), doc);
    }

    #[test]
    fn db_pointer_is_accepted() {
        let mut element = vec![0x0C, b'p', 0, 3, 0, 0, 0, b'n', b's', 0];
        element.extend_from_slice(&[9; 12]);
        let bytes = wrap(&element);
        validate(&bytes).unwrap();
        assert!(parse(&bytes, &ctx).unwrap().contains_key("p"));
    }

    #[test]
    fn every_truncation_and_every_single_byte_change_is_handled() {
        let bytes = every_type().to_vec().unwrap();
        for len in 0..bytes.len() {
            assert!(validate(&bytes[..len]).is_err(), "truncated to {len} bytes");
            assert!(parse(&bytes[..len], &ctx).is_err());
        }
        for i in 0..bytes.len() {
            for delta in [1u8, 0x7f, 0x80, 0xff] {
                let mut mutated = bytes.clone();
                mutated[i] = mutated[i].wrapping_add(delta);
                // Either outcome is fine; what matters is agreement and no panic:
                // whatever passes validation must convert.
                if validate(&mutated).is_ok() {
                    parse(&mutated, &ctx).unwrap();
                }
            }
        }
    }

    #[test]
    fn malformed_shapes_are_rejected_with_a_reason() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("unknown element type", wrap(&[0x42, b'k', 0])),
            ("unterminated C string", wrap(&[0x10, b'k', b'k'])),
            ("C string is not UTF-8", wrap(&[0x0A, 0xff, 0])),
            ("string length -1 is below 1", wrap(&[0x02, b'k', 0, 0xff, 0xff, 0xff, 0xff])),
            ("string length 0 is below 1", wrap(&[0x02, b'k', 0, 0, 0, 0, 0])),
            ("overruns", wrap(&[0x02, b'k', 0, 100, 0, 0, 0, b'a', 0])),
            ("string is not NUL-terminated", wrap(&[0x02, b'k', 0, 2, 0, 0, 0, b'a', b'b'])),
            ("string is not UTF-8", wrap(&[0x02, b'k', 0, 2, 0, 0, 0, 0xc3, 0])),
            ("boolean byte 2", wrap(&[0x08, b'k', 0, 2])),
            ("binary length -5 is negative", wrap(&[0x05, b'k', 0, 0xfb, 0xff, 0xff, 0xff, 0])),
            ("old binary subtype", wrap(&[0x05, b'k', 0, 4, 0, 0, 0, 2, 9, 0, 0, 0])),
            ("document length 4 is below 5", wrap(&[0x03, b'k', 0, 4, 0, 0, 0])),
            ("document is not NUL-terminated", wrap(&[0x03, b'k', 0, 5, 0, 0, 0, 1])),
            ("value overruns", wrap(&[0x10, b'k', 0, 1, 0])),
            ("code-with-scope length", {
                let mut e = vec![0x0F, b'k', 0, 99, 0, 0, 0, 2, 0, 0, 0, b'x', 0];
                e.extend_from_slice(&[5, 0, 0, 0, 0]);
                wrap(&e)
            }),
            ("document ends before its declared length", {
                let mut b = wrap(&[0x0A, b'k', 0]);
                b[4] = 0; // terminator where the element was
                b
            }),
            ("differs from the", {
                let mut b = wrap(&[]);
                b.push(0);
                b
            }),
        ];
        for (expected, bytes) in cases {
            let err = parse(&bytes, &ctx).unwrap_err().to_string();
            assert!(err.starts_with("invalid BSON in test: "), "{err}");
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        }
    }

    #[test]
    fn nesting_is_limited_without_recursion() {
        assert_eq!(nested(2), wrap(&[0x03, b'a', 0, 5, 0, 0, 0, 0]));
        validate(&nested(MAX_BSON_DEPTH)).unwrap();
        parse(&nested(MAX_BSON_DEPTH), &ctx).unwrap();
        let err = parse(&nested(MAX_BSON_DEPTH + 1), &ctx).unwrap_err();
        assert_eq!(err.to_string(), "BSON in test nests deeper than 200 levels");
        // Deep enough to overflow any stack if the walk recursed.
        assert!(matches!(validate(&nested(200_000)), Err(Invalid::TooDeep)));
    }

    #[test]
    fn code_with_scope_counts_as_a_level() {
        let code = JavaScriptCodeWithScope { code: "f".into(), scope: doc! {} };
        let mut doc = doc! { "c": code };
        for _ in 2..MAX_BSON_DEPTH {
            doc = doc! { "a": doc };
        }
        // Depth: MAX - 2 wrappers + the top document + the scope = MAX.
        parse(&doc.to_vec().unwrap(), &ctx).unwrap();
        let deeper = doc! { "a": doc };
        assert!(matches!(parse(&deeper.to_vec().unwrap(), &ctx), Err(WireError::BsonTooDeep { .. })));
    }

    #[test]
    fn encoding_a_key_with_a_nul_fails_cleanly() {
        let mut doc = Document::new();
        doc.insert("a\0b", 1);
        let mut out = Vec::new();
        let err = append(&mut out, &doc, &|| "reply body".to_string()).unwrap_err();
        assert!(err.to_string().starts_with("cannot encode reply body as BSON"), "{err}");
    }
}
