//! Collations in the query engine: with a collation active
//! (`compare::with_collation`), filters, `$in`, sorts, `$group` keys, set
//! expressions and update operators compare strings by it; regular
//! expressions and field names do not; and `value_key` agrees with
//! `compare` (a property test).

use std::sync::Arc;

use argon_query::compare::{compare, value_key, with_collation};
use argon_query::pipeline::{NoCollections, Pipeline};
use argon_query::{Filter, SortSpec, Update};
use argon_types::collation::Collation;
use bson::{doc, Bson, Document};
use proptest::prelude::*;

fn ci() -> Arc<Collation> {
    Collation::parse(&doc! {"locale": "en", "strength": 2}).unwrap().unwrap()
}

fn docs() -> Vec<Document> {
    ["apple", "Apple", "banana", "BANANA", "cherry", "Zebra"]
        .iter()
        .enumerate()
        .map(|(i, n)| doc! {"_id": i as i32, "name": *n, "tags": [*n, "x"]})
        .collect()
}

fn matching(filter: Document, c: Option<&Arc<Collation>>) -> Vec<i32> {
    with_collation(c, || {
        let f = Filter::parse(&filter).unwrap();
        docs().iter().filter(|d| f.matches(d)).map(|d| d.get_i32("_id").unwrap()).collect()
    })
}

#[test]
fn filters_compare_by_the_active_collation() {
    let c = ci();
    assert_eq!(matching(doc! {"name": "APPLE"}, Some(&c)), [0, 1]);
    assert_eq!(matching(doc! {"name": "APPLE"}, None), Vec::<i32>::new());
    assert_eq!(matching(doc! {"name": {"$in": ["apple", "banana"]}}, Some(&c)), [0, 1, 2, 3]);
    assert_eq!(matching(doc! {"name": {"$in": ["apple", "banana"]}}, None), [0, 2]);
    assert_eq!(matching(doc! {"name": {"$gt": "b", "$lt": "c"}}, Some(&c)), [2, 3]);
    // Binary: capitals sort before small letters, so "Zebra" < "b".
    assert_eq!(matching(doc! {"name": {"$lt": "b"}}, None), [0, 1, 3, 5]);
    assert_eq!(matching(doc! {"name": {"$lt": "b"}}, Some(&c)), [0, 1]);
    assert_eq!(matching(doc! {"tags": "ZEBRA"}, Some(&c)), [5], "array elements too");
    assert_eq!(matching(doc! {"name": {"$ne": "apple"}}, Some(&c)), [2, 3, 4, 5]);
    // Regular expressions ignore the collation.
    assert_eq!(matching(doc! {"name": {"$regex": "^a"}}, Some(&c)), [0]);
    assert_eq!(matching(doc! {"$expr": {"$eq": ["$name", "cherry"]}}, Some(&c)), [4]);
    assert_eq!(matching(doc! {"$expr": {"$eq": ["$name", "CHERRY"]}}, Some(&c)), [4]);
}

#[test]
fn sorts_and_groups_follow_it() {
    let c = ci();
    let mut d = docs();
    with_collation(Some(&c), || SortSpec::parse(&doc! {"name": 1, "_id": 1}).unwrap().sort(&mut d));
    let order: Vec<i32> = d.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    let mut d = docs();
    SortSpec::parse(&doc! {"name": 1, "_id": 1}).unwrap().sort(&mut d);
    let order: Vec<i32> = d.iter().map(|d| d.get_i32("_id").unwrap()).collect();
    assert_eq!(order, [1, 3, 5, 0, 2, 4], "binary without a collation");

    let group = |c: Option<&Arc<Collation>>| {
        with_collation(c, || {
            let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
            let p = Pipeline::parse(&[
                doc! {"$group": {"_id": "$name", "n": {"$sum": 1}, "set": {"$addToSet": "$name"}}},
                doc! {"$sort": {"n": -1, "_id": 1}},
            ])
            .unwrap();
            p.run(Box::new(docs().into_iter()), &ctx).unwrap()
        })
    };
    let ci_groups = group(Some(&c));
    assert_eq!(ci_groups.len(), 4, "{ci_groups:?}");
    assert_eq!(ci_groups[0].get_i32("n").unwrap(), 2);
    assert_eq!(ci_groups[0].get_array("set").unwrap().len(), 1, "$addToSet keeps one of equal strings");
    assert_eq!(group(None).len(), 6);

    let union = with_collation(Some(&c), || {
        argon_query::expr::Expression::parse(&Bson::Document(doc! {"$setUnion": [["a", "A", "b"], ["B"]]}))
            .unwrap()
            .evaluate(&doc! {}, &argon_query::expr::Vars::default())
            .unwrap()
    });
    assert_eq!(union.as_ref().and_then(Bson::as_array).map(Vec::len), Some(2), "{union:?}");
}

#[test]
fn update_operators_compare_by_it() {
    let c = ci();
    let u = Update::parse(&Bson::Document(doc! {"$pull": {"tags": "X"}, "$max": {"name": "APPLE"}}), None)
        .unwrap();
    let before = doc! {"_id": 1, "name": "apple", "tags": ["a", "x"]};
    let now = bson::DateTime::from_millis(0);
    let after = with_collation(Some(&c), || u.apply(&before, None, now).unwrap());
    assert_eq!(after.get_array("tags").unwrap(), &vec![Bson::String("a".into())]);
    assert_eq!(after.get_str("name").unwrap(), "apple", "$max keeps an equal value");
    let binary = u.apply(&before, None, now).unwrap();
    assert_eq!(binary.get_array("tags").unwrap().len(), 2);
}

proptest! {
    #[test]
    fn value_keys_order_as_compare(a in "[a-cA-Cé ]{0,6}", b in "[a-cA-Cé ]{0,6}", strength in 1i32..=3) {
        let c = Collation::parse(&doc! {"locale": "fr", "strength": strength}).unwrap().unwrap();
        let (x, y) = (Bson::String(a.clone()), Bson::String(b.clone()));
        let (ord, keys) = with_collation(Some(&c), || (compare(&x, &y), value_key(&x).cmp(&value_key(&y))));
        prop_assert_eq!(ord, keys, "{:?} {:?}", a, b);
        let nested = |s: &str| Bson::Document(doc! {"k": [s, 1]});
        let (ord, keys) = with_collation(Some(&c), || {
            (compare(&nested(&a), &nested(&b)), value_key(&nested(&a)).cmp(&value_key(&nested(&b))))
        });
        prop_assert_eq!(ord, keys);
    }
}
