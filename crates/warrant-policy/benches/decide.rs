//! Decision time against policy-set size: 10, 100 and 1,000 rules.
//!
//! The mix is what a real deployment grows into: a few common rules with
//! conditions, and many rules scoped to other tools and other upstreams.
//! Prints the median and p99 per decision, and the ratio to the 10-rule case
//! measured in the same run. Figures only; nothing here fails on a slow machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};
use warrant_core::UnixMillis;
use warrant_policy::{
    AgentFacts, CallRequest, DEFAULT_POLICY, PolicyEngine, PolicySource, ToolFacts,
};

const SAMPLES: usize = 20_000;
const WARM_UP: usize = 2_000;

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
    let rest = total.saturating_sub(2 + commons.len() + 2);
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

fn measure(engine: &PolicyEngine) -> (Duration, Duration) {
    let agent = AgentFacts {
        id: "0b8f2d4e-0000-4000-8000-000000000001".into(),
        name: "researcher".into(),
        task: "summarise the notes".into(),
        spiffe_id: "spiffe://warrant.local/agent/researcher".into(),
        spawned_by: "operator:alice".into(),
        depth: 1,
        custody: vec!["operator:alice".into()],
    };
    let tool = ToolFacts::from_annotations(
        "notes__search",
        "search",
        "notes",
        Some(true),
        Some(false),
        Some(true),
        Some(false),
        false,
    );
    let arguments = json!({"query": "quarterly plan", "path": "/home/me/notes", "options": {"recursive": false, "limit": 20}});
    let req = CallRequest {
        agent: &agent,
        tool: &tool,
        arguments: &arguments,
        tainted: false,
        now: UnixMillis(1_767_225_600_000),
        command: None,
    };
    for _ in 0..WARM_UP {
        black_box(engine.decide(black_box(&req)));
    }
    let mut times: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            black_box(engine.decide(black_box(&req)));
            start.elapsed()
        })
        .collect();
    times.sort_unstable();
    (times[SAMPLES / 2], times[SAMPLES * 99 / 100])
}

fn main() {
    let mut baseline = None;
    println!("policies  median_us  p99_us  median_ratio_vs_10");
    for total in [10, 100, 1_000] {
        let engine =
            PolicyEngine::new(&[PolicySource::new("bench.cedar", policies(total))]).unwrap();
        assert_eq!(engine.len(), total);
        let (median, p99) = measure(&engine);
        let base = *baseline.get_or_insert(median);
        println!(
            "{total:>8}  {:>9.2}  {:>6.2}  {:>18.2}",
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            median.as_secs_f64() / base.as_secs_f64()
        );
    }
}
