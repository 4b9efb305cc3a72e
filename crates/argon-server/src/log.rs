//! The server's log as `getLog` shows it, and its verbosity as
//! `logLevel` and `logComponentVerbosity` set it.
//!
//! [`RecentLog`] is a `tracing` layer the binary installs beside its
//! stderr output: it keeps the last [`KEPT`] lines in mongod's structured
//! (JSON) log format, and the warnings logged while the server starts.
//! Verbosity changes go to a filter hook the binary registers
//! ([`set_filter_hook`]), as `tracing` filter directives: MongoDB's level
//! 0 is `info`, 1 `debug`, 2 and more `trace`; a component maps to the
//! crates and modules that do its work ([`COMPONENTS`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{LazyLock, OnceLock};

use bson::{doc, Bson, Document};
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;

/// Lines `getLog: "global"` returns at most (mongod keeps 1024 too).
pub const KEPT: usize = 1024;

/// MongoDB's log components Argon has, and the `tracing` targets doing
/// their work.
pub const COMPONENTS: &[(&str, &[&str])] = &[
    ("accessControl", &["argon_server::auth", "argon_server::scram", "argon_server::users"]),
    ("command", &["argon_server::commands"]),
    (
        "network",
        &["argon_server::connection", "argon_server::tls", "argon_server::unix_socket", "argon_wire"],
    ),
    ("query", &["argon_query", "argon_server::planner"]),
    ("storage", &["argon_store", "argon_wal"]),
    ("transaction", &["argon_server::session"]),
];

/// The recent log: a `tracing_subscriber` layer.
#[derive(Default)]
pub struct RecentLog {
    lines: Mutex<VecDeque<String>>,
    total: AtomicU64,
    startup_warnings: Mutex<Vec<String>>,
    started: AtomicBool,
}

/// The process's recent log ([`layer`] feeds it).
static RECENT: LazyLock<RecentLog> = LazyLock::new(RecentLog::default);

/// The layer to install in the process's subscriber.
pub fn layer() -> &'static RecentLog {
    &RECENT
}

/// Marks the end of start-up: later warnings are not start-up warnings.
pub(crate) fn started() {
    RECENT.started.store(true, Ordering::Relaxed);
}

/// (lines written in all, the kept lines oldest first) for `getLog: "global"`.
pub(crate) fn global() -> (u64, Vec<String>) {
    (RECENT.total.load(Ordering::Relaxed), RECENT.lines.lock().iter().cloned().collect())
}

pub(crate) fn startup_warnings() -> Vec<String> {
    RECENT.startup_warnings.lock().clone()
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for &'static RecentLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let severity = match *meta.level() {
            Level::ERROR => "E",
            Level::WARN => "W",
            Level::INFO => "I",
            Level::DEBUG => "D1",
            Level::TRACE => "D2",
        };
        let t = bson::DateTime::now().try_to_rfc3339_string().unwrap_or_default();
        let line = serde_json::json!({
            "t": { "$date": t },
            "s": severity,
            "c": meta.target(),
            "id": 0,
            "ctx": std::thread::current().name().unwrap_or("-"),
            "msg": fields.message,
            "attr": fields.attr,
        })
        .to_string();
        if *meta.level() <= Level::WARN && !self.started.load(Ordering::Relaxed) {
            self.startup_warnings.lock().push(line.clone());
        }
        let mut lines = self.lines.lock();
        if lines.len() == KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
        self.total.fetch_add(1, Ordering::Relaxed);
    }
}

/// An event's message and other fields.
#[derive(Default)]
struct JsonFields {
    message: String,
    attr: serde_json::Map<String, serde_json::Value>,
}

impl Visit for JsonFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_string(),
            name => {
                self.attr.insert(name.to_string(), value.into());
            }
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attr.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.attr.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attr.insert(field.name().to_string(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            name => {
                self.attr.insert(name.to_string(), format!("{value:?}").into());
            }
        }
    }
}

/// Applies `tracing` filter directives (`info,argon_store=debug`).
pub type FilterHook = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

static FILTER_HOOK: OnceLock<FilterHook> = OnceLock::new();

/// Registers how verbosity changes reach the process's log filter (the
/// binary's reloadable filter). Without one, `logLevel` and
/// `logComponentVerbosity` are refused: nothing could apply them.
pub fn set_filter_hook(hook: FilterHook) {
    let _ = FILTER_HOOK.set(hook);
}

