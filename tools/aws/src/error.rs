//! AWS SDK errors, classified once: throttling and unreachable endpoints are retryable,
//! capacity shortages are their own kind, anything else AWS answered is a refusal.

use aws_sdk_autoscaling::error::{DisplayErrorContext, ProvideErrorMetadata};
use steward_tools::provider::ProviderError;

/// An SDK error in one line, classified.
pub fn classify<E, R>(what: &str, e: aws_sdk_autoscaling::error::SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = e.code().unwrap_or_default().to_string();
    // A service's answer in its own words; anything else (no connection, a timeout) as the
    // SDK tells it, first line only.
    let text = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{what}: {code}: {message}"),
        (Some(code), None) => format!("{what}: {code}"),
        _ => format!("{what}: {}", DisplayErrorContext(&e)),
    };
    let text = text.lines().next().unwrap_or_default().to_string();
    match code.as_str() {
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
            ProviderError::Throttled(text)
        }
        "InsufficientInstanceCapacity" | "InsufficientCapacity" => ProviderError::InsufficientCapacity(text),
        "" => ProviderError::Unavailable(text),
        _ => ProviderError::Refused(text),
    }
}
