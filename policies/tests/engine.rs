//! The policy engine: the shipped cases pass, loading refuses broken or empty sets, shadow
//! policies only report, and properties hold for arbitrary proposals.

// Tests may panic: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;
use steward_policies::cases::parse_cases;
use steward_policies::{
    defaults, run_cases, DecisionInput, Guardrails, Limits, LoadError, PolicySource, ProposalFile, Proposer,
    ProposerKind, Verdict,
};
use steward_tools::{validate, Environment, GroupKind, GroupSnapshot, Observation, ScaleGroup, ToolCall};

fn default_guardrails() -> Guardrails {
    Guardrails::load(defaults::SCHEMA, &defaults::policies(), Limits::default()).expect("defaults load")
}

fn source(text: &str) -> Vec<PolicySource> {
    vec![PolicySource { name: "test.cedar".into(), text: text.into() }]
}

#[test]
fn shipped_cases_all_pass() {
    let guardrails = default_guardrails();
    for (name, text) in defaults::CASES {
        let cases = parse_cases(text).expect("cases parse");
        assert!(cases.len() >= 15, "{name} has {} cases", cases.len());
        for outcome in run_cases(&guardrails, &cases) {
            assert!(outcome.passed, "{name}: `{}` got {}", outcome.name, outcome.got);
        }
    }
}

#[test]
fn a_wrong_expectation_is_reported_as_a_failure() {
    let guardrails = default_guardrails();
    let text = r#"[{"name": "wrong on purpose",
        "proposal": {"call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 10, "desired": 4}},
                     "group": {"environment": "prod", "kind": "auto_scaling", "instance_type": "m6i.large", "min": 2, "max": 40, "desired": 10}},
        "expect": "allow"}]"#;
    let outcomes = run_cases(&guardrails, &parse_cases(text).expect("parse"));
    assert!(!outcomes[0].passed);
    assert!(outcomes[0].got.starts_with("deny (prod-no-halving"), "{}", outcomes[0].got);
}

