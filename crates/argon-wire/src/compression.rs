//! Compressors of the OP_COMPRESSED spec, their negotiation, and bounded
//! decompression.
//!
//! | id | name   | format                                   |
//! |----|--------|------------------------------------------|
//! | 0  | noop   | the bytes as they are (testing only)     |
//! | 1  | snappy | raw snappy block (not the framed format) |
//! | 2  | zlib   | zlib stream (RFC 1950), as `compress2`   |
//! | 3  | zstd   | one zstd frame                           |
//!
//! Decompression never trusts the declared `uncompressedSize` for more than
//! an upper bound: output is capped at the declared size plus one byte, and
//! any difference is an error, so a small message cannot make the server
//! inflate or allocate more than [`crate::MAX_MESSAGE_BYTES`].

use std::fmt;
use std::io::{Read, Write};

use crate::error::WireError;

/// A wire compression algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compressor {
    /// Id 0: no compression inside an OP_COMPRESSED envelope; for testing.
    Noop,
    /// Id 1: raw snappy.
    Snappy,
    /// Id 2: zlib.
    Zlib,
    /// Id 3: Zstandard.
    Zstd,
}

/// zlib level used for outgoing messages (zlib's own default).
const ZLIB_LEVEL: u32 = 6;
/// zstd level used for outgoing messages (zstd's own default, as mongod uses).
const ZSTD_LEVEL: i32 = 3;
/// Largest zstd window accepted when decompressing: 2^26 = 64 MiB, above any
/// legal message, so well-formed frames always decode while a hostile frame
/// cannot ask for the library's larger default.
const ZSTD_WINDOW_LOG_MAX: u32 = 26;
/// Snappy cannot expand more than 64 output bytes per 3 input bytes (a
/// copy element with a 2-byte offset), so a declared size beyond this ratio
/// is a lie and is rejected before any buffer is allocated.
const SNAPPY_MAX_RATIO: usize = 22;

impl Compressor {
    /// Every compressor Argon implements, in the order a server prefers them.
    pub const ALL: [Compressor; 4] =
        [Compressor::Snappy, Compressor::Zstd, Compressor::Zlib, Compressor::Noop];

    /// The id written in OP_COMPRESSED's `compressorId`.
    pub fn id(self) -> u8 {
        match self {
            Compressor::Noop => 0,
            Compressor::Snappy => 1,
            Compressor::Zlib => 2,
            Compressor::Zstd => 3,
        }
    }

    /// The compressor with this id; ids 4..=255 are reserved.
    pub fn from_id(id: u8) -> Option<Compressor> {
        Some(match id {
            0 => Compressor::Noop,
            1 => Compressor::Snappy,
            2 => Compressor::Zlib,
            3 => Compressor::Zstd,
            _ => return None,
        })
    }

