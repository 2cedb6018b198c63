//! How Warrant governs a connection, for a `warrant run` proxy and for the
//! gateway's `warrant__http_request` alike: the name screened for secrets
//! before anything resolves it, policy's decision as the proxy's verdict, a
//! connection as a person is asked about it (over the control socket) and
//! as the audit log records it.

use crate::leak::Leak;
use serde_json::json;
use std::sync::OnceLock;
use warrant_audit::Event;
use warrant_audit::events::{
    Alarm, AlarmKind, BlockedRequest, BlockedWhere, EgressDecision, EgressFinished, EgressRefused,
    EgressWhere, LeakBlocked, Outcome, ProxyRefusal, ScreenWhere, ScreenedName, ShownRequest,
};
use warrant_control::{Answer, Question, Settled};
use warrant_core::AgentId;
use warrant_egress::{Destination, EgressEvent, EgressRequest, RequestKind, Verdict};
use warrant_policy::Decision;
use warrant_vault::rules::RuleSet;
use warrant_vault::scan::LeakScanner;

/// What a person is shown of a connection they are asked about: how it goes
/// out and what it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// `http`, `https`, or `tunnel` for a CONNECT whose protocol inside is
    /// the client's business.
    pub scheme: &'static str,
    /// The request's method (`CONNECT` for a tunnel).
    pub method: String,
    /// The path and query, masked; `None` when it is not known (a tunnel).
    pub path: Option<String>,
}

/// Said in place of a tunnel's path.
const TUNNEL_PATH: &str =
    "unknown: a CONNECT tunnel; the requests inside it are not seen when it is approved";

impl Shown {
    /// As the proxy sees the destination: plain HTTP with its method and
    /// path, or a tunnel.
    pub fn of(destination: &Destination) -> Self {
        match &destination.kind {
            RequestKind::Http { method, path } => {
                Self { scheme: "http", method: method.clone(), path: Some(path.clone()) }
            }
            RequestKind::Https { method, path } => {
                Self { scheme: "https", method: method.clone(), path: Some(path.clone()) }
            }
            RequestKind::Connect => {
                Self { scheme: "tunnel", method: "CONNECT".to_owned(), path: None }
            }
        }
    }
}

/// What a person is asked about a connection that rule `rule` asks about,
/// for `why` (its `@ask` text).
/// `details` has exactly `scheme`, `host`, `port`, `method` and `path` (the
/// path says why it is unknown for a tunnel).
pub fn connection_question(
    agent: AgentId,
    agent_name: String,
    destination: &Destination,
    shown: &Shown,
    rule: &str,
    why: &str,
) -> Question {
    let path = shown.path.clone().unwrap_or_else(|| TUNNEL_PATH.to_owned());
    Question {
        agent,
        agent_name,
        subject: format!("egress: {} {}:{}", shown.method, destination.host, destination.port),
        details: json!({
            "scheme": shown.scheme, "host": destination.host, "port": destination.port,
            "method": shown.method, "path": path,
        }),
        rule: rule.to_owned(),
        why: why.to_owned(),
    }
}

/// "rule `R` asks a person about this connection (why)": the start of every
/// refusal of a connection that was asked about.
pub fn asked_about(question: &Question) -> String {
    format!("rule `{}` asks a person about this connection ({})", question.rule, question.why)
}

/// A person's answer about a connection as the proxy's verdict.
pub fn answered(answer: &Answer, question: &Question) -> Verdict {
    let reason = match answer.outcome {
        Settled::Approved => {
            tracing::info!(approval = %answer.approval, by = %answer.by, subject = %question.subject, "a person approved a connection");
            return Verdict::Allow;
        }
        Settled::Denied => format!("a person ({}) denied this connection", answer.by),
        Settled::TimedOut | Settled::Abandoned => {
            format!("no one approved this connection within {} s", answer.timeout_s)
        }
    };
    Verdict::Deny { reason: format!("{reason}; {}", asked_about(question)) }
}

/// The method policy sees for an egress request: `CONNECT` for a tunnel.
pub fn method_of(kind: &RequestKind) -> String {
    match kind {
        RequestKind::Connect => "CONNECT".to_owned(),
        RequestKind::Http { method, .. } | RequestKind::Https { method, .. } => method.clone(),
    }
}

