//! The default policy set and schema, carried inside the binary so an installed `steward`
//! works from any directory. `policies.dir` in the config replaces them with a team's own.

use crate::engine::PolicySource;

pub const SCHEMA: &str = include_str!("../schema.cedarschema");

/// The default policies, one source per file under `policies/default/`.
pub fn policies() -> Vec<PolicySource> {
    [
        ("default/access.cedar", include_str!("../default/access.cedar")),
        ("default/approval.cedar", include_str!("../default/approval.cedar")),
        ("default/shadow.cedar", include_str!("../default/shadow.cedar")),
    ]
    .into_iter()
    .map(|(name, text)| PolicySource { name: name.to_string(), text: text.to_string() })
    .collect()
}

/// The policy test cases shipped with the defaults.
pub const CASES: &[(&str, &str)] = &[("tests/default.json", include_str!("../tests/default.json"))];
