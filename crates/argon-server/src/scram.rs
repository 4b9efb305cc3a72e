//! The server side of SCRAM (RFC 5802; SHA-256 from RFC 7677) as MongoDB
//! uses it.
//!
//! ```text
//!  client                                        server
//!  client-first  n,,n=USER,r=CNONCE        ─▶    look up the user's credential
//!                                          ◀─    server-first  r=CNONCE+SNONCE,s=SALT,i=ITER
//!  client-final  c=biws,r=NONCE,p=PROOF    ─▶    check the proof against StoredKey
//!                                          ◀─    server-final  v=SERVER-SIGNATURE
//! ```
//!
//! The server keeps only `StoredKey = H(HMAC(SaltedPassword, "Client Key"))`
//! and `ServerKey = HMAC(SaltedPassword, "Server Key")` with the salt and
//! the iteration count: enough to check a proof and to prove itself to the
//! client, never enough to log in as the user.
//!
//! MongoDB's twist on the password fed to PBKDF2: SCRAM-SHA-1 uses the
//! legacy digest `hex(md5("USER:mongo:PASSWORD"))`; SCRAM-SHA-256 uses the
//! SASLprep'd password (RFC 4013).

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use rand::RngCore;
use sha1::{Digest, Sha1};
use sha2::Sha256;

/// A SCRAM variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mechanism {
    ScramSha1,
    ScramSha256,
}

impl Mechanism {
    pub const ALL: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha1];

    /// The SASL mechanism name.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    pub fn from_name(name: &str) -> Option<Mechanism> {
        match name {
            "SCRAM-SHA-1" => Some(Mechanism::ScramSha1),
            "SCRAM-SHA-256" => Some(Mechanism::ScramSha256),
            _ => None,
        }
    }

    /// PBKDF2 rounds for new credentials (MongoDB's `scramIterationCount`
    /// and `scramSHA256IterationCount` defaults). Drivers refuse fewer than
    /// 4096.
    pub fn default_iterations(self) -> u32 {
        match self {
            Mechanism::ScramSha1 => 10_000,
            Mechanism::ScramSha256 => 15_000,
        }
    }

    /// Salt length for new credentials (MongoDB's: digest size − 4).
    fn salt_len(self) -> usize {
        match self {
            Mechanism::ScramSha1 => 16,
            Mechanism::ScramSha256 => 28,
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mechanism::ScramSha1 => Sha1::digest(data).to_vec(),
            Mechanism::ScramSha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Mechanism::ScramSha1 => run::<Hmac<Sha1>>(key, data),
            Mechanism::ScramSha256 => run::<Hmac<Sha256>>(key, data),
        }
    }

    /// `Hi()` of the RFC: PBKDF2 with HMAC of this hash, one output block.
    fn hi(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Mechanism::ScramSha1 => {
                let mut out = vec![0u8; 20];
                pbkdf2::pbkdf2::<Hmac<Sha1>>(password, salt, iterations, &mut out)
                    .expect("HMAC takes keys of any length");
                out
            }
            Mechanism::ScramSha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iterations, &mut out)
                    .expect("HMAC takes keys of any length");
                out
            }
        }
    }

    /// The password MongoDB feeds to PBKDF2 for this mechanism.
    pub fn prepare_password(self, user: &str, password: &str) -> Result<String, ScramError> {
        match self {
            Mechanism::ScramSha1 => {
                let digest = Md5::digest(format!("{user}:mongo:{password}").as_bytes());
                Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
            }
            Mechanism::ScramSha256 => stringprep::saslprep(password)
                .map(|p| p.into_owned())
                .map_err(|_| ScramError::new("the password is not valid under SASLprep (RFC 4013)")),
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an exchange failed. Every failure is reported to the client as the
/// same `AuthenticationFailed`; the message is for the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramError(String);

impl ScramError {
    fn new(msg: impl Into<String>) -> ScramError {
        ScramError(msg.into())
    }
}

impl fmt::Display for ScramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScramError {}

/// What the server stores for one user and mechanism.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential").field("iterations", &self.iterations).finish_non_exhaustive()
    }
}

impl Credential {
    /// A new credential with a random salt and the default iteration count.
    pub fn generate(mech: Mechanism, user: &str, password: &str) -> Result<Credential, ScramError> {
        let mut salt = vec![0u8; mech.salt_len()];
        rand::rng().fill_bytes(&mut salt);
        let prepared = mech.prepare_password(user, password)?;
        Ok(Credential::derive(mech, prepared.as_bytes(), &salt, mech.default_iterations()))
    }

    /// The credential for an already prepared password.
    pub fn derive(mech: Mechanism, prepared: &[u8], salt: &[u8], iterations: u32) -> Credential {
        let salted = mech.hi(prepared, salt, iterations);
        let client_key = mech.hmac(&salted, b"Client Key");
        Credential {
            iterations,
            salt: salt.to_vec(),
            stored_key: mech.hash(&client_key),
            server_key: mech.hmac(&salted, b"Server Key"),
        }
    }
}

