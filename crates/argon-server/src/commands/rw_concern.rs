//! `getDefaultRWConcern` and `setDefaultRWConcern` (`admin`): the
//! deployment's default read and write concerns, as mongod keeps them.
//!
//! On Argon's single node every accepted level behaves the same (a read
//! sees committed data, a write is acknowledged once durable in the WAL
//! per `--fsync`), so the defaults are recorded and reported, not applied
//! differently. They are kept in the data dir (`rw-concern.bson`, written
//! durably before the command answers), as mongod keeps them in
//! `config.settings`, so a restart keeps them.

use bson::{doc, Bson, Document};
use parking_lot::Mutex;

use super::{Call, Ctx};
use crate::error::{CmdResult, CommandError};

/// The defaults set with `setDefaultRWConcern`, and the file that keeps
/// them (none: in memory only).
#[derive(Default)]
pub struct DefaultRwConcern {
    state: Mutex<Settings>,
    file: Option<std::path::PathBuf>,
}

#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Settings {
    read: Option<Document>,
    write: Option<Document>,
    updated: Option<bson::DateTime>,
}

impl DefaultRwConcern {
    /// The defaults kept in `data_dir` (the implicit ones when none were set).
    pub fn load(data_dir: &std::path::Path) -> DefaultRwConcern {
        let file = data_dir.join("rw-concern.bson");
        let state = match std::fs::read(&file) {
            Ok(bytes) => bson::deserialize_from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(file = %file.display(), "ignoring unreadable default read/write concerns: {e}");
                Settings::default()
            }),
            Err(_) => Settings::default(),
        };
        DefaultRwConcern { state: Mutex::new(state), file: Some(file) }
    }
}

pub fn get(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "getDefaultRWConcern")?;
    match call.cmd.get("inMemory") {
        None | Some(Bson::Boolean(_)) => {}
        Some(_) => return Err(CommandError::type_mismatch("inMemory must be a boolean")),
    }
    Ok(reply(&ctx.state.default_rw_concern.state.lock()))
}

pub fn set(ctx: &mut Ctx<'_>, call: &mut Call) -> CmdResult<Document> {
    super::admin_only(call, "setDefaultRWConcern")?;
    let read = match call.cmd.get("defaultReadConcern") {
        None => None,
        Some(Bson::Document(d)) => Some(read_concern(d)?),
        Some(_) => return Err(CommandError::type_mismatch("defaultReadConcern must be an object")),
    };
    let write = match call.cmd.get("defaultWriteConcern") {
        None => None,
        Some(Bson::Document(d)) => Some(write_concern(d)?),
        Some(_) => return Err(CommandError::type_mismatch("defaultWriteConcern must be an object")),
    };
    if read.is_none() && write.is_none() {
        return Err(CommandError::bad_value(
            "At least one of the \"defaultReadConcern\" or \"defaultWriteConcern\" fields must be present",
        ));
    }
    let mut settings = ctx.state.default_rw_concern.state.lock();
    // An empty object unsets (back to the implicit default). Kept on disk
    // first: the change holds once answered.
    let next_read = read.map(|r| (!r.is_empty()).then_some(r));
    let mut next = settings.clone();
    if let Some(w) = write {
        next.write = (!w.is_empty()).then_some(w);
    }
    if let Some(r) = next_read {
        next.read = r;
    }
    next.updated = Some(bson::DateTime::now());
    if let Some(file) = &ctx.state.default_rw_concern.file {
        let bytes = bson::serialize_to_vec(&next)
            .map_err(|e| CommandError::new(crate::error::code::INTERNAL_ERROR, e.to_string()))?;
        crate::durable_file::write_durably(file, &bytes).map_err(|e| {
            CommandError::new(
                crate::error::code::INTERNAL_ERROR,
                format!("cannot keep the default read/write concerns in {}: {e}", file.display()),
            )
        })?;
    }
    *settings = next;
    Ok(reply(&settings))
}

fn read_concern(d: &Document) -> CmdResult<Document> {
    let mut out = Document::new();
    for (k, v) in d {
        match (k.as_str(), v) {
            ("level", Bson::String(l)) if matches!(l.as_str(), "local" | "available" | "majority") => {
                out.insert("level", l.clone());
            }
            ("level", Bson::String(l)) => {
                return Err(CommandError::bad_value(format!(
                "level: '{l}' is not permitted for a default read concern; use local, available or majority"
            )))
            }
            ("level", _) => {
                return Err(CommandError::type_mismatch("defaultReadConcern.level must be a string"))
            }
            _ => {
                return Err(CommandError::bad_value(format!(
                    "defaultReadConcern takes only 'level', not '{k}'"
                )))
            }
        }
    }
    Ok(out)
}

fn write_concern(d: &Document) -> CmdResult<Document> {
    let mut out = Document::new();
    for (k, v) in d {
        match (k.as_str(), v) {
            ("w", Bson::String(s)) if s == "majority" => {
                out.insert("w", "majority");
            }
            ("w", Bson::String(tag)) => {
                return Err(CommandError::new(
                    crate::error::code::UNKNOWN_REPL_WRITE_CONCERN,
                    format!("No write concern mode named '{tag}' found in replica set configuration"),
                ))
            }
            ("w", n) => match argon_query::numeric::to_f64(n) {
                Some(n) if n >= 1.0 && n.fract() == 0.0 => {
                    out.insert("w", n as i32);
                }
                Some(_) => {
                    return Err(CommandError::bad_value("the default write concern's w must be 1 or more"))
                }
                None => return Err(CommandError::type_mismatch("w must be a number or a string")),
            },
            ("j", Bson::Boolean(j)) => {
                out.insert("j", *j);
            }
            ("wtimeout", n) => match argon_query::numeric::to_f64(n) {
                Some(n) if n >= 0.0 => {
                    out.insert("wtimeout", n as i32);
                }
                _ => return Err(CommandError::bad_value("wtimeout must be a non-negative number")),
            },
            ("j", _) => return Err(CommandError::type_mismatch("j must be a boolean")),
            _ => return Err(CommandError::bad_value(format!("unrecognized write concern field: {k}"))),
        }
    }
    if !out.is_empty() && !out.contains_key("w") {
        out.insert("w", 1);
    }
    Ok(out)
}

fn reply(s: &Settings) -> Document {
    let source = |set: bool| if set { "global" } else { "implicit" };
    let mut d = doc! {
        "defaultReadConcern": s.read.clone().unwrap_or_else(|| doc! { "level": "local" }),
        "defaultWriteConcern": s.write.clone().unwrap_or_else(|| doc! { "w": "majority", "wtimeout": 0 }),
    };
    if let Some(t) = s.updated {
        d.insert("updateWallClockTime", t);
    }
    d.insert("defaultReadConcernSource", source(s.read.is_some()));
    d.insert("defaultWriteConcernSource", source(s.write.is_some()));
    d.insert("localUpdateWallClockTime", s.updated.unwrap_or_else(bson::DateTime::now));
    d
}