#[test]
fn loading_refuses_what_would_leave_no_guardrails() {
    let check = |policies: &str, expect: &str| {
        let err = Guardrails::load(defaults::SCHEMA, &source(policies), Limits::default()).expect_err(policies);
        assert!(err.to_string().contains(expect), "{policies}: {err}");
    };
    check("", "no enforced access policy");
    check(r#"@id("a") @shadow("true") permit(principal, action, resource);"#, "no enforced access policy");
    check("permit(principal, action, resource);", "needs an @id");
    check(r#"@id("a") permit(principal, action, resource) when { resource.colour == "red" };"#, "does not validate");
    check(r#"@id("a") permit(principal, action, resource) when {"#, "test.cedar");
    check(
        r#"@id("a") permit(principal, action, resource); @id("a") forbid(principal, action, resource);"#,
        "used twice",
    );
    check(r#"@id("a") @approvals("2") forbid(principal, action, resource);"#, "must be a permit");
    check(r#"@id("a") @approvals("lots") permit(principal, action, resource);"#, "@approvals must be 1 to 10");
    let err = Guardrails::load("namespace {", &defaults::policies(), Limits::default()).expect_err("bad schema");
    assert!(matches!(err, LoadError::Schema(_)));
}

fn observation(environment: Environment, desired: u32) -> Observation {
    Observation {
        at_ms: 1_767_614_400_000,
        complete: true,
        groups: vec![GroupSnapshot {
            name: "web".into(),
            kind: GroupKind::AutoScaling,
            environment,
            instance_type: "m6i.large".into(),
            min: 0,
            max: 10_000,
            desired,
            instances: Vec::new(),
            cpu_percent: None,
            requests_per_minute: None,
            queue_depth: None,
            hourly_price: 0.096,
            tags: Default::default(),
            pool: None,
        }],
    }
}

fn input(kind: ProposerKind, tainted: bool, burn: f64, since_change: Option<i64>, changes: u32) -> DecisionInput {
    DecisionInput {
        proposer: Proposer { kind, name: "p".into() },
        now_ms: 1_767_614_400_000,
        hourly_burn_usd: burn,
        month_to_date_usd: 0.0,
        group_month_to_date_usd: 0.0,
        last_change_ms: since_change.map(|m| 1_767_614_400_000 - m * 60_000),
        changes_last_hour: changes,
        tainted,
        idle_only: false,
    }
}

#[test]
fn shadow_policies_are_reported_not_enforced() {
    let guardrails = default_guardrails();
    // 9 → 6 removes a third plus: the enforced set allows it, the trial shadow policy would deny.
    let call = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 9, desired: 5 });
    let validated = validate(call, &observation(Environment::Prod, 9)).expect("valid");
    let decision = guardrails.decide(&validated, &input(ProposerKind::Planner, false, 1.0, None, 0));
    assert_eq!(decision.verdict, Verdict::Allow, "{decision}");
    let shadow = decision.shadow.expect("the shadow policy noticed");
    assert_eq!(shadow.would_be, "deny");
    assert_eq!(shadow.reasons[0].policy, "trial-prod-scale-in-over-a-third");
}

#[test]
fn explain_input_names_the_bad_field() {
    let err = ProposalFile::from_json(r#"{"call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 1, "desired": 99999}}, "group": null}"#)
        .expect_err("out of range");
    assert_eq!(err.field, "call.arguments.desired");
    let err = ProposalFile::from_json(r#"{"call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 1, "desired": 2}}, "colour": 1}"#)
        .expect_err("unknown field");
    assert_eq!(err.field, "colour");
    assert!(err.message.contains("unknown field `colour`"), "{}", err.message);
    let err = ProposalFile::from_json(
        r#"{"call": {"tool": "scale_group", "arguments": {"group": "web", "current_desired": 1, "desired": 2}}}"#,
    )
    .expect_err("no group");
    assert_eq!(err.field, "group");
}

const EXTRA_FORBIDS: &[&str] = &[
    r#"@id("extra") forbid(principal, action, resource) when { context.capacity_delta > 3 };"#,
    r#"@id("extra") forbid(principal, action, resource) when { resource.environment == "staging" };"#,
    r#"@id("extra") forbid(principal, action, resource) when { context.tainted };"#,
    r#"@id("extra") forbid(principal, action, resource) when { context.hourly_burn_after_cents > 500 };"#,
];

fn kinds() -> impl Strategy<Value = ProposerKind> {
    prop_oneof![Just(ProposerKind::Planner), Just(ProposerKind::Model), Just(ProposerKind::Person)]
}

fn environments() -> impl Strategy<Value = Environment> {
    prop_oneof![Just(Environment::Prod), Just(Environment::Staging), Just(Environment::Dev)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Adding a forbid never loosens a decision, and evaluation never panics.
    #[test]
    fn adding_a_forbid_never_loosens(
        before in 0u32..60,
        after in 0u32..60,
        env in environments(),
        kind in kinds(),
        tainted in any::<bool>(),
        burn in 0.0f64..200.0,
        since in proptest::option::of(0i64..30),
        changes in 0u32..20,
        extra in 0usize..EXTRA_FORBIDS.len(),
    ) {
        prop_assume!(before != after);
        let base = default_guardrails();
        let mut sources = defaults::policies();
        sources.push(PolicySource { name: "extra.cedar".into(), text: EXTRA_FORBIDS[extra].into() });
        let stricter = Guardrails::load(defaults::SCHEMA, &sources, Limits::default()).expect("loads");
        let call = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: before, desired: after });
        let validated = validate(call, &observation(env, before)).expect("valid");
        let facts = input(kind, tainted, burn, since, changes);
        let a = base.decide(&validated, &facts);
        let b = stricter.decide(&validated, &facts);
        let rank = |v: &Verdict| match v { Verdict::Allow => 0, Verdict::NeedsApproval { .. } => 1, Verdict::Deny => 2 };
        prop_assert!(rank(&b.verdict) >= rank(&a.verdict), "{a} became {b}");
        if a.verdict == Verdict::Deny {
            prop_assert_eq!(b.verdict, Verdict::Deny);
        }
        // Tainted proposals never run without a person.
        if tainted {
            prop_assert_ne!(a.verdict, Verdict::Allow);
        }
    }
}

/// Decisions skip per-request schema validation; this keeps the request's shape in step
/// with the schema for every tool and environment.
#[test]
fn schema_checks_the_request() {
    let guardrails = default_guardrails();
    for env in [Environment::Prod, Environment::Staging, Environment::Dev] {
        for (before, after) in [(4, 6), (6, 4)] {
            let call =
                ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: before, desired: after });
            let validated = validate(call, &observation(env, before)).expect("valid");
            for kind in [ProposerKind::Planner, ProposerKind::Model, ProposerKind::Person] {
                guardrails
                    .check_request_shape(&validated, &input(kind, true, 3.0, Some(1), 1))
                    .expect("fits the schema");
            }
        }
    }
    for text in defaults::CASES.iter().map(|(_, t)| *t) {
        for case in parse_cases(text).expect("cases") {
            if let Ok(validated) = validate(case.proposal.call.clone(), &case.proposal.observation()) {
                guardrails.check_request_shape(&validated, &case.proposal.input()).expect(&case.name);
            }
        }
    }
}

/// A launch over a pool's hourly or monthly budget, or the fleet's monthly budget, is a
/// deny naming the budget with the numbers; the price is the worst case of the options the
/// call may use (spot at its max price, or on demand without one); a call under every cap
/// is not held back by them.
#[test]
fn budgets_deny_with_the_numbers_at_the_worst_case_price() {
    let limits = Limits { monthly_budget_usd: Some(500.0), hourly_budget_usd: None, ..Limits::default() };
    let guardrails = Guardrails::load(defaults::SCHEMA, &defaults::policies(), limits).expect("loads");
    let file = |count: u32, market: &str, budget: &str, group_spent: f64, fleet_spent: f64| {
        let text = format!(
            r#"{{"call": {{"tool": "provision_gpu_workers", "arguments": {{"pool": "gpu", "count": {count}, "market": "{market}"}}}},
                "group": {{"environment": "staging", "kind": "gpu_pool", "instance_type": "g5.xlarge", "min": 0, "max": 20, "desired": 2,
                           "options": [{{"instance_type": "g5.xlarge", "market": "spot", "max_price": 0.5}},
                                       {{"instance_type": "g5.xlarge", "market": "on_demand"}}],
                           "budget": {budget}}},
                "fleet_hourly_burn_usd": 2.012, "group_month_to_date_usd": {group_spent}, "fleet_month_to_date_usd": {fleet_spent}}}"#
        );
        ProposalFile::from_json(&text).expect("a valid proposal file")
    };
    let decide = |f: &ProposalFile| {
        let validated = validate(f.call.clone(), &f.observation()).expect("valid");
        guardrails.decide(&validated, &f.input())
    };
    let reasons = |d: &steward_policies::Decision| -> Vec<String> {
        d.reasons
            .iter()
            .filter(|r| r.policy.starts_with("limit:budget"))
            .map(|r| format!("{}: {}", r.policy, r.message))
            .collect()
    };

    // Two on-demand workers burn $2.012/h; three more at $1.006 make $5.03/h, over $5.
    let over = decide(&file(3, "on_demand", r#"{"max_usd_per_hour": 5.0}"#, 0.0, 0.0));
    assert_eq!(over.verdict, Verdict::Deny);
    assert_eq!(
        reasons(&over),
        ["limit:budget:gpu:hourly: gpu would burn up to $5.03/h ($2.01/h now + 3 × $1.01/h worst case), above its $5.00/h budget"]
    );
    // On spot the worst case is the max price: the same three fit.
    let spot = decide(&file(3, "spot", r#"{"max_usd_per_hour": 5.0}"#, 0.0, 0.0));
    assert!(reasons(&spot).is_empty(), "{spot}");

    let month = decide(&file(1, "spot", r#"{"max_usd_per_month": 100.0}"#, 98.0, 98.0));
    assert_eq!(
        reasons(&month),
        ["limit:budget:gpu:monthly: gpu has spent $98.00 this month; an hour at $2.51/h ($2.01/h now + 1 × $0.50/h worst case) would reach $100.51, above its $100.00/month budget"]
    );
    let fleet = decide(&file(1, "spot", "{}", 0.0, 499.0));
    assert_eq!(
        reasons(&fleet),
        ["limit:budget:fleet:monthly: the fleet has spent $499.00 this month; an hour at $2.51/h would reach $501.51, above the $500.00/month fleet budget"]
    );
    assert_eq!(fleet.verdict, Verdict::Deny);
}
