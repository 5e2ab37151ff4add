//! `store`: where Steward keeps its audit log, proposals and memory. A URL that may carry a
//! password, so it is never shown in clear.

use serde::Deserialize;

/// The embedded default: a SQLite file in the working directory.
pub const DEFAULT_STORE: &str = "sqlite://steward.db";

/// A store URL. It may carry a password, so its `Debug` and `Display` show it redacted
/// (`postgres://steward:***@db/prod`); [`StoreUrl::expose`] gives the real one to the
/// store, and nothing else.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct StoreUrl(pub(super) String);

impl StoreUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for StoreUrl {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(StoreUrl(s.to_string()))
    }
}

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", steward_memory::redact_url(&self.0))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&steward_memory::redact_url(&self.0))
    }
}

impl Default for StoreUrl {
    fn default() -> Self {
        StoreUrl(DEFAULT_STORE.to_string())
    }
}
