//! The shipped IAM policy for migrations grants every AWS call the target makes: each
//! operation `aws/` names (every SDK call goes through `classify("Operation", …)`) must be
//! an allowed action, under any service prefix.

#[test]
fn the_migration_iam_policy_allows_every_call_the_target_makes() {
    let source = [
        include_str!("../src/aws/mod.rs"),
        include_str!("../src/aws/lb.rs"),
        include_str!("../src/aws/dns.rs"),
        include_str!("../src/aws/names.rs"),
    ]
    .concat();
    let policy: serde_json::Value =
        serde_json::from_str(include_str!("../../../deploy/iam/steward-migration-policy.json")).expect("policy JSON");
    let mut allowed = Vec::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        match &statement["Action"] {
            serde_json::Value::String(a) => allowed.push(a.clone()),
            serde_json::Value::Array(list) => allowed.extend(list.iter().filter_map(|a| a.as_str()).map(String::from)),
            other => panic!("{other}"),
        }
    }
    let operations: Vec<&str> = source.split("classify(\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(operations.len() > 20, "{operations:?}");
    for op in operations {
        assert!(allowed.iter().any(|a| a.rsplit(':').next() == Some(op)), "{op} is not in the migration IAM policy");
    }
}
