//! Leak prevention: what an agent sends out is searched for
//! secrets and blocked; what comes back to it has them cut out.
//!
//! - **Outgoing** (the arguments of every tool call, Warrant's own tools
//!   included): the string values, joined in document order so a secret
//!   split across two arguments is still found, and the keys, are scanned
//!   for every vault credential in each of its encodings and in disguise
//!   (separators, format characters, compatibility forms, HTML references,
//!   case: see `warrant_vault::scan`). Pieces of a credential are counted
//!   too (`warrant_vault::fragments`): across the strings of one call in any
//!   order, and, through a [`FragmentLedger`], across the calls of one
//!   agent; a call that would take half of a credential's characters out is
//!   blocked. A find blocks the call, with a `leak_blocked` record and an
//!   `alarm`. Credentials that are not in the vault are found by their
//!   well-known formats (`warrant_vault::rules`): blocked the same way, or
//!   cut out and the call let through, as `[leaks] well_known` says.
//! - **Incoming** (tool results, error texts, tool definitions in
//!   `tools/list`): each string has vault secrets, exact or in disguise,
//!   replaced by `[REDACTED:name]` and well-known credentials by
//!   `[REDACTED:rule-id]`, recorded as `secret_redacted`. Pieces are not
//!   counted on the way in.
//!
//! Neither records or returns the value found: only the credential's name
//! (or the rule's id) and the encoding it was found in.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use warrant_audit::events::{Found, FoundCredential, FoundRule};
use warrant_vault::fragments::Exposure;
use warrant_vault::rules::{Action, RuleSet};
use warrant_vault::scan::{Encoding, LeakScanner};

/// What an outgoing value was found to carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Leak {
    /// Vault credentials found: name and the form they were in.
    pub credentials: Vec<(String, Encoding)>,
    /// Well-known credential formats found, by rule id.
    pub rules: Vec<&'static str>,
}

impl Leak {
    /// "vault credential `github` (base64), a credential of kind
    /// `aws-access-key-id`": names and forms, no values.
    pub fn describe(&self) -> String {
        let vault = self.credentials.iter().map(|(name, encoding)| {
            format!("vault credential `{name}` ({})", encoding_name(*encoding))
        });
        let rules = self.rules.iter().map(|rule| format!("a credential of kind `{rule}`"));
        vault.chain(rules).collect::<Vec<_>>().join(", ")
    }

    /// What was found, as the audit log records it.
    pub fn record(&self) -> Vec<Found> {
        let vault = self.credentials.iter().map(|(name, encoding)| {
            Found::Credential(FoundCredential {
                credential: name.clone(),
                encoding: encoding_name(*encoding).to_owned(),
            })
        });
        let rules =
            self.rules.iter().map(|rule| Found::Rule(FoundRule { rule: (*rule).to_owned() }));
        vault.chain(rules).collect()
    }

    fn is_empty(&self) -> bool {
        self.credentials.is_empty() && self.rules.is_empty()
    }
}

/// What the check of an outgoing value decided.
#[derive(Debug)]
pub enum Outgoing {
    /// Nothing found.
    Clean,
    /// Block the call.
    Block(Leak),
    /// Well-known credentials were cut out (`[leaks] well_known =
    /// "redact"`): send this instead.
    Redacted(Value, Leak),
}

fn encoding_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Raw => "raw",
        Encoding::Base64 => "base64",
        Encoding::Base64Url => "base64url",
        Encoding::HexLower | Encoding::HexUpper => "hex",
        Encoding::UrlEncoded | Encoding::UrlEncodedAll => "url-encoded",
        Encoding::JsonEscaped => "json-escaped",
        Encoding::Utf16 => "utf-16",
        Encoding::Normalized => "disguised",
        Encoding::Fragments => "fragments",
    }
}

