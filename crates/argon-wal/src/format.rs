//! The on-disk format, byte by byte (see FORMAT.md): segment file names,
//! the segment header, and the encoding and decoding of one record.
//!
//! Pure functions over byte slices; no I/O here.

use argon_types::{CommitTime, Lsn};

/// First bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"ARGONWAL";
/// The segment format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Segment header: magic, version, first LSN, CRC32C of the preceding 20 bytes.
pub const HEADER_LEN: usize = 8 + 4 + 8 + 4;

/// Bytes of a record before its payload: length, crc, lsn, time, flags.
pub const RECORD_OVERHEAD: usize = 4 + 4 + 8 + 8 + 1;
/// The smallest value of a record's length field (an empty payload).
pub const MIN_RECORD_LEN: u32 = (RECORD_OVERHEAD - 4) as u32;
/// The largest value of a record's length field. A bigger length is garbage,
/// not a record, and must not make a reader allocate it.
pub const MAX_RECORD_LEN: u32 = 256 << 20;
/// The largest payload, stored or decompressed.
pub const MAX_PAYLOAD: usize = (MAX_RECORD_LEN - MIN_RECORD_LEN) as usize;

/// Flags bit 0: the payload is one zstd frame.
pub const FLAG_ZSTD: u8 = 1;
const KNOWN_FLAGS: u8 = FLAG_ZSTD;

const SEGMENT_EXT: &str = ".wal";
const LSN_DIGITS: usize = 20;

/// `00000000000000000042.wal`: the segment whose first record is LSN 42.
/// Zero-padded so that name order is LSN order.
pub fn segment_file_name(first_lsn: Lsn) -> String {
    format!("{:020}{SEGMENT_EXT}", first_lsn.0)
}

/// The first LSN of a segment file name, or `None` if the name is not one.
pub fn parse_segment_file_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SEGMENT_EXT)?;
    if digits.len() != LSN_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Lsn)
}

pub fn encode_header(first_lsn: Lsn) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first_lsn.0.to_le_bytes());
    let crc = crc32c::crc32c(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a segment header is not acceptable.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    Invalid(String),
    Version(u32),
}

/// Decodes a segment header; `bytes` may be shorter than a header (a
/// truncated file).
pub fn decode_header(bytes: &[u8]) -> Result<Lsn, HeaderError> {
    let bad = |why: String| Err(HeaderError::Invalid(why));
    if bytes.len() < HEADER_LEN {
        return bad(format!("segment header truncated: {} of {HEADER_LEN} bytes", bytes.len()));
    }
    if bytes[0..8] != MAGIC {
        return bad("bad magic: not an Argon WAL segment".into());
    }
    let stored_crc = le_u32(&bytes[20..24]);
    if crc32c::crc32c(&bytes[..20]) != stored_crc {
        return bad("segment header checksum mismatch".into());
    }
    let version = le_u32(&bytes[8..12]);
    if version != FORMAT_VERSION {
        return Err(HeaderError::Version(version));
    }
    let first = le_u64(&bytes[12..20]);
    if first == 0 {
        return bad("segment header names LSN 0, which is never written".into());
    }
    Ok(Lsn(first))
}

/// Appends one encoded record to `out`. When `compressor` is given, the
/// payload is stored zstd-compressed if that is smaller. Returns whether it
/// was compressed.
pub fn encode_record(
    out: &mut Vec<u8>,
    lsn: Lsn,
    time: CommitTime,
    payload: &[u8],
    compressor: Option<&mut zstd::bulk::Compressor<'static>>,
) -> bool {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    let start = out.len();
    // Length and crc are patched in once the rest is known.
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&lsn.0.to_le_bytes());
    out.extend_from_slice(&time.0.to_le_bytes());
    out.push(0);
    let flags_at = out.len() - 1;
    let payload_at = out.len();

    let mut compressed = false;
    if let Some(cx) = compressor {
        // Compress straight into `out` after the header: no scratch copy.
        out.reserve(zstd::zstd_safe::compress_bound(payload.len()));
        let mut cursor = std::io::Cursor::new(&mut *out);
        cursor.set_position(payload_at as u64);
        // A failure only means "store it raw"; compression is optional.
        if let Ok(n) = cx.compress_to_buffer(payload, &mut cursor) {
            compressed = n < payload.len() && out.len() == payload_at + n;
        }
    }
    if compressed {
        out[flags_at] = FLAG_ZSTD;
    } else {
        out.truncate(payload_at);
        out.extend_from_slice(payload);
    }

    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = crc32c::crc32c(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    compressed
}

