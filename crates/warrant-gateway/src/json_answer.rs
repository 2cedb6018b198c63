//! One JSON body instead of an SSE stream of one message, where the client
//! accepts it.
//!
//! rmcp answers every request of a 2025-11-25 session with an SSE stream: the
//! headers and a priming event at once, the answer as a later event, then the
//! end of the stream. The specification lets a server answer a request with
//! `application/json` instead, and requires clients to take either. For the
//! answer of a `tools/call` that is one message, a JSON body is one write
//! instead of three and a plain read for the client instead of an event
//! parser, which a keep-alive client spends most of its time on.
//!
//! The stream is read as it comes, never reordered or held back for long: if
//! the first message on it is the answer, that message is the body; if it is
//! anything else (a notification, a request to the client), or nothing has
//! come within [`JSON_WINDOW`], the stream is passed on as it is, with what
//! was read put back in front. So a request whose answer needs the client to
//! act first still completes, and a long call (waiting for a person) still
//! gets its keep-alive events, which a client's read timeout counts on.

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::BodyExt;
use serde_json::Value;
use std::time::Duration;

/// How long an answer may take and still be sent as JSON.
pub const JSON_WINDOW: Duration = Duration::from_secs(5);

/// Events read ahead of the first message, at most: a stream that has sent
/// this much without a message is passed on as it is.
const MAX_READ_AHEAD: usize = 64 * 1024;

/// Whether the request's `Accept` names `application/json` (rmcp already
/// refused a POST that does not also name `text/event-stream`).
pub fn accepts_json(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|media| {
            let essence = media.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        })
    })
}

/// `response`, or its one message as a JSON body. Only for the answer to a
/// POSTed request from a client that accepts JSON.
pub async fn single_message(response: Response) -> Response {
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if response.status() != http::StatusCode::OK || !is_stream {
        return response;
    }
    let (mut parts, mut body) = response.into_parts();
    let mut read = Vec::new();
    let deadline = tokio::time::Instant::now() + JSON_WINDOW;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            // The stream ended, failed or is slow: pass on what there is.
            Ok(None) | Ok(Some(Err(_))) | Err(_) => break,
        };
        let Ok(data) = frame.into_data() else { continue };
        read.extend_from_slice(&data);
        match first_message(&read) {
            First::Pending if read.len() < MAX_READ_AHEAD => continue,
            First::Pending | First::Other => break,
            First::Answer(message) => {
                parts
                    .headers
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                parts.headers.remove(header::CACHE_CONTROL);
                parts.headers.remove("x-accel-buffering");
                parts.headers.remove(header::CONTENT_LENGTH);
                // Dropping the stream now ends it: nothing follows an answer
                // on a request's own stream.
                return Response::from_parts(parts, Body::from(message));
            }
        }
    }
    let read = Bytes::from(read);
    let rest = futures::stream::once(async move { Ok::<Bytes, axum::Error>(read) })
        .chain(body.into_data_stream());
    Response::from_parts(parts, Body::from_stream(rest))
}

/// What the events read so far begin with.
#[derive(Debug, PartialEq)]
enum First {
    /// No message yet: only priming events, comments, or a partial event.
    Pending,
    /// A response or an error: the whole answer.
    Answer(String),
    /// Something else comes first.
    Other,
}

fn first_message(read: &[u8]) -> First {
    let Ok(text) = std::str::from_utf8(read) else { return First::Other };
    let text = text.replace("\r\n", "\n");
    let mut events = text.split("\n\n").collect::<Vec<_>>();
    // The last piece is an event not yet ended by a blank line.
    events.pop();
    for event in events {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        let data = data.join("\n");
        if data.trim().is_empty() {
            continue;
        }
        let Ok(message) = serde_json::from_str::<Value>(&data) else { return First::Other };
        let answer = message.get("id").is_some()
            && message.get("method").is_none()
            && (message.get("result").is_some() || message.get("error").is_some());
        return if answer { First::Answer(data) } else { First::Other };
    }
    First::Pending
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priming_then_the_answer_is_the_answer() {
        let stream = b"data: \nid: 0/0\nretry: 3000\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}\nid: 0/1\n\n";
        assert_eq!(
            first_message(stream),
            First::Answer(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#.to_owned())
        );
    }

    #[test]
    fn an_unfinished_event_is_waited_for() {
        assert_eq!(first_message(b"data: \nid: 0/0\n\n"), First::Pending);
        assert_eq!(first_message(b"data: {\"jsonrpc\":\"2.0\",\"id\":7,"), First::Pending);
        assert_eq!(first_message(b":\n\n"), First::Pending, "a keep-alive comment");
    }

    #[test]
    fn a_notification_or_a_request_first_keeps_the_stream() {
        let progress =
            b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n";
        assert_eq!(first_message(progress), First::Other);
        let asks = b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"roots/list\"}\n\n";
        assert_eq!(first_message(asks), First::Other);
        assert_eq!(first_message(b"data: not json\n\n"), First::Other);
    }

    #[test]
    fn an_error_is_an_answer_too() {
        let stream = b"data: {\"jsonrpc\":\"2.0\",\"id\":\"a\",\"error\":{\"code\":-32602,\"message\":\"no\"}}\r\n\r\n";
        assert!(matches!(first_message(stream), First::Answer(_)));
    }

    #[test]
    fn accept_is_read_as_media_types() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        assert!(accepts_json(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream, application/json;q=0.9"),
        );
        assert!(accepts_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/event-stream"));
        assert!(!accepts_json(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/jsonl"));
        assert!(!accepts_json(&headers));
    }
}
