//! The shipped default policy: read-only and trusted tools flow, the rest asks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{NOW, agent, decide, ids, tool};
use serde_json::json;
use warrant_policy::{
    ConnectRequest, CredentialRequest, DEFAULT_POLICY, Decision, Outcome, PolicyEngine,
    PolicySource,
};

fn default_engine() -> PolicyEngine {
    PolicyEngine::new(&[PolicySource::new("default.cedar", DEFAULT_POLICY)]).unwrap()
}

#[test]
fn default_policy_validates_and_has_its_four_rules() {
    let engine = default_engine();
    assert_eq!(
        engine.rule_ids(),
        [
            "allow-known-tools",
            "ask-before-side-effects",
            "allow-declared-hosts",
            "allow-bound-credentials"
        ]
    );
    assert!(engine.warnings().is_empty(), "{:?}", engine.warnings());
}

#[test]
fn read_only_tool_is_allowed_by_the_known_tools_rule() {
    let decision = decide(&default_engine(), &tool("notes", "search", true, false), json!({}));
    assert_eq!(decision.outcome(), Outcome::Allow);
    assert_eq!(ids(&decision), ["allow-known-tools"]);
    let Decision::Allow { permit, .. } = decision else {
        panic!("expected allow");
    };
    assert_eq!(permit.tool(), "notes__search");
    assert_eq!(permit.rules(), ["allow-known-tools".to_string()]);
    assert_eq!(permit.approver(), None);
}

#[test]
fn destructive_tool_of_an_untrusted_upstream_asks_with_the_rule_text() {
    let decision = decide(&default_engine(), &tool("files", "delete", false, false), json!({}));
    assert_eq!(decision.outcome(), Outcome::Ask);
    assert_eq!(ids(&decision), ["ask-before-side-effects"]);
    let rule = &decision.rules()[0];
    assert_eq!(
        rule.ask.as_deref(),
        Some("this tool may write, delete or send; a person must approve")
    );
    assert!(rule.reason.as_deref().unwrap().contains("a person must approve"));
    assert_eq!(decision.reason(), rule.reason.as_deref());
}

#[test]
fn destructive_tool_of_a_trusted_upstream_is_allowed() {
    let decision = decide(&default_engine(), &tool("files", "delete", false, true), json!({}));
    assert_eq!(decision.outcome(), Outcome::Allow);
    assert_eq!(ids(&decision), ["allow-known-tools"]);
}

#[test]
fn approving_a_pending_call_yields_a_permit_naming_the_approver() {
    let decision = decide(&default_engine(), &tool("files", "delete", false, false), json!({}));
    let Decision::Ask { pending, .. } = decision else {
        panic!("expected ask");
    };
    assert_eq!(pending.ask_rules(), ["ask-before-side-effects".to_string()]);
    assert_eq!(pending.agent(), agent("researcher").id);
    let permit = pending.approve("alice");
    assert_eq!(permit.tool(), "files__delete");
    assert_eq!(permit.approver(), Some("alice"));
    assert_eq!(
        permit.rules(),
        ["allow-known-tools".to_string(), "ask-before-side-effects".to_string()]
    );
}

#[test]
fn every_tool_is_visible_under_the_default_policy() {
    let engine = default_engine();
    let a = agent("researcher");
    assert!(engine.could_allow(&a, &tool("notes", "search", true, false)));
    assert!(engine.could_allow(&a, &tool("files", "delete", false, false)));
}

fn connect(engine: &PolicyEngine, host: &str, declared: bool) -> Decision {
    engine.decide_connect(&ConnectRequest {
        agent: &agent("coder"),
        host,
        port: 443,
        method: "CONNECT",
        declared,
        now: NOW,
    })
}

#[test]
fn a_run_reaches_only_the_hosts_it_declared() {
    let engine = default_engine();
    let declared = connect(&engine, "crates.io", true);
    assert_eq!(ids(&declared), ["allow-declared-hosts"]);
    let Decision::Allow { permit, .. } = declared else { panic!("expected allow") };
    assert_eq!(permit.tool(), "crates.io:443");
    // Undeclared: default deny, with the hint the permit's reason gives.
    let undeclared = connect(&engine, "evil.example", false);
    let Decision::Deny { rules, reason, .. } = &undeclared else { panic!("{undeclared:?}") };
    assert!(rules.is_empty(), "default deny");
    assert!(reason.contains("evil.example"), "{reason}");
}

