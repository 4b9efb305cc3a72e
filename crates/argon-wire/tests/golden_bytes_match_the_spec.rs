//! Messages built byte by byte from the wire protocol documentation, the
//! OP_MSG spec and the OP_COMPRESSED spec: decoding them gives the expected
//! values, and encoding those values gives exactly these bytes. Compressed
//! payloads are hand-made too (a snappy literal, a zlib stored block, a zstd
//! raw block), so no compressor is tested only against itself.

mod common;

use argon_wire::{
    decode, decode_response, encode_op_msg, encode_op_msg_request, encode_op_reply, Compressor,
    DocumentSequence, MsgHeader, OpMsg, OpQuery, OpReply, Request, Response, OP_MSG, OP_QUERY,
};
use bson::doc;
use common::*;

/// `{ping: 1, $db: "admin"}`: 30 bytes.
const PING_DOC: [u8; 30] = [
    0x1e, 0x00, 0x00, 0x00, // document length 30
    0x10, b'p', b'i', b'n', b'g', 0x00, 0x01, 0x00, 0x00, 0x00, // int32 "ping": 1
    0x02, b'$', b'd', b'b', 0x00, 0x06, 0x00, 0x00, 0x00, b'a', b'd', b'm', b'i', b'n',
    0x00, // string "$db"
    0x00, // end of document
];

/// The OP_MSG body after the header: flagBits 0, section kind 0, the ping document.
fn ping_body() -> Vec<u8> {
    let mut body = vec![0x00, 0x00, 0x00, 0x00, 0x00];
    body.extend_from_slice(&PING_DOC);
    body
}

fn header(len: usize, request_id: i32, response_to: i32, op_code: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&le(len as i32));
    out.extend_from_slice(&le(request_id));
    out.extend_from_slice(&le(response_to));
    out.extend_from_slice(&le(op_code));
    out
}

fn ping_frame() -> Vec<u8> {
    let mut frame = header(51, 1, 0, OP_MSG);
    frame.extend_from_slice(&ping_body());
    frame
}

#[test]
fn minimal_op_msg_ping() {
    let frame = ping_frame();
    #[rustfmt::skip]
    let expected_head = [
        0x33, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // length 51, requestID 1
        0x00, 0x00, 0x00, 0x00, 0xdd, 0x07, 0x00, 0x00, // responseTo 0, opCode 2013
    ];
    assert_eq!(frame[..16], expected_head);
    assert_eq!(frame.len(), 51);

    let decoded = decode(&frame).unwrap();
    assert_eq!(
        decoded.header,
        MsgHeader { message_length: 51, request_id: 1, response_to: 0, op_code: OP_MSG }
    );
    assert_eq!(decoded.compressor, None);
    assert_eq!(decoded.request, Request::Msg(OpMsg::new(doc! { "ping": 1, "$db": "admin" })));

    assert_eq!(encode_op_msg_request(1, 0, &ping(), &[], None).unwrap(), frame);
}

#[test]
fn crc32c_reference_matches_the_standard_check_value() {
    assert_eq!(crc32c_reference(b"123456789"), 0xE306_9283);
}

#[test]
fn op_msg_with_checksum() {
    let mut frame = header(55, 1, 0, OP_MSG);
    frame.extend_from_slice(&ping_body());
    frame[16] = 0x01; // checksumPresent
    let crc = crc32c_reference(&frame);
    frame.extend_from_slice(&crc.to_le_bytes());

    let decoded = decode(&frame).unwrap();
    let Request::Msg(msg) = decoded.request else { panic!("not OP_MSG") };
    assert!(msg.checksum_present());
    assert_eq!(msg.body, ping());
    assert_eq!(encode_op_msg_request(1, OpMsg::CHECKSUM_PRESENT, &ping(), &[], None).unwrap(), frame);
}

/// `{insert: "c", $db: "t"}` with a `documents` sequence holding `{_id: 1}`.
fn insert_sections() -> (Vec<u8>, Vec<u8>) {
    #[rustfmt::skip]
    let body = vec![
        0x00, // kind 0
        0x1e, 0x00, 0x00, 0x00,
        0x02, b'i', b'n', b's', b'e', b'r', b't', 0x00, 0x02, 0x00, 0x00, 0x00, b'c', 0x00,
        0x02, b'$', b'd', b'b', 0x00, 0x02, 0x00, 0x00, 0x00, b't', 0x00,
        0x00,
    ];
    #[rustfmt::skip]
    let sequence = vec![
        0x01, // kind 1
        0x1c, 0x00, 0x00, 0x00, // size 28 = 4 + 10 + 14
        b'd', b'o', b'c', b'u', b'm', b'e', b'n', b't', b's', 0x00,
        0x0e, 0x00, 0x00, 0x00, 0x10, b'_', b'i', b'd', 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    ];
    (body, sequence)
}

#[test]
fn op_msg_with_a_document_sequence_in_either_order() {
    let (body, sequence) = insert_sections();
    let expected = OpMsg {
        flag_bits: 0,
        body: doc! { "insert": "c", "$db": "t" },
        sequences: vec![DocumentSequence::new("documents", vec![doc! { "_id": 1 }])],
    };
    let mut frame = header(80, 3, 0, OP_MSG);
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&body);
    frame.extend_from_slice(&sequence);
    assert_eq!(frame.len(), 80);
    assert_eq!(decode(&frame).unwrap().request, Request::Msg(expected.clone()));
    assert_eq!(expected.encode(3, 0, None).unwrap(), frame);

    // The spec allows the sequence before the body.
    let mut reordered = header(80, 3, 0, OP_MSG);
    reordered.extend_from_slice(&[0, 0, 0, 0]);
    reordered.extend_from_slice(&sequence);
    reordered.extend_from_slice(&body);
    assert_eq!(decode(&reordered).unwrap().request, Request::Msg(expected));
}