    /// The name used in the handshake's `compression` array and in
    /// `compressors=` connection-string options.
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Noop => "noop",
            Compressor::Snappy => "snappy",
            Compressor::Zlib => "zlib",
            Compressor::Zstd => "zstd",
        }
    }

    /// Parses a handshake name (exact, lowercase, as drivers send it).
    pub fn from_name(name: &str) -> Option<Compressor> {
        Some(match name {
            "noop" => Compressor::Noop,
            "snappy" => Compressor::Snappy,
            "zlib" => Compressor::Zlib,
            "zstd" => Compressor::Zstd,
            _ => return None,
        })
    }

    /// The `compression` array of the server's handshake reply: the names in
    /// `client_list` that the server supports, in the client's order (the
    /// client compresses with the first of them), without duplicates.
    /// Unknown names are ignored, never an error. An empty result means the
    /// reply should carry no `compression` field at all.
    pub fn negotiate<S: AsRef<str>>(client_list: &[S], server_supported: &[Compressor]) -> Vec<String> {
        let mut agreed: Vec<String> = Vec::new();
        for name in client_list {
            let name = name.as_ref();
            let supported = Compressor::from_name(name).is_some_and(|c| server_supported.contains(&c));
            if supported && !agreed.iter().any(|n| n == name) {
                agreed.push(name.to_string());
            }
        }
        agreed
    }

    /// Compresses `input`.
    pub fn compress(self, input: &[u8]) -> Result<Vec<u8>, WireError> {
        let failed =
            |e: &dyn fmt::Display| WireError::Compression { compressor: self, reason: e.to_string() };
        match self {
            Compressor::Noop => Ok(input.to_vec()),
            Compressor::Snappy => snap::raw::Encoder::new().compress_vec(input).map_err(|e| failed(&e)),
            Compressor::Zlib => {
                let mut encoder = flate2::write::ZlibEncoder::new(
                    Vec::with_capacity(input.len() / 2 + 64),
                    flate2::Compression::new(ZLIB_LEVEL),
                );
                encoder.write_all(input).map_err(|e| failed(&e))?;
                encoder.finish().map_err(|e| failed(&e))
            }
            Compressor::Zstd => zstd::bulk::compress(input, ZSTD_LEVEL).map_err(|e| failed(&e)),
        }
    }

    /// Decompresses `input`, which must inflate to exactly `expected_len`
    /// bytes, at most [`crate::MAX_MESSAGE_BYTES`]. At most
    /// `expected_len + 1` bytes are ever produced.
    pub fn decompress(self, input: &[u8], expected_len: usize) -> Result<Vec<u8>, WireError> {
        if expected_len > crate::MAX_MESSAGE_BYTES {
            return Err(WireError::TooLarge(expected_len as u64));
        }
        let corrupt =
            |e: &dyn fmt::Display| WireError::Decompression { compressor: self, reason: e.to_string() };
        let mismatch = |actual: usize, at_least: bool| WireError::UncompressedSizeMismatch {
            declared: expected_len,
            actual,
            at_least,
        };
        match self {
            Compressor::Noop => {
                if input.len() != expected_len {
                    return Err(mismatch(input.len(), false));
                }
                Ok(input.to_vec())
            }
            Compressor::Snappy => {
                // Snappy states its output length up front: check it before allocating.
                let stated = snap::raw::decompress_len(input).map_err(|e| corrupt(&e))?;
                if stated != expected_len {
                    return Err(mismatch(stated, false));
                }
                if stated > input.len().saturating_mul(SNAPPY_MAX_RATIO) {
                    return Err(corrupt(&format_args!(
                        "{} compressed bytes cannot expand to {stated}",
                        input.len()
                    )));
                }
                let mut out = vec![0u8; stated];
                let written =
                    snap::raw::Decoder::new().decompress(input, &mut out).map_err(|e| corrupt(&e))?;
                if written != expected_len {
                    return Err(mismatch(written, false));
                }
                Ok(out)
            }
            Compressor::Zlib => {
                let mut decoder = flate2::read::ZlibDecoder::new(input);
                let out = read_capped(&mut decoder, expected_len)
                    .map_err(|e| self.stream_error(e, expected_len))?;
                if decoder.total_in() != input.len() as u64 {
                    return Err(corrupt(&format_args!(
                        "{} bytes follow the end of the zlib stream",
                        input.len() as u64 - decoder.total_in()
                    )));
                }
                Ok(out)
            }
            Compressor::Zstd => {
                // Without `single_frame`, bytes after the first frame must be
                // further frames, so trailing garbage is an error.
                let mut decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(&e))?;
                decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|e| corrupt(&e))?;
                read_capped(decoder, expected_len).map_err(|e| self.stream_error(e, expected_len))
            }
        }
    }

    fn stream_error(self, error: CappedError, expected_len: usize) -> WireError {
        match error {
            CappedError::Io(e) => WireError::Decompression { compressor: self, reason: e.to_string() },
            CappedError::Length { actual, at_least } => {
                WireError::UncompressedSizeMismatch { declared: expected_len, actual, at_least }
            }
        }
    }
}

