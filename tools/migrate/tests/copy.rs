//! The data copy with the real `pg_dump` and `pg_restore` between two databases on the
//! test server: every table arrives with its rows and keys, a copy run again (after a
//! crash) leaves no duplicates, a difference is caught, and a password never shows.

use steward_migrate::copy::{checks, compare};
use steward_migrate::testing::{seed_shop, ScratchDb};
use steward_migrate::{Copier, PgCopier};
use steward_tools::Secret;

#[tokio::test]
async fn copies_every_table_verifies_it_and_a_second_run_duplicates_nothing() {
    let source = ScratchDb::create("steward_copy_source").await;
    let target = ScratchDb::create("steward_copy_target").await;
    seed_shop(&source, 2_000).await;

    let report = PgCopier::default().copy(&source.secret(), &target.secret(), 2).await.expect("copy");
    let tables: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "audit.Log Entries",
            "public.customers",
            "public.line_items",
            "public.orders",
            "public.page_views",
            "public.settings"
        ]
    );
    assert_eq!(report.rows, 25 + 2_000 + 12_000 + 4_000 + 6_000 + 2);
    for (table, rows) in
        [("orders", 4_000), ("line_items", 12_000), ("page_views", 6_000), ("audit.\"Log Entries\"", 25)]
    {
        assert_eq!(target.count(table).await, rows, "{table}");
    }
    let keyless = report.tables.iter().find(|t| t.table == "public.page_views").expect("page_views");
    assert_eq!(keyless.keys, "-", "a table without a primary key is counted");

    // A crash after the restore and a second run: the restore replaces, never appends.
    let again = PgCopier::default().copy(&source.secret(), &target.secret(), 1).await.expect("copy again");
    assert_eq!(again.tables, report.tables);
    assert_eq!(target.count("orders").await, 4_000);
    // Sequences came along: the next order continues after the copied ones.
    target.run("INSERT INTO orders (customer_id, total) VALUES (1, 1)").await;
    assert_eq!(target.count("orders WHERE id = 4001").await, 1);

    source.drop_db().await;
    target.drop_db().await;
}

#[tokio::test]
async fn verification_catches_a_missing_row_a_changed_key_and_a_missing_table() {
    let source = ScratchDb::create("steward_verify_source").await;
    let target = ScratchDb::create("steward_verify_target").await;
    seed_shop(&source, 200).await;
    PgCopier::default().copy(&source.secret(), &target.secret(), 2).await.expect("copy");
    let before = checks(&source.secret()).await.expect("source");
    compare(&before, &checks(&target.secret()).await.expect("target")).expect("identical");

    target.run("DELETE FROM line_items WHERE order_id = 7 AND n = 2").await;
    let err = compare(&before, &checks(&target.secret()).await.expect("target")).expect_err("a row is missing");
    assert!(err.to_string().contains("public.line_items has 1199 rows in the target, 1200 in the source"), "{err}");

    target.run("INSERT INTO line_items VALUES (7, 9, 'SKU-X')").await;
    let err = compare(&before, &checks(&target.secret()).await.expect("target")).expect_err("same count, other key");
    assert!(err.to_string().contains("public.line_items's primary keys differ"), "{err}");

    target
        .run("DELETE FROM line_items WHERE order_id = 7 AND n = 9; INSERT INTO line_items VALUES (7, 2, 'SKU-14')")
        .await;
    compare(&before, &checks(&target.secret()).await.expect("target")).expect("put back as it was");
    target.run("DROP TABLE settings").await;
    let err = compare(&before, &checks(&target.secret()).await.expect("target")).expect_err("a table is gone");
    assert!(err.to_string().contains("public.settings is missing in the target"), "{err}");

    source.drop_db().await;
    target.drop_db().await;
}

#[tokio::test]
async fn a_refused_connection_is_one_line_without_the_password() {
    let source = ScratchDb::create("steward_refused_source").await;
    seed_shop(&source, 10).await;
    let password = "pw-9f8e7d6c5b4a";
    // Nothing listens on port 9: pg_dump cannot connect.
    let dead = Secret::new(format!("postgres://shop:{password}@127.0.0.1:9/shop"));
    let err = PgCopier::default().copy(&dead, &source.secret(), 1).await.expect_err("no server");
    let text = err.to_string();
    assert!(text.contains("the source") && text.contains("Connection refused"), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains(password), "{text}");
    let err = checks(&dead).await.expect_err("no server");
    assert!(!err.to_string().contains(password), "{err}");

    let missing = PgCopier { pg_dump: "/nonexistent/pg_dump".into(), ..PgCopier::default() };
    let err = missing.copy(&source.secret(), &source.secret(), 1).await.expect_err("no tool");
    assert!(err.to_string().contains("cannot run /nonexistent/pg_dump"), "{err}");
    source.drop_db().await;
}

#[tokio::test]
async fn a_database_without_sequences_and_with_large_objects_is_copied_once() {
    let source = ScratchDb::create("steward_noseq_source").await;
    let target = ScratchDb::create("steward_noseq_target").await;
    source
        .run(
            "CREATE TABLE tags (name text PRIMARY KEY, hits int);
             INSERT INTO tags SELECT 'tag-' || g, g FROM generate_series(1, 500) g;
             SELECT lo_from_bytea(0, 'a large object');",
        )
        .await;
    PgCopier::default().copy(&source.secret(), &target.secret(), 2).await.expect("copy");
    assert_eq!(target.count("tags").await, 500, "each row once");
    assert_eq!(target.count("pg_largeobject_metadata").await, 1, "the large object came along");
    source.drop_db().await;
    target.drop_db().await;
}
