//! Three outcomes, forbid wins, default deny, and rules over arguments and context.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{agent, decide, decide_as, engine, ids, tool};
use serde_json::json;
use warrant_policy::{Decision, MAX_DEPTH, MAX_TAGS, Outcome};

const PERMIT_ALL: &str = r#"
@id("allow-all")
permit (principal, action == Action::"call_tool", resource);
"#;

#[test]
fn hard_forbid_beats_a_matching_permit_and_carries_its_id_and_reason() {
    let engine = engine(&format!(
        r#"{PERMIT_ALL}
        @id("no-deletes") @reason("deleting is not allowed here")
        forbid (principal, action == Action::"call_tool", resource == Tool::"files__delete");
        "#
    ));
    let decision = decide(&engine, &tool("files", "delete", false, false), json!({}));
    let Decision::Deny { rules, reason, .. } = &decision else {
        panic!("expected deny, got {decision:?}");
    };
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].id, "no-deletes");
    assert_eq!(reason, "deleting is not allowed here");
    // The same engine still allows the other tools.
    let other = decide(&engine, &tool("files", "read", true, false), json!({}));
    assert_eq!(other.outcome(), Outcome::Allow);
}

#[test]
fn hard_forbid_beats_an_ask_forbid() {
    let engine = engine(&format!(
        r#"{PERMIT_ALL}
        @id("ask") @ask("check")
        forbid (principal, action == Action::"call_tool", resource);
        @id("never")
        forbid (principal, action == Action::"call_tool", resource in Upstream::"files");
        "#
    ));
    let decision = decide(&engine, &tool("files", "delete", false, false), json!({}));
    assert_eq!(decision.outcome(), Outcome::Deny);
    assert_eq!(ids(&decision), ["never"]);
    assert_eq!(decision.reason(), Some("denied by rule `never`"));
}

#[test]
fn ask_forbid_without_any_permit_is_a_default_deny() {
    let engine = engine(
        r#"@id("ask") @ask("check") forbid (principal, action == Action::"call_tool", resource);"#,
    );
    let decision = decide(&engine, &tool("files", "delete", false, false), json!({}));
    assert_eq!(decision.outcome(), Outcome::Deny);
    assert!(decision.rules().is_empty());
}

#[test]
fn no_permit_is_a_default_deny_with_no_rules() {
    let engine = engine(
        r#"@id("only-notes") permit (principal, action == Action::"call_tool", resource in Upstream::"notes");"#,
    );
    let decision = decide(&engine, &tool("files", "read", true, false), json!({}));
    let Decision::Deny { rules, reason, .. } = &decision else {
        panic!("expected deny, got {decision:?}");
    };
    assert!(rules.is_empty());
    assert_eq!(reason, "no policy permits `files__read` for this agent");
    let notes = decide(&engine, &tool("notes", "read", true, false), json!({}));
    assert_eq!(ids(&notes), ["only-notes"]);
}

#[test]
fn path_argument_rules_match_on_the_tag() {
    let engine = engine(&format!(
        r#"{PERMIT_ALL}
        @id("no-etc") @reason("system files are off limits")
        forbid (principal, action == Action::"call_tool", resource)
        when {{ context.args.hasTag("path") && context.args.getTag("path") like "/etc/*" }};
        "#
    ));
    let read = tool("files", "read", true, false);
    let denied = decide(&engine, &read, json!({"path": "/etc/shadow"}));
    assert_eq!(ids(&denied), ["no-etc"]);
    assert_eq!(denied.reason(), Some("system files are off limits"));
    let allowed = decide(&engine, &read, json!({"path": "/home/me/notes.txt"}));
    assert_eq!(allowed.outcome(), Outcome::Allow);
    // Without the argument the guard keeps the forbid from erroring.
    let none = decide(&engine, &read, json!({}));
    assert_eq!(none.outcome(), Outcome::Allow);
    assert!(none.diagnostics().is_empty());
}

