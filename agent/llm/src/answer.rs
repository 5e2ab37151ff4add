//! What a read-only tool answered: the data the model sees, and whether it holds untrusted
//! free text (which taints the episode).

use serde_json::Value;

/// What a read-only tool answered, and whether the answer holds untrusted free text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolAnswer {
    pub data: Value,
    pub untrusted: bool,
}

impl ToolAnswer {
    pub fn trusted(data: Value) -> Self {
        ToolAnswer { data, untrusted: false }
    }

    pub fn untrusted(data: Value) -> Self {
        ToolAnswer { data, untrusted: true }
    }
}

/// Why a tool gave no answer, or why a mutating call does not hold against the fleet: one
/// line the model is shown (and may correct itself from).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

impl ToolError {
    pub fn new(message: impl Into<String>) -> ToolError {
        ToolError(message.into())
    }
}
