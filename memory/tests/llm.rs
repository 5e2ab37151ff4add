//! LLM episodes and the cost roll-up on both backends.

use steward_memory::both;

use serde_json::json;
use steward_memory::testing::TestDb;
use steward_memory::{EpisodeRow, NewEntry, TickState, UsageTotals};
use steward_tools::CloudProvider;

const HOUR_MS: i64 = 3_600_000;

fn episode(at: i64, kind: &str, target: Option<&str>) -> EpisodeRow {
    EpisodeRow {
        id: 0,
        started_ms: at,
        trigger_kind: kind.into(),
        target: target.map(String::from),
        summary: format!("{kind} at {at}"),
        model: "m".into(),
        ended: "answered".into(),
        tainted: false,
        requests: 2,
        prompt_tokens: 100,
        completion_tokens: 10,
        elapsed_ms: 5,
        proposals: 1,
        rejected: 0,
        answer: Some("ok".into()),
    }
}

async fn episodes_are_remembered_with_their_audit_entries(db: &TestDb) {
    let store = &db.store;
    for (at, target) in [(1, Some("web")), (2, Some("gpu")), (3, Some("web")), (4, None)] {
        let id = store
            .record_episode(&episode(at, "anomaly", target), |id| {
                vec![NewEntry::new(at, "model:m", "llm.episode", None, json!({ "episode": id }))]
            })
            .await
            .expect("record");
        assert!(id > 0);
    }
    store.record_episode(&episode(5, "question", None), |_| Vec::new()).await.expect("record");
    let similar = store.similar_episodes("anomaly", Some("web"), 3).await.expect("similar");
    let order: Vec<i64> = similar.iter().map(|e| e.started_ms).collect();
    assert_eq!(order, [3, 1, 4], "the same target first, then newest first");
    let usage = store.llm_usage(0, 5).await.expect("usage");
    assert_eq!(usage, UsageTotals { episodes: 4, requests: 8, prompt_tokens: 400, completion_tokens: 40 });
    assert_eq!(store.recent_episodes(1).await.expect("recent")[0].trigger_kind, "question");
    let entries = store.audit_tail(10).await.expect("entries");
    assert_eq!(entries.iter().filter(|e| e.kind == "llm.episode").count(), 4);
    assert!(store.verify().await.expect("verify").problem.is_none());
}
both!(episodes_are_remembered_with_their_audit_entries);

async fn cost_rolls_up_by_group_and_hour(db: &TestDb) {
    let store = &db.store;
    let cloud = steward_sim::SimCloud::new(steward_sim::demo_fleet(), 0, 42);
    let mut observation = cloud.observe().await.expect("observe");
    for minute in 0..120 {
        observation.at_ms = minute * 60_000;
        store.record_cost(&observation, 60_000).await.expect("cost");
    }
    let by_group = store.cost_by_group(0, 2 * HOUR_MS).await.expect("by group");
    let web = observation.group("web").map(|g| g.hourly_burn()).unwrap_or_default();
    let usd = by_group.iter().find(|(n, _)| n == "web").map(|(_, usd)| *usd).unwrap_or_default();
    assert!(web > 0.0 && (usd - 2.0 * web).abs() < 1e-9, "two hours of web: {usd} vs {}", 2.0 * web);
    let first_hour = store.cost_by_group(0, HOUR_MS).await.expect("first hour");
    assert_eq!(first_hour.len(), observation.groups.len());
}
both!(cost_rolls_up_by_group_and_hour);

async fn a_tick_is_remembered_in_one_go(db: &TestDb) {
    let store = &db.store;
    let cloud = steward_sim::SimCloud::new(steward_sim::demo_fleet(), 0, 42);
    let observation = cloud.observe().await.expect("observe");
    let state = store.record_tick(&observation, 60_000, 90_000).await.expect("tick");
    assert_eq!(
        state,
        TickState { paused: false, proposed: 0, pending_approval: 0, approved: 0, executing: 0, migrations_moving: 0 }
    );
    assert_eq!(store.daemon_clock_ms().await.expect("clock"), Some(90_000), "the clock is written with the tick");
    let latest = store.control(steward_memory::control::keys::LATEST_OBSERVATION).await.expect("control");
    let back: steward_tools::Observation = serde_json::from_str(&latest.unwrap_or_default()).expect("snapshot");
    // Floats may come back one unit in the last place off; the shape must be exact.
    let shape = |o: &steward_tools::Observation| -> Vec<(String, u32, Vec<String>)> {
        o.groups
            .iter()
            .map(|g| (g.name.clone(), g.desired, g.instances.iter().map(|i| i.id.clone()).collect()))
            .collect()
    };
    assert_eq!(shape(&back), shape(&observation));
    assert_eq!(back.at_ms, observation.at_ms);
    let rows = store.observations("web", 0, 0).await.expect("rows");
    assert_eq!(rows.len(), 1);
    let cost = store.cost_by_group(0, HOUR_MS).await.expect("cost");
    assert_eq!(cost.len(), observation.groups.len());
}
both!(a_tick_is_remembered_in_one_go);
