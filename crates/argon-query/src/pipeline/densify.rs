//! `$densify`: adds documents so a numeric or date field has a value at
//! every step of a range, per partition.
//!
//! ```text
//! input ─▶ documents whose field is null or missing pass first
//!       ─▶ the others by partition (partitionByFields), sorted by field
//!       ─▶ per partition, the grid  lo, lo+step, lo+2·step, ...  where
//!            "full":      lo..=hi over all documents
//!            "partition": lo..=hi over the partition's documents
//!            [lo, hi]:    lo..hi (upper bound excluded)
//!          gets a document {partition fields, field: value} for each grid
//!          value no document of the partition has
//! ```
//!
//! Dates step by `unit` with `$dateAdd`'s arithmetic in UTC (one step at a
//! time, so January 31 + 1 month is February 28, then March 28). With
//! "full" bounds the output is in field order across partitions; otherwise
//! in (partition, field) order, as MongoDB's sort before the stage gives.

use bson::{Bson, Document};

use super::stages::set_in_documents;
use super::DocStream;
use crate::compare::compare;
use crate::deps::Deps;
use crate::error::{codes, err, ErrorCode, QueryError, Result};
use crate::expr::date::{date_add, TimeUnit, TimeZone};
use crate::numeric::Num;

const STAGE: &str = "$densify";

/// MongoDB's default `internalQueryMaxAllowedDensifyDocs`.
const MAX_GENERATED: usize = 500_000;

macro_rules! location {
    ($($ident:ident = $code:literal;)*) => {
        $(const $ident: ErrorCode = ErrorCode { code: $code, name: concat!("Location", stringify!($code)) };)*
    };
}

location! {
    L5733201 = 5733201; // field value neither numeric nor a date
    L5733401 = 5733401; // step must be strictly positive
    L5733402 = 5733402; // bounds must be ascending
    L5733403 = 5733403; // bounds must have two elements
    L5733404 = 5733404; // bounds of the wrong type
    L5733405 = 5733405; // date bounds: both dates
    L5733406 = 5733406; // numeric bounds: both numbers
    L5733408 = 5733408; // 'partition' bounds without partitionByFields
    L5733409 = 5733409; // numeric bounds with a unit
    L5733410 = 5733410; // date bounds without a unit
    L5876900 = 5876900; // bounds and step of different types
    L5897900 = 5897900; // too many generated documents
    L5946800 = 5946800; // bounds neither numbers nor dates
    L5946802 = 5946802; // bounds string neither 'full' nor 'partition'
    L6053600 = 6053600; // a date value without unit, or a number with one
    L6586400 = 6586400; // a date step must be whole
}

#[derive(Clone, Debug)]
enum Bounds {
    Full,
    Partition,
    /// `[lower, upper)`.
    Explicit(Box<[Bson; 2]>),
}

#[derive(Clone, Debug)]
pub(crate) struct Densify {
    field: Box<[String]>,
    partitions: Vec<Box<[String]>>,
    step: Bson,
    unit: Option<TimeUnit>,
    bounds: Bounds,
}

fn unknown(prefix: &str, field: &str) -> QueryError {
    QueryError::new(codes::L40415, format!("BSON field '{prefix}.{field}' is an unknown field."))
}

fn missing(prefix: &str, field: &str) -> QueryError {
    QueryError::new(codes::L40414, format!("BSON field '{prefix}.{field}' is missing but a required field"))
}

use super::stages::{get_in_documents as get_path, wrong_type};

