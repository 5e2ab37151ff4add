//! A stand-in for the Heroku Platform API on a loopback port (feature `testing`), speaking
//! the documented endpoints a migration uses: `GET /apps/{app}`, its `formation`,
//! `config-vars`, `addons`, `domains` and `releases`, `PATCH /apps/{app}` (maintenance) and
//! `PATCH /apps/{app}/formation`. It checks the bearer token and the v3 `Accept` header,
//! pages lists with `Range`/`Next-Range` (206), answers 404 for an unknown app, and can
//! answer 429 (with or without `Retry-After`) on demand. It records every request.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::{Addon, Domain, Process, Release};

/// An app as the stand-in serves it.
#[derive(Debug, Clone)]
pub struct StandInApp {
    pub name: String,
    pub region: String,
    pub stack: String,
    pub buildpacks: Option<String>,
    pub maintenance: bool,
    pub formation: Vec<Process>,
    pub config_vars: BTreeMap<String, String>,
    pub addons: Vec<Addon>,
    pub domains: Vec<Domain>,
    pub releases: Vec<Release>,
}

/// One request the stand-in saw.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: String,
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    key: String,
    apps: BTreeMap<String, StandInApp>,
    page_size: usize,
    /// 429s still to answer, and the `Retry-After` they carry.
    rate_limited: u32,
    retry_after: Option<u64>,
    requests: Vec<Recorded>,
}

