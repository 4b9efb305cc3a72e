//! `$graphLookup`: breadth-first search of another collection, with
//! depths, maxDepth, cycles, restrictSearchWithMatch, and its errors.

mod common;

use std::collections::HashMap;

use argon_query::pipeline::{Pipeline, PipelineContext};
use argon_query::{QueryError, Result};
use bson::{doc, Bson, Document};
use common::*;

struct Collections(HashMap<&'static str, Vec<Document>>);

impl PipelineContext for Collections {
    fn collection(&self, name: &str) -> Result<Vec<Document>> {
        Ok(self.0.get(name).cloned().unwrap_or_default())
    }

    fn write_out(&self, _coll: &str, _docs: Vec<Document>) -> Result<()> {
        unreachable!("no $out here")
    }

    fn merge_into(&self, _coll: &str, _docs: Vec<Document>, _spec: &Document) -> Result<()> {
        unreachable!("no $merge here")
    }

    fn now(&self) -> bson::DateTime {
        bson::DateTime::from_millis(0)
    }
}

fn collections() -> Collections {
    let mut c = HashMap::new();
    c.insert(
        "employees",
        vec![
            doc! {"_id": 1, "name": "Dev"},
            doc! {"_id": 2, "name": "Eliot", "reportsTo": "Dev"},
            doc! {"_id": 3, "name": "Ron", "reportsTo": "Eliot"},
            doc! {"_id": 4, "name": "Andrew", "reportsTo": "Eliot"},
            doc! {"_id": 5, "name": "Asya", "reportsTo": "Ron"},
            doc! {"_id": 6, "name": "Dan", "reportsTo": "Andrew"},
        ],
    );
    // A graph with cycles: every route leads back.
    c.insert(
        "airports",
        vec![
            doc! {"_id": 0, "airport": "JFK", "connects": ["BOS", "ORD"]},
            doc! {"_id": 1, "airport": "BOS", "connects": ["JFK", "PWM"]},
            doc! {"_id": 2, "airport": "ORD", "connects": ["JFK"]},
            doc! {"_id": 3, "airport": "PWM", "connects": ["BOS", "LHR"]},
            doc! {"_id": 4, "airport": "LHR", "connects": ["PWM"]},
        ],
    );
    c.insert("numbers", vec![doc! {"_id": "one", "n": 1.0, "next": 2}, doc! {"_id": "two", "n": 2i64}]);
    c.insert("no_ids", vec![doc! {"n": 1}]);
    Collections(c)
}

fn run(input: Vec<Document>, stage: Document) -> Result<Vec<Document>> {
    Pipeline::parse(&[stage])?.run(Box::new(input.into_iter()), &collections())
}

fn ok(input: Vec<Document>, stage: Document) -> Vec<Document> {
    run(input, stage.clone()).unwrap_or_else(|e| panic!("{stage}: {e}"))
}

/// `field` of each document found for the single input document, with its depth.
fn found(out: &[Document], as_: &str, field: &str) -> Vec<(Bson, Bson)> {
    assert_eq!(out.len(), 1, "{out:?}");
    out[0]
        .get_array(as_)
        .unwrap()
        .iter()
        .map(|d| {
            let d = d.as_document().unwrap();
            (d.get(field).cloned().unwrap(), d.get("depth").cloned().unwrap_or(Bson::Null))
        })
        .collect()
}

fn named(pairs: &[(&str, i64)]) -> Vec<(Bson, Bson)> {
    pairs.iter().map(|(n, d)| (Bson::String(n.to_string()), Bson::Int64(*d))).collect()
}

fn chain_of_command(extra: Document) -> Document {
    let mut spec = doc! {
        "from": "employees",
        "startWith": "$reportsTo",
        "connectFromField": "reportsTo",
        "connectToField": "name",
        "as": "chain",
        "depthField": "depth",
    };
    spec.extend(extra);
    doc! {"$graphLookup": spec}
}

#[test]
fn follows_the_chain_breadth_first_with_depths() {
    let asya = vec![doc! {"_id": 5, "name": "Asya", "reportsTo": "Ron"}];
    let out = ok(asya.clone(), chain_of_command(doc! {}));
    assert_eq!(found(&out, "chain", "name"), named(&[("Ron", 0), ("Eliot", 1), ("Dev", 2)]));
    // The input document is kept, with the results added.
    assert_eq!(out[0].get_str("reportsTo").unwrap(), "Ron");
    let out = ok(asya.clone(), chain_of_command(doc! {"maxDepth": 0}));
    assert_eq!(found(&out, "chain", "name"), named(&[("Ron", 0)]));
    let out = ok(asya, chain_of_command(doc! {"maxDepth": 1}));
    assert_eq!(found(&out, "chain", "name"), named(&[("Ron", 0), ("Eliot", 1)]));
}

#[test]
fn each_input_document_gets_its_own_search() {
    let people = vec![doc! {"name": "Dev"}, doc! {"name": "Dan", "reportsTo": "Andrew"}];
    let out = ok(people, chain_of_command(doc! {}));
    assert_eq!(out[0].get_array("chain").unwrap(), &Vec::<Bson>::new(), "startWith missing finds nothing");
    let names: Vec<&str> = out[1]
        .get_array("chain")
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().get_str("name").unwrap())
        .collect();
    assert_eq!(names, ["Andrew", "Eliot", "Dev"]);
}