impl fmt::Display for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

enum CappedError {
    Io(std::io::Error),
    Length { actual: usize, at_least: bool },
}

/// Reads a decompressing stream to its end, but never more than
/// `expected_len + 1` bytes, and requires exactly `expected_len`.
fn read_capped(reader: impl Read, expected_len: usize) -> Result<Vec<u8>, CappedError> {
    // Do not trust the declared size for the allocation either: grow as the
    // data actually arrives, starting from a modest buffer.
    let mut out = Vec::with_capacity(expected_len.min(64 * 1024));
    let cap = expected_len as u64 + 1;
    reader.take(cap).read_to_end(&mut out).map_err(CappedError::Io)?;
    match out.len() {
        n if n == expected_len => Ok(out),
        n if n > expected_len => Err(CappedError::Length { actual: n, at_least: true }),
        n => Err(CappedError::Length { actual: n, at_least: false }),
    }
}

/// Commands whose requests and replies must never be compressed (OP_COMPRESSED
/// spec, "Messages not allowed to be compressed"): the handshake and
/// authentication, to keep secrets out of compression side channels.
const UNCOMPRESSIBLE_COMMANDS: [&str; 12] = [
    "hello",
    "isMaster",
    "ismaster",
    "saslStart",
    "saslContinue",
    "getnonce",
    "authenticate",
    "createUser",
    "updateUser",
    "copydbSaslStart",
    "copydbgetnonce",
    "copydb",
];

/// True if a message for the command `name` (its first body key) must not be
/// compressed. Covers `hello` and both spellings of legacy `isMaster`.
pub fn is_uncompressible_command(name: &str) -> bool {
    UNCOMPRESSIBLE_COMMANDS.contains(&name)
}

