//! Tool arguments flattened into the string tags of the `Arguments` entity.
//!
//! `{"path": "/a", "options": {"recursive": true}, "paths": ["/b"]}` becomes
//! the tags `path` = `/a`, `options` = `{"recursive":true}`,
//! `options.recursive` = `true`, `paths` = `["/b"]` and `paths.0` = `/b`.
//! Strings are kept as they are; numbers, booleans and null as their JSON
//! text; objects and arrays as their canonical JSON.
//!
//! Arguments come from the agent, so the work is bounded: at most
//! [`MAX_TAGS`] tags, values cut to [`MAX_TAG_CHARS`] characters, nothing
//! below [`MAX_DEPTH`] levels. Tags are produced breadth-first, so top-level
//! arguments are never crowded out by nested ones. Whenever the tags are not a
//! faithful copy (something was cut or dropped, or two paths collide, as with
//! a key `"a.b"` beside `{"a": {"b": ..}}`), `truncated` is set and policies
//! see `context.args_truncated == true`.

use serde_json::Value;
use std::collections::{HashSet, VecDeque};

/// The most tags one call's arguments produce.
pub const MAX_TAGS: usize = 256;
/// The longest tag value (and tag name), in characters.
pub const MAX_TAG_CHARS: usize = 4096;
/// The deepest nesting that gets its own tags (top-level keys are depth 1).
pub const MAX_DEPTH: usize = 16;

/// The flattened arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FlatArgs {
    pub(crate) tags: Vec<(String, String)>,
    pub(crate) truncated: bool,
}

/// Flattens `arguments` within the bounds.
pub(crate) fn flatten(arguments: &Value) -> FlatArgs {
    let mut out = FlatArgs::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<(String, &Value, usize)> = VecDeque::new();
    push_children(&mut queue, "", arguments, 1);
    if !matches!(arguments, Value::Object(_) | Value::Array(_) | Value::Null) {
        // A bare scalar has no names to hang tags on.
        out.truncated = true;
    }

    while let Some((path, value, depth)) = queue.pop_front() {
        if out.tags.len() >= MAX_TAGS {
            out.truncated = true;
            break;
        }
        if path.chars().count() > MAX_TAG_CHARS || !seen.insert(path.clone()) {
            out.truncated = true;
            continue;
        }
        let (text, cut) = render(value);
        out.truncated |= cut;
        out.tags.push((path.clone(), text));

        let has_children = match value {
            Value::Object(map) => !map.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => false,
        };
        if has_children {
            if depth < MAX_DEPTH {
                push_children(&mut queue, &path, value, depth + 1);
            } else {
                out.truncated = true;
            }
        }
    }
    out
}

fn push_children<'v>(
    queue: &mut VecDeque<(String, &'v Value, usize)>,
    prefix: &str,
    value: &'v Value,
    depth: usize,
) {
    let join = |name: &str| {
        if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                queue.push_back((join(key), child, depth));
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                queue.push_back((join(&index.to_string()), child, depth));
            }
        }
        _ => {}
    }
}

/// The tag text of one value, and whether it had to be cut.
fn render(value: &Value) -> (String, bool) {
    let text = match value {
        Value::String(s) => return cut(s),
        Value::Object(_) | Value::Array(_) => match warrant_core::canonical_json(value) {
            Ok(text) => text,
            // Too deep to write out: the tag is empty and marked as cut.
            Err(_) => return (String::new(), true),
        },
        scalar => scalar.to_string(),
    };
    cut(&text)
}

fn cut(text: &str) -> (String, bool) {
    match text.char_indices().nth(MAX_TAG_CHARS) {
        Some((end, _)) => (text.get(..end).unwrap_or_default().to_owned(), true),
        None => (text.to_owned(), false),
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
        assert!(!flat.truncated);
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
        map.insert("nested".into(), json!((0..500).collect::<Vec<_>>()));
        for i in 0..300 {
            map.insert(format!("k{i}"), json!(i));
        }
        let flat = flatten(&Value::Object(map));
        assert_eq!(flat.tags.len(), MAX_TAGS);
        assert!(flat.truncated);
        // Breadth first: the top-level keys come before the array items.
        assert_eq!(tag(&flat, "k254"), Some("254"));
        assert_eq!(tag(&flat, "nested.0"), None);
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let flat = flatten(&json!({"body": "é".repeat(MAX_TAG_CHARS + 10)}));
        assert!(flat.truncated);
        assert_eq!(tag(&flat, "body").unwrap().chars().count(), MAX_TAG_CHARS);
    }

    #[test]
    fn deep_nesting_stops_at_the_depth_limit_without_panicking() {
        let mut value = json!("leaf");
        for _ in 0..1000 {
            value = json!({ "a": value });
        }
        let flat = flatten(&value);
        assert!(flat.truncated);
        let deepest = vec!["a"; MAX_DEPTH].join(".");
        assert!(tag(&flat, &deepest).is_some());
        assert!(tag(&flat, &format!("{deepest}.a")).is_none());
        // Too deep to canonicalise: present but empty.
        assert_eq!(tag(&flat, "a"), Some(""));
    }

    #[test]
    fn colliding_paths_mark_the_arguments_as_unfaithful() {
        let flat = flatten(&json!({"a.b": "x", "a": {"b": "y"}}));
        assert!(flat.truncated);
        assert_eq!(tag(&flat, "a.b"), Some("x"));
    }

    #[test]
    fn empty_arguments_have_no_tags() {
        assert_eq!(flatten(&json!({})), FlatArgs::default());
        assert_eq!(flatten(&Value::Null), FlatArgs::default());
    }
}