/// One record as stored, borrowing the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    pub lsn: Lsn,
    pub time: CommitTime,
    pub flags: u8,
    /// The payload as stored (compressed if `flags & FLAG_ZSTD`).
    pub stored: &'a [u8],
    /// Bytes the whole record occupies in the segment.
    pub frame_len: usize,
}

impl RawRecord<'_> {
    pub fn compressed(&self) -> bool {
        self.flags & FLAG_ZSTD != 0
    }
}

/// What the bytes at a record position hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Record(RawRecord<'a>),
    /// A zero length field: unwritten (preallocated or zero-filled) space.
    Zero,
    /// The record continues past the given bytes; `needed` bytes in total.
    Incomplete {
        needed: usize,
    },
    /// Not a valid record.
    Bad(String),
}

/// Decodes the record at the start of `buf`. Checks length bounds, the
/// checksum and the flags; the caller checks the LSN sequence.
pub fn decode_record(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < 4 {
        return Decoded::Incomplete { needed: 4 };
    }
    let len = le_u32(&buf[0..4]);
    if len == 0 {
        return Decoded::Zero;
    }
    if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
        return Decoded::Bad(format!("record length {len} outside {MIN_RECORD_LEN}..={MAX_RECORD_LEN}"));
    }
    let frame_len = 4 + len as usize;
    if buf.len() < frame_len {
        return Decoded::Incomplete { needed: frame_len };
    }
    let stored_crc = le_u32(&buf[4..8]);
    let actual = crc32c::crc32c(&buf[8..frame_len]);
    if actual != stored_crc {
        return Decoded::Bad(format!(
            "record checksum mismatch (stored {stored_crc:#010x}, computed {actual:#010x})"
        ));
    }
    let flags = buf[24];
    if flags & !KNOWN_FLAGS != 0 {
        return Decoded::Bad(format!("record has unknown flags {flags:#04x}"));
    }
    Decoded::Record(RawRecord {
        lsn: Lsn(le_u64(&buf[8..16])),
        time: CommitTime(le_u64(&buf[16..24]) as i64),
        flags,
        stored: &buf[RECORD_OVERHEAD..frame_len],
        frame_len,
    })
}