#[test]
fn tool_rules_do_not_open_the_network_and_host_forbids_win() {
    // `allow-known-tools` permits every tool call; it says nothing about
    // connections, so it must not allow one.
    let engine = PolicyEngine::new(&[PolicySource::new(
        "p.cedar",
        r#"@id("all-tools") permit (principal, action == Action::"call_tool", resource);
           @id("declared") permit (principal, action == Action::"connect", resource) when { context.declared };
           @id("no-paste") @reason("paste sites are off limits")
           forbid (principal, action == Action::"connect", resource) when { resource.name like "*pastebin.com" };"#,
    )])
    .unwrap();
    assert_eq!(connect(&engine, "api.github.com", false).outcome(), Outcome::Deny);
    let pasted = connect(&engine, "pastebin.com", true);
    let Decision::Deny { rules, reason, .. } = &pasted else { panic!("{pasted:?}") };
    assert_eq!(rules[0].id, "no-paste");
    assert_eq!(reason, "paste sites are off limits");
    // And a tool call is still decided by tool rules alone.
    let call = decide(&engine, &tool("notes", "search", true, false), json!({}));
    assert_eq!(ids(&call), ["all-tools"]);
}

fn use_credential(
    engine: &PolicyEngine,
    agent: &warrant_policy::AgentFacts,
    ancestors: &[warrant_policy::AgentFacts],
    host: &str,
    bound: bool,
) -> Decision {
    let hosts = ["api.github.com".to_owned()];
    engine.decide_credential(
        &CredentialRequest {
            agent,
            credential: "github",
            hosts: &hosts,
            via: "http_request",
            tool: "warrant__http_request",
            host,
            bound,
            now: NOW,
        },
        ancestors,
    )
}

#[test]
fn a_credential_is_used_only_where_it_is_bound() {
    let engine = default_engine();
    let coder = agent("coder");
    let bound = use_credential(&engine, &coder, &[], "api.github.com", true);
    assert_eq!(ids(&bound), ["allow-bound-credentials"]);
    let elsewhere = use_credential(&engine, &coder, &[], "evil.example", false);
    let Decision::Deny { rules, reason, .. } = &elsewhere else { panic!("{elsewhere:?}") };
    assert!(rules.is_empty(), "default deny");
    assert!(reason.contains("github"), "{reason}");
}

#[test]
fn credential_rules_see_the_credential_and_an_ancestor_can_forbid() {
    let engine = PolicyEngine::new(&[PolicySource::new(
        "p.cedar",
        r#"@id("bound") permit (principal, action == Action::"use_credential", resource) when { context.bound };
           @id("not-for-reviewers") @reason("reviewers do not push")
           forbid (principal, action == Action::"use_credential", resource == Credential::"github")
           when { principal.name == "reviewer" && resource.hosts.contains(context.host) };
           @id("ask-for-tokens") @ask("a person approves token use")
           forbid (principal, action == Action::"use_credential", resource)
           when { principal.name == "asker" };"#,
    )])
    .unwrap();
    let coder = agent("coder");
    assert_eq!(
        use_credential(&engine, &coder, &[], "api.github.com", true).outcome(),
        Outcome::Allow
    );
    // The child is fine on its own, but its ancestor is forbidden: strictest wins.
    let reviewer = agent("reviewer");
    let child =
        use_credential(&engine, &coder, std::slice::from_ref(&reviewer), "api.github.com", true);
    let Decision::Deny { rules, reason, .. } = &child else { panic!("{child:?}") };
    assert_eq!(rules[0].id, "not-for-reviewers");
    assert!(reason.contains("ancestor `reviewer`"), "{reason}");
    let own = use_credential(&engine, &reviewer, &[], "api.github.com", true);
    assert_eq!(ids(&own), ["not-for-reviewers"]);
    // An ask rule cannot be honoured in the middle of a request: it denies.
    let asked = use_credential(&engine, &agent("asker"), &[], "api.github.com", true);
    let Decision::Deny { reason, .. } = &asked else { panic!("{asked:?}") };
    assert!(reason.contains("approval"), "{reason}");
}