#[test]
fn legacy_is_master_over_op_query() {
    let mut frame = header(58, 7, 0, OP_QUERY);
    frame.extend_from_slice(&[0, 0, 0, 0]); // flags
    frame.extend_from_slice(b"admin.$cmd\0");
    frame.extend_from_slice(&le(0)); // numberToSkip
    frame.extend_from_slice(&le(-1)); // numberToReturn
    #[rustfmt::skip]
    frame.extend_from_slice(&[
        0x13, 0x00, 0x00, 0x00,
        0x10, b'i', b's', b'M', b'a', b's', b't', b'e', b'r', 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00,
    ]);
    assert_eq!(frame.len(), 58);
    let expected = OpQuery::command("admin", doc! { "isMaster": 1 });
    assert_eq!(decode(&frame).unwrap().request, Request::Query(expected.clone()));
    assert_eq!(expected.encode(7, None).unwrap(), frame);
}

#[test]
fn op_reply_to_the_handshake() {
    let mut frame = header(53, 2, 7, 1);
    frame.extend_from_slice(&le(8)); // responseFlags: AwaitCapable
    frame.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    frame.extend_from_slice(&le(0)); // startingFrom
    frame.extend_from_slice(&le(1)); // numberReturned
    #[rustfmt::skip]
    frame.extend_from_slice(&[
        0x11, 0x00, 0x00, 0x00,
        0x01, b'o', b'k', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, // double ok: 1.0
        0x00,
    ]);
    assert_eq!(frame.len(), 53);
    let expected = OpReply::command_reply(doc! { "ok": 1.0 });
    assert_eq!(decode_response(&frame).unwrap().response, Response::Reply(expected.clone()));
    assert_eq!(
        encode_op_reply(2, 7, OpReply::AWAIT_CAPABLE, 0, 0, &[doc! { "ok": 1.0 }], None).unwrap(),
        frame
    );
}

/// OP_COMPRESSED around the ping: header, originalOpcode, uncompressedSize 35, id, payload.
fn compressed_ping(compressor_id: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = header(16 + 9 + payload.len(), 1, 0, 2012);
    frame.extend_from_slice(&le(OP_MSG));
    frame.extend_from_slice(&le(35));
    frame.push(compressor_id);
    frame.extend_from_slice(payload);
    frame
}

fn assert_decodes_to_ping(frame: &[u8], compressor: Compressor) {
    let decoded = decode(frame).unwrap();
    assert_eq!(decoded.compressor, Some(compressor));
    assert_eq!(decoded.header, MsgHeader::parse(&ping_frame()).unwrap());
    assert_eq!(decoded.request, Request::Msg(OpMsg::new(ping())), "{compressor}");
}

#[test]
fn op_compressed_noop() {
    let frame = compressed_ping(0, &ping_body());
    assert_decodes_to_ping(&frame, Compressor::Noop);
    assert_eq!(encode_op_msg_request(1, 0, &ping(), &[], Some(Compressor::Noop)).unwrap(), frame);
}

#[test]
fn op_compressed_snappy_literal() {
    // Raw snappy: varint uncompressed length 35, literal tag (35-1)<<2, the bytes.
    let mut payload = vec![35, 34 << 2];
    payload.extend_from_slice(&ping_body());
    assert_decodes_to_ping(&compressed_ping(1, &payload), Compressor::Snappy);
}

#[test]
fn op_compressed_zlib_stored_block() {
    // zlib header 78 01, one final stored block (LEN, NLEN), Adler-32 big-endian.
    let body = ping_body();
    let mut payload = vec![0x78, 0x01, 0x01];
    payload.extend_from_slice(&35u16.to_le_bytes());
    payload.extend_from_slice(&(!35u16).to_le_bytes());
    payload.extend_from_slice(&body);
    payload.extend_from_slice(&adler32(&body).to_be_bytes());
    assert_decodes_to_ping(&compressed_ping(2, &payload), Compressor::Zlib);

    // A wrong Adler-32 is caught.
    let last = payload.len() - 1;
    payload[last] ^= 1;
    assert!(decode(&compressed_ping(2, &payload)).is_err());
}

#[test]
fn op_compressed_zstd_raw_block() {
    // Magic, frame header (single segment, 1-byte content size 35), one last
    // raw block of 35 bytes: block header = 1 | (0 << 1) | (35 << 3).
    let mut payload = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, 35];
    let block_header = 1u32 | (35 << 3);
    payload.extend_from_slice(&block_header.to_le_bytes()[..3]);
    payload.extend_from_slice(&ping_body());
    assert_decodes_to_ping(&compressed_ping(3, &payload), Compressor::Zstd);
}

#[test]
fn op_msg_reply_encoding_is_exact() {
    let frame = encode_op_msg(5, 1, 0, &doc! { "ok": 1.0 }, None).unwrap();
    let mut expected = header(38, 5, 1, OP_MSG);
    expected.extend_from_slice(&[0, 0, 0, 0, 0]);
    #[rustfmt::skip]
    expected.extend_from_slice(&[
        0x11, 0x00, 0x00, 0x00,
        0x01, b'o', b'k', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,
        0x00,
    ]);
    assert_eq!(frame, expected);
}
