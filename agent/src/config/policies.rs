//! `[policies]`: which Cedar policy set guards the fleet (the built-in one, or a team's
//! directory) and which policies run in shadow. Loading goes through `steward-policies`, so
//! the daemon and every command load the same set the same way.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;
use steward_policies::{Guardrails, Limits, PolicyFiles};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoliciesConfig {
    /// A directory of `*.cedar` files (and `tests/*.json` cases) replacing the built-in set.
    pub dir: Option<PathBuf>,
    /// Policy ids to run in shadow (recorded, not enforced), on top of `@shadow` annotations.
    pub shadow: Vec<String>,
}

impl PoliciesConfig {
    /// The policy text in force: the set, with the configured policies marked shadow.
    pub fn files(&self) -> anyhow::Result<PolicyFiles> {
        Ok(PolicyFiles::from(self.dir.as_deref())?.shadow(&self.shadow)?)
    }

    /// Load and validate the set with `limits` beside it. A set that does not validate, or
    /// is empty, is an error: Steward never runs without guardrails.
    pub fn load(&self, limits: &Limits) -> anyhow::Result<Guardrails> {
        let files = self.files()?;
        Guardrails::load(&files.schema, &files.sources, limits.clone()).context("loading policies")
    }
}