pub struct HerokuStandIn {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HerokuStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn error(status: StatusCode, id: &str, message: &str) -> Response {
    (status, [("content-type", "application/json")], Json(json!({ "id": id, "message": message }))).into_response()
}

/// `]KEY ..; max=N` (after KEY) or `KEY ..; max=N`, as Heroku's ranges read.
fn parse_range(range: &str) -> (Option<String>, Option<usize>, bool) {
    let (head, params) = range.split_once(';').unwrap_or((range, ""));
    let start = head.trim().strip_suffix("..").unwrap_or(head.trim()).trim();
    let after = start.split_once(' ').map(|(_, v)| v).unwrap_or("").trim();
    let after = after.strip_prefix(']').map(str::to_string).filter(|s| !s.is_empty());
    let mut max = None;
    let mut desc = false;
    for p in params.split(',') {
        let p = p.trim();
        if let Some(n) = p.strip_prefix("max=") {
            max = n.parse().ok();
        }
        if p == "order=desc" {
            desc = true;
        }
    }
    (after, max, desc)
}

/// A page of `items` keyed by `key`, with its status and `Next-Range`.
fn page(shared: &Shared, items: Vec<(String, Value)>, field: &str, range: Option<&str>) -> Response {
    let (after, max, desc) = range.map(parse_range).unwrap_or((None, None, false));
    let mut items = items;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if desc {
        items.reverse();
    }
    let start = match &after {
        Some(key) => items.iter().position(|(k, _)| k == key).map_or(items.len(), |i| i + 1),
        None => 0,
    };
    let size = max.unwrap_or(shared.page_size).min(shared.page_size).max(1);
    let rest = items.get(start..).unwrap_or_default();
    let chunk: Vec<Value> = rest.iter().take(size).map(|(_, v)| v.clone()).collect();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.push(("ratelimit-remaining".into(), "4400".into()));
    let status = if rest.len() > size {
        let last = rest.get(size - 1).map(|(k, _)| k.clone()).unwrap_or_default();
        let order = if desc { ", order=desc" } else { "" };
        headers.push(("next-range".into(), format!("{field} ]{last}..; max={size}{order}")));
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(Value::Array(chunk))).into_response();
    for (k, v) in headers {
        if let (Ok(name), Ok(value)) =
            (axum::http::HeaderName::from_bytes(k.as_bytes()), axum::http::HeaderValue::from_str(&v))
        {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn app_json(a: &StandInApp) -> Value {
    json!({
        "id": format!("01234567-89ab-cdef-0123-{:012}", a.name.len()),
        "name": a.name,
        "region": { "name": a.region },
        "stack": { "name": a.stack },
        "build_stack": { "name": a.stack },
        "buildpack_provided_description": a.buildpacks,
        "maintenance": a.maintenance,
        "web_url": format!("https://{}.herokuapp.com/", a.name),
    })
}

fn formation_json(p: &Process) -> Value {
    json!({ "type": p.process_type, "command": p.command, "quantity": p.quantity, "size": p.size })
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.requests.push(Recorded {
        method: method.to_string(),
        path: format!("/{path}"),
        range: header("range"),
        authorization: header("authorization").unwrap_or_default(),
        body: body.clone(),
    });
    if header("authorization").as_deref() != Some(&format!("Bearer {}", s.key)) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid credentials provided.");
    }
    if header("accept").as_deref() != Some("application/vnd.heroku+json; version=3") {
        return error(StatusCode::NOT_ACCEPTABLE, "bad_request", "Accept application/vnd.heroku+json; version=3");
    }
    if s.rate_limited > 0 {
        s.rate_limited -= 1;
        let mut response =
            error(StatusCode::TOO_MANY_REQUESTS, "rate_limit", "Your account reached the API rate limit");
        response.headers_mut().insert("ratelimit-remaining", axum::http::HeaderValue::from_static("0"));
        if let Some(after) = s.retry_after {
            if let Ok(v) = axum::http::HeaderValue::from_str(&after.to_string()) {
                response.headers_mut().insert("retry-after", v);
            }
        }
        return response;
    }
    let parts: Vec<&str> = path.split('/').collect();
    let range = header("range");
    let (Some(&"apps"), Some(name)) = (parts.first(), parts.get(1)) else {
        return error(StatusCode::NOT_FOUND, "not_found", "Not found.");
    };
    let name = name.to_string();
    let Some(app) = s.apps.get(&name).cloned() else {
        return error(StatusCode::NOT_FOUND, "not_found", "Couldn't find that app.");
    };
    match (method.as_str(), parts.get(2).copied()) {
        ("GET", None) => Json(app_json(&app)).into_response(),
        ("PATCH", None) => {
            let entry = s.apps.get_mut(&name);
            if let (Some(entry), Some(on)) = (entry, body.get("maintenance").and_then(Value::as_bool)) {
                entry.maintenance = on;
            }
            let app = s.apps.get(&name).cloned().unwrap_or(app);
            Json(app_json(&app)).into_response()
        }
        ("GET", Some("formation")) => {
            let items = app.formation.iter().map(|p| (p.process_type.clone(), formation_json(p))).collect();
            page(&s, items, "type", range.as_deref())
        }
        ("PATCH", Some("formation")) => {
            let updates = body.get("updates").and_then(Value::as_array).cloned().unwrap_or_default();
            if let Some(entry) = s.apps.get_mut(&name) {
                for u in updates {
                    let t = u.get("type").and_then(Value::as_str).unwrap_or_default();
                    if let Some(p) = entry.formation.iter_mut().find(|p| p.process_type == t) {
                        if let Some(q) = u.get("quantity").and_then(Value::as_u64) {
                            p.quantity = u32::try_from(q).unwrap_or(0);
                        }
                        if let Some(size) = u.get("size").and_then(Value::as_str) {
                            p.size = size.to_string();
                        }
                    }
                }
            }
            let formation = s.apps.get(&name).map(|a| a.formation.clone()).unwrap_or_default();
            Json(Value::Array(formation.iter().map(formation_json).collect())).into_response()
        }
        ("GET", Some("config-vars")) => Json(json!(app.config_vars)).into_response(),
        ("GET", Some("addons")) => {
            let items = app
                .addons
                .iter()
                .map(|a| {
                    let v = json!({ "name": a.name, "addon_service": { "name": a.service }, "plan": { "name": a.plan },
                                    "config_vars": a.config_vars, "state": "provisioned" });
                    (a.name.clone(), v)
                })
                .collect();
            page(&s, items, "name", range.as_deref())
        }
        ("GET", Some("domains")) => {
            let items = app
                .domains
                .iter()
                .map(|d| {
                    let v = json!({ "hostname": d.hostname, "kind": d.kind, "cname": d.cname, "status": "succeeded" });
                    (d.hostname.clone(), v)
                })
                .collect();
            page(&s, items, "hostname", range.as_deref())
        }
        ("GET", Some("releases")) => {
            let items = app
                .releases
                .iter()
                .map(|r| {
                    let v = json!({ "version": r.version, "description": r.description, "status": "succeeded", "current": true });
                    (format!("{:012}", r.version), v)
                })
                .collect();
            page(&s, items, "version", range.as_deref())
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "Not found."),
    }
}

impl HerokuStandIn {
    /// Serve on a free loopback port, accepting `key` as the bearer token.
    pub async fn start(key: &str) -> HerokuStandIn {
        let shared = Arc::new(Mutex::new(Shared { key: key.to_string(), page_size: 200, ..Shared::default() }));
        let app = Router::new().route("/{*path}", get(handle).patch(handle)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HerokuStandIn { url, shared, task }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        f(&mut self.shared.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn add_app(&self, app: StandInApp) {
        self.with(|s| s.apps.insert(app.name.clone(), app));
    }

    /// Items per page of every list (small values exercise `Next-Range`).
    pub fn set_page_size(&self, size: usize) {
        self.with(|s| s.page_size = size.max(1));
    }

    /// Answer the next `n` requests with 429, with `Retry-After` when given.
    pub fn rate_limit_next(&self, n: u32, retry_after: Option<u64>) {
        self.with(|s| {
            s.rate_limited = n;
            s.retry_after = retry_after;
        });
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// The app as it stands now (maintenance, formation).
    pub fn app(&self, name: &str) -> Option<StandInApp> {
        self.with(|s| s.apps.get(name).cloned())
    }
}

/// An app shaped like the demo's: `web` and `worker`, a Postgres add-on whose
/// `DATABASE_URL` is `database_url`, other config vars `vars`, and a custom domain.
pub fn shop(name: &str, database_url: &str, vars: &[(&str, &str)], domain: &str) -> StandInApp {
    let mut config_vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    config_vars.insert("DATABASE_URL".into(), database_url.into());
    let process = |t: &str, command: &str, quantity: u32, size: &str| Process {
        process_type: t.into(),
        command: command.into(),
        quantity,
        size: size.into(),
    };
    StandInApp {
        name: name.into(),
        region: "us".into(),
        stack: "container".into(),
        buildpacks: None,
        maintenance: false,
        formation: vec![process("web", "bin/web", 2, "standard-2x"), process("worker", "bin/worker", 1, "standard-1x")],
        config_vars,
        addons: vec![Addon {
            name: "postgresql-lunar-42".into(),
            service: "heroku-postgresql".into(),
            plan: "heroku-postgresql:standard-0".into(),
            config_vars: vec!["DATABASE_URL".into()],
        }],
        domains: vec![
            Domain {
                hostname: domain.into(),
                kind: "custom".into(),
                cname: Some("quiet-river-1.herokudns.com".into()),
            },
            Domain { hostname: format!("{name}.herokuapp.com"), kind: "heroku".into(), cname: None },
        ],
        releases: (1..=3).map(|v| Release { version: v, description: format!("Deploy {v}") }).collect(),
    }
}
