//! Decision time against policy-set size (10, 100 and 1,000 rules) and
//! against argument size (a few bytes up to the gateway's 1 MiB bound).
//!
//! The mix is what a real deployment grows into: a few common rules with
//! conditions, and many rules scoped to other tools and other upstreams.
//! Prints the median and p99 per decision, the ratio to the 10-rule case
//! measured in the same run, and for the argument shapes the outcome (an
//! argument policy could not see whole is not allowed). Figures only;
//! nothing here fails on a slow machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};
use warrant_core::UnixMillis;
use warrant_policy::{
    AgentFacts, CallRequest, DEFAULT_POLICY, Outcome, PolicyEngine, PolicySource, ToolFacts,
};

const SAMPLES: usize = 20_000;

/// The default policy, four conditioned common rules, two rules for the
/// benchmarked tool, and the rest scoped to other tools (9 in 10) or other
/// upstreams (1 in 10): the sizes differ only in rules that cannot apply.
fn policies(total: usize) -> String {
    let mut text = DEFAULT_POLICY.to_owned();
    let commons = [
        r#"forbid (principal, action == Action::"call_tool", resource) when { context.args.hasTag("path") && context.args.getTag("path") like "*/.ssh/*" };"#,
        r#"forbid (principal, action == Action::"call_tool", resource) when { context.tainted && resource.open_world && !resource.read_only };"#,
        r#"forbid (principal, action == Action::"call_tool", resource) when { principal.depth > 3 };"#,
        r#"@ask("late") forbid (principal, action == Action::"call_tool", resource) when { context.now > 4102444800 };"#,
    ];
    for (i, rule) in commons.iter().enumerate() {
        text.push_str(&format!("@id(\"common-{i}\") {rule}\n"));
    }
    text.push_str(r#"@id("own-1") permit (principal, action == Action::"call_tool", resource == Tool::"notes__search") when { principal.name == "researcher" };"#);
    text.push_str(r#"@id("own-2") forbid (principal, action == Action::"call_tool", resource == Tool::"notes__search") when { context.args.hasTag("options.recursive") && context.args.getTag("options.recursive") == "true" };"#);
    let default_rules =
        PolicyEngine::new(&[PolicySource::new("default.cedar", DEFAULT_POLICY)]).unwrap().len();
    let rest = total.saturating_sub(default_rules + commons.len() + 2);
    for i in 0..rest {
        let scope = if i % 10 == 0 {
            format!("resource in Upstream::\"up{i}\"")
        } else {
            format!("resource == Tool::\"up{}__tool{i}\"", i % 37)
        };
        text.push_str(&format!(
            "@id(\"scoped-{i}\") forbid (principal, action == Action::\"call_tool\", {scope}) when {{ context.args.hasTag(\"path\") && context.args.getTag(\"path\") like \"/srv/{i}/*\" }};\n"
        ));
    }
    text
}

fn researcher() -> AgentFacts {
    AgentFacts {
        id: "0b8f2d4e-0000-4000-8000-000000000001".into(),
        name: "researcher".into(),
        task: "summarise the notes".into(),
        spiffe_id: "spiffe://warrant.local/agent/researcher".into(),
        spawned_by: "operator:alice".into(),
        depth: 1,
        custody: vec!["operator:alice".into()],
    }
}

fn notes_search() -> ToolFacts {
    ToolFacts::from_annotations(
        "notes__search",
        "search",
        "notes",
        Some(true),
        Some(false),
        Some(true),
        Some(false),
        false,
    )
}

/// Median and p99 of `samples` decisions of one call with `arguments`, and
/// the outcome.
fn measure(
    engine: &PolicyEngine,
    arguments: &Value,
    samples: usize,
) -> (Duration, Duration, Outcome) {
    let agent = researcher();
    let tool = notes_search();
    let req = CallRequest {
        agent: &agent,
        tool: &tool,
        arguments,
        tainted: false,
        now: UnixMillis(1_767_225_600_000),
        command: None,
    };
    for _ in 0..(samples / 10).max(1) {
        black_box(engine.decide(black_box(&req)));
    }
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            black_box(engine.decide(black_box(&req)));
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    (times[samples / 2], times[samples * 99 / 100], engine.decide(&req).outcome())
}

/// Argument shapes from an ordinary call up to the gateway's default bounds
/// (1 MiB of arguments), with how many decisions to time for each.
fn argument_shapes() -> Vec<(&'static str, Value, usize)> {
    let text = |bytes: usize| "a line of some file, as a tool would write it\n".repeat(bytes / 46);
    let edit = json!({"old": text(32 * 1024), "new": text(32 * 1024)});
    vec![
        ("3 small arguments", small_arguments(), SAMPLES),
        (
            "write of 64 KiB",
            json!({"path": "/home/me/notes/a.md", "content": text(64 * 1024)}),
            2_000,
        ),
        (
            "write of 1 MiB",
            json!({"path": "/home/me/notes/a.md", "content": text(1024 * 1024)}),
            200,
        ),
        (
            "300 keys",
            Value::Object(
                (0..300).map(|i| (format!("key{i}"), json!(format!("value {i}")))).collect(),
            ),
            2_000,
        ),
        ("3,000 array items", json!({"ids": (0..3_000).collect::<Vec<_>>()}), 500),
        ("8 edits of 64 KiB", json!({"path": "/home/me/a.rs", "edits": vec![edit; 8]}), 200),
    ]
}

fn small_arguments() -> Value {
    json!({"query": "quarterly plan", "path": "/home/me/notes", "options": {"recursive": false, "limit": 20}})
}

fn main() {
    let mut baseline = None;
    println!("policies  median_us  p99_us  median_ratio_vs_10");
    for total in [10, 100, 1_000] {
        let engine =
            PolicyEngine::new(&[PolicySource::new("bench.cedar", policies(total))]).unwrap();
        assert_eq!(engine.len(), total);
        let (median, p99, _) = measure(&engine, &small_arguments(), SAMPLES);
        let base = *baseline.get_or_insert(median);
        println!(
            "{total:>8}  {:>9.2}  {:>6.2}  {:>18.2}",
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            median.as_secs_f64() / base.as_secs_f64()
        );
    }

    println!();
    println!("arguments (100 policies)  bytes     median_us  p99_us  outcome");
    let engine = PolicyEngine::new(&[PolicySource::new("bench.cedar", policies(100))]).unwrap();
    for (name, arguments, samples) in argument_shapes() {
        let bytes = serde_json::to_vec(&arguments).unwrap().len();
        let (median, p99, outcome) = measure(&engine, &arguments, samples);
        println!(
            "{name:<24}  {bytes:>8}  {:>9.2}  {:>6.2}  {outcome}",
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
        );
    }
}
