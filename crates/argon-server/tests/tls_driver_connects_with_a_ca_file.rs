//! `--tls-cert/--tls-key`: the official Rust driver connects over TLS,
//! verifying the server against a CA file; a plain-TCP client cannot talk
//! to it; a missing certificate stops the server from starting.

mod auth_support;

use argon_server::{ServerConfig, StartError, TlsFiles};
use auth_support::Server;
use bson::{doc, Document};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// Writes a CA and a server certificate for 127.0.0.1 and localhost signed
/// by it; returns (CA file, server TLS files).
fn make_certs(dir: &std::path::Path) -> (std::path::PathBuf, TlsFiles) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "argon test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "argon test server");
    let cert = params.signed_by(&key, &issuer).unwrap();

    let ca_file = dir.join("ca.pem");
    let files = TlsFiles { cert: dir.join("server.pem"), key: dir.join("server.key") };
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    (ca_file, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_connects_over_tls_and_plain_tcp_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    let (ca_file, files) = make_certs(certs.path());
    let server = Server::start(ServerConfig { tls: Some(files), ..ServerConfig::default() }).await;

    let tls = server.client(None, &format!("&tls=true&tlsCAFile={}", ca_file.display())).await;
    let c = tls.database("app").collection::<Document>("c");
    c.insert_one(doc! { "_id": 1, "over": "tls" }).await.unwrap();
    assert_eq!(c.find_one(doc! { "_id": 1 }).await.unwrap().unwrap().get_str("over").unwrap(), "tls");

    // Without TLS the handshake never completes.
    let plain = server.client(None, "&serverSelectionTimeoutMS=1500&connectTimeoutMS=1500").await;
    assert!(plain.database("admin").run_command(doc! { "ping": 1 }).await.is_err());
    // A client that does not trust the CA refuses the server.
    let untrusting = server.client(None, "&tls=true&serverSelectionTimeoutMS=1500").await;
    assert!(untrusting.database("admin").run_command(doc! { "ping": 1 }).await.is_err());

    let (result, _) = server.stop().await;
    result.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_auth_together() {
    let certs = tempfile::tempdir().unwrap();
    let (ca_file, files) = make_certs(certs.path());
    let config = ServerConfig { tls: Some(files), auth: true, ..ServerConfig::default() };
    let server = Server::start_with(config, false, |data| {
        argon_server::add_user(data, "tess", "tesspw", &["readWrite@app".parse().unwrap()]).unwrap();
    })
    .await;
    let extra = format!("&tls=true&tlsCAFile={}&authSource=admin", ca_file.display());
    let c = server.client(Some(("tess", "tesspw")), &extra).await;
    c.database("app").collection::<Document>("c").insert_one(doc! { "x": 1 }).await.unwrap();
    let _ = server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_mismatched_tls_files_stop_the_server_from_starting() {
    let certs = tempfile::tempdir().unwrap();
    let (_, files) = make_certs(certs.path());
    let missing = TlsFiles { cert: certs.path().join("nope.pem"), key: files.key.clone() };
    let server = Server::start(ServerConfig { tls: Some(missing), ..ServerConfig::default() }).await;
    let (result, _) = server.stop().await;
    assert!(matches!(result, Err(StartError::Tls(ref m)) if m.contains("nope.pem")), "{result:?}");

    // A key that is not the certificate's.
    let other_key = certs.path().join("other.key");
    std::fs::write(&other_key, KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let wrong = TlsFiles { cert: files.cert.clone(), key: other_key };
    let server = Server::start(ServerConfig { tls: Some(wrong), ..ServerConfig::default() }).await;
    let (result, _) = server.stop().await;
    assert!(matches!(result, Err(StartError::Tls(_))), "{result:?}");
}
