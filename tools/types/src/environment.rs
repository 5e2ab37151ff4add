//! Where a group (or a migrated app) runs: prod, staging or dev. Policy treats prod with
//! the most care; calls and observations both name it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The environment a group belongs to. Policy treats `prod` with the most care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Prod,
    Staging,
    Dev,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Prod => "prod",
            Environment::Staging => "staging",
            Environment::Dev => "dev",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
