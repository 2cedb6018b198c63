//! A child's effective rights are its own policy intersected with its
//! ancestors': it never does what an ancestor could not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{NOW, agent, engine, tool};
use serde_json::json;
use warrant_policy::{AgentFacts, CallRequest, Decision, Outcome, PolicyEngine, ToolFacts};

/// The lead may read and search; anyone named `helper` may do anything.
const POLICY: &str = r#"
@id("lead-reads")
permit (principal, action == Action::"call_tool", resource)
when { principal.name == "lead" && resource.read_only };

@id("helper-anything")
permit (principal, action == Action::"call_tool", resource)
when { principal.name == "helper" };

@id("lead-asks-for-search") @ask("the lead's searches need a person")
forbid (principal, action == Action::"call_tool", resource == Tool::"web__search")
when { principal.name == "lead" };

@id("no-secrets") @reason("secrets are off limits")
forbid (principal, action == Action::"call_tool", resource)
when { principal.name == "lead" && context.args.hasTag("path")
       && context.args.getTag("path") like "*secret*" };
"#;

fn child(name: &str, parent: &AgentFacts) -> AgentFacts {
    AgentFacts {
        id: "0b8f2d4e-0000-4000-8000-000000000002".into(),
        name: name.into(),
        depth: parent.depth + 1,
        spawned_by: parent.spiffe_id.clone(),
        ..agent(name)
    }
}

fn decide(
    engine: &PolicyEngine,
    who: &AgentFacts,
    ancestors: &[AgentFacts],
    tool: &ToolFacts,
    args: serde_json::Value,
) -> Decision {
    let req =
        CallRequest { agent: who, tool, arguments: &args, tainted: false, now: NOW, command: None };
    engine.decide_in_custody(&req, ancestors)
}

#[test]
fn a_child_is_denied_what_its_parent_could_not_do_even_when_its_own_policy_permits() {
    let engine = engine(POLICY);
    let lead = agent("lead");
    let helper = child("helper", &lead);
    let write = tool("fs", "write", false, false);

    // On its own, `helper` may write ...
    let alone = decide(&engine, &helper, &[], &write, json!({}));
    assert_eq!(alone.outcome(), Outcome::Allow);
    // ... but not as the lead's child: the lead may only read.
    let as_child = decide(&engine, &helper, std::slice::from_ref(&lead), &write, json!({}));
    let Decision::Deny { reason, .. } = &as_child else { panic!("{as_child:?}") };
    assert!(reason.contains("ancestor `lead`"), "{reason}");
    assert!(!engine.could_allow_in_custody(&helper, std::slice::from_ref(&lead), &write));
    assert!(engine.could_allow(&helper, &write));

    // What both may do is allowed.
    let read = tool("fs", "read", true, false);
    assert_eq!(
        decide(&engine, &helper, std::slice::from_ref(&lead), &read, json!({})).outcome(),
        Outcome::Allow
    );
    assert!(engine.could_allow_in_custody(&helper, &[lead], &read));
}

#[test]
fn an_ancestors_forbid_on_arguments_applies_to_the_child() {
    let engine = engine(POLICY);
    let lead = agent("lead");
    let helper = child("helper", &lead);
    let read = tool("fs", "read", true, false);
    let ok =
        decide(&engine, &helper, std::slice::from_ref(&lead), &read, json!({"path": "notes.txt"}));
    assert_eq!(ok.outcome(), Outcome::Allow);
    let secret = decide(&engine, &helper, &[lead], &read, json!({"path": "/home/secret.txt"}));
    let Decision::Deny { rules, .. } = &secret else { panic!("{secret:?}") };
    assert_eq!(rules[0].id, "no-secrets");
}

