//! Forbids on argument values hold whatever shape the agent gives the
//! arguments: padding, decoys, nesting and colliding paths either are seen
//! whole (and the forbid matches) or make the call not allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{NOW, agent, decide, engine, ids, tool};
use serde_json::{Map, Value, json};
use warrant_policy::{
    ARGUMENTS_NOT_WHOLE_RULE, ArgumentsNotWhole, CallRequest, Decision, MAX_ARGUMENT_BYTES,
    MAX_DEPTH, MAX_TAGS, Outcome, PolicyEngine, ToolFacts,
};

/// Everything is allowed, except ssh keys named by a `path` argument or by
/// `options.path`, and whatever sits at the end of a long chain of `next`s.
fn policy() -> String {
    format!(
        r#"
        @id("allow-all")
        permit (principal, action == Action::"call_tool", resource);

        @id("no-ssh-keys") @reason("ssh keys are off limits")
        forbid (principal, action == Action::"call_tool", resource)
        when {{ context.args.hasTag("path") && context.args.getTag("path") like "*/.ssh/*" }};

        @id("no-ssh-options") @reason("ssh keys are off limits")
        forbid (principal, action == Action::"call_tool", resource)
        when {{ context.args.hasTag("options.path")
                && context.args.getTag("options.path") like "*/.ssh/*" }};

        @id("no-deep-ssh") @reason("ssh keys are off limits")
        forbid (principal, action == Action::"call_tool", resource)
        when {{ context.args.hasTag("{deep}") && context.args.getTag("{deep}") like "*/.ssh/*" }};
        "#,
        deep = deep_path(DEEP)
    )
}

/// How deep the `no-deep-ssh` rule looks: past the old 16-level bound, within
/// the gateway's default of 32.
const DEEP: usize = 20;

const KEY: &str = "/home/u/.ssh/id_rsa";

/// `next.next. … .path`, the path is at depth `levels`.
fn deep_path(levels: usize) -> String {
    let mut parts = vec!["next"; levels - 1];
    parts.push("path");
    parts.join(".")
}

/// `{"next": {"next": … {"path": value}}}`, the path at depth `levels`.
fn nested(levels: usize, value: &str) -> Value {
    let mut arguments = json!({ "path": value });
    for _ in 1..levels {
        arguments = json!({ "next": arguments });
    }
    arguments
}

fn read() -> ToolFacts {
    tool("files", "read", true, false)
}

/// A not-whole decision: denied by the engine's own rule, with a reason that
/// names what was not seen.
fn assert_not_whole(decision: &Decision, names: &str) {
    let Decision::Deny { rules, reason, .. } = decision else {
        panic!("expected a deny, got {decision:?}");
    };
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].id, ARGUMENTS_NOT_WHOLE_RULE);
    assert!(reason.contains("could not see the arguments of `files__read` whole"), "{reason}");
    assert!(reason.contains(names), "`{names}` not in: {reason}");
}

#[test]
fn a_path_padded_past_four_kibibytes_is_seen_whole_and_forbidden() {
    let engine = engine(&policy());
    let padded = format!("/home/u/{}.ssh/id_rsa", "a/".repeat(3000));
    let decision = decide(&engine, &read(), json!({ "path": padded }));
    assert_eq!(ids(&decision), ["no-ssh-keys"]);
    assert_eq!(decision.outcome(), Outcome::Deny);
}

#[test]
fn a_path_padded_past_the_byte_bound_is_not_allowed() {
    let engine = engine(&policy());
    let padded = format!("/home/u/{}.ssh/id_rsa", "a/".repeat(MAX_ARGUMENT_BYTES / 2));
    let decision = decide(&engine, &read(), json!({ "path": padded }));
    assert_not_whole(&decision, "argument `path` and those after it are past the 8 MiB bound");
}

#[test]
fn three_hundred_decoy_keys_ahead_of_the_path_do_not_hide_it() {
    let engine = engine(&policy());
    let mut arguments: Map<String, Value> =
        (0..300).map(|i| (format!("decoy{i}"), json!(i))).collect();
    arguments.insert("path".into(), json!(KEY));
    let decision = decide(&engine, &read(), Value::Object(arguments));
    assert_eq!(ids(&decision), ["no-ssh-keys"]);
}

