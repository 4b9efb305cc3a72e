//! `Update::apply_raw` (an operator update applied to stored BSON bytes,
//! decoding only the fields it names) must give exactly what
//! `Update::apply` gives on the decoded document: the same bytes in the
//! same field order, the same error, the same "nothing changed". Every
//! update below meets every document below.

use argon_query::{identical_documents, Update};
use bson::{doc, Bson, Document, RawDocumentBuf};

fn now() -> bson::DateTime {
    bson::DateTime::from_millis(1_700_000_000_123)
}

fn documents() -> Vec<Document> {
    vec![
        doc! {"_id": 1, "n": 5, "s": "x", "a": [1, 2, 3], "d": {"k": 1}},
        doc! {"_id": "two", "s": "y"},
        doc! {"_id": 3i64, "n": 2_147_483_647, "f": 1.5, "big": 9_223_372_036_854_775_807i64},
        doc! {"_id": 4, "n": -0.0, "z": Bson::Null, "t": true},
        doc! {"_id": {"o": 1}, "n": "not a number", "a": []},
        doc! {"n": 1, "_id": 6, "m": 7},
        doc! {"_id": 7, "tags": ["a", "b"], "n": bson::Decimal128::from_bytes([0; 16])},
    ]
}

fn updates() -> Vec<Document> {
    vec![
        doc! {"$inc": {"n": 1}},
        doc! {"$inc": {"n": 0}},
        doc! {"$inc": {"n": 0.0}},
        doc! {"$inc": {"n": 1i64, "m": 2}},
        doc! {"$inc": {"big": 1}},
        doc! {"$inc": {"new": 1.5}},
        doc! {"$set": {"s": "x"}},
        doc! {"$set": {"s": "changed", "b": 1, "a0": 2}},
        doc! {"$set": {"zz": 1, "aa": 2}, "$inc": {"n": 3}},
        doc! {"$set": {"n": 0.0}},
        doc! {"$set": {"d": {"k": 2}}},
        doc! {"$unset": {"s": "", "missing": ""}},
        doc! {"$mul": {"n": 2}},
        doc! {"$min": {"n": 0}, "$max": {"m": 100}},
        doc! {"$currentDate": {"when": true}},
        doc! {"$push": {"a": 4}},
        doc! {"$addToSet": {"tags": "c"}},
        doc! {"$pop": {"a": 1}},
        doc! {"$setOnInsert": {"ins": 1}},
        doc! {"$bit": {"n": {"and": 1}}},
        // Not for apply_raw: they reach into sub-documents, rename, or touch _id.
        doc! {"$set": {"d.k": 3}},
        doc! {"$inc": {"a.0": 1}},
        doc! {"$rename": {"s": "renamed"}},
        doc! {"$set": {"_id": 1}},
        doc! {"$set": {"a.$[]": 0}},
        // Not operators at all.
        doc! {"replaced": true},
    ]
}

#[test]
fn raw_updates_give_what_decoded_updates_give() {
    let (mut raw_applied, mut declined) = (0, 0);
    for update_doc in updates() {
        let update = Update::parse(&Bson::Document(update_doc.clone()), None).expect("valid update");
        for doc in documents() {
            let stored = RawDocumentBuf::try_from(&doc).unwrap();
            let decoded = update.apply(&doc, None, now());
            let Some(raw) = update.apply_raw(&stored, now()) else {
                declined += 1;
                continue;
            };
            raw_applied += 1;
            let case = format!("{update_doc} on {doc}");
            match (raw, decoded) {
                (Ok(None), Ok(after)) => {
                    assert!(identical_documents(&after, &doc), "{case}: raw says unchanged")
                }
                (Ok(Some(bytes)), Ok(after)) => {
                    assert!(!identical_documents(&after, &doc), "{case}: raw says changed");
                    let want = RawDocumentBuf::try_from(&after).unwrap();
                    assert_eq!(bytes.as_bytes(), want.as_bytes(), "{case}: {after} vs {:?}", bytes);
                }
                (Err(raw), Err(decoded)) => {
                    assert_eq!((raw.code, raw.to_string()), (decoded.code, decoded.to_string()), "{case}")
                }
                (raw, decoded) => panic!("{case}: raw {raw:?}, decoded {decoded:?}"),
            }
        }
    }
    // Both kinds were met (the lists above keep this so).
    assert!(raw_applied >= 100, "{raw_applied} applied raw");
    assert!(declined >= 40, "{declined} declined");
}

#[test]
fn a_document_with_a_repeated_field_is_declined() {
    // {_id: 1, n: 1, n: 2}: decoding keeps one `n`, bytes keep both.
    let mut stored = RawDocumentBuf::new();
    stored.append(bson::raw::cstr!("_id"), 1);
    stored.append(bson::raw::cstr!("n"), 1);
    stored.append(bson::raw::cstr!("n"), 2);
    let update = Update::parse(&Bson::Document(doc! {"$inc": {"m": 1}}), None).unwrap();
    assert!(update.apply_raw(&stored, now()).is_none());
}

