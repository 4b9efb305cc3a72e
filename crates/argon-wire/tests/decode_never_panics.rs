//! Property tests: arbitrary bytes and random mutations of valid messages
//! never make a decoder panic, and whatever does decode re-encodes to a
//! message that decodes to the same value.

mod common;

use argon_wire::{
    decode, decode_response, frame_length, Decoded, DecodedResponse, Request, Response, OP_COMPRESSED,
    OP_MSG, OP_QUERY, OP_REPLY,
};
use common::*;
use proptest::prelude::*;

fn reencode_request(decoded: &Decoded) -> Vec<u8> {
    let h = decoded.header;
    match &decoded.request {
        Request::Msg(msg) => msg.encode(h.request_id, h.response_to, decoded.compressor),
        Request::Query(query) => query.encode(h.request_id, decoded.compressor),
    }
    .expect("a decoded request re-encodes")
}

fn reencode_response(decoded: &DecodedResponse) -> Vec<u8> {
    let h = decoded.header;
    match &decoded.response {
        Response::Msg(msg) => msg.encode(h.request_id, h.response_to, decoded.compressor),
        Response::Reply(reply) => reply.encode(h.request_id, h.response_to, decoded.compressor),
    }
    .expect("a decoded response re-encodes")
}

/// Runs every entry point on `frame`. What decodes must re-encode, and the
/// re-encoding must be a fixed point (bytes, not values, are compared, so a
/// mutated NaN does not spoil equality). Returns whether either decoder
/// accepted the frame.
fn exercise(frame: &[u8]) -> bool {
    let _ = frame_length(frame);
    let _ = argon_wire::peek_header(frame);
    let mut accepted = false;
    if let Ok(decoded) = decode(frame) {
        accepted = true;
        let again = reencode_request(&decoded);
        assert_eq!(reencode_request(&decode(&again).expect("a re-encoded request decodes")), again);
        let _ = decoded.request.into_command();
    }
    if let Ok(decoded) = decode_response(frame) {
        accepted = true;
        let again = reencode_response(&decoded);
        assert_eq!(
            reencode_response(&decode_response(&again).expect("a re-encoded response decodes")),
            again
        );
    }
    accepted
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
    /// Overwrite four bytes with a suspicious int32 (a length or a count).
    Int(usize, i32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(0i32),
        Just(-1),
        Just(4),
        Just(5),
        Just(16),
        Just(i32::MAX),
        Just(i32::MIN),
        Just(48_000_000),
        any::<i32>()
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), interesting).prop_map(|(i, v)| Mutation::Int(i, v)),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    if frame.is_empty() {
        return;
    }
    let n = frame.len();
    match *m {
        Mutation::Set(i, b) => frame[i % n] = b,
        Mutation::Flip(i, bit) => frame[i % n] ^= 1 << bit,
        Mutation::Insert(i, b) => frame.insert(i % (n + 1), b),
        Mutation::Remove(i) => {
            frame.remove(i % n);
        }
        Mutation::Truncate(i) => frame.truncate(i % n),
        Mutation::Int(i, v) => {
            if n >= 4 {
                let at = i % (n - 3);
                frame[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// Every valid sample frame, built once.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut all = request_corpus();
        all.extend(response_corpus());
        all
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = exercise(&bytes);
    }

    #[test]
    fn arbitrary_bodies_behind_a_valid_header(
        op_code in prop_oneof![Just(OP_MSG), Just(OP_QUERY), Just(OP_REPLY), Just(OP_COMPRESSED), any::<i32>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut frame = vec![0u8; 16];
        frame[12..16].copy_from_slice(&op_code.to_le_bytes());
        frame.extend_from_slice(&body);
        fix_length(&mut frame);
        let _ = exercise(&frame);
    }

    #[test]
    fn mutated_valid_messages(
        pick in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        keep_length_consistent in any::<bool>(),
    ) {
        let corpus = corpus();
        let mut frame = corpus[pick.index(corpus.len())].clone();
        for m in &mutations {
            apply(&mut frame, m);
        }
        if keep_length_consistent {
            fix_length(&mut frame);
        }
        let _ = exercise(&frame);
    }
}

/// Every single-byte change of every valid message, exhaustively: a
/// deterministic complement to the random search above.
#[test]
fn every_single_byte_change_of_small_messages() {
    let small: Vec<&Vec<u8>> = corpus().iter().filter(|f| f.len() <= 200).collect();
    assert!(small.len() >= 10, "the corpus should hold small messages");
    let (mut tried, mut accepted) = (0, 0);
    for frame in small {
        for i in 0..frame.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff, frame[i] ^ 0x01, frame[i] ^ 0x40] {
                let mut mutated = frame.clone();
                mutated[i] = value;
                tried += 1;
                if exercise(&mutated) {
                    accepted += 1;
                }
            }
        }
    }
    // Some changes (inside strings, numbers, ids) leave a valid message, so
    // the re-encoding property above is exercised, not vacuous.
    assert!(accepted > tried / 20, "{accepted} of {tried} mutations decoded");
    assert!(accepted < tried, "every mutation decoded");
}
