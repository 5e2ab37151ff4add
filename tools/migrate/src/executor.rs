//! Carrying out migration steps.
//!
//! Guarantees: every step is idempotent and finds its work done rather than doing it twice
//! (parameters are overwritten, the database and the services are looked up by their names
//! before anything is created, the data copy replaces what a half-finished copy left, DNS is
//! an UPSERT). Each step's receipt carries its inverse: what it replaced (the DNS records as
//! they were, Heroku's formation), recorded before it changed anything, so a crash between
//! the two loses nothing. Config var values travel from Heroku to SSM and nowhere else: not
//! into a receipt, a log line or an error.
//!
//! Assumptions: a step runs only after the steps before it succeeded (the daemon's
//! migration stage files them one at a time). Caveats: the copy holds the daemon's tick
//! for as long as it takes. Crash drills stop a run at a named point ([`crate::pause`]).

use std::sync::Arc;

use async_trait::async_trait;
use rand::Rng;
use steward_heroku::{FormationUpdate, HerokuError, HerokuSource};
use steward_tools::{
    ActionReceipt, DnsRecord, FormationEntry, MigrationStep, ProviderError, Secret, StepAction, ToolCall,
};

use crate::copy::Copier;
use crate::pause::pause_point;
use crate::target::{record_for, DatabaseSpec, Target};

/// What a person gave when starting a migration that must not travel in a call: the
/// existing target database's URL.
#[async_trait]
pub trait Inputs: Send + Sync {
    async fn target_database_url(&self, migration: i64) -> Result<Option<Secret<String>>, ProviderError>;
    /// The URL is in SSM now: forget it.
    async fn forget(&self, migration: i64) -> Result<(), ProviderError>;
}

/// No inputs (plans with an RDS target).
pub struct NoInputs;

#[async_trait]
impl Inputs for NoInputs {
    async fn target_database_url(&self, _migration: i64) -> Result<Option<Secret<String>>, ProviderError> {
        Ok(None)
    }

    async fn forget(&self, _migration: i64) -> Result<(), ProviderError> {
        Ok(())
    }
}

pub fn heroku_error(e: HerokuError) -> ProviderError {
    match e {
        HerokuError::RateLimited { .. } => ProviderError::Throttled(e.to_string()),
        e if e.is_retryable() => ProviderError::Unavailable(e.to_string()),
        e => ProviderError::Refused(e.to_string()),
    }
}

/// Where a domain's records as they were before the cutover are kept (written before the
/// cutover changes anything).
pub fn previous_dns_parameter(prefix: &str, domain: &str) -> String {
    format!("{prefix}.dns/{domain}")
}

/// Runs migration steps against Heroku and the target.
pub struct Migrator {
    pub heroku: Arc<dyn HerokuSource>,
    pub target: Arc<dyn Target>,
    pub copier: Arc<dyn Copier>,
    pub inputs: Arc<dyn Inputs>,
}

fn receipt(action_id: &str, summary: String, undo: Option<StepAction>, step: &MigrationStep) -> ActionReceipt {
    ActionReceipt {
        action_id: action_id.to_string(),
        summary,
        replaced_desired: None,
        launched: Vec::new(),
        terminated: Vec::new(),
        terminated_type: None,
        undo: undo.map(|action| {
            Box::new(ToolCall::MigrationStep(Box::new(MigrationStep {
                action,
                cost_cents_per_hour: -step.cost_cents_per_hour,
                data_at_risk: matches!(step.action, StepAction::CreateDatabase { .. }),
                downtime_minutes: 0,
                ..step.clone()
            })))
        }),
        placements: Vec::new(),
        skipped: Vec::new(),
        manual: Vec::new(),
    }
}

fn password() -> Secret<String> {
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    Secret::new((0..32).map(|_| char::from(CHARS[rng.gen_range(0..CHARS.len())])).collect())
}

