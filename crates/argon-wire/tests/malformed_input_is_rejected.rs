//! Every malformed shape returns an error naming the problem; none panics.

mod common;

use argon_wire::{
    decode, decode_response, frame_length, peek_header, Compressor, OpMsg, WireError, MAX_DOCUMENT_BYTES,
    MAX_MESSAGE_BYTES, OP_COMPRESSED, OP_DELETE, OP_GET_MORE, OP_INSERT, OP_KILL_CURSORS, OP_MSG, OP_QUERY,
    OP_REPLY, OP_UPDATE,
};
use bson::doc;
use common::*;

/// A frame with a correct header around `body`.
fn frame(op_code: i32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&le((16 + body.len()) as i32));
    out.extend_from_slice(&le(1));
    out.extend_from_slice(&le(0));
    out.extend_from_slice(&le(op_code));
    out.extend_from_slice(body);
    out
}

/// An OP_MSG frame from flag bits and raw section bytes.
fn op_msg(flags: u32, sections: &[u8]) -> Vec<u8> {
    let mut body = flags.to_le_bytes().to_vec();
    body.extend_from_slice(sections);
    frame(OP_MSG, &body)
}

fn ping_doc() -> Vec<u8> {
    ping().to_vec().unwrap()
}

fn body_section() -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&ping_doc());
    out
}

fn err(frame: &[u8]) -> String {
    decode(frame).expect_err("decoding should fail").to_string()
}

