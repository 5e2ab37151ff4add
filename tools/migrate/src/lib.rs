//! Moving an app off Heroku onto AWS: the typed migration planner ([`plan`]), the OpenTofu
//! export ([`export`]), and the executor that carries out the steps ([`executor`]) against
//! a target ([`target`]: the AWS SDK in [`aws`], or the simulated cloud in [`sim`]) with the
//! data copy in [`pg`] (`pg_dump`/`pg_restore`, streamed and verified by [`copy`]).
//!
//! Architecture invariants:
//! - Every step's content comes from [`plan::plan`], never from model text.
//! - Config var values go from Heroku to SSM and nowhere else.
//! - The AWS SDK crates for SSM, RDS, ECS, ELBv2 and Route 53 are compiled here and only here.

pub mod aws;
pub mod check;
pub mod copy;
pub mod executor;
pub mod export;
pub mod pause;
pub mod pg;
pub mod plan;
pub mod prices;
pub mod provider;
pub mod sim;
pub mod target;
#[cfg(feature = "testing")]
pub mod testing;

pub use copy::{Copier, CopyReport};
pub use executor::{Inputs, Migrator, NoInputs};
pub use pg::PgCopier;
pub use plan::{plan, Plan, PlanOptions, PlannedStep};
pub use provider::WithMigrations;
pub use sim::{SimCopier, SimTarget};
pub use target::Target;
