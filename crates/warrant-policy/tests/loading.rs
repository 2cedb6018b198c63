//! Loading: every problem is named with its file, on one line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use warrant_policy::{PolicyEngine, PolicySource, Problem};

fn load(files: &[(&str, &str)]) -> Result<PolicyEngine, warrant_policy::PolicyError> {
    let sources: Vec<PolicySource> =
        files.iter().map(|(name, text)| PolicySource::new(*name, *text)).collect();
    PolicyEngine::new(&sources)
}

fn only_problem(files: &[(&str, &str)]) -> Problem {
    let err = load(files).unwrap_err();
    assert_eq!(err.problems().len(), 1, "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
    eprintln!("{err}");
    err.problems()[0].clone()
}

#[test]
fn unknown_attribute_is_an_error_naming_the_file_line_and_rule() {
    let text = "\n\n@id(\"typo\")\npermit (principal, action == Action::\"call_tool\", resource)\nwhen { resource.readonly };\n";
    let problem = only_problem(&[("typo.cedar", text)]);
    let Problem::Invalid { file, line, rule, message } = &problem else {
        panic!("expected invalid, got {problem}");
    };
    assert_eq!(file, "typo.cedar");
    assert_eq!(*line, Some(5));
    assert_eq!(rule, "typo");
    assert!(message.contains("readonly"), "{message}");
    assert!(problem.to_string().starts_with("`typo.cedar`:5: rule `typo`: "));
}

#[test]
fn type_error_is_an_error_naming_the_file() {
    let text = r#"permit (principal, action == Action::"call_tool", resource) when { principal.depth == "deep" };"#;
    let problem = only_problem(&[("types.cedar", text)]);
    let Problem::Invalid { file, rule, .. } = &problem else {
        panic!("expected invalid, got {problem}");
    };
    assert_eq!(file, "types.cedar");
    assert_eq!(rule, "types.cedar:0");
}

#[test]
fn unguarded_get_tag_is_refused_by_strict_validation() {
    let text = r#"forbid (principal, action == Action::"call_tool", resource) when { context.args.getTag("path") like "/etc/*" };"#;
    let problem = only_problem(&[("tags.cedar", text)]);
    assert!(matches!(problem, Problem::Invalid { .. }), "{problem}");
}

#[test]
fn syntax_error_names_the_file_and_line() {
    let text = "@id(\"ok\")\npermit (principal, action, resource);\n\npermit (principal action, resource);\n";
    let problem = only_problem(&[("broken.cedar", text)]);
    let Problem::Syntax { file, line, .. } = &problem else {
        panic!("expected syntax, got {problem}");
    };
    assert_eq!(file, "broken.cedar");
    assert_eq!(*line, Some(4));
}

#[test]
fn duplicate_ids_across_files_name_both_files() {
    let rule = r#"@id("same") permit (principal, action == Action::"call_tool", resource);"#;
    let err = load(&[("a.cedar", rule), ("b.cedar", rule)]).unwrap_err();
    assert_eq!(
        err.problems(),
        [Problem::DuplicateId {
            id: "same".into(),
            first: "a.cedar".into(),
            second: "b.cedar".into()
        }]
    );
    assert_eq!(err.to_string(), "duplicate rule id `same` in `a.cedar` and `b.cedar`");
}

#[test]
fn ask_on_a_permit_is_an_error() {
    let text = r#"@id("confused") @ask("why") permit (principal, action == Action::"call_tool", resource);"#;
    let err = load(&[("ask.cedar", text)]).unwrap_err();
    assert!(matches!(
        &err.problems()[0],
        Problem::AskOnPermit { file, rule, .. } if file == "ask.cedar" && rule == "confused"
    ));
}

#[test]
fn templates_are_refused() {
    let text = r#"permit (principal == ?principal, action == Action::"call_tool", resource);"#;
    let err = load(&[("tpl.cedar", text)]).unwrap_err();
    assert!(matches!(&err.problems()[0], Problem::Template { file, .. } if file == "tpl.cedar"));
}

#[test]
fn every_problem_in_every_file_is_reported() {
    let err = load(&[
        ("one.cedar", "permit (principal,"),
        ("two.cedar", r#"@ask("x") permit (principal, action, resource);"#),
    ])
    .unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    assert_eq!(err.to_string().lines().count(), 2);
    assert!(err.to_string().contains("`one.cedar`"));
    assert!(err.to_string().contains("`two.cedar`"));
}

#[test]
fn rules_without_id_are_named_by_file_and_index_in_order() {
    let text = r#"
        permit (principal, action == Action::"call_tool", resource);
        @id("named") forbid (principal, action == Action::"call_tool", resource) when { context.tainted };
        permit (principal, action == Action::"call_tool", resource) when { resource.read_only };
    "#;
    let engine = load(&[("p.cedar", text), ("q.cedar", "")]).unwrap();
    assert_eq!(engine.rule_ids(), ["p.cedar:0", "named", "p.cedar:2"]);
    assert_eq!(engine.len(), 3);
}

#[test]
fn an_empty_id_is_refused() {
    let text = r#"@id("") permit (principal, action == Action::"call_tool", resource);"#;
    let err = load(&[("e.cedar", text)]).unwrap_err();
    assert!(matches!(&err.problems()[0], Problem::Annotation { .. }), "{err}");
}
