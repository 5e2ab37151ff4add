//! The migration target on the simulated cloud: SSM, RDS, ECS, load balancers and Route 53
//! in memory, and a data copy that counts rows instead of moving them. It keeps the same
//! promises as the AWS target (idempotent, nothing made twice), so the whole flow runs on a
//! fresh clone with no account. The demo's zone `demo-shop.example.` holds
//! `www.demo-shop.example` as a CNAME to Heroku. With a state file, what it holds survives
//! a restart of the daemon, as a real cloud's would.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use async_trait::async_trait;
use steward_tools::{DnsRecord, ProviderError, Secret, ServiceSpec};

use crate::copy::{Copier, CopyReport, TableCheck};
use crate::target::{Database, DatabaseSpec, LoadBalancer, Target, Zone};

/// Where the simulated load balancers live.
const SIM_LB_DOMAIN: &str = ".sim.elb.local";

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// The simulated parameter store holds its values as SSM does.
    parameters: BTreeMap<String, String>,
    databases: BTreeMap<String, (String, String, u32)>,
    services: BTreeMap<String, ServiceSpec>,
    /// app → (DNS name, zone id)
    load_balancers: BTreeMap<String, (String, String)>,
    /// zone name → records
    zones: BTreeMap<String, Vec<DnsRecord>>,
}

/// Resources in memory, and in a state file when it has one.
#[derive(Debug)]
pub struct SimTarget {
    state: Mutex<State>,
    file: Option<PathBuf>,
}

impl Default for SimTarget {
    fn default() -> Self {
        SimTarget::new()
    }
}

impl SimTarget {
    pub fn new() -> SimTarget {
        let mut state = State::default();
        state.zones.insert(
            "demo-shop.example.".into(),
            vec![DnsRecord {
                name: "www.demo-shop.example".into(),
                record_type: "CNAME".into(),
                ttl: 300,
                values: vec!["vast-sunset-4821.herokudns.com".into()],
            }],
        );
        SimTarget { state: Mutex::new(state), file: None }
    }

    /// A simulated cloud kept in `file` (read when it exists, written after every change).
    pub fn persistent(file: PathBuf) -> SimTarget {
        let loaded = std::fs::read_to_string(&file).ok().and_then(|text| serde_json::from_str::<State>(&text).ok());
        let mut target = SimTarget::new();
        if let Some(state) = loaded {
            target.state = Mutex::new(state);
        }
        target.file = Some(file);
        target
    }

    /// Change the state (and write it to the state file).
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(&mut state);
        if let Some(file) = &self.file {
            save(file, &state);
        }
        out
    }

    /// Read the state.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many of each resource exist: `(parameters, databases, services, load balancers)`.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        self.read(|s| (s.parameters.len(), s.databases.len(), s.services.len(), s.load_balancers.len()))
    }

    pub fn zone_records(&self, zone: &str) -> Vec<DnsRecord> {
        self.read(|s| s.zones.get(zone).cloned().unwrap_or_default())
    }
}

/// Write the state atomically (a temporary file renamed over the old one).
fn save(file: &std::path::Path, state: &State) {
    let Ok(text) = serde_json::to_string_pretty(state) else { return };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = file.with_extension("tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, file);
    }
}

fn lb((dns_name, zone_id): &(String, String)) -> LoadBalancer {
    LoadBalancer { dns_name: dns_name.clone(), zone_id: zone_id.clone() }
}

fn key(cluster: &str, app: &str, process_type: &str) -> String {
    format!("{cluster}/{app}-{process_type}")
}

#[async_trait]
impl Target for SimTarget {
    fn describe(&self) -> String {
        "the simulated cloud".into()
    }

    async fn put_secrets(&self, values: &[(String, Secret<String>)]) -> Result<(), ProviderError> {
        self.with(|s| {
            for (name, value) in values {
                s.parameters.insert(name.clone(), value.expose().clone());
            }
        });
        Ok(())
    }

    async fn get_secret(&self, name: &str) -> Result<Option<Secret<String>>, ProviderError> {
        Ok(self.read(|s| s.parameters.get(name).cloned().map(Secret::new)))
    }

    async fn delete_secrets(&self, names: &[String]) -> Result<usize, ProviderError> {
        Ok(self.with(|s| names.iter().filter(|n| s.parameters.remove(*n).is_some()).count()))
    }

    async fn ensure_database(
        &self,
        spec: &DatabaseSpec,
        _password: &Secret<String>,
    ) -> Result<Database, ProviderError> {
        let entry = (spec.instance_class.clone(), spec.engine_version.clone(), spec.storage_gb);
        let created = self.with(|s| s.databases.insert(spec.identifier.clone(), entry).is_none());
        Ok(Database {
            host: format!("{}.sim.rds.local", spec.identifier),
            port: 5432,
            username: "steward".into(),
            created,
        })
    }

