//! Every HTTP request from Slack is verified before anything reads it: the body size, the
//! timestamp (at most five minutes off), the v0 HMAC-SHA256 signature over
//! `v0:timestamp:body` (compared in constant time by slack-morphism's verifier), and a
//! replay of a request already seen. A refusal names its reason for the log and the
//! metric, and nothing is acted on.

use std::collections::HashMap;
use std::sync::Mutex;

use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

/// How far a request's timestamp may be from now, seconds (Slack's own rule).
pub const MAX_AGE_SECONDS: i64 = 5 * 60;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooLarge,
    MissingHeaders,
    Stale,
    BadSignature,
    Replayed,
}

impl Refusal {
    pub const ALL: [Refusal; 5] =
        [Refusal::TooLarge, Refusal::MissingHeaders, Refusal::Stale, Refusal::BadSignature, Refusal::Replayed];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TooLarge => "too_large",
            Refusal::MissingHeaders => "missing_headers",
            Refusal::Stale => "stale",
            Refusal::BadSignature => "bad_signature",
            Refusal::Replayed => "replayed",
        }
    }

    /// The HTTP status to answer with.
    pub fn status(self) -> u16 {
        match self {
            Refusal::TooLarge => 413,
            Refusal::MissingHeaders => 400,
            Refusal::Stale | Refusal::BadSignature => 401,
            Refusal::Replayed => 409,
        }
    }
}

/// Checks requests against the signing secret and remembers the signatures it accepted
/// for as long as they could be replayed.
pub struct RequestVerifier {
    verifier: SlackEventSignatureVerifier,
    max_body_bytes: usize,
    seen: Mutex<HashMap<String, i64>>,
}

impl RequestVerifier {
    pub fn new(signing_secret: &str, max_body_bytes: usize) -> Self {
        RequestVerifier {
            verifier: SlackEventSignatureVerifier::new(&SlackSigningSecret::new(signing_secret.to_string())),
            max_body_bytes,
            seen: Mutex::new(HashMap::new()),
        }
    }

    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Verify one request at `now` (Unix seconds). `Ok` means: act on it.
    pub fn check(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), Refusal> {
        if body.len() > self.max_body_bytes {
            return Err(Refusal::TooLarge);
        }
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else { return Err(Refusal::MissingHeaders) };
        let at: i64 = timestamp.trim().parse().map_err(|_| Refusal::MissingHeaders)?;
        if (now - at).abs() > MAX_AGE_SECONDS {
            return Err(Refusal::Stale);
        }
        let body = std::str::from_utf8(body).map_err(|_| Refusal::BadSignature)?;
        self.verifier.verify(signature, body, timestamp).map_err(|_| Refusal::BadSignature)?;
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, at| now - *at <= MAX_AGE_SECONDS);
        if seen.insert(signature.to_string(), at).is_some() {
            return Err(Refusal::Replayed);
        }
        Ok(())
    }
}

/// The `X-Slack-Signature` for `body` at `timestamp`: what Slack sends, for tests and the
/// Slack stand-in.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes keys of any length: this never fails.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    #[test]
    fn only_fresh_correctly_signed_unseen_small_requests_pass() {
        let v = RequestVerifier::new(SECRET, 1024);
        // slack-morphism's verifier checks the timestamp against the wall clock too.
        let now = crate::time::wall_now_ms() / 1000;
        let body = "token=x&command=%2Fsteward&text=status";
        let good = sign(SECRET, now, body);
        assert_eq!(v.check(Some(&now.to_string()), Some(&good), body.as_bytes(), now), Ok(()));
        assert_eq!(v.check(Some(&now.to_string()), Some(&good), body.as_bytes(), now + 1), Err(Refusal::Replayed));
        let other = sign("another-secret", now, body);
        assert_eq!(v.check(Some(&now.to_string()), Some(&other), body.as_bytes(), now), Err(Refusal::BadSignature));
        let tampered = body.replace("status", "pause");
        let sig = sign(SECRET, now, body);
        assert_eq!(v.check(Some(&now.to_string()), Some(&sig), tampered.as_bytes(), now), Err(Refusal::BadSignature));
        let old = now - MAX_AGE_SECONDS - 1;
        let stale = sign(SECRET, old, body);
        assert_eq!(v.check(Some(&old.to_string()), Some(&stale), body.as_bytes(), now), Err(Refusal::Stale));
        assert_eq!(v.check(None, Some(&good), body.as_bytes(), now), Err(Refusal::MissingHeaders));
        let big = "x".repeat(2048);
        assert_eq!(v.check(Some(&now.to_string()), Some(&good), big.as_bytes(), now), Err(Refusal::TooLarge));
    }

    #[test]
    fn the_signature_matches_slacks_documented_example() {
        // From https://api.slack.com/authentication/verifying-requests-from-slack
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign(SECRET, 1_531_420_618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
