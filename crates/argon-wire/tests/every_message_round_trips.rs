//! Encoding then decoding gives back the same message, for every message
//! kind, every compressor, with and without checksum and document sequences.

mod common;

use argon_wire::{
    decode, decode_response, encode_op_msg, encode_op_msg_request, encode_op_query, encode_op_reply,
    frame_length, Compressor, DocumentSequence, OpMsg, Request, Response, WireError, HEADER_LEN,
    MAX_DOCUMENT_BYTES, MAX_MESSAGE_BYTES, OP_COMPRESSED, OP_MSG, OP_QUERY, OP_REPLY,
};
use bson::{doc, spec::BinarySubtype, Binary, Document};
use common::*;

fn outer_opcode(frame: &[u8]) -> i32 {
    i32::from_le_bytes(frame[12..16].try_into().unwrap())
}

fn check_framing(frame: &[u8], compressor: Option<Compressor>) {
    assert_eq!(frame_length(frame).unwrap(), Some(frame.len()));
    let expected_outer = if compressor.is_some() { OP_COMPRESSED } else { outer_opcode(frame) };
    assert_eq!(outer_opcode(frame), expected_outer);
}

#[test]
fn op_msg_requests_round_trip() {
    for compressor in COMPRESSORS {
        for checksum in [0, OpMsg::CHECKSUM_PRESENT] {
            for msg in [
                OpMsg { flag_bits: checksum, ..OpMsg::new(ping()) },
                insert_msg(checksum),
                update_msg(checksum | OpMsg::MORE_TO_COME | OpMsg::EXHAUST_ALLOWED),
            ] {
                let frame =
                    encode_op_msg_request(77, msg.flag_bits, &msg.body, &msg.sequences, compressor).unwrap();
                check_framing(&frame, compressor);
                assert_eq!(frame, msg.encode(77, 0, compressor).unwrap());
                let decoded = decode(&frame).unwrap();
                assert_eq!(decoded.compressor, compressor, "{compressor:?}");
                assert_eq!(decoded.header.request_id, 77);
                assert_eq!(decoded.header.response_to, 0);
                assert_eq!(decoded.header.op_code, OP_MSG);
                if compressor.is_none() {
                    assert_eq!(decoded.header.message_length as usize, frame.len());
                }
                assert_eq!(decoded.request, Request::Msg(msg.clone()), "{compressor:?} checksum={checksum}");
            }
        }
    }
}

#[test]
fn the_logical_header_of_a_compressed_message_is_the_uncompressed_one() {
    let msg = insert_msg(OpMsg::CHECKSUM_PRESENT);
    let plain = msg.encode(5, 0, None).unwrap();
    for compressor in [Compressor::Noop, Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
        let frame = msg.encode(5, 0, Some(compressor)).unwrap();
        assert_eq!(decode(&frame).unwrap().header, decode(&plain).unwrap().header, "{compressor}");
    }
}

#[test]
fn op_msg_replies_round_trip() {
    let body = doc! { "cursor": { "firstBatch": [{ "a": 1 }], "id": 0i64, "ns": "test.c" }, "ok": 1.0 };
    for compressor in COMPRESSORS {
        for flags in [0, OpMsg::CHECKSUM_PRESENT, OpMsg::MORE_TO_COME] {
            let frame = encode_op_msg(9, 77, flags, &body, compressor).unwrap();
            check_framing(&frame, compressor);
            let decoded = decode_response(&frame).unwrap();
            assert_eq!(decoded.header.request_id, 9);
            assert_eq!(decoded.header.response_to, 77);
            assert_eq!(decoded.compressor, compressor);
            assert_eq!(
                decoded.response,
                Response::Msg(OpMsg { flag_bits: flags, body: body.clone(), sequences: vec![] })
            );
        }
    }
}

#[test]
fn op_query_round_trips() {
    for compressor in COMPRESSORS {
        for with_selector in [false, true] {
            let mut query = hello_query();
            if with_selector {
                query.return_fields_selector = Some(doc! { "ismaster": 1 });
            }
            let frame = encode_op_query(12, &query, compressor).unwrap();
            check_framing(&frame, compressor);
            let decoded = decode(&frame).unwrap();
            assert_eq!(decoded.header.op_code, OP_QUERY);
            assert_eq!(decoded.header.request_id, 12);
            assert_eq!(decoded.compressor, compressor);
            assert_eq!(decoded.request, Request::Query(query));
        }
    }
}

