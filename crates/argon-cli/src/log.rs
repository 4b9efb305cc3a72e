//! `argon log`: a branch's history, newest first.
//!
//! A branch's history is every commit on the timelines of its chain (its
//! own, then its ancestors' below the fork point), plus the entries that
//! created, reset, protected or deleted a branch of that name, and the
//! project's creation. With `-c` or `--id`, only commits that touch the
//! collection or document are shown, and only their matching ops.

use argon_store::{Commit, DocOpKind, Entry, Op};
use argon_types::{CommitTime, Lsn, TimelineId};
use bson::Bson;
use clap::Args;

use crate::backend::{LogFilter, Target};
use crate::error::{CliError, Result};
use crate::model::LogLine;
use crate::output::{Format, Table};

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Project.
    #[arg(short, long)]
    pub project: String,
    /// Branch.
    #[arg(short, long, default_value = "main")]
    pub branch: String,
    /// Only commits that touch this collection.
    #[arg(short, long)]
    pub collection: Option<String>,
    /// Only changes of the document with this _id (Extended JSON: 5, "abc",
    /// {"$oid": "..."}; text that is not JSON is taken as a string).
    #[arg(long)]
    pub id: Option<String>,
    /// Oldest LSN to show.
    #[arg(long)]
    pub from_lsn: Option<u64>,
    /// Newest LSN to show.
    #[arg(long)]
    pub to_lsn: Option<u64>,
    /// Only entries written by this actor (user name, `anonymous`, `admin`).
    #[arg(long)]
    pub actor: Option<String>,
    /// Show only the newest N entries.
    #[arg(short = 'n', long)]
    pub limit: Option<usize>,
}

pub fn run(target: &Target, format: Format, args: LogArgs) -> Result<()> {
    let id =
        args.id.as_deref().map(|s| crate::extjson::parse_value(s).unwrap_or_else(|_| Bson::String(s.into())));
    if let (Some(from), Some(to)) = (args.from_lsn, args.to_lsn) {
        if from > to {
            return Err(CliError::new(format!("--from-lsn {from} is after --to-lsn {to}")));
        }
    }
    let filter = LogFilter {
        collection: args.collection,
        id,
        from_lsn: args.from_lsn.map(Lsn),
        to_lsn: args.to_lsn.map(Lsn),
        actor: args.actor,
        limit: args.limit,
    };
    let backend = target.open(crate::backend::Create::No)?;
    let lines = backend.log(&args.project, &args.branch, &filter)?;
    match format {
        Format::Json => {
            for l in &lines {
                crate::output::say(crate::extjson::doc_to_json(&l.to_document()))?;
            }
        }
        Format::Table => {
            let mut t = Table::new(&["LSN", "TIME", "ACTOR", "BRANCH", "CHANGE"]);
            for l in &lines {
                t.row(vec![
                    l.lsn.to_string(),
                    l.time.clone(),
                    l.actor.clone(),
                    l.branch.clone().unwrap_or_else(|| "-".into()),
                    l.summary.clone(),
                ]);
            }
            t.print()?;
        }
    }
    Ok(())
}

/// The log line for one entry of project `project`, if `branch`'s history
/// includes it and it passes `filter`. `on_chain(timeline, lsn)` says
/// whether a commit at `lsn` on `timeline` is part of the branch's history.
pub fn line_for(
    project: &str,
    branch: &str,
    on_chain: &dyn Fn(TimelineId, Lsn) -> bool,
    (lsn, time, entry): (Lsn, CommitTime, &Entry),
    filter: &LogFilter,
) -> Option<LogLine> {
    if entry.project() != project {
        return None;
    }
    if filter.from_lsn.is_some_and(|f| lsn < f) || filter.to_lsn.is_some_and(|t| lsn > t) {
        return None;
    }
    if filter.actor.as_deref().is_some_and(|a| a != entry.actor()) {
        return None;
    }
    let narrowed = filter.collection.is_some() || filter.id.is_some();
    let (kind, entry_branch, shown, summary) = match entry {
        Entry::Commit(c) => {
            if !on_chain(c.timeline, lsn) {
                return None;
            }
            let ops: Vec<Op> = c.ops.iter().filter(|op| op_matches(op, filter)).cloned().collect();
            if ops.is_empty() {
                return None;
            }
            let summary = summarize(&ops);
            let shown = Entry::Commit(Commit { ops, ..c.clone() });
            ("commit", Some(c.branch.clone()), shown, summary)
        }
        _ if narrowed => return None,
        Entry::CreateProject { .. } => ("create_project", None, entry.clone(), "create project".to_string()),
        Entry::DropProject { .. } => ("drop_project", None, entry.clone(), "drop project".to_string()),
        Entry::CreateBranch { branch: b, parent, fork_lsn, .. } if b == branch => (
            "create_branch",
            Some(b.clone()),
            entry.clone(),
            format!("create branch {b} from {parent} at LSN {fork_lsn}"),
        ),
        Entry::DeleteBranch { branch: b, .. } if b == branch => {
            ("delete_branch", Some(b.clone()), entry.clone(), format!("delete branch {b}"))
        }
        Entry::ResetBranch { branch: b, to_lsn, .. } if b == branch => {
            ("reset_branch", Some(b.clone()), entry.clone(), format!("reset branch {b} to LSN {to_lsn}"))
        }
        Entry::ProtectBranch { branch: b, protected, .. } if b == branch => {
            let verb = if *protected { "protect" } else { "unprotect" };
            ("protect_branch", Some(b.clone()), entry.clone(), format!("{verb} branch {b}"))
        }
        _ => return None,
    };
    let entry_doc = bson::serialize_to_document(&shown).unwrap_or_default();
    Some(LogLine {
        lsn: lsn.0,
        time: time.to_rfc3339(),
        actor: entry.actor().to_string(),
        kind: kind.to_string(),
        project: project.to_string(),
        branch: entry_branch,
        summary,
        entry: entry_doc,
    })
}