impl Densify {
    pub(crate) fn parse(arg: &Bson) -> Result<Densify> {
        let Bson::Document(spec) = arg else {
            return err(
                codes::FAILED_TO_PARSE,
                format!(
                    "The {STAGE} stage specification must be an object, found {}",
                    crate::types::type_name(arg)
                ),
            );
        };
        let (mut field, mut partitions, mut range) = (None, Vec::new(), None);
        for (k, v) in spec {
            match k.as_str() {
                "field" => match v {
                    Bson::String(s) => field = Some(s.as_str()),
                    other => return Err(wrong_type("$densify.field", other, "string")),
                },
                "partitionByFields" => {
                    let Bson::Array(items) = v else {
                        return Err(wrong_type("$densify.partitionByFields", v, "array"));
                    };
                    for (i, item) in items.iter().enumerate() {
                        let Bson::String(s) = item else {
                            return Err(wrong_type(
                                &format!("$densify.partitionByFields.{i}"),
                                item,
                                "string",
                            ));
                        };
                        partitions.push(crate::expr::parse_field_path(s)?);
                    }
                }
                "range" => match v {
                    Bson::Document(d) => range = Some(d),
                    other => return Err(wrong_type("$densify.range", other, "object")),
                },
                _ => return Err(unknown(STAGE, k)),
            }
        }
        let Some(field) = field else { return Err(missing(STAGE, "field")) };
        let Some(range) = range else { return Err(missing(STAGE, "range")) };
        let (mut step, mut unit, mut bounds) = (None, None, None);
        for (k, v) in range {
            match k.as_str() {
                "step" => step = Some(v),
                "unit" => match v {
                    Bson::String(s) => unit = Some(s.as_str()),
                    other => return Err(wrong_type("$densify.range.unit", other, "string")),
                },
                "bounds" => bounds = Some(v),
                _ => return Err(unknown("$densify.range", k)),
            }
        }
        let Some(step) = step else { return Err(missing("$densify.range", "step")) };
        let Some(bounds) = bounds else { return Err(missing("$densify.range", "bounds")) };
        if !crate::numeric::is_number(step)
            || crate::numeric::to_f64(step).is_none_or(|f| f.is_nan() || f <= 0.0)
        {
            return err(
                L5733401,
                "The step parameter in a range statement must be a strictly positive numeric value",
            );
        }
        let unit = match unit {
            None => None,
            Some(u) => {
                if crate::numeric::to_exact_i64(step).is_none() {
                    return err(
                        L6586400,
                        "The step parameter in a range statement must be a whole number when densifying a date range",
                    );
                }
                match TimeUnit::from_name(u) {
                    Some(t) => Some(t),
                    None => return err(codes::FAILED_TO_PARSE, format!("unknown time unit value: {u}")),
                }
            }
        };
        let bounds = match bounds {
            Bson::Array(items) => {
                if items.len() != 2 {
                    return err(L5733403, "A bounding array in a range statement must have exactly two elements");
                }
                let (lo, hi) = (&items[0], &items[1]);
                if compare(lo, hi).is_gt() {
                    return err(L5733402, "A bounding array must be an ascending array of either two dates or two numbers");
                }
                if crate::numeric::is_number(lo) {
                    if unit.is_some() {
                        return err(L5733409, "Numeric bounds may not have unit parameter");
                    }
                    if !crate::numeric::is_number(hi) {
                        return err(L5733406, "A bounding array must contain either both dates or both numeric types");
                    }
                    let ty = crate::types::type_name;
                    if ty(lo) != ty(hi) || ty(lo) != ty(step) {
                        return err(L5876900, "Upper bound, lower bound, and step must all have the same type");
                    }
                } else if matches!(lo, Bson::DateTime(_)) {
                    if !matches!(hi, Bson::DateTime(_)) {
                        return err(L5733405, "A bounding array must contain either both dates or both numeric types");
                    }
                    if unit.is_none() {
                        return err(L5733410, "A bounding array of dates must specify a unit");
                    }
                } else {
                    return err(L5946800, "Explicit bounds must be numeric or dates");
                }
                Bounds::Explicit(Box::new([lo.clone(), hi.clone()]))
            }
            Bson::String(s) if s == "full" => Bounds::Full,
            Bson::String(s) if s == "partition" => Bounds::Partition,
            Bson::String(_) => return err(L5946802, "Bounds string must either be 'full' or 'partition'"),
            _ => {
                return err(
                    L5733404,
                    "The bounds in a range statement must be the string 'full', 'partition', or an ascending array of two numbers or two dates",
                )
            }
        };
        let field = crate::expr::parse_field_path(field)?;
        if matches!(bounds, Bounds::Partition) && partitions.is_empty() {
            return err(
                L5733408,
                "One cannot specify the bounds as 'partition' without specifying a non-empty array of partitionByFields. You may have meant to specify 'full' bounds.",
            );
        }
        Ok(Densify { field, partitions, step: step.clone(), unit, bounds })
    }

