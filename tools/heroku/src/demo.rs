//! The built-in demo account: one app, `demo-shop`, so that a fresh clone with no Heroku
//! account plans and runs a whole migration against the simulated cloud. It is a Rails shop
//! deployed as a container: a `web` and a `worker` process type, config vars, a Postgres
//! add-on and a custom domain. Maintenance mode and the formation change in memory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use steward_tools::Secret;

use crate::app::{Addon, Domain, FormationUpdate, HerokuApp, Process, Release};
use crate::error::HerokuError;
use crate::source::HerokuSource;

pub const DEMO_APP: &str = "demo-shop";

/// The demo account. Every instance starts from the same app; with a state file, its
/// maintenance mode and formation survive a restart.
#[derive(Debug)]
pub struct DemoHeroku {
    app: Mutex<HerokuApp>,
    file: Option<PathBuf>,
}

/// What changes in the demo app, as kept in the state file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    maintenance: bool,
    formation: Vec<Process>,
}

impl Default for DemoHeroku {
    fn default() -> Self {
        DemoHeroku::new()
    }
}

fn secret(value: &str) -> Secret<String> {
    Secret::new(value.to_string())
}

impl DemoHeroku {
    pub fn new() -> DemoHeroku {
        let process = |t: &str, command: &str, quantity: u32| Process {
            process_type: t.into(),
            command: command.into(),
            quantity,
            size: "standard-1x".into(),
        };
        let app = HerokuApp {
            name: DEMO_APP.into(),
            region: "us".into(),
            stack: "container".into(),
            buildpacks: None,
            maintenance: false,
            formation: vec![
                process("web", "bundle exec puma -C config/puma.rb", 2),
                process("worker", "bundle exec sidekiq", 1),
            ],
            config_vars: BTreeMap::from([
                (
                    "DATABASE_URL".to_string(),
                    secret("postgres://demo:demo@ec2-0-0-0-0.compute-1.amazonaws.com:5432/demo"),
                ),
                ("RAILS_ENV".to_string(), secret("production")),
                ("SECRET_KEY_BASE".to_string(), secret("demo-secret-key-base")),
                ("STRIPE_API_KEY".to_string(), secret("demo-stripe-key")),
            ]),
            addons: vec![Addon {
                name: "postgresql-curved-12345".into(),
                service: "heroku-postgresql".into(),
                plan: "heroku-postgresql:essential-1".into(),
                config_vars: vec!["DATABASE_URL".into()],
            }],
            domains: vec![
                Domain {
                    hostname: "www.demo-shop.example".into(),
                    kind: "custom".into(),
                    cname: Some("vast-sunset-4821.herokudns.com".into()),
                },
                Domain { hostname: "demo-shop.herokuapp.com".into(), kind: "heroku".into(), cname: None },
            ],
            release: Some(Release { version: 42, description: "Deployed web (2f6c1a9), worker (2f6c1a9)".into() }),
        };
        DemoHeroku { app: Mutex::new(app), file: None }
    }

    /// The demo account with its changes kept in `file`.
    pub fn persistent(file: PathBuf) -> DemoHeroku {
        let demo = DemoHeroku::new();
        if let Some(kept) = std::fs::read_to_string(&file).ok().and_then(|t| serde_json::from_str::<Kept>(&t).ok()) {
            let mut app = demo.app.lock().unwrap_or_else(|e| e.into_inner());
            app.maintenance = kept.maintenance;
            app.formation = kept.formation;
        }
        DemoHeroku { file: Some(file), ..demo }
    }

    /// Change the app (and keep what changed in the state file).
    fn with<T>(&self, name: &str, f: impl FnOnce(&mut HerokuApp) -> T) -> Result<T, HerokuError> {
        let mut app = self.app.lock().unwrap_or_else(|e| e.into_inner());
        if app.name != name {
            return Err(HerokuError::NoSuchApp(name.to_string()));
        }
        let out = f(&mut app);
        if let Some(file) = &self.file {
            let kept = Kept { maintenance: app.maintenance, formation: app.formation.clone() };
            if let (Ok(text), Some(dir)) = (serde_json::to_string_pretty(&kept), file.parent()) {
                let _ = std::fs::create_dir_all(dir);
                let tmp = file.with_extension("tmp");
                if std::fs::write(&tmp, text).is_ok() {
                    let _ = std::fs::rename(&tmp, file);
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl HerokuSource for DemoHeroku {
    fn describe(&self) -> String {
        "the built-in demo Heroku account".into()
    }

    async fn app(&self, name: &str) -> Result<HerokuApp, HerokuError> {
        let app = self.app.lock().unwrap_or_else(|e| e.into_inner());
        match app.name == name {
            true => Ok(app.clone()),
            false => Err(HerokuError::NoSuchApp(name.to_string())),
        }
    }

    async fn set_maintenance(&self, name: &str, on: bool) -> Result<(), HerokuError> {
        self.with(name, |app| app.maintenance = on)
    }

    async fn scale(&self, name: &str, updates: &[FormationUpdate]) -> Result<Vec<Process>, HerokuError> {
        self.with(name, |app| {
            for u in updates {
                if let Some(p) = app.formation.iter_mut().find(|p| p.process_type == u.process_type) {
                    p.quantity = u.quantity;
                    if let Some(size) = &u.size {
                        p.size = size.clone();
                    }
                }
            }
            app.formation.clone()
        })
    }
}
