//! Tool arguments flattened into the string tags of the `Arguments` entity,
//! and whether policy sees them whole.
//!
//! `{"path": "/a", "options": {"recursive": true}, "paths": ["/b"]}` becomes
//! the tags `path` = `/a`, `options` = `{"recursive":true}`,
//! `options.recursive` = `true`, `paths` = `["/b"]` and `paths.0` = `/b`.
//! Strings are kept as they are; numbers, booleans and null as their JSON
//! text; objects and arrays as their canonical JSON.
//!
//! Arguments come from the agent, so the work is bounded:
//!
//! - at most [`MAX_TAGS`] tags (4,096): every value, nested ones included;
//! - nothing below [`MAX_DEPTH`] levels (32; top-level keys are depth 1, so
//!   this covers the gateway's default `max_argument_depth` of 32, which
//!   counts the arguments object itself);
//! - at most [`MAX_ARGUMENT_BYTES`] (8 MiB) of tag names and values together.
//!   No value is cut short of that, so a 1 MiB body (the gateway's default
//!   `max_argument_bytes`) is seen whole unless its bulk nests more than
//!   about seven levels deep: each enclosing object or array repeats its
//!   contents in its own JSON tag.
//!
//! Tags are produced breadth-first, so top-level arguments are never crowded
//! out by nested ones. Whenever the tags are not a faithful copy of the
//! arguments, [`FlatArgs::not_whole`] says what was missed, first: a value
//! past the byte budget (its tag keeps a prefix), values past the tag limit,
//! a container below the depth limit, two paths that collide (a key `"a.b"`
//! beside `{"a": {"b": ..}}`), or arguments that are a bare string, number or
//! boolean. Policies see `context.args_truncated == true`, and the engine
//! never allows such a call (see `crate::whole`), whatever the rules say.
//!
//! This module does not interpret values: a path is matched as the agent
//! wrote it, not resolved (`..`, symlinks and a relative `.ssh/id_rsa` are
//! for the rule's pattern to cover, or for the sandbox).

use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::fmt;

/// The most tags one call's arguments produce.
pub const MAX_TAGS: usize = 4096;
/// The most bytes of tag names and values one call's arguments produce.
pub const MAX_ARGUMENT_BYTES: usize = 8 * 1024 * 1024;
/// The deepest nesting that gets its own tags (top-level keys are depth 1).
pub const MAX_DEPTH: usize = 32;

/// The longest argument path a reason quotes, in characters: paths come from
/// the agent, and a reason is shown to people and written to the audit log.
const SHOWN_PATH_CHARS: usize = 64;

/// The flattened arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FlatArgs {
    pub(crate) tags: Vec<(String, String)>,
    /// The first thing policy could not see, if anything.
    pub(crate) not_whole: Option<NotWhole>,
}

/// Why the tags are not a faithful copy of the arguments: the first thing
/// missed, with the argument path it happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotWhole {
    /// The arguments are a string, number or boolean: nothing to name.
    NotAnObject { kind: &'static str },
    /// This value and every one after it fell past [`MAX_TAGS`].
    TooMany { path: String },
    /// This container's contents lie below [`MAX_DEPTH`] (or too deep to
    /// write out as JSON).
    TooDeep { path: String },
    /// This value (kept as a prefix) and every one after it fell past
    /// [`MAX_ARGUMENT_BYTES`].
    TooLarge { path: String },
    /// Two values have this path; only the first has the tag.
    Collision { path: String },
}

impl fmt::Display for NotWhole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject { kind } => {
                write!(f, "the arguments are a bare {kind}, not an object")
            }
            Self::TooMany { path } => write!(
                f,
                "argument `{}` and those after it are past the {MAX_TAGS}-value bound",
                Shown(path)
            ),
            Self::TooDeep { path } => {
                write!(f, "argument `{}` nests below the {MAX_DEPTH}-level bound", Shown(path))
            }
            Self::TooLarge { path } => write!(
                f,
                "argument `{}` and those after it are past the {} MiB bound on argument text",
                Shown(path),
                MAX_ARGUMENT_BYTES / (1024 * 1024)
            ),
            Self::Collision { path } => write!(
                f,
                "two arguments have the path `{}` (a key with a dot beside a nested key)",
                Shown(path)
            ),
        }
    }
}