    /// The fields of its input the stage reads (its documents also reach
    /// the output).
    pub(crate) fn dependencies(&self) -> Deps {
        Deps::fields_of(std::iter::once(&self.field[0]).chain(self.partitions.iter().map(|p| &p[0])))
    }

    /// The next value of the grid.
    fn increment(&self, v: &Bson) -> Result<Bson> {
        match (v, self.unit) {
            (Bson::DateTime(d), Some(unit)) => {
                let n = crate::numeric::to_exact_i64(&self.step).expect("checked at parse");
                let ms = date_add(d.timestamp_millis(), unit, n, &TimeZone::UTC)?;
                Ok(Bson::DateTime(bson::DateTime::from_millis(ms)))
            }
            _ => match (Num::from_bson(v), Num::from_bson(&self.step)) {
                (Some(a), Some(b)) => Ok((a + b).to_bson()),
                _ => err(L5733201, "Densify field type must be numeric or a date"),
            },
        }
    }

    /// Checks a value of the field against the range's kind.
    fn check_value(&self, v: &Bson) -> Result<()> {
        match v {
            Bson::DateTime(_) if self.unit.is_none() => err(
                L6053600,
                "Encountered date densify value in collection when step does not have a date unit.",
            ),
            Bson::DateTime(_) => Ok(()),
            v if crate::numeric::is_number(v) => {
                if self.unit.is_some() {
                    return err(
                        L6053600,
                        "Encountered numeric densify value in collection when step has a date unit.",
                    );
                }
                Ok(())
            }
            _ => err(L5733201, "Densify field type must be numeric or a date"),
        }
    }

    /// The partition of a document: its partition fields that are present.
    fn partition_of(&self, doc: &Document) -> Document {
        let mut key = Document::new();
        for p in &self.partitions {
            if let Some(v) = get_path(doc, p) {
                set_in_documents(&mut key, p, Some(v.clone()));
            }
        }
        key
    }

