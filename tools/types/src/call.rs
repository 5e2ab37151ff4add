//! The mutating tool calls: the only actions Steward can ever take.
//!
//! Each call is a plain struct with `deny_unknown_fields`; [`ToolCall::from_json`] is the
//! one way untyped JSON becomes a call, and it names the field that was wrong. Range checks
//! that serde cannot express live in [`ToolCall::check_ranges`], next to the schemars
//! attributes that advertise the same bounds to the model.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use crate::capacity::{LaunchOption, Market};
use crate::field::{parse_json, FieldError};
use crate::migration::MigrationStep;

/// Largest capacity any single group can be asked for.
pub const MAX_CAPACITY: u32 = 10_000;
/// Most GPU workers one call may launch.
pub const MAX_GPU_WORKERS_PER_CALL: u32 = 64;
/// Most instances one call may terminate.
pub const MAX_TERMINATIONS_PER_CALL: usize = 100;

/// Set the desired capacity of an Auto Scaling group.
///
/// Level-driven: `current_desired` is the capacity the proposer saw. The executor refuses
/// the call if the group no longer has it, so a stale proposal can never undo a newer change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleGroup {
    /// Name of a managed group, as `list_groups` returns it.
    #[schemars(length(min = 1, max = 128))]
    pub group: String,
    /// The desired capacity the group had when this was proposed.
    #[schemars(range(max = 10000))]
    pub current_desired: u32,
    /// The new desired capacity.
    #[schemars(range(max = 10000))]
    pub desired: u32,
}

/// Launch GPU workers into a GPU pool. The executor tries the pool's launch options in
/// their order (skipping those cooling off after a capacity error), splitting the count
/// where one option has less capacity; policy prices the call at the worst case of the
/// options it may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionGpuWorkers {
    /// Name of a managed GPU pool.
    #[schemars(length(min = 1, max = 128))]
    pub pool: String,
    /// How many workers to launch.
    #[schemars(range(min = 1, max = 64))]
    pub count: u32,
    /// Only the pool's options of this instance type (for example `g5.xlarge`); default:
    /// any of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub instance_type: Option<String>,
    /// Only the pool's options in this market (`spot` or `on_demand`); default: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<Market>,
}

impl ProvisionGpuWorkers {
    /// Whether the call may launch in `option`: its type and market, where the call names them.
    pub fn allows(&self, option: &LaunchOption) -> bool {
        self.instance_type.as_ref().is_none_or(|t| &option.instance_type == t)
            && self.market.is_none_or(|m| option.market == m)
    }
}

/// Terminate specific workers of a group. Only instances that carry the management tag can
/// be terminated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TerminateWorkers {
    /// Name of the managed group the workers belong to.
    #[schemars(length(min = 1, max = 128))]
    pub group: String,
    /// Instance ids to terminate.
    #[schemars(length(min = 1, max = 100))]
    pub instance_ids: Vec<String>,
}

/// A mutating tool call. Serialised as `{"tool": "scale_group", "arguments": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "tool", content = "arguments", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolCall {
    ScaleGroup(ScaleGroup),
    ProvisionGpuWorkers(ProvisionGpuWorkers),
    TerminateWorkers(TerminateWorkers),
    /// A step of moving an app off Heroku. Made only by the typed migration planner: it is
    /// not among the LLM planner's tools, and the model cannot call it.
    #[schemars(skip)]
    MigrationStep(Box<MigrationStep>),
}

impl ToolCall {
    /// Parse and range-check a call from JSON text.
    pub fn from_json(text: &str) -> Result<ToolCall, FieldError> {
        let call: ToolCall = parse_json(text)?;
        call.check_ranges()?;
        Ok(call)
    }

