//! `steward audit` through the binary: tail and show, and `verify` naming the first bad
//! entry for each kind of tampering, plus a cut-off tail caught by the signed checkpoints.

mod common;

use common::{stderr, stdout, Workdir};
use sqlx::Connection;

/// A run whose log has a few hundred entries and at least one checkpoint.
fn logged() -> Workdir {
    let work = Workdir::new();
    let out = work.run(&["run", "--ticks", "60", "--mode", "autonomous", "--listen", "127.0.0.1:0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    work
}

/// Tamper with the SQLite file directly, as someone with access to it could.
fn tamper(work: &Workdir, sql: &str) {
    let url = format!("sqlite://{}", work.path().join("steward.db").display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open");
        sqlx::raw_sql("DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;")
            .execute(&mut conn)
            .await
            .expect("drop triggers");
        sqlx::raw_sql(sql).execute(&mut conn).await.expect("tamper");
        conn.close().await.expect("close");
    });
}

fn verify(work: &Workdir) -> (Option<i32>, String) {
    let out = work.run(&["audit", "verify"]);
    (out.status.code(), stdout(&out) + &stderr(&out))
}

#[test]
fn tail_and_show() {
    let work = logged();
    let tail = stdout(&work.run(&["audit", "tail", "-n", "5"]));
    assert_eq!(tail.lines().count(), 5, "{tail}");
    assert!(tail.lines().last().is_some_and(|l| l.contains("daemon.stopped")), "{tail}");
    let show = work.run(&["audit", "show", "1"]);
    let entry: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(entry["kind"], "daemon.started");
    assert_eq!(entry["prev_hash"], "0".repeat(64));
    assert_eq!(work.run(&["audit", "show", "999999"]).status.code(), Some(1));
}

#[test]
fn an_intact_log_verifies() {
    let work = logged();
    let (code, text) = verify(&work);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("chain intact"), "{text}");
    assert!(text.contains("verified in steward-checkpoints"), "{text}");
}

#[test]
fn a_modified_entry_is_named() {
    let work = logged();
    tamper(&work, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 7");
    let (code, text) = verify(&work);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("TAMPERED: entry 7: its contents do not match its hash"), "{text}");
}

#[test]
fn a_deleted_entry_is_named() {
    let work = logged();
    tamper(&work, "DELETE FROM audit_log WHERE seq = 12");
    let (code, text) = verify(&work);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("TAMPERED: entry 12: entries 12..12 are missing"), "{text}");
}

#[test]
fn reordered_entries_are_named() {
    let work = logged();
    tamper(
        &work,
        "UPDATE audit_log SET seq = -1 WHERE seq = 20; UPDATE audit_log SET seq = 20 WHERE seq = 21; \
         UPDATE audit_log SET seq = 21 WHERE seq = -1;",
    );
    let (code, text) = verify(&work);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("TAMPERED: entry 20"), "{text}");
}

#[test]
fn an_inserted_entry_is_found() {
    let work = logged();
    // Renumber everything from 30 up and put a forged entry at 30.
    tamper(
        &work,
        "UPDATE audit_log SET seq = -seq - 1 WHERE seq >= 30; UPDATE audit_log SET seq = -seq WHERE seq < 0; \
         INSERT INTO audit_log (seq, at_ms, actor, kind, proposal_id, data, prev_hash, hash) \
         SELECT 30, at_ms, 'mallory', 'control.resumed', NULL, '{}', hash, hash FROM audit_log WHERE seq = 29;",
    );
    let (code, text) = verify(&work);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("TAMPERED: entry 30"), "{text}");
}

#[test]
fn a_cut_off_tail_is_caught_by_the_checkpoints() {
    let work = logged();
    let head: serde_json::Value =
        serde_json::from_str(stdout(&work.run(&["audit", "tail", "-n", "1", "--json"])).trim()).expect("json");
    let last = head["seq"].as_i64().expect("seq");
    tamper(&work, &format!("DELETE FROM audit_log WHERE seq > {}", last - 10));
    let (code, text) = verify(&work);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("chain intact"), "the shorter chain is still a chain: {text}");
    assert!(text.contains("the log's tail was cut off"), "{text}");

    // Without the key there is nothing to trust the checkpoints with: a clear error.
    std::fs::remove_file(work.path().join("steward-checkpoint.key")).expect("remove key");
    let out = work.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--public-key"), "{}", stderr(&out));
}
