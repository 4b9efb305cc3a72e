//! `$vectorSearch`: an exact nearest-neighbour scan of a collection at
//! the query's snapshot, with Atlas's (Lucene's) scores, reading each
//! vector straight from the stored document bytes. The index definitions it
//! reads are kept by `commands/search_indexes.rs`.

use bson::{Bson, Document};

use crate::commands::search_indexes::definitions;
use crate::error::{CmdResult, CommandError};
use crate::source::{Source, Stored};

/// Most candidates a `$vectorSearch` may ask for.
const MAX_CANDIDATES: i64 = 10_000;

/// How a vector field's similarity is scored.
#[derive(Clone, Copy, Debug)]
enum Similarity {
    Euclidean,
    Cosine,
    DotProduct,
}

impl Similarity {
    /// Atlas's (Lucene's) score in [0, 1], higher is nearer, of a stored
    /// vector against the query; `None` unless it is a vector of numbers
    /// of the query's length. One pass, no allocation.
    fn score(self, query: &[f64], stored: impl Iterator<Item = Option<f64>>) -> Option<f64> {
        let (mut dot, mut norm_q, mut norm_v, mut dist2, mut n) = (0.0, 0.0, 0.0, 0.0, 0usize);
        for x in stored {
            let (x, q) = (x?, *query.get(n)?);
            dot += x * q;
            norm_q += q * q;
            norm_v += x * x;
            dist2 += (x - q) * (x - q);
            n += 1;
        }
        if n != query.len() {
            return None;
        }
        Some(match self {
            Similarity::Euclidean => 1.0 / (1.0 + dist2),
            Similarity::DotProduct => (1.0 + dot) / 2.0,
            // A zero vector has no direction: cosine 0.
            Similarity::Cosine if norm_q == 0.0 || norm_v == 0.0 => 0.5,
            Similarity::Cosine => (1.0 + dot / (norm_q.sqrt() * norm_v.sqrt())) / 2.0,
        })
    }
}

/// The numbers of a BSON vector (binary subtype 9: float32 or int8).
fn binary_vector(b: &bson::Binary) -> Option<Vec<f64>> {
    match bson::binary::Vector::try_from(b).ok()? {
        bson::binary::Vector::Float32(v) => Some(v.into_iter().map(f64::from).collect()),
        bson::binary::Vector::Int8(v) => Some(v.into_iter().map(f64::from).collect()),
        bson::binary::Vector::PackedBit(_) => None,
    }
}

/// A vector: an array of numbers, or a BSON vector; `None` for anything else.
fn as_vector(v: &Bson) -> Option<Vec<f64>> {
    match v {
        Bson::Array(a) => a.iter().map(number).collect(),
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Vector => binary_vector(b),
        _ => None,
    }
}

fn number(v: &Bson) -> Option<f64> {
    argon_query::numeric::is_number(v).then(|| argon_query::numeric::to_f64(v)).flatten()
}

/// The elements of a stored BSON array read as numbers straight from its
/// bytes (type byte, index key, value): the hot loop of `$vectorSearch`,
/// a few times faster than the generic raw iterator. Yields `None` for an
/// element that is not a double, int32 or int64 (the vector is then
/// skipped) or when the bytes run short.
struct ArrayNumbers<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ArrayNumbers<'a> {
    /// `bytes`: a whole BSON array (length prefix to final NUL).
    fn new(bytes: &'a [u8]) -> Option<ArrayNumbers<'a>> {
        (bytes.len() >= 5 && bytes[bytes.len() - 1] == 0).then_some(ArrayNumbers { bytes, at: 4 })
    }
}

