//! `--alerts-http URL`: each alert POSTed as Falco's JSON, one alert per request body, with
//! `Content-Type: application/json`, as Falco's `http_output` does; what Falcosidekick's `/`
//! endpoint reads.
//!
//! Connection errors, timeouts, 5xx, 408 and 429 are retried with exponential back-off (the
//! alert waits at the head of the queue; the queue bounds what waits behind it). Any other
//! status is a refusal: the alert is counted as undelivered and the reply logged, since sending
//! the same body again would be refused again.

use std::time::Duration;

use super::worker::{Closing, Deliver};
use super::OutputError;

/// One request's time limit (connect, send, reply), while the agent runs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// First pause after a failed attempt; doubled after each failure, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How much of a refusal's body is logged.
const REPLY_SNIPPET: u64 = 512;

/// Posts alerts to one URL.
pub struct HttpOut {
    url: String,
    agent: ureq::Agent,
    /// Failed attempts in the current outage (0 when the last attempt worked).
    failures: u32,
}

/// What one attempt came to.
enum Attempt {
    Delivered,
    /// Worth retrying: the receiver is down, overloaded or slow.
    Retry(String),
    /// Refused for good.
    Refused(String),
}

impl HttpOut {
    /// Checks `url` (http or https, with a host) and builds the client.
    pub fn new(url: &str) -> Result<HttpOut, OutputError> {
        let bad = |reason: &str| OutputError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: ureq::http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => return Err(bad(&format!("scheme {other}: only http and https"))),
            None => return Err(bad("no scheme: write http://HOST[:PORT]/PATH")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .user_agent(concat!("lanner/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HttpOut {
            url: url.to_owned(),
            agent,
            failures: 0,
        })
    }

    fn attempt(&self, alert: &str, timeout: Duration) -> Attempt {
        let request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .config()
            .timeout_global(Some(timeout))
            .build();
        match request.send(alert) {
            Ok(mut reply) => {
                let status = reply.status();
                if status.is_success() {
                    return Attempt::Delivered;
                }
                let body = reply
                    .body_mut()
                    .with_config()
                    .limit(REPLY_SNIPPET)
                    .read_to_string()
                    .unwrap_or_default();
                let why = format!("HTTP {status}: {}", body.trim());
                if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
                    Attempt::Retry(why)
                } else {
                    Attempt::Refused(why)
                }
            }
            Err(err) => Attempt::Retry(err.to_string()),
        }
    }
}

impl Deliver for HttpOut {
    fn deliver(&mut self, alert: &str, closing: &Closing) -> bool {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let timeout = closing
                .remaining()
                .map_or(REQUEST_TIMEOUT, |left| left.min(REQUEST_TIMEOUT));
            if timeout.is_zero() {
                return false;
            }
            match self.attempt(alert, timeout) {
                Attempt::Delivered => {
                    if self.failures > 0 {
                        tracing::info!(
                            url = self.url,
                            "alerts are delivered again after {} failed attempt(s)",
                            self.failures
                        );
                        self.failures = 0;
                    }
                    return true;
                }
                Attempt::Refused(why) => {
                    tracing::warn!(url = self.url, "alert refused, not retried: {why}");
                    return false;
                }
                Attempt::Retry(why) => {
                    self.failures += 1;
                    if self.failures == 1 {
                        tracing::warn!(
                            url = self.url,
                            "cannot deliver alerts ({why}); retrying with back-off while they \
                             queue"
                        );
                    } else {
                        tracing::debug!(url = self.url, attempt = self.failures, "{why}");
                    }
                }
            }
            if !closing.pause(backoff) {
                return false;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