/// Every string value of `value` in document order, and every object key.
fn strings<'v>(value: &'v Value, values: &mut Vec<&'v str>, keys: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => values.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, values, keys)),
        Value::Object(map) => {
            for (key, v) in map {
                keys.push(key);
                strings(v, values, keys);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// What an outgoing value is scanned as: its string values joined in
/// document order (so a secret cut across adjacent values is whole again),
/// and its object keys joined likewise.
fn joined(value: &Value) -> [zeroize::Zeroizing<String>; 2] {
    let (mut values, mut keys) = (Vec::new(), Vec::new());
    strings(value, &mut values, &mut keys);
    [zeroize::Zeroizing::new(values.concat()), zeroize::Zeroizing::new(keys.concat())]
}

/// Scans an outgoing value with `scanner`, as its string values joined in
/// document order and its object keys joined likewise (a secret cut across
/// adjacent values is whole again), and counts the pieces of secrets across
/// its strings, in any order.
pub fn scan_value(scanner: &LeakScanner, value: &Value) -> Option<Leak> {
    scan_value_in(scanner, &mut Exposure::default(), value)
}

/// [`scan_value`], the pieces counted with what `exposure` says went out
/// before, and added to it when they are let through.
fn scan_value_in(scanner: &LeakScanner, exposure: &mut Exposure, value: &Value) -> Option<Leak> {
    if scanner.secret_count() == 0 {
        return None;
    }
    let mut credentials: Vec<(String, Encoding)> = Vec::new();
    for joined in joined(value) {
        for finding in scanner.scan(joined.as_bytes()) {
            let item = (finding.name, finding.encoding);
            if !credentials.contains(&item) {
                credentials.push(item);
            }
        }
    }
    let (mut values, mut keys) = (Vec::new(), Vec::new());
    strings(value, &mut values, &mut keys);
    let parts: Vec<&[u8]> = values.iter().chain(&keys).map(|s| s.as_bytes()).collect();
    for leak in exposure.admit(scanner, &scanner.fragments(&parts)) {
        let item = (leak.name, Encoding::Fragments);
        if !credentials.contains(&item) {
            credentials.push(item);
        }
    }
    let leak = Leak { credentials, rules: Vec::new() };
    (!leak.is_empty()).then_some(leak)
}

/// What values are screened with: the vault's scanner (when a vault is
/// unlocked), the well-known credential formats, and what to do when one of
/// those is found going out (`[leaks] well_known`).
#[derive(Clone, Copy)]
pub struct Screens<'a> {
    pub scanner: Option<&'a LeakScanner>,
    pub rules: &'a RuleSet,
    pub well_known: Action,
}

impl Screens<'_> {
    /// Scans a tool call's arguments for vault secrets and well-known
    /// credentials. Pieces of secrets are counted within this call only; see
    /// [`Screens::outgoing_in_session`].
    pub fn outgoing(&self, arguments: &Value) -> Outgoing {
        self.outgoing_with(&mut Exposure::default(), arguments)
    }

    /// [`Screens::outgoing`], with the pieces of secrets counted across every
    /// call `agent` made through this process (see [`FragmentLedger`]).
    pub fn outgoing_in_session(
        &self,
        ledger: &FragmentLedger,
        agent: &str,
        arguments: &Value,
    ) -> Outgoing {
        let session = ledger.session(agent);
        let mut exposure = session.lock().unwrap_or_else(PoisonError::into_inner);
        self.outgoing_with(&mut exposure, arguments)
    }

    fn outgoing_with(&self, exposure: &mut Exposure, arguments: &Value) -> Outgoing {
        let mut leak = self
            .scanner
            .and_then(|scanner| scan_value_in(scanner, exposure, arguments))
            .unwrap_or_default();
        let rules = scan_rules(self.rules, arguments);
        if !leak.credentials.is_empty() || (self.well_known == Action::Block && !rules.is_empty()) {
            leak.rules = rules;
            return Outgoing::Block(leak);
        }
        if rules.is_empty() {
            return Outgoing::Clean;
        }
        let mut cleaned = arguments.clone();
        redact_rules_in(self.rules, &mut cleaned);
        // What was found must be gone from what is sent: a credential split
        // across adjacent values is found in them joined, but no one value
        // holds it to cut. Then the call is blocked instead.
        if !scan_rules(self.rules, &cleaned).is_empty() {
            return Outgoing::Block(Leak { credentials: Vec::new(), rules });
        }
        Outgoing::Redacted(cleaned, Leak { credentials: Vec::new(), rules })
    }

    /// `text` (an error, a status, a log line that came from an upstream)
    /// with vault secrets and well-known credentials cut out: what may be
    /// recorded, logged or shown.
    pub fn redacted_text(&self, text: &str) -> String {
        match self.redacted(&text.to_owned()) {
            Some((clean, _)) => clean,
            None => text.to_owned(),
        }
    }

    /// `item` with vault secrets and well-known credentials cut out of every
    /// string, through its JSON form; `None` when there was nothing to cut,
    /// and also when it could not be screened (see [`screened`](Self::screened),
    /// which tells those apart). Returns what was cut: credential names and
    /// rule ids.
    pub fn redacted<T>(&self, item: &T) -> Option<(T, Vec<String>)>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        match self.screened(item) {
            Screened::Cut { item, found } => Some((item, found)),
            Screened::Clean | Screened::Unreadable => None,
        }
    }

    /// `item` screened through its JSON form: clean, or with vault secrets
    /// and well-known credentials cut out of every string (and what was cut:
    /// credential names and rule ids), or unreadable: it has no JSON form, or
    /// the cut form is no longer an item of its type. What goes to an agent
    /// must be withheld when it is unreadable, never passed on unscreened.
    pub fn screened<T>(&self, item: &T) -> Screened<T>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        let Ok(mut value) = serde_json::to_value(item) else { return Screened::Unreadable };
        let mut found = match self.scanner {
            Some(scanner) => redact_value(scanner, &mut value),
            None => Vec::new(),
        };
        let rules = scan_rules(self.rules, &value);
        if !rules.is_empty() {
            redact_rules_in(self.rules, &mut value);
            found.extend(rules.iter().map(|r| (*r).to_owned()));
        }
        if found.is_empty() {
            return Screened::Clean;
        }
        // What was found must be gone from the cut form (a secret or a
        // credential split across adjacent values is found in them joined,
        // but no one value holds it to cut): if not, it is withheld.
        let still = self.scanner.is_some_and(|scanner| scan_value(scanner, &value).is_some())
            || !scan_rules(self.rules, &value).is_empty();
        if still {
            return Screened::Unreadable;
        }
        match serde_json::from_value(value) {
            Ok(item) => Screened::Cut { item, found },
            Err(_) => Screened::Unreadable,
        }
    }
}

