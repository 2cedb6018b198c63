//! The HTTP client of an `http://` upstream.
//!
//! rmcp's default client turns off connection reuse (its remedy for a 40 ms
//! stall it saw on reused connections, from delayed ACKs), so each call to an
//! upstream paid a new TCP connection and handshake. Warrant's keeps idle
//! connections for reuse, and sets `TCP_NODELAY`, so a small request written
//! in pieces is never held back waiting for an ACK.
//! Redirects are followed as rmcp's own client follows them (same origin,
//! 307 and 308 only, which keep the body): anything else would send the
//! session id and an upstream's credential headers to another host, or turn
//! the call into a bodyless GET.

use std::time::Duration;

/// The most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// How long an idle connection to an upstream is kept.
const IDLE: Duration = Duration::from_secs(90);

/// A client for one upstream's connections.
pub(super) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_idle_timeout(IDLE)
        .redirect(same_origin())
        .build()
}

fn same_origin() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let keeps_body = matches!(
            attempt.status(),
            reqwest::StatusCode::TEMPORARY_REDIRECT | reqwest::StatusCode::PERMANENT_REDIRECT
        );
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if !keeps_body || !same_origin {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}
