//! `$text` search: text index specs, query parsing, matching and scores.
//!
//! A collection's text index ([`TextIndex`]) names the string fields that
//! are searched (or `$**`: every string, recursively, arrays included),
//! their weights, the default language and the field that overrides it
//! per document. Text is case-folded, stripped of diacritics, split on
//! every character that is not a letter or digit, and each token that is
//! not a stop word is stemmed (Snowball, through `rust-stemmers`; language
//! `none`: no stop words, no stemming).
//!
//! A query (`{$search, $language, $caseSensitive, $diacriticSensitive}`)
//! has terms (OR'ed), quoted phrases (all must appear, as substrings of one
//! string of the document), and negated terms and phrases (`-word`,
//! `-"a phrase"`), none of which may appear. The words of a phrase count
//! as terms too. A query without positive terms matches nothing.
//!
//! Scores follow MongoDB (`FTSSpec::scoreDocument`): for each string a
//! document holds in an indexed field of weight `w`, with `n` tokens that
//! are not stop words, a term occurring `c` times scores
//! `w × (1 + 1/2 + … + 1/2^(c-1)) × (0.5 × c/n + 0.5)`, times 1.1 when the
//! term is the whole string; term scores add up over strings and fields,
//! and a document's score is the sum of the scores of the distinct query
//! terms it contains. Scores are computed case- and diacritic-insensitively
//! (as an index key would be) whatever the query's flags; the flags only
//! decide which documents match.
//!
//! How a score travels with a document: `find` keeps it beside each
//! document (the server's execution path, see [`Filter::text_score`]);
//! inside an aggregation pipeline it rides on the document itself under
//! the key [`SCORE_KEY`], which contains a NUL byte and so can neither
//! come from BSON nor be named by a field path. `$$ROOT` strips it, and
//! the pipeline strips it from what it returns (see
//! [`crate::pipeline::Pipeline::run_text_results`]).
//!
//! [`Filter::text_score`]: crate::Filter::text_score

use std::collections::{HashMap, HashSet};

use bson::{Bson, Document};
use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;

use crate::error::{codes, err, QueryError, Result};

/// The in-memory key carrying a document's text score through a pipeline.
pub const SCORE_KEY: &str = "\u{0}textScore";

/// The score a document carries (inside a pipeline).
pub fn carried_score(doc: &Document) -> Option<f64> {
    match doc.get(SCORE_KEY) {
        Some(Bson::Double(s)) => Some(*s),
        _ => None,
    }
}

/// Attaches a score to a document (inside a pipeline).
pub fn attach_score(doc: &mut Document, score: f64) {
    doc.insert(SCORE_KEY, Bson::Double(score));
}

/// The in-memory key carrying a document's `$vectorSearch` score through
/// a pipeline (`{$meta: "vectorSearchScore"}`), the same way.
pub const VECTOR_SCORE_KEY: &str = "\u{0}vectorSearchScore";

/// The vector search score a document carries (inside a pipeline).
pub fn carried_vector_score(doc: &Document) -> Option<f64> {
    match doc.get(VECTOR_SCORE_KEY) {
        Some(Bson::Double(s)) => Some(*s),
        _ => None,
    }
}

/// Removes the carried scores (text and vector search), returning the
/// text score.
pub fn strip_score(doc: &mut Document) -> Option<f64> {
    doc.remove(VECTOR_SCORE_KEY);
    match doc.remove(SCORE_KEY) {
        Some(Bson::Double(s)) => Some(s),
        _ => None,
    }
}

/// Copies the carried scores of `from` onto `to` (a stage that builds a
/// new document keeps its metadata).
pub fn carry_scores(from: &Document, to: &mut Document) {
    for key in [SCORE_KEY, VECTOR_SCORE_KEY] {
        if let Some(v @ Bson::Double(_)) = from.get(key) {
            to.insert(key, v.clone());
        }
    }
}

/// The languages MongoDB's text search knows (Community edition), by
/// their names and ISO 639-1 codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    None,
    Danish,
    Dutch,
    English,
    Finnish,
    French,
    German,
    Hungarian,
    Italian,
    Norwegian,
    Portuguese,
    Romanian,
    Russian,
    Spanish,
    Swedish,
    Turkish,
}