/// What [`Screens::screened`] made of an item.
#[derive(Debug, PartialEq)]
pub enum Screened<T> {
    /// Nothing to cut.
    Clean,
    /// The item with what was found cut out, and what that was.
    Cut { item: T, found: Vec<String> },
    /// It could not be screened: withhold it.
    Unreadable,
}

/// The most agents whose pieces a [`FragmentLedger`] keeps. Agents are
/// identities the operator mints, so a gateway rarely sees this many; past
/// it, the agent that has gone longest without a call is forgotten.
pub const MAX_AGENTS: usize = 1024;

/// What of each vault secret each agent has sent out in pieces, for as long
/// as the gateway runs (the session of the fragment check). Memory: at most
/// [`MAX_AGENTS`] agents, each one bit per skeleton character of each
/// secret it sent a piece of.
#[derive(Default)]
pub struct FragmentLedger {
    agents: Mutex<Agents>,
}

#[derive(Default)]
struct Agents {
    by_id: HashMap<String, (u64, Arc<Mutex<Exposure>>)>,
    clock: u64,
}

impl FragmentLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// The exposure of `agent`. Calls of one agent take turns with it, so
    /// two at once cannot each send a half.
    fn session(&self, agent: &str) -> Arc<Mutex<Exposure>> {
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        agents.clock += 1;
        let now = agents.clock;
        if !agents.by_id.contains_key(agent) && agents.by_id.len() >= MAX_AGENTS {
            let idle =
                agents.by_id.iter().min_by_key(|(_, (used, _))| *used).map(|(id, _)| id.clone());
            if let Some(idle) = idle {
                agents.by_id.remove(&idle);
            }
        }
        let entry = agents.by_id.entry(agent.to_owned()).or_default();
        entry.0 = now;
        Arc::clone(&entry.1)
    }

    /// Scans `value`, sent by `agent`, as [`scan_value`] does, the pieces of
    /// secrets counted with those of the agent's earlier calls.
    pub fn scan_value(&self, scanner: &LeakScanner, agent: &str, value: &Value) -> Option<Leak> {
        let session = self.session(agent);
        let mut exposure = session.lock().unwrap_or_else(PoisonError::into_inner);
        scan_value_in(scanner, &mut exposure, value)
    }

    /// How many agents it holds.
    pub fn agents(&self) -> usize {
        self.agents.lock().unwrap_or_else(PoisonError::into_inner).by_id.len()
    }
}