#[test]
fn an_ancestors_ask_makes_the_childs_call_wait_for_a_person() {
    let engine = engine(POLICY);
    let lead = agent("lead");
    let helper = child("helper", &lead);
    let search = tool("web", "search", true, false);
    let decision = decide(&engine, &helper, &[lead], &search, json!({"q": "x"}));
    let Decision::Ask { pending, rules, .. } = decision else { panic!("expected ask") };
    assert_eq!(rules[0].id, "lead-asks-for-search");
    assert_eq!(pending.ask_rules(), ["lead-asks-for-search".to_owned()]);
    let permit = pending.approve("alice");
    assert_eq!(permit.tool(), "web__search");
    assert_eq!(permit.agent(), helper.id);
    assert!(permit.rules().contains(&"helper-anything".to_owned()));
}

#[test]
fn the_childs_own_deny_comes_first_and_every_generation_counts() {
    let engine = engine(POLICY);
    let lead = agent("lead");
    let helper = child("helper", &lead);
    // A grandchild named `lead` (so its own policy is the lead's), under a
    // helper under the lead: each generation's rules hold.
    let grandchild = child("lead", &helper);
    let write = tool("fs", "write", false, false);
    let decision = decide(&engine, &grandchild, &[lead.clone(), helper.clone()], &write, json!({}));
    let Decision::Deny { reason, .. } = &decision else { panic!("{decision:?}") };
    assert!(!reason.contains("ancestor"), "its own policy denies first: {reason}");
    // A stranger (no permit) under the lead is denied by default.
    let stranger = child("stranger", &lead);
    let read = tool("fs", "read", true, false);
    assert_eq!(decide(&engine, &stranger, &[lead], &read, json!({})).outcome(), Outcome::Deny);
}

/// Connections: `helper` may reach anything; the lead only docs.example,
/// and it asks a person about uploads.example.
const CONNECT_POLICY: &str = r#"
@id("helper-reaches-anything")
permit (principal, action == Action::"connect", resource)
when { principal.name == "helper" };

@id("lead-reaches-docs")
permit (principal, action == Action::"connect", resource)
when { principal.name == "lead" && (resource.name == "docs.example" || resource.name == "uploads.example") };

@id("uploads-ask") @ask("uploads leave the machine")
forbid (principal, action == Action::"connect", resource)
when { principal.name == "lead" && resource.name == "uploads.example" };
"#;

fn connect(
    engine: &PolicyEngine,
    who: &AgentFacts,
    ancestors: &[AgentFacts],
    host: &str,
) -> Decision {
    let req = warrant_policy::ConnectRequest {
        agent: who,
        host,
        port: 443,
        method: "POST",
        declared: false,
        now: NOW,
    };
    engine.decide_connect_in_custody(&req, ancestors)
}

#[test]
fn a_child_reaches_no_host_its_parent_could_not_and_a_parents_ask_is_asked() {
    let engine = engine(CONNECT_POLICY);
    let lead = agent("lead");
    let helper = child("helper", &lead);

    // On its own, `helper` reaches anything.
    assert_eq!(connect(&engine, &helper, &[], "evil.example").outcome(), Outcome::Allow);
    // As the lead's child it reaches only what the lead may: the lead's
    // default deny refuses, naming the ancestor.
    let refused = connect(&engine, &helper, std::slice::from_ref(&lead), "evil.example");
    assert_eq!(refused.outcome(), Outcome::Deny);
    assert!(refused.reason().unwrap_or_default().contains("ancestor `lead`"), "{refused:?}");
    assert_eq!(
        connect(&engine, &helper, std::slice::from_ref(&lead), "docs.example").outcome(),
        Outcome::Allow
    );
    // The lead's ask holds for its child: a person is asked, by the lead's rule.
    let asked = connect(&engine, &helper, std::slice::from_ref(&lead), "uploads.example");
    assert_eq!(asked.outcome(), Outcome::Ask);
    assert!(asked.rules().iter().any(|r| r.id == "uploads-ask"), "{asked:?}");
    // The lead itself is asked too; and its own deny is never widened.
    assert_eq!(connect(&engine, &lead, &[], "uploads.example").outcome(), Outcome::Ask);
    assert_eq!(connect(&engine, &lead, &[], "evil.example").outcome(), Outcome::Deny);
}
