//! Read-only tools: what a planner (the LLM planner in particular) may ask about the fleet.
//! They never change anything and are answered locally, not by the executor.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::call::ToolCall;
use crate::field::{parse_json, FieldError};

/// List every managed group with its capacity, utilisation and price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListGroups {}

/// Recent metric samples of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetMetrics {
    /// Name of a managed group.
    #[schemars(length(min = 1, max = 128))]
    pub group: String,
    /// How many minutes of history to return.
    #[schemars(range(min = 1, max = 10080))]
    pub minutes: u32,
}

/// Hourly burn of managed capacity, for one group or all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetCost {
    /// Limit the answer to one group.
    #[serde(default)]
    pub group: Option<String>,
}

/// The most recent proposals and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecentActions {
    /// How many to return, newest first.
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
}

/// What the guardrails would decide about a call right now, and why. Nothing is proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainPolicy {
    /// The call to explain, as `{"tool": "scale_group", "arguments": {...}}`.
    pub call: ToolCall,
}

/// The typed migration planner's plan for moving a Heroku app onto AWS: its steps, what each
/// costs and risks. Nothing is started; a person starts a migration (`steward migrate start`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanMigration {
    /// The app's name on Heroku.
    #[schemars(length(min = 1, max = 128))]
    pub app: String,
}

/// A read-only tool call. Serialised as `{"tool": "get_metrics", "arguments": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "tool", content = "arguments", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReadTool {
    ListGroups(ListGroups),
    GetMetrics(GetMetrics),
    GetCost(GetCost),
    RecentActions(RecentActions),
    ExplainPolicy(ExplainPolicy),
    PlanMigration(PlanMigration),
}

impl ReadTool {
    pub fn from_json(text: &str) -> Result<ReadTool, FieldError> {
        let tool: ReadTool = parse_json(text)?;
        match &tool {
            ReadTool::ExplainPolicy(e) => e.call.check_ranges().map_err(|e| FieldError {
                field: e.field.replacen("arguments", "arguments.call.arguments", 1),
                message: e.message,
            })?,
            ReadTool::GetMetrics(m) if m.minutes == 0 || m.minutes > 10080 => {
                return Err(FieldError::new("arguments.minutes", "must be between 1 and 10080"));
            }
            ReadTool::RecentActions(r) if r.limit == 0 || r.limit > 100 => {
                return Err(FieldError::new("arguments.limit", "must be between 1 and 100"));
            }
            ReadTool::PlanMigration(p)
                if p.app.is_empty()
                    || p.app.len() > 128
                    || !p.app.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
            {
                return Err(FieldError::new("arguments.app", "must be a Heroku app name (letters, digits, '-')"));
            }
            _ => {}
        }
        Ok(tool)
    }

    /// Parse a read-only call from a tool name and its JSON arguments, the way a model
    /// returns it.
    pub fn from_name_and_arguments(name: &str, arguments: &str) -> Result<ReadTool, FieldError> {
        let arguments: serde_json::Value = serde_json::from_str(arguments)
            .map_err(|e| FieldError::new("arguments", format!("not valid JSON: {e}")))?;
        // `tool` first: with the tag after the content, serde buffers the content and the
        // path of a bad field is lost.
        let text = format!(r#"{{"tool":{},"arguments":{arguments}}}"#, serde_json::Value::from(name));
        ReadTool::from_json(&text)
    }

    /// The tool's name, as the model sees it.
    pub fn name(&self) -> &'static str {
        match self {
            ReadTool::ListGroups(_) => "list_groups",
            ReadTool::GetMetrics(_) => "get_metrics",
            ReadTool::GetCost(_) => "get_cost",
            ReadTool::RecentActions(_) => "recent_actions",
            ReadTool::ExplainPolicy(_) => "explain_policy",
            ReadTool::PlanMigration(_) => "plan_migration",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_tools_parse_and_name_the_bad_field() {
        let ok = ReadTool::from_name_and_arguments("get_metrics", r#"{"group":"web","minutes":30}"#);
        assert_eq!(ok.map(|t| t.name()), Ok("get_metrics"));
        let bad = ReadTool::from_name_and_arguments("get_metrics", r#"{"group":"web","minutes":0}"#);
        assert_eq!(bad.map_err(|e| e.field), Err("arguments.minutes".to_string()));
        let explain = ReadTool::from_name_and_arguments(
            "explain_policy",
            r#"{"call":{"tool":"scale_group","arguments":{"group":"web","current_desired":2,"desired":90000}}}"#,
        );
        assert_eq!(explain.map_err(|e| e.field), Err("arguments.call.arguments.desired".to_string()));
        let unknown = ReadTool::from_name_and_arguments("list_groups", r#"{"all":true}"#);
        assert!(unknown.is_err_and(|e| e.message.contains("unknown field `all`")));
    }
}
