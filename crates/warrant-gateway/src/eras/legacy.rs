//! Tools and results of 2026-07-28 in the form 2025-11-25 allows (SEP-2106).
//!
//! 2025-11-25 requires an object at the root of `outputSchema` and of
//! `structuredContent`, and an object for each of a schema's `properties`;
//! 2026-07-28 allows any JSON Schema 2020-12 and any JSON value. SEP-2106's
//! projection, as the official TypeScript SDK applies it: a non-object output
//! schema is advertised as `{"type": "object", "properties": {"result":
//! SCHEMA}, "required": ["result"]}` (its same-document `$ref`s moved under
//! `#/properties/result`), and the matching structured content is sent as
//! `{"result": VALUE}`. A boolean property schema becomes its object form
//! (`true` is `{}`, `false` is `{"not": {}}`), which means the same.
//!
//! Known limit, shared with that SDK: a 2019-09 `$recursiveRef` is copied as
//! it is, so a schema that recurses through it points at the wrapper.

use rmcp::model::{CallToolResult, JsonObject, Tool};
use serde_json::{Value, json};
use std::sync::Arc;

/// Keywords whose values are data, not schemas: a `$ref` inside is a value.
const DATA_KEYWORDS: &[&str] = &["const", "enum", "default", "examples"];
/// Keywords whose values map names to schemas: a key there is a name, not a
/// keyword.
const NAME_MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];

/// A tool's definition as a 2025-11-25 agent may receive it.
pub(super) fn tool(mut tool: Tool) -> Tool {
    let mut input = (*tool.input_schema).clone();
    object_properties(&mut input);
    tool.input_schema = Arc::new(input);
    if let Some(schema) = tool.output_schema.take() {
        let mut schema =
            if non_object_root(&schema) { wrap_schema(&schema) } else { (*schema).clone() };
        object_properties(&mut schema);
        tool.output_schema = Some(Arc::new(schema));
    }
    tool
}

/// A tool result as a 2025-11-25 agent may receive it, for a tool whose
/// declared output schema is `output_schema`.
pub(super) fn project_result(result: &mut CallToolResult, output_schema: Option<&JsonObject>) {
    let wrapped_schema = output_schema.is_some_and(non_object_root);
    if let Some(value) = result.structured_content.take() {
        result.structured_content = Some(if !value.is_object() || wrapped_schema {
            json!({ "result": value })
        } else {
            value
        });
    }
}

/// Whether a schema's root is anything but `"type": "object"` (a typeless
/// root such as `{"anyOf": [...]}` counts: 2025-11-25 requires the type).
fn non_object_root(schema: &JsonObject) -> bool {
    schema.get("type").and_then(Value::as_str) != Some("object")
}

/// `{"type": "object", "properties": {"result": SCHEMA}, "required":
/// ["result"]}`, with `$schema` hoisted to the new root (engines read the
/// dialect there) and same-document references rewritten to their new place.
fn wrap_schema(natural: &JsonObject) -> JsonObject {
    let inner = if new_base(natural.get("$id")) {
        // References inside resolve against that `$id`, not the document.
        Value::Object(natural.clone())
    } else {
        moved(&Value::Object(natural.clone()), false)
    };
    let mut wrapper = JsonObject::new();
    if let Some(dialect) = natural.get("$schema").filter(|v| v.is_string()) {
        wrapper.insert("$schema".into(), dialect.clone());
    }
    wrapper.insert("type".into(), json!("object"));
    wrapper.insert("properties".into(), json!({ "result": inner }));
    wrapper.insert("required".into(), json!(["result"]));
    wrapper
}

/// Whether an `$id` starts a new base URI (a fragment-only `$id` does not).
fn new_base(id: Option<&Value>) -> bool {
    match id {
        None => false,
        Some(Value::String(s)) => !s.starts_with('#'),
        Some(_) => true,
    }
}