impl Language {
    /// A language by MongoDB name or code (case-insensitive).
    pub fn parse(name: &str) -> Option<Language> {
        Some(match name.to_ascii_lowercase().as_str() {
            "none" => Language::None,
            "danish" | "da" => Language::Danish,
            "dutch" | "nl" => Language::Dutch,
            "english" | "en" => Language::English,
            "finnish" | "fi" => Language::Finnish,
            "french" | "fr" => Language::French,
            "german" | "de" => Language::German,
            "hungarian" | "hu" => Language::Hungarian,
            "italian" | "it" => Language::Italian,
            "norwegian" | "nb" => Language::Norwegian,
            "portuguese" | "pt" => Language::Portuguese,
            "romanian" | "ro" => Language::Romanian,
            "russian" | "ru" => Language::Russian,
            "spanish" | "es" => Language::Spanish,
            "swedish" | "sv" => Language::Swedish,
            "turkish" | "tr" => Language::Turkish,
            _ => return None,
        })
    }

    fn algorithm(self) -> Option<Algorithm> {
        Some(match self {
            Language::None => return None,
            Language::Danish => Algorithm::Danish,
            Language::Dutch => Algorithm::Dutch,
            Language::English => Algorithm::English,
            Language::Finnish => Algorithm::Finnish,
            Language::French => Algorithm::French,
            Language::German => Algorithm::German,
            Language::Hungarian => Algorithm::Hungarian,
            Language::Italian => Algorithm::Italian,
            Language::Norwegian => Algorithm::Norwegian,
            Language::Portuguese => Algorithm::Portuguese,
            Language::Romanian => Algorithm::Romanian,
            Language::Russian => Algorithm::Russian,
            Language::Spanish => Algorithm::Spanish,
            Language::Swedish => Algorithm::Swedish,
            Language::Turkish => Algorithm::Turkish,
        })
    }

    /// Stop words (lower case, without diacritics): English only for now.
    fn is_stop_word(self, word: &str) -> bool {
        match self {
            Language::English => ENGLISH_STOP_WORDS.binary_search(&word).is_ok(),
            _ => false,
        }
    }
}

/// English stop words (sorted), as in MongoDB's list for the split tokens.
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "d",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "ll",
    "m",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "ought",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "ve",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Case folding and diacritic stripping as the flags ask.
pub fn fold(text: &str, case_sensitive: bool, diacritic_sensitive: bool) -> String {
    let stripped: String = if diacritic_sensitive {
        text.to_string()
    } else {
        text.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).nfc().collect()
    };
    if case_sensitive {
        stripped
    } else {
        stripped.to_lowercase()
    }
}

/// Splits folded text into tokens: runs of letters and digits.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty())
}

/// Turns text into terms for one language and pair of flags.
struct Analyzer {
    language: Language,
    stemmer: Option<Stemmer>,
    case_sensitive: bool,
    diacritic_sensitive: bool,
}

impl Analyzer {
    fn new(language: Language, case_sensitive: bool, diacritic_sensitive: bool) -> Analyzer {
        Analyzer {
            language,
            stemmer: language.algorithm().map(Stemmer::create),
            case_sensitive,
            diacritic_sensitive,
        }
    }

    /// The term of one token, `None` for a stop word.
    fn term(&self, token: &str) -> Option<String> {
        let stop = if self.case_sensitive || self.diacritic_sensitive {
            self.language.is_stop_word(&fold(token, false, false))
        } else {
            self.language.is_stop_word(token)
        };
        if stop {
            return None;
        }
        Some(match &self.stemmer {
            Some(s) => s.stem(token).into_owned(),
            None => token.to_string(),
        })
    }

    /// The terms of a text, in order (stop words left out).
    fn terms(&self, text: &str) -> Vec<String> {
        let folded = fold(text, self.case_sensitive, self.diacritic_sensitive);
        tokens(&folded).filter_map(|t| self.term(t)).collect()
    }
}

/// A text index: which strings of a document are searched, with what
/// weight, in which language.
#[derive(Clone, Debug)]
pub struct TextIndex {
    /// Explicit text fields (dotted paths) and their weights.
    fields: Vec<(String, f64)>,
    /// `$**`: every string field, with this weight unless `weights` names
    /// the path.
    wildcard: Option<f64>,
    weights: HashMap<String, f64>,
    default_language: Language,
    language_override: String,
}

fn index_error(code: crate::error::ErrorCode, message: &str) -> QueryError {
    QueryError::new(code, message)
}

impl TextIndex {
    /// Whether an index spec (`{key, name, ...}`) is a text index.
    pub fn is_text_index(spec: &Document) -> bool {
        spec.get_document("key")
            .is_ok_and(|k| k.values().any(|v| matches!(v, Bson::String(s) if s == "text")))
    }