    pub(crate) fn run(&self, input: DocStream<'_>) -> Result<Vec<Document>> {
        let mut nulls: Vec<Document> = Vec::new();
        // (partition, value, document)
        let mut rows: Vec<(Document, Bson, Document)> = Vec::new();
        for doc in input {
            let doc = doc?;
            match get_path(&doc, &self.field) {
                None | Some(Bson::Null) | Some(Bson::Undefined) => nulls.push(doc),
                Some(v) => {
                    self.check_value(v)?;
                    let v = v.clone();
                    rows.push((self.partition_of(&doc), v, doc));
                }
            }
        }
        if let Bounds::Explicit(b) = &self.bounds {
            self.check_value(&b[0])?;
        }
        let by_partition = |a: &Document, b: &Document| crate::compare::compare_documents(a, b);
        rows.sort_by(|a, b| by_partition(&a.0, &b.0).then_with(|| compare(&a.1, &b.1)));
        // The range of "full": over every document.
        let (global_lo, global_hi) = match (
            rows.iter().map(|r| &r.1).min_by(|a, b| compare(a, b)),
            rows.iter().map(|r| &r.1).max_by(|a, b| compare(a, b)),
        ) {
            (Some(lo), Some(hi)) => (Some(lo.clone()), Some(hi.clone())),
            _ => (None, None),
        };
        let mut generated = 0usize;
        let mut out_partitions: Vec<Vec<Document>> = Vec::new();
        let mut start = 0;
        if rows.is_empty() && self.partitions.is_empty() && matches!(self.bounds, Bounds::Explicit(..)) {
            // Without partitions an explicit range is densified even over no documents.
            let docs = self.densify_partition(Document::new(), Vec::new(), None, None, &mut generated)?;
            out_partitions.push(docs);
        }
        while start < rows.len() {
            let end = start
                + rows[start..].iter().take_while(|r| by_partition(&r.0, &rows[start].0).is_eq()).count();
            let key = std::mem::take(&mut rows[start].0);
            let members: Vec<(Bson, Document)> = rows[start..end]
                .iter_mut()
                .map(|r| (std::mem::replace(&mut r.1, Bson::Null), std::mem::take(&mut r.2)))
                .collect();
            let docs =
                self.densify_partition(key, members, global_lo.as_ref(), global_hi.as_ref(), &mut generated)?;
            out_partitions.push(docs);
            start = end;
        }
        let mut out = nulls;
        if matches!(self.bounds, Bounds::Full) && out_partitions.len() > 1 {
            let mut all: Vec<Document> = out_partitions.into_iter().flatten().collect();
            all.sort_by(|a, b| {
                let (x, y) = (get_path(a, &self.field), get_path(b, &self.field));
                compare(x.unwrap_or(&Bson::Null), y.unwrap_or(&Bson::Null))
            });
            out.extend(all);
        } else {
            out.extend(out_partitions.into_iter().flatten());
        }
        Ok(out)
    }

    /// One partition's documents (sorted by value) with the missing grid
    /// values added, in value order.
    fn densify_partition(
        &self,
        key: Document,
        members: Vec<(Bson, Document)>,
        global_lo: Option<&Bson>,
        global_hi: Option<&Bson>,
        generated: &mut usize,
    ) -> Result<Vec<Document>> {
        // The grid's first value, its end, and whether the end is included.
        let (lo, hi, inclusive) = match &self.bounds {
            Bounds::Full => match (global_lo, global_hi) {
                (Some(lo), Some(hi)) => (lo.clone(), hi.clone(), true),
                _ => return Ok(members.into_iter().map(|m| m.1).collect()),
            },
            Bounds::Partition => match (members.first(), members.last()) {
                (Some(first), Some(last)) => (first.0.clone(), last.0.clone(), true),
                _ => return Ok(Vec::new()),
            },
            Bounds::Explicit(b) => (b[0].clone(), b[1].clone(), false),
        };
        let mut out = Vec::with_capacity(members.len());
        let mut members = members.into_iter().peekable();
        let mut g = lo;
        loop {
            let in_range = match compare(&g, &hi) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Equal => inclusive,
                std::cmp::Ordering::Greater => false,
            };
            if !in_range {
                break;
            }
            // The documents before this grid value, then the value itself
            // unless a document has it.
            let mut present = false;
            while let Some((v, _)) = members.peek() {
                match compare(v, &g) {
                    std::cmp::Ordering::Greater => break,
                    ord => {
                        present |= ord.is_eq();
                        out.push(members.next().expect("peeked").1);
                    }
                }
            }
            if !present {
                *generated += 1;
                if *generated > MAX_GENERATED {
                    return err(
                        L5897900,
                        format!(
                            "Generated {} documents in $densify, which is over the limit of {MAX_GENERATED}. Increase the 'internalQueryMaxAllowedDensifyDocs' parameter to allow more generated documents",
                            *generated
                        ),
                    );
                }
                let mut d = key.clone();
                set_in_documents(&mut d, &self.field, Some(g.clone()));
                out.push(d);
            }
            let next = self.increment(&g)?;
            if compare(&next, &g).is_le() {
                break; // the arithmetic stopped moving (overflow or precision)
            }
            g = next;
        }
        out.extend(members.map(|m| m.1));
        Ok(out)
    }
}
