//! A stored record's kind and body, arbitrary: reading it as its kind's
//! type returns an event or an error, never panics, and an event that
//! reads, written again (as serde writes it, and as the audit writer stores
//! it: the canonical JSON of its detail), reads back as the same event of
//! the same kind.
//!
//! Bodies that read are rare from random bytes (every field must be named),
//! so a third of the inputs start from a body a call site writes (the
//! samples `warrant-audit-events` tests its types against) and change it:
//! the input, when it is a JSON object, replaces and adds fields, and a key
//! `-NAME` removes field NAME.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};
use std::sync::OnceLock;
use warrant_audit::{AuditEvent, Event, EventKind};
use warrant_core::canonical_json;

/// `(kind, body)` of every sample.
fn samples() -> &'static [(String, Map<String, Value>)] {
    static SAMPLES: OnceLock<Vec<(String, Map<String, Value>)>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let text = include_str!("../../crates/warrant-audit-events/tests/records.json");
        let all: Vec<Value> = serde_json::from_str(text).expect("the samples are JSON");
        all.into_iter()
            .filter_map(|sample| {
                let kind = sample.get("kind")?.as_str()?.to_owned();
                let body = sample.get("body")?.as_object()?.clone();
                Some((kind, body))
            })
            .collect()
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&pick, rest)) = bytes.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let choice = usize::from(pick / 3);
    let (kind, body): (&str, String) = match pick % 3 {
        // One of the kinds, any body.
        0 => {
            let known = EventKind::ALL;
            (known.get(choice % known.len()).map_or("", |k| k.as_str()), text.to_owned())
        }
        // Any kind (the first line), any body.
        1 => {
            let (kind, body) = text.split_once('\n').unwrap_or((text, ""));
            (kind, body.to_owned())
        }
        // A sample, changed.
        _ => {
            let all = samples();
            let Some((kind, sample)) = all.get(choice % all.len().max(1)) else { return };
            let mut body = sample.clone();
            if let Ok(Value::Object(change)) = serde_json::from_str::<Value>(text) {
                for (key, value) in change {
                    match key.strip_prefix('-') {
                        Some(gone) => drop(body.remove(gone)),
                        None => drop(body.insert(key, value)),
                    }
                }
            }
            (kind.as_str(), Value::Object(body).to_string())
        }
    };
    let Ok(event) = Event::parse(kind, &body) else { return };
    assert_eq!(event.kind().as_str(), kind);

    let written = serde_json::to_string(&event).expect("an event serializes");
    let again = Event::parse(kind, &written).unwrap_or_else(|e| panic!("{written}: {e}"));
    assert_eq!(again, event, "{written}");

    let stored = AuditEvent::of_event(&event).expect("an event is an object");
    let stored = canonical_json(&Value::Object(stored.detail().clone()))
        .expect("a detail is canonical JSON");
    let again = Event::parse(kind, &stored).unwrap_or_else(|e| panic!("{stored}: {e}"));
    assert_eq!(again, event, "{stored}");
});
