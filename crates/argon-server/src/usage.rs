//! Per-collection usage: how many operations of each kind ran on each
//! namespace and for how long, as MongoDB's `top` command and
//! `$collStats: {latencyStats: {}}` report them. An operation is counted
//! when it ends: by the dispatcher's registration guard (`ops::OpGuard`)
//! and by the fast lanes (`fast_path`), which do not register.
//!
//! Only commands that name a collection count (see [`kinds`]); a
//! namespace is `<database as addressed>.<collection>`, so each branch
//! (`app~feature.c`) has its own. Counts live in memory from the server's
//! start.

use std::collections::HashMap;
use std::time::Duration;

use bson::{doc, Bson, Document};
use parking_lot::Mutex;

/// A count of operations and their total time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub micros: u64,
}

impl Tally {
    fn add(&mut self, micros: u64) {
        self.count += 1;
        self.micros += micros;
    }

    fn top_doc(&self) -> Bson {
        Bson::Document(doc! { "time": self.micros as i64, "count": self.count as i64 })
    }
}

/// Latencies in power-of-two buckets: bucket `k` holds operations of
/// 2^k to 2^(k+1) - 1 µs (bucket 0 also those under 1 µs).
#[derive(Clone, Debug)]
pub struct Histogram([u64; 40]);

impl Default for Histogram {
    fn default() -> Self {
        Histogram([0; 40])
    }
}

impl Histogram {
    fn add(&mut self, micros: u64) {
        let k = (63 - micros.max(1).leading_zeros() as usize).min(self.0.len() - 1);
        self.0[k] += 1;
    }

    /// `[{micros: <bucket's lower bound>, count}]`, non-empty buckets only.
    fn to_bson(&self) -> Bson {
        Bson::Array(
            (0..self.0.len())
                .filter(|&k| self.0[k] > 0)
                .map(|k| Bson::Document(doc! { "micros": 1i64 << k, "count": self.0[k] as i64 }))
                .collect(),
        )
    }
}

/// `latencyStats`'s classes (MongoDB's read/write/command types of a
/// command; any operation inside a transaction counts as a transaction's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyClass {
    Reads = 0,
    Writes = 1,
    Commands = 2,
    Transactions = 3,
}

/// One namespace's counts.
#[derive(Clone, Debug, Default)]
pub struct NsUsage {
    pub total: Tally,
    pub read_lock: Tally,
    pub write_lock: Tally,
    pub queries: Tally,
    pub getmore: Tally,
    pub insert: Tally,
    pub update: Tally,
    pub remove: Tally,
    pub commands: Tally,
    /// By [`LatencyClass`].
    pub latency: [Tally; 4],
    pub histograms: [Histogram; 4],
}

/// `top`'s row of a command, whether it writes, and its latency class;
/// `None` for commands that do not act on one collection.
type Kinds = (fn(&mut NsUsage) -> &mut Tally, bool, LatencyClass);

fn kinds(command: &str) -> Option<Kinds> {
    use LatencyClass::*;
    let commands: fn(&mut NsUsage) -> &mut Tally = |u| &mut u.commands;
    Some(match command {
        "find" => (|u| &mut u.queries, false, Reads),
        "getMore" => (|u| &mut u.getmore, false, Reads),
        "insert" => (|u| &mut u.insert, true, Writes),
        "update" => (|u| &mut u.update, true, Writes),
        "delete" => (|u| &mut u.remove, true, Writes),
        "aggregate" | "count" | "distinct" | "mapReduce" => (commands, false, Reads),
        "findAndModify" => (commands, true, Writes),
        "collStats" | "listIndexes" | "validate" => (commands, false, Commands),
        "create"
        | "drop"
        | "createIndexes"
        | "dropIndexes"
        | "collMod"
        | "convertToCapped"
        | "cloneCollectionAsCapped"
        | "createSearchIndexes"
        | "updateSearchIndex"
        | "dropSearchIndex" => (commands, true, Commands),
        _ => return None,
    })
}

/// The usage of every namespace, by database then collection (looked up
/// without building a key: this runs for every operation).
#[derive(Default)]
pub struct Usage {
    by_db: Mutex<HashMap<String, HashMap<String, NsUsage>>>,
}

