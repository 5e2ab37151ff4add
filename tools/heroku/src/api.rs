//! The Heroku Platform API v3 client (`Accept: application/vnd.heroku+json; version=3`,
//! bearer token, as the Heroku CLI sends it).
//!
//! Lists are paged with `Range`/`Next-Range`: a `206 Partial Content` answer carries the
//! `Next-Range` to ask for next. A `429` is waited out as the answer says (`Retry-After`
//! when it is there, else a doubling backoff from one second, the account's tokens refilling
//! at about 75 a minute) and tried again, a few times; `401` and `404` are one clear line.
//! Nothing here logs a request body or a config var value.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RANGE, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use steward_tools::Secret;

use crate::app::{Addon, Domain, FormationUpdate, HerokuApp, Process, Release};
use crate::error::HerokuError;
use crate::source::HerokuSource;

pub const DEFAULT_API_URL: &str = "https://api.heroku.com";
const ACCEPT_V3: &str = "application/vnd.heroku+json; version=3";
/// Most pages read of one list (a runaway `Next-Range` cannot loop for ever).
const MAX_PAGES: usize = 100;

/// A client for one account. `Debug` never shows the key.
pub struct HerokuApi {
    client: reqwest::Client,
    base: String,
    key: Secret<String>,
    /// Tries per request when the API answers 429.
    attempts: u32,
    /// The first wait after a 429 without `Retry-After`; it doubles.
    backoff: Duration,
}

