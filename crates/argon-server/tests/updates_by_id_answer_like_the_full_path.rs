//! `update` of one document by `_id`, with its statement in an OP_MSG
//! document sequence (what `update_one({_id: ...})` sends), takes a fast
//! lane (see the server's `fast_path` module). Two servers get the same
//! requests: one as drivers send them (fast lane where it applies), the
//! other with a `comment` added (which the fast lane does not take). Every
//! reply and the data left behind must be the same.

mod common;

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use common::{time_lsns, without_time, RawClient, TestServer};

/// (body, update statements sent as a sequence)
fn requests() -> Vec<(Document, Vec<Document>)> {
    let lsid = doc! { "id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![9; 16] } };
    let upd = |db: &str| doc! { "update": "c", "$db": db };
    let one = |q: Document, u: Document| vec![doc! {"q": q, "u": u}];
    vec![
        // Operators on an existing document; a second write to the same one.
        (upd("app"), one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}, "$set": {"s": "x"}})),
        (upd("app"), one(doc! {"_id": 1}, doc! {"$inc": {"n": 5}, "$push": {"tags": "t"}})),
        // Nothing changes: matched, not modified, nothing written.
        (upd("app"), one(doc! {"_id": 1}, doc! {"$set": {"s": "x"}})),
        (upd("app"), one(doc! {"_id": 5}, doc! {"$inc": {"f": 0.0}, "$max": {"big": 0}})),
        // Top-level fields (worked on as stored bytes): new fields come
        // after the others in path order, whatever the order asked;
        // numbers change type as MongoDB's do; fields go.
        (upd("app"), one(doc! {"_id": 5}, doc! {"$set": {"zz": 1, "aa": {"x": [1]}}, "$inc": {"big": 1}})),
        (upd("app"), one(doc! {"_id": 5}, doc! {"$inc": {"f": 1, "new": 2_i64}, "$min": {"aa": 0}})),
        (upd("app"), one(doc! {"_id": 5}, doc! {"$unset": {"zz": ""}, "$mul": {"f": 0.5}})),
        // A number operator on a string: the full path's TypeMismatch.
        (upd("app"), one(doc! {"_id": 1}, doc! {"$inc": {"s": 1}})),
        // No such document (and no such collection).
        (upd("app"), one(doc! {"_id": 404}, doc! {"$inc": {"n": 1}})),
        (doc! { "update": "nothing", "$db": "app" }, one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})),
        // Numbers of another type are the same _id; string and ObjectId _ids.
        (upd("app"), one(doc! {"_id": 2_i64}, doc! {"$mul": {"n": 3}})),
        (upd("app"), one(doc! {"_id": "s"}, doc! {"$unset": {"gone": ""}})),
        (upd("app"), one(doc! {"_id": bson::oid::ObjectId::from_bytes([1; 12])}, doc! {"$set": {"o": true}})),
        // A replacement keeps the _id.
        (upd("app"), one(doc! {"_id": 3}, doc! {"fresh": 1})),
        // Errors, made by the full path in both: changing _id, an unknown
        // operator, a positional update the filter cannot resolve, a
        // unique index violation.
        (upd("app"), one(doc! {"_id": 1}, doc! {"$set": {"_id": 99}})),
        (upd("app"), one(doc! {"_id": 1}, doc! {"$frobnicate": {"n": 1}})),
        (upd("app"), one(doc! {"_id": 1}, doc! {"$set": {"tags.$": "y"}})),
        (upd("app"), one(doc! {"_id": 2}, doc! {"$set": {"u": "taken"}})),
        // Shapes the fast lane leaves to the full path: upsert, multi, two
        // statements, a non-_id filter, array filters, a write concern.
        (upd("app"), vec![doc! {"q": {"_id": 10}, "u": {"$set": {"a": 1}}, "upsert": true}]),
        (upd("app"), vec![doc! {"q": {"_id": 1}, "u": {"$inc": {"n": 1}}, "multi": true}]),
        (
            upd("app"),
            vec![
                doc! {"q": {"_id": 1}, "u": {"$inc": {"n": 1}}},
                doc! {"q": {"_id": 2}, "u": {"$inc": {"n": 1}}},
            ],
        ),
        (upd("app"), one(doc! {"n": 3}, doc! {"$set": {"by_n": true}})),
        (
            upd("app"),
            vec![doc! {"q": {"_id": 1}, "u": {"$set": {"tags.$[t]": "z"}}, "arrayFilters": [{"t": "t"}]}],
        ),
        (
            doc! { "update": "c", "writeConcern": {"w": 1}, "$db": "app" },
            one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}),
        ),
        // An unknown branch, a read-only view, a project that does not exist.
        (upd("app~nope"), one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})),
        (upd("app~main@1"), one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})),
        (upd("fresh"), one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}})),
        // A retryable write, its retry (applied once), and the next one.
        (
            doc! { "update": "c", "lsid": lsid.clone(), "txnNumber": 1_i64, "$db": "app" },
            one(doc! {"_id": 2}, doc! {"$inc": {"n": 100}}),
        ),
        (
            doc! { "update": "c", "lsid": lsid.clone(), "txnNumber": 1_i64, "$db": "app" },
            one(doc! {"_id": 2}, doc! {"$inc": {"n": 100}}),
        ),
        (
            doc! { "update": "c", "lsid": lsid, "txnNumber": 2_i64, "$db": "app" },
            one(doc! {"_id": 2}, doc! {"$inc": {"n": 100}}),
        ),
    ]
}