impl Iterator for ArrayNumbers<'_> {
    type Item = Option<f64>;
    fn next(&mut self) -> Option<Option<f64>> {
        let kind = *self.bytes.get(self.at)?;
        if kind == 0 {
            return None; // the array's end
        }
        // Skip the element's key (a NUL-terminated index).
        let key_len = self.bytes[self.at + 1..].iter().position(|&b| b == 0);
        let Some(value_at) = key_len.map(|n| self.at + 2 + n) else {
            self.at = self.bytes.len();
            return Some(None);
        };
        let fixed = |n: usize| self.bytes.get(value_at..value_at + n);
        let (value, len) = match kind {
            0x01 => (fixed(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes"))), 8),
            0x10 => (fixed(4).map(|b| f64::from(i32::from_le_bytes(b.try_into().expect("4 bytes")))), 4),
            0x12 => (fixed(8).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64), 8),
            _ => (None, 0),
        };
        self.at = match value {
            Some(_) => value_at + len,
            None => self.bytes.len(), // stop: the vector is not all numbers
        };
        Some(value)
    }
}

fn raw_number(v: bson::RawBsonRef<'_>) -> Option<f64> {
    match v {
        bson::RawBsonRef::Double(d) => Some(d),
        bson::RawBsonRef::Int32(i) => Some(f64::from(i)),
        bson::RawBsonRef::Int64(i) => Some(i as f64),
        bson::RawBsonRef::Decimal128(d) => number(&Bson::Decimal128(d)),
        _ => None,
    }
}

/// A parsed `$vectorSearch` stage.
pub struct VectorSearch {
    path: String,
    query: Vec<f64>,
    similarity: Similarity,
    limit: usize,
    filter: Option<argon_query::Filter>,
}

impl VectorSearch {
    /// Parses `{index, path, queryVector, numCandidates?, limit, filter?,
    /// exact?}` against the collection's options (its search indexes).
    pub fn parse(spec: &Bson, options: Option<&Document>) -> CmdResult<VectorSearch> {
        let Bson::Document(spec) = spec else {
            return Err(CommandError::type_mismatch("$vectorSearch must take a nested object"));
        };
        let bad = |m: &str| Err(CommandError::bad_value(format!("$vectorSearch: {m}")));
        let (mut index, mut path, mut query, mut candidates, mut limit, mut filter, mut exact) =
            (None, None, None, None, None, None, false);
        for (k, v) in spec {
            match k.as_str() {
                "index" => index = v.as_str(),
                "path" => path = v.as_str(),
                "queryVector" => query = Some(v),
                "numCandidates" => candidates = Some(argon_query::numeric::to_exact_i64(v)),
                "limit" => limit = Some(argon_query::numeric::to_exact_i64(v)),
                "filter" => filter = Some(v),
                "exact" => match v {
                    Bson::Boolean(b) => exact = *b,
                    _ => return bad("\"exact\" must be a boolean"),
                },
                other => {
                    return Err(CommandError::new(
                        (40415, "IDLUnknownField"),
                        format!("BSON field '$vectorSearch.{other}' is an unknown field."),
                    ))
                }
            }
        }
        let Some(index) = index else { return bad("\"index\" is required and must be a string") };
        let Some(path) = path else { return bad("\"path\" is required and must be a string") };
        let Some(query) = query.and_then(as_vector) else {
            return bad("\"queryVector\" is required and must be an array of numbers");
        };
        let limit = match limit {
            Some(Some(n)) if n >= 1 => n,
            _ => return bad("\"limit\" is required and must be a positive integer"),
        };
        match (candidates, exact) {
            (Some(_), true) => return bad("\"numCandidates\" is not allowed with \"exact\": true"),
            (None, false) => return bad("\"numCandidates\" is required unless \"exact\" is true"),
            (Some(Some(n)), false) if n < limit => {
                return bad("\"numCandidates\" must be greater than or equal to \"limit\"")
            }
            (Some(Some(n)), false) if n > MAX_CANDIDATES => {
                return bad(&format!("\"numCandidates\" must be at most {MAX_CANDIDATES}"))
            }
            (Some(None), _) => return bad("\"numCandidates\" must be an integer"),
            _ => {}
        }
        // The index: the named vectorSearch index of this collection (at
        // the query's snapshot), with `path` as one of its vector fields.
        let defs = options.map(definitions).unwrap_or_default();
        let Some(def) = defs.iter().find(|d| d.get_str("name").ok() == Some(index)) else {
            // Atlas answers no documents for an unknown index name.
            return Ok(VectorSearch {
                path: path.into(),
                query,
                similarity: Similarity::Cosine,
                limit: 0,
                filter: None,
            });
        };
        let fields: Vec<&Document> = def
            .get_document("definition")
            .ok()
            .and_then(|d| d.get_array("fields").ok())
            .map(|a| a.iter().filter_map(Bson::as_document).collect())
            .unwrap_or_default();
        let Some(field) = fields
            .iter()
            .find(|f| f.get_str("type").ok() == Some("vector") && f.get_str("path").ok() == Some(path))
        else {
            return bad(&format!("Path '{path}' needs to be indexed as vector in index '{index}'"));
        };
        let dims = field.get("numDimensions").and_then(argon_query::numeric::to_exact_i64).unwrap_or(0);
        if query.len() as i64 != dims {
            return bad(&format!(
                "queryVector has {} dimensions but the index '{index}' expects {dims} for path '{path}'",
                query.len()
            ));
        }
        let similarity = match field.get_str("similarity") {
            Ok("euclidean") => Similarity::Euclidean,
            Ok("dotProduct") => Similarity::DotProduct,
            _ => Similarity::Cosine,
        };
        let filter = match filter {
            None => None,
            Some(Bson::Document(f)) => {
                let parsed = argon_query::Filter::parse(f)?;
                // Only fields the index declares as filters (their top-level
                // names, as the filter's dependencies are recorded).
                let declared: Vec<&str> = fields
                    .iter()
                    .filter(|f| f.get_str("type").ok() == Some("filter"))
                    .filter_map(|f| f.get_str("path").ok())
                    .map(|p| p.split('.').next().unwrap_or(p))
                    .collect();
                if let Some(f) =
                    parsed.dependencies().fields().iter().find(|f| !declared.contains(&f.as_str()))
                {
                    return bad(&format!("Path '{f}' needs to be indexed as filter in index '{index}'"));
                }
                Some(parsed)
            }
            Some(_) => return bad("\"filter\" must be a document"),
        };
        Ok(VectorSearch { path: path.into(), query, similarity, limit: limit as usize, filter })
    }

