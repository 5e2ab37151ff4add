//! What can go wrong talking to Heroku, each in one line a person can act on.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HerokuError {
    #[error("heroku: the API key was refused (401): check HEROKU_API_KEY")]
    Unauthorized,
    #[error("heroku: no app `{0}` (404): check the name, and that HEROKU_API_KEY's account can see it")]
    NoSuchApp(String),
    #[error("heroku: still rate limited (429) after {attempts} tries; the account's request tokens refill at about 75 a minute")]
    RateLimited { attempts: u32 },
    #[error("heroku: {what}: {status} {message}")]
    Status { what: String, status: u16, message: String },
    #[error("heroku: {what}: {message}")]
    Unreachable { what: String, message: String },
    #[error("heroku: {what}: the answer is not what the Platform API documents: {message}")]
    Malformed { what: String, message: String },
    #[error("heroku: HEROKU_API_KEY is not set (the Heroku CLI's `heroku auth:token` prints one)")]
    NoKey,
}

impl HerokuError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HerokuError::RateLimited { .. }
                | HerokuError::Unreachable { .. }
                | HerokuError::Status { status: 500.., .. }
        )
    }
}
