//! What a migration needs of Heroku, whoever answers: the Platform API, or the demo account.

use async_trait::async_trait;

use crate::app::{FormationUpdate, HerokuApp, Process};
use crate::error::HerokuError;

#[async_trait]
pub trait HerokuSource: Send + Sync {
    /// Where the app is read from, for messages (`https://api.heroku.com`, `the demo account`).
    fn describe(&self) -> String;

    /// The app: its shape and its config vars' values.
    async fn app(&self, name: &str) -> Result<HerokuApp, HerokuError>;

    /// Turn maintenance mode on or off (idempotent).
    async fn set_maintenance(&self, name: &str, on: bool) -> Result<(), HerokuError>;

    /// Resize process types; the formation afterwards.
    async fn scale(&self, name: &str, updates: &[FormationUpdate]) -> Result<Vec<Process>, HerokuError>;
}