impl Migrator {
    /// Carry out `step` (idempotent on its work; `action_id` is the idempotency token where
    /// an API takes one).
    pub async fn execute(&self, action_id: &str, step: &MigrationStep) -> Result<ActionReceipt, ProviderError> {
        let app = step.app.as_str();
        match &step.action {
            StepAction::StoreSecrets { prefix, copy, repoint } => {
                let heroku = self.heroku.app(app).await.map_err(heroku_error)?;
                let mut values: Vec<(String, Secret<String>)> = copy
                    .iter()
                    .filter_map(|name| heroku.config_vars.get(name).map(|v| (format!("{prefix}{name}"), v.clone())))
                    .collect();
                let target_url = self.inputs.target_database_url(step.migration).await?;
                if let Some(url) = &target_url {
                    values.extend(repoint.iter().map(|name| (format!("{prefix}{name}"), url.clone())));
                }
                self.target.put_secrets(&values).await?;
                if target_url.is_some() {
                    self.inputs.forget(step.migration).await?;
                }
                let names: Vec<String> =
                    values.iter().map(|(n, _)| n.trim_start_matches(prefix.as_str()).to_string()).collect();
                let missing = copy.len() + if target_url.is_some() { repoint.len() } else { 0 } - names.len();
                let repointed = if target_url.is_some() {
                    format!(", {} re-pointed at the given database", repoint.len())
                } else {
                    String::new()
                };
                let gone = if missing > 0 { format!(" ({missing} no longer set at Heroku)") } else { String::new() };
                let summary = format!("{} SecureString parameters under {prefix}{repointed}{gone}", names.len());
                Ok(receipt(action_id, summary, Some(StepAction::DeleteSecrets { prefix: prefix.clone(), names }), step))
            }
            StepAction::CreateDatabase {
                identifier,
                instance_class,
                storage_gb,
                engine_version,
                multi_az,
                url_parameter,
            } => {
                let spec = DatabaseSpec {
                    identifier: identifier.clone(),
                    instance_class: instance_class.clone(),
                    storage_gb: *storage_gb,
                    engine_version: engine_version.clone(),
                    multi_az: *multi_az,
                };
                let fresh = password();
                let db = self.target.ensure_database(&spec, &fresh).await?;
                let have_url = self.target.get_secret(url_parameter).await?.is_some();
                if db.created || !have_url {
                    if !db.created {
                        // It was there but its URL was not (a crash between the two): a new
                        // password, since the old one is nowhere.
                        self.target.set_database_password(identifier, &fresh).await?;
                    }
                    let url = format!(
                        "postgres://{}:{}@{}:{}/postgres?sslmode=require",
                        db.username,
                        fresh.expose(),
                        db.host,
                        db.port
                    );
                    self.target.put_secrets(&[(url_parameter.clone(), Secret::new(url))]).await?;
                }
                let how = if db.created { "created" } else { "already there" };
                let summary = format!(
                    "RDS PostgreSQL {identifier} ({instance_class}, {storage_gb} GB) {how}; its URL in {url_parameter}"
                );
                let undo =
                    StepAction::DeleteDatabase { identifier: identifier.clone(), url_parameter: url_parameter.clone() };
                Ok(receipt(action_id, summary, Some(undo), step))
            }
            StepAction::DeployService(spec) => {
                let lb = self.target.ensure_service(app, spec, action_id).await?;
                let behind = lb.map(|lb| format!(" behind {}", lb.dns_name)).unwrap_or_default();
                let summary = format!(
                    "{}-{} on Fargate ×{} ({} CPU, {} MB){behind}",
                    app, spec.process_type, spec.desired_count, spec.cpu, spec.memory_mb
                );
                let undo = StepAction::RemoveService {
                    cluster: spec.cluster.clone(),
                    process_type: spec.process_type.clone(),
                    web: spec.web,
                };
                Ok(receipt(action_id, summary, Some(undo), step))
            }
            StepAction::CopyData { source_var, target_parameter, jobs } => {
                self.heroku.set_maintenance(app, true).await.map_err(heroku_error)?;
                let heroku = self.heroku.app(app).await.map_err(heroku_error)?;
                let source = heroku.config_vars.get(source_var).cloned().ok_or_else(|| {
                    ProviderError::Refused(format!("{source_var} is not set at Heroku: nothing to copy from"))
                })?;
                let target = self.target.get_secret(target_parameter).await?.ok_or_else(|| {
                    ProviderError::Refused(format!("{target_parameter} is not in SSM: the database step has not run"))
                })?;
                pause_point("copy_data.dump").await;
                let report = self.copier.copy(&source, &target, *jobs).await?;
                let summary = format!(
                    "{} tables, {} rows copied and verified (row counts and primary keys match; data {:.1}s, indexes and constraints {:.1}s, verify {:.1}s); Heroku in maintenance",
                    report.tables.len(),
                    report.rows,
                    report.data_seconds,
                    report.index_seconds,
                    report.verify_seconds
                );
                Ok(receipt(action_id, summary, Some(StepAction::EndMaintenance {}), step))
            }
            StepAction::CutOverDns { domain } => self.cut_over(action_id, step, domain).await,
            StepAction::ScaleDownHeroku { processes, health_url } => {
                let url = match health_url {
                    Some(url) => url.clone(),
                    None => match self.target.load_balancer(app).await? {
                        Some(lb) => format!("http://{}/", lb.dns_name),
                        None => {
                            return Err(ProviderError::Refused(
                                "no load balancer to check: the web service is not deployed".into(),
                            ))
                        }
                    },
                };
                let status = self.target.health(&url).await?;
                if !(200..300).contains(&status) {
                    return Err(ProviderError::Unavailable(format!("health check: {url} answered {status}, not 2xx")));
                }
                let current = self.heroku.app(app).await.map_err(heroku_error)?.formation;
                // What to restore: the formation as it is, unless a first attempt already
                // scaled it down; then the one the plan saw.
                let restore: Vec<FormationEntry> = if current.iter().any(|p| p.quantity > 0) {
                    current
                        .iter()
                        .map(|p| FormationEntry {
                            process_type: p.process_type.clone(),
                            quantity: p.quantity,
                            size: p.size.clone(),
                        })
                        .collect()
                } else {
                    processes.clone()
                };
                let updates: Vec<FormationUpdate> = restore
                    .iter()
                    .map(|p| FormationUpdate { process_type: p.process_type.clone(), quantity: 0, size: None })
                    .collect();
                self.heroku.scale(app, &updates).await.map_err(heroku_error)?;
                let summary = format!(
                    "{url} answered {status}; Heroku's {} scaled to 0",
                    updates.iter().map(|u| u.process_type.as_str()).collect::<Vec<_>>().join(", ")
                );
                Ok(receipt(action_id, summary, Some(StepAction::RestoreFormation { processes: restore }), step))
            }
            StepAction::DeleteSecrets { prefix, names } => {
                let mut all: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
                all.sort();
                let gone = self.target.delete_secrets(&all).await?;
                Ok(receipt(action_id, format!("{gone} of {} parameters under {prefix} deleted", all.len()), None, step))
            }
            StepAction::DeleteDatabase { identifier, url_parameter } => {
                let was = self.target.delete_database(identifier).await?;
                self.target.delete_secrets(std::slice::from_ref(url_parameter)).await?;
                let how = if was {
                    format!("deleted (a final snapshot {identifier}-final-… kept)")
                } else {
                    "was already gone".to_string()
                };
                Ok(receipt(action_id, format!("RDS {identifier} {how}; {url_parameter} deleted"), None, step))
            }
            StepAction::RemoveService { cluster, process_type, web } => {
                let was = self.target.remove_service(app, cluster, process_type, *web).await?;
                let lb = if *web { " and its load balancer" } else { "" };
                let how = if was { "removed" } else { "was already gone" };
                Ok(receipt(action_id, format!("{app}-{process_type}{lb} {how}"), None, step))
            }
            StepAction::EndMaintenance {} => {
                self.heroku.set_maintenance(app, false).await.map_err(heroku_error)?;
                Ok(receipt(action_id, "Heroku maintenance mode off".into(), None, step))
            }
            StepAction::RestoreDns { domain, records } => self.restore_dns(action_id, step, domain, records).await,
            StepAction::RestoreFormation { processes } => {
                let updates: Vec<FormationUpdate> = processes
                    .iter()
                    .map(|p| FormationUpdate {
                        process_type: p.process_type.clone(),
                        quantity: p.quantity,
                        size: Some(p.size.clone()),
                    })
                    .collect();
                self.heroku.scale(app, &updates).await.map_err(heroku_error)?;
                let list: Vec<String> =
                    processes.iter().map(|p| format!("{}×{}", p.process_type, p.quantity)).collect();
                Ok(receipt(action_id, format!("Heroku formation back to {}", list.join(", ")), None, step))
            }
        }
    }