    /// Reads a text index spec, checking its options with MongoDB's codes
    /// (`None` when the spec is not a text index).
    pub fn from_spec(spec: &Document) -> Result<Option<TextIndex>> {
        if !Self::is_text_index(spec) {
            return Ok(None);
        }
        let key =
            spec.get_document("key").map_err(|_| index_error(codes::BAD_VALUE, "text index needs a key"))?;
        let mut fields: Vec<(String, f64)> = Vec::new();
        let mut wildcard = None;
        for (k, v) in key {
            if matches!(v, Bson::String(s) if s == "text") {
                if k == "$**" {
                    wildcard = Some(1.0);
                } else {
                    fields.push((k.clone(), 1.0));
                }
            }
        }
        let mut weights = HashMap::new();
        match spec.get("weights") {
            None => {}
            Some(Bson::String(s)) if s == "$**" => wildcard = Some(1.0),
            Some(Bson::Document(w)) => {
                for (k, v) in w {
                    let Some(n) = crate::numeric::to_f64(v).filter(|_| crate::numeric::is_number(v)) else {
                        return Err(index_error(codes::L17283, "weight for text index needs numeric type"));
                    };
                    let n = n.trunc();
                    if !(n > 0.0 && n < 100_000_000.0) {
                        return Err(index_error(codes::L16674, "score for word too high"));
                    }
                    if k == "$**" {
                        wildcard = Some(n);
                        continue;
                    }
                    if k.is_empty() || k.split('.').any(str::is_empty) {
                        return Err(index_error(codes::L17291, "weight cannot have empty path component"));
                    }
                    if k.split('.').any(|p| p.starts_with('$')) {
                        return Err(index_error(
                            codes::L17292,
                            "weight cannot have path component with $ prefix",
                        ));
                    }
                    weights.insert(k.clone(), n);
                    match fields.iter_mut().find(|(f, _)| f == k) {
                        Some(f) => f.1 = n,
                        None => fields.push((k.clone(), n)),
                    }
                }
            }
            Some(_) => {
                return Err(index_error(codes::L17284, "text index option 'weights' must be an object"))
            }
        }
        let default_language = match spec.get("default_language") {
            None => Language::English,
            Some(Bson::String(s)) => Language::parse(s)
                .ok_or_else(|| index_error(codes::L17264, "default_language is not valid"))?,
            Some(_) => return Err(index_error(codes::L17263, "default_language needs a string type")),
        };
        let language_override = match spec.get("language_override") {
            None => "language".to_string(),
            Some(Bson::String(s)) if !s.is_empty() && !s.starts_with('$') && !s.contains('.') => s.clone(),
            Some(_) => return Err(index_error(codes::L17136, "language_override is not valid")),
        };
        Ok(Some(TextIndex { fields, wildcard, weights, default_language, language_override }))
    }

    /// The index's default language.
    pub fn default_language(&self) -> Language {
        self.default_language
    }

    /// The language of a document: its override field, else the default.
    fn language_of(&self, doc: &Document) -> Language {
        match doc.get(&self.language_override) {
            Some(Bson::String(s)) => Language::parse(s).unwrap_or(self.default_language),
            _ => self.default_language,
        }
    }

    /// Every indexed string of a document with its weight.
    fn strings<'d>(&self, doc: &'d Document) -> Vec<(&'d str, f64)> {
        let mut out = Vec::new();
        if let Some(w) = self.wildcard {
            for (k, v) in doc {
                if k == &self.language_override || k == SCORE_KEY {
                    continue;
                }
                self.walk(k.clone(), v, w, &mut out);
            }
            return out;
        }
        for (path, w) in &self.fields {
            for v in crate::path::path_values(doc, path) {
                if let Bson::String(s) = v {
                    out.push((s.as_str(), *w));
                }
            }
        }
        out
    }

    fn walk<'d>(&self, path: String, v: &'d Bson, w: f64, out: &mut Vec<(&'d str, f64)>) {
        match v {
            Bson::String(s) => out.push((s.as_str(), self.weights.get(&path).copied().unwrap_or(w))),
            Bson::Array(items) => {
                for item in items {
                    self.walk(path.clone(), item, w, out);
                }
            }
            Bson::Document(d) => {
                for (k, v) in d {
                    self.walk(format!("{path}.{k}"), v, w, out);
                }
            }
            _ => {}
        }
    }

    /// Term scores of a document (MongoDB's `scoreDocument`).
    fn term_scores(&self, doc: &Document) -> HashMap<String, f64> {
        let analyzer = Analyzer::new(self.language_of(doc), false, false);
        let mut scores: HashMap<String, f64> = HashMap::new();
        for (raw, weight) in self.strings(doc) {
            // term -> (count, freq)
            let mut terms: HashMap<String, (u32, f64)> = HashMap::new();
            let mut num_tokens = 0u32;
            for term in analyzer.terms(raw) {
                let entry = terms.entry(term).or_insert((0, 0.0));
                entry.1 += 1.0 / 2f64.powi(entry.0 as i32);
                entry.0 += 1;
                num_tokens += 1;
            }
            for (term, (count, freq)) in terms {
                let coeff = 0.5 * count as f64 / num_tokens as f64 + 0.5;
                let adjustment =
                    if raw.len() == term.len() && raw.to_lowercase() == term { 1.1 } else { 1.0 };
                *scores.entry(term).or_insert(0.0) += weight * freq * coeff * adjustment;
            }
        }
        scores
    }
}