    /// The score of one document, read from its stored bytes where it
    /// has them (`None`: no vector of the query's length at `path`).
    fn score_of(&self, doc: Stored<'_>) -> Option<f64> {
        let doc = match doc {
            Stored::Doc(d) => {
                let v = as_vector(argon_query::get_path(d, &self.path)?)?;
                return self.similarity.score(&self.query, v.into_iter().map(Some));
            }
            Stored::Raw(bytes) => bson::RawDocument::from_bytes(bytes).ok()?,
        };
        let mut parts = self.path.split('.');
        let mut value = doc.get(parts.next()?).ok()??;
        for part in parts {
            match value {
                bson::RawBsonRef::Document(d) => value = d.get(part).ok()??,
                _ => return None,
            }
        }
        match value {
            // The fast reader first; the generic one for what it does not
            // read (decimals).
            bson::RawBsonRef::Array(a) => ArrayNumbers::new(a.as_bytes())
                .and_then(|numbers| self.similarity.score(&self.query, numbers))
                .or_else(|| {
                    self.similarity.score(&self.query, a.into_iter().map(|e| e.ok().and_then(raw_number)))
                }),
            bson::RawBsonRef::Binary(b) if b.subtype == bson::spec::BinarySubtype::Vector => {
                let v = binary_vector(&bson::Binary { subtype: b.subtype, bytes: b.bytes.to_vec() })?;
                self.similarity.score(&self.query, v.into_iter().map(Some))
            }
            _ => None,
        }
    }

