//! Users and roles for `--auth`, stored in `<data dir>/users.json`.
//!
//! A user has SCRAM credentials (salt, iteration count, StoredKey and
//! ServerKey per mechanism; never the password) and grants: a role on a
//! project, or on every project (`*`).
//!
//! | role | may |
//! |---|---|
//! | `read` | read every branch of the project (`app`, `app~feature`, `app~main@1500`) |
//! | `readWrite` | also write: insert, update, delete, create and drop collections and indexes |
//! | `admin` | also create, delete, protect and reset branches, drop the project or a branch's database |
//!
//! `admin` on `*` is the server administrator: it alone manages users and
//! runs server-wide diagnostics (`serverStatus`, `currentOp`, ...).
//! MongoDB's built-in roles on `admin` map onto these: `root` and
//! `userAdminAnyDatabase` are `admin@*`, `readWriteAnyDatabase` is
//! `readWrite@*`, `readAnyDatabase` is `read@*`; `dbOwner` on a project is
//! `admin` on it.
//!
//! The user namespace is global: `alice` authenticates with any
//! `authSource` and is reported as `alice@admin`.
//!
//! The file is rewritten whole on every change (temp file, fsync, rename,
//! fsync of the directory), so a crash leaves the old or the new table,
//! never a mix. It is created with mode 0600.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::scram::{Credential, Mechanism};

/// The user file's name inside the data dir.
pub const USERS_FILE: &str = "users.json";

/// What a grant allows, weakest first: each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    Read,
    ReadWrite,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::ReadWrite => "readWrite",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every project, in a grant.
pub const ALL_PROJECTS: &str = "*";

/// A role on one project, or on every project (`project == "*"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    /// The project name, or `*`. Serialised as `db`, MongoDB's field name.
    #[serde(rename = "db")]
    pub project: String,
}

impl Grant {
    pub fn new(role: Role, project: impl Into<String>) -> Grant {
        Grant { role, project: project.into() }
    }

    /// `admin` on every project: the server administrator.
    pub fn server_admin() -> Grant {
        Grant::new(Role::Admin, ALL_PROJECTS)
    }

    /// Reads MongoDB's `{role, db}` shape. `db` names a project or `*`;
    /// built-in role names are mapped as the module documentation says.
    pub fn from_mongo(role: &str, db: &str) -> Result<Grant, String> {
        let any = |r| Ok(Grant::new(r, ALL_PROJECTS));
        match (role, db) {
            ("root" | "userAdminAnyDatabase", "admin") => any(Role::Admin),
            ("readWriteAnyDatabase", "admin") => any(Role::ReadWrite),
            ("readAnyDatabase", "admin") => any(Role::Read),
            (_, "admin" | "local" | "config") => Err(format!(
                "Could not find role: {role}@{db}; in Argon {db} is not a project: grant read, readWrite or admin on a project, or on \"*\" for every project (root@admin is admin on \"*\")"
            )),
            ("read", _) => project_grant(Role::Read, db),
            ("readWrite", _) => project_grant(Role::ReadWrite, db),
            ("admin" | "dbOwner", _) => project_grant(Role::Admin, db),
            _ => Err(format!(
                "Could not find role: {role}@{db}; Argon's roles are read, readWrite and admin on a project or \"*\", and root@admin"
            )),
        }
    }

    /// Whether this grant gives at least `need` on `project`.
    pub fn covers(&self, project: &str, need: Role) -> bool {
        self.role >= need && (self.project == ALL_PROJECTS || self.project == project)
    }
}

fn project_grant(role: Role, db: &str) -> Result<Grant, String> {
    if db == ALL_PROJECTS {
        return Ok(Grant::new(role, ALL_PROJECTS));
    }
    // A grant names a project; `app~branch` would be a branch of it.
    let project = argon_types::names::DbAddress::parse(db).map_err(|e| e.to_string())?.project;
    if project != db {
        return Err(format!(
            "roles are granted per project, not per branch: use db: {project:?} (it covers every branch of {project})"
        ));
    }
    Ok(Grant::new(role, project))
}

/// `role@project`, as a command line takes it: `readWrite@app`, `admin@*`.
impl FromStr for Grant {
    type Err = String;
    fn from_str(s: &str) -> Result<Grant, String> {
        let (role, project) = s
            .split_once('@')
            .ok_or_else(|| format!("{s:?} is not ROLE@PROJECT (e.g. readWrite@app, admin@*)"))?;
        Grant::from_mongo(role, project)
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.role, self.project)
    }
}

