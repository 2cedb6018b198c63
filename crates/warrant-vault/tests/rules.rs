#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod corpus;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use corpus::Rng;
use std::collections::BTreeSet;
use warrant_vault::rules::{Action, BUILTIN_RULES, RuleSet, Severity};

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &str = "0123456789abcdef";

/// A fake credential and the texts it is embedded in. Tokens are assembled
/// from pieces at test time, so the repository holds no string that looks
/// like a live one (and push protection has nothing to flag).
struct Positive {
    rule: &'static str,
    token: String,
    contexts: Vec<String>,
}

fn everyday(token: &str) -> Vec<String> {
    vec![
        format!("{{\"token\": \"{token}\", \"id\": 42}}"),
        format!("https://api.example.com/v1/items?api_key={token}&limit=10"),
        format!("curl -sS -H \"Authorization: Bearer {token}\" https://api.example.com/v1/me"),
        format!("export SERVICE_TOKEN={token}\nmake deploy\n"),
        format!("service:\n  token: {token}\n  retries: 3\n"),
    ]
}

fn positive(rule: &'static str, token: String) -> Positive {
    let contexts = everyday(&token);
    Positive { rule, token, contexts }
}

fn pem(rng: &mut Rng, kind: &str, headers: &str, newline: &str) -> String {
    let body = STANDARD.encode(rng.bytes(600));
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    let (begin, end) = (["-----BEGIN ", kind].concat(), ["-----END ", kind].concat());
    format!("{begin} KEY-----{newline}{headers}{}{newline}{end} KEY-----", lines.join(newline))
}

fn positives() -> Vec<Positive> {
    let mut rng = Rng::new(99);
    let r = &mut rng;
    let mut out = vec![
        positive(
            "aws-access-key-id",
            ["AK", "IA", &r.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)].concat(),
        ),
        positive(
            "aws-access-key-id",
            ["AS", "IA", &r.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16)].concat(),
        ),
        positive(
            "github-fine-grained-pat",
            ["github", "_pat_", &r.chars(ALNUM, 22), "_", &r.chars(ALNUM, 59)].concat(),
        ),
        positive("gitlab-token", ["gl", "pat-", &r.chars(B64URL, 20)].concat()),
        positive(
            "slack-token",
            [
                "xo",
                "xb-",
                &r.chars("0123456789", 12),
                "-",
                &r.chars("0123456789", 13),
                "-",
                &r.chars(ALNUM, 24),
            ]
            .concat(),
        ),
        positive(
            "slack-token",
            [
                "xa",
                "pp-1-",
                &r.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 11),
                "-",
                &r.chars("0123456789", 13),
                "-",
                &r.chars(HEX, 64),
            ]
            .concat(),
        ),
        positive("stripe-live-key", ["sk", "_live_", &r.chars(ALNUM, 24)].concat()),
        positive("stripe-live-key", ["rk", "_live_", &r.chars(ALNUM, 99)].concat()),
        positive("anthropic-api-key", ["sk-", "ant-api03-", &r.chars(B64URL, 93), "AA"].concat()),
        positive("openai-api-key", ["sk-", "proj-", &r.chars(B64URL, 156)].concat()),
        positive("openai-api-key", ["sk", "-", &r.chars(ALNUM, 48)].concat()),
        positive("google-api-key", ["AI", "za", &r.chars(B64URL, 35)].concat()),
        positive("google-oauth-token", ["ya", "29.", &r.chars(B64URL, 120)].concat()),
        positive("npm-token", ["np", "m_", &r.chars(ALNUM, 36)].concat()),
        positive("pypi-token", ["pypi-", "AgEIcHlwaS5vcmc", &r.chars(B64URL, 150)].concat()),
        positive(
            "huggingface-token",
            ["h", "f_", &r.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 34)]
                .concat(),
        ),
        positive(
            "sendgrid-api-key",
            ["SG", ".", &r.chars(B64URL, 22), ".", &r.chars(ALNUM, 43)].concat(),
        ),
        positive("twilio-api-key", ["S", "K", &r.chars(HEX, 32)].concat()),
        positive("digitalocean-token", ["dop", "_v1_", &r.chars(HEX, 64)].concat()),
        positive("shopify-token", ["shp", "at_", &r.chars(HEX, 32)].concat()),
        positive(
            "age-secret-key",
            ["AGE-SECRET-", "KEY-1", &r.chars("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)].concat(),
        ),
    ];
    for kind in ["p", "o", "u", "s", "r"] {
        out.push(positive("github-token", ["gh", kind, "_", &r.chars(ALNUM, 36)].concat()));
    }
    let jwt = [
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"1234567890","name":"Agent","iat":1700000000}"#),
        URL_SAFE_NO_PAD.encode(r.bytes(32)),
    ]
    .join(".");
    out.push(positive("jwt", jwt));

    // Credentials that are only recognisable with their surroundings.
    let aws_secret = r.chars(B64, 40);
    out.push(Positive {
        rule: "aws-secret-access-key",
        contexts: vec![
            format!("[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = {aws_secret}\n"),
            format!("export AWS_SECRET_ACCESS_KEY=\"{aws_secret}\""),
            format!("{{\"Credentials\": {{\"AccessKeyId\": \"x\", \"SecretAccessKey\": \"{aws_secret}\"}}}}"),
            format!("aws configure set aws_secret_access_key {aws_secret}"),
        ],
        token: aws_secret,
    });
    let webhook = [
        "hooks.slack",
        ".com/services/T",
        &r.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        "/B",
        &r.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
        "/",
        &r.chars(ALNUM, 24),
    ]
    .concat();
    out.push(Positive {
        rule: "slack-webhook",
        contexts: vec![
            format!("curl -X POST -H 'Content-type: application/json' --data '{{\"text\":\"hi\"}}' https://{webhook}"),
            format!("{{\"webhook_url\": \"https://{webhook}\"}}"),
        ],
        token: webhook,
    });
    let discord =
        ["discord", ".com/api/webhooks/", &r.chars("0123456789", 18), "/", &r.chars(B64URL, 68)]
            .concat();
    out.push(Positive {
        rule: "discord-webhook",
        contexts: vec![
            format!("DISCORD_WEBHOOK=https://{discord}\n"),
            format!("{{\"url\":\"https://{discord}\"}}"),
        ],
        token: discord,
    });
    let account_key = [r.chars(B64, 86), "==".to_owned()].concat();
    out.push(Positive {
        rule: "azure-storage-key",
        contexts: vec![format!("DefaultEndpointsProtocol=https;AccountName=billing;AccountKey={account_key};EndpointSuffix=core.windows.net")],
        token: account_key,
    });
    for (kind, headers) in [
        ("RSA PRIVATE", ""),
        ("OPENSSH PRIVATE", ""),
        ("PRIVATE", ""),
        (
            "EC PRIVATE",
            "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
        ),
    ] {
        let block = pem(r, kind, headers, "\n");
        out.push(Positive {
            rule: "private-key",
            contexts: vec![format!("$ cat ~/.ssh/id\n{block}\n$ "), format!("key:\n{block}\n")],
            token: block,
        });
    }
    let escaped = pem(r, "PRIVATE", "", "\\n") + "\\n";
    out.push(Positive {
        rule: "gcp-service-account-key",
        contexts: vec![format!(
            "{{\n  \"type\": \"service_account\",\n  \"project_id\": \"billing-prod\",\n  \"private_key_id\": \"{}\",\n  \"private_key\": \"{escaped}\",\n  \"client_email\": \"ci@billing-prod.iam.gserviceaccount.com\"\n}}",
            r.hex(20)
        )],
        token: escaped,
    });
    out
}