    /// Parse a call from a tool name and its JSON arguments, the way a model returns it.
    pub fn from_name_and_arguments(name: &str, arguments: &str) -> Result<ToolCall, FieldError> {
        let arguments: serde_json::Value = serde_json::from_str(arguments)
            .map_err(|e| FieldError::new("arguments", format!("not valid JSON: {e}")))?;
        // `tool` first: with the tag after the content, serde buffers the content and the
        // path of a bad field is lost.
        let text = format!(r#"{{"tool":{},"arguments":{arguments}}}"#, serde_json::Value::from(name));
        ToolCall::from_json(&text)
    }

    /// The bounds the schema advertises, enforced.
    pub fn check_ranges(&self) -> Result<(), FieldError> {
        match self {
            ToolCall::ScaleGroup(c) => {
                check_name("arguments.group", &c.group)?;
                check_at_most("arguments.current_desired", c.current_desired, MAX_CAPACITY)?;
                check_at_most("arguments.desired", c.desired, MAX_CAPACITY)?;
            }
            ToolCall::ProvisionGpuWorkers(c) => {
                check_name("arguments.pool", &c.pool)?;
                if let Some(t) = &c.instance_type {
                    check_name("arguments.instance_type", t)?;
                }
                if c.count == 0 || c.count > MAX_GPU_WORKERS_PER_CALL {
                    return Err(FieldError::new(
                        "arguments.count",
                        format!("must be between 1 and {MAX_GPU_WORKERS_PER_CALL}, got {}", c.count),
                    ));
                }
            }
            ToolCall::TerminateWorkers(c) => {
                check_name("arguments.group", &c.group)?;
                if c.instance_ids.is_empty() || c.instance_ids.len() > MAX_TERMINATIONS_PER_CALL {
                    return Err(FieldError::new(
                        "arguments.instance_ids",
                        format!(
                            "must list between 1 and {MAX_TERMINATIONS_PER_CALL} instances, got {}",
                            c.instance_ids.len()
                        ),
                    ));
                }
                for (i, id) in c.instance_ids.iter().enumerate() {
                    check_name(&format!("arguments.instance_ids[{i}]"), id)?;
                }
                let mut sorted = c.instance_ids.clone();
                sorted.sort();
                sorted.dedup();
                if sorted.len() != c.instance_ids.len() {
                    return Err(FieldError::new("arguments.instance_ids", "lists an instance twice"));
                }
            }
            ToolCall::MigrationStep(step) => step.check()?,
        }
        Ok(())
    }

    /// The tool's name, as the model sees it.
    pub fn name(&self) -> &'static str {
        match self {
            ToolCall::ScaleGroup(_) => "scale_group",
            ToolCall::ProvisionGpuWorkers(_) => "provision_gpu_workers",
            ToolCall::TerminateWorkers(_) => "terminate_workers",
            ToolCall::MigrationStep(_) => "migration_step",
        }
    }

    /// The action policy sees: the tool's name, or a migration step's kind.
    pub fn policy_action(&self) -> &'static str {
        match self {
            ToolCall::MigrationStep(step) => step.action.kind(),
            other => other.name(),
        }
    }

    /// The migration step, when this is one.
    pub fn migration_step(&self) -> Option<&MigrationStep> {
        match self {
            ToolCall::MigrationStep(step) => Some(step),
            _ => None,
        }
    }

    /// The group (or app) the call acts on.
    pub fn target(&self) -> &str {
        match self {
            ToolCall::ScaleGroup(c) => &c.group,
            ToolCall::ProvisionGpuWorkers(c) => &c.pool,
            ToolCall::TerminateWorkers(c) => &c.group,
            ToolCall::MigrationStep(step) => &step.app,
        }
    }

    /// Canonical bytes: JSON with a fixed field order (struct order, no maps).
    pub fn canonical_json(&self) -> String {
        // Serialising these plain structs cannot fail: no maps with non-string keys, no
        // custom serialisers.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// SHA-256 of the canonical form, hex. An approval is bound to this hash.
    pub fn canonical_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

impl fmt::Display for ToolCall {
    /// One line, for the queue and the tick report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolCall::ScaleGroup(c) => {
                write!(f, "scale_group {} {}→{}", c.group, c.current_desired, c.desired)
            }
            ToolCall::ProvisionGpuWorkers(c) => {
                write!(f, "provision_gpu_workers {} +{}", c.pool, c.count)?;
                if let Some(t) = &c.instance_type {
                    write!(f, " {t}")?;
                }
                match c.market {
                    Some(m) => write!(f, " {}", m.as_str()),
                    None => Ok(()),
                }
            }
            ToolCall::TerminateWorkers(c) => {
                write!(f, "terminate_workers {} [{}]", c.group, c.instance_ids.join(", "))
            }
            ToolCall::MigrationStep(step) => write!(f, "{step}"),
        }
    }
}

