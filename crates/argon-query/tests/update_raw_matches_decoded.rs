//! `Update::apply_raw` (an operator update applied to stored BSON bytes,
//! decoding only the fields it names) must give exactly what
//! `Update::apply` gives on the decoded document: the same bytes in the
//! same field order, the same error, the same "nothing changed". Every
//! update below meets every document below.

use argon_query::Update;
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
                (Ok(None), Ok(after)) => assert_eq!(after, doc, "{case}: raw says unchanged"),
                (Ok(Some(bytes)), Ok(after)) => {
                    assert_ne!(after, doc, "{case}: raw says changed");
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
