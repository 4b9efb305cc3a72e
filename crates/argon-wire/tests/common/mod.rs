//! Sample messages and independent reference implementations shared by the
//! integration tests.

#![allow(dead_code)]

use argon_wire::{Compressor, DocumentSequence, OpMsg, OpQuery, OpReply};
use bson::{doc, Document};

/// Every compressor choice, including none.
pub const COMPRESSORS: [Option<Compressor>; 5] =
    [None, Some(Compressor::Noop), Some(Compressor::Snappy), Some(Compressor::Zlib), Some(Compressor::Zstd)];

pub fn ping() -> Document {
    doc! { "ping": 1, "$db": "admin" }
}

pub fn insert_msg(flag_bits: u32) -> OpMsg {
    OpMsg {
        flag_bits,
        body: doc! { "insert": "people", "ordered": true, "$db": "test" },
        sequences: vec![DocumentSequence::new(
            "documents",
            (0..20).map(|i| doc! { "_id": i, "name": format!("person {i}"), "tags": ["a", "b"] }).collect(),
        )],
    }
}

pub fn update_msg(flag_bits: u32) -> OpMsg {
    OpMsg {
        flag_bits,
        body: doc! { "update": "people", "$db": "test" },
        sequences: vec![
            DocumentSequence::new("updates", vec![doc! { "q": { "_id": 1 }, "u": { "$set": { "x": 2 } } }]),
            DocumentSequence::new("empty", vec![]),
        ],
    }
}

pub fn hello_query() -> OpQuery {
    OpQuery::command(
        "admin",
        doc! {
            "$query": { "isMaster": 1, "client": { "driver": { "name": "test", "version": "1" } }, "compression": ["zstd", "snappy"] },
            "$readPreference": { "mode": "primaryPreferred" },
        },
    )
}

pub fn hello_reply() -> OpReply {
    OpReply::command_reply(doc! {
        "ismaster": true,
        "maxBsonObjectSize": 16_777_216,
        "maxMessageSizeBytes": 48_000_000,
        "compression": ["zstd", "snappy"],
        "ok": 1.0,
    })
}

/// Valid request frames of every kind, flag and compressor.
pub fn request_corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for compressor in COMPRESSORS {
        for flags in [0, OpMsg::CHECKSUM_PRESENT] {
            out.push(argon_wire::encode_op_msg_request(1, flags, &ping(), &[], compressor).unwrap());
            out.push(insert_msg(flags).encode(2, 0, compressor).unwrap());
            out.push(update_msg(flags | OpMsg::MORE_TO_COME).encode(3, 0, compressor).unwrap());
        }
        out.push(hello_query().encode(4, compressor).unwrap());
    }
    out
}

/// Valid response frames of every kind and compressor.
pub fn response_corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for compressor in COMPRESSORS {
        out.push(
            argon_wire::encode_op_msg(1, 2, OpMsg::CHECKSUM_PRESENT, &doc! { "ok": 1.0 }, compressor)
                .unwrap(),
        );
        out.push(hello_reply().encode(3, 4, compressor).unwrap());
    }
    out
}

/// Sets the header's messageLength to the frame's actual length, so that a
/// mutated frame gets past the framing check and reaches the parsers.
pub fn fix_length(frame: &mut [u8]) {
    if frame.len() >= 4 {
        let len = frame.len() as i32;
        frame[..4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Bit-by-bit CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), written
/// from the definition so checksums are not checked against themselves.
pub fn crc32c_reference(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// Adler-32 from RFC 1950.
pub fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + byte as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Little-endian bytes of an i32, for building frames by hand.
pub fn le(v: i32) -> [u8; 4] {
    v.to_le_bytes()
}