fn routes(extra: Document) -> Document {
    let mut spec = doc! {
        "from": "airports",
        "startWith": "$nearestAirport",
        "connectFromField": "connects",
        "connectToField": "airport",
        "as": "destinations",
        "depthField": "depth",
    };
    spec.extend(extra);
    doc! {"$graphLookup": spec}
}

#[test]
fn cycles_visit_each_document_once() {
    let traveller = vec![doc! {"name": "Dev", "nearestAirport": "JFK"}];
    let out = ok(traveller.clone(), routes(doc! {}));
    assert_eq!(
        found(&out, "destinations", "airport"),
        named(&[("JFK", 0), ("BOS", 1), ("ORD", 1), ("PWM", 2), ("LHR", 3)])
    );
    let out = ok(traveller.clone(), routes(doc! {"maxDepth": 0}));
    assert_eq!(found(&out, "destinations", "airport"), named(&[("JFK", 0)]));
    // The depth goes where depthField says, and without one the documents
    // come back as stored.
    let out = ok(traveller.clone(), routes(doc! {"maxDepth": 0, "depthField": "hops"}));
    let first = out[0].get_array("destinations").unwrap()[0].as_document().unwrap();
    assert_eq!((first.get("hops"), first.contains_key("depth")), (Some(&Bson::Int64(0)), false));
    let mut no_depth = routes(doc! {"maxDepth": 0});
    no_depth.get_document_mut("$graphLookup").unwrap().remove("depthField");
    let out = ok(traveller, no_depth);
    assert_eq!(
        out[0].get_array("destinations").unwrap(),
        &vec![Bson::Document(doc! {"_id": 0, "airport": "JFK", "connects": ["BOS", "ORD"]})]
    );
}

#[test]
fn start_with_arrays_and_restrictions() {
    let out = ok(vec![doc! {"from": ["LHR", "BOS"]}], routes(doc! {"startWith": "$from", "maxDepth": 0}));
    assert_eq!(found(&out, "destinations", "airport"), named(&[("BOS", 0), ("LHR", 0)]));
    let out = ok(
        vec![doc! {"nearestAirport": "JFK"}],
        routes(doc! {"restrictSearchWithMatch": {"airport": {"$ne": "PWM"}}}),
    );
    assert_eq!(found(&out, "destinations", "airport"), named(&[("JFK", 0), ("BOS", 1), ("ORD", 1)]));
    let out = ok(vec![doc! {"nearestAirport": "XXX"}], routes(doc! {}));
    assert!(out[0].get_array("destinations").unwrap().is_empty());
}

