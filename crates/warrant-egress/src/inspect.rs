//! Requests the gate inspects: the body buffered up to
//! [`EgressConfig::max_inspected_body`](crate::EgressConfig::max_inspected_body),
//! head and body handed to [`Gate::inspect`], the result framed with
//! `Content-Length`; its response put to [`Gate::filter_response`]
//! ([`respond`]); and [`block`], the refusal of a request whose destination
//! was allowed but which does not go.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};

use crate::gate::{Blocked, EgressEvent, Gate};
use crate::meter::{Direction, Finish, Metered};
use crate::proxy::{ProxyBody, Shared, failed, relay_response, text};

/// Buffers `body`, puts it and `head` to [`Gate::inspect`], and returns the
/// body to send, with `head` framed for it. Otherwise returns the response
/// for the client, already recorded: 413 for a body over the limit, 403 when
/// the gate blocks, 400 when the client's body failed.
pub(crate) async fn inspect<G: Gate>(
    shared: &Shared<G>,
    finish: &mut Finish<G>,
    head: &mut Parts,
    body: Incoming,
) -> Result<Full<Bytes>, Response<ProxyBody>> {
    let limit = shared.config.max_inspected_body;
    let too_large =
        || Blocked::refused(format!("request body larger than {limit} bytes cannot be inspected"));
    if declared_length(&head.headers).is_some_and(|length| length > limit) {
        return Err(block(shared, finish, StatusCode::PAYLOAD_TOO_LARGE, too_large()).await);
    }
    let had_length = head.headers.contains_key(header::CONTENT_LENGTH);
    let idle = shared.config.idle_timeout;
    let mut body = match buffer(body, limit, finish, idle).await {
        Ok(body) => body,
        Err(Buffering::TooLarge) => {
            return Err(block(shared, finish, StatusCode::PAYLOAD_TOO_LARGE, too_large()).await);
        }
        Err(Buffering::Failed(message)) => {
            return Err(failed(finish, StatusCode::BAD_REQUEST, message));
        }
    };
    // The body is here: nothing to continue, and the client was answered.
    head.headers.remove(header::EXPECT);
    if let Err(blocked) = shared.gate.inspect(finish.request(), head, &mut body) {
        return Err(block(shared, finish, StatusCode::FORBIDDEN, blocked).await);
    }
    frame(&mut head.headers, body.len(), had_length);
    Ok(Full::new(Bytes::from(body)))
}

/// The response to an inspected request: its head put to
/// [`Gate::filter_response`], then relayed through the filter it gives; or,
/// when the gate refuses it, dropped and answered 502 (recorded).
pub(crate) async fn respond<G: Gate>(
    shared: &Shared<G>,
    mut finish: Finish<G>,
    response: Response<Incoming>,
) -> Response<ProxyBody> {
    let (mut head, body) = response.into_parts();
    // A reason phrase of the upstream's own is text the gate does not see:
    // the client gets the standard one.
    head.extensions.remove::<hyper::ext::ReasonPhrase>();
    match shared.gate.filter_response(finish.request(), &mut head) {
        Ok(filter) => {
            let response = Response::from_parts(head, body);
            relay_response(finish, response, shared.config.idle_timeout, filter)
        }
        Err(blocked) => block(shared, &mut finish, StatusCode::BAD_GATEWAY, blocked).await,
    }
}

/// Refuses a request the gate allowed: records [`EgressEvent::Blocked`],
/// then answers `status` with `warrant: <reason>`; the exchange's record
/// (when `finish` is dropped) carries the same status.
pub(crate) async fn block<G: Gate>(
    shared: &Shared<G>,
    finish: &mut Finish<G>,
    status: StatusCode,
    blocked: Blocked,
) -> Response<ProxyBody> {
    let Blocked { reason, leak } = blocked;
    tracing::debug!(status = status.as_u16(), reason = %reason, leak, "request blocked");
    let event = EgressEvent::Blocked {
        request: finish.request().clone(),
        status: status.as_u16(),
        reason: reason.clone(),
        leak,
    };
    if let Err(err) = shared.gate.record(event).await {
        tracing::warn!(error = &err as &dyn std::error::Error, "recording a block failed");
    }
    let response = text(status, &reason);
    finish.fail(status.as_u16(), format!("blocked: {reason}"));
    response
}

/// Why a body could not be buffered.
enum Buffering {
    TooLarge,
    Failed(String),
}

/// Reads the whole body, counting it as sent up and failing after `idle`
/// without a byte.
async fn buffer<G: Gate>(
    body: Incoming,
    limit: usize,
    finish: &Finish<G>,
    idle: std::time::Duration,
) -> Result<Vec<u8>, Buffering> {
    let mut body = Metered::new(body, Arc::clone(&finish.tally), Direction::Up, idle);
    let mut buffered = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|err| Buffering::Failed(format!("request body failed: {err}")))?;
        // Trailers are dropped: the body goes with a Content-Length.
        let Ok(data) = frame.into_data() else { continue };
        if buffered.len().saturating_add(data.len()) > limit {
            return Err(Buffering::TooLarge);
        }
        buffered.extend_from_slice(&data);
    }
    Ok(buffered)
}

/// The `Content-Length` the client declared, if it is one number.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Frames a buffered body of `length` bytes with `Content-Length` (replacing
/// whatever the inspection left), or with nothing for an empty body the
/// client sent without one (a GET stays a GET without a length).
fn frame(headers: &mut HeaderMap, length: usize, had_length: bool) {
    headers.remove(header::TRANSFER_ENCODING);
    if length == 0 && !had_length {
        headers.remove(header::CONTENT_LENGTH);
    } else {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn buffered_body_is_framed_by_its_length_only() {
        let mut headers = HeaderMap::new();
        headers.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        frame(&mut headers, 11, true);
        assert_eq!(headers[header::CONTENT_LENGTH], "11");
        assert!(!headers.contains_key(header::TRANSFER_ENCODING));

        let mut get = HeaderMap::new();
        frame(&mut get, 0, false);
        assert!(!get.contains_key(header::CONTENT_LENGTH));
        let mut empty_post = HeaderMap::new();
        frame(&mut empty_post, 0, true);
        assert_eq!(empty_post[header::CONTENT_LENGTH], "0");
        let mut grown = HeaderMap::new();
        frame(&mut grown, 4, false);
        assert_eq!(grown[header::CONTENT_LENGTH], "4");
    }

    #[test]
    fn declared_length_reads_one_number_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(declared_length(&headers), None);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("42"));
        assert_eq!(declared_length(&headers), Some(42));
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("4, 4"));
        assert_eq!(declared_length(&headers), None);
    }
}