impl std::fmt::Debug for HerokuApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HerokuApi").field("base", &self.base).finish_non_exhaustive()
    }
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl HerokuApi {
    pub fn new(base_url: &str, key: Secret<String>) -> Result<HerokuApi, HerokuError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| HerokuError::Unreachable { what: "client".into(), message: e.to_string() })?;
        Ok(HerokuApi {
            client,
            base: base_url.trim_end_matches('/').to_string(),
            key,
            attempts: 6,
            backoff: Duration::from_secs(1),
        })
    }

    /// `HEROKU_API_KEY` (required) and `HEROKU_API_URL` (default `https://api.heroku.com`).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<HerokuApi, HerokuError> {
        let key = env("HEROKU_API_KEY").filter(|k| !k.trim().is_empty()).ok_or(HerokuError::NoKey)?;
        let url = env("HEROKU_API_URL").filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_API_URL.into());
        HerokuApi::new(&url, Secret::new(key.trim().to_string()))
    }

    /// Change the backoff after a 429 (tests make it short).
    pub fn with_backoff(mut self, first_wait: Duration, attempts: u32) -> HerokuApi {
        self.backoff = first_wait;
        self.attempts = attempts.max(1);
        self
    }

    /// One request, with the 429 backoff. Returns the status, headers and JSON body.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        range: Option<&str>,
        app: &str,
    ) -> Result<(StatusCode, HeaderMap, Value), HerokuError> {
        let what = format!("{method} {path}");
        let mut wait = self.backoff;
        for attempt in 1..=self.attempts {
            let mut request = self
                .client
                .request(method.clone(), format!("{}{path}", self.base))
                .header(ACCEPT, ACCEPT_V3)
                .header(AUTHORIZATION, format!("Bearer {}", self.key.expose()))
                .header(USER_AGENT, concat!("steward/", env!("CARGO_PKG_VERSION")));
            if let Some(range) = range {
                request = request.header(RANGE, range);
            }
            if let Some(body) = body {
                request = request.header(CONTENT_TYPE, "application/json").body(body.to_string());
            }
            let response = request
                .send()
                .await
                .map_err(|e| HerokuError::Unreachable { what: what.clone(), message: first_line(&e.to_string()) })?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| HerokuError::Unreachable { what: what.clone(), message: first_line(&e.to_string()) })?;
            let json: Value =
                if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
            match status {
                StatusCode::TOO_MANY_REQUESTS => {
                    if attempt == self.attempts {
                        return Err(HerokuError::RateLimited { attempts: attempt });
                    }
                    let asked = headers
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let pause = asked.unwrap_or(wait).min(Duration::from_secs(60));
                    tracing::warn!(request = %what, attempt, wait_ms = pause.as_millis() as u64, "Heroku rate limited the request; waiting.");
                    tokio::time::sleep(pause).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
                StatusCode::UNAUTHORIZED => return Err(HerokuError::Unauthorized),
                StatusCode::NOT_FOUND if !app.is_empty() => return Err(HerokuError::NoSuchApp(app.to_string())),
                s if s.is_success() => {
                    pace(&headers).await;
                    return Ok((status, headers, json));
                }
                s => {
                    let message = json.get("message").and_then(Value::as_str).unwrap_or("").to_string();
                    return Err(HerokuError::Status { what, status: s.as_u16(), message: first_line(&message) });
                }
            }
        }
        Err(HerokuError::RateLimited { attempts: self.attempts })
    }

    /// Every item of a list, following `Next-Range` while the API answers 206.
    async fn list(&self, path: &str, first_range: Option<&str>, app: &str) -> Result<Vec<Value>, HerokuError> {
        let mut out = Vec::new();
        let mut range = first_range.map(str::to_string);
        for _ in 0..MAX_PAGES {
            let (status, headers, body) = self.request(Method::GET, path, None, range.as_deref(), app).await?;
            let items = body.as_array().cloned().ok_or_else(|| HerokuError::Malformed {
                what: format!("GET {path}"),
                message: "expected a list".into(),
            })?;
            out.extend(items);
            let next = headers.get("next-range").and_then(|v| v.to_str().ok()).map(str::to_string);
            match (status, next) {
                (StatusCode::PARTIAL_CONTENT, Some(next)) => range = Some(next),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }
}

/// When the account is nearly out of request tokens, slow down before it is refused.
async fn pace(headers: &HeaderMap) {
    let remaining =
        headers.get("ratelimit-remaining").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if remaining.is_some_and(|r| r < 10) {
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(300).collect()
}

fn process(v: &Value) -> Process {
    Process {
        process_type: text(v, "/type"),
        command: text(v, "/command"),
        quantity: v.get("quantity").and_then(Value::as_u64).and_then(|q| u32::try_from(q).ok()).unwrap_or(0),
        size: text(v, "/size"),
    }
}

#[async_trait]
impl HerokuSource for HerokuApi {
    fn describe(&self) -> String {
        self.base.clone()
    }

    async fn app(&self, name: &str) -> Result<HerokuApp, HerokuError> {
        let base = format!("/apps/{name}");
        let (_, _, app) = self.request(Method::GET, &base, None, None, name).await?;
        if app.get("name").and_then(Value::as_str).is_none() {
            return Err(HerokuError::Malformed { what: format!("GET {base}"), message: "no app name".into() });
        }
        let formation = self.list(&format!("{base}/formation"), None, name).await?;
        let (_, _, vars) = self.request(Method::GET, &format!("{base}/config-vars"), None, None, name).await?;
        let addons = self.list(&format!("{base}/addons"), None, name).await?;
        let domains = self.list(&format!("{base}/domains"), None, name).await?;
        // The newest release: one page of one, newest first.
        let (_, _, releases) = self
            .request(Method::GET, &format!("{base}/releases"), None, Some("version ..; order=desc, max=1"), name)
            .await?;
        let releases = releases.as_array().cloned().unwrap_or_default();
        let config_vars: BTreeMap<String, Secret<String>> = vars
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), Secret::new(v.as_str().map_or_else(|| v.to_string(), str::to_string))))
                    .collect()
            })
            .unwrap_or_default();
        let release =
            releases.iter().max_by_key(|r| r.get("version").and_then(Value::as_u64).unwrap_or(0)).map(|r| Release {
                version: r.get("version").and_then(Value::as_u64).unwrap_or(0),
                description: text(r, "/description"),
            });
        Ok(HerokuApp {
            name: text(&app, "/name"),
            region: text(&app, "/region/name"),
            stack: text(&app, "/stack/name"),
            buildpacks: app.get("buildpack_provided_description").and_then(Value::as_str).map(str::to_string),
            maintenance: app.get("maintenance").and_then(Value::as_bool).unwrap_or(false),
            formation: formation.iter().map(process).collect(),
            config_vars,
            addons: addons
                .iter()
                .map(|a| Addon {
                    name: text(a, "/name"),
                    service: text(a, "/addon_service/name"),
                    plan: text(a, "/plan/name"),
                    config_vars: a
                        .get("config_vars")
                        .and_then(Value::as_array)
                        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_string).collect())
                        .unwrap_or_default(),
                })
                .collect(),
            domains: domains
                .iter()
                .map(|d| Domain {
                    hostname: text(d, "/hostname"),
                    kind: text(d, "/kind"),
                    cname: d.get("cname").and_then(Value::as_str).map(str::to_string),
                })
                .collect(),
            release,
        })
    }

    async fn set_maintenance(&self, name: &str, on: bool) -> Result<(), HerokuError> {
        let body = json!({ "maintenance": on });
        self.request(Method::PATCH, &format!("/apps/{name}"), Some(&body), None, name).await?;
        Ok(())
    }

    async fn scale(&self, name: &str, updates: &[FormationUpdate]) -> Result<Vec<Process>, HerokuError> {
        let body = json!({ "updates": updates });
        let (_, _, formation) =
            self.request(Method::PATCH, &format!("/apps/{name}/formation"), Some(&body), None, name).await?;
        Ok(formation.as_array().map(|l| l.iter().map(process).collect()).unwrap_or_default())
    }
}
