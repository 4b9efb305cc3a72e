//! Dotted paths and MongoDB's rules for reading them out of documents.
//!
//! A query path such as `a.b.c` can name many values at once: every array
//! met on the way is traversed implicitly, element by element, and a
//! numeric component (`a.0`) can be either an array index or a field named
//! "0". [`visit`] yields every value a path names, in the order MongoDB's
//! matcher sees them, together with the position in the outermost array that
//! was traversed implicitly (what the positional `$` operator refers to).
//!
//! ```text
//! {a: [{b: 1}, {b: [2, 3]}, 4]}   path "a.b"
//!   -> 1 (a[0]), 2 (a[1]), 3 (a[1]), [2, 3] (a[1])
//!   (4 has no field b and yields nothing)
//! ```

use bson::{Bson, Document};

/// One component of a dotted path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: String,
    /// The component as an array index, when it is a canonical decimal
    /// number ("0", "12"; not "01").
    pub(crate) index: Option<usize>,
}

impl Part {
    pub(crate) fn new(name: &str) -> Part {
        Part { name: name.to_string(), index: parse_index(name) }
    }
}

/// A component as an array index, when it is written canonically.
pub(crate) fn parse_index(name: &str) -> Option<usize> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if name.len() > 1 && name.starts_with('0') {
        return None;
    }
    name.parse().ok()
}

/// A dotted path split into components once, at parse time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Path {
    pub(crate) dotted: String,
    pub(crate) parts: Box<[Part]>,
}

impl Path {
    pub(crate) fn parse(dotted: &str) -> Path {
        Path { dotted: dotted.to_string(), parts: dotted.split('.').map(Part::new).collect() }
    }
}

/// Whether an array found at the end of a path yields its elements as well
/// as itself (`$eq`, `$gt`, `$type`...), or only itself (`$size`,
/// `$elemMatch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeafArrays {
    Traverse,
    NoTraversal,
}

/// The callback of [`visit`]: a value the path names (`None` when the path
/// is missing), and the index in the outermost implicitly traversed array.
/// Returning true stops the walk.
pub(crate) type Visitor<'v, 'd> = dyn FnMut(Option<&'d Bson>, Option<usize>) -> bool + 'v;

/// Visits every value `parts` names in `doc`; returns true as soon as the
/// visitor does.
pub(crate) fn visit<'d>(
    doc: &'d Document,
    parts: &[Part],
    leaf: LeafArrays,
    f: &mut Visitor<'_, 'd>,
) -> bool {
    visit_doc(doc, parts, 0, leaf, f)
}

/// Visits the values of `parts[start..]` inside `doc`. Documents are walked
/// until an array or the end of the path is met.
fn visit_doc<'d>(
    doc: &'d Document,
    parts: &[Part],
    start: usize,
    leaf: LeafArrays,
    f: &mut Visitor<'_, 'd>,
) -> bool {
    let mut cur = doc;
    let mut i = start;
    loop {
        let Some(value) = cur.get(&parts[i].name) else {
            return f(None, None);
        };
        if i + 1 == parts.len() {
            return visit_leaf(value, leaf, f);
        }
        match value {
            Bson::Document(d) => {
                cur = d;
                i += 1;
            }
            Bson::Array(items) => return visit_array(items, parts, i + 1, leaf, f),
            _ => return f(None, None),
        }
    }
}

/// The value at the end of the path: an array yields its elements (each
/// with its own index) and then itself.
fn visit_leaf<'d>(value: &'d Bson, leaf: LeafArrays, f: &mut Visitor<'_, 'd>) -> bool {
    if let (Bson::Array(items), LeafArrays::Traverse) = (value, leaf) {
        for (idx, item) in items.iter().enumerate() {
            if f(Some(item), Some(idx)) {
                return true;
            }
        }
    }
    f(Some(value), None)
}

/// An array in the middle of the path, with `parts[rest..]` still to go.
fn visit_array<'d>(
    items: &'d [Bson],
    parts: &[Part],
    rest: usize,
    leaf: LeafArrays,
    f: &mut Visitor<'_, 'd>,
) -> bool {
    let next = &parts[rest];
    let last = rest + 1 == parts.len();
    for (idx, item) in items.iter().enumerate() {
        let is_offset = next.index == Some(idx);
        match item {
            Bson::Document(d) => {
                // Implicit traversal: the outer index wins over inner ones.
                if visit_doc(d, parts, rest, leaf, &mut |v, _| f(v, Some(idx))) {
                    return true;
                }
                if is_offset {
                    // The component also names this element by position.
                    let found =
                        if last { f(Some(item), None) } else { visit_doc(d, parts, rest + 1, leaf, f) };
                    if found {
                        return true;
                    }
                }
            }
            Bson::Array(inner) if is_offset && !last && visit_array(inner, parts, rest + 1, leaf, f) => {
                return true;
            }
            _ if is_offset && last && f(Some(item), None) => return true,
            _ => {}
        }
    }
    false
}

/// The single value at a dotted path, following array indexes but not
/// traversing arrays implicitly (`a.0.b` works, `a.b` through an array does
/// not). `None` when the path is missing.
pub fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for part in parts {
        cur = match cur {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(items) => items.get(parse_index(part)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Every value a path names, as the query matcher sees them (arrays on the
/// way are traversed; an array at the end yields its elements and itself).
pub fn path_values<'a>(doc: &'a Document, path: &str) -> Vec<&'a Bson> {
    let path = Path::parse(path);
    let mut out = Vec::new();
    visit(doc, &path.parts, LeafArrays::Traverse, &mut |v, _| {
        if let Some(v) = v {
            out.push(v);
        }
        false
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn values(d: &Document, path: &str) -> Vec<(Option<Bson>, Option<usize>)> {
        let p = Path::parse(path);
        let mut out = Vec::new();
        visit(d, &p.parts, LeafArrays::Traverse, &mut |v, i| {
            out.push((v.cloned(), i));
            false
        });
        out
    }

    #[test]
    fn traverses_arrays_of_documents() {
        let d = doc! {"a": [{"b": 1}, {"b": [2, 3]}, 4, {"c": 1}]};
        assert_eq!(
            values(&d, "a.b"),
            vec![
                (Some(bson!(1)), Some(0)),
                (Some(bson!(2)), Some(1)),
                (Some(bson!(3)), Some(1)),
                (Some(bson!([2, 3])), Some(1)),
                (None, Some(3)),
            ]
        );
    }

    #[test]
    fn numeric_components_index_arrays() {
        let d = doc! {"a": [[1, 2], [3]]};
        assert_eq!(values(&d, "a.0"), vec![(Some(bson!([1, 2])), None)]);
        let d = doc! {"a": [{"b": 5}]};
        assert_eq!(values(&d, "a.0.b"), vec![(None, Some(0)), (Some(bson!(5)), None)]);
    }

    #[test]
    fn scalars_in_the_middle_yield_missing() {
        assert_eq!(values(&doc! {"a": 5}, "a.b"), vec![(None, None)]);
        assert!(values(&doc! {"a": [1, 2]}, "a.b").is_empty());
    }

    #[test]
    fn get_path_follows_indexes() {
        let d = doc! {"a": [{"b": 5}], "c": {"d": 1}};
        assert_eq!(get_path(&d, "a.0.b"), Some(&bson!(5)));
        assert_eq!(get_path(&d, "c.d"), Some(&bson!(1)));
        assert_eq!(get_path(&d, "a.b"), None);
    }
}