#[test]
fn every_builtin_rule_compiles_and_has_a_positive_sample() {
    let set = RuleSet::builtin().unwrap();
    assert_eq!(set.rule_ids().count(), BUILTIN_RULES.len());
    let covered: BTreeSet<&str> = positives().iter().map(|p| p.rule).collect();
    let all: BTreeSet<&str> = BUILTIN_RULES.iter().map(|r| r.id).collect();
    assert_eq!(covered, all);
}

#[test]
fn each_rule_finds_its_credential_in_json_urls_and_shell_commands() {
    let set = RuleSet::builtin().unwrap();
    for p in positives() {
        for context in &p.contexts {
            let found = set.scan(context.as_bytes());
            assert_eq!(found.len(), 1, "{}: {found:?} in {context}", p.rule);
            let f = found[0];
            assert_eq!(f.rule, p.rule, "{context}");
            assert_eq!(&context[f.offset..f.offset + f.len], p.token, "{}", p.rule);
        }
    }
}

#[test]
fn credentials_are_found_inside_ordinary_output() {
    let set = RuleSet::builtin().unwrap();
    let corpus = corpus::corpus();
    let mut rng = Rng::new(5);
    for p in positives() {
        let (name, chunk) = &corpus[rng.below(corpus.len())];
        let text = String::from_utf8_lossy(chunk);
        let cut =
            text.char_indices().map(|(i, _)| i).nth(rng.below(text.chars().count())).unwrap_or(0);
        let context = p.contexts[rng.below(p.contexts.len())].clone();
        let haystack = format!("{}\n{context}\n{}", &text[..cut], &text[cut..]);
        let found: Vec<_> =
            set.scan(haystack.as_bytes()).into_iter().filter(|f| f.rule == p.rule).collect();
        assert_eq!(found.len(), 1, "{} inside {name}", p.rule);
        assert_eq!(&haystack.as_bytes()[found[0].offset..][..found[0].len], p.token.as_bytes());
    }
}