/// An egress event as an audit record, with the chain of custody of the
/// agent whose connection it is when the gateway records it. The path is
/// kept only up to its query (queries often carry credentials).
pub fn egress_record(event: &EgressEvent, custody: Option<Vec<String>>) -> Event {
    match event {
        EgressEvent::Refused(r) => EgressRefused::Proxy(ProxyRefusal {
            target: r.target.clone(),
            status: r.status,
            reason: r.reason.clone(),
            request: r.request.as_ref().map(shown_request),
            custody,
        })
        .into(),
        // Blocked before policy, by the scan of the name (or, for
        // `warrant__http_request`, of the whole request). The name is not
        // recorded: it carries what was found.
        EgressEvent::Screened { destination, reason, leak } => {
            let screened = ScreenedName {
                where_: ScreenWhere::EgressScreen,
                port: destination.port,
                method: method_of(&destination.kind),
                reason: reason.clone(),
                status: 403,
                custody,
            };
            if *leak {
                LeakBlocked::Screened(screened).into()
            } else {
                EgressRefused::Screened(screened).into()
            }
        }
        EgressEvent::Decided { destination, verdict } => {
            let (outcome, reason) = match verdict {
                Verdict::Allow => (Outcome::Allow, None),
                Verdict::Deny { reason } => (Outcome::Deny, Some(reason.clone())),
            };
            EgressDecision {
                host: destination.host.clone(),
                port: destination.port,
                method: method_of(&destination.kind),
                path: shown_path(&destination.kind),
                outcome,
                reason,
                declared: None,
                custody,
            }
            .into()
        }
        // The inspection refused a request: a leak (it carried a secret, or
        // a placeholder for another host), or not (policy refused the
        // credential's use, a response could not be inspected); or the proxy
        // refused what it could not inspect (413, 421, 405).
        EgressEvent::Blocked { request, status, reason, leak } => {
            let shown = shown_request(request);
            let blocked = BlockedRequest {
                host: shown.host,
                port: shown.port,
                method: shown.method,
                path: shown.path,
                addresses: shown.addresses,
                status: *status,
                reason: reason.clone(),
                where_: BlockedWhere::Egress,
                custody,
            };
            if *leak {
                LeakBlocked::Blocked(blocked).into()
            } else {
                EgressRefused::Blocked(blocked).into()
            }
        }
        EgressEvent::Finished { request, outcome } => {
            let shown = shown_request(request);
            EgressFinished {
                host: shown.host,
                port: shown.port,
                method: shown.method,
                path: shown.path,
                addresses: shown.addresses,
                status: outcome.status,
                bytes_up: outcome.bytes_up,
                bytes_down: outcome.bytes_down,
                duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
                error: outcome.error.clone(),
                custody,
            }
            .into()
        }
    }
}

/// Policy's answer about a connection as the proxy's verdict. Both callers
/// put an `ask` to a person before they get here; one that reaches this is
/// refused, saying so (fail closed). `hint` is added to a denial's reason.
pub fn connect_verdict(decision: &Decision, hint: &str) -> Verdict {
    match decision {
        Decision::Allow { .. } => Verdict::Allow,
        Decision::Deny { rules, reason, .. } => {
            let rule = rules.first().map(|r| format!(" by rule `{}`", r.id)).unwrap_or_default();
            Verdict::Deny { reason: format!("denied{rule}: {reason}{hint}") }
        }
        Decision::Ask { rules, .. } => {
            let rule = rules.first().map(|r| r.id.clone()).unwrap_or_default();
            Verdict::Deny {
                reason: format!(
                    "rule `{rule}` asks a person about this connection, and there is no one to ask from here"
                ),
            }
        }
    }
}

/// A path as records show it: only as far as its query (query strings
/// often carry credentials); `None` for a tunnel.
fn shown_path(kind: &RequestKind) -> Option<String> {
    match kind {
        RequestKind::Connect => None,
        RequestKind::Http { path, .. } | RequestKind::Https { path, .. } => {
            Some(path.split('?').next().unwrap_or("").to_owned())
        }
    }
}

/// A request as records show it: the destination and the addresses it was
/// resolved to.
fn shown_request(request: &EgressRequest) -> ShownRequest {
    ShownRequest {
        host: request.host.clone(),
        port: request.port,
        method: method_of(&request.kind),
        path: shown_path(&request.kind),
        addresses: request.addresses.iter().map(ToString::to_string).collect(),
    }
}

/// The well-known credential rules, built once for the process; `None` if
/// they cannot be built (then names are refused, not let through).
pub fn builtin_rules() -> Option<&'static RuleSet> {
    static RULES: OnceLock<Option<RuleSet>> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().ok()).as_ref()
}

/// What a host name carries that must not go to a name server: vault
/// secrets (with `scanner`) and well-known credentials, in the name as
/// written and with its dots, then its hyphens too, taken out (a secret cut
/// across labels). Only names and rule ids, never values.
pub fn name_leak(host: &str, scanner: Option<&LeakScanner>, rules: &RuleSet) -> Option<Leak> {
    let mut leak = Leak::default();
    for form in name_forms(host) {
        if let Some(found) = scanner.and_then(|s| crate::leak::scan_value(s, &json!(form))) {
            for item in found.credentials {
                if !leak.credentials.contains(&item) {
                    leak.credentials.push(item);
                }
            }
        }
        for finding in rules.scan(form.as_bytes()) {
            if !leak.rules.contains(&finding.rule) {
                leak.rules.push(finding.rule);
            }
        }
    }
    (!leak.credentials.is_empty() || !leak.rules.is_empty()).then_some(leak)
}

/// A host name as it is searched: as named; with the dots between labels
/// taken out, so a secret cut across labels (`0123abcd.ef45.evil.example`)
/// is whole again; and with hyphens taken out too, for one cut up further.
fn name_forms(host: &str) -> [String; 3] {
    let joined: String = host.chars().filter(|c| *c != '.').collect();
    let bare: String = joined.chars().filter(|c| *c != '-').collect();
    [host.to_owned(), joined, bare]
}

