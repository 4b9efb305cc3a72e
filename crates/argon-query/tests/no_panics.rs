//! Arbitrary (often invalid) filters, updates, projections, sorts and
//! pipelines never panic: they either work or return a QueryError.

mod common;

use argon_query::pipeline::{NoCollections, PipelineContext};
use argon_query::{Filter, Pipeline, Projection, SortSpec, Update};
use bson::{doc, Bson, Document};
use proptest::prelude::*;

const OPERATORS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$not",
    "$exists",
    "$type",
    "$regex",
    "$options",
    "$mod",
    "$all",
    "$elemMatch",
    "$size",
    "$and",
    "$or",
    "$nor",
    "$expr",
    "$jsonSchema",
    "properties",
    "items",
    "required",
    "enum",
    "uniqueItems",
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$min",
    "$max",
    "$rename",
    "$push",
    "$addToSet",
    "$pop",
    "$pull",
    "$pullAll",
    "$each",
    "$slice",
    "$sort",
    "$position",
    "$add",
    "$concat",
    "$cond",
    "$map",
    "$filter",
    "$size",
    "$arrayElemAt",
    "$group",
    "$match",
    "$project",
    "$unwind",
    "$sum",
    "$avg",
    "$literal",
    "$toInt",
    "$dateToString",
    "$substrCP",
    "$split",
    "$sin",
    "$atan2",
    "$bitAnd",
    "$bitNot",
    "$getField",
    "$setField",
    "$unsetField",
    "$zip",
    "$sortArray",
    "$tsSecond",
    "$bsonSize",
    "field",
    "input",
    "value",
    "inputs",
    "sortBy",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(OPERATORS).prop_map(str::to_string),
        prop::sample::select(&["a", "a.b", "a.0", "a.$", "a.$[]", "b", "_id", "", "a..b", "$[x]", "x"][..])
            .prop_map(str::to_string),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        Just(Bson::Null),
        any::<bool>().prop_map(Bson::Boolean),
        (-3i32..4).prop_map(Bson::Int32),
        prop_oneof![Just(f64::NAN), Just(-1.5), Just(1e300)].prop_map(Bson::Double),
        prop::sample::select(&["$a", "$$ROOT", "x", "$a.b", "", "^a", "date", "$$nope"][..])
            .prop_map(|s| Bson::String(s.into())),
        Just(common::regex("a(", "")),
        Just(common::regex("^a", "i")),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|fields| Bson::Document(fields.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = Document> {
    prop::collection::vec((key(), value()), 0..4).prop_map(|fields| fields.into_iter().collect())
}

fn data() -> Vec<Document> {
    let mut d = common::all_docs();
    d.push(bson::doc! {"_id": "deep", "a": [{"b": [1, {"c": 2}]}, [3]], "b": {"a": [null]}});
    d
}

/// Every collection holds `data()` (for `$graphLookup`).
struct SameData;

impl PipelineContext for SameData {
    fn collection(&self, _name: &str) -> argon_query::Result<Vec<Document>> {
        Ok(data())
    }

    fn write_out(&self, _coll: &str, _docs: Vec<Document>) -> argon_query::Result<()> {
        Ok(())
    }

    fn merge_into(&self, _coll: &str, _docs: Vec<Document>, _spec: &Document) -> argon_query::Result<()> {
        Ok(())
    }

    fn now(&self) -> bson::DateTime {
        bson::DateTime::from_millis(0)
    }
}

/// A window bound: mostly valid ones, sometimes anything.
fn bound() -> impl Strategy<Value = Bson> {
    prop_oneof![
        Just(Bson::String("unbounded".into())),
        Just(Bson::String("current".into())),
        (-3i64..4).prop_map(Bson::Int64),
        value(),
    ]
}

fn window_stages(field: &str, lower: Bson, upper: Bson, range: bool, unit: Option<&str>) -> Vec<Document> {
    let mut window = Document::new();
    window.insert(if range { "range" } else { "documents" }, vec![lower.clone(), upper]);
    if let Some(u) = unit {
        window.insert("unit", u);
    }
    let sort = doc! {field: 1};
    let outputs = [
        doc! {"$sum": "$v", "window": window.clone()},
        doc! {"$push": "$a", "window": window.clone()},
        doc! {"$stdDevSamp": "$v", "window": window.clone()},
        doc! {"$addToSet": "$v", "window": window.clone()},
        doc! {"$rank": {}},
        doc! {"$denseRank": {}},
        doc! {"$shift": {"output": "$v", "by": lower.clone(), "default": 0}},
        doc! {"$locf": "$v"},
        doc! {"$derivative": {"input": "$v", "unit": unit.unwrap_or("second")}, "window": window.clone()},
        doc! {"$integral": {"input": "$v"}, "window": window.clone()},
        doc! {"$linearFill": "$v"},
        doc! {"$expMovingAvg": {"input": "$v", "N": lower.clone()}},
        doc! {"$expMovingAvg": {"input": "$a", "alpha": 0.3}},
        doc! {"$covariancePop": ["$v", "$a"], "window": window.clone()},
        doc! {"$covarianceSamp": ["$a", "$v"], "window": window},
    ];
    outputs
        .into_iter()
        .map(|o| doc! {"$setWindowFields": {"partitionBy": "$b", "sortBy": sort.clone(), "output": {"o": o}}})
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn window_bucket_auto_and_graph_lookup_stages(
        field in prop::sample::select(&["v", "a", "_id", "a.b"][..]),
        lower in bound(),
        upper in bound(),
        range in any::<bool>(),
        unit in prop::option::of(prop::sample::select(&["day", "month", "year", "x"][..])),
        buckets in prop_oneof![(1i32..6).prop_map(Bson::Int32), value()],
        granularity in prop::option::of(prop::sample::select(&["R5", "E192", "1-2-5", "POWERSOF2", "?"][..])),
        max_depth in prop_oneof![(0i32..3).prop_map(Bson::Int32), value()],
        start in value(),
    ) {
        let mut stages = window_stages(field, lower, upper, range, unit);
        let mut bucket_auto = doc! {"groupBy": format!("${field}"), "buckets": buckets};
        if let Some(g) = granularity {
            bucket_auto.insert("granularity", g);
        }
        stages.push(doc! {"$bucketAuto": bucket_auto});
        stages.push(doc! {"$graphLookup": {
            "from": "c",
            "startWith": start,
            "connectFromField": "a",
            "connectToField": field,
            "as": "g",
            "maxDepth": max_depth,
            "depthField": "d",
        }});
        for stage in stages {
            if let Ok(p) = Pipeline::parse(&[stage]) {
                let _ = p.run(Box::new(data().into_iter()), &SameData);
            }
        }
    }

    #[test]
    fn filters(f in document()) {
        if let Ok(filter) = Filter::parse(&f) {
            for d in data() {
                let _ = filter.try_matches(&d);
                let _ = filter.matches_with_details(&d);
            }
            let _ = filter.equality_fields();
        }
    }

    #[test]
    fn updates(u in value(), filters in prop::collection::vec(document(), 0..2), q in document()) {
        if let Ok(update) = Update::parse(&u, Some(&filters)) {
            let filter = Filter::parse(&q).ok();
            for d in data() {
                let _ = update.apply(&d, filter.as_ref(), bson::DateTime::from_millis(0));
            }
            let _ = update.upsert_document(&q, bson::DateTime::from_millis(0));
        }
    }

    #[test]
    fn projections_and_sorts(p in document(), s in document(), q in document()) {
        let filter = Filter::parse(&q).ok();
        if let Ok(proj) = Projection::parse(&p) {
            for d in data() {
                let _ = proj.apply(&d, filter.as_ref());
            }
        }
        if let Ok(sort) = SortSpec::parse(&s) {
            let mut docs = data();
            sort.sort(&mut docs);
        }
    }

    #[test]
    fn pipelines(stages in prop::collection::vec(document(), 0..3)) {
        if let Ok(p) = Pipeline::parse(&stages) {
            let ctx = NoCollections { now: bson::DateTime::from_millis(0) };
            let _ = p.run(Box::new(data().into_iter()), &ctx);
        }
    }
}