#[test]
fn every_truncation_of_every_valid_message_is_rejected() {
    for full in request_corpus().into_iter().chain(response_corpus()) {
        for len in 0..full.len() {
            let cut = &full[..len];
            assert!(decode(cut).is_err() && decode_response(cut).is_err(), "cut to {len}");
            // The framing check tells the connection to wait for more.
            match frame_length(cut) {
                Ok(None) => assert!(len < 4),
                Ok(Some(n)) => assert_eq!(n, full.len()),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn truncations_with_a_consistent_length_field_are_rejected() {
    // These messages have no valid prefix (no optional trailing section), so
    // every truncation must fail even when the header is patched to match.
    let mut frames = vec![argon_wire::encode_op_msg_request(1, 0, &ping(), &[], None).unwrap()];
    for compressor in COMPRESSORS {
        frames.push(insert_msg(OpMsg::CHECKSUM_PRESENT).encode(1, 0, compressor).unwrap());
        frames.push(hello_query().encode(1, compressor).unwrap());
    }
    for full in frames {
        for len in 0..full.len() {
            let mut cut = full[..len].to_vec();
            fix_length(&mut cut);
            assert!(decode(&cut).is_err(), "cut to {len} of {}", full.len());
        }
    }
    for full in response_corpus() {
        for len in 0..full.len() {
            let mut cut = full[..len].to_vec();
            fix_length(&mut cut);
            assert!(decode_response(&cut).is_err(), "cut to {len} of {}", full.len());
        }
    }
}

#[test]
fn bad_lengths() {
    let good = op_msg(0, &body_section());
    assert_eq!(err(&good[..10]), "message truncated: no room for the 16-byte message header");

    let mut short = good.clone();
    short[..4].copy_from_slice(&le(12));
    assert_eq!(err(&short), "message length 12 is below the 16-byte header");
    assert!(frame_length(&short).is_err());

    let mut negative = good.clone();
    negative[..4].copy_from_slice(&le(-5));
    assert_eq!(err(&negative), "message length -5 is below the 16-byte header");

    let mut long = good.clone();
    long[..4].copy_from_slice(&le(MAX_MESSAGE_BYTES as i32 + 1));
    assert_eq!(err(&long), "message of 48000001 bytes exceeds the 48000000-byte limit");
    assert!(matches!(frame_length(&long), Err(WireError::TooLarge(48_000_001))));

    let mut extra = good.clone();
    extra.push(0);
    assert_eq!(
        err(&extra),
        format!("header declares a {}-byte message but the frame holds {} bytes", good.len(), extra.len())
    );
    assert_eq!(frame_length(&extra).unwrap(), Some(good.len()));
}

#[test]
fn unknown_and_unsupported_opcodes_are_named() {
    assert_eq!(err(&frame(9999, &[0; 8])), "unknown opcode 9999");
    assert_eq!(err(&frame(-1, &[])), "unknown opcode -1");
    for (op, name) in [
        (OP_INSERT, "OP_INSERT"),
        (OP_UPDATE, "OP_UPDATE"),
        (OP_DELETE, "OP_DELETE"),
        (OP_GET_MORE, "OP_GET_MORE"),
        (OP_KILL_CURSORS, "OP_KILL_CURSORS"),
        (OP_REPLY, "OP_REPLY"),
        (2010, "OP_COMMAND"),
        (1000, "legacy OP_MSG"),
    ] {
        assert_eq!(err(&frame(op, &[0; 8])), format!("unsupported opcode {name} ({op})"));
    }
    // The client side rejects requests.
    let query = hello_query().encode(1, None).unwrap();
    assert_eq!(decode_response(&query).unwrap_err().to_string(), "unsupported opcode OP_QUERY (2004)");
    // A wrapped legacy opcode is rejected before anything is decompressed.
    let mut body = le(OP_INSERT).to_vec();
    body.extend_from_slice(&le(1000));
    body.push(Compressor::Zstd.id());
    body.extend_from_slice(b"not zstd at all");
    assert_eq!(err(&frame(OP_COMPRESSED, &body)), "unsupported opcode OP_INSERT (2002)");
}

#[test]
fn bad_section_kinds() {
    for kind in [2u8, 3, 0x80, 0xff] {
        let mut sections = body_section();
        sections.push(kind);
        sections.extend_from_slice(&ping_doc());
        assert_eq!(
            err(&op_msg(0, &sections)),
            format!("OP_MSG section kind {kind} is unknown (expected 0 or 1)")
        );
    }
}

#[test]
fn body_sections_must_appear_exactly_once() {
    assert_eq!(err(&op_msg(0, &[])), "OP_MSG has no body section (kind 0)");
    let sequence = sequence_section(b"documents", &[ping_doc()]);
    assert_eq!(err(&op_msg(0, &sequence)), "OP_MSG has no body section (kind 0)");
    let mut two = body_section();
    two.extend_from_slice(&body_section());
    assert_eq!(err(&op_msg(0, &two)), "OP_MSG has more than one body section (kind 0)");
}

fn sequence_section(identifier: &[u8], docs: &[Vec<u8>]) -> Vec<u8> {
    let mut content = identifier.to_vec();
    content.push(0);
    for doc in docs {
        content.extend_from_slice(doc);
    }
    let mut out = vec![1];
    out.extend_from_slice(&le(content.len() as i32 + 4));
    out.extend_from_slice(&content);
    out
}

#[test]
fn malformed_document_sequences() {
    let with = |section: Vec<u8>| {
        let mut sections = body_section();
        sections.extend_from_slice(&section);
        err(&op_msg(0, &sections))
    };
    let doc = ping_doc();

    let twice = {
        let mut s = sequence_section(b"documents", std::slice::from_ref(&doc));
        s.extend_from_slice(&sequence_section(b"documents", &[]));
        s
    };
    assert_eq!(with(twice), "OP_MSG document sequence \"documents\" appears more than once");
    assert_eq!(
        with(sequence_section(b"", std::slice::from_ref(&doc))),
        "invalid OP_MSG document sequence: empty identifier"
    );
    assert_eq!(
        with(sequence_section(b"\xff\xfe", &[])),
        "invalid OP_MSG document sequence identifier: expected a NUL-terminated UTF-8 string"
    );

    let mut stray = sequence_section(b"documents", std::slice::from_ref(&doc));
    stray.extend_from_slice(&[1, 2]);
    let size = stray.len() as i32 - 1;
    stray[1..5].copy_from_slice(&le(size));
    assert_eq!(
        with(stray),
        "invalid OP_MSG document sequence: 2 stray bytes after the documents of \"documents\""
    );

    for size in [-1, 0, 4] {
        let mut s = sequence_section(b"documents", std::slice::from_ref(&doc));
        s[1..5].copy_from_slice(&le(size));
        assert!(with(s).contains("is too small to hold an identifier"), "size {size}");
    }

    let mut overrun = sequence_section(b"documents", std::slice::from_ref(&doc));
    overrun[1..5].copy_from_slice(&le(i32::MAX));
    assert!(with(overrun).contains("overruns the message"));

    // The identifier's NUL missing inside the declared size.
    let mut unterminated = vec![1];
    unterminated.extend_from_slice(&le(8));
    unterminated.extend_from_slice(b"docs");
    assert!(with(unterminated).contains("identifier"));

    // A document inside a sequence that overruns the sequence.
    let mut bad_doc = sequence_section(b"documents", std::slice::from_ref(&doc));
    let at = 1 + 4 + 10;
    bad_doc[at..at + 4].copy_from_slice(&le(doc.len() as i32 + 1));
    assert!(with(bad_doc).starts_with("invalid BSON in OP_MSG document sequence \"documents\", document 0"));
}

#[test]
fn bad_bson() {
    // Body document length larger than what follows.
    let mut sections = body_section();
    sections[1..5].copy_from_slice(&le(1000));
    assert!(err(&op_msg(0, &sections)).starts_with("invalid BSON in OP_MSG body: document length 1000"));

    // Unknown element type inside the body.
    let mut sections = body_section();
    sections[5] = 0x42;
    assert!(err(&op_msg(0, &sections)).contains("unknown element type 0x42"));

    // Bad UTF-8 in a string value.
    let mut sections = body_section();
    let admin = sections.windows(5).position(|w| w == b"admin").unwrap();
    sections[admin] = 0xff;
    assert!(err(&op_msg(0, &sections)).contains("string is not UTF-8"));

    // Body shorter than the minimal document.
    assert!(err(&op_msg(0, &[0, 4, 0, 0, 0])).starts_with("invalid BSON in OP_MSG body"));

    // OP_QUERY with a broken query and OP_REPLY with a broken document.
    let mut query = hello_query().encode(1, None).unwrap();
    let doc_start = 16 + 4 + 11 + 8;
    query[doc_start + 4] = 0x99;
    assert!(err(&query).starts_with("invalid BSON in OP_QUERY query"));
    let mut reply = hello_reply().encode(1, 2, None).unwrap();
    let doc_start = 16 + 20;
    reply[doc_start + 4] = 0x99;
    assert!(decode_response(&reply)
        .unwrap_err()
        .to_string()
        .starts_with("invalid BSON in OP_REPLY document 0"));
}

#[test]
fn deeply_nested_bson_is_rejected_not_recursed() {
    let depth = 100_000;
    let mut doc = Vec::new();
    for level in (2..=depth).rev() {
        doc.extend_from_slice(&le(5 + 8 * (level as i32 - 1)));
        doc.extend_from_slice(&[0x03, b'a', 0]);
    }
    doc.extend_from_slice(&[5, 0, 0, 0, 0]);
    doc.resize(doc.len() + depth - 1, 0);
    let mut sections = vec![0];
    sections.extend_from_slice(&doc);
    assert_eq!(err(&op_msg(0, &sections)), "BSON in OP_MSG body nests deeper than 200 levels");
}

#[test]
fn documents_above_the_size_limit_are_rejected_both_ways() {
    let mut big = doc! { "insert": "c", "$db": "t" };
    big.insert("pad", "x".repeat(MAX_DOCUMENT_BYTES));
    let bytes = big.to_vec().unwrap();
    let mut sections = vec![0];
    sections.extend_from_slice(&bytes);
    assert_eq!(
        err(&op_msg(0, &sections)),
        format!("OP_MSG body is a {}-byte document, above the 16793600-byte limit", bytes.len())
    );
    let encoded = argon_wire::encode_op_msg(1, 2, 0, &big, None);
    assert!(matches!(encoded, Err(WireError::DocumentTooLarge { size, .. }) if size == bytes.len()));
}

#[test]
fn checksum_mismatch() {
    let good = argon_wire::encode_op_msg_request(1, OpMsg::CHECKSUM_PRESENT, &ping(), &[], None).unwrap();
    decode(&good).unwrap();
    // Any single flipped bit anywhere after the length field is caught.
    for i in 4..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= bit;
            assert!(decode(&bad).is_err(), "flip at byte {i}");
        }
    }
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    assert!(err(&bad).starts_with("OP_MSG checksum mismatch: message carries"));
    // A request id change alters the covered header.
    let mut bad = good.clone();
    bad[4] ^= 1;
    assert!(err(&bad).starts_with("OP_MSG checksum mismatch"));
    // The flag promises a checksum that does not fit.
    assert_eq!(
        err(&op_msg(OpMsg::CHECKSUM_PRESENT, &[0, 0])),
        "message truncated: no room for OP_MSG checksum"
    );
}

#[test]
fn unknown_required_flag_bits() {
    for bit in 2..16 {
        assert_eq!(
            err(&op_msg(1 << bit, &body_section())),
            format!("OP_MSG sets unknown required flag bits {:#06x}", 1u32 << bit)
        );
    }
    // Optional (high) bits are ignored.
    for bit in [17, 24, 31] {
        decode(&op_msg(1 << bit, &body_section())).unwrap();
    }
    let mut short = op_msg(0, &[])[..19].to_vec();
    fix_length(&mut short);
    assert_eq!(err(&short), "message truncated: no room for OP_MSG flagBits");
}

/// An OP_COMPRESSED frame around raw envelope values.
fn compressed(original: i32, declared: i32, id: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = le(original).to_vec();
    body.extend_from_slice(&le(declared));
    body.push(id);
    body.extend_from_slice(payload);
    frame(OP_COMPRESSED, &body)
}

#[test]
fn bad_compression_envelopes() {
    let inner = op_msg(0, &body_section())[16..].to_vec();
    let n = inner.len() as i32;
    decode(&compressed(OP_MSG, n, 0, &inner)).unwrap();

    assert_eq!(err(&compressed(OP_MSG, n, 4, &inner)), "unknown compressor id 4");
    assert_eq!(err(&compressed(OP_MSG, n, 200, &inner)), "unknown compressor id 200");
    assert_eq!(err(&compressed(OP_COMPRESSED, n, 0, &inner)), "OP_COMPRESSED cannot wrap opcode 2012");
    assert_eq!(
        err(&compressed(OP_MSG, -1, 0, &inner)),
        "OP_COMPRESSED declares an invalid uncompressed size -1"
    );
    assert_eq!(
        err(&compressed(OP_MSG, i32::MAX, 0, &inner)),
        format!("message of {} bytes exceeds the 48000000-byte limit", i32::MAX as u64 + 16)
    );
    assert_eq!(
        err(&compressed(OP_MSG, n + 1, 0, &inner)),
        format!("OP_COMPRESSED declares {} uncompressed bytes but the payload decompresses to {n}", n + 1)
    );
    assert!(err(&frame(OP_COMPRESSED, &[0; 8])).contains("OP_COMPRESSED compressorId"));
    // A nested envelope inside a valid envelope.
    let nested = compressed(OP_MSG, n, 0, &inner);
    assert_eq!(
        err(&compressed(OP_COMPRESSED, nested.len() as i32 - 16, 0, &nested[16..])),
        "OP_COMPRESSED cannot wrap opcode 2012"
    );
    // Corrupt payloads.
    for id in 1..=3 {
        let e = err(&compressed(OP_MSG, n, id, b"\xff\xff\xff\xff garbage"));
        assert!(e.contains("decompression failed") || e.contains("OP_COMPRESSED declares"), "{id}: {e}");
    }
}

#[test]
fn decompression_bombs_are_stopped_at_the_declared_size() {
    // 40 MB of zeros compresses to a few kilobytes (snappy: under 2 MB).
    let plain = argon_wire::encode_op_msg_request(1, 0, &doc! { "ping": 1 }, &[], None).unwrap();
    let zeros = vec![0u8; 40_000_000];
    let body = &zeros[..];
    for c in [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
        let payload = c.compress(body).unwrap();
        assert!(payload.len() < 3_000_000, "{c}: {}", payload.len());
        // The envelope claims the size of a tiny message.
        let lie = (plain.len() - 16) as i32;
        let e = err(&compressed(OP_MSG, lie, c.id(), &payload));
        assert!(e.starts_with(&format!("OP_COMPRESSED declares {lie} uncompressed bytes")), "{c}: {e}");
        // Or claims more than it holds.
        let e = err(&compressed(OP_MSG, body.len() as i32 + 10, c.id(), &payload));
        assert!(e.starts_with("OP_COMPRESSED declares"), "{c}: {e}");
    }
}

#[test]
fn peek_header_serves_error_replies_after_a_failed_decode() {
    let mut bad = op_msg(0, &body_section());
    bad[4..8].copy_from_slice(&le(4242));
    bad[20] = 9; // unknown section kind
    assert!(decode(&bad).is_err());
    assert_eq!(peek_header(&bad).unwrap().request_id, 4242);
}

#[test]
fn op_query_shapes() {
    let query = hello_query().encode(1, None).unwrap();
    // Namespace without its NUL (the rest of the message is consumed looking for it).
    let mut body = le(0).to_vec();
    body.extend_from_slice(b"admin.$cmd");
    assert!(err(&frame(OP_QUERY, &body)).contains("OP_QUERY fullCollectionName"));
    // Trailing garbage after an optional selector.
    let mut extra = query.clone();
    extra.extend_from_slice(&[5, 0, 0, 0, 0, 7]);
    fix_length(&mut extra);
    assert!(err(&extra).contains("trailing bytes after OP_QUERY returnFieldsSelector"));
}