#[test]
fn ordinary_tool_output_has_no_findings() {
    let set = RuleSet::builtin().unwrap();
    let corpus = corpus::corpus();
    let mut bytes = 0;
    let mut false_positives = Vec::new();
    for (name, chunk) in &corpus {
        bytes += chunk.len();
        for f in set.scan(chunk) {
            let start = f.offset.saturating_sub(40);
            let end = (f.offset + f.len + 40).min(chunk.len());
            let around = String::from_utf8_lossy(&chunk[start..end]).into_owned();
            false_positives.push(format!("{name}: {} at {}: …{around}…", f.rule, f.offset));
        }
    }
    // How many rules the keyword prefilter let run somewhere in the corpus:
    // a rule that never runs is not being tested for false positives.
    let ran = BUILTIN_RULES
        .iter()
        .filter(|rule| {
            corpus.iter().any(|(_, chunk)| {
                let text = String::from_utf8_lossy(chunk);
                rule.keywords.iter().any(|k| {
                    if rule.keywords_ignore_case {
                        text.to_ascii_lowercase().contains(&k.to_ascii_lowercase())
                    } else {
                        text.contains(k)
                    }
                })
            })
        })
        .count();
    let mb = bytes as f64 / 1e6;
    println!(
        "rules corpus: {} chunks, {bytes} bytes ({mb:.2} MB), {ran} of {} rules' regexes ran, \
         {} findings, false-positive rate {:.3} per MB",
        corpus.len(),
        BUILTIN_RULES.len(),
        false_positives.len(),
        false_positives.len() as f64 / mb
    );
    assert_eq!(ran, BUILTIN_RULES.len(), "add near-misses for the rules that never ran");
    assert!(bytes >= 2_000_000, "corpus is only {bytes} bytes");
    assert!(false_positives.is_empty(), "{}", false_positives.join("\n"));
}

#[test]
fn redact_names_the_rule_and_keeps_the_rest() {
    let set = RuleSet::builtin().unwrap();
    let github = ["gh", "p_", &"a1B2".repeat(9)].concat();
    let aws = ["AK", "IA", "ABCDEFGHIJ234567"].concat();
    let text = format!("token={github} key={aws} done");
    assert_eq!(
        set.redact(&text),
        "token=[REDACTED:github-token] key=[REDACTED:aws-access-key-id] done"
    );
    assert_eq!(set.redact("nothing here"), "nothing here");
}

#[test]
fn findings_hold_no_matched_text() {
    let set = RuleSet::builtin().unwrap();
    let token = ["np", "m_", &"Zz09".repeat(9)].concat();
    let found = set.scan(format!("x {token} y").as_bytes());
    let shown = format!("{found:?} {}", serde_json::to_string(&found).unwrap());
    assert!(shown.contains("npm-token"));
    assert!(!shown.contains(&token[4..]), "{shown}");
    assert_eq!(found[0].severity, Severity::High);
}

#[test]
fn invalid_utf8_around_a_credential_is_fine() {
    let set = RuleSet::builtin().unwrap();
    let mut haystack = vec![0xff, 0xfe, b' '];
    haystack.extend_from_slice(["gh", "p_", &"Q7".repeat(18)].concat().as_bytes());
    haystack.extend_from_slice(&[b' ', 0xc3, 0x28]);
    assert_eq!(set.scan(&haystack).len(), 1);
}

#[test]
fn a_subset_of_the_rules_and_the_action_config_work() {
    let set = RuleSet::new(BUILTIN_RULES.iter().filter(|r| r.id != "jwt")).unwrap();
    assert!(!set.rule_ids().any(|id| id == "jwt"));
    let action: Action = serde_json::from_str("\"redact\"").unwrap();
    assert_eq!(action, Action::Redact);
    assert_eq!(serde_json::to_string(&Action::default()).unwrap(), "\"block\"");
}

/// Found by `scripts/fuzz rules`: a match's closing quote was the opening
/// quote of the next `"private_key"`, so the second value was not found until
/// redacting the first freed it.
#[test]
fn a_match_that_ends_where_the_next_begins_hides_nothing() {
    let first = "a".repeat(70);
    let second = "b".repeat(80);
    let text = format!(r#"{{"private_key": "{first}"private_key": "{second}"}}"#);
    let rules = RuleSet::builtin().unwrap();
    let found: Vec<&str> =
        rules.scan(text.as_bytes()).iter().map(|f| &text[f.offset..f.offset + f.len]).collect();
    assert_eq!(found, [first.as_str(), second.as_str()]);
    let redacted = rules.redact(&text);
    assert!(rules.scan(redacted.as_bytes()).is_empty(), "{redacted}");
    assert!(!redacted.contains(&second), "{redacted}");

    // The input the fuzzer found, as it was.
    let fuzzed = b"|\"private_key\":\r\"lrgivpate_ke?i:\rglptt-gpt\x04-gtr0v|\"private_kei\":\r\"lrv|\"private_key\":\r\"lrgivpat";
    let mut input = fuzzed.to_vec();
    input.extend([0_u8; 57]);
    input.extend_from_slice(b"rv|\"private_key\":\r\"lrgivpate_-malpat-mmdltp-malptmpat-lptt-maccountkey=_shp!t_\0\0\0\0\0\0\0\0lptt-may\":\rglptt-gpt0|");
    let input = String::from_utf8(input).unwrap();
    let redacted = rules.redact(&input);
    assert!(rules.scan(redacted.as_bytes()).is_empty(), "{redacted:?}");
}