mod generated {
    //! The same comparison over generated documents and `$set`/`$inc`
    //! updates (the kind `apply_raw` works out without building documents).
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 5] = ["a", "b", "n", "s", "zz"];

    fn number() -> impl Strategy<Value = Bson> {
        prop_oneof![
            any::<i32>().prop_map(Bson::Int32),
            prop_oneof![Just(i32::MAX), Just(i32::MIN), Just(0), Just(1), Just(-1)].prop_map(Bson::Int32),
            any::<i64>().prop_map(Bson::Int64),
            prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(0i64), Just(1i64)].prop_map(Bson::Int64),
            prop_oneof![Just(0.0), Just(-0.0), Just(1.5), Just(f64::NAN), Just(f64::INFINITY)]
                .prop_map(Bson::Double),
            any::<f64>().prop_map(Bson::Double),
        ]
    }

    fn value() -> impl Strategy<Value = Bson> {
        prop_oneof![
            4 => number(),
            1 => "[a-c]{0,3}".prop_map(Bson::String),
            1 => any::<bool>().prop_map(Bson::Boolean),
            1 => Just(Bson::Null),
            1 => (0..3i32).prop_map(|i| Bson::Document(doc! {"k": i})),
            1 => (0..3i32).prop_map(|i| Bson::Array(vec![Bson::Int32(i)])),
        ]
    }

    fn document() -> impl Strategy<Value = Document> {
        (
            prop_oneof![any::<i32>().prop_map(Bson::Int32), "[a-z]{1,4}".prop_map(Bson::String)],
            proptest::collection::vec((0..NAMES.len(), value()), 0..5),
        )
            .prop_map(|(id, fields)| {
                let mut d = doc! {"_id": id};
                for (i, v) in fields {
                    d.insert(NAMES[i], v);
                }
                d
            })
    }

    fn update() -> impl Strategy<Value = Document> {
        (
            proptest::collection::btree_map(0..NAMES.len(), value(), 0..3),
            proptest::collection::btree_map(0..NAMES.len(), number(), 0..3),
        )
            .prop_filter_map("one operator per field, at least one", |(set, inc)| {
                if set.keys().any(|k| inc.contains_key(k)) || (set.is_empty() && inc.is_empty()) {
                    return None;
                }
                let mut u = Document::new();
                if !set.is_empty() {
                    u.insert(
                        "$set",
                        set.into_iter().map(|(k, v)| (NAMES[k].to_string(), v)).collect::<Document>(),
                    );
                }
                if !inc.is_empty() {
                    u.insert(
                        "$inc",
                        inc.into_iter().map(|(k, v)| (NAMES[k].to_string(), v)).collect::<Document>(),
                    );
                }
                Some(u)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn set_and_inc_raw_give_what_decoded_gives(doc in document(), update_doc in update()) {
            let update = Update::parse(&Bson::Document(update_doc.clone()), None).expect("valid update");
            let stored = RawDocumentBuf::try_from(&doc).unwrap();
            let decoded = update.apply(&doc, None, now());
            let raw = update.apply_raw(&stored, now()).expect("top-level $set/$inc are applied raw");
            let case = format!("{update_doc} on {doc}");
            match (raw, decoded) {
                (Ok(None), Ok(after)) => prop_assert!(identical_documents(&after, &doc), "{}: raw says unchanged", case),
                (Ok(Some(bytes)), Ok(after)) => {
                    prop_assert!(!identical_documents(&after, &doc), "{}: raw says changed", case);
                    let want = RawDocumentBuf::try_from(&after).unwrap();
                    prop_assert_eq!(bytes.as_bytes(), want.as_bytes(), "{}", case);
                }
                (Err(raw), Err(decoded)) => {
                    prop_assert_eq!((raw.code, raw.to_string()), (decoded.code, decoded.to_string()), "{}", case)
                }
                (raw, decoded) => prop_assert!(false, "{}: raw {:?}, decoded {:?}", case, raw, decoded),
            }
        }
    }
}

/// `Update::parse_raw` gives the `Update` that `Update::parse` gives on the
/// decoded document, or declines; it declines nothing common.
#[test]
fn updates_parsed_from_bytes_are_the_decoded_ones() {
    let mut odd = vec![
        doc! {},
        doc! {"$inc": {}},
        doc! {"$nope": {"n": 1}},
        doc! {"$inc": 1},
        doc! {"$inc": {"n": 1}, "$set": {"n": 2}},
        doc! {"$set": {"a": 1, "a.b": 2}},
        doc! {"$set": {"a.$[x]": 1}},
        doc! {"$inc": {"n": "one"}},
    ];
    let mut all = updates();
    all.append(&mut odd);
    let mut parsed_raw = 0;
    for update_doc in all {
        let raw = RawDocumentBuf::try_from(&update_doc).unwrap();
        let decoded = Update::parse(&Bson::Document(update_doc.clone()), None);
        match (Update::parse_raw(&raw), decoded) {
            (Some(from_raw), Ok(decoded)) => {
                parsed_raw += 1;
                assert_eq!(format!("{from_raw:?}"), format!("{decoded:?}"), "{update_doc}");
            }
            (Some(from_raw), Err(e)) => {
                panic!("{update_doc}: parsed from bytes as {from_raw:?}, decoded: {e}")
            }
            (None, _) => {
                let first = update_doc.keys().next().map(String::as_str).unwrap_or("");
                let common = ["$set", "$inc", "$unset", "$push", "$mul", "$min"];
                assert!(
                    !common.contains(&first)
                        || Update::parse(&Bson::Document(update_doc.clone()), None).is_err(),
                    "{update_doc}: a valid common update was declined"
                );
            }
        }
    }
    assert!(parsed_raw >= 20, "{parsed_raw} parsed from bytes");
    // A repeated operator: decoding keeps one, so the bytes are declined.
    let mut repeated = RawDocumentBuf::new();
    repeated.append(bson::raw::cstr!("$inc"), bson::rawdoc! {"n": 1});
    repeated.append(bson::raw::cstr!("$inc"), bson::rawdoc! {"m": 1});
    assert!(Update::parse_raw(&repeated).is_none());
}