/// The payload of a record, decompressed if it was stored compressed.
pub fn payload(raw: &RawRecord<'_>, dctx: &mut zstd::bulk::Decompressor<'static>) -> Result<Vec<u8>, String> {
    if !raw.compressed() {
        return Ok(raw.stored.to_vec());
    }
    // The writer always records the content size in the frame; trust it only
    // up to the format's maximum so a bad frame cannot make us allocate wildly.
    let size = match zstd::zstd_safe::get_frame_content_size(raw.stored) {
        Ok(Some(n)) if n <= MAX_PAYLOAD as u64 => n as usize,
        Ok(Some(n)) => return Err(format!("compressed payload claims {n} bytes, over the maximum")),
        Ok(None) | Err(_) => return Err("compressed payload has no valid zstd frame header".into()),
    };
    let mut out = Vec::with_capacity(size);
    match dctx.decompress_to_buffer(raw.stored, &mut out) {
        Ok(n) if n == size => Ok(out),
        Ok(n) => Err(format!("compressed payload decompressed to {n} bytes, frame said {size}")),
        Err(e) => Err(format!("compressed payload does not decompress: {e}")),
    }
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// The length field at the start of `b` (at least 4 bytes).
pub fn peek_len(b: &[u8]) -> u32 {
    le_u32(b)
}

/// The LSN field of a record starting at `b` (at least 16 bytes).
pub fn peek_lsn(b: &[u8]) -> Lsn {
    Lsn(le_u64(&b[8..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> zstd::bulk::Compressor<'static> {
        zstd::bulk::Compressor::new(1).unwrap()
    }

    fn dx() -> zstd::bulk::Decompressor<'static> {
        zstd::bulk::Decompressor::new().unwrap()
    }

    #[test]
    fn segment_names_sort_by_lsn_and_parse_back() {
        assert_eq!(segment_file_name(Lsn(42)), "00000000000000000042.wal");
        assert_eq!(parse_segment_file_name("00000000000000000042.wal"), Some(Lsn(42)));
        assert!(segment_file_name(Lsn(9)) < segment_file_name(Lsn(10)));
        assert_eq!(parse_segment_file_name(&segment_file_name(Lsn(u64::MAX))), Some(Lsn(u64::MAX)));
        for bad in
            ["42.wal", "0000000000000000004x.wal", "00000000000000000042.wal.tmp", "00000000000000000042"]
        {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
        // 20 digits that overflow u64.
        assert_eq!(parse_segment_file_name("99999999999999999999.wal"), None);
    }

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let h = encode_header(Lsn(7));
        assert_eq!(&h[..8], b"ARGONWAL");
        assert_eq!(decode_header(&h), Ok(Lsn(7)));
        for i in 0..HEADER_LEN {
            let mut bad = h;
            bad[i] ^= 0x40;
            assert!(decode_header(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(matches!(decode_header(&h[..10]), Err(HeaderError::Invalid(_))));
        let mut v2 = h;
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32c::crc32c(&v2[..20]);
        v2[20..24].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(decode_header(&v2), Err(HeaderError::Version(2)));
    }

    #[test]
    fn record_layout_is_the_documented_one() {
        let mut out = Vec::new();
        assert!(!encode_record(&mut out, Lsn(3), CommitTime(-5), b"hey", None));
        assert_eq!(out.len(), RECORD_OVERHEAD + 3);
        assert_eq!(&out[0..4], &(21u32 + 3).to_le_bytes());
        assert_eq!(&out[4..8], &crc32c::crc32c(&out[8..]).to_le_bytes());
        assert_eq!(&out[8..16], &3u64.to_le_bytes());
        assert_eq!(&out[16..24], &(-5i64).to_le_bytes());
        assert_eq!(out[24], 0);
        assert_eq!(&out[25..], b"hey");
    }

    #[test]
    fn records_round_trip_compressed_and_not() {
        let mut cx = cx();
        let mut dx = dx();
        let big = b"abcdefgh".repeat(200);
        // xorshift64: bytes zstd cannot shrink.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let random: Vec<u8> = (0..600)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        for (data, want_compressed) in [(&b""[..], false), (&big[..], true), (&random[..], false)] {
            let mut out = vec![9, 9]; // records append after existing bytes
            let c = encode_record(&mut out, Lsn(11), CommitTime(99), data, Some(&mut cx));
            assert_eq!(c, want_compressed);
            match decode_record(&out[2..]) {
                Decoded::Record(r) => {
                    assert_eq!((r.lsn, r.time, r.compressed()), (Lsn(11), CommitTime(99), c));
                    assert_eq!(r.frame_len, out.len() - 2);
                    assert_eq!(payload(&r, &mut dx).unwrap(), data);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn every_truncation_and_flip_is_detected() {
        let mut out = Vec::new();
        encode_record(&mut out, Lsn(1), CommitTime(1), b"payload bytes", None);
        for cut in 0..out.len() {
            assert!(matches!(decode_record(&out[..cut]), Decoded::Incomplete { .. }), "cut {cut}");
        }
        for i in 0..out.len() {
            for bit in 0..8 {
                let mut bad = out.clone();
                bad[i] ^= 1 << bit;
                assert!(!matches!(decode_record(&bad), Decoded::Record(_)), "flip {i}.{bit} accepted");
            }
        }
    }

    #[test]
    fn zero_length_is_unwritten_space_and_huge_length_is_bad() {
        assert_eq!(decode_record(&[0u8; 64]), Decoded::Zero);
        let mut huge = vec![0u8; 64];
        huge[0..4].copy_from_slice(&(MAX_RECORD_LEN + 1).to_le_bytes());
        assert!(matches!(decode_record(&huge), Decoded::Bad(_)));
        let mut tiny = vec![0u8; 64];
        tiny[0..4].copy_from_slice(&(MIN_RECORD_LEN - 1).to_le_bytes());
        assert!(matches!(decode_record(&tiny), Decoded::Bad(_)));
    }

    #[test]
    fn bad_compressed_payload_is_an_error_not_a_panic() {
        let raw = RawRecord {
            lsn: Lsn(1),
            time: CommitTime(0),
            flags: FLAG_ZSTD,
            stored: b"nonsense",
            frame_len: 0,
        };
        assert!(payload(&raw, &mut dx()).is_err());
    }
}