/// An agent's argument path, shortened and escaped for a one-line reason.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(SHOWN_PATH_CHARS) {
            write!(f, "{}", c.escape_debug())?;
        }
        if chars.next().is_some() {
            f.write_str("…")?;
        }
        Ok(())
    }
}

/// Flattens `arguments` within the bounds.
pub(crate) fn flatten(arguments: &Value) -> FlatArgs {
    let mut out = FlatArgs::default();
    let kind = match arguments {
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("boolean"),
        Value::Object(_) | Value::Array(_) | Value::Null => None,
    };
    if let Some(kind) = kind {
        out.not_whole = Some(NotWhole::NotAnObject { kind });
        return out;
    }

    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<(String, &Value, usize)> = VecDeque::new();
    let mut budget = MAX_ARGUMENT_BYTES;
    if let Some(path) = push_children(&mut queue, 0, "", arguments, 1) {
        missed(&mut out, NotWhole::TooMany { path });
    }
    while let Some((path, value, depth)) = queue.pop_front() {
        if out.tags.len() >= MAX_TAGS {
            missed(&mut out, NotWhole::TooMany { path });
            break;
        }
        if seen.contains(&path) {
            missed(&mut out, NotWhole::Collision { path });
            continue;
        }
        let Some(text) = render(value) else {
            missed(&mut out, NotWhole::TooDeep { path });
            continue;
        };
        let cost = path.len().saturating_add(text.len());
        if cost > budget {
            // Keep what fits of the value, so a forbid matching its start
            // still denies, then stop: every later value is unseen anyway.
            let keep = budget.saturating_sub(path.len());
            let prefix = text.get(..text.floor_char_boundary(keep)).unwrap_or_default();
            if path.len() <= budget {
                out.tags.push((path.clone(), prefix.to_owned()));
            }
            missed(&mut out, NotWhole::TooLarge { path });
            break;
        }
        budget -= cost;
        seen.insert(path.clone());

        let has_children = match value {
            Value::Object(map) => !map.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => false,
        };
        if has_children {
            if depth < MAX_DEPTH {
                let made = out.tags.len() + 1;
                if let Some(left_out) = push_children(&mut queue, made, &path, value, depth + 1) {
                    missed(&mut out, NotWhole::TooMany { path: left_out });
                }
            } else {
                missed(&mut out, NotWhole::TooDeep { path: path.clone() });
            }
        }
        out.tags.push((path, text));
    }
    out
}

/// Queues the children of `value` while the queue and the `made` tags stay
/// within [`MAX_TAGS`]: a child queued past that could never get a tag, and a
/// million-item array must not cost a million paths. Returns the path of the
/// first child left out, if any.
fn push_children<'v>(
    queue: &mut VecDeque<(String, &'v Value, usize)>,
    made: usize,
    prefix: &str,
    value: &'v Value,
    depth: usize,
) -> Option<String> {
    let join = |name: &str| {
        if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
    };
    let children: Box<dyn Iterator<Item = (String, &'v Value)>> = match value {
        Value::Object(map) => Box::new(map.iter().map(|(key, child)| (join(key), child))),
        Value::Array(items) => Box::new(
            items.iter().enumerate().map(|(index, child)| (join(&index.to_string()), child)),
        ),
        _ => return None,
    };
    for (path, child) in children {
        if made.saturating_add(queue.len()) >= MAX_TAGS {
            return Some(path);
        }
        queue.push_back((path, child, depth));
    }
    None
}

/// Notes `why` unless something was already missed: the first miss is the
/// one a reason names.
fn missed(out: &mut FlatArgs, why: NotWhole) {
    out.not_whole.get_or_insert(why);
}

