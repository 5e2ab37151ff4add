//! Read-only tools: what a planner (the LLM planner in particular) may ask about the fleet.
//! They never change anything and are answered locally, not by the executor.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::call::{parse_json, FieldError};

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

/// A read-only tool call. Serialised as `{"tool": "get_metrics", "arguments": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "tool", content = "arguments", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReadTool {
    ListGroups(ListGroups),
    GetMetrics(GetMetrics),
    GetCost(GetCost),
    RecentActions(RecentActions),
}

impl ReadTool {
    pub fn from_json(text: &str) -> Result<ReadTool, FieldError> {
        let tool: ReadTool = parse_json(text)?;
        match &tool {
            ReadTool::GetMetrics(m) if m.minutes == 0 || m.minutes > 10080 => {
                return Err(FieldError::new("arguments.minutes", "must be between 1 and 10080"));
            }
            ReadTool::RecentActions(r) if r.limit == 0 || r.limit > 100 => {
                return Err(FieldError::new("arguments.limit", "must be between 1 and 100"));
            }
            _ => {}
        }
        Ok(tool)
    }
}
