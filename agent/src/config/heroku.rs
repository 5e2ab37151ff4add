//! `[heroku]`: the Heroku account apps are migrated from. The key comes from
//! `HEROKU_API_KEY` (what `heroku auth:token` prints) or `api_key_file`, never from the
//! config file; the API from `HEROKU_API_URL` or `api_url` (default
//! `https://api.heroku.com`). On the simulated cloud the built-in demo account answers and
//! none of this is read.

use std::path::PathBuf;

use anyhow::{bail, Context};
use serde::Deserialize;
use steward_tools::Secret;

use super::values::{nonempty, Env};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HerokuFileConfig {
    pub api_url: Option<String>,
    pub api_key_file: Option<PathBuf>,
    /// Refused: keys never go in the config file.
    pub api_key: Option<toml::Value>,
}

/// The resolved section; `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HerokuConfig {
    pub api_url: String,
    /// `None`: migrations from the real Heroku cannot run (the demo account still can).
    pub api_key: Option<Secret<String>>,
}

impl HerokuConfig {
    pub fn resolve(file: &HerokuFileConfig, env: Env<'_>) -> anyhow::Result<HerokuConfig> {
        if file.api_key.is_some() {
            bail!("heroku.api_key: keys never go in the config file; set HEROKU_API_KEY or heroku.api_key_file");
        }
        let api_url = nonempty(file.api_url.clone())
            .or_else(|| nonempty(env("HEROKU_API_URL")))
            .unwrap_or_else(|| steward_heroku::DEFAULT_API_URL.to_string());
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            bail!("heroku.api_url: `{api_url}` is not an http(s) URL");
        }
        let api_key = match &file.api_key_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("heroku.api_key_file: cannot read {}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            None => nonempty(env("HEROKU_API_KEY")).map(|k| k.trim().to_string()),
        };
        Ok(HerokuConfig { api_url, api_key: api_key.filter(|k| !k.is_empty()).map(Secret::new) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_comes_from_the_environment_or_a_file_never_the_config() {
        let env = |name: &str| match name {
            "HEROKU_API_KEY" => Some("hk-secret-123".to_string()),
            _ => None,
        };
        let h = HerokuConfig::resolve(&HerokuFileConfig::default(), &env).expect("resolves");
        assert_eq!(h.api_url, "https://api.heroku.com");
        assert_eq!(h.api_key.as_ref().map(|k| k.expose().as_str()), Some("hk-secret-123"));
        assert!(!format!("{h:?}").contains("hk-secret-123"));
        let file: HerokuFileConfig = toml::from_str("api_key = \"hk-1\"").expect("toml");
        let err = HerokuConfig::resolve(&file, &env).expect_err("refused");
        assert!(err.to_string().contains("never go in the config file") && !err.to_string().contains("hk-1"));
        let file: HerokuFileConfig = toml::from_str("api_url = \"ftp://x\"").expect("toml");
        assert!(HerokuConfig::resolve(&file, &env).is_err());
    }
}