/// A parsed `$text` argument, before it knows the collection's index.
#[derive(Clone, Debug)]
pub struct TextQuery {
    language: Option<Language>,
    case_sensitive: bool,
    diacritic_sensitive: bool,
    /// Words (terms before analysis), negated words, phrases, negated phrases.
    words: Vec<String>,
    negated_words: Vec<String>,
    phrases: Vec<String>,
    negated_phrases: Vec<String>,
}

impl TextQuery {
    /// Parses `{$search, $language, $caseSensitive, $diacriticSensitive}`.
    pub fn parse(value: &Bson) -> Result<TextQuery> {
        let Bson::Document(d) = value else {
            return err(codes::BAD_VALUE, "$text expects an object");
        };
        let mut search = None;
        let mut language = None;
        let mut case_sensitive = false;
        let mut diacritic_sensitive = false;
        for (k, v) in d {
            match k.as_str() {
                "$search" => match v {
                    Bson::String(s) => search = Some(s.clone()),
                    _ => return err(codes::TYPE_MISMATCH, "$search requires a string value"),
                },
                "$language" => match v {
                    Bson::String(s) => {
                        language = Some(Language::parse(s).ok_or_else(|| {
                            QueryError::new(
                                codes::BAD_VALUE,
                                format!("unsupported language: \"{s}\" for text index version 3"),
                            )
                        })?)
                    }
                    _ => return err(codes::TYPE_MISMATCH, "$language requires a string value"),
                },
                "$caseSensitive" => match v {
                    Bson::Boolean(b) => case_sensitive = *b,
                    _ => return err(codes::TYPE_MISMATCH, "$caseSensitive requires a boolean value"),
                },
                "$diacriticSensitive" => match v {
                    Bson::Boolean(b) => diacritic_sensitive = *b,
                    _ => return err(codes::TYPE_MISMATCH, "$diacriticSensitive requires a boolean value"),
                },
                _ => return err(codes::BAD_VALUE, "extra fields in $text"),
            }
        }
        let Some(search) = search else {
            return err(codes::TYPE_MISMATCH, "$search requires a string value");
        };
        let mut q = TextQuery {
            language,
            case_sensitive,
            diacritic_sensitive,
            words: Vec::new(),
            negated_words: Vec::new(),
            phrases: Vec::new(),
            negated_phrases: Vec::new(),
        };
        q.parse_search(&search);
        Ok(q)
    }

