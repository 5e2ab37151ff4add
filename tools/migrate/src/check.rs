//! Checking that a migration step's work shows where it was done, after it ran: the
//! daemon's verification for calls a fleet observation cannot show. Each check reads
//! (SSM, RDS, ECS, Route 53, Heroku) and never acts.

use steward_tools::{ActionReceipt, MigrationStep, StepAction};

use crate::executor::{previous_dns_parameter, Migrator};
use crate::plan::secrets_prefix;
use crate::target::record_for;

/// The parameter names a `store_secrets` receipt's inverse lists.
fn stored(receipt: &ActionReceipt) -> Option<(String, Vec<String>)> {
    match receipt.undo.as_deref()?.migration_step()?.action {
        StepAction::DeleteSecrets { ref prefix, ref names } => Some((prefix.clone(), names.clone())),
        _ => None,
    }
}

impl Migrator {
    /// `Ok(how it was checked)`, or `Err(what does not show)`.
    pub async fn check(&self, step: &MigrationStep, receipt: &ActionReceipt) -> Result<String, String> {
        let app = step.app.as_str();
        let read = |e: steward_tools::ProviderError| format!("could not be checked: {e}");
        match &step.action {
            StepAction::StoreSecrets { .. } => {
                let (prefix, names) = stored(receipt).ok_or("the receipt lists no parameters")?;
                let mut missing = Vec::new();
                for name in &names {
                    if self.target.get_secret(&format!("{prefix}{name}")).await.map_err(read)?.is_none() {
                        missing.push(name.clone());
                    }
                }
                match missing.is_empty() {
                    true => Ok(format!("{} parameters under {prefix} read back", names.len())),
                    false => Err(format!("{} not under {prefix}", missing.join(", "))),
                }
            }
            StepAction::CreateDatabase { identifier, url_parameter, .. } => {
                if !self.target.database_exists(identifier).await.map_err(read)? {
                    return Err(format!("RDS {identifier} is not there"));
                }
                match self.target.get_secret(url_parameter).await.map_err(read)? {
                    Some(_) => Ok(format!("RDS {identifier} and {url_parameter} there")),
                    None => Err(format!("{url_parameter} is not in SSM")),
                }
            }
            StepAction::DeployService(spec) => {
                match self.target.service(app, &spec.cluster, &spec.process_type).await.map_err(read)? {
                    Some(n) if n == spec.desired_count => {}
                    Some(n) => {
                        return Err(format!("{app}-{} wants {n}, not {}", spec.process_type, spec.desired_count))
                    }
                    None => return Err(format!("{app}-{} is not active", spec.process_type)),
                }
                if spec.web && self.target.load_balancer(app).await.map_err(read)?.is_none() {
                    return Err(format!("{app}-{} has no load balancer", spec.process_type));
                }
                Ok(format!("{app}-{} active ×{}", spec.process_type, spec.desired_count))
            }
            // The copy checked every table's rows and keys before it returned.
            StepAction::CopyData { .. } => {
                let heroku = self.heroku.app(app).await.map_err(|e| read(crate::executor::heroku_error(e)))?;
                match heroku.maintenance {
                    true => Ok("rows and keys checked by the copy; Heroku in maintenance".into()),
                    false => Err("Heroku is not in maintenance mode".into()),
                }
            }
            StepAction::CutOverDns { domain } => {
                if !receipt.manual.is_empty() {
                    return Ok("a manual step: nothing Steward changed to check".into());
                }
                let (Some(zone), Some(lb)) = (
                    self.target.zone_for(domain).await.map_err(read)?,
                    self.target.load_balancer(app).await.map_err(read)?,
                ) else {
                    return Err(format!("{domain}'s zone or the load balancer is gone"));
                };
                let wanted = record_for(domain, &zone, &lb);
                match self.target.records(&zone, domain).await.map_err(read)?.contains(&wanted) {
                    true => Ok(format!("{domain} points at {}", lb.dns_name)),
                    false => Err(format!("{domain} does not point at {}", lb.dns_name)),
                }
            }
            StepAction::ScaleDownHeroku { .. } => self.formation_is(app, |_| 0).await,
            StepAction::RestoreFormation { processes } => {
                self.formation_is(app, |t| processes.iter().find(|p| p.process_type == t).map_or(0, |p| p.quantity))
                    .await
            }
            StepAction::DeleteSecrets { prefix, names } => {
                for name in names {
                    if self.target.get_secret(&format!("{prefix}{name}")).await.map_err(read)?.is_some() {
                        return Err(format!("{prefix}{name} is still there"));
                    }
                }
                Ok(format!("{} parameters gone", names.len()))
            }
            StepAction::DeleteDatabase { identifier, .. } => {
                match self.target.database_exists(identifier).await.map_err(read)? {
                    true => Err(format!("RDS {identifier} is still there")),
                    false => Ok(format!("RDS {identifier} gone")),
                }
            }
            StepAction::RemoveService { cluster, process_type, .. } => {
                match self.target.service(app, cluster, process_type).await.map_err(read)? {
                    Some(_) => Err(format!("{app}-{process_type} is still active")),
                    None => Ok(format!("{app}-{process_type} gone")),
                }
            }
            StepAction::EndMaintenance {} => {
                let heroku = self.heroku.app(app).await.map_err(|e| read(crate::executor::heroku_error(e)))?;
                match heroku.maintenance {
                    false => Ok("Heroku out of maintenance".into()),
                    true => Err("Heroku is still in maintenance mode".into()),
                }
            }
            StepAction::RestoreDns { domain, records } => {
                let Some(zone) = self.target.zone_for(domain).await.map_err(read)? else {
                    return Ok(format!("no hosted zone holds {domain}"));
                };
                let now = self.target.records(&zone, domain).await.map_err(read)?;
                let kept = previous_dns_parameter(&secrets_prefix(app), domain);
                if !records.iter().all(|r| now.contains(r)) {
                    return Err(format!("{domain} is not back as it was"));
                }
                match self.target.get_secret(&kept).await.map_err(read)? {
                    Some(_) => Err(format!("{kept} is still there")),
                    None => Ok(format!("{domain} back as it was")),
                }
            }
        }
    }

    /// Heroku's formation has `quantity(process type)` of each process.
    async fn formation_is(&self, app: &str, quantity: impl Fn(&str) -> u32) -> Result<String, String> {
        let heroku = self
            .heroku
            .app(app)
            .await
            .map_err(|e| format!("could not be checked: {}", crate::executor::heroku_error(e)))?;
        let off: Vec<String> = heroku
            .formation
            .iter()
            .filter(|p| p.quantity != quantity(&p.process_type))
            .map(|p| format!("{} is ×{}, not ×{}", p.process_type, p.quantity, quantity(&p.process_type)))
            .collect();
        match off.is_empty() {
            true => {
                let list: Vec<String> =
                    heroku.formation.iter().map(|p| format!("{}×{}", p.process_type, p.quantity)).collect();
                Ok(format!("Heroku formation {}", list.join(", ")))
            }
            false => Err(format!("Heroku's {}", off.join(", "))),
        }
    }
}
