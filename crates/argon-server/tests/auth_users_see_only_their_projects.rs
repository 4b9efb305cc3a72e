//! `--auth` over the official Rust driver: the first user through the
//! localhost exception, SCRAM-SHA-256, SCRAM-SHA-1 and mechanism
//! negotiation, roles per project (a user of one project cannot see or
//! touch another's branches), user management replies, and users that
//! survive a restart.

mod auth_support;

use argon_server::{Grant, Role, ServerConfig};
use auth_support::{error_code, is_auth_failure, Server};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};
use futures::TryStreamExt;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

fn auth_config() -> ServerConfig {
    ServerConfig { auth: true, ..ServerConfig::default() }
}

const SHA256: &str = "&authSource=admin&authMechanism=SCRAM-SHA-256";
const SHA1: &str = "&authSource=admin&authMechanism=SCRAM-SHA-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_users_read_and_write_only_their_project() {
    let server = Server::start(auth_config()).await;

    // Unauthenticated: the handshake and ping work, nothing else does.
    let anon = server.client(None, "").await;
    anon.database("admin").run_command(doc! { "ping": 1 }).await.unwrap();
    let e = anon.list_database_names().await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = anon.database("app").collection::<Document>("c").find_one(doc! {}).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");

    // The localhost exception creates the first user, then closes.
    anon.database("admin")
        .run_command(
            doc! { "createUser": "root", "pwd": "rootpw", "roles": [{ "role": "root", "db": "admin" }] },
        )
        .await
        .unwrap();
    let e = anon
        .database("admin")
        .run_command(
            doc! { "createUser": "sneaky", "pwd": "x", "roles": [{ "role": "root", "db": "admin" }] },
        )
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");

    let root = server.client(Some(("root", "rootpw")), SHA256).await;
    let admin_db = root.database("admin");
    root.database("app").collection::<Document>("c").insert_one(doc! { "_id": 1, "v": "app" }).await.unwrap();
    root.database("other")
        .collection::<Document>("c")
        .insert_one(doc! { "_id": 1, "v": "secret" })
        .await
        .unwrap();
    admin_db.run_command(doc! { "createBranch": "feature", "project": "app" }).await.unwrap();
    admin_db
        .run_command(
            doc! { "createUser": "alice", "pwd": "alicepw", "roles": [{ "role": "readWrite", "db": "app" }] },
        )
        .await
        .unwrap();
    admin_db
        .run_command(doc! { "createUser": "bob", "pwd": "bobpw", "roles": [{ "role": "read", "db": "app" }], "mechanisms": ["SCRAM-SHA-1"] })
        .await
        .unwrap();
    let e =
        admin_db.run_command(doc! { "createUser": "alice", "pwd": "again", "roles": [] }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(51003), "{e}");
    assert!(e.to_string().contains("User \"alice@admin\" already exists"), "{e}");
    let e = admin_db
        .run_command(
            doc! { "createUser": "carol", "pwd": "pw", "roles": [{ "role": "wizard", "db": "app" }] },
        )
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(31), "{e}");

    // alice negotiates the mechanism (saslSupportedMechs) and works in app
    // and its branches.
    let alice = server.client(Some(("alice", "alicepw")), "&authSource=admin").await;
    let app = alice.database("app").collection::<Document>("c");
    app.insert_one(doc! { "_id": 2, "v": "alice" }).await.unwrap();
    assert_eq!(app.count_documents(doc! {}).await.unwrap(), 2);
    let feature = alice.database("app~feature").collection::<Document>("c");
    feature.insert_one(doc! { "_id": 3 }).await.unwrap();
    let ids: Vec<Document> = feature.find(doc! {}).await.unwrap().try_collect().await.unwrap();
    assert_eq!(ids.len(), 2);
    let listed = alice.database("admin").run_command(doc! { "listBranches": "app" }).await.unwrap();
    assert_eq!(listed.get_array("branches").unwrap().len(), 2);

    // ... and cannot see or touch project other.
    let other = alice.database("other").collection::<Document>("c");
    let e = other.find_one(doc! {}).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    assert!(e.to_string().contains("not authorized on other"), "{e}");
    let e = other.insert_one(doc! { "x": 1 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    // $out/$merge into another project need readWrite there too; into a
    // branch of her project they work.
    let e = app.aggregate(vec![doc! { "$out": { "db": "other", "coll": "copy" } }]).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e =
        app.aggregate(vec![doc! { "$merge": { "into": { "db": "other", "coll": "c" } } }]).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    app.aggregate(vec![doc! { "$out": { "db": "app~feature", "coll": "copy" } }]).await.unwrap();
    let copy = alice.database("app~feature").collection::<Document>("copy");
    assert_eq!(copy.count_documents(doc! {}).await.unwrap(), 2);
    // A bulkWrite needs readWrite on every namespace it names.
    let bulk = |ns: Vec<&str>| {
        let ops: Vec<Document> = (0..ns.len()).map(|i| doc! { "insert": i as i32, "document": {} }).collect();
        let info: Vec<Document> = ns.iter().map(|n| doc! { "ns": *n }).collect();
        doc! { "bulkWrite": 1, "ops": ops, "nsInfo": info }
    };
    let e = alice.database("admin").run_command(bulk(vec!["app.c", "other.c"])).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let r = alice.database("admin").run_command(bulk(vec!["app.bulk", "app~feature.bulk"])).await.unwrap();
    assert_eq!(r.get_i32("nInserted").unwrap(), 2);
    let e = alice.database("admin").run_command(doc! { "listBranches": "other" }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = alice
        .database("admin")
        .run_command(doc! { "createBranch": "b2", "project": "other" })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let mut names = alice.list_database_names().await.unwrap();
    names.sort();
    assert_eq!(names, vec!["app".to_string(), "app~feature".to_string()]);
    let projects = alice.database("admin").run_command(doc! { "listProjects": 1 }).await.unwrap();
    assert_eq!(projects.get_array("projects").unwrap().len(), 1);
    // readWrite is not admin: no branch admin, no dropDatabase, no server commands.
    let e = alice
        .database("admin")
        .run_command(doc! { "createBranch": "b3", "project": "app" })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = alice.database("app~feature").drop().await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = alice.database("admin").run_command(doc! { "serverStatus": 1 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    // The WAL (every project's history) and the data dir's disk are the
    // deployment administrator's.
    for cmd in [doc! { "walDump": 1 }, doc! { "walVerify": 1 }, doc! { "dataDirHealth": 1 }] {
        let e = alice.database("admin").run_command(cmd.clone()).await.unwrap_err();
        assert_eq!(error_code(&e), Some(13), "{cmd}: {e}");
        root.database("admin").run_command(cmd).await.unwrap();
    }
    // A change stream over the whole server is the administrator's.
    let e = alice.watch().await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    // Users see themselves, not others.
    let me = alice.database("admin").run_command(doc! { "usersInfo": "alice" }).await.unwrap();
    let me = me.get_array("users").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(me.get_str("_id").unwrap(), "admin.alice");
    assert_eq!(me.get_array("roles").unwrap()[0], Bson::Document(doc! { "role": "readWrite", "db": "app" }));
    assert!(!me.contains_key("credentials"));
    let e = alice.database("admin").run_command(doc! { "usersInfo": 1 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = alice
        .database("admin")
        .run_command(doc! { "createUser": "mallory", "pwd": "pw", "roles": [{ "role": "admin", "db": "*" }] })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");

    // bob: SCRAM-SHA-1, read-only.
    let bob = server.client(Some(("bob", "bobpw")), SHA1).await;
    let bob_app = bob.database("app").collection::<Document>("c");
    assert_eq!(bob_app.count_documents(doc! {}).await.unwrap(), 2);
    let e = bob_app.insert_one(doc! { "x": 1 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = bob.database("app~feature").collection::<Document>("c").delete_many(doc! {}).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    // bob has no SCRAM-SHA-256 credential.
    let bob256 = server.client(Some(("bob", "bobpw")), SHA256).await;
    let e = bob256.list_database_names().await.unwrap_err();
    assert!(is_auth_failure(&e), "{e}");

    // Wrong password, unknown user: AuthenticationFailed.
    for (user, pw, extra) in [("alice", "wrong", SHA256), ("alice", "wrong", SHA1), ("nobody", "pw", SHA256)]
    {
        let c = server.client(Some((user, pw)), extra).await;
        let e = c.list_database_names().await.unwrap_err();
        assert!(is_auth_failure(&e), "{user}/{extra}: {e}");
        assert!(e.to_string().contains("Authentication failed"), "{e}");
    }

    // Role changes and drops apply to connections already authenticated.
    admin_db
        .run_command(doc! { "updateUser": "alice", "roles": [{ "role": "read", "db": "app" }] })
        .await
        .unwrap();
    let e = app.insert_one(doc! { "_id": 9 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    assert_eq!(app.count_documents(doc! {}).await.unwrap(), 2);
    admin_db.run_command(doc! { "dropUser": "bob" }).await.unwrap();
    let e = bob_app.count_documents(doc! {}).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = admin_db.run_command(doc! { "dropUser": "bob" }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(11), "{e}");
    let e = admin_db.run_command(doc! { "updateUser": "bob", "pwd": "x" }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(11), "{e}");

    // A new password replaces the old one.
    admin_db.run_command(doc! { "updateUser": "alice", "pwd": "newpw" }).await.unwrap();
    let old = server.client(Some(("alice", "alicepw")), SHA256).await;
    assert!(is_auth_failure(&old.list_database_names().await.unwrap_err()));
    let new = server.client(Some(("alice", "newpw")), SHA1).await;
    assert_eq!(new.database("app").collection::<Document>("c").count_documents(doc! {}).await.unwrap(), 2);

    // The administrator sees everyone, and credentials only on request.
    let all = admin_db.run_command(doc! { "usersInfo": 1 }).await.unwrap();
    let users: Vec<&str> = all
        .get_array("users")
        .unwrap()
        .iter()
        .map(|u| u.as_document().unwrap().get_str("user").unwrap())
        .collect();
    assert_eq!(users, vec!["alice", "root"]);
    let creds = admin_db.run_command(doc! { "usersInfo": "alice", "showCredentials": true }).await.unwrap();
    let u = creds.get_array("users").unwrap()[0].as_document().unwrap();
    let c = u.get_document("credentials").unwrap().get_document("SCRAM-SHA-256").unwrap();
    assert_eq!(c.get_i32("iterationCount").unwrap(), 15000);
    let status = admin_db.run_command(doc! { "connectionStatus": 1 }).await.unwrap();
    let auth_info = status.get_document("authInfo").unwrap();
    assert_eq!(
        auth_info.get_array("authenticatedUsers").unwrap()[0],
        Bson::Document(doc! { "user": "root", "db": "admin" })
    );
    let _ = server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_user_bootstraps_an_administrator_and_users_survive_a_restart() {
    let server = Server::start_with(auth_config(), false, |data| {
        argon_server::add_user(data, "ops", "opspw", &[Grant::server_admin()]).unwrap();
    })
    .await;
    // No localhost exception once a user exists.
    let anon = server.client(None, "").await;
    let e = anon
        .database("admin")
        .run_command(doc! { "createUser": "x", "pwd": "x", "roles": [] })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let ops = server.client(Some(("ops", "opspw")), SHA1).await;
    ops.database("shop")
        .run_command(doc! { "createUser": "dana", "pwd": "danapw", "roles": ["readWrite"] })
        .await
        .unwrap();
    let (result, dir) = server.stop().await;
    result.unwrap();
    let text = std::fs::read_to_string(dir.path().join("data").join(argon_server::USERS_FILE)).unwrap();
    assert!(!text.contains("danapw") && !text.contains("opspw"), "passwords must not be stored");

    let server = Server::start_in(dir, auth_config(), false).await;
    let dana = server.client(Some(("dana", "danapw")), "&authSource=shop").await;
    dana.database("shop").collection::<Document>("c").insert_one(doc! { "x": 1 }).await.unwrap();
    let e = dana.database("admin").run_command(doc! { "listBranches": "other" }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let _ = server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_user_file_stops_the_server_from_starting() {
    let server = Server::start_with(auth_config(), false, |data| {
        std::fs::write(data.join(argon_server::USERS_FILE), b"not json").unwrap();
    })
    .await;
    let (result, _) = server.stop().await;
    let e = result.unwrap_err();
    assert!(matches!(e, argon_server::StartError::Users(_)), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auth_everything_is_open_and_user_commands_say_so() {
    let server = Server::start(ServerConfig::default()).await;
    let c = server.client(None, "").await;
    c.database("app").collection::<Document>("c").insert_one(doc! { "x": 1 }).await.unwrap();
    c.database("admin").run_command(doc! { "serverStatus": 1 }).await.unwrap();
    let e = c
        .database("admin")
        .run_command(doc! { "createUser": "x", "pwd": "x", "roles": [] })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("--auth"), "{e}");
    let _ = server.stop().await;
    assert_eq!(Role::Read.name(), "read");
}

// --- SCRAM by hand, to drive the exchange shapes drivers do not all use ---

fn bin(bytes: impl Into<Vec<u8>>) -> Bson {
    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: bytes.into() })
}

fn payload_of(reply: &Document) -> String {
    match reply.get("payload") {
        Some(Bson::Binary(b)) => String::from_utf8(b.bytes.clone()).unwrap(),
        other => panic!("no payload in {reply}: {other:?}"),
    }
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The client-final for SCRAM-SHA-256 and the server signature it expects.
fn client_final(
    password: &str,
    client_first_bare: &str,
    server_first: &str,
    tamper: bool,
) -> (String, String) {
    let fields: Vec<&str> = server_first.split(',').collect();
    let nonce = &fields[0][2..];
    let salt = B64.decode(&fields[1][2..]).unwrap();
    let iterations: u32 = fields[2][2..].parse().unwrap();
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(password.as_bytes(), &salt, iterations, &mut salted).unwrap();
    let client_key = hmac256(&salted, b"Client Key");
    let stored_key = Sha256::digest(&client_key).to_vec();
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let signature = hmac256(&stored_key, auth_message.as_bytes());
    let mut proof: Vec<u8> = client_key.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
    if tamper {
        proof[0] ^= 1;
    }
    let server_signature = hmac256(&hmac256(&salted, b"Server Key"), auth_message.as_bytes());
    (format!("{without_proof},p={}", B64.encode(proof)), format!("v={}", B64.encode(server_signature)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_conversations_without_skip_empty_exchange_and_speculative_hello() {
    let server = Server::start_with(auth_config(), false, |data| {
        argon_server::add_user(data, "erin", "erinpw", &[Grant::new(Role::Read, "app")]).unwrap();
    })
    .await;
    // One pooled connection, so every command below shares its state.
    let c = server.client(None, "&maxPoolSize=1").await;
    let admin = c.database("admin");

    // Unknown user and tampered proof: 18 AuthenticationFailed.
    let e = admin
        .run_command(
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin("n,,n=nobody,r=abc") },
        )
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(18), "{e}");
    let bare = "n=erin,r=0123456789abcdef";
    let first = admin
        .run_command(
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(format!("n,,{bare}")) },
        )
        .await
        .unwrap();
    let (fin, _) = client_final("erinpw", bare, &payload_of(&first), true);
    let e = admin
        .run_command(doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(fin) })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(18), "{e}");
    let e = admin
        .run_command(doc! { "saslStart": 1, "mechanism": "PLAIN", "payload": bin("x") })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(334), "{e}");

    // MongoDB's original three steps: server-final, then an empty message.
    let first = admin
        .run_command(
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(format!("n,,{bare}")) },
        )
        .await
        .unwrap();
    assert!(!first.get_bool("done").unwrap());
    let server_first = payload_of(&first);
    assert!(server_first.starts_with("r=0123456789abcdef"), "{server_first}");
    let (fin, expected_v) = client_final("erinpw", bare, &server_first, false);
    let second = admin
        .run_command(doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(fin) })
        .await
        .unwrap();
    assert_eq!(payload_of(&second), expected_v, "the server proves it knows the credential");
    assert!(!second.get_bool("done").unwrap());
    // Not authenticated until the conversation is done.
    let e = c.database("app").list_collection_names().await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let third = admin
        .run_command(doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(Vec::new()) })
        .await
        .unwrap();
    assert!(third.get_bool("done").unwrap());
    c.database("app").list_collection_names().await.unwrap();
    admin.run_command(doc! { "logout": 1 }).await.unwrap();
    let e = c.database("app").list_collection_names().await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");

    // Speculative authentication: the server-first comes back in hello.
    let hello = admin
        .run_command(doc! {
            "hello": 1,
            "saslSupportedMechs": "admin.erin",
            "speculativeAuthenticate": {
                "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": bin(format!("n,,{bare}")),
                "options": { "skipEmptyExchange": true }, "db": "admin",
            },
        })
        .await
        .unwrap();
    let mechs = hello.get_array("saslSupportedMechs").unwrap();
    assert_eq!(mechs, &vec![Bson::from("SCRAM-SHA-256"), Bson::from("SCRAM-SHA-1")]);
    let spec = hello.get_document("speculativeAuthenticate").unwrap();
    let (fin, expected_v) = client_final("erinpw", bare, &payload_of(spec), false);
    let done = admin
        .run_command(doc! { "saslContinue": 1, "conversationId": 1, "payload": bin(fin) })
        .await
        .unwrap();
    assert!(done.get_bool("done").unwrap(), "skipEmptyExchange ends at server-final");
    assert_eq!(payload_of(&done), expected_v);
    c.database("app").list_collection_names().await.unwrap();
    let _ = server.stop().await;
}