    async fn cut_over(
        &self,
        action_id: &str,
        step: &MigrationStep,
        domain: &str,
    ) -> Result<ActionReceipt, ProviderError> {
        let app = step.app.as_str();
        let lb = self
            .target
            .load_balancer(app)
            .await?
            .ok_or_else(|| ProviderError::Refused("no load balancer: the web service is not deployed".into()))?;
        let Some(zone) = self.target.zone_for(domain).await? else {
            let mut r = receipt(
                action_id,
                format!("no hosted zone Steward can reach holds {domain}: a manual step"),
                None,
                step,
            );
            r.manual.push(format!(
                "create a CNAME record {domain} → {} (or an alias A record at a zone apex)",
                lb.dns_name
            ));
            return Ok(r);
        };
        let prefix = crate::plan::secrets_prefix(app);
        let kept = previous_dns_parameter(&prefix, domain);
        let wanted = record_for(domain, &zone, &lb);
        // The records as they were, written down before anything changes.
        let previous: Vec<DnsRecord> = match self.target.get_secret(&kept).await? {
            Some(text) => serde_json::from_str(text.expose()).unwrap_or_default(),
            None => {
                let now: Vec<DnsRecord> = self
                    .target
                    .records(&zone, domain)
                    .await?
                    .into_iter()
                    .filter(|r| {
                        r.record_type == wanted.record_type
                            || r.record_type == "CNAME"
                            || r.record_type == "A"
                            || r.record_type == "AAAA"
                    })
                    .filter(|r| *r != wanted)
                    .collect();
                let text = serde_json::to_string(&now).unwrap_or_default();
                self.target.put_secrets(&[(kept.clone(), Secret::new(text))]).await?;
                now
            }
        };
        pause_point("cut_over_dns.change").await;
        // A CNAME cannot sit beside other records: what stood at the name goes.
        let deletes: Vec<DnsRecord> =
            previous.iter().filter(|r| r.record_type != wanted.record_type).cloned().collect();
        self.target.change_records(&zone, std::slice::from_ref(&wanted), &deletes).await?;
        pause_point("cut_over_dns.changed").await;
        let summary = format!("{domain} → {} in {} (was {})", lb.dns_name, zone.name, describe(&previous));
        let undo = StepAction::RestoreDns { domain: domain.to_string(), records: previous };
        Ok(receipt(action_id, summary, Some(undo), step))
    }

