//! Role management with `--auth` over the official Rust driver:
//! `grantRolesToUser` and `revokeRolesFromUser` change what a user may do
//! at once, `dropAllUsersFromDatabase` empties the user table on `admin`,
//! `rolesInfo` describes the built-in roles (with the commands each allows),
//! and only an administrator of every project may change roles or shut the
//! server down.

mod auth_support;

use argon_server::{Grant, ServerConfig};
use auth_support::{error_code, Server};
use bson::{doc, Bson, Document};

fn auth_config() -> ServerConfig {
    ServerConfig { auth: true, ..ServerConfig::default() }
}

const SHA256: &str = "&authSource=admin&authMechanism=SCRAM-SHA-256";

fn role_names(reply: &Document) -> Vec<String> {
    reply
        .get_array("roles")
        .unwrap()
        .iter()
        .map(|r| {
            let r = r.as_document().unwrap();
            format!("{}@{}", r.get_str("role").unwrap(), r.get_str("db").unwrap())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granted_and_revoked_roles_change_access_at_once() {
    let server = Server::start_with(auth_config(), false, |data| {
        argon_server::add_user(data, "ops", "opspw", &[Grant::server_admin()]).unwrap();
    })
    .await;
    let ops = server.client(Some(("ops", "opspw")), SHA256).await;
    let admin = ops.database("admin");
    ops.database("shop").collection::<Document>("c").insert_one(doc! { "_id": 1 }).await.unwrap();
    admin.run_command(doc! { "createUser": "erin", "pwd": "erinpw", "roles": [] }).await.unwrap();

    let erin = server.client(Some(("erin", "erinpw")), SHA256).await;
    let shop = erin.database("shop").collection::<Document>("c");
    let e = shop.find_one(doc! {}).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");

    // Granted: reads work, writes still do not.
    admin
        .run_command(doc! { "grantRolesToUser": "erin", "roles": [{ "role": "read", "db": "shop" }] })
        .await
        .unwrap();
    assert_eq!(shop.find_one(doc! {}).await.unwrap(), Some(doc! { "_id": 1 }));
    let e = shop.insert_one(doc! { "_id": 2 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    // A bare role name is a role on the command's database; granting one
    // already held adds nothing.
    ops.database("shop")
        .run_command(doc! { "grantRolesToUser": "erin", "roles": ["readWrite", "read"] })
        .await
        .unwrap();
    shop.insert_one(doc! { "_id": 2 }).await.unwrap();
    let info = admin.run_command(doc! { "usersInfo": "erin" }).await.unwrap();
    let user = info.get_array("users").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(role_names(&user), ["read@shop", "readWrite@shop"]);

    // Revoked: writes refused again, reads kept.
    admin
        .run_command(doc! { "revokeRolesFromUser": "erin", "roles": [{ "role": "readWrite", "db": "shop" }] })
        .await
        .unwrap();
    let e = shop.insert_one(doc! { "_id": 3 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    assert_eq!(shop.count_documents(doc! {}).await.unwrap(), 2);

    // Bad input.
    let bad = [
        (doc! { "grantRolesToUser": "nobody", "roles": ["read"] }, 11),
        (doc! { "grantRolesToUser": "erin", "roles": [{ "role": "wizard", "db": "shop" }] }, 31),
        (doc! { "grantRolesToUser": "erin" }, 2),
        (doc! { "revokeRolesFromUser": "erin", "roles": "read" }, 14),
        (doc! { "grantRolesToUser": 5, "roles": ["read"] }, 14),
    ];
    for (cmd, code) in bad {
        let e = ops.database("shop").run_command(cmd.clone()).await.unwrap_err();
        assert_eq!(error_code(&e), Some(code), "{cmd}: {e}");
    }
    // Only an administrator of every project may change roles or stop the server.
    let e = erin
        .database("admin")
        .run_command(doc! { "grantRolesToUser": "erin", "roles": [{ "role": "root", "db": "admin" }] })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = erin.database("admin").run_command(doc! { "shutdown": 1 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");
    let e = erin.database("admin").run_command(doc! { "dropAllUsersFromDatabase": 1 }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(13), "{e}");

    // rolesInfo: built-in roles only when asked, with what they include.
    let none = ops.database("shop").run_command(doc! { "rolesInfo": 1 }).await.unwrap();
    assert_eq!(none.get_array("roles").unwrap().len(), 0);
    let all =
        ops.database("shop").run_command(doc! { "rolesInfo": 1, "showBuiltinRoles": true }).await.unwrap();
    assert_eq!(role_names(&all), ["read@shop", "readWrite@shop", "dbOwner@shop", "admin@shop"]);
    let rw = erin
        .database("shop")
        .run_command(doc! { "rolesInfo": "readWrite", "showPrivileges": true })
        .await
        .unwrap();
    let rw = rw.get_array("roles").unwrap()[0].as_document().unwrap().clone();
    assert!(rw.get_bool("isBuiltin").unwrap());
    assert_eq!(role_names(&doc! { "roles": rw.get_array("inheritedRoles").unwrap().clone() }), ["read@shop"]);
    let privileges = rw.get_array("privileges").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(privileges.get_document("resource").unwrap(), &doc! { "db": "shop", "collection": "" });
    let actions: Vec<&str> =
        privileges.get_array("actions").unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(actions.contains(&"find") && actions.contains(&"insert"), "{actions:?}");
    assert!(!actions.contains(&"dropDatabase") && !actions.contains(&"serverStatus"), "{actions:?}");
    // A list, an unknown role left out, and the admin database's roles.
    let some = ops
        .database("admin")
        .run_command(doc! { "rolesInfo": ["root", { "role": "read", "db": "shop" }, "wizard"] })
        .await
        .unwrap();
    assert_eq!(role_names(&some), ["root@admin", "read@shop"]);
    let root = some.get_array("roles").unwrap()[0].as_document().unwrap().clone();
    assert_eq!(
        role_names(&doc! { "roles": root.get_array("inheritedRoles").unwrap().clone() }),
        ["readAnyDatabase@admin", "readWriteAnyDatabase@admin"]
    );
    let e = ops.database("shop").run_command(doc! { "rolesInfo": Bson::Null }).await.unwrap_err();
    assert_eq!(error_code(&e), Some(2), "{e}");
    let e = ops
        .database("shop")
        .run_command(doc! { "rolesInfo": "read", "showBuiltinRoles": true })
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), Some(2), "{e}");

    // dropAllUsersFromDatabase: none elsewhere, all of them on admin.
    let n = ops.database("shop").run_command(doc! { "dropAllUsersFromDatabase": 1 }).await.unwrap();
    assert_eq!(n.get_i32("n").unwrap(), 0);
    let n = admin.run_command(doc! { "dropAllUsersFromDatabase": 1 }).await.unwrap();
    assert_eq!(n.get_i32("n").unwrap(), 2);
    let after = server.client(Some(("erin", "erinpw")), SHA256).await;
    assert!(after.database("shop").collection::<Document>("c").find_one(doc! {}).await.is_err());
    let _ = server.stop().await;
}