async fn contents(c: &mut RawClient) -> Vec<Bson> {
    let r = c
        .command(doc! {"find": "c", "filter": {}, "sort": {"_id": 1}, "batchSize": 1000, "$db": "app"})
        .await;
    r.get_document("cursor").unwrap().get_array("firstBatch").unwrap().clone()
}

#[tokio::test]
async fn fast_and_full_paths_give_the_same_replies_and_data() {
    let (fast, full) = (TestServer::start().await, TestServer::start().await);
    let mut f = RawClient::connect(fast.addr).await;
    let mut s = RawClient::connect(full.addr).await;
    let seed = doc! {"insert": "c", "documents": [
        {"_id": 1, "n": 1, "tags": ["a"]},
        {"_id": 2, "n": 2},
        {"_id": 3, "n": 3, "gone": 1},
        {"_id": "s", "gone": 1},
        {"_id": bson::oid::ObjectId::from_bytes([1; 12])},
        {"_id": 4, "u": "taken"},
        {"_id": 5, "big": i32::MAX, "f": 1},
    ], "$db": "app"};
    for c in [&mut f, &mut s] {
        let r = c.command(seed.clone()).await;
        assert_eq!(r.get_i32("n").unwrap(), 7, "{r}");
        let r = c
            .command(doc! {"createIndexes": "c", "indexes": [{"key": {"u": 1}, "name": "u_1", "unique": true, "sparse": true}], "$db": "app"})
            .await;
        assert_eq!(r.get_f64("ok").unwrap(), 1.0, "{r}");
    }
    let before = contents(&mut f).await;
    for (body, stmts) in requests() {
        let a = f.command_with_sequence(body.clone(), Some(("updates", stmts.clone()))).await;
        let mut slow = body.clone();
        slow.insert("comment", "full path");
        let b = s.command_with_sequence(slow, Some(("updates", stmts.clone()))).await;
        // Both servers saw the same writes: the same LSNs in the times.
        assert_eq!(time_lsns(&a), time_lsns(&b), "{body} {stmts:?}");
        assert!(time_lsns(&a).iter().all(Option::is_some), "{a}");
        assert_eq!(without_time(a.clone()), without_time(b), "{body} {stmts:?}");
        // A write's reply names its commit point.
        if a.get_i32("nModified").ok() == Some(1) {
            assert!(matches!(a.get("operationTime"), Some(Bson::Timestamp(_))), "{a}");
        }
        // The same documents after every request, fields in the same order
        // (document equality ignores the order; the debug text does not).
        let (a, b) = (contents(&mut f).await, contents(&mut s).await);
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "after {body} {stmts:?}");
    }
    let (a, b) = (contents(&mut f).await, contents(&mut s).await);
    assert_eq!(a, b);
    assert_ne!(a, before, "the updates changed the documents");
    // 2, times 3, plus 1 (the two-statement update), plus 100 for the
    // retryable write (its retry applied nothing) and 100 for the next one.
    let two = a.iter().find_map(|d| d.as_document().filter(|d| d.get_i32("_id").ok() == Some(2))).unwrap();
    assert_eq!(two.get_i32("n").unwrap(), 207, "{two}");
    drop((f, s)); // open connections would hold the shutdown for its grace period
    fast.stop().await;
    full.stop().await;
}

/// An update changed nothing when the document would be stored as the same
/// bytes, as MongoDB decides: a NaN elsewhere in the document does not make
/// it "changed", `-0.0` set to `0.0` does. The same in the lane and on the
/// full path.
#[tokio::test]
async fn no_op_updates_are_decided_on_the_stored_bytes() {
    let server = TestServer::start().await;
    let mut c = RawClient::connect(server.addr).await;
    // One document for the lane, one for the full path, alike.
    let seed = doc! {"insert": "c", "documents": [
        {"_id": 1, "n": 0, "x": f64::NAN, "z": -0.0},
        {"_id": 2, "n": 0, "x": f64::NAN, "z": -0.0},
    ], "$db": "app"};
    assert_eq!(c.command(seed).await.get_i32("n").unwrap(), 2);
    let cases = [
        (doc! {"$inc": {"n": 0}}, 0),
        (doc! {"$set": {"x": f64::NAN}}, 0),
        (doc! {"$set": {"n": 0, "x": f64::NAN}}, 0),
        (doc! {"$set": {"z": 0.0}}, 1),
        (doc! {"$set": {"z": -0.0}}, 1),
        (doc! {"$set": {"n": 0.0}}, 1),
        (doc! {"$set": {"n": 0.0}}, 0),
    ];
    for (update, modified) in cases {
        for (id, full_path) in [(1, false), (2, true)] {
            let mut body = doc! { "update": "c", "$db": "app" };
            if full_path {
                body.insert("comment", "full path");
            }
            let stmts = vec![doc! {"q": {"_id": id}, "u": update.clone()}];
            let r = c.command_with_sequence(body, Some(("updates", stmts))).await;
            assert_eq!(r.get_i32("n").unwrap(), 1, "{update}: {r}");
            assert_eq!(r.get_i32("nModified").unwrap(), modified, "{update} (full path: {full_path}): {r}");
        }
    }
    drop(c);
    server.stop().await;
}