/// A parsed client-first message.
#[derive(Debug, Clone)]
pub struct ClientFirst {
    /// The user name, with `=2C` and `=3D` decoded.
    pub user: String,
    gs2_header: String,
    bare: String,
    nonce: String,
}

impl ClientFirst {
    pub fn parse(payload: &[u8]) -> Result<ClientFirst, ScramError> {
        let msg = std::str::from_utf8(payload).map_err(|_| ScramError::new("client-first is not UTF-8"))?;
        // gs2-header: cbind-flag "," [authzid] ","
        let (flag, rest) =
            msg.split_once(',').ok_or_else(|| ScramError::new("client-first has no GS2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => {
                return Err(ScramError::new("channel binding is not supported; use SCRAM without -PLUS"))
            }
            _ => return Err(ScramError::new("client-first has a bad channel-binding flag")),
        }
        let (authzid, bare) =
            rest.split_once(',').ok_or_else(|| ScramError::new("client-first has no GS2 header"))?;
        if !authzid.is_empty() && !authzid.starts_with("a=") {
            return Err(ScramError::new("client-first has a bad authzid"));
        }
        let gs2_header = msg[..msg.len() - bare.len()].to_string();
        let mut parts = bare.split(',');
        let user = match parts.next() {
            Some(p) if p.starts_with("m=") => {
                return Err(ScramError::new("mandatory SCRAM extensions are not supported"))
            }
            Some(p) => decode_saslname(attribute(p, 'n')?)?,
            None => return Err(ScramError::new("client-first has no user name")),
        };
        let nonce = attribute(parts.next().unwrap_or(""), 'r')?;
        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err(ScramError::new("client nonce is empty or not printable"));
        }
        if authzid.len() > 2 && decode_saslname(&authzid[2..])? != user {
            return Err(ScramError::new("authorization identity differs from the user name"));
        }
        Ok(ClientFirst { user, gs2_header, bare: bare.to_string(), nonce: nonce.to_string() })
    }
}

