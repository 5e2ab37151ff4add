//! What a migration needs of the AWS side, whoever answers: the AWS SDK ([`crate::aws`]) or
//! the simulated cloud ([`crate::sim`]). Every method is idempotent: it finds its work done
//! and says so rather than doing it twice.

use async_trait::async_trait;
use steward_tools::{DnsRecord, ProviderError, Secret, ServiceSpec};

/// An RDS PostgreSQL instance to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    pub identifier: String,
    pub instance_class: String,
    pub storage_gb: u32,
    pub engine_version: String,
    pub multi_az: bool,
}

/// Where the database answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// Whether this call created it (`false`: it was there).
    pub created: bool,
}

/// The app's load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub dns_name: String,
    /// Its canonical hosted zone, for an alias record at a zone apex.
    pub zone_id: String,
}

/// A Route 53 hosted zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: String,
    /// `example.com.`
    pub name: String,
}

/// The client health checks are made with: short timeouts, no retries.
pub fn health_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_default()
}

/// The status `url` answers a GET with; a failure to connect is retryable.
pub async fn http_status(client: &reqwest::Client, url: &str) -> Result<u16, ProviderError> {
    match client.get(url).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(ProviderError::Unavailable(format!(
            "health check: {url}: {}",
            e.to_string().lines().next().unwrap_or_default()
        ))),
    }
}

/// The snapshot the OpenTofu export's database leaves behind when destroyed (Steward's own
/// rollback names its final snapshot for the time it was taken).
pub fn final_snapshot(identifier: &str) -> String {
    format!("{identifier}-final")
}

/// The record Steward points a domain at the load balancer with: a CNAME, or at a zone's
/// apex an alias A record (`values` = `["ALIAS", zone_id, dns_name]`).
pub fn record_for(domain: &str, zone: &Zone, lb: &LoadBalancer) -> DnsRecord {
    let apex = zone.name.trim_end_matches('.') == domain.trim_end_matches('.');
    if apex {
        DnsRecord {
            name: domain.to_string(),
            record_type: "A".into(),
            ttl: 60,
            values: vec!["ALIAS".into(), lb.zone_id.clone(), lb.dns_name.clone()],
        }
    } else {
        DnsRecord { name: domain.to_string(), record_type: "CNAME".into(), ttl: 60, values: vec![lb.dns_name.clone()] }
    }
}

#[async_trait]
pub trait Target: Send + Sync {
    fn describe(&self) -> String;

    /// SecureString parameters, overwritten if present.
    async fn put_secrets(&self, values: &[(String, Secret<String>)]) -> Result<(), ProviderError>;
    async fn get_secret(&self, name: &str) -> Result<Option<Secret<String>>, ProviderError>;
    /// Delete parameters; missing ones are fine. Returns how many were there.
    async fn delete_secrets(&self, names: &[String]) -> Result<usize, ProviderError>;

    /// Create the instance unless it exists, with `password` for a new one; wait until it is
    /// available.
    async fn ensure_database(&self, spec: &DatabaseSpec, password: &Secret<String>) -> Result<Database, ProviderError>;
    async fn set_database_password(&self, identifier: &str, password: &Secret<String>) -> Result<(), ProviderError>;
    /// Delete the instance, keeping a final snapshot. Returns whether it was there.
    async fn delete_database(&self, identifier: &str) -> Result<bool, ProviderError>;
    /// Whether the instance exists (in any state but deleting).
    async fn database_exists(&self, identifier: &str) -> Result<bool, ProviderError>;

    /// The service (and for `web` its load balancer, target group and listener), created or
    /// brought to `spec`. `token` makes the creation idempotent where the API takes one.
    async fn ensure_service(
        &self,
        app: &str,
        spec: &ServiceSpec,
        token: &str,
    ) -> Result<Option<LoadBalancer>, ProviderError>;
    /// Remove the service (and its load balancer, for `web`). Returns whether it was there.
    async fn remove_service(
        &self,
        app: &str,
        cluster: &str,
        process_type: &str,
        web: bool,
    ) -> Result<bool, ProviderError>;
    async fn load_balancer(&self, app: &str) -> Result<Option<LoadBalancer>, ProviderError>;
    /// The service's desired count, if it is active.
    async fn service(&self, app: &str, cluster: &str, process_type: &str) -> Result<Option<u32>, ProviderError>;

    /// The hosted zone that holds `domain` (the longest suffix), if Steward can reach one.
    async fn zone_for(&self, domain: &str) -> Result<Option<Zone>, ProviderError>;
    /// The records at `name` (every type).
    async fn records(&self, zone: &Zone, name: &str) -> Result<Vec<DnsRecord>, ProviderError>;
    /// Upsert `upserts` and delete `deletes`, in one change.
    async fn change_records(
        &self,
        zone: &Zone,
        upserts: &[DnsRecord],
        deletes: &[DnsRecord],
    ) -> Result<(), ProviderError>;

    /// The status `url` answers a GET with.
    async fn health(&self, url: &str) -> Result<u16, ProviderError>;
}
