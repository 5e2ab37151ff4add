//! An app as the Platform API describes it, typed. Config var values are secrets: `Debug`
//! shows `[redacted]`, and [`HerokuApp::shape`] (what may be shown, logged or sent to a
//! model) carries their names only.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use steward_tools::Secret;

/// One Heroku app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HerokuApp {
    pub name: String,
    /// `us` or `eu` (a Private Space's region otherwise).
    pub region: String,
    /// `heroku-24`, …, or `container` for an app deployed as a Docker image.
    pub stack: String,
    /// The build packs, when the app is built by them (`Ruby`, `Node.js`, …).
    pub buildpacks: Option<String>,
    pub maintenance: bool,
    pub formation: Vec<Process>,
    pub config_vars: BTreeMap<String, Secret<String>>,
    pub addons: Vec<Addon>,
    pub domains: Vec<Domain>,
    /// The current release.
    pub release: Option<Release>,
}

/// A process type of the formation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    #[serde(rename = "type")]
    pub process_type: String,
    pub command: String,
    pub quantity: u32,
    /// The dyno size: `basic`, `standard-1x`, `standard-2x`, `performance-m`, …
    pub size: String,
}

/// An add-on attached to the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addon {
    pub name: String,
    /// `heroku-postgresql`, `heroku-redis`, …
    pub service: String,
    /// `heroku-postgresql:standard-0`, …
    pub plan: String,
    /// The config vars the add-on manages (`DATABASE_URL`).
    pub config_vars: Vec<String>,
}

/// A domain the app answers on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub hostname: String,
    /// `custom` or `heroku` (the app's own `*.herokuapp.com`).
    pub kind: String,
    /// The DNS target Heroku gave it, for a custom domain.
    pub cname: Option<String>,
}

/// The app's current release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub version: u64,
    pub description: String,
}

/// One process type's new size in a formation update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormationUpdate {
    #[serde(rename = "type")]
    pub process_type: String,
    pub quantity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

impl HerokuApp {
    /// Deployed as a Docker image (the container stack), not built by build packs.
    pub fn is_container(&self) -> bool {
        self.stack == "container"
    }

    /// Config vars an add-on manages: re-pointed at the new target, never copied.
    pub fn addon_vars(&self) -> BTreeSet<String> {
        self.addons.iter().flat_map(|a| a.config_vars.iter().cloned()).collect()
    }

    /// The Heroku Postgres add-on, if the app has one.
    pub fn postgres(&self) -> Option<&Addon> {
        self.addons.iter().find(|a| a.service == "heroku-postgresql")
    }

    pub fn custom_domains(&self) -> impl Iterator<Item = &Domain> {
        self.domains.iter().filter(|d| d.kind == "custom")
    }

    /// What may be shown, logged or given to a model: everything but config var values.
    pub fn shape(&self) -> Value {
        json!({
            "name": self.name,
            "region": self.region,
            "stack": self.stack,
            "buildpacks": self.buildpacks,
            "maintenance": self.maintenance,
            "formation": self.formation,
            "config_var_names": self.config_vars.keys().collect::<Vec<_>>(),
            "addons": self.addons,
            "domains": self.domains,
            "release": self.release,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_show() {
        let app = HerokuApp {
            name: "shop".into(),
            region: "us".into(),
            stack: "heroku-24".into(),
            buildpacks: None,
            maintenance: false,
            formation: Vec::new(),
            config_vars: BTreeMap::from([("SECRET_KEY".to_string(), Secret::new("canary-1234".to_string()))]),
            addons: Vec::new(),
            domains: Vec::new(),
            release: None,
        };
        assert!(!format!("{app:?}").contains("canary-1234"));
        assert!(!app.shape().to_string().contains("canary-1234"));
        assert!(app.shape().to_string().contains("SECRET_KEY"));
    }
}