/// The verbosity set through the server: global, and per component
/// (absent: the component follows the global level).
#[derive(Default)]
pub(crate) struct Verbosity {
    levels: Mutex<(i32, BTreeMap<&'static str, i32>)>,
}

impl Verbosity {
    pub fn level(&self) -> i32 {
        self.levels.lock().0
    }

    /// `logComponentVerbosity` as mongod shows it (-1: inherited).
    pub fn components(&self) -> Document {
        let levels = self.levels.lock();
        let mut d = doc! { "verbosity": levels.0 };
        for (name, _) in COMPONENTS {
            d.insert(*name, doc! { "verbosity": levels.1.get(name).copied().unwrap_or(-1) });
        }
        d
    }

    /// Sets the global level; returns the one it replaces.
    pub fn set_level(&self, level: i32) -> Result<i32, String> {
        let mut levels = self.levels.lock();
        let mut next = levels.clone();
        next.0 = level;
        apply(&next)?;
        Ok(std::mem::replace(&mut *levels, next).0)
    }

    /// Applies a `logComponentVerbosity` document (`{verbosity: 1,
    /// storage: {verbosity: 2}, network: 1}`; a negative level makes the
    /// component follow the global one again); returns the old settings.
    pub fn set_components(&self, spec: &Document) -> Result<Document, String> {
        let before = self.components();
        let mut levels = self.levels.lock();
        let mut next = levels.clone();
        for (key, value) in spec {
            let level = |v: &Bson| -> Result<i32, String> {
                match v {
                    Bson::Int32(n) => Ok(*n),
                    Bson::Int64(n) => Ok(*n as i32),
                    Bson::Double(n) if n.fract() == 0.0 => Ok(*n as i32),
                    Bson::Document(d) => match d.get("verbosity") {
                        Some(Bson::Int32(n)) => Ok(*n),
                        Some(Bson::Int64(n)) => Ok(*n as i32),
                        Some(Bson::Double(n)) if n.fract() == 0.0 => Ok(*n as i32),
                        _ => Err(format!("{key}: expected {{verbosity: <integer>}}")),
                    },
                    _ => Err(format!("{key}: expected an integer or {{verbosity: <integer>}}")),
                }
            };
            if key == "verbosity" {
                next.0 = level(value)?;
                continue;
            }
            let Some((name, _)) = COMPONENTS.iter().find(|(n, _)| *n == key) else {
                let known: Vec<&str> = COMPONENTS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "Invalid component name {key}; Argon's log components are {}",
                    known.join(", ")
                ));
            };
            match level(value)? {
                n if n < 0 => next.1.remove(name),
                n => next.1.insert(name, n),
            };
        }
        apply(&next)?;
        *levels = next;
        Ok(before)
    }
}

fn directive(level: i32) -> &'static str {
    match level {
        ..=0 => "info",
        1 => "debug",
        _ => "trace",
    }
}

/// The filter directives of these levels, handed to the hook.
fn apply(levels: &(i32, BTreeMap<&'static str, i32>)) -> Result<(), String> {
    let hook = FILTER_HOOK.get().ok_or("this process has no adjustable log (the server runs embedded)")?;
    let mut directives = vec![directive(levels.0).to_string()];
    for (name, targets) in COMPONENTS {
        if let Some(level) = levels.1.get(name) {
            directives.extend(targets.iter().map(|t| format!("{t}={}", directive(*level))));
        }
    }
    hook(&directives.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_becomes_filter_directives() {
        static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        set_filter_hook(Box::new(|d| {
            SEEN.lock().push(d.to_string());
            Ok(())
        }));
        let v = Verbosity::default();
        assert_eq!(v.set_level(1), Ok(0));
        v.set_components(&doc! { "storage": { "verbosity": 2 }, "network": 0 }).unwrap();
        v.set_components(&doc! { "network": -1 }).unwrap();
        assert!(v.set_components(&doc! { "sharding": 1 }).unwrap_err().contains("Invalid component name"));
        assert_eq!(
            *SEEN.lock(),
            [
                "debug",
                "debug,argon_server::connection=info,argon_server::tls=info,argon_server::unix_socket=info,argon_wire=info,argon_store=trace,argon_wal=trace",
                "debug,argon_store=trace,argon_wal=trace",
            ]
        );
        assert_eq!(v.components().get_document("storage").unwrap(), &doc! { "verbosity": 2 });
        assert_eq!(v.components().get_document("network").unwrap(), &doc! { "verbosity": -1 });
    }
}
