//! How a command fails: exit codes and the one-line message. 0 fine, 1 a check failed or
//! the command could not be done (including a refusal), 2 bad input (malformed JSON, an
//! out-of-schema value, a bad flag).

use std::process::ExitCode;

use crate::service::ServiceError;

/// Input the user must fix: reported in one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The exit code for an error.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    let bad_input = e.downcast_ref::<BadInput>().is_some()
        || matches!(e.downcast_ref::<ServiceError>(), Some(ServiceError::BadInput(_)));
    ExitCode::from(if bad_input { 2 } else { 1 })
}

/// An error's message on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().map(str::trim).collect::<Vec<_>>().join(" ")
}
