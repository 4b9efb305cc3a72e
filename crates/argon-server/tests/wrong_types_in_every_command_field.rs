//! Every command the server lists (`listCommands`), with its own name's
//! value and each of a set of field names set to values of every BSON type
//! (an fsync lock a request takes is undone after it, so writes go on):
//! each request gets a reply with `ok` (an error or a result), never a
//! closed connection or a hang, and afterwards the server still serves and
//! the data written before is intact.

mod common;

use std::time::Duration;

use bson::{doc, Bson, Document};
use common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Fields that commands take (a union over the commands; a command ignores
/// or refuses the ones it does not know).
const FIELDS: &[&str] = &[
    "filter",
    "query",
    "q",
    "u",
    "update",
    "updates",
    "deletes",
    "documents",
    "sort",
    "projection",
    "limit",
    "skip",
    "batchSize",
    "pipeline",
    "cursor",
    "key",
    "keys",
    "indexes",
    "index",
    "new",
    "upsert",
    "remove",
    "fields",
    "hint",
    "collation",
    "let",
    "writeConcern",
    "readConcern",
    "ordered",
    "comment",
    "maxTimeMS",
    "name",
    "project",
    "from",
    "to",
    "lsn",
    "time",
    "backup",
    "protected",
    "lock",
    "scale",
    "validator",
    "viewOn",
    "capped",
    "size",
    "max",
    "collection",
    "getMore",
    "ops",
    "nsInfo",
    "definition",
    "user",
    "pwd",
    "roles",
    "op",
    "full",
    "filterName",
    "nameOnly",
    "autocommit",
    "txnNumber",
    "lsid",
    "startTransaction",
    "min",
    "max",
    "returnKey",
    "dropTarget",
    "expireAfterSeconds",
    "arrayFilters",
    "bypassDocumentValidation",
];

fn values() -> Vec<Bson> {
    vec![
        Bson::Int32(-1),
        Bson::Int64(1 << 40),
        Bson::Double(f64::NAN),
        Bson::Double(1.5),
        Bson::String(String::new()),
        Bson::String("$bad.name".into()),
        Bson::Boolean(true),
        Bson::Null,
        Bson::Array(vec![Bson::Int32(1), Bson::Null]),
        Bson::Document(doc! { "$bogus": 1 }),
        Bson::Document(doc! {}),
        Bson::ObjectId(bson::oid::ObjectId::new()),
        Bson::DateTime(bson::DateTime::from_millis(-1)),
        Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![0, 255] }),
        Bson::RegularExpression(bson::Regex {
            pattern: "(".to_string().try_into().unwrap(),
            options: "z".to_string().try_into().unwrap(),
        }),
        Bson::Timestamp(bson::Timestamp { time: 0, increment: 0 }),
        Bson::MinKey,
        Bson::Decimal128(bson::Decimal128::from_bytes([0xff; 16])),
    ]
}

/// One OP_MSG request and its reply body; `Err` if the connection closed
/// or the reply did not come within 20 s.
async fn ask(stream: &mut tokio::net::TcpStream, id: i32, body: &Document) -> Result<Document, String> {
    let frame = argon_wire::encode_op_msg_request(id, 0, body, &[], None).map_err(|e| e.to_string())?;
    stream.write_all(&frame).await.map_err(|e| e.to_string())?;
    let read = async {
        let mut buf = Vec::new();
        loop {
            if let Ok(Some(len)) = argon_wire::frame_length(&buf) {
                if buf.len() >= len {
                    return match argon_wire::decode_response(&buf[..len]).map_err(|e| e.to_string())?.response
                    {
                        argon_wire::Response::Msg(m) => Ok(m.body),
                        other => Err(format!("unexpected reply {other:?}")),
                    };
                }
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .map_err(|_| "no reply within 20 s".to_string())?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_field_of_any_type_breaks_the_server() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let keep = client.database("keep").collection::<Document>("c");
    keep.insert_many((0..20).map(|i| doc! { "_id": i, "v": i })).await.unwrap();
    let listed = client.database("admin").run_command(doc! { "listCommands": 1 }).await.unwrap();
    let names: Vec<String> = listed.get_document("commands").unwrap().keys().cloned().collect();
    assert!(names.len() > 60, "{names:?}");

    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut id, mut replies) = (0, 0usize);
    let values = values();
    for (n, name) in names.iter().enumerate() {
        // A well-formed `shutdown` stops the server (by design, without a
        // reply); its bad input is tested in shutdown_command_stops_the_server.rs.
        if name == "shutdown" {
            continue;
        }
        // The command's own value in every type, on a project and on
        // `admin`; then each field with three of the types beside a
        // plausible value (rotating, so every field meets every type
        // across the commands while the test stays short).
        let mut requests: Vec<Document> = Vec::new();
        for db in ["fz", "admin"] {
            requests.extend(values.iter().map(|v| doc! { name.as_str(): v.clone(), "$db": db }));
        }
        for (f, field) in FIELDS.iter().enumerate() {
            for k in 0..3 {
                let v = values[(n + f * 3 + k) % values.len()].clone();
                requests.push(doc! { name.as_str(): "c", *field: v, "$db": "fz" });
            }
        }
        for body in requests {
            id += 1;
            let reply = match ask(&mut stream, id, &body).await {
                Ok(r) => r,
                Err(e) => panic!("{body}: {e}"),
            };
            assert!(reply.contains_key("ok"), "{body}: a reply without ok: {reply}");
            replies += 1;
            if name == "fsync" {
                // Undo any lock it took, or later writes would wait.
                let unlock = doc! { "fsyncUnlock": 1, "$db": "admin" };
                while ask(&mut stream, 0, &unlock).await.unwrap().get_f64("ok").ok() == Some(1.0) {}
            }
        }
    }
    // Still serving, over a new connection too; nothing written before is lost.
    assert_eq!(keep.count_documents(doc! {}).await.unwrap(), 20);
    assert_eq!(keep.find_one(doc! { "_id": 7 }).await.unwrap(), Some(doc! { "_id": 7, "v": 7 }));
    keep.insert_one(doc! { "_id": 100 }).await.unwrap();
    println!("{replies} requests answered");
    server.stop().await;
}