#[test]
fn nested_and_array_arguments_are_reachable_by_dotted_path() {
    let engine = engine(&format!(
        r#"{PERMIT_ALL}
        @id("no-recursive")
        forbid (principal, action == Action::"call_tool", resource)
        when {{ context.args.hasTag("options.recursive") && context.args.getTag("options.recursive") == "true" }};
        @id("no-ssh-in-list")
        forbid (principal, action == Action::"call_tool", resource)
        when {{ context.args.hasTag("paths.1") && context.args.getTag("paths.1") like "*/.ssh/*" }};
        "#
    ));
    let t = tool("files", "copy", false, true);
    let recursive = decide(&engine, &t, json!({"options": {"recursive": true}}));
    assert_eq!(ids(&recursive), ["no-recursive"]);
    let flat = decide(&engine, &t, json!({"options": {"recursive": false}}));
    assert_eq!(flat.outcome(), Outcome::Allow);
    let ssh = decide(&engine, &t, json!({"paths": ["/tmp/a", "/home/me/.ssh/id_ed25519"]}));
    assert_eq!(ids(&ssh), ["no-ssh-in-list"]);
    let harmless = decide(&engine, &t, json!({"paths": ["/home/me/.ssh/x", "/tmp/b"]}));
    assert_eq!(harmless.outcome(), Outcome::Allow);
}

#[test]
fn rules_see_the_agent_the_session_and_the_time() {
    let engine = engine(
        r#"
        @id("researcher-reads")
        permit (principal, action == Action::"call_tool", resource)
        when { principal.name == "researcher" && resource.read_only };
        @id("not-after-taint") @reason("the session read untrusted content")
        forbid (principal, action == Action::"call_tool", resource)
        when { context.tainted && resource.open_world };
        @id("before-2030")
        forbid (principal, action == Action::"call_tool", resource)
        when { context.now >= 1893456000 };
        @id("operator-chain")
        forbid (principal, action == Action::"call_tool", resource)
        unless { context.custody.contains("operator:alice") && context.task like "*notes*" };
        "#,
    );
    let read = tool("notes", "search", true, false);
    let me = agent("researcher");
    assert_eq!(decide_as(&engine, &me, &read, json!({}), false).outcome(), Outcome::Allow);
    let tainted = decide_as(&engine, &me, &read, json!({}), true);
    assert_eq!(ids(&tainted), ["not-after-taint"]);
    let stranger = decide_as(&engine, &agent("writer"), &read, json!({}), false);
    assert_eq!(stranger.outcome(), Outcome::Deny);
    assert!(stranger.rules().is_empty());
    let mut adopted = agent("researcher");
    adopted.custody = vec!["operator:mallory".into()];
    let adopted = decide_as(&engine, &adopted, &read, json!({}), false);
    assert_eq!(ids(&adopted), ["operator-chain"]);
}

#[test]
fn a_rule_that_fails_to_evaluate_does_not_match_and_is_reported() {
    let engine = engine(
        r#"
        @id("overflowing-permit")
        permit (principal, action == Action::"call_tool", resource)
        when { principal.depth * 9223372036854775807 > 0 || true };
        "#,
    );
    let mut deep = agent("researcher");
    deep.depth = 2;
    let decision =
        decide_as(&engine, &deep, &tool("notes", "search", true, false), json!({}), false);
    assert_eq!(decision.outcome(), Outcome::Deny);
    assert_eq!(decision.diagnostics().len(), 1);
    assert_eq!(decision.diagnostics()[0].rule, "overflowing-permit");
    assert!(decision.diagnostics()[0].message.contains("overflow"));
}

#[test]
fn oversized_arguments_are_flagged_to_policy_without_panicking() {
    let engine = engine(&format!(
        r#"{PERMIT_ALL}
        @id("faithful-args-only")
        forbid (principal, action == Action::"call_tool", resource) when {{ context.args_truncated }};
        "#
    ));
    let t = tool("files", "write", false, true);
    let many: serde_json::Map<String, serde_json::Value> =
        (0..=MAX_TAGS).map(|i| (format!("k{i}"), json!(i))).collect();
    let decision = decide(&engine, &t, serde_json::Value::Object(many));
    assert_eq!(ids(&decision), ["faithful-args-only"]);
    let mut deep = json!("x");
    for _ in 0..=MAX_DEPTH {
        deep = json!([deep]);
    }
    assert_eq!(ids(&decide(&engine, &t, json!({"d": deep}))), ["faithful-args-only"]);
    let small = decide(&engine, &t, json!({"content": "hello"}));
    assert_eq!(small.outcome(), Outcome::Allow);
}

