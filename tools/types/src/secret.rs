//! A wrapper that keeps secrets out of `Debug`, `Display` and serialised output.

use std::fmt;

/// A secret value (a token, a key, a password-bearing URL). Its `Debug` and `Display`
/// print `[redacted]`; read it with [`Secret::expose`] at the one place that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The wrapped value. Call this only where the secret is handed to the service that
    /// needs it, never to build a log line, an audit entry or a prompt.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Prefixes of credentials that must never be stored, whoever wrote them: OpenAI-style and
/// Slack tokens, AWS access keys, GitHub tokens.
const TOKEN_PREFIXES: &[&str] =
    &["sk-", "xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxe-", "xapp-", "AKIA", "ASIA", "ghp_", "gho_", "github_pat_"];

/// Words after which the next value is a credential (`password=…`, `"api_key": "…"`).
const SECRET_KEYS: &[&str] =
    &["password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "bearer", "access_key"];

/// `text` with every credential in it replaced by `[redacted]`: the `known` secrets
/// (the configured API key, say), anything shaped like a well-known token, and the value
/// after a word like `password` or `token`. For raw text that goes into the audit log.
pub fn redact(text: &str, known: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in known.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[redacted]");
    }
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '=');
    let mut result = String::with_capacity(out.len());
    let mut redact_next = false;
    let mut rest = out.as_str();
    while !rest.is_empty() {
        let start = rest.find(is_token_char).unwrap_or(rest.len());
        result.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(|c: char| !is_token_char(c)).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() {
            break;
        }
        let is_key = |w: &str| {
            let lower = w.to_ascii_lowercase();
            SECRET_KEYS.iter().any(|k| lower.trim_end_matches(['=', ':']).ends_with(k))
        };
        let key_word = is_key(word);
        let token = word.len() >= 12 && TOKEN_PREFIXES.iter().any(|p| word.starts_with(p));
        if let Some((key, _)) = word.split_once('=').filter(|(k, v)| is_key(k) && !v.is_empty()) {
            // `password=hunter2` in one word.
            result.push_str(key);
            result.push_str("=[redacted]");
            redact_next = false;
        } else if token || (redact_next && !key_word) {
            result.push_str("[redacted]");
            redact_next = false;
        } else {
            result.push_str(word);
            redact_next = key_word;
        }
        rest = &rest[end..];
    }
    result
}

#[cfg(test)]
mod tests {
    use super::{redact, Secret};

    #[test]
    fn redact_removes_known_and_token_shaped_secrets() {
        let text =
            r#"use key sk-abcdefghijklmnop1234 and "password": "hunter2", token=xoxb-1-2-3 or ABCDkeyWXYZ; group web"#;
        let clean = redact(text, &["ABCDkeyWXYZ"]);
        for secret in ["sk-abcdefghijklmnop1234", "hunter2", "xoxb-1-2-3", "ABCDkeyWXYZ"] {
            assert!(!clean.contains(secret), "{secret} survived: {clean}");
        }
        assert!(clean.contains("group web"), "{clean}");
        assert_eq!(redact("scale web from 4 to 6", &[]), "scale web from 4 to 6");
        assert_eq!(redact("Authorization: Bearer abc.def", &[]), "Authorization: Bearer [redacted]");
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2".to_string());
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "hunter2");
    }
}