#[test]
fn values_match_across_numeric_types_and_results_can_nest() {
    let out = ok(
        vec![doc! {"start": 1}],
        doc! {"$graphLookup": {
            "from": "numbers",
            "startWith": "$start",
            "connectFromField": "next",
            "connectToField": "n",
            "as": "found.all",
        }},
    );
    let all = out[0].get_document("found").unwrap().get_array("all").unwrap();
    let ids: Vec<&str> = all.iter().map(|d| d.as_document().unwrap().get_str("_id").unwrap()).collect();
    assert_eq!(ids, ["one", "two"]);
}

#[test]
fn runtime_errors() {
    assert_error(
        run(
            vec![doc! {"s": 1}],
            doc! {"$graphLookup": {"from": "no_ids", "startWith": "$s", "connectFromField": "n", "connectToField": "n", "as": "x"}},
        ),
        40271,
        "Location40271",
        "Documents in the 'no_ids' namespace must contain an _id for de-duplication in $graphLookup",
    );
}

#[test]
fn parse_errors() {
    let parse = |stages: &Document| -> std::result::Result<Pipeline, QueryError> {
        let list: Vec<Document> =
            stages.get_array("p").unwrap().iter().map(|s| s.as_document().unwrap().clone()).collect();
        Pipeline::parse(&list)
    };
    let base =
        doc! {"from": "c", "startWith": "$a", "connectFromField": "b", "connectToField": "c", "as": "d"};
    let with = |k: &str, v: Bson| {
        let mut d = base.clone();
        d.insert(k, v);
        doc! {"p": [{"$graphLookup": d}]}
    };
    let without = |k: &str| {
        let mut d = base.clone();
        d.remove(k);
        doc! {"p": [{"$graphLookup": d}]}
    };
    let missing = "$graphLookup requires 'from', 'as', 'startWith', 'connectFromField', and 'connectToField' to be specified.";
    run_error_cases(
        &[
            err_case(
                "not an object",
                doc! {"p": [{"$graphLookup": 1}]},
                9,
                "the $graphLookup stage specification must be an object, but found int",
            ),
            err_case("no from", without("from"), 40105, missing),
            err_case("no startWith", without("startWith"), 40105, missing),
            err_case("no connectToField", without("connectToField"), 40105, missing),
            err_case("empty as", with("as", "".into()), 40105, missing),
            err_case(
                "maxDepth type",
                with("maxDepth", "1".into()),
                40100,
                "maxDepth must be numeric, found type: string",
            ),
            err_case(
                "maxDepth negative",
                with("maxDepth", (-1).into()),
                40101,
                "maxDepth requires a nonnegative argument, found: -1",
            ),
            err_case(
                "maxDepth fraction",
                with("maxDepth", 1.5.into()),
                40102,
                "maxDepth could not be represented as a long long: 1",
            ),
            err_case(
                "from type",
                with("from", 1.into()),
                40103,
                "expected string as argument for from, found: int",
            ),
            err_case(
                "depthField type",
                with("depthField", true.into()),
                40103,
                "expected string as argument for depthField, found: bool",
            ),
            err_case(
                "unknown argument",
                with("pipeline", Bson::Array(vec![])),
                40104,
                "Unknown argument to $graphLookup: pipeline",
            ),
            err_case(
                "restriction type",
                with("restrictSearchWithMatch", 1.into()),
                40185,
                "restrictSearchWithMatch must be an object, found int",
            ),
            err_case(
                "as path",
                with("as", "$d".into()),
                16410,
                "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
            ),
        ],
        parse,
    );
    let e = parse(&with("restrictSearchWithMatch", Bson::Document(doc! {"$foo": 1}))).unwrap_err();
    assert!(
        e.message
            .starts_with("Failed to parse 'restrictSearchWithMatch' option to $graphLookup :: caused by :: "),
        "{e}"
    );
}