#[test]
fn op_reply_round_trips() {
    for compressor in COMPRESSORS {
        let reply = hello_reply();
        let frame = encode_op_reply(
            3,
            12,
            reply.response_flags,
            reply.cursor_id,
            reply.starting_from,
            &reply.documents,
            compressor,
        )
        .unwrap();
        check_framing(&frame, compressor);
        assert_eq!(frame, reply.encode(3, 12, compressor).unwrap());
        let decoded = decode_response(&frame).unwrap();
        assert_eq!(decoded.header.op_code, OP_REPLY);
        assert_eq!(decoded.header.response_to, 12);
        assert_eq!(decoded.compressor, compressor);
        assert_eq!(decoded.response, Response::Reply(reply));
    }
}

#[test]
fn a_legacy_handshake_becomes_an_op_msg_style_command() {
    let decoded = decode(&hello_query().encode(1, None).unwrap()).unwrap();
    assert_eq!(decoded.request.command_name(), Some("isMaster"));
    let command = decoded.request.into_command().unwrap();
    assert_eq!(command.keys().next().map(String::as_str), Some("isMaster"));
    assert_eq!(command.get_str("$db").unwrap(), "admin");
    assert_eq!(command.get_document("$readPreference").unwrap(), &doc! { "mode": "primaryPreferred" });
    let names: Vec<String> =
        command.get_array("compression").unwrap().iter().map(|b| b.as_str().unwrap().to_string()).collect();
    let server = [Compressor::Snappy, Compressor::Zlib];
    assert_eq!(Compressor::negotiate(&names, &server), ["snappy"]);
}

#[test]
fn an_insert_with_a_sequence_becomes_one_command() {
    let decoded = decode(&insert_msg(0).encode(1, 0, Some(Compressor::Zstd)).unwrap()).unwrap();
    assert_eq!(decoded.request.command_name(), Some("insert"));
    let command = decoded.request.into_command().unwrap();
    assert_eq!(command.get_array("documents").unwrap().len(), 20);
    assert_eq!(command.get_str("$db").unwrap(), "test");
}

fn big_binary(len: usize) -> Document {
    // xorshift noise: incompressible.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    doc! { "b": Binary { subtype: BinarySubtype::Generic, bytes } }
}

/// Overhead of an OP_MSG request holding `ping()` and one sequence "d" of
/// three `{b: <binary>}` documents: header, flags, body section, sequence
/// section header, and per document (length, type, key "b", binary length,
/// subtype, terminator).
fn request_overhead() -> usize {
    let body = ping().to_vec().unwrap().len();
    HEADER_LEN + 4 + 1 + body + 1 + 4 + 2 + 3 * (4 + 1 + 2 + 4 + 1 + 1)
}

fn three_blobs(total: usize) -> Vec<DocumentSequence> {
    let each = total / 3;
    let docs = vec![big_binary(each), big_binary(each), big_binary(total - 2 * each)];
    vec![DocumentSequence::new("d", docs)]
}

#[test]
fn a_message_of_exactly_the_limit_is_sent_and_incompressible_ones_go_uncompressed() {
    let sequences = three_blobs(MAX_MESSAGE_BYTES - request_overhead());
    for compressor in [None, Some(Compressor::Snappy)] {
        let frame = encode_op_msg_request(1, 0, &ping(), &sequences, compressor).unwrap();
        assert_eq!(frame.len(), MAX_MESSAGE_BYTES);
        // Snappy cannot shrink noise, and the compressed frame would pass
        // the limit, so the message falls back to uncompressed.
        assert_eq!(outer_opcode(&frame), OP_MSG);
        let decoded = decode(&frame).unwrap();
        assert_eq!(decoded.compressor, None);
        let Request::Msg(msg) = decoded.request else { panic!("not OP_MSG") };
        assert_eq!(msg.sequences, sequences);
    }
}

#[test]
fn a_message_over_the_limit_is_refused_not_truncated() {
    let sequences = three_blobs(MAX_MESSAGE_BYTES - request_overhead() + 1);
    let Err(err) = encode_op_msg_request(1, 0, &ping(), &sequences, Some(Compressor::Zstd)) else {
        panic!("an oversized message was encoded");
    };
    assert_eq!(err.to_string(), "message of 48000001 bytes exceeds the 48000000-byte limit");
    // A checksum counts towards the limit.
    let sequences = three_blobs(MAX_MESSAGE_BYTES - request_overhead() - 3);
    assert!(encode_op_msg_request(1, 0, &ping(), &sequences, None).is_ok());
    assert!(matches!(
        encode_op_msg_request(1, OpMsg::CHECKSUM_PRESENT, &ping(), &sequences, None),
        Err(WireError::TooLarge(48_000_001))
    ));
}