/// The tag text of one value; none when it nests too deep to write out.
fn render(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) | Value::Array(_) => warrant_core::canonical_json(value).ok(),
        scalar => Some(scalar.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tag<'a>(flat: &'a FlatArgs, name: &str) -> Option<&'a str> {
        flat.tags.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn nested_objects_and_arrays_get_dotted_tags_and_their_json() {
        let flat = flatten(&json!({
            "path": "/etc/passwd",
            "options": {"recursive": true, "depth": 3, "z": null},
            "paths": ["/a", {"b": "c"}]
        }));
        assert_eq!(flat.not_whole, None);
        assert_eq!(tag(&flat, "path"), Some("/etc/passwd"));
        assert_eq!(tag(&flat, "options.recursive"), Some("true"));
        assert_eq!(tag(&flat, "options.depth"), Some("3"));
        assert_eq!(tag(&flat, "options.z"), Some("null"));
        assert_eq!(tag(&flat, "options"), Some(r#"{"depth":3,"recursive":true,"z":null}"#));
        assert_eq!(tag(&flat, "paths.0"), Some("/a"));
        assert_eq!(tag(&flat, "paths.1.b"), Some("c"));
        assert_eq!(tag(&flat, "paths"), Some(r#"["/a",{"b":"c"}]"#));
    }

    #[test]
    fn many_arguments_stop_at_the_tag_limit_with_top_level_first() {
        let mut map = serde_json::Map::new();
        map.insert("nested".into(), json!((0..MAX_TAGS).collect::<Vec<_>>()));
        for i in 0..300 {
            map.insert(format!("k{i}"), json!(i));
        }
        let flat = flatten(&Value::Object(map));
        assert_eq!(flat.tags.len(), MAX_TAGS);
        // Breadth first: the top-level keys come before the array items.
        assert_eq!(tag(&flat, "k299"), Some("299"));
        let last = (MAX_TAGS - 302).to_string();
        assert_eq!(tag(&flat, &format!("nested.{last}")), Some(last.as_str()));
        let first_dropped = format!("nested.{}", MAX_TAGS - 301);
        assert_eq!(tag(&flat, &first_dropped), None);
        assert_eq!(flat.not_whole, Some(NotWhole::TooMany { path: first_dropped }));
    }

    #[test]
    fn a_value_of_a_mebibyte_is_seen_whole() {
        let body = "é".repeat(512 * 1024);
        let flat = flatten(&json!({"path": "/tmp/a", "content": body}));
        assert_eq!(flat.not_whole, None);
        assert_eq!(tag(&flat, "content"), Some(body.as_str()));
    }

    #[test]
    fn text_past_the_byte_bound_keeps_a_prefix_cut_on_a_character_boundary() {
        let body = "é".repeat(MAX_ARGUMENT_BYTES / 2 + 10);
        let flat = flatten(&json!({"a": "x", "body": body, "z": "after"}));
        assert_eq!(flat.not_whole, Some(NotWhole::TooLarge { path: "body".into() }));
        let kept = tag(&flat, "body").unwrap();
        assert!(kept.len() <= MAX_ARGUMENT_BYTES - "a".len() - "x".len() - "body".len());
        assert!(kept.len() > MAX_ARGUMENT_BYTES - 16);
        assert!(kept.chars().all(|c| c == 'é'));
        assert_eq!(tag(&flat, "z"), None);
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_limit_without_panicking() {
        let mut value = json!("leaf");
        for _ in 0..1000 {
            value = json!({ "a": value });
        }
        let flat = flatten(&value);
        // Too deep to canonicalise: the outermost object is already unseen.
        assert_eq!(flat.not_whole, Some(NotWhole::TooDeep { path: "a".into() }));
        assert_eq!(tag(&flat, "a"), None);
    }

    #[test]
    fn nesting_past_the_depth_limit_names_the_container_it_stopped_at() {
        let mut value = json!("leaf");
        for _ in 0..=MAX_DEPTH {
            value = json!({ "a": value });
        }
        let flat = flatten(&value);
        let deepest = vec!["a"; MAX_DEPTH].join(".");
        assert_eq!(tag(&flat, &deepest), Some(r#"{"a":"leaf"}"#));
        assert_eq!(tag(&flat, &format!("{deepest}.a")), None);
        assert_eq!(flat.not_whole, Some(NotWhole::TooDeep { path: deepest }));
        // One level less is whole.
        let flat = flatten(&value["a"]);
        assert_eq!(flat.not_whole, None);
    }

    #[test]
    fn colliding_paths_mark_the_arguments_as_not_whole() {
        let flat = flatten(&json!({"a.b": "x", "a": {"b": "y"}}));
        assert_eq!(flat.not_whole, Some(NotWhole::Collision { path: "a.b".into() }));
        assert_eq!(tag(&flat, "a.b"), Some("x"));
    }

    #[test]
    fn bare_scalars_are_not_whole_and_have_no_tags() {
        for (value, kind) in
            [(json!("x"), "string"), (json!(1), "number"), (json!(true), "boolean")]
        {
            let flat = flatten(&value);
            assert!(flat.tags.is_empty());
            assert_eq!(flat.not_whole, Some(NotWhole::NotAnObject { kind }));
        }
    }

    #[test]
    fn empty_arguments_have_no_tags() {
        assert_eq!(flatten(&json!({})), FlatArgs::default());
        assert_eq!(flatten(&Value::Null), FlatArgs::default());
    }

    /// splitmix64, so a failing case reproduces.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % n as u64) as usize
        }
    }

    /// A small random value whose keys collide now and then (`a.b` beside
    /// `a` holding `b`, `0` beside an array's first item).
    fn random_value(rng: &mut Rng, depth: usize) -> Value {
        const KEYS: &[&str] = &["a", "b", "a.b", "0", "b.0", "", "path"];
        match if depth == 0 { rng.below(3) } else { rng.below(5) } {
            0 => json!("/home/u/.ssh/id_rsa"),
            1 => json!(rng.below(100)),
            2 => Value::Null,
            3 => (0..rng.below(3)).map(|_| random_value(rng, depth - 1)).collect(),
            _ => Value::Object(
                (0..rng.below(4))
                    .map(|_| (KEYS[rng.below(KEYS.len())].to_owned(), random_value(rng, depth - 1)))
                    .collect(),
            ),
        }
    }

    /// Every (path, text) pair, without bounds, depth first.
    fn reference(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
        let children: Vec<(String, &Value)> = match value {
            Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            Value::Array(items) => {
                items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect()
            }
            _ => Vec::new(),
        };
        for (name, child) in children {
            let path = if prefix.is_empty() { name } else { format!("{prefix}.{name}") };
            out.push((path.clone(), render(child).unwrap()));
            reference(&path, child, out);
        }
    }

    #[test]
    fn arguments_said_to_be_whole_are_exactly_every_value_at_its_path() {
        let mut rng = Rng(0x5EED);
        let (mut whole, mut colliding) = (0, 0);
        for _ in 0..20_000 {
            let value = random_value(&mut rng, 4);
            if matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                assert!(matches!(flatten(&value).not_whole, Some(NotWhole::NotAnObject { .. })));
                continue;
            }
            let mut expected = Vec::new();
            reference("", &value, &mut expected);
            let unique: HashSet<&String> = expected.iter().map(|(path, _)| path).collect();
            let flat = flatten(&value);
            if unique.len() == expected.len() {
                assert_eq!(flat.not_whole, None, "{value}");
                let mut got = flat.tags.clone();
                got.sort();
                expected.sort();
                assert_eq!(got, expected, "{value}");
                whole += 1;
            } else {
                assert!(matches!(flat.not_whole, Some(NotWhole::Collision { .. })), "{value}");
                colliding += 1;
            }
        }
        // Both branches were exercised.
        assert!(whole > 5000 && colliding > 50, "{whole} whole, {colliding} colliding");
    }

    #[test]
    fn reasons_quote_a_short_escaped_path() {
        let long = format!("a\nb{}", "c".repeat(500));
        let text = NotWhole::Collision { path: long }.to_string();
        assert!(text.contains("`a\\nbccc"), "{text}");
        assert!(text.contains("…`"), "{text}");
        assert!(text.len() < 200, "{text}");
        assert!(!text.contains('\n'));
    }
}
