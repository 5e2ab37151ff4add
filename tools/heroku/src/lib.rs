//! Heroku as the source of a migration: what an app is (its formation, config vars, add-ons,
//! domains and release), read from the Platform API v3, and the two changes a migration
//! makes there (maintenance mode, the formation's size).
//!
//! [`HerokuSource`] is what the migration planner and executor use; [`HerokuApi`] speaks the
//! Platform API (bearer token, `Range`/`Next-Range` paging, backing off on 429 as the rate
//! limit asks, one clear line for 401 and 404), and [`DemoHeroku`] is the built-in demo
//! account with the app `demo-shop`, for a fresh clone with no account.
//!
//! Architecture invariant: a config var's value is a [`steward_tools::Secret`]; nothing here
//! logs, prints or serialises one.

mod api;
mod app;
mod demo;
mod error;
mod source;
#[cfg(feature = "testing")]
pub mod testing;

pub use api::{HerokuApi, DEFAULT_API_URL};
pub use app::{Addon, Domain, FormationUpdate, HerokuApp, Process, Release};
pub use demo::{DemoHeroku, DEMO_APP};
pub use error::HerokuError;
pub use source::HerokuSource;