fn op_matches(op: &Op, filter: &LogFilter) -> bool {
    let coll_ok = |c: &str| filter.collection.as_deref().is_none_or(|want| want == c);
    match op {
        Op::Doc { coll, id, .. } => {
            coll_ok(coll) && filter.id.as_ref().is_none_or(|want| argon_query::values_equal(want, id))
        }
        _ if filter.id.is_some() => false,
        Op::CreateCollection { name, .. } | Op::DropCollection { name, .. } => coll_ok(name),
        Op::RenameCollection { from, to, .. } => coll_ok(from) || coll_ok(to),
        Op::CreateIndex { coll, .. }
        | Op::DropIndex { coll, .. }
        | Op::SetCollectionOptions { coll, .. }
        | Op::SetIndexOptions { coll, .. } => coll_ok(coll),
    }
}

/// `insert users _id=1; update users (3 docs); create collection orders`.
fn summarize(ops: &[Op]) -> String {
    enum Part<'a> {
        /// Document changes of one kind in one collection: count and first `_id`.
        Docs {
            verb: &'static str,
            coll: &'a str,
            n: usize,
            id: &'a Bson,
        },
        Text(String),
    }
    let mut parts: Vec<Part<'_>> = Vec::new();
    for op in ops {
        match op {
            Op::Doc { coll, kind, id, .. } => {
                let verb = match kind {
                    DocOpKind::Insert => "insert",
                    DocOpKind::Update => "update",
                    DocOpKind::Replace => "replace",
                    DocOpKind::Delete => "delete",
                };
                let same = parts.iter_mut().find_map(|p| match p {
                    Part::Docs { verb: v, coll: c, n, .. } if *v == verb && *c == coll.as_str() => Some(n),
                    _ => None,
                });
                match same {
                    Some(n) => *n += 1,
                    None => parts.push(Part::Docs { verb, coll, n: 1, id }),
                }
            }
            Op::CreateCollection { name, .. } => parts.push(Part::Text(format!("create collection {name}"))),
            Op::DropCollection { name, .. } => parts.push(Part::Text(format!("drop collection {name}"))),
            Op::RenameCollection { from, to, .. } => {
                parts.push(Part::Text(format!("rename collection {from} to {to}")))
            }
            Op::CreateIndex { coll, spec, .. } => parts
                .push(Part::Text(format!("create index {} on {coll}", spec.get_str("name").unwrap_or("?")))),
            Op::DropIndex { coll, name, .. } => {
                parts.push(Part::Text(format!("drop index {name} on {coll}")))
            }
            Op::SetCollectionOptions { coll, .. } => {
                parts.push(Part::Text(format!("change options of {coll}")))
            }
            Op::SetIndexOptions { coll, name, .. } => {
                parts.push(Part::Text(format!("change options of index {name} on {coll}")))
            }
        }
    }
    parts
        .into_iter()
        .map(|p| match p {
            Part::Docs { verb, coll, n: 1, id } => {
                format!("{verb} {coll} _id={}", crate::extjson::to_json(id))
            }
            Part::Docs { verb, coll, n, .. } => format!("{verb} {coll} ({n} docs)"),
            Part::Text(s) => s,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn doc_op(kind: DocOpKind, coll: &str, id: i32) -> Op {
        Op::Doc {
            coll: coll.into(),
            coll_id: 1,
            kind,
            id: Bson::Int32(id),
            post: Some(bson::rawdoc! {"_id": id}),
            pre: None,
        }
    }

    fn commit(ops: Vec<Op>) -> Entry {
        Entry::Commit(Commit {
            project: "app".into(),
            branch: "main".into(),
            timeline: TimelineId(1),
            actor: "ada".into(),
            txn: None,
            continues: None,
            ops,
        })
    }

    #[test]
    fn commits_are_summarized_by_collection_and_kind() {
        let ops = vec![
            Op::CreateCollection { name: "users".into(), coll_id: 1, options: doc! {} },
            doc_op(DocOpKind::Insert, "users", 1),
            doc_op(DocOpKind::Insert, "users", 2),
            doc_op(DocOpKind::Delete, "orders", 7),
        ];
        assert_eq!(summarize(&ops), "create collection users; insert users (2 docs); delete orders _id=7");
    }

    #[test]
    fn filters_narrow_a_commit_to_matching_ops() {
        let e = commit(vec![doc_op(DocOpKind::Insert, "users", 1), doc_op(DocOpKind::Insert, "users", 2)]);
        let all = |_: TimelineId, _: Lsn| true;
        let f = LogFilter { id: Some(Bson::Int64(2)), ..LogFilter::default() };
        let line = line_for("app", "main", &all, (Lsn(5), CommitTime(0), &e), &f).unwrap();
        assert_eq!(line.summary, "insert users _id=2");
        let f = LogFilter { collection: Some("orders".into()), ..LogFilter::default() };
        assert!(line_for("app", "main", &all, (Lsn(5), CommitTime(0), &e), &f).is_none());
        let f = LogFilter { actor: Some("bob".into()), ..LogFilter::default() };
        assert!(line_for("app", "main", &all, (Lsn(5), CommitTime(0), &e), &f).is_none());
        let none = |_: TimelineId, _: Lsn| false;
        assert!(line_for("app", "main", &none, (Lsn(5), CommitTime(0), &e), &LogFilter::default()).is_none());
    }
}
