//! The daemon's HTTP listener: `GET /healthz`, `GET /readyz` (ready once the first complete
//! observation is in), `GET /metrics` (Prometheus text), and, when Slack runs over HTTP,
//! `POST /slack/events`, `/slack/interactions` and `/slack/commands`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::daemon::Telemetry;

#[derive(Clone)]
pub struct HttpState {
    pub telemetry: Arc<Telemetry>,
    pub ready: Arc<AtomicBool>,
    /// The Slack endpoints, when Slack runs over HTTP.
    pub slack: Option<crate::slack::http::SlackState>,
}

pub fn router(state: HttpState) -> Router {
    let slack = state.slack.clone();
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state);
    match slack {
        Some(s) => router.merge(crate::slack::http::routes(s)),
        None => router,
    }
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: waiting for the first complete observation\n")
    }
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.telemetry.metrics.render())
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
