//! Steward's guardrails: every proposal gets one of three decisions, allow, needs approval
//! (how many approvals, from whom) or deny (which policies, why).
//!
//! Two layers decide together and the most restrictive wins:
//! - **Cedar policies** ([`engine`]): access rules (`permit`/`forbid`, default deny) and
//!   approval rules (a `permit` annotated `@approvals` never grants, it asks for people),
//!   validated against `schema.cedarschema` when loaded. Policies annotated `@shadow` are
//!   evaluated and recorded but never enforced.
//! - **Stateful limits** ([`limits`]): cooldown, rate, hourly budget, blast radius, group
//!   bounds and change-freeze windows, computed from facts the caller gathers.
//!
//! Architecture invariant: this crate is pure and never panics (`unwrap`, `expect`, `panic`
//! and indexing are denied by lints). It sees the tool-call types, never a cloud crate, a
//! store or a clock: time comes in as a fact.

pub mod cases;
pub mod decision;
pub mod defaults;
pub mod engine;
pub mod facts;
pub mod limits;
pub mod source;

pub use cases::{run_cases, CaseOutcome, PolicyCase};
pub use decision::{Decision, Reason, ShadowNote, Verdict};
pub use engine::{Guardrails, LoadError, PolicySource};
pub use facts::{DecisionInput, GroupFacts, ProposalFile, Proposer, ProposerKind};
pub use limits::{FreezeWindow, Limits, Recurrence};
pub use source::{PolicyFiles, SourceError};