#[test]
fn decoy_keys_past_the_tag_bound_make_the_call_not_allowed() {
    let engine = engine(&policy());
    let mut arguments: Map<String, Value> =
        (0..MAX_TAGS).map(|i| (format!("decoy{i}"), json!(i))).collect();
    arguments.insert("path".into(), json!(KEY));
    let decision = decide(&engine, &read(), Value::Object(arguments));
    assert_not_whole(&decision, "argument `path` and those after it are past the 4096-value bound");
}

#[test]
fn a_path_nested_twenty_levels_deep_is_seen_and_forbidden() {
    let engine = engine(&policy());
    let decision = decide(&engine, &read(), nested(DEEP, KEY));
    assert_eq!(ids(&decision), ["no-deep-ssh"]);
    let harmless = decide(&engine, &read(), nested(DEEP, "/home/u/notes.txt"));
    assert_eq!(harmless.outcome(), Outcome::Allow);
}

#[test]
fn nesting_past_the_depth_bound_makes_the_call_not_allowed() {
    let engine = engine(&policy());
    let decision = decide(&engine, &read(), nested(MAX_DEPTH + 1, "/home/u/notes.txt"));
    // The container's path is long: the reason quotes its start.
    assert_not_whole(&decision, "argument `next.next.next.");
    assert_not_whole(&decision, "…` nests below the 32-level bound");
}

#[test]
fn a_dotted_key_colliding_with_a_nested_one_makes_the_call_not_allowed() {
    let engine = engine(&policy());
    // The upstream reads `options.path` from the nested object; the dotted
    // key comes first and would have taken the tag.
    let arguments = json!({"options.path": "/tmp/harmless", "options": {"path": KEY}});
    let decision = decide(&engine, &read(), arguments);
    assert_not_whole(&decision, "two arguments have the path `options.path`");
}

#[test]
fn bare_scalar_arguments_are_not_allowed() {
    let engine = engine(&policy());
    let decision = decide(&engine, &read(), json!(KEY));
    assert_not_whole(&decision, "the arguments are a bare string, not an object");
}

#[test]
fn ordinary_arguments_are_unaffected_up_to_a_mebibyte_body() {
    let engine = engine(&policy());
    let small = decide(&engine, &read(), json!({"path": "/home/u/notes.txt", "limit": 20}));
    assert_eq!(ids(&small), ["allow-all"]);
    assert!(small.diagnostics().is_empty());
    let line = "a line of some file, as a tool would write it\n";
    let body = line.repeat(1024 * 1024 / line.len());
    let write = decide(&engine, &read(), json!({"path": "/home/u/notes.txt", "content": body}));
    assert_eq!(write.outcome(), Outcome::Allow);
    // 1 MiB of edits, each value held three times (the list's JSON, the
    // edit's JSON, the value itself): seen whole.
    let quarter = line.repeat(1024 * 1024 / 4 / line.len());
    let edit = json!({"old": quarter, "new": quarter});
    let edits = json!({"path": "/home/u/a.rs", "edits": [edit, edit]});
    assert_eq!(decide(&engine, &read(), edits).outcome(), Outcome::Allow);
    let ids: Vec<usize> = (0..3000).collect();
    assert_eq!(decide(&engine, &read(), json!({"ids": ids})).outcome(), Outcome::Allow);
    assert_eq!(decide(&engine, &read(), json!(null)).outcome(), Outcome::Allow);
}

#[test]
fn asking_instead_names_the_unseen_argument_and_a_forbid_on_what_was_seen_still_wins() {
    let engine = engine(&policy()).with_arguments_not_whole(ArgumentsNotWhole::Ask);
    let colliding = json!({"options.path": "/tmp/harmless", "options": {"path": KEY}});
    let decision = decide(&engine, &read(), colliding);
    let reason = decision.reason().unwrap().to_owned();
    let Decision::Ask { pending, rules, .. } = decision else { panic!("expected an ask") };
    assert_eq!(rules[0].id, ARGUMENTS_NOT_WHOLE_RULE);
    assert!(reason.contains("`options.path`"), "{reason}");
    assert_eq!(pending.ask_rules(), [ARGUMENTS_NOT_WHOLE_RULE.to_owned()]);
    let permit = pending.approve("alice");
    assert_eq!(permit.rules(), ["allow-all", ARGUMENTS_NOT_WHOLE_RULE]);

    // The key comes first and is seen: its forbid denies, nothing to ask.
    let mut seen_first = Map::new();
    seen_first.insert("path".into(), json!(KEY));
    seen_first.insert("pad".into(), json!("x".repeat(MAX_ARGUMENT_BYTES)));
    let decision = decide(&engine, &read(), Value::Object(seen_first));
    assert_eq!(ids(&decision), ["no-ssh-keys"]);
    assert_eq!(decision.outcome(), Outcome::Deny);
}