impl Usage {
    /// Counts one operation of `command` on `db.coll` that took `elapsed`.
    pub fn record(&self, db: &str, coll: &str, command: &str, in_transaction: bool, elapsed: Duration) {
        let Some((row, writes, class)) = kinds(command) else { return };
        if matches!(db, "" | "admin" | "local" | "config") || coll.is_empty() || coll == "$cmd" {
            return;
        }
        let micros = elapsed.as_micros() as u64;
        let class = if in_transaction { LatencyClass::Transactions } else { class };
        let mut by_db = self.by_db.lock();
        let colls = match by_db.get_mut(db) {
            Some(c) => c,
            None => by_db.entry(db.to_string()).or_default(),
        };
        let u = match colls.get_mut(coll) {
            Some(u) => u,
            None => colls.entry(coll.to_string()).or_default(),
        };
        u.total.add(micros);
        if writes {
            u.write_lock.add(micros)
        } else {
            u.read_lock.add(micros)
        }
        row(u).add(micros);
        u.latency[class as usize].add(micros);
        u.histograms[class as usize].add(micros);
    }

    /// One namespace's counts (zero if nothing ran there).
    pub fn get(&self, db: &str, coll: &str) -> NsUsage {
        self.by_db.lock().get(db).and_then(|c| c.get(coll)).cloned().unwrap_or_default()
    }

    /// `top`'s `totals`: every namespace, in name order.
    pub fn top(&self) -> Document {
        let by_db = self.by_db.lock();
        let mut rows: Vec<(String, &NsUsage)> = by_db
            .iter()
            .flat_map(|(db, colls)| colls.iter().map(move |(c, u)| (format!("{db}.{c}"), u)))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let mut totals = doc! { "note": "all times in microseconds" };
        for (ns, u) in rows {
            totals.insert(
                ns,
                doc! {
                    "total": u.total.top_doc(),
                    "readLock": u.read_lock.top_doc(),
                    "writeLock": u.write_lock.top_doc(),
                    "queries": u.queries.top_doc(),
                    "getmore": u.getmore.top_doc(),
                    "insert": u.insert.top_doc(),
                    "update": u.update.top_doc(),
                    "remove": u.remove.top_doc(),
                    "commands": u.commands.top_doc(),
                },
            );
        }
        totals
    }
}

impl NsUsage {
    /// `$collStats`'s `latencyStats` (with `histograms: true`, each class's
    /// power-of-two histogram too).
    pub fn latency_stats(&self, histograms: bool) -> Document {
        let class = |c: LatencyClass| {
            let t = self.latency[c as usize];
            let mut d = doc! { "latency": t.micros as i64, "ops": t.count as i64 };
            if histograms {
                d.insert("histogram", self.histograms[c as usize].to_bson());
            }
            d
        };
        doc! {
            "reads": class(LatencyClass::Reads),
            "writes": class(LatencyClass::Writes),
            "commands": class(LatencyClass::Commands),
            "transactions": class(LatencyClass::Transactions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_counted_by_kind_class_and_namespace() {
        let usage = Usage::default();
        let us = Duration::from_micros;
        usage.record("app", "c", "find", false, us(10));
        usage.record("app", "c", "insert", false, us(100));
        usage.record("app", "c", "insert", true, us(3));
        usage.record("app", "c", "createIndexes", false, us(1000));
        usage.record("app", "c", "ping", false, us(5)); // not a collection command
        usage.record("admin", "c", "find", false, us(5)); // not a project
        usage.record("app~b", "c", "find", false, us(7));
        let u = usage.get("app", "c");
        assert_eq!(u.total, Tally { count: 4, micros: 1113 });
        assert_eq!(u.read_lock, Tally { count: 1, micros: 10 });
        assert_eq!(u.write_lock, Tally { count: 3, micros: 1103 });
        assert_eq!(u.insert, Tally { count: 2, micros: 103 });
        assert_eq!(u.commands, Tally { count: 1, micros: 1000 });
        assert_eq!(u.latency[LatencyClass::Writes as usize], Tally { count: 1, micros: 100 });
        assert_eq!(u.latency[LatencyClass::Transactions as usize], Tally { count: 1, micros: 3 });
        assert_eq!(usage.get("app~b", "c").queries, Tally { count: 1, micros: 7 });
        assert_eq!(usage.get("admin", "c").total.count, 0);
        let top = usage.top();
        let keys: Vec<&String> = top.keys().collect();
        assert_eq!(keys, ["note", "app.c", "app~b.c"]);
        let stats = u.latency_stats(true);
        let writes = stats.get_document("writes").unwrap();
        assert_eq!(writes.get_i64("ops").unwrap(), 1);
        // 100 µs falls in the bucket from 64.
        assert_eq!(
            writes.get_array("histogram").unwrap()[0],
            Bson::Document(doc! { "micros": 64i64, "count": 1i64 })
        );
    }
}
