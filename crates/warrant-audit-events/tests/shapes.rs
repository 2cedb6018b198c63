//! Every body shape the call sites write today (`records.json`: one entry
//! per site and variant, with the site named) reads as its kind's type and
//! writes back as the same record; wrong shapes are refused with a reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use warrant_audit_events::{
    AgentKilled, Body, Event, EventKind, GatewayStopped, LeaseEnded, LeaseRecord, ParseError,
    StopReason, Via,
};

struct Sample {
    kind: String,
    site: String,
    body: Value,
}

fn samples() -> Vec<Sample> {
    let all: Vec<Value> = serde_json::from_str(include_str!("records.json")).unwrap();
    all.into_iter()
        .map(|entry| Sample {
            kind: entry["kind"].as_str().unwrap().to_owned(),
            site: entry["site"].as_str().unwrap().to_owned(),
            body: entry["body"].clone(),
        })
        .collect()
}

/// `written` says what `sample` says: the same keys with the same values,
/// except that a `null` in the sample may be absent from `written` (an
/// optional field only some sites write is left out when empty).
#[track_caller]
fn assert_same(sample: &Value, written: &Value, path: &str) {
    match (sample, written) {
        (Value::Object(sample), Value::Object(written)) => {
            for key in written.keys() {
                assert!(sample.contains_key(key), "{path}: `{key}` written but not in the sample");
            }
            for (key, value) in sample {
                let at = format!("{path}.{key}");
                match written.get(key) {
                    Some(found) => assert_same(value, found, &at),
                    None => assert!(value.is_null(), "{at}: {value} was not written back"),
                }
            }
        }
        (Value::Array(sample), Value::Array(written)) => {
            assert_eq!(sample.len(), written.len(), "{path}: length");
            for (i, (a, b)) in sample.iter().zip(written).enumerate() {
                assert_same(a, b, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(sample, written, "{path}"),
    }
}

#[test]
fn every_shape_written_today_reads_as_its_kind_and_writes_back_the_same() {
    for sample in samples() {
        let text = serde_json::to_string(&sample.body).unwrap();
        let event = Event::parse(&sample.kind, &text)
            .unwrap_or_else(|e| panic!("{} ({}): {e}", sample.kind, sample.site));
        assert_eq!(event.kind().as_str(), sample.kind, "{}", sample.site);
        let written = serde_json::to_value(&event).unwrap();
        assert_same(&sample.body, &written, &format!("{} ({})", sample.kind, sample.site));
    }
}

#[test]
fn every_kind_round_trips_through_its_type() {
    for sample in samples() {
        let kind = EventKind::parse(&sample.kind).unwrap();
        let event = Event::from_value(kind, sample.body.clone()).unwrap();
        let text = serde_json::to_string(&event).unwrap();
        let again = Event::parse(kind.as_str(), &text).unwrap();
        assert_eq!(again, event, "{} ({})", sample.kind, sample.site);
    }
}

#[test]
fn every_kind_has_a_sample_and_no_sample_names_an_unknown_kind() {
    let sampled: BTreeSet<String> = samples().into_iter().map(|s| s.kind).collect();
    let known: BTreeSet<String> = EventKind::ALL.iter().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(sampled, known);
}

#[test]
fn a_typed_body_serializes_as_the_call_site_wrote_it() {
    let stopped = GatewayStopped { reason: StopReason::Signal };
    assert_eq!(serde_json::to_value(&stopped).unwrap(), json!({"reason": "signal"}));
    assert_eq!(Event::from(stopped).kind(), GatewayStopped::KIND);

    // An optional field only some sites write is left out when empty; one
    // every site writes stays, as `null`.
    let killed = AgentKilled {
        targets: vec!["*".into()],
        by: "operator:alice".into(),
        descendants: None,
        reason: None,
    };
    assert_eq!(
        serde_json::to_value(&killed).unwrap(),
        json!({"targets": ["*"], "by": "operator:alice"})
    );
    let ended = LeaseEnded(LeaseRecord {
        lease: "l-1".into(),
        holder: Some("upstream:github".into()),
        credential: "github".into(),
        hosts: vec!["api.github.com".into()],
        via: Via::HttpRequest,
        expires_at: "2026-11-22T11:00:00.000Z".into(),
        ended_at: None,
        reason: None,
        custody: None,
    });
    let value = serde_json::to_value(&ended).unwrap();
    assert_eq!(value["ended_at"], Value::Null);
    assert!(value.as_object().unwrap().contains_key("reason"));
    assert!(!value.as_object().unwrap().contains_key("custody"));
    assert_eq!(value["via"], "http_request");
}

/// The sample of `kind` at `site`, changed by `change`, then read.
fn read_changed(kind: &str, site: &str, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let sample = samples().into_iter().find(|s| s.kind == kind && s.site == site).unwrap();
    let mut body = sample.body.as_object().unwrap().clone();
    change(&mut body);
    let text = Value::Object(body).to_string();
    match Event::parse(kind, &text) {
        Ok(event) => panic!("{kind} read a wrong shape as {event:?}"),
        Err(ParseError::Body { kind: found, source }) => {
            assert_eq!(found.as_str(), kind);
            source.to_string()
        }
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_missing_field_an_unknown_field_and_a_wrong_value_are_refused_with_the_reason() {
    let site = "warrant-gateway handler.rs call (policy)";
    let missing = read_changed("decision", site, |b| drop(b.remove("outcome")));
    assert!(missing.contains("missing field `outcome`"), "{missing}");
    let unknown = read_changed("decision", site, |b| drop(b.insert("n".into(), json!(1))));
    assert!(unknown.contains("unknown field `n`"), "{unknown}");
    let value = read_changed("decision", site, |b| drop(b.insert("outcome".into(), json!("ok"))));
    assert!(value.contains("unknown variant `ok`"), "{value}");
    let typed = read_changed("tools_listed", "warrant-gateway handler.rs list_tools", |b| {
        drop(b.insert("shown".into(), json!("twelve")));
    });
    assert!(typed.contains("invalid type: string \"twelve\""), "{typed}");
}

#[test]
fn a_body_of_none_of_its_kinds_shapes_says_why_for_each() {
    let site = "warrant-gateway control.rs resolve";
    let message = read_changed("approval_resolved", site, |b| drop(b.remove("act")));
    assert!(message.contains("none of the shapes of `ApprovalResolved`"), "{message}");
    assert!(message.contains("as the end of a wait: missing field `tool`"), "{message}");
    assert!(message.contains("as a person's act: missing field `act`"), "{message}");
}

#[test]
fn shapes_of_one_kind_are_told_apart() {
    let read = |kind: &str, body: Value| Event::parse(kind, &body.to_string()).unwrap();
    let Event::BadRequest(refused) = read(
        "bad_request",
        json!({"reason": "origin not allowed", "peer": "127.0.0.1:1", "method": "GET"}),
    ) else {
        panic!()
    };
    assert!(matches!(refused, warrant_audit_events::BadRequest::Refused(_)));
    let Event::SandboxExited(exited) = read(
        "sandbox_exited",
        json!({"code": null, "signal": 15, "timed_out": false, "stopped": null,
               "interrupted": true, "duration_ms": 9}),
    ) else {
        panic!()
    };
    assert!(matches!(exited, warrant_audit_events::SandboxExited::Ended(_)));
    // A screened name records the same fields under both kinds.
    let screened = json!({"where": "egress-screen", "port": 53, "method": "GET",
                          "reason": "r", "status": 403});
    assert!(matches!(
        read("leak_blocked", screened.clone()),
        Event::LeakBlocked(warrant_audit_events::LeakBlocked::Screened(_))
    ));
    assert!(matches!(
        read("egress_refused", screened),
        Event::EgressRefused(warrant_audit_events::EgressRefused::Screened(_))
    ));
}

#[test]
fn kinds_no_writer_records_have_empty_bodies() {
    for kind in ["call_forwarded", "policy_loaded"] {
        assert!(Event::parse(kind, "{}").is_ok());
        assert!(Event::parse(kind, r#"{"tool":"x"}"#).is_err(), "{kind}");
    }
}
