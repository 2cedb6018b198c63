//! Slicing rules by resource scope must never change a decision.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{agent, decide, decide_as, engine, ids, tool};
use serde_json::json;
use warrant_policy::{DEFAULT_POLICY, Decision, Outcome};

/// splitmix64: a tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
}

const CONDITIONS: &[&str] = &[
    "true",
    "resource.read_only",
    "!resource.trusted",
    "context.tainted",
    "principal.name == \"researcher\"",
    "principal.depth > 0",
    "context.args.hasTag(\"path\") && context.args.getTag(\"path\") like \"/etc/*\"",
];

/// The same random rules twice: once scoped (sliced into tool and upstream
/// buckets), once with the scope moved into the condition (all common).
fn random_rules(rng: &mut Rng, count: usize) -> (String, String) {
    let (mut scoped, mut unscoped) = (String::new(), String::new());
    for i in 0..count {
        let (effect, annotations) = match rng.below(3) {
            0 => ("permit", String::new()),
            1 => ("forbid", String::new()),
            _ => ("forbid", "@ask(\"check\") ".to_owned()),
        };
        let condition = rng.pick(CONDITIONS);
        let (scope, test) = match rng.below(3) {
            0 => {
                let name = format!("u{}__t{}", rng.below(3), rng.below(4));
                (format!("resource == Tool::\"{name}\""), format!("resource == Tool::\"{name}\""))
            }
            1 => {
                let up = format!("u{}", rng.below(3));
                (
                    format!("resource in Upstream::\"{up}\""),
                    format!("resource in Upstream::\"{up}\""),
                )
            }
            _ => ("resource".to_owned(), "true".to_owned()),
        };
        let head = format!(
            "@id(\"r{i}\") {annotations}{effect} (principal, action == Action::\"call_tool\", "
        );
        scoped.push_str(&format!("{head}{scope}) when {{ {condition} }};\n"));
        unscoped.push_str(&format!("{head}resource) when {{ {test} && ({condition}) }};\n"));
    }
    (scoped, unscoped)
}

fn summary(decision: &Decision) -> (Outcome, Vec<String>) {
    (decision.outcome(), ids(decision).into_iter().map(str::to_owned).collect())
}

#[test]
fn sliced_decisions_equal_unsliced_decisions_on_random_cases() {
    let mut rng = Rng(0x5EED);
    let mut outcomes = std::collections::HashSet::new();
    for _ in 0..8 {
        let (scoped, unscoped) = random_rules(&mut rng, 40);
        let (sliced, full) = (engine(&scoped), engine(&unscoped));
        for _ in 0..60 {
            let t = tool(
                &format!("u{}", rng.below(3)),
                &format!("t{}", rng.below(4)),
                rng.coin(),
                rng.coin(),
            );
            let mut who = agent(rng.pick(&["researcher", "writer"]));
            who.depth = rng.below(2) as i64;
            let args = json!({"path": rng.pick(&["/etc/passwd", "/tmp/x"])});
            let tainted = rng.coin();
            let a = decide_as(&sliced, &who, &t, args.clone(), tainted);
            let b = decide_as(&full, &who, &t, args, tainted);
            assert_eq!(summary(&a), summary(&b), "tool {}\n{scoped}", t.name);
            assert_eq!(sliced.could_allow(&who, &t), full.could_allow(&who, &t));
            outcomes.insert(a.outcome());
        }
    }
    // The cases exercised all three outcomes, so the comparison meant something.
    assert_eq!(outcomes.len(), 3);
}

#[test]
fn a_thousand_unrelated_tool_rules_do_not_change_the_decision() {
    let mut text = DEFAULT_POLICY.to_owned();
    for i in 0..1000 {
        text.push_str(&format!(
            "@id(\"other-{i}\") forbid (principal, action == Action::\"call_tool\", resource == Tool::\"other{i}__tool\");\n"
        ));
    }
    let (big, small) = (engine(&text), engine(DEFAULT_POLICY));
    assert_eq!(big.len(), small.len() + 1000);
    for t in [
        tool("notes", "search", true, false),
        tool("files", "delete", false, false),
        tool("files", "delete", false, true),
    ] {
        let (a, b) = (decide(&big, &t, json!({})), decide(&small, &t, json!({})));
        assert_eq!(summary(&a), summary(&b));
    }
    // The scoped rules still apply to their own tools.
    let own = decide(&big, &tool("other7", "tool", true, false), json!({}));
    assert_eq!(ids(&own), ["other-7"]);
}