/// The refusal of a name found to carry `leak`, and the alarm to record
/// (with the agent's chain of custody when the gateway records it).
/// Neither holds the name: it holds the secret.
pub fn name_blocked(
    destination: &Destination,
    leak: &Leak,
    custody: Option<Vec<String>>,
) -> (String, Alarm) {
    let reason =
        format!("blocked: the host name carries {}; it was not looked up", leak.describe());
    let alarm = Alarm {
        alarm: AlarmKind::SecretLeak,
        message: "an agent tried to send a secret out in a host name (a DNS query)".to_owned(),
        tool: None,
        where_: Some(EgressWhere::EgressName),
        host: None,
        port: Some(destination.port),
        found: Some(leak.record()),
        custody,
    };
    (reason, alarm)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use warrant_audit::EventKind;
    use warrant_vault::SecretValue;
    use warrant_vault::scan::LeakScanner;

    const SECRET: &str = "s3cr3t-Value-0123456789abcdef";

    /// A scanner that knows [`SECRET`] as the credential `github`.
    fn scanner() -> LeakScanner {
        let secret = SecretValue::from_string(SECRET.to_owned());
        LeakScanner::new(&[("github", &secret)]).unwrap()
    }

    #[test]
    fn a_vault_secret_in_hex_cut_across_labels_is_found_in_a_name() {
        let hex = hex::encode(SECRET);
        let (head, tail) = hex.split_at(30);
        let rules = builtin_rules().unwrap();
        for host in [
            format!("{hex}.evil.example"),
            format!("{head}.{tail}.evil.example"),
            format!("{head}-{tail}.evil.example"),
        ] {
            let leak = name_leak(&host, Some(&scanner()), rules).unwrap_or_default();
            let names: Vec<&str> = leak.credentials.iter().map(|(n, _)| n.as_str()).collect();
            assert!(names.contains(&"github"), "{host}: {leak:?}");
        }
    }

    #[test]
    fn a_well_known_credential_in_a_name_is_found_without_a_vault() {
        // A Slack token fits a DNS label; whole, or cut across two.
        let rules = builtin_rules().unwrap();
        for host in [
            "xoxb-123456789012-abcdefghijklmnopqrst.evil.example",
            "xoxb-123456789012.abcdefghijklmnopqrst.evil.example",
        ] {
            let leak = name_leak(host, None, rules);
            assert!(leak.is_some_and(|l| l.rules == ["slack-token"]), "{host}");
        }
    }

    #[test]
    fn ordinary_names_carry_nothing() {
        let rules = builtin_rules().unwrap();
        for host in ["api.github.com", "registry.npmjs.org", "s3.eu-west-1.amazonaws.com"] {
            assert_eq!(name_leak(host, Some(&scanner()), rules), None, "{host}");
        }
    }

    #[test]
    fn the_record_and_alarm_of_a_blocked_name_do_not_hold_the_name() {
        let host = format!("{}.evil.example", hex::encode(SECRET));
        let destination = Destination {
            agent: "a".into(),
            host: host.clone(),
            port: 443,
            kind: RequestKind::Connect,
        };
        let leak = name_leak(&host, Some(&scanner()), builtin_rules().unwrap()).unwrap();
        let (reason, alarm) = name_blocked(&destination, &leak, None);
        let event = EgressEvent::Screened { destination, reason: reason.clone(), leak: true };
        let record = egress_record(&event, None);
        assert_eq!(record.kind(), EventKind::LeakBlocked);
        let alarm = serde_json::to_string(&alarm).unwrap();
        for text in [reason, alarm, serde_json::to_string(&record).unwrap()] {
            assert!(!text.contains(&hex::encode(SECRET)), "{text}");
        }
    }

    #[test]
    fn a_person_asked_about_a_connection_sees_scheme_host_port_method_and_path() {
        let http = Destination {
            agent: "a".into(),
            host: "api.example".into(),
            port: 80,
            kind: RequestKind::Http { method: "POST".into(), path: "/pay?to=bob".into() },
        };
        let question = connection_question(
            AgentId::random(),
            "n".into(),
            &http,
            &Shown::of(&http),
            "ask",
            "why",
        );
        assert_eq!(
            question.details,
            json!({"scheme": "http", "host": "api.example", "port": 80, "method": "POST", "path": "/pay?to=bob"})
        );
        assert_eq!(question.subject, "egress: POST api.example:80");
        let tunnel = Destination { port: 443, kind: RequestKind::Connect, ..http };
        let question = connection_question(
            AgentId::random(),
            "n".into(),
            &tunnel,
            &Shown::of(&tunnel),
            "ask",
            "why",
        );
        assert_eq!(question.details["scheme"], "tunnel");
        assert_eq!(question.details["method"], "CONNECT");
        assert!(question.details["path"].as_str().unwrap().starts_with("unknown"));
    }
}