/// One mechanism's stored credential, base64 fields as MongoDB shows them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredCredential {
    pub iteration_count: u32,
    pub salt: String,
    pub stored_key: String,
    pub server_key: String,
}

impl StoredCredential {
    fn from_credential(c: &Credential) -> StoredCredential {
        StoredCredential {
            iteration_count: c.iterations,
            salt: B64.encode(&c.salt),
            stored_key: B64.encode(&c.stored_key),
            server_key: B64.encode(&c.server_key),
        }
    }

    fn to_credential(&self) -> Option<Credential> {
        Some(Credential {
            iterations: self.iteration_count,
            salt: B64.decode(&self.salt).ok()?,
            stored_key: B64.decode(&self.stored_key).ok()?,
            server_key: B64.decode(&self.server_key).ok()?,
        })
    }
}

/// A user as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRecord {
    pub user: String,
    /// A random UUID (hex with dashes), MongoDB's `userId`.
    pub user_id: String,
    pub roles: Vec<Grant>,
    /// Mechanism name → credential.
    pub credentials: BTreeMap<String, StoredCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<serde_json::Value>,
}

impl UserRecord {
    /// A new user with credentials for `mechanisms` (derived here: this
    /// runs PBKDF2, some tens of milliseconds).
    pub fn new(
        user: &str,
        password: &str,
        roles: Vec<Grant>,
        mechanisms: &[Mechanism],
    ) -> Result<UserRecord, UsersError> {
        let mut record = UserRecord {
            user: user.to_string(),
            user_id: new_uuid(),
            roles,
            credentials: BTreeMap::new(),
            custom_data: None,
        };
        record.set_password(password, mechanisms)?;
        Ok(record)
    }

    /// Replaces the credentials.
    pub fn set_password(&mut self, password: &str, mechanisms: &[Mechanism]) -> Result<(), UsersError> {
        if password.is_empty() {
            return Err(UsersError::Invalid("Password cannot be empty".into()));
        }
        if mechanisms.is_empty() {
            return Err(UsersError::Invalid("mechanisms field must not be empty".into()));
        }
        self.credentials.clear();
        for &m in mechanisms {
            let c = Credential::generate(m, &self.user, password)
                .map_err(|e| UsersError::Invalid(format!("{m}: {e}")))?;
            self.credentials.insert(m.name().to_string(), StoredCredential::from_credential(&c));
        }
        Ok(())
    }

    pub fn mechanisms(&self) -> Vec<Mechanism> {
        self.credentials.keys().filter_map(|k| Mechanism::from_name(k)).collect()
    }

    pub fn credential(&self, mech: Mechanism) -> Option<Credential> {
        self.credentials.get(mech.name())?.to_credential()
    }

    pub fn can(&self, project: &str, need: Role) -> bool {
        self.roles.iter().any(|g| g.covers(project, need))
    }
}

/// Errors of the user table. Callers answer each with its own MongoDB code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    #[error("User \"{0}@admin\" already exists")]
    AlreadyExists(String),
    #[error("User {0}@admin not found")]
    NotFound(String),
    /// The localhost exception closed: a user was created meanwhile.
    #[error("the localhost exception only creates the first user, and a user now exists")]
    NotFirst,
    #[error("{0}")]
    Invalid(String),
    #[error("user file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("user file {path} is not valid: {message}; fix or remove it (removing it deletes every user)")]
    Corrupt { path: PathBuf, message: String },
}

#[derive(Serialize, Deserialize)]
struct UserFile {
    version: u32,
    users: Vec<UserRecord>,
}

const FILE_VERSION: u32 = 1;

/// The user table. Present in the server state only when `--auth` is on.
pub struct Users {
    path: PathBuf,
    table: RwLock<BTreeMap<String, UserRecord>>,
}

impl Users {
    /// Loads `<data_dir>/users.json` (no file: no users yet).
    pub fn open(data_dir: &Path) -> Result<Users, UsersError> {
        let path = data_dir.join(USERS_FILE);
        let table = load(&path)?;
        Ok(Users { path, table: RwLock::new(table) })
    }

    pub fn is_empty(&self) -> bool {
        self.table.read().is_empty()
    }

    pub fn get(&self, user: &str) -> Option<UserRecord> {
        self.table.read().get(user).cloned()
    }

