//! The LLM planner: one more proposer, through any OpenAI-compatible endpoint.
//!
//! An *episode* is one bounded conversation with the model about one trigger (an anomaly
//! the deterministic planners cannot explain, a question from a person, a migration). The
//! model investigates with the read-only tools, answered locally by the caller, and may
//! call mutating tools; those are parsed into [`ToolCall`]s, checked against the current
//! observation, and handed back as *proposals*. Nothing here executes anything: the caller
//! files proposals, and validation, policy, approval and audit decide what happens.
//!
//! Architecture invariants:
//! - The model's output is untrusted input. A tool call becomes a [`ToolCall`] only through
//!   [`ToolCall::from_name_and_arguments`] and the caller's [`EpisodeTools::check`]; a bad
//!   one is rejected with its reason, and the model may correct itself once.
//! - Every episode is bounded in turns, tokens and seconds ([`LlmSettings`]).
//! - Untrusted text (names, tags, chat messages, app config) reaches the prompt only as
//!   quoted JSON data, and any episode that saw some is *tainted*; policy makes tainted
//!   proposals wait for a person, so safety never depends on the model obeying the prompt.

mod answer;
mod client;
mod episode;
mod prompt;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
mod wire;

pub use answer::{ToolAnswer, ToolError};
pub use client::{CallError, ClientError, LlmClient};
pub use episode::{run_episode, Ended, EpisodeReport, EpisodeTools, ProposedCall, RejectedCall, Usage};
pub use prompt::{Briefing, Trigger, SYSTEM_PROMPT};
pub use settings::{Api, LlmSettings};

pub use steward_tools::ToolCall;