    /// The `limit` nearest documents of `coll`, best first, with their
    /// scores. Vectors are read from the stored bytes and only the
    /// filter's fields are decoded to match; only the winners are decoded
    /// whole. Documents without a vector of the right length at `path` are
    /// skipped; ties keep `_id` order.
    pub fn run(&self, src: &Source<'_>, coll: &str) -> CmdResult<Vec<(Document, f64)>> {
        if self.limit == 0 {
            return Ok(vec![]);
        }
        let mut scratch = Document::new();
        let mut best = Vec::new();
        src.each_stored(coll, |doc| {
            if let Some(f) = &self.filter {
                doc.decode_for_matching(f.dependencies(), &mut scratch)?;
                if !f.matches(&scratch) {
                    return Ok(());
                }
            }
            if let Some(score) = self.score_of(doc) {
                best.push((score, doc));
                // Memory stays bounded: trim to the best `limit` now and then.
                if best.len() >= 2 * self.limit.max(512) {
                    trim(&mut best, self.limit);
                }
            }
            Ok(())
        })?;
        trim(&mut best, self.limit);
        best.into_iter().map(|(score, doc)| Ok((doc.decode()?, score))).collect()
    }
}

/// The best `limit` by score, best first (stable: ties keep their order).
fn trim(scored: &mut Vec<(f64, Stored<'_>)>, limit: usize) {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(limit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use proptest::prelude::*;

    fn number_strategy() -> impl Strategy<Value = Bson> {
        prop_oneof![
            (-1e6f64..1e6).prop_map(Bson::Double),
            any::<i32>().prop_map(Bson::Int32),
            (-1i64 << 40..1i64 << 40).prop_map(Bson::Int64),
            Just(Bson::String("x".into())),
            Just(Bson::Null),
        ]
    }

    proptest! {
        /// The byte-level reader agrees with decoding the array.
        #[test]
        fn array_numbers_match_the_decoded_array(values in prop::collection::vec(number_strategy(), 0..40)) {
            let doc = doc! {"v": values.clone()};
            let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
            let arr = raw.get_array("v").unwrap();
            let fast: Vec<Option<f64>> = ArrayNumbers::new(arr.as_bytes()).unwrap().collect();
            let want: Vec<Option<f64>> = values.iter().map(number).collect();
            // The fast reader stops at the first non-number.
            let stop = want.iter().position(Option::is_none).map_or(want.len(), |i| i + 1);
            prop_assert_eq!(fast, want[..stop].to_vec());
        }

        /// Scores from raw bytes equal scores from the decoded vector.
        #[test]
        fn raw_and_decoded_scores_agree(v in prop::collection::vec(-10f64..10.0, 1..20), q in prop::collection::vec(-10f64..10.0, 1..20)) {
            for similarity in [Similarity::Cosine, Similarity::Euclidean, Similarity::DotProduct] {
                let search = VectorSearch { path: "a.e".into(), query: q.clone(), similarity, limit: 1, filter: None };
                let doc = doc! {"a": {"e": v.clone()}};
                let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
                let from_raw = search.score_of(Stored::Raw(raw.as_bytes()));
                let from_doc = search.score_of(Stored::Doc(&doc));
                prop_assert_eq!(from_raw, from_doc);
                prop_assert_eq!(from_raw.is_some(), v.len() == q.len());
                // (dotProduct is in [0, 1] only for unit vectors, which
                // its users are told to store.)
                if let (Some(s), false) = (from_raw, matches!(similarity, Similarity::DotProduct)) {
                    prop_assert!((0.0..=1.0).contains(&s), "{s}");
                }
            }
        }
    }

    #[test]
    fn decimals_fall_back_to_the_generic_reader() {
        let search = VectorSearch {
            path: "e".into(),
            query: vec![1.0, 2.0],
            similarity: Similarity::DotProduct,
            limit: 1,
            filter: None,
        };
        let doc = doc! {"e": [Bson::Decimal128("1".parse().unwrap()), Bson::Int32(2)]};
        let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
        assert_eq!(search.score_of(Stored::Raw(raw.as_bytes())), Some((1.0 + 5.0) / 2.0));
    }
}
