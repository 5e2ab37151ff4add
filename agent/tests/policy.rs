//! `steward policy test`, `steward policy explain` and `steward tools schema` through the
//! binary, including their bad-input paths (one line naming the field, exit code 2).

mod common;

use common::{stderr, stdout, Workdir};

#[test]
fn the_shipped_policy_cases_pass() {
    let work = Workdir::new();
    let out = work.run(&["policy", "test"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.lines().last().is_some_and(|l| l.ends_with("passed, 0 failed")), "{text}");
}

#[test]
fn a_mismatching_case_fails_the_run() {
    let work = Workdir::new();
    let dir = work.path().join("mine");
    std::fs::create_dir_all(dir.join("tests")).expect("mkdir");
    std::fs::write(
        dir.join("rules.cedar"),
        "@id(\"only-staging\") permit(principal, action, resource) when { resource.environment == \"staging\" };",
    )
    .expect("write");
    std::fs::write(
        dir.join("tests/cases.json"),
        r#"[{"name": "prod is not covered", "expect": "allow",
             "proposal": {"call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 2, "desired": 3}},
                          "group": {"environment": "prod", "kind": "auto_scaling", "instance_type": "m6i.large", "min": 1, "max": 9, "desired": 2}}},
            {"name": "staging is", "expect": "allow",
             "proposal": {"call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 2, "desired": 3}},
                          "group": {"environment": "staging", "kind": "auto_scaling", "instance_type": "m6i.large", "min": 1, "max": 9, "desired": 2}}}]"#,
    )
    .expect("write");
    let out = work.run(&["policy", "test", "--dir", "mine"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("FAIL") && text.contains("default-deny"), "{text}");
    assert!(text.contains("1 passed, 1 failed"), "{text}");
}

const HALVING: &str = r#"{
  "call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 10, "desired": 4}},
  "group": {"environment": "prod", "kind": "auto_scaling", "instance_type": "m6i.large", "min": 2, "max": 40, "desired": 10}
}"#;

#[test]
fn explain_names_the_deciding_policies() {
    let work = Workdir::new();
    let file = work.file("halving.json", HALVING);
    let out = work.run(&["policy", "explain", file.to_str().expect("path")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("decision: deny"), "{text}");
    assert!(text.contains("prod-no-halving:"), "{text}");
    assert!(text.contains("cost:     -0.58 $/h"), "{text}");
    let json = work.run(&["policy", "explain", "halving.json", "--json"]);
    let decision: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(decision["verdict"]["verdict"], "deny");
}

#[test]
fn bad_proposal_files_get_one_line_and_exit_2() {
    let work = Workdir::new();
    let cases = [
        ("{not json", "halving.json: (document)"),
        (&HALVING.replace("\"desired\": 4}", "\"desired\": 40000}"), "call.arguments.desired: must be at most 10000"),
        (
            &HALVING.replace("\"desired\": 4}", "\"desired\": 4, \"force\": true}"),
            "call.arguments.force: unknown field",
        ),
        (&HALVING.replace("scale_group", "delete_everything"), "call.tool: unknown variant `delete_everything`"),
        (&HALVING.replace("\"prod\"", "\"production\""), "group.environment: unknown variant `production`"),
        (
            &HALVING.replace("\"group\": \"web\"", "\"group\": \"web; rm -rf /\""),
            "call.arguments.group: must be 1 to 128",
        ),
    ];
    for (text, expect) in cases {
        work.file("halving.json", text);
        let out = work.run(&["policy", "explain", "halving.json"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{text}\nwant {expect}\ngot  {err}");
    }
    let out = work.run(&["policy", "explain", "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    let out = work.run(&["approve", "not-a-number"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tools_schema_is_openai_function_calling() {
    let work = Workdir::new();
    let out = work.run(&["tools", "schema"]);
    let tools: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> =
        tools.as_array().expect("array").iter().filter_map(|t| t["function"]["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "scale_group",
            "provision_gpu_workers",
            "terminate_workers",
            "list_groups",
            "get_metrics",
            "get_cost",
            "recent_actions",
            "explain_policy",
            "plan_migration"
        ]
    );
    for tool in tools.as_array().expect("array") {
        assert_eq!(tool["type"], "function");
        assert!(tool["function"]["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(tool["function"]["parameters"]["type"], "object");
    }
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../tools/schema/tools.json")).expect("committed schema");
    assert_eq!(tools, committed);
}

/// `steward tools schema | head -c 600`, `steward audit tail | head -1`: when the reader is
/// gone, the command ends quietly with 141 (what a tool killed by SIGPIPE reports): no panic,
/// nothing on stderr. The pipe's reading end is closed before the command starts, so every
/// write it makes meets a closed pipe.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let work = Workdir::new();
    assert!(work.run(&["run", "--ticks", "30", "--listen", "127.0.0.1:0"]).status.success());
    for args in [&["tools", "schema"][..], &["audit", "tail", "-n", "1000"][..], &["queue"][..]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = work.command(args).stdout(writer).output().expect("run");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}: quietly");
    }
}