#[test]
fn an_ask_rule_and_unseen_arguments_ask_once_naming_both() {
    let engine = engine(&format!(
        r#"{}
        @id("ask-writes") @ask("writes need a person")
        forbid (principal, action == Action::"call_tool", resource) unless {{ resource.read_only }};
        "#,
        policy()
    ));
    let write = tool("files", "write", false, false);
    let colliding = json!({"options.path": "/tmp/harmless", "options": {"path": "/tmp/b"}});
    let denied = decide(&engine, &write, colliding.clone());
    assert_eq!(ids(&denied), [ARGUMENTS_NOT_WHOLE_RULE]);
    let engine = engine.with_arguments_not_whole(ArgumentsNotWhole::Ask);
    let asked = decide(&engine, &write, colliding);
    let Decision::Ask { pending, rules, .. } = asked else { panic!("expected an ask") };
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [ARGUMENTS_NOT_WHOLE_RULE, "ask-writes"]);
    assert_eq!(pending.ask_rules(), [ARGUMENTS_NOT_WHOLE_RULE.to_owned(), "ask-writes".into()]);
}

#[test]
fn a_child_with_unseen_arguments_is_refused_and_asked_about_once() {
    let lead = agent("lead");
    let helper = warrant_policy::AgentFacts {
        id: "0b8f2d4e-0000-4000-8000-000000000002".into(),
        depth: 1,
        ..agent("helper")
    };
    let arguments = nested(MAX_DEPTH + 1, "/home/u/notes.txt");
    let req = CallRequest {
        agent: &helper,
        tool: &read(),
        arguments: &arguments,
        tainted: false,
        now: NOW,
        command: None,
    };
    let deny = engine(&policy());
    let decision = deny.decide_in_custody(&req, std::slice::from_ref(&lead));
    assert_eq!(ids(&decision), [ARGUMENTS_NOT_WHOLE_RULE]);
    assert_eq!(decision.outcome(), Outcome::Deny);

    let ask = engine(&policy()).with_arguments_not_whole(ArgumentsNotWhole::Ask);
    let decision = ask.decide_in_custody(&req, std::slice::from_ref(&lead));
    assert_eq!(ids(&decision), [ARGUMENTS_NOT_WHOLE_RULE]);
    let Decision::Ask { pending, .. } = decision else { panic!("expected an ask") };
    assert_eq!(pending.ask_rules(), [ARGUMENTS_NOT_WHOLE_RULE.to_owned()]);

    // The tool is still shown: whole calls of it are allowed.
    assert!(deny.could_allow_in_custody(&helper, &[lead], &read()));
}

/// The README's and the default policy's example rule.
const NO_SSH_KEYS: &str = r#"
@id("no-ssh-keys")
@reason("ssh keys are off limits")
forbid (principal, action == Action::"call_tool", resource)
when { context.args.hasTag("path") &&
       (context.args.getTag("path") like "*.ssh" || context.args.getTag("path") like "*.ssh/*") };
"#;

#[test]
fn the_documented_no_ssh_keys_rule_covers_the_ways_to_name_the_directory() {
    let doc = PolicyEngine::new(&[
        warrant_policy::PolicySource::new("allow.cedar", "permit (principal, action, resource);"),
        warrant_policy::PolicySource::new("ssh.cedar", NO_SSH_KEYS),
    ])
    .unwrap();
    for path in [
        KEY,
        "/home/u/.ssh",
        "/home/u/.ssh/",
        ".ssh/id_ed25519",
        "~/.ssh/config",
        "/home/u//./.ssh/known_hosts",
        &format!("/home/u/{}.ssh/id_rsa", "a/".repeat(3000)),
    ] {
        let decision = decide(&doc, &read(), json!({ "path": path }));
        assert_eq!(ids(&decision), ["no-ssh-keys"], "{path}");
    }
    let fine = decide(&doc, &read(), json!({"path": "/home/u/notes.txt"}));
    assert_eq!(fine.outcome(), Outcome::Allow);
    assert!(warrant_policy::DEFAULT_POLICY.contains(
        r#"(context.args.getTag("path") like "*.ssh" || context.args.getTag("path") like "*.ssh/*")"#
    ));
}