    async fn set_database_password(&self, identifier: &str, _password: &Secret<String>) -> Result<(), ProviderError> {
        match self.read(|s| s.databases.contains_key(identifier)) {
            true => Ok(()),
            false => Err(ProviderError::Refused(format!("no database {identifier}"))),
        }
    }

    async fn delete_database(&self, identifier: &str) -> Result<bool, ProviderError> {
        Ok(self.with(|s| s.databases.remove(identifier).is_some()))
    }

    async fn database_exists(&self, identifier: &str) -> Result<bool, ProviderError> {
        Ok(self.read(|s| s.databases.contains_key(identifier)))
    }

    async fn ensure_service(
        &self,
        app: &str,
        spec: &ServiceSpec,
        _token: &str,
    ) -> Result<Option<LoadBalancer>, ProviderError> {
        Ok(self.with(|s| {
            s.services.insert(key(&spec.cluster, app, &spec.process_type), spec.clone());
            spec.web.then(|| {
                let entry = s
                    .load_balancers
                    .entry(app.to_string())
                    .or_insert_with(|| (format!("st-{app}-1234567890{SIM_LB_DOMAIN}"), "ZSIMELB".into()));
                lb(entry)
            })
        }))
    }

    async fn remove_service(
        &self,
        app: &str,
        cluster: &str,
        process_type: &str,
        web: bool,
    ) -> Result<bool, ProviderError> {
        Ok(self.with(|s| {
            let was = s.services.remove(&key(cluster, app, process_type)).is_some();
            if web {
                s.load_balancers.remove(app);
            }
            was
        }))
    }

    async fn load_balancer(&self, app: &str) -> Result<Option<LoadBalancer>, ProviderError> {
        Ok(self.read(|s| s.load_balancers.get(app).map(lb)))
    }

    async fn service(&self, app: &str, cluster: &str, process_type: &str) -> Result<Option<u32>, ProviderError> {
        Ok(self.read(|s| s.services.get(&key(cluster, app, process_type)).map(|spec| spec.desired_count)))
    }

    async fn zone_for(&self, domain: &str) -> Result<Option<Zone>, ProviderError> {
        let domain = format!("{}.", domain.trim_end_matches('.'));
        Ok(self.read(|s| {
            s.zones
                .keys()
                .filter(|z| domain == **z || domain.ends_with(&format!(".{z}")))
                .max_by_key(|z| z.len())
                .map(|z| Zone { id: format!("/hostedzone/SIM{}", z.len()), name: z.clone() })
        }))
    }

    async fn records(&self, zone: &Zone, name: &str) -> Result<Vec<DnsRecord>, ProviderError> {
        Ok(self.read(|s| {
            s.zones.get(&zone.name).map(|r| r.iter().filter(|r| r.name == name).cloned().collect()).unwrap_or_default()
        }))
    }

    async fn change_records(
        &self,
        zone: &Zone,
        upserts: &[DnsRecord],
        deletes: &[DnsRecord],
    ) -> Result<(), ProviderError> {
        self.with(|s| {
            let records = s.zones.entry(zone.name.clone()).or_default();
            records.retain(|r| !deletes.iter().any(|d| d.name == r.name && d.record_type == r.record_type));
            for u in upserts {
                records.retain(|r| !(r.name == u.name && r.record_type == u.record_type));
                records.push(u.clone());
            }
        });
        Ok(())
    }

    /// The simulated load balancer answers 200; any other address (`--health-url`) is
    /// asked for real.
    async fn health(&self, url: &str) -> Result<u16, ProviderError> {
        let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
        match host.ends_with(SIM_LB_DOMAIN) {
            true => Ok(200),
            false => crate::target::http_status(&crate::target::health_client(), url).await,
        }
    }
}

/// A data copy that moves nothing and reports the demo's tables.
#[derive(Debug, Default)]
pub struct SimCopier;

#[async_trait]
impl Copier for SimCopier {
    async fn copy(
        &self,
        _source: &Secret<String>,
        _target: &Secret<String>,
        _jobs: u32,
    ) -> Result<CopyReport, ProviderError> {
        let tables: Vec<TableCheck> =
            [("public.users", 1_200), ("public.orders", 5_400), ("public.line_items", 16_250)]
                .iter()
                .map(|(t, rows)| TableCheck { table: (*t).into(), rows: *rows, keys: format!("{}", rows * 7919) })
                .collect();
        let rows = tables.iter().map(|t| t.rows).sum();
        Ok(CopyReport { tables, rows, data_seconds: 0.0, index_seconds: 0.0, verify_seconds: 0.0 })
    }
}