    pub fn list(&self) -> Vec<UserRecord> {
        self.table.read().values().cloned().collect()
    }

    /// Whether `user` exists and holds at least `need` on `project`.
    pub fn can(&self, user: &str, project: &str, need: Role) -> bool {
        self.table.read().get(user).is_some_and(|u| u.can(project, need))
    }

    /// Adds a user. With `only_if_empty` (the localhost exception) it fails
    /// with [`UsersError::NotFirst`] unless the table is empty, checked
    /// under the same lock as the insert.
    pub fn create(&self, record: UserRecord, only_if_empty: bool) -> Result<(), UsersError> {
        self.change(|t| {
            if only_if_empty && !t.is_empty() {
                return Err(UsersError::NotFirst);
            }
            if t.contains_key(&record.user) {
                return Err(UsersError::AlreadyExists(record.user.clone()));
            }
            t.insert(record.user.clone(), record);
            Ok(())
        })
    }

    /// Changes a user in place.
    pub fn update(
        &self,
        user: &str,
        f: impl FnOnce(&mut UserRecord) -> Result<(), UsersError>,
    ) -> Result<(), UsersError> {
        self.change(|t| f(t.get_mut(user).ok_or_else(|| UsersError::NotFound(user.to_string()))?))
    }

    /// Removes every user at once; returns how many there were.
    pub fn remove_all(&self) -> Result<usize, UsersError> {
        let mut n = 0;
        self.change(|t| {
            n = t.len();
            t.clear();
            Ok(())
        })?;
        Ok(n)
    }

    pub fn remove(&self, user: &str) -> Result<(), UsersError> {
        self.change(|t| t.remove(user).map(|_| ()).ok_or_else(|| UsersError::NotFound(user.to_string())))
    }

    /// Applies `f` to a copy of the table, writes the copy durably, and only
    /// then makes it current, so a failed write changes nothing.
    fn change(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, UserRecord>) -> Result<(), UsersError>,
    ) -> Result<(), UsersError> {
        let mut table = self.table.write();
        let mut next = table.clone();
        f(&mut next)?;
        save(&self.path, &next)?;
        *table = next;
        Ok(())
    }
}

/// Creates a user in `data_dir`'s user file, or replaces the password and
/// roles of an existing one: how `argon serve --auth` gets its first
/// administrator without the localhost exception, for example
/// `add_user(dir, "admin", pw, &[Grant::server_admin()])`.
///
/// Call it while no server runs on `data_dir`: a running server keeps the
/// table in memory and would overwrite this change with its next one.
pub fn add_user(data_dir: &Path, user: &str, password: &str, roles: &[Grant]) -> Result<(), UsersError> {
    validate_user_name(user).map_err(UsersError::Invalid)?;
    let path = data_dir.join(USERS_FILE);
    let mut table = load(&path)?;
    let mut record = UserRecord::new(user, password, roles.to_vec(), &Mechanism::ALL)?;
    if let Some(old) = table.get(user) {
        record.user_id = old.user_id.clone();
        record.custom_data = old.custom_data.clone();
    }
    table.insert(user.to_string(), record);
    save(&path, &table)
}

/// MongoDB's rules for a user name, less the ones that cannot apply here.
pub fn validate_user_name(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("User name must not be empty".into());
    }
    if user.contains('\0') {
        return Err("User name must not contain NUL".into());
    }
    Ok(())
}

fn load(path: &Path) -> Result<BTreeMap<String, UserRecord>, UsersError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(UsersError::Io { path: path.to_path_buf(), source }),
    };
    let corrupt = |message: String| UsersError::Corrupt { path: path.to_path_buf(), message };
    let file: UserFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if file.version != FILE_VERSION {
        return Err(corrupt(format!("version {} (this build reads {FILE_VERSION})", file.version)));
    }
    let mut table = BTreeMap::new();
    for u in file.users {
        if u.credentials.values().any(|c| c.to_credential().is_none()) {
            return Err(corrupt(format!("user {:?} has a credential that is not base64", u.user)));
        }
        if table.insert(u.user.clone(), u).is_some() {
            return Err(corrupt("a user is listed twice".into()));
        }
    }
    Ok(table)
}

