//! `argon log`: a branch's history (its own entries and its ancestors'
//! before the fork), newest first, with filters.

mod common;

use common::{json_lines, Mode, Server};

#[test]
fn log_shows_a_branch_history_newest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let m = Mode::DataDir(dir.clone());
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let two = write("two.jsonl", "{\"_id\":1}\n{\"_id\":2}\n");
    let three = write("three.jsonl", "{\"_id\":3}\n");
    let four = write("four.jsonl", "{\"_id\":4}\n");
    m.ok(&["project", "create", "app"]); // 1
    m.ok(&["import", "-p", "app", "-c", "things", &two]); // 2
    m.ok(&["branch", "create", "feat", "-p", "app"]); // 3
    m.ok(&["import", "-p", "app", "-b", "feat", "-c", "things", &three]); // 4
    m.ok(&["import", "-p", "app", "-c", "things", &four]); // 5, main only
    m.ok(&["branch", "protect", "feat", "-p", "app"]); // 6

    let lsns = |args: &[&str]| -> Vec<u64> {
        let mut all = vec!["log", "-p", "app", "-b", "feat", "-o", "json"];
        all.extend(args);
        json_lines(&m.ok(&all)).iter().map(|l| l["lsn"].as_u64().unwrap()).collect()
    };
    assert_eq!(lsns(&[]), [6, 4, 3, 2, 1]);
    assert_eq!(lsns(&["--id", "3"]), [4]);
    assert_eq!(lsns(&["-c", "things"]), [4, 2]);
    assert_eq!(lsns(&["-c", "other"]), Vec::<u64>::new());
    assert_eq!(lsns(&["--actor", "admin"]), [6, 3, 1]);
    assert_eq!(lsns(&["--from-lsn", "2", "--to-lsn", "4"]), [4, 3, 2]);
    assert_eq!(lsns(&["-n", "2"]), [6, 4]);

    let lines = json_lines(&m.ok(&["log", "-p", "app", "-b", "feat", "--id", "2", "-o", "json"]));
    assert_eq!(lines[0]["kind"], "commit");
    assert_eq!(lines[0]["summary"], "insert things _id=2");
    assert_eq!(lines[0]["entry"]["ops"].as_array().unwrap().len(), 1, "only the matching op: {}", lines[0]);
    let main = json_lines(&m.ok(&["log", "-p", "app", "-o", "json"]));
    assert_eq!(main.iter().map(|l| l["lsn"].as_u64().unwrap()).collect::<Vec<_>>(), [5, 2, 1]);

    let table = m.ok(&["log", "-p", "app", "-b", "feat"]);
    assert!(table.starts_with("LSN"), "{table}");
    assert!(table.contains("create branch feat from main at LSN 2"), "{table}");

    let e = m.fails(&["log", "-p", "app", "-b", "ghost"]);
    assert!(e.contains("branch \"ghost\" does not exist"), "{e}");

    // Over --uri (the server's history command) the answer is the same.
    let local = m.ok(&["log", "-p", "app", "-b", "feat", "-o", "json"]);
    let local_filtered = m.ok(&["log", "-p", "app", "-b", "feat", "-c", "things", "-n", "1", "-o", "json"]);
    let server = Server::start(&dir);
    let remote = Mode::Uri(server.uri.clone());
    assert_eq!(remote.ok(&["log", "-p", "app", "-b", "feat", "-o", "json"]), local);
    assert_eq!(
        remote.ok(&["log", "-p", "app", "-b", "feat", "-c", "things", "-n", "1", "-o", "json"]),
        local_filtered
    );
    server.stop();
}
