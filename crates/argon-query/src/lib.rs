//! MongoDB query semantics for Argon, as pure functions over BSON documents.
//!
//! Nothing here does I/O: the server parses a filter, projection, sort,
//! update or pipeline once, then applies it to documents it reads from the
//! store. Every error carries the code MongoDB returns for the same input.
//!
//! ```
//! use argon_query::{Filter, Projection};
//! use bson::doc;
//!
//! let filter = Filter::parse(&doc! {"qty": {"$gt": 5}, "tags": "red"}).unwrap();
//! let item = doc! {"_id": 1, "qty": 10, "tags": ["red", "blue"]};
//! assert!(filter.matches(&item));
//!
//! let projection = Projection::parse(&doc! {"qty": 1, "_id": 0}).unwrap();
//! assert_eq!(projection.apply(&item, None).unwrap(), doc! {"qty": 10});
//! ```
//!
//! Modules:
//! - [`compare`]: MongoDB's total order over BSON values.
//! - [`deps`]: which fields a filter or pipeline reads; decoding only those
//!   from stored BSON.
//! - [`filter`]: query predicates (`find`, `$match`, `$pull`, arrayFilters).
//! - [`projection`], [`sort`]: the shape and order of results.
//! - [`update`]: update operators, replacements, pipeline updates, upserts.
//! - [`expr`]: aggregation expressions.
//! - [`pipeline`]: aggregation stages and accumulators.
//! - [`text`]: `$text` search (text indexes, matching, scores).
//! - [`schema`]: `$jsonSchema` (JSON Schema draft 4 as MongoDB applies it).
//! - [`numeric`], [`regex`], [`types`], [`display`]: numbers with MongoDB's
//!   promotion rules, MongoDB regexes, type names, values as MongoDB prints
//!   them in messages.

pub mod compare;
pub mod deps;
pub mod display;
mod error;
pub mod expr;
pub mod filter;
pub mod geo;
pub mod js;
pub mod numeric;
mod path;
pub mod pipeline;
pub mod projection;
pub mod regex;
pub mod schema;
pub mod sort;
pub mod text;
pub mod types;
pub mod update;

pub use compare::{compare, compare_documents, identical, identical_documents, values_equal};
pub use deps::Deps;
pub use error::{codes, ErrorCode, QueryError, Result};
pub use filter::{Filter, MatchDetails};
pub use path::{get_path, path_values};
pub use pipeline::{Pipeline, PipelineContext};
pub use projection::{Projection, ProjectionKind};
pub use schema::Schema;
pub use sort::SortSpec;
pub use update::Update;