#[test]
fn a_reply_document_over_the_size_limit_is_refused() {
    let big = big_binary(MAX_DOCUMENT_BYTES);
    let Err(err) = encode_op_msg(1, 2, 0, &big, None) else { panic!("an oversized body was encoded") };
    assert!(err.to_string().starts_with("OP_MSG body is a 16793613-byte document"), "{err}");
    let Err(err) = encode_op_reply(1, 2, 0, 0, 0, &[big], None) else {
        panic!("an oversized document was encoded")
    };
    assert!(err.to_string().starts_with("OP_REPLY document 0 is a"), "{err}");
}

#[test]
fn oversized_sequences_and_replies_error_instead_of_panicking() {
    let chunk = big_binary(1_000_000);
    let many: Vec<Document> = (0..49).map(|_| chunk.clone()).collect();
    let err = encode_op_msg_request(1, 0, &ping(), &[DocumentSequence::new("documents", many.clone())], None);
    assert!(matches!(err, Err(WireError::TooLarge(_))));
    let err = encode_op_reply(1, 2, 0, 0, 0, &many, None);
    assert!(matches!(err, Err(WireError::TooLarge(_))));
}

#[test]
fn unserializable_documents_are_encode_errors() {
    let mut bad = Document::new();
    bad.insert("nul\0key", 1);
    let err = encode_op_msg(1, 2, 0, &bad, None).unwrap_err();
    assert!(err.to_string().starts_with("cannot encode OP_MSG body as BSON"), "{err}");
    let err = encode_op_reply(1, 2, 0, 0, 0, &[doc! {}, bad], None).unwrap_err();
    assert!(err.to_string().starts_with("cannot encode OP_REPLY document 1 as BSON"), "{err}");
}

/// `plain_op_msg` reads a body and at most one document sequence in place,
/// exactly as `decode` would, and declines anything else.
#[test]
fn plain_op_msgs_are_read_in_place_and_others_declined() {
    use argon_wire::plain_op_msg;
    let body = doc! { "insert": "c", "$db": "app" };
    let docs = vec![doc! {"_id": 1, "x": "y"}, doc! {"_id": 2}];

    let frame = encode_op_msg_request(9, 0, &body, &[], None).unwrap();
    let msg = plain_op_msg(&frame).expect("body only");
    assert_eq!((msg.header.request_id, msg.sequence.is_none()), (9, true));
    assert_eq!(Document::try_from(msg.body).unwrap(), body);

    let one = [DocumentSequence::new("documents", docs.clone())];
    let frame = encode_op_msg_request(10, 0, &body, &one, None).unwrap();
    let msg = plain_op_msg(&frame).expect("body and one sequence");
    assert_eq!(Document::try_from(msg.body).unwrap(), body);
    let (id, seq) = msg.sequence.expect("sequence");
    assert_eq!(id, "documents");
    let seq: Vec<Document> = seq.into_iter().map(|d| Document::try_from(d).unwrap()).collect();
    assert_eq!(seq, docs);

    // Declined: two sequences, any flag bit, a compressed frame, a cut frame.
    let two = [DocumentSequence::new("documents", docs.clone()), DocumentSequence::new("more", docs.clone())];
    assert!(plain_op_msg(&encode_op_msg_request(11, 0, &body, &two, None).unwrap()).is_none());
    assert!(plain_op_msg(&encode_op_msg_request(12, OpMsg::CHECKSUM_PRESENT, &body, &one, None).unwrap())
        .is_none());
    let noop = encode_op_msg_request(13, 0, &body, &one, Some(Compressor::Noop)).unwrap();
    assert_eq!(outer_opcode(&noop), OP_COMPRESSED);
    assert!(plain_op_msg(&noop).is_none());
    let mut cut = encode_op_msg_request(14, 0, &body, &one, None).unwrap();
    cut.truncate(cut.len() - 3);
    let len = cut.len() as i32;
    cut[..4].copy_from_slice(&len.to_le_bytes());
    assert!(plain_op_msg(&cut).is_none());
}
