//! The tools as the model sees them: OpenAI function-calling `tools`, generated from the
//! Rust types. The committed copy under `tools/schema/tools.json` is checked against this in
//! a test, so a change to a type that changes the schema cannot slip by unnoticed.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Value};

use crate::call::{ProvisionGpuWorkers, ScaleGroup, TerminateWorkers};
use crate::read::{ExplainPolicy, GetCost, GetMetrics, ListGroups, PlanMigration, RecentActions};

/// Whether a tool changes anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    ReadOnly,
    Mutating,
}

struct ToolSpec {
    name: &'static str,
    description: &'static str,
    effect: Effect,
    parameters: fn() -> Value,
}

/// The JSON Schema of one tool's arguments, subschemas inlined (no `$ref`), so every
/// OpenAI-compatible server can read it.
fn params<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true).into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
        object.remove("description");
        // Strict function calling wants every object to say it takes nothing else.
        object.insert("additionalProperties".into(), Value::Bool(false));
        object.entry("properties").or_insert_with(|| json!({}));
    }
    schema
}

const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "scale_group",
        description: "Set the desired capacity of a managed Auto Scaling group. current_desired must be the capacity list_groups reported; the call is refused if the group changed since.",
        effect: Effect::Mutating,
        parameters: params::<ScaleGroup>,
    },
    ToolSpec {
        name: "provision_gpu_workers",
        description: "Launch GPU workers into a managed GPU pool.",
        effect: Effect::Mutating,
        parameters: params::<ProvisionGpuWorkers>,
    },
    ToolSpec {
        name: "terminate_workers",
        description: "Terminate specific managed instances of a group (idle GPU workers, for example).",
        effect: Effect::Mutating,
        parameters: params::<TerminateWorkers>,
    },
    ToolSpec {
        name: "list_groups",
        description: "List every managed group with capacity, utilisation, queue depth and price.",
        effect: Effect::ReadOnly,
        parameters: params::<ListGroups>,
    },
    ToolSpec {
        name: "get_metrics",
        description: "Recent metric samples (CPU, requests, queue depth, capacity) of one group.",
        effect: Effect::ReadOnly,
        parameters: params::<GetMetrics>,
    },
    ToolSpec {
        name: "get_cost",
        description: "Hourly burn of managed capacity, for one group or all.",
        effect: Effect::ReadOnly,
        parameters: params::<GetCost>,
    },
    ToolSpec {
        name: "recent_actions",
        description: "The most recent proposals and what became of them, newest first.",
        effect: Effect::ReadOnly,
        parameters: params::<RecentActions>,
    },
    ToolSpec {
        name: "explain_policy",
        description: "What the guardrails would decide about a call right now (allowed, needs approval, denied) and which policies say so. Proposes nothing.",
        effect: Effect::ReadOnly,
        parameters: params::<ExplainPolicy>,
    },
    ToolSpec {
        name: "plan_migration",
        description: "The typed plan for moving a Heroku app onto AWS (secrets, database, services, data copy, DNS cutover, Heroku scale-down), with each step's cost, risk and downtime. Read-only: it starts nothing, and the steps always come from this planner.",
        effect: Effect::ReadOnly,
        parameters: params::<PlanMigration>,
    },
];

/// Every tool, in the exact form of OpenAI function-calling `tools`:
/// `[{"type": "function", "function": {"name", "description", "parameters"}}]`.
pub fn openai_tools() -> Value {
    openai_tools_where(|_| true)
}

fn openai_tools_where(keep: impl Fn(Effect) -> bool) -> Value {
    let tools: Vec<Value> = TOOLS
        .iter()
        .filter(|t| keep(t.effect))
        .map(|t| {
            json!({
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": (t.parameters)(),
                }
            })
        })
        .collect();
    Value::Array(tools)
}

/// The effect of a tool by name, `None` for a tool that does not exist.
pub fn effect_of(name: &str) -> Option<Effect> {
    TOOLS.iter().find(|t| t.name == name).map(|t| t.effect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        let committed: Value = serde_json::from_str(include_str!("../../schema/tools.json")).unwrap_or(Value::Null);
        let generated = openai_tools();
        if std::env::var_os("STEWARD_BLESS").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/tools.json");
            let text = serde_json::to_string_pretty(&generated).unwrap_or_default() + "\n";
            std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
            return;
        }
        assert!(
            committed == generated,
            "tools/schema/tools.json is out of date; regenerate it with `STEWARD_BLESS=1 cargo test -p steward-tools`"
        );
    }

    #[test]
    fn every_tool_is_a_strict_object_function() {
        let tools = openai_tools();
        let list = tools.as_array().cloned().unwrap_or_default();
        assert_eq!(list.len(), TOOLS.len());
        for tool in list {
            assert_eq!(tool["type"], "function");
            assert_eq!(tool["function"]["parameters"]["type"], "object", "{tool}");
            assert_eq!(tool["function"]["parameters"]["additionalProperties"], false, "{tool}");
        }
        assert_eq!(effect_of("scale_group"), Some(Effect::Mutating));
        assert_eq!(effect_of("get_cost"), Some(Effect::ReadOnly));
        assert_eq!(effect_of("rm_rf"), None);
    }
}