impl std::fmt::Debug for FragmentLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FragmentLedger").field("agents", &self.agents()).finish()
    }
}

/// The rules that fire on `value` (see [`joined`]).
fn scan_rules(rules: &RuleSet, value: &Value) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = Vec::new();
    for joined in joined(value) {
        for finding in rules.scan(joined.as_bytes()) {
            if !found.contains(&finding.rule) {
                found.push(finding.rule);
            }
        }
    }
    found
}

fn redact_rules_in(rules: &RuleSet, value: &mut Value) {
    match value {
        Value::String(s) => {
            if !rules.scan(s.as_bytes()).is_empty() {
                *s = rules.redact(s);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_rules_in(rules, v)),
        Value::Object(map) => {
            // Keys are scanned too (`scan_rules`), so they are cut too.
            let keys: Vec<String> =
                map.keys().filter(|k| !rules.scan(k.as_bytes()).is_empty()).cloned().collect();
            for key in keys {
                if let Some(v) = map.remove(&key) {
                    map.insert(rules.redact(&key), v);
                }
            }
            map.values_mut().for_each(|v| redact_rules_in(rules, v));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Replaces vault secrets in every string of `value`; returns the names
/// found.
pub fn redact_value(scanner: &LeakScanner, value: &mut Value) -> Vec<String> {
    let mut found = Vec::new();
    redact_in(scanner, value, &mut found);
    found.sort();
    found.dedup();
    found
}

fn redact_in(scanner: &LeakScanner, value: &mut Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let findings = scanner.scan(s.as_bytes());
            if !findings.is_empty() {
                found.extend(findings.into_iter().map(|f| f.name));
                *s = scanner.redact(s);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_in(scanner, v, found)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let in_key = scanner.scan(key.as_bytes());
                if !in_key.is_empty()
                    && let Some(v) = map.remove(&key)
                {
                    found.extend(in_key.into_iter().map(|f| f.name));
                    map.insert(scanner.redact(&key), v);
                }
            }
            map.values_mut().for_each(|v| redact_in(scanner, v, found));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;
    use warrant_vault::SecretValue;

    /// The vault secret of the gateway's leak tests.
    pub const SECRET: &str = "s3cr3t-Value-0123456789abcdef";

    /// A scanner that knows [`SECRET`] as the credential `github`.
    pub fn scanner() -> LeakScanner {
        let secret = SecretValue::from_string(SECRET.to_owned());
        LeakScanner::new(&[("github", &secret)]).unwrap()
    }

    #[test]
    fn a_secret_is_found_raw_encoded_in_keys_and_split_across_arguments() {
        let s = scanner();
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("x{SECRET}y"));
        let (head, tail) = SECRET.split_at(11);
        for value in [
            json!({"body": SECRET}),
            json!({"nested": [{"deep": format!("prefix {SECRET} suffix")}]}),
            json!({"data": b64}),
            json!({"hex": hex::encode(SECRET)}),
            json!({"url": format!("https://x.test/?q={SECRET}")}),
            json!({SECRET: 1}),
            json!({"a": head, "b": tail}),
        ] {
            let leak = scan_value(&s, &value).unwrap_or_else(|| panic!("missed in {value}"));
            assert_eq!(leak.credentials[0].0, "github");
            assert!(!leak.describe().contains(SECRET));
        }
        assert!(scan_value(&s, &json!({"body": "nothing to see", "n": 3})).is_none());
    }

    /// A GitHub-shaped token, assembled so the repository holds none.
    fn token() -> String {
        ["gh", "p_", "1c0dQ4e9fZ2a", "7bK857aX3c6d", "M1e0fR9b2cW4d6eT"].concat()
    }

    fn token_scanner() -> LeakScanner {
        let secret = SecretValue::from_string(token());
        LeakScanner::new(&[("github", &secret)]).unwrap()
    }

    #[test]
    fn a_disguised_secret_in_the_arguments_is_blocked() {
        let s = token_scanner();
        let t = token();
        let spaced: String = t.chars().flat_map(|c| [c, ' ']).collect();
        let invisible: String = t.chars().flat_map(|c| [c, '\u{200b}']).collect();
        let entities: String = t.bytes().map(|b| format!("&#{b};")).collect();
        let (head, tail) = t.split_at(20);
        for value in [
            json!({"body": spaced}),
            json!({"body": invisible}),
            json!({"html": entities}),
            json!({"text": format!("{head}\n{tail}")}),
            json!({"a": format!("{head} "), "b": format!(" {tail}")}),
        ] {
            let leak = scan_value(&s, &value).unwrap_or_else(|| panic!("missed in {value}"));
            assert_eq!(leak.credentials[0].0, "github");
        }
    }

    #[test]
    fn pieces_of_a_secret_across_arguments_in_any_order_are_blocked() {
        let s = token_scanner();
        let t = token();
        let (head, tail) = t.split_at(22);
        let value = json!({"z": tail, "filler": "unrelated words", "a": {"x": head}});
        let leak = scan_value(&s, &json!({"first": tail, "gap": 1, "second": head}))
            .unwrap_or_else(|| panic!("missed"));
        assert_eq!(leak.credentials, [("github".to_owned(), Encoding::Fragments)]);
        assert!(scan_value(&s, &value).is_some());
    }

    #[test]
    fn fragments_spread_over_one_agents_calls_are_blocked_once_half_has_gone() {
        let s = token_scanner();
        let body: Vec<char> = token()[4..].chars().collect();
        let pieces: Vec<String> = body.chunks(8).map(|c| c.iter().collect()).collect();
        let ledger = FragmentLedger::new();
        // Each call alone carries too little to be refused.
        for piece in &pieces {
            assert!(scan_value(&s, &json!({"q": piece})).is_none());
        }
        assert!(ledger.scan_value(&s, "agent-a", &json!({"q": pieces[0]})).is_none());
        assert!(
            ledger.scan_value(&s, "agent-a", &json!({"q": format!("x {} y", pieces[3])})).is_none()
        );
        // Another agent's pieces are its own.
        assert!(ledger.scan_value(&s, "agent-b", &json!({"q": pieces[1]})).is_none());
        let leak = ledger
            .scan_value(&s, "agent-a", &json!({"q": pieces[1]}))
            .unwrap_or_else(|| panic!("the third piece went out"));
        assert_eq!(leak.credentials, [("github".to_owned(), Encoding::Fragments)]);
        assert!(!leak.describe().contains(&pieces[1]));
        assert_eq!(ledger.agents(), 2);
    }

    #[test]
    fn the_ledger_keeps_a_bounded_number_of_agents() {
        let s = token_scanner();
        let ledger = FragmentLedger::new();
        for i in 0..MAX_AGENTS + 10 {
            assert!(ledger.scan_value(&s, &format!("agent-{i}"), &json!({"q": "hello"})).is_none());
        }
        assert_eq!(ledger.agents(), MAX_AGENTS);
    }

    #[test]
    fn well_known_credentials_are_found_split_and_cut_out() {
        let rules = RuleSet::builtin().unwrap();
        // An AWS access key id, assembled here so the repository holds none.
        let key = format!("{}{}", "AKIA", "Z7QK2M4N6P8R3T5V");
        let (head, tail) = key.split_at(9);
        assert_eq!(
            scan_rules(&rules, &json!({"cmd": format!("export K={key}")})),
            ["aws-access-key-id"]
        );
        assert_eq!(scan_rules(&rules, &json!({"a": head, "b": tail})), ["aws-access-key-id"]);
        assert!(scan_rules(&rules, &json!({"cmd": "ls -la AKIA"})).is_empty());
        let mut value = json!({"cmd": format!("echo {key}")});
        redact_rules_in(&rules, &mut value);
        assert_eq!(value, json!({"cmd": "echo [REDACTED:aws-access-key-id]"}));
    }

    #[test]
    fn results_are_redacted_in_values_and_keys() {
        let s = scanner();
        let mut value = json!({"text": format!("token={SECRET}"), SECRET: [SECRET]});
        let found = redact_value(&s, &mut value);
        assert_eq!(found, ["github"]);
        let text = value.to_string();
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("[REDACTED:github]"), "{text}");
    }

    /// A field that takes only letters, digits and dashes: the cut form of
    /// a secret in it is no item of its type.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Strict {
        #[serde(deserialize_with = "code")]
        code: String,
    }

    fn code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        if s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            Ok(s)
        } else {
            Err(serde::de::Error::custom("not a code"))
        }
    }

    #[test]
    fn what_cannot_be_screened_is_unreadable_not_passed_on() {
        let scanner = scanner();
        let rules = RuleSet::builtin().unwrap();
        let screens =
            Screens { scanner: Some(&scanner), rules: &rules, well_known: Action::Redact };
        let clean = Strict { code: "ok".to_owned() };
        assert_eq!(screens.screened(&clean), Screened::Clean);
        let cut = screens.screened(&json!({"text": SECRET}));
        assert!(matches!(&cut, Screened::Cut { found, .. } if found == &["github"]), "{cut:?}");
        // The secret fits the field; its redaction marker does not.
        let holding = Strict { code: SECRET.to_owned() };
        assert_eq!(screens.screened(&holding), Screened::Unreadable);
        assert_eq!(screens.redacted(&holding), None);
    }

    #[test]
    fn a_credential_in_a_key_is_cut_and_one_split_across_values_is_withheld() {
        let scanner = scanner();
        let rules = RuleSet::builtin().unwrap();
        let screens =
            Screens { scanner: Some(&scanner), rules: &rules, well_known: Action::Redact };
        let token = token();
        // In a key: cut, like a value.
        let Screened::Cut { item, found } = screens.screened(&json!({ token.as_str(): 1 })) else {
            panic!("not cut");
        };
        assert!(!item.to_string().contains(&token), "{item}");
        assert!(!found.is_empty());
        // Split across two adjacent values: found when they are joined, but
        // neither holds it, so nothing can cut it: withheld, not passed on.
        let (head, tail) = token.split_at(12);
        let split = json!({"a": head, "b": tail});
        assert_eq!(screens.screened(&split), Screened::Unreadable);
        // And as arguments, blocked rather than sent "redacted".
        let mut exposure = Exposure::default();
        assert!(matches!(screens.outgoing_with(&mut exposure, &split), Outgoing::Block(_)));
        assert!(matches!(
            screens.outgoing_with(&mut Exposure::default(), &json!({ token.as_str(): 1 })),
            Outgoing::Redacted(cleaned, _) if !cleaned.to_string().contains(&token)
        ));
    }
}