fn check_at_most(field: &str, value: u32, max: u32) -> Result<(), FieldError> {
    if value > max {
        return Err(FieldError::new(field, format!("must be at most {max}, got {value}")));
    }
    Ok(())
}

/// Names and ids: 1 to 128 characters of letters, digits, `-`, `_`, `.` and `:`.
fn check_name(field: &str, value: &str) -> Result<(), FieldError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    if value.is_empty() || value.len() > 128 || !value.chars().all(ok_char) {
        return Err(FieldError::new(field, "must be 1 to 128 characters of letters, digits, '-', '_', '.' or ':'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<&str, &str>) {
        match (ToolCall::from_json(input), expect) {
            (Ok(call), Ok(line)) => assert_eq!(call.to_string(), line, "input: {input}"),
            (Err(e), Err(message)) => {
                assert!(e.to_string().starts_with(message), "input: {input}\n got: {e}\nwant: {message}…")
            }
            (got, want) => panic!("input {input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_and_names_the_bad_field() {
        check(
            r#"{"tool":"scale_group","arguments":{"group":"web","current_desired":4,"desired":6}}"#,
            Ok("scale_group web 4→6"),
        );
        check(
            r#"{"tool":"scale_group","arguments":{"group":"web","current_desired":4,"desired":60000}}"#,
            Err("arguments.desired: must be at most 10000, got 60000"),
        );
        check(
            r#"{"tool":"scale_group","arguments":{"group":"web","current_desired":4,"desired":-1}}"#,
            Err("arguments.desired: invalid value: integer `-1`, expected u32"),
        );
        check(
            r#"{"tool":"scale_group","arguments":{"group":"web","current_desired":4,"desired":6,"force":true}}"#,
            Err("arguments.force: unknown field `force`, expected one of `group`, `current_desired`, `desired`"),
        );
        check(
            r#"{"tool":"reboot_everything","arguments":{}}"#,
            Err("tool: unknown variant `reboot_everything`, expected one of `scale_group`, `provision_gpu_workers`, `terminate_workers`, `migration_step`"),
        );
        check(
            r#"{"tool":"provision_gpu_workers","arguments":{"pool":"gpu","count":0,"instance_type":"g5.xlarge"}}"#,
            Err("arguments.count: must be between 1 and 64, got 0"),
        );
        check(
            r#"{"tool":"terminate_workers","arguments":{"group":"gpu","instance_ids":["i-1","i-1"]}}"#,
            Err("arguments.instance_ids: lists an instance twice"),
        );
        check(
            r#"{"tool":"terminate_workers","arguments":{"group":"gpu","instance_ids":["i-1; rm -rf /"]}}"#,
            Err("arguments.instance_ids[0]: must be 1 to 128 characters of letters, digits, '-', '_', '.' or ':'"),
        );
        check(r#"{"tool":"scale_group""#, Err("(document): EOF while parsing an object"));
    }

    #[test]
    fn model_style_arguments_parse_the_same_way() {
        let call = ToolCall::from_name_and_arguments(
            "provision_gpu_workers",
            r#"{"pool":"gpu","count":2,"instance_type":"g5.xlarge"}"#,
        );
        assert_eq!(call.map(|c| c.to_string()), Ok("provision_gpu_workers gpu +2 g5.xlarge".into()));
        let bad = ToolCall::from_name_and_arguments("scale_group", "{not json");
        assert_eq!(bad.map_err(|e| e.field), Err("arguments".to_string()));
    }

    #[test]
    fn canonical_hash_depends_on_every_argument() {
        let a = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired: 6 });
        let b = ToolCall::ScaleGroup(ScaleGroup { group: "web".into(), current_desired: 4, desired: 7 });
        assert_eq!(a.canonical_hash(), a.clone().canonical_hash());
        assert_ne!(a.canonical_hash(), b.canonical_hash());
        assert_eq!(
            a.canonical_json(),
            r#"{"tool":"scale_group","arguments":{"group":"web","current_desired":4,"desired":6}}"#
        );
    }
}
