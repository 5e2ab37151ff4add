//! Several regions behind one provider: observed concurrently and merged; a call goes to
//! the region its group lives in. A region that does not answer makes the observation
//! incomplete (so nothing is removed on it), never the whole tick fail, unless every region
//! is down.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use steward_tools::provider::{ActionReceipt, CloudProvider, ProviderError};
use steward_tools::{ApprovedCall, Observation, ToolCall};

use crate::{AwsProvider, AwsSettings};

pub struct MultiRegion {
    regions: Vec<AwsProvider>,
    /// Group name (as shown) → (region index, name in that region).
    routes: Mutex<HashMap<String, (usize, String)>>,
}

impl MultiRegion {
    /// One provider per region, each with its own clients and mutating-call budget.
    pub async fn connect(settings: Vec<AwsSettings>) -> MultiRegion {
        let mut regions = Vec::with_capacity(settings.len());
        for s in settings {
            regions.push(AwsProvider::connect(s).await);
        }
        MultiRegion { regions, routes: Mutex::new(HashMap::new()) }
    }

    pub fn regions(&self) -> Vec<&str> {
        self.regions.iter().map(|r| r.region()).collect()
    }

    fn route(&self, group: &str) -> Result<(usize, String), ProviderError> {
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .cloned()
            .ok_or_else(|| ProviderError::Refused(format!("no managed group `{group}` in any region")))
    }
}

/// The call with its group renamed to the name it has in its region.
fn renamed(call: &ToolCall, name: &str) -> ToolCall {
    let mut call = call.clone();
    match &mut call {
        ToolCall::ScaleGroup(s) => s.group = name.to_string(),
        ToolCall::ProvisionGpuWorkers(p) => p.pool = name.to_string(),
        ToolCall::TerminateWorkers(t) => t.group = name.to_string(),
        ToolCall::MigrationStep(_) => {}
    }
    call
}

#[async_trait]
impl CloudProvider for MultiRegion {
    fn name(&self) -> &'static str {
        "aws"
    }

    async fn observe(&self) -> Result<Observation, ProviderError> {
        let results = futures_util::future::join_all(self.regions.iter().map(|r| r.observe())).await;
        let mut seen: Vec<(usize, Observation)> = Vec::new();
        let mut complete = true;
        let mut last_error = None;
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(o) => {
                    complete &= o.complete;
                    seen.push((i, o));
                }
                Err(e) => {
                    tracing::warn!(region = self.regions[i].region(), error = %e, "A region did not answer; nothing is removed this tick.");
                    complete = false;
                    last_error = Some(e);
                }
            }
        }
        if seen.is_empty() {
            return Err(last_error.unwrap_or_else(|| ProviderError::Unavailable("no region configured".into())));
        }
        // A name in more than one region is shown qualified by its region.
        let mut count: HashMap<String, usize> = HashMap::new();
        for (_, o) in &seen {
            for g in &o.groups {
                *count.entry(g.name.clone()).or_default() += 1;
            }
        }
        let mut routes = HashMap::new();
        let mut groups = Vec::new();
        let mut at_ms = 0;
        for (i, o) in seen {
            at_ms = at_ms.max(o.at_ms);
            for mut g in o.groups {
                let local = g.name.clone();
                if count.get(&local).copied().unwrap_or(0) > 1 {
                    g.name = format!("{local}:{}", self.regions[i].region());
                }
                routes.insert(g.name.clone(), (i, local));
                groups.push(g);
            }
        }
        *self.routes.lock().unwrap_or_else(|e| e.into_inner()) = routes;
        Ok(Observation { at_ms, groups, complete })
    }

    async fn execute(&self, action_id: &str, call: &ApprovedCall) -> Result<ActionReceipt, ProviderError> {
        let (i, local) = self.route(call.call().target())?;
        let region = &self.regions[i];
        let local_call = renamed(call.call(), &local);
        region.execute_call(action_id, &local_call).await
    }

    async fn find_action(&self, action_id: &str) -> Result<Option<ActionReceipt>, ProviderError> {
        for region in &self.regions {
            if let Some(found) = region.find_action(action_id).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn api_calls(&self) -> Option<u64> {
        Some(self.regions.iter().map(AwsProvider::last_observation_calls).sum())
    }
}