/// `node` with its same-document `$ref`/`$dynamicRef` pointers moved under
/// `#/properties/result`. `in_name_map`: `node`'s keys are names (of
/// properties, definitions), not keywords. Recursive: an upstream's JSON is
/// parsed with serde_json's nesting limit (128), which bounds the depth.
fn moved(node: &Value, in_name_map: bool) -> Value {
    match node {
        Value::Array(items) => Value::Array(items.iter().map(|item| moved(item, false)).collect()),
        Value::Object(map) => {
            if !in_name_map && new_base(map.get("$id")) {
                return node.clone();
            }
            let mut out = JsonObject::new();
            for (key, value) in map {
                let value = if in_name_map {
                    moved(value, false)
                } else if key == "$ref" || key == "$dynamicRef" {
                    match value.as_str().and_then(|v| v.strip_prefix('#')) {
                        Some("") => json!("#/properties/result"),
                        Some(pointer) if pointer.starts_with('/') => {
                            json!(format!("#/properties/result{pointer}"))
                        }
                        _ => value.clone(),
                    }
                } else if DATA_KEYWORDS.contains(&key.as_str()) {
                    value.clone()
                } else {
                    moved(value, NAME_MAPS.contains(&key.as_str()))
                };
                out.insert(key.clone(), value);
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Boolean schemas among the root's `properties`, as objects.
fn object_properties(schema: &mut JsonObject) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for value in properties.values_mut() {
            match value {
                Value::Bool(true) => *value = json!({}),
                Value::Bool(false) => *value = json!({ "not": {} }),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    fn object(value: Value) -> JsonObject {
        value.as_object().cloned().unwrap()
    }

    fn with_output(schema: Value) -> Tool {
        let input = object(json!({"type": "object", "properties": {"n": {"type": "integer"}}}));
        let mut t = Tool::new("t", "d", Arc::new(input));
        t.output_schema = Some(Arc::new(object(schema)));
        t
    }

    #[test]
    fn an_array_output_schema_is_wrapped_under_result() {
        let shown = tool(with_output(json!({"type": "array", "items": {"type": "integer"}})));
        assert_eq!(
            Value::Object((*shown.output_schema.unwrap()).clone()),
            json!({"type": "object", "properties": {"result": {"type": "array", "items": {"type": "integer"}}}, "required": ["result"]})
        );
    }

    #[test]
    fn an_object_output_schema_is_left_alone() {
        let schema = json!({"type": "object", "properties": {"x": {"type": "integer"}}});
        let shown = tool(with_output(schema.clone()));
        assert_eq!(Value::Object((*shown.output_schema.unwrap()).clone()), schema);
    }

    #[test]
    fn a_typeless_output_schema_is_wrapped_too() {
        let shown = tool(with_output(json!({"anyOf": [{"type": "string"}, {"type": "object"}]})));
        let schema = shown.output_schema.unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"]["result"]["anyOf"][0]["type"], "string");
    }

    #[test]
    fn wrapping_hoists_the_dialect_and_moves_same_document_references() {
        let shown = tool(with_output(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "array",
            "items": {"$ref": "#/$defs/item"},
            "$defs": {
                "item": {"type": "object", "properties": {
                    "next": {"$ref": "#"}, "$ref": {"type": "string"}, "default": {"$ref": "#/$defs/item"}
                }},
                "elsewhere": {"$ref": "https://example.com/s.json#/x"}
            },
            "default": [{"$ref": "#/not/a/pointer"}],
            "examples": [{"$ref": "#"}]
        })));
        let schema = Value::Object((*shown.output_schema.unwrap()).clone());
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let inner = &schema["properties"]["result"];
        assert_eq!(inner["items"]["$ref"], "#/properties/result/$defs/item");
        let item = &inner["$defs"]["item"];
        assert_eq!(item["properties"]["next"]["$ref"], "#/properties/result");
        // Properties named `$ref` or `default` are names: their schemas are
        // schemas.
        assert_eq!(item["properties"]["$ref"], json!({"type": "string"}));
        assert_eq!(item["properties"]["default"]["$ref"], "#/properties/result/$defs/item");
        assert_eq!(inner["$defs"]["elsewhere"]["$ref"], "https://example.com/s.json#/x");
        // Data is not a schema: its `$ref` keys are values.
        assert_eq!(inner["default"], json!([{"$ref": "#/not/a/pointer"}]));
        assert_eq!(inner["examples"], json!([{"$ref": "#"}]));
    }

    #[test]
    fn references_under_a_new_base_are_not_moved() {
        let natural = json!({"$id": "https://example.com/list", "type": "array", "items": {"$ref": "#/$defs/i"}});
        let shown = tool(with_output(natural.clone()));
        assert_eq!(shown.output_schema.unwrap()["properties"]["result"], natural);
        let nested = json!({"type": "array", "items": {"$id": "https://example.com/i", "$ref": "#/x"}, "contains": {"$id": "#anchor", "$ref": "#/y"}});
        let shown = tool(with_output(nested));
        let inner = &shown.output_schema.unwrap()["properties"]["result"];
        assert_eq!(inner["items"]["$ref"], "#/x");
        // A fragment `$id` is an anchor, not a base.
        assert_eq!(inner["contains"]["$ref"], "#/properties/result/y");
    }

    #[test]
    fn boolean_property_schemas_become_objects() {
        let input = object(
            json!({"type": "object", "properties": {"any": true, "none": false, "n": {"type": "integer"}}}),
        );
        let shown = tool(Tool::new("t", "d", Arc::new(input)));
        assert_eq!(
            Value::Object((*shown.input_schema).clone()),
            json!({"type": "object", "properties": {"any": {}, "none": {"not": {}}, "n": {"type": "integer"}}})
        );
    }

    fn result(structured: Value) -> CallToolResult {
        let mut r = CallToolResult::success(vec![ContentBlock::text("t")]);
        r.structured_content = Some(structured);
        r
    }

    #[test]
    fn non_object_structured_content_is_wrapped_under_result() {
        for value in [json!([1, 2]), json!(3), json!("s"), json!(null), json!(true)] {
            let mut r = result(value.clone());
            project_result(&mut r, None);
            assert_eq!(r.structured_content, Some(json!({"result": value})));
        }
    }

    #[test]
    fn object_structured_content_is_wrapped_only_when_its_schema_was() {
        let mut r = result(json!({"x": 1}));
        project_result(&mut r, Some(&object(json!({"type": "object"}))));
        assert_eq!(r.structured_content, Some(json!({"x": 1})));
        project_result(&mut r, Some(&object(json!({"anyOf": [{"type": "object"}]}))));
        assert_eq!(r.structured_content, Some(json!({"result": {"x": 1}})));
    }

    #[test]
    fn a_result_without_structured_content_is_unchanged() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("t")]);
        let before = r.clone();
        project_result(&mut r, Some(&object(json!({"type": "array"}))));
        assert_eq!(r, before);
    }
}