#[test]
fn changed_facts_for_the_same_agent_and_tool_are_not_served_from_cache() {
    let engine = engine(
        r#"permit (principal, action == Action::"call_tool", resource)
        when { principal.name == "researcher" && resource.trusted };"#,
    );
    let mut t = tool("files", "write", false, true);
    let me = agent("researcher");
    assert_eq!(decide_as(&engine, &me, &t, json!({}), false).outcome(), Outcome::Allow);
    t.trusted = false;
    assert_eq!(decide_as(&engine, &me, &t, json!({}), false).outcome(), Outcome::Deny);
    assert!(!engine.could_allow(&me, &t));
    t.trusted = true;
    let mut renamed = me.clone();
    renamed.name = "writer".into();
    assert_eq!(decide_as(&engine, &renamed, &t, json!({}), false).outcome(), Outcome::Deny);
    assert!(engine.could_allow(&me, &t));
}

#[test]
fn commands_are_judged_by_every_program_they_would_run() {
    use warrant_policy::{CallRequest, CommandFacts, PolicyEngine, PolicySource};
    let engine = engine(&format!(
        r#"{PERMIT_ALL}
        @id("no-network-tools") @reason("no downloads from commands")
        forbid (principal, action == Action::"call_tool", resource == Tool::"warrant__exec")
        when {{ context has command && (context.command.programs.contains("curl")
                || context.command.programs.contains("wget")) }};
        @id("no-unknowable") @reason("say what you run")
        forbid (principal, action == Action::"call_tool", resource == Tool::"warrant__exec")
        when {{ context has command && (context.command.dynamic || context.command.inline_code) }};
        @id("no-rc-files")
        forbid (principal, action == Action::"call_tool", resource == Tool::"warrant__exec")
        when {{ context has command && context.command.writes.containsAny([".bashrc", "~/.bashrc"]) }};
        "#
    ));
    let exec = tool("warrant", "exec", false, false);
    let decide = |facts: CommandFacts| {
        engine.decide(&CallRequest {
            agent: &agent("coder"),
            tool: &exec,
            arguments: &json!({"command": "…"}),
            tainted: false,
            now: common::NOW,
            command: Some(&facts),
        })
    };
    let facts = |programs: &[&str]| CommandFacts {
        programs: programs.iter().map(|p| (*p).to_owned()).collect(),
        ..CommandFacts::default()
    };
    assert_eq!(decide(facts(&["ls", "grep"])).outcome(), Outcome::Allow);
    // The download hides behind a harmless first word: still found.
    assert_eq!(ids(&decide(facts(&["echo", "env", "curl"]))), ["no-network-tools"]);
    assert_eq!(ids(&decide(CommandFacts { dynamic: true, ..facts(&["ls"]) })), ["no-unknowable"]);
    assert_eq!(
        ids(&decide(CommandFacts { inline_code: true, ..facts(&["python3"]) })),
        ["no-unknowable"]
    );
    let writes = CommandFacts { writes: vec!["~/.bashrc".into()], ..facts(&["echo"]) };
    assert_eq!(ids(&decide(writes)), ["no-rc-files"]);
    // A tool call without a command is not a command: the rules hold off.
    let plain = decide_as(&engine, &agent("coder"), &exec, json!({}), false);
    assert_eq!(plain.outcome(), Outcome::Allow);
    // Reading context.command without `has` is refused by validation.
    let unguarded = PolicyEngine::new(&[PolicySource::new(
        "bad.cedar",
        r#"forbid (principal, action, resource) when { context.command.dynamic };"#,
    )]);
    assert!(unguarded.is_err());
}