/// The compressor for the reply to a request for `command_name` that arrived
/// compressed with `request_compressor` (`None`: uncompressed): the same one,
/// unless the command is one whose messages are never compressed.
pub fn reply_compressor(request_compressor: Option<Compressor>, command_name: &str) -> Option<Compressor> {
    request_compressor.filter(|_| !is_uncompressible_command(command_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        (0..10_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect()
    }

    #[test]
    fn ids_and_names_round_trip() {
        for c in Compressor::ALL {
            assert_eq!(Compressor::from_id(c.id()), Some(c));
            assert_eq!(Compressor::from_name(c.name()), Some(c));
            assert_eq!(c.to_string(), c.name());
        }
        assert_eq!(Compressor::from_id(4), None);
        assert_eq!(Compressor::from_id(255), None);
        assert_eq!(Compressor::from_name("Snappy"), None);
        assert_eq!(Compressor::from_name("snoopy"), None);
        assert_eq!(Compressor::Snappy.id(), 1);
        assert_eq!(Compressor::Zlib.id(), 2);
        assert_eq!(Compressor::Zstd.id(), 3);
    }

    #[test]
    fn negotiation_keeps_client_order_and_drops_unknown_names() {
        let server = [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd];
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Compressor::negotiate(&names(&["zlib", "snappy"]), &server), ["zlib", "snappy"]);
        assert_eq!(Compressor::negotiate(&names(&["snoopy", "zstd", "zstd"]), &server), ["zstd"]);
        assert_eq!(Compressor::negotiate(&["noop", "zlib"], &server), ["zlib"]);
        assert!(Compressor::negotiate(&names(&["snappy"]), &[Compressor::Zlib]).is_empty());
        assert!(Compressor::negotiate::<String>(&[], &server).is_empty());
    }

    #[test]
    fn every_compressor_round_trips() {
        let input = sample();
        for c in Compressor::ALL {
            let packed = c.compress(&input).unwrap();
            if c != Compressor::Noop {
                assert!(packed.len() < input.len() / 2, "{c} should compress repetitive input");
            }
            assert_eq!(c.decompress(&packed, input.len()).unwrap(), input, "{c}");
            assert_eq!(c.decompress(&c.compress(&[]).unwrap(), 0).unwrap(), Vec::<u8>::new());
        }
    }

    #[test]
    fn declared_size_must_match_exactly() {
        let input = sample();
        for c in Compressor::ALL {
            let packed = c.compress(&input).unwrap();
            for declared in [0, input.len() - 1, input.len() + 1] {
                let err = c.decompress(&packed, declared).unwrap_err();
                assert!(matches!(err, WireError::UncompressedSizeMismatch { .. }), "{c} {declared}: {err}");
            }
        }
    }

    #[test]
    fn a_bomb_inflates_no_further_than_the_declared_size() {
        // 48 MB of zeros compresses to a few kilobytes; declare a tiny size.
        let zeros = vec![0u8; crate::MAX_MESSAGE_BYTES];
        for c in [Compressor::Zlib, Compressor::Zstd, Compressor::Snappy] {
            let packed = c.compress(&zeros).unwrap();
            let err = c.decompress(&packed, 100).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("OP_COMPRESSED declares 100 uncompressed bytes"), "{c}: {text}");
            // Streams stop one byte past the declaration; snappy states its
            // full size up front and is refused before inflating anything.
            let (expected_actual, expected_at_least) =
                if c == Compressor::Snappy { (crate::MAX_MESSAGE_BYTES, false) } else { (101, true) };
            assert!(
                matches!(err, WireError::UncompressedSizeMismatch { declared: 100, actual, at_least }
                    if actual == expected_actual && at_least == expected_at_least),
                "{c}: {text}"
            );
        }
    }

    #[test]
    fn snappy_rejects_impossible_ratios_before_allocating() {
        // A snappy preamble claiming 40 MB, followed by nothing.
        let mut lie = Vec::new();
        let mut n = 40_000_000u32;
        while n >= 0x80 {
            lie.push((n as u8) | 0x80);
            n >>= 7;
        }
        lie.push(n as u8);
        let err = Compressor::Snappy.decompress(&lie, 40_000_000).unwrap_err();
        assert!(err.to_string().contains("cannot expand"), "{err}");
    }

    #[test]
    fn expected_sizes_above_the_limit_are_refused() {
        for c in Compressor::ALL {
            assert!(matches!(c.decompress(&[], usize::MAX), Err(WireError::TooLarge(_))), "{c}");
        }
    }

    #[test]
    fn bytes_after_the_stream_are_an_error() {
        let input = sample();
        for c in [Compressor::Zlib, Compressor::Zstd] {
            let mut packed = c.compress(&input).unwrap();
            packed.extend_from_slice(b"junk");
            assert!(c.decompress(&packed, input.len()).is_err(), "{c}");
        }
    }

    #[test]
    fn garbage_is_a_decompression_error() {
        for c in [Compressor::Snappy, Compressor::Zlib, Compressor::Zstd] {
            let err = c.decompress(b"definitely not compressed", 25).unwrap_err();
            assert!(
                matches!(err, WireError::Decompression { .. } | WireError::UncompressedSizeMismatch { .. }),
                "{c}: {err}"
            );
        }
    }

    #[test]
    fn handshake_and_auth_commands_are_never_compressed() {
        for name in ["hello", "isMaster", "ismaster", "saslStart", "saslContinue", "copydb"] {
            assert!(is_uncompressible_command(name), "{name}");
            assert_eq!(reply_compressor(Some(Compressor::Zstd), name), None);
        }
        for name in ["find", "insert", "ping", "Hello"] {
            assert!(!is_uncompressible_command(name), "{name}");
        }
        assert_eq!(reply_compressor(Some(Compressor::Zstd), "find"), Some(Compressor::Zstd));
        assert_eq!(reply_compressor(None, "find"), None);
    }
}
