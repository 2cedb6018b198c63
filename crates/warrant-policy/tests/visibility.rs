//! `could_allow`: which tools an agent is shown in `tools/list`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{agent, engine, tool};

#[test]
fn tool_is_hidden_when_only_other_tools_are_permitted() {
    let engine = engine(
        r#"
        @id("search-only") permit (principal, action == Action::"call_tool", resource == Tool::"notes__search");
        @id("files-upstream") permit (principal, action == Action::"call_tool", resource in Upstream::"files");
        "#,
    );
    let me = agent("researcher");
    assert!(engine.could_allow(&me, &tool("notes", "search", true, false)));
    assert!(engine.could_allow(&me, &tool("files", "anything", false, false)));
    assert!(!engine.could_allow(&me, &tool("notes", "delete", false, false)));
    assert!(!engine.could_allow(&me, &tool("mail", "send", false, false)));
}

#[test]
fn tool_is_hidden_by_an_unconditional_hard_forbid() {
    let engine = engine(
        r#"
        permit (principal, action == Action::"call_tool", resource);
        @id("no-mail") forbid (principal, action == Action::"call_tool", resource in Upstream::"mail");
        "#,
    );
    let me = agent("researcher");
    assert!(!engine.could_allow(&me, &tool("mail", "send", false, false)));
    assert!(engine.could_allow(&me, &tool("notes", "search", true, false)));
}

#[test]
fn tool_is_hidden_by_a_forbid_on_agent_facts_alone() {
    let engine = engine(
        r#"
        permit (principal, action == Action::"call_tool", resource);
        forbid (principal, action == Action::"call_tool", resource) when { principal.name == "intern" && !resource.read_only };
        "#,
    );
    let write = tool("files", "write", false, false);
    assert!(!engine.could_allow(&agent("intern"), &write));
    assert!(engine.could_allow(&agent("researcher"), &write));
}

#[test]
fn tool_is_visible_when_a_permit_depends_on_arguments() {
    let engine = engine(
        r#"
        @id("tmp-only") permit (principal, action == Action::"call_tool", resource == Tool::"files__write")
        when { context.args.hasTag("path") && context.args.getTag("path") like "/tmp/*" };
        "#,
    );
    assert!(engine.could_allow(&agent("researcher"), &tool("files", "write", false, false)));
}

#[test]
fn tool_stays_visible_when_a_forbid_depends_on_context_or_asks() {
    let engine = engine(
        r#"
        permit (principal, action == Action::"call_tool", resource);
        forbid (principal, action == Action::"call_tool", resource) when { context.tainted };
        @ask("sure?") forbid (principal, action == Action::"call_tool", resource);
        "#,
    );
    assert!(engine.could_allow(&agent("researcher"), &tool("mail", "send", false, false)));
}

#[test]
fn tool_is_hidden_when_the_only_permit_cannot_hold_for_this_agent() {
    let engine = engine(
        r#"
        permit (principal, action == Action::"call_tool", resource)
        when { principal.name == "admin" && context.args.hasTag("x") };
        "#,
    );
    let t = tool("files", "write", false, false);
    assert!(!engine.could_allow(&agent("researcher"), &t));
    assert!(engine.could_allow(&agent("admin"), &t));
}
