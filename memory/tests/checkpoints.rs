//! Signed checkpoints catch what the chain alone cannot: a cut-off tail, and a rewrite of
//! checkpointed entries. Altered or foreign checkpoints are reported, not trusted.

use steward_memory::both;

use serde_json::json;
use steward_memory::checkpoint::{load_or_create_key, CheckpointSigner};
use steward_memory::testing::TestDb;
use steward_memory::NewEntry;

async fn cut_tails_and_rewrites_are_caught(db: &TestDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, created) = load_or_create_key(&dir.path().join("keys/checkpoint.key")).expect("key");
    assert!(created);
    let (same, created) = load_or_create_key(&dir.path().join("keys/checkpoint.key")).expect("key again");
    assert!(!created);
    assert_eq!(same.verifying_key(), key.verifying_key());
    let trusted = key.verifying_key();
    let checkpoints = dir.path().join("checkpoints");
    let signer = CheckpointSigner::new(key, checkpoints.clone()).expect("signer");

    for i in 1..=10 {
        db.store.append(NewEntry::new(i, "test", "test.entry", None, json!({ "i": i }))).await.expect("append");
        if i % 4 == 0 {
            let (seq, hash) = db.store.audit_head().await.expect("head").expect("some");
            signer.write(seq, &hash, i).expect("checkpoint");
        }
    }
    let report = db.store.verify_checkpoints(&checkpoints, &trusted).await.expect("store").expect("dir");
    assert_eq!((report.checked, report.problems.len()), (2, 0), "{:?}", report.problems);
    assert_eq!(report.newest.map(|c| c.seq), Some(8));

    // Cut the tail back to entry 6: the chain is still a valid chain…
    db.lift_triggers().await;
    db.raw("DELETE FROM audit_log WHERE seq > 6").await.expect("truncate");
    assert_eq!(db.store.verify().await.expect("verify").problem, None);
    // …but the checkpoint at 8 says otherwise.
    let report = db.store.verify_checkpoints(&checkpoints, &trusted).await.expect("store").expect("dir");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].contains("tail was cut off"), "{}", report.problems[0]);
    assert!(report.problems[0].contains("entry 8"), "{}", report.problems[0]);
}
both!(cut_tails_and_rewrites_are_caught);

#[tokio::test]
async fn altered_and_foreign_checkpoints_are_not_trusted() {
    let db = steward_memory::testing::sqlite().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, _) = load_or_create_key(&dir.path().join("a.key")).expect("key");
    let (other, _) = load_or_create_key(&dir.path().join("b.key")).expect("other key");
    let trusted = key.verifying_key();
    db.store.append(NewEntry::new(1, "t", "test.entry", None, json!({}))).await.expect("append");
    let (seq, hash) = db.store.audit_head().await.expect("head").expect("some");
    let cps = dir.path().join("cps");
    CheckpointSigner::new(key, cps.clone()).expect("signer").write(seq, &hash, 1).expect("write");
    let file = cps.join("checkpoint-000000000001.json");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, text.replace("\"at_ms\": 1", "\"at_ms\": 2")).expect("alter");
    CheckpointSigner::new(other, cps.clone()).expect("signer").write(seq + 1, &hash, 1).expect("write");
    let report = db.store.verify_checkpoints(&cps, &trusted).await.expect("store").expect("dir");
    assert_eq!(report.checked, 0);
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(report.problems.iter().any(|p| p.contains("does not verify")));
    assert!(report.problems.iter().any(|p| p.contains("another key")));
    db.cleanup().await;
}
