//! The audit log on both backends: appends chain, concurrent writers never fork the chain,
//! the database refuses UPDATE and DELETE, and every kind of tampering is found and named.

use steward_memory::both;

use serde_json::json;
use steward_memory::testing::TestDb;
use steward_memory::{NewEntry, Store};

async fn fill(store: &Store, n: i64) {
    for i in 1..=n {
        store
            .append(NewEntry::new(1_000 * i, "test", "test.entry", None, json!({ "n": i, "text": "é\"\n" })))
            .await
            .expect("append");
    }
}

async fn first_problem(db: &TestDb) -> (i64, String) {
    let report = db.store.verify().await.expect("verify runs");
    let problem = report.problem.expect("verify finds the tampering");
    (problem.seq, problem.message)
}

async fn intact_log_verifies(db: &TestDb) {
    fill(&db.store, 12).await;
    let report = db.store.verify().await.expect("verify");
    assert_eq!(report.problem, None);
    assert_eq!(report.entries, 12);
    assert_eq!(report.head.as_ref().map(|h| h.0), Some(12));
    let tail = db.store.audit_tail(3).await.expect("tail");
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![10, 11, 12]);
    assert_eq!(tail[1].prev_hash, tail[0].hash);
    let shown = db.store.audit_entry(5).await.expect("show").expect("entry 5");
    assert_eq!(shown.data, r#"{"n":5,"text":"é\"\n"}"#);
}
both!(intact_log_verifies);

async fn the_database_refuses_update_and_delete(db: &TestDb) {
    fill(&db.store, 3).await;
    for sql in ["UPDATE audit_log SET actor = 'mallory' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3"] {
        let err = db.raw(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if db.url.starts_with("postgres") {
        let err = db.raw("TRUNCATE audit_log").await.expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(db.store.verify().await.expect("verify").entries, 3);
}
both!(the_database_refuses_update_and_delete);

async fn a_modified_entry_is_named(db: &TestDb) {
    fill(&db.store, 8).await;
    db.lift_triggers().await;
    db.raw(r#"UPDATE audit_log SET data = '{"n":999}' WHERE seq = 5"#).await.expect("tamper");
    let (seq, message) = first_problem(db).await;
    assert_eq!(seq, 5);
    assert!(message.contains("modified"), "{message}");
}
both!(a_modified_entry_is_named);

async fn a_modified_entry_with_a_recomputed_hash_breaks_the_next_link(db: &TestDb) {
    fill(&db.store, 8).await;
    db.lift_triggers().await;
    let e = db.store.audit_entry(4).await.expect("read").expect("entry 4");
    let forged = steward_memory::audit::link_hash(
        &e.prev_hash,
        &steward_memory::audit::canonical(e.seq, e.at_ms, "mallory", &e.kind, e.proposal_id, &e.data),
    );
    db.raw(&format!("UPDATE audit_log SET actor = 'mallory', hash = '{forged}' WHERE seq = 4")).await.expect("tamper");
    let (seq, message) = first_problem(db).await;
    assert_eq!(seq, 5);
    assert!(message.contains("does not link to entry 4"), "{message}");
}
both!(a_modified_entry_with_a_recomputed_hash_breaks_the_next_link);

async fn a_deleted_entry_is_named(db: &TestDb) {
    fill(&db.store, 8).await;
    db.lift_triggers().await;
    db.raw("DELETE FROM audit_log WHERE seq = 3").await.expect("tamper");
    let (seq, message) = first_problem(db).await;
    assert_eq!(seq, 3);
    assert!(message.contains("missing"), "{message}");
}
both!(a_deleted_entry_is_named);

async fn reordered_entries_are_found(db: &TestDb) {
    fill(&db.store, 8).await;
    db.lift_triggers().await;
    db.raw(
        "UPDATE audit_log SET seq = -1 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 4; \
         UPDATE audit_log SET seq = 4 WHERE seq = -1;",
    )
    .await
    .expect("tamper");
    let (seq, _) = first_problem(db).await;
    assert_eq!(seq, 3);
}
both!(reordered_entries_are_found);

async fn an_inserted_entry_is_found(db: &TestDb) {
    fill(&db.store, 6).await;
    db.lift_triggers().await;
    // Make room at seq 4 (shifting 4..6 up by one, in two steps for the primary key) and
    // insert a forged entry that links correctly to entry 3.
    db.raw("UPDATE audit_log SET seq = -seq - 1 WHERE seq >= 4; UPDATE audit_log SET seq = -seq WHERE seq < 0;")
        .await
        .expect("shift");
    let third = db.store.audit_entry(3).await.expect("read").expect("entry 3");
    let data = r#"{"forged":true}"#;
    let hash = steward_memory::audit::link_hash(
        &third.hash,
        &steward_memory::audit::canonical(4, 3_500, "mallory", "test.entry", None, data),
    );
    db.raw(&format!(
        "INSERT INTO audit_log (seq, at_ms, actor, kind, proposal_id, data, prev_hash, hash) \
         VALUES (4, 3500, 'mallory', 'test.entry', NULL, '{data}', '{}', '{hash}')",
        third.hash
    ))
    .await
    .expect("insert");
    let (seq, message) = first_problem(db).await;
    assert_eq!(seq, 5, "the forged entry links, the one after it cannot: {message}");
}
both!(an_inserted_entry_is_found);

async fn concurrent_writers_never_fork_the_chain(db: &TestDb) {
    let second = Store::connect(&db.url).await.expect("second store, as another process would open it");
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let store = if writer % 2 == 0 { db.store.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                store
                    .append(NewEntry::new(i, &format!("writer-{writer}"), "test.entry", None, json!({ "i": i })))
                    .await
                    .expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let report = db.store.verify().await.expect("verify");
    assert_eq!((report.entries, report.problem), (100, None));
    second.close().await;
}
both!(concurrent_writers_never_fork_the_chain);

async fn batched_appends_chain_like_single_ones(db: &TestDb) {
    let batch: Vec<NewEntry> =
        (0..500).map(|i| NewEntry::new(i, "bench", "test.entry", None, json!({ "i": i }))).collect();
    db.store.append_batch(&batch).await.expect("batch");
    fill(&db.store, 2).await;
    let report = db.store.verify().await.expect("verify");
    assert_eq!((report.entries, report.problem), (502, None));
}
both!(batched_appends_chain_like_single_ones);

#[tokio::test]
async fn an_unreachable_store_is_a_one_line_error() {
    let started = std::time::Instant::now();
    let err =
        Store::connect("postgres://steward:hunter2@127.0.0.1:1/prod").await.expect_err("nothing listens on port 1");
    let message = err.to_string();
    assert!(message.starts_with("cannot open the store at postgres://steward:***@127.0.0.1:1/prod"), "{message}");
    assert!(!message.contains("hunter2") && !message.contains('\n'), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let err = Store::connect("mysql://db/x").await.expect_err("unsupported");
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_sqlite_store_opened_by_many_at_once_migrates_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::connect(&url).await })
        })
        .collect();
    for open in opens {
        let store = open.await.expect("task").expect("every opener gets a migrated store");
        store.close().await;
    }
}