    /// Splits `$search`: `"..."` phrases, `-"..."` negated phrases, `-word`
    /// negated words (a leading `-` negates every token of the chunk up
    /// to the next space; a `-` inside a word only separates tokens).
    fn parse_search(&mut self, search: &str) {
        let mut rest = search;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let negated_phrase = rest.starts_with("-\"");
            if rest.starts_with('"') || negated_phrase {
                let body = &rest[if negated_phrase { 2 } else { 1 }..];
                let (phrase, after) = match body.find('"') {
                    Some(end) => (&body[..end], &body[end + 1..]),
                    None => (body, ""),
                };
                if negated_phrase {
                    self.negated_phrases.push(phrase.to_string());
                } else {
                    self.phrases.push(phrase.to_string());
                    self.words.push(phrase.to_string());
                }
                rest = after;
                continue;
            }
            let end = rest.find(|c: char| c.is_whitespace() || c == '"').unwrap_or(rest.len());
            let chunk = &rest[..end];
            if let Some(negated) = chunk.strip_prefix('-') {
                self.negated_words.push(negated.to_string());
            } else {
                self.words.push(chunk.to_string());
            }
            rest = &rest[end..];
        }
    }

    /// Prepares the query for a collection's text index.
    pub fn bind(&self, index: &TextIndex) -> BoundText {
        let language = self.language.unwrap_or(index.default_language);
        let scoring = Analyzer::new(language, false, false);
        let matching = Analyzer::new(language, self.case_sensitive, self.diacritic_sensitive);
        let mut score_terms = Vec::new();
        let mut terms = HashSet::new();
        for w in &self.words {
            for t in scoring.terms(w) {
                if !score_terms.contains(&t) {
                    score_terms.push(t);
                }
            }
            terms.extend(matching.terms(w));
        }
        let negated_terms = self.negated_words.iter().flat_map(|w| matching.terms(w)).collect();
        let fold_phrase = |p: &String| fold(p, self.case_sensitive, self.diacritic_sensitive);
        BoundText {
            index: index.clone(),
            score_terms,
            terms,
            negated_terms,
            phrases: self.phrases.iter().map(fold_phrase).collect(),
            negated_phrases: self.negated_phrases.iter().map(fold_phrase).collect(),
            case_sensitive: self.case_sensitive,
            diacritic_sensitive: self.diacritic_sensitive,
        }
    }
}

/// A `$text` query bound to a text index: ready to match and score.
#[derive(Clone, Debug)]
pub struct BoundText {
    index: TextIndex,
    /// Distinct positive terms as the index sees them (for scores).
    score_terms: Vec<String>,
    /// Positive and negated terms with the query's case and diacritic
    /// sensitivity (for matching).
    terms: HashSet<String>,
    negated_terms: HashSet<String>,
    phrases: Vec<String>,
    negated_phrases: Vec<String>,
    case_sensitive: bool,
    diacritic_sensitive: bool,
}

impl BoundText {
    /// Whether a document matches the query.
    pub fn matches(&self, doc: &Document) -> bool {
        if self.terms.is_empty() {
            return false;
        }
        let strings = self.index.strings(doc);
        let analyzer =
            Analyzer::new(self.index.language_of(doc), self.case_sensitive, self.diacritic_sensitive);
        let mut any = false;
        for (s, _) in &strings {
            for t in analyzer.terms(s) {
                if self.negated_terms.contains(&t) {
                    return false;
                }
                any |= self.terms.contains(&t);
            }
        }
        if !any {
            return false;
        }
        if self.phrases.is_empty() && self.negated_phrases.is_empty() {
            return true;
        }
        let folded: Vec<String> =
            strings.iter().map(|(s, _)| fold(s, self.case_sensitive, self.diacritic_sensitive)).collect();
        self.phrases.iter().all(|p| folded.iter().any(|s| s.contains(p.as_str())))
            && !self.negated_phrases.iter().any(|p| folded.iter().any(|s| s.contains(p.as_str())))
    }

