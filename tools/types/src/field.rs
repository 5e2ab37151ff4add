//! Bad input named by its field, and parsing JSON so that errors say which field.

/// Bad input, naming the field that was wrong (`arguments.desired`), in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// Deserialise `T` from JSON text, naming the path of the first field that failed.
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, FieldError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." || path == "?" { "(document)".to_string() } else { path };
        FieldError::new(field, first_line(&e.inner().to_string()))
    })?;
    de.end().map_err(|e| FieldError::new("(document)", first_line(&e.to_string())))?;
    Ok(value)
}

/// The first line, without serde_json's ` at line 1 column 74` (the field path says where).
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.rfind(" at line ") {
        Some(at) if line[at..].contains(" column ") => line[..at].to_string(),
        _ => line.to_string(),
    }
}