/// Writes the table durably: temp file, fsync, rename over, fsync the dir.
fn save(path: &Path, table: &BTreeMap<String, UserRecord>) -> Result<(), UsersError> {
    let io = |source| UsersError::Io { path: path.to_path_buf(), source };
    let file = UserFile { version: FILE_VERSION, users: table.values().cloned().collect() };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| io(std::io::Error::other(e)))?;
    bytes.push(b'\n');
    crate::durable_file::write_durably(path, &bytes).map_err(io)
}

/// A random (version 4) UUID's bytes.
pub fn new_uuid_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// A random (version 4) UUID in its usual text form.
fn new_uuid() -> String {
    let b = new_uuid_bytes();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The bytes of a UUID written by [`new_uuid`].
pub fn uuid_bytes(s: &str) -> Option<Vec<u8>> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    (0..16).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_weaker_roles_on_their_project_only() {
        let g = Grant::new(Role::ReadWrite, "app");
        assert!(g.covers("app", Role::Read));
        assert!(g.covers("app", Role::ReadWrite));
        assert!(!g.covers("app", Role::Admin));
        assert!(!g.covers("other", Role::Read));
        assert!(Grant::server_admin().covers("anything", Role::Admin));
    }

    #[test]
    fn mongodb_role_shapes_map_to_grants() {
        assert_eq!(Grant::from_mongo("root", "admin").unwrap(), Grant::server_admin());
        assert_eq!(Grant::from_mongo("readAnyDatabase", "admin").unwrap(), Grant::new(Role::Read, "*"));
        assert_eq!(Grant::from_mongo("dbOwner", "app").unwrap(), Grant::new(Role::Admin, "app"));
        assert_eq!(Grant::from_mongo("readWrite", "*").unwrap(), Grant::new(Role::ReadWrite, "*"));
        assert!(Grant::from_mongo("readWrite", "admin").is_err());
        assert!(Grant::from_mongo("root", "app").is_err());
        assert!(Grant::from_mongo("clusterMonitor", "app").is_err());
        assert!(Grant::from_mongo("read", "app~feature").is_err());
        assert_eq!("admin@*".parse::<Grant>().unwrap(), Grant::server_admin());
        assert!("readWrite".parse::<Grant>().is_err());
    }

    #[test]
    fn the_file_round_trips_and_holds_no_password() {
        let dir = tempfile::tempdir().unwrap();
        add_user(dir.path(), "alice", "correct horse", &[Grant::new(Role::Read, "app")]).unwrap();
        let text = std::fs::read_to_string(dir.path().join(USERS_FILE)).unwrap();
        assert!(!text.contains("correct horse"));
        assert!(text.contains("SCRAM-SHA-256") && text.contains("SCRAM-SHA-1"));
        let users = Users::open(dir.path()).unwrap();
        let alice = users.get("alice").unwrap();
        assert!(alice.credential(Mechanism::ScramSha256).is_some());
        assert!(users.can("alice", "app", Role::Read));
        assert!(!users.can("alice", "app", Role::ReadWrite));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(USERS_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn create_update_remove_persist() {
        let dir = tempfile::tempdir().unwrap();
        let users = Users::open(dir.path()).unwrap();
        let rec = UserRecord::new("bob", "pw", vec![Grant::new(Role::Read, "app")], &[Mechanism::ScramSha1])
            .unwrap();
        users.create(rec.clone(), true).unwrap();
        assert!(matches!(users.create(rec.clone(), false), Err(UsersError::AlreadyExists(_))));
        let other = UserRecord::new("carol", "pw", vec![], &Mechanism::ALL).unwrap();
        assert!(matches!(users.create(other, true), Err(UsersError::NotFirst)));
        users
            .update("bob", |u| {
                u.roles = vec![Grant::new(Role::Admin, "app")];
                Ok(())
            })
            .unwrap();
        assert!(Users::open(dir.path()).unwrap().can("bob", "app", Role::Admin));
        assert!(matches!(users.update("nobody", |_| Ok(())), Err(UsersError::NotFound(_))));
        users.remove("bob").unwrap();
        assert!(Users::open(dir.path()).unwrap().is_empty());
        assert!(matches!(users.remove("bob"), Err(UsersError::NotFound(_))));
    }

    #[test]
    fn a_damaged_file_refuses_to_load() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(USERS_FILE), b"{\"version\": 1, \"users\": [").unwrap();
        assert!(matches!(Users::open(dir.path()), Err(UsersError::Corrupt { .. })));
    }

    #[test]
    fn uuids_are_version_4() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(uuid_bytes(&u).unwrap().len(), 16);
    }
}