    /// The document's score for the query (meaningful when it matches).
    pub fn score(&self, doc: &Document) -> f64 {
        let scores = self.index.term_scores(doc);
        self.score_terms.iter().filter_map(|t| scores.get(t)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn index(spec: Document) -> TextIndex {
        TextIndex::from_spec(&spec).unwrap().unwrap()
    }

    fn bound(search: &str, index: &TextIndex) -> BoundText {
        TextQuery::parse(&Bson::Document(doc! {"$search": search})).unwrap().bind(index)
    }

    #[test]
    fn tokens_are_folded_stemmed_and_stop_words_dropped() {
        let a = Analyzer::new(Language::English, false, false);
        assert_eq!(a.terms("The Cafés were running, and the dogs ran!"), ["cafe", "run", "dog", "ran"]);
        let none = Analyzer::new(Language::None, false, false);
        assert_eq!(none.terms("The dogs"), ["the", "dogs"]);
        let cs = Analyzer::new(Language::English, true, true);
        assert_eq!(cs.terms("Café"), ["Café"]);
        assert_eq!(Analyzer::new(Language::French, false, false).terms("chevaux"), ["cheval"]);
        assert_eq!(Language::parse("EN"), Some(Language::English));
        assert_eq!(Language::parse("klingon"), None);
    }

    #[test]
    fn terms_phrases_and_negations() {
        let ix = index(doc! {"key": {"title": "text", "body": "text"}, "name": "t"});
        let d1 = doc! {"title": "Coffee shop", "body": "fresh espresso"};
        let d2 = doc! {"title": "Tea house", "body": "green tea, no coffee"};
        let d3 = doc! {"title": "Bakery", "body": "bread"};
        let m = |q: &str| {
            let b = bound(q, &ix);
            [&d1, &d2, &d3].iter().map(|d| b.matches(d)).collect::<Vec<_>>()
        };
        assert_eq!(m("coffee"), [true, true, false]);
        assert_eq!(m("coffees bread"), [true, true, true]);
        assert_eq!(m("\"coffee shop\""), [true, false, false]);
        assert_eq!(m("coffee -tea"), [true, false, false]);
        assert_eq!(m("coffee -\"green tea\""), [true, false, false]);
        assert_eq!(m("-coffee"), [false, false, false], "only negations");
        assert_eq!(m("the"), [false, false, false], "only stop words");
        // A hyphen inside a word separates tokens.
        assert_eq!(m("green-tea"), [false, true, false]);
    }

    #[test]
    fn case_and_diacritic_sensitivity() {
        let ix = index(doc! {"key": {"$**": "text"}, "name": "t"});
        let d = doc! {"a": {"b": ["Résumé writing"]}};
        let q = |search: &str, cs: bool, ds: bool| {
            TextQuery::parse(&Bson::Document(
                doc! {"$search": search, "$caseSensitive": cs, "$diacriticSensitive": ds},
            ))
            .unwrap()
            .bind(&ix)
            .matches(&d)
        };
        assert!(q("resume", false, false));
        assert!(!q("resume", false, true));
        assert!(q("résumé", false, true));
        assert!(!q("résumé", true, true));
        assert!(q("Résumé", true, true));
        assert!(q("\"RESUME WRITING\"", false, false));
        assert!(!q("\"RESUME WRITING\"", true, false));
    }

    #[test]
    fn scores_follow_mongodb() {
        let ix =
            index(doc! {"key": {"title": "text", "body": "text"}, "weights": {"title": 10}, "name": "t"});
        // "coffee" once among 2 tokens of the title: 10 × 1 × (0.5 × 1/2 + 0.5).
        let b = bound("coffee", &ix);
        assert!((b.score(&doc! {"title": "coffee shop"}) - 7.5).abs() < 1e-9);
        // Twice among 3 tokens of the body: 1 × 1.5 × (0.5 × 2/3 + 0.5).
        let s = b.score(&doc! {"body": "coffee, more coffee please"});
        assert!((s - 1.5 * (0.5 * 2.0 / 3.0 + 0.5)).abs() < 1e-9, "{s}");
        // A string that is the term itself gets a 1.1 boost.
        assert!((bound("tea", &ix).score(&doc! {"body": "tea"}) - 1.1).abs() < 1e-9);
        // Terms add up across fields ("coffee" stems to "coffe": no boost).
        let s = bound("coffee tea", &ix).score(&doc! {"title": "coffee", "body": "tea"});
        assert!((s - (10.0 + 1.1)).abs() < 1e-9, "{s}");
    }

    #[test]
    fn index_specs_and_query_errors() {
        let bad = |spec: Document| TextIndex::from_spec(&spec).unwrap_err().code;
        assert_eq!(bad(doc! {"key": {"a": "text"}, "weights": {"a": "x"}}), 17283);
        assert_eq!(bad(doc! {"key": {"a": "text"}, "weights": 3}), 17284);
        assert_eq!(bad(doc! {"key": {"a": "text"}, "default_language": "xx"}), 17264);
        assert_eq!(bad(doc! {"key": {"a": "text"}, "language_override": 1}), 17136);
        assert!(TextIndex::from_spec(&doc! {"key": {"a": 1}}).unwrap().is_none());
        let q = |v: Bson| TextQuery::parse(&v).unwrap_err().code;
        assert_eq!(q(Bson::Int32(1)), 2);
        assert_eq!(q(Bson::Document(doc! {})), 14);
        assert_eq!(q(Bson::Document(doc! {"$search": 1})), 14);
        assert_eq!(q(Bson::Document(doc! {"$search": "a", "$language": "xx"})), 2);
        assert_eq!(q(Bson::Document(doc! {"$search": "a", "$caseSensitive": 1})), 14);
        assert_eq!(q(Bson::Document(doc! {"$search": "a", "x": 1})), 2);
    }

    #[test]
    fn documents_override_the_language() {
        let ix = index(doc! {"key": {"t": "text"}, "default_language": "none", "name": "t"});
        let d = doc! {"t": "the running dogs", "language": "english"};
        assert!(bound("dog", &ix).matches(&d));
        assert!(!bound("dog", &ix).matches(&doc! {"t": "the running dogs"}));
    }
}