/// The server's half of one exchange, between server-first and
/// client-final.
#[derive(Debug, Clone)]
pub struct ServerExchange {
    mech: Mechanism,
    credential: Credential,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl ServerExchange {
    /// Answers a client-first with a fresh server nonce; returns the
    /// exchange and the server-first message.
    pub fn start(mech: Mechanism, first: &ClientFirst, credential: Credential) -> (ServerExchange, String) {
        let mut raw = [0u8; 24];
        rand::rng().fill_bytes(&mut raw);
        ServerExchange::start_with_nonce(mech, first, credential, &B64.encode(raw))
    }

    fn start_with_nonce(
        mech: Mechanism,
        first: &ClientFirst,
        credential: Credential,
        server_nonce: &str,
    ) -> (ServerExchange, String) {
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first =
            format!("r={nonce},s={},i={}", B64.encode(&credential.salt), credential.iterations);
        let ex = ServerExchange {
            mech,
            credential,
            gs2_header: first.gs2_header.clone(),
            client_first_bare: first.bare.clone(),
            server_first: server_first.clone(),
            nonce,
        };
        (ex, server_first)
    }

    /// Checks a client-final message; on success returns the server-final
    /// message (`v=...`) that proves the server knew the credential.
    pub fn finish(&self, payload: &[u8]) -> Result<String, ScramError> {
        let msg = std::str::from_utf8(payload).map_err(|_| ScramError::new("client-final is not UTF-8"))?;
        let (without_proof, proof) =
            msg.rsplit_once(",p=").ok_or_else(|| ScramError::new("client-final has no proof"))?;
        let mut parts = without_proof.split(',');
        let binding = attribute(parts.next().unwrap_or(""), 'c')?;
        let expected_binding = B64.encode(self.gs2_header.as_bytes());
        if binding != expected_binding {
            return Err(ScramError::new("channel binding does not match the GS2 header"));
        }
        if attribute(parts.next().unwrap_or(""), 'r')? != self.nonce {
            return Err(ScramError::new("nonce does not match"));
        }
        let proof = B64.decode(proof).map_err(|_| ScramError::new("proof is not base64"))?;
        let auth_message = format!("{},{},{without_proof}", self.client_first_bare, self.server_first);
        let signature = self.mech.hmac(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err(ScramError::new("proof has the wrong length"));
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        if !constant_time_eq(&self.mech.hash(&client_key), &self.credential.stored_key) {
            return Err(ScramError::new("wrong password"));
        }
        let server_signature = self.mech.hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

/// The value of `k=value`.
fn attribute(part: &str, key: char) -> Result<&str, ScramError> {
    let mut chars = part.chars();
    if chars.next() == Some(key) && chars.next() == Some('=') {
        Ok(&part[2..])
    } else {
        Err(ScramError::new(format!("expected attribute {key}= in {part:?}")))
    }
}

/// `saslname`: `=2C` is `,` and `=3D` is `=`; any other `=` is an error.
fn decode_saslname(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::new("user name has a bad '=' escape")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(ScramError::new("user name is empty"));
    }
    Ok(out)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the server side against a recorded exchange.
    fn replay(
        mech: Mechanism,
        password: &str,
        client_first: &str,
        server_first: &str,
        client_final: &str,
    ) -> Result<String, ScramError> {
        let first = ClientFirst::parse(client_first.as_bytes())?;
        let fields: Vec<&str> = server_first.split(',').collect();
        let nonce = &fields[0][2..];
        let salt = B64.decode(&fields[1][2..]).unwrap();
        let iterations: u32 = fields[2][2..].parse().unwrap();
        let cred = Credential::derive(mech, password.as_bytes(), &salt, iterations);
        let server_nonce = &nonce[first.nonce.len()..];
        let (ex, sent) = ServerExchange::start_with_nonce(mech, &first, cred, server_nonce);
        assert_eq!(sent, server_first);
        ex.finish(client_final.as_bytes())
    }

    #[test]
    fn rfc5802_sha1_example() {
        let out = replay(
            Mechanism::ScramSha1,
            "pencil",
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
        );
        assert_eq!(out.unwrap(), "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    }

    #[test]
    fn rfc7677_sha256_example() {
        let out = replay(
            Mechanism::ScramSha256,
            "pencil",
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(out.unwrap(), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn wrong_password_is_refused() {
        let out = replay(
            Mechanism::ScramSha256,
            "pencil2",
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(out.unwrap_err().to_string(), "wrong password");
    }

    #[test]
    fn tampered_nonce_or_binding_is_refused() {
        let first = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL";
        let server = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let bad_nonce = "c=biws,r=fyko+d2lbbFgONRv9qkxdawLXXXX,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
        let bad_binding =
            "c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
        assert!(replay(Mechanism::ScramSha1, "pencil", first, server, bad_nonce).is_err());
        assert!(replay(Mechanism::ScramSha1, "pencil", first, server, bad_binding).is_err());
    }

    #[test]
    fn mongodb_sha1_password_digest() {
        // hex(md5("user:mongo:pencil")), as every MongoDB driver computes it.
        let p = Mechanism::ScramSha1.prepare_password("user", "pencil").unwrap();
        assert_eq!(p, "1c33006ec1ffd90f9cadcbcc0e118200");
        assert_eq!(Mechanism::ScramSha256.prepare_password("user", "I\u{00AD}X").unwrap(), "IX");
        assert!(Mechanism::ScramSha256.prepare_password("user", "a\u{0007}").is_err());
    }

    #[test]
    fn client_first_parsing() {
        let f = ClientFirst::parse(b"n,,n=a=2Cb=3Dc,r=abc").unwrap();
        assert_eq!(f.user, "a,b=c");
        assert_eq!(f.gs2_header, "n,,");
        let f = ClientFirst::parse(b"y,a=bob,n=bob,r=xyz").unwrap();
        assert_eq!(f.gs2_header, "y,a=bob,");
        assert!(ClientFirst::parse(b"p=tls-unique,,n=bob,r=xyz").is_err());
        assert!(ClientFirst::parse(b"n,,m=ext,n=bob,r=xyz").is_err());
        assert!(ClientFirst::parse(b"n,,n=bob").is_err());
        assert!(ClientFirst::parse(b"n,,n=,r=x").is_err());
        assert!(ClientFirst::parse(b"n,,n=b=ob,r=x").is_err());
        assert!(ClientFirst::parse(b"n,a=eve,n=bob,r=xyz").is_err());
    }

    #[test]
    fn generated_credentials_verify_a_client_built_proof() {
        // Play the client with the same primitives, for both mechanisms.
        for mech in Mechanism::ALL {
            let cred = Credential::generate(mech, "alice", "s3cret").unwrap();
            let first = ClientFirst::parse(b"n,,n=alice,r=clientnonce").unwrap();
            let (ex, server_first) = ServerExchange::start(mech, &first, cred.clone());
            let nonce = &server_first.split(',').next().unwrap()[2..];
            let without_proof = format!("c=biws,r={nonce}");
            let salted = mech.hi(
                mech.prepare_password("alice", "s3cret").unwrap().as_bytes(),
                &cred.salt,
                cred.iterations,
            );
            let client_key = mech.hmac(&salted, b"Client Key");
            let auth = format!("n=alice,r=clientnonce,{server_first},{without_proof}");
            let sig = mech.hmac(&mech.hash(&client_key), auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            let reply = ex.finish(format!("{without_proof},p={}", B64.encode(proof)).as_bytes()).unwrap();
            let expected = mech.hmac(&mech.hmac(&salted, b"Server Key"), auth.as_bytes());
            assert_eq!(reply, format!("v={}", B64.encode(expected)), "{mech}");
        }
    }
}