    async fn restore_dns(
        &self,
        action_id: &str,
        step: &MigrationStep,
        domain: &str,
        records: &[DnsRecord],
    ) -> Result<ActionReceipt, ProviderError> {
        let app = step.app.as_str();
        let Some(zone) = self.target.zone_for(domain).await? else {
            return Ok(receipt(action_id, format!("no hosted zone holds {domain}: nothing to restore"), None, step));
        };
        let current = self.target.records(&zone, domain).await?;
        let ours: Vec<DnsRecord> = match self.target.load_balancer(app).await? {
            Some(lb) => vec![record_for(domain, &zone, &lb)],
            None => current
                .iter()
                .filter(|r| !records.contains(r) && (r.record_type == "CNAME" || r.record_type == "A"))
                .cloned()
                .collect(),
        };
        let deletes: Vec<DnsRecord> = current
            .iter()
            .filter(|r| {
                ours.iter().any(|o| o.record_type == r.record_type)
                    && !records.iter().any(|p| p.record_type == r.record_type)
            })
            .cloned()
            .collect();
        self.target.change_records(&zone, records, &deletes).await?;
        let kept = previous_dns_parameter(&crate::plan::secrets_prefix(app), domain);
        self.target.delete_secrets(&[kept]).await?;
        Ok(receipt(action_id, format!("{domain} back to {}", describe(records)), None, step))
    }
}

fn describe(records: &[DnsRecord]) -> String {
    if records.is_empty() {
        return "no record".into();
    }
    records.iter().map(|r| format!("{} {}", r.record_type, r.values.join(" "))).collect::<Vec<_>>().join(", ")
}
