//! Both MCP protocol eras on both sides of the gateway.
//!
//! An agent and an upstream each negotiate an era of their own: 2025-11-25
//! (and earlier: the `initialize` handshake, sessions) or 2026-07-28
//! (`server/discover`, stateless requests). rmcp types every message in one
//! era-neutral model and, serving an agent, adds or strips only what it
//! builds itself (`resultType`, cache hints). What Warrant relays from an
//! upstream keeps the shape of the upstream's era unless it is translated
//! here, so a 2025-11-25 upstream's tool result reached a 2026-07-28 agent
//! without the `resultType` that era requires, and a 2026-07-28 upstream's
//! array `structuredContent` reached a 2025-11-25 agent, which requires an
//! object.
//!
//! Everything an upstream answers is lifted into the neutral model
//! ([`from_upstream`]), then lowered into the era of the agent that asked
//! ([`to_agent`], [`tools_result_for`]); tool-list changes travel by each
//! era's route ([`listen`]). What has no form in the other era is refused
//! with a reason ([`Unrelayable`], [`unrelayable_request`]), never dropped.
//!
//! Not translated because Warrant does not carry it at all: progress and
//! log notifications, request `_meta` (trace context, progress tokens),
//! prompts, resources and tasks.

mod legacy;
pub mod listen;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InputRequest, JsonObject, ListToolsResult, MetaObject, ProtocolVersion, ResultType, Tool,
};
use rmcp::service::{Peer, RequestContext, RoleClient, RoleServer};

/// The `_meta` key under which a 2026-07-28 result names the server that
/// produced it.
const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// The protocol era a peer negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25 and earlier: the `initialize` handshake and sessions.
    Legacy,
    /// 2026-07-28: `server/discover`, every request on its own.
    Stateless,
}

impl Era {
    /// The era of a protocol version (none known: the handshake era).
    pub fn of(version: Option<&ProtocolVersion>) -> Self {
        match version {
            Some(v) if v.as_str() >= ProtocolVersion::V_2026_07_28.as_str() => Self::Stateless,
            _ => Self::Legacy,
        }
    }

    /// The era of the agent that sent a request.
    pub fn of_agent(context: &RequestContext<RoleServer>) -> Self {
        Self::of(context.protocol_version().as_ref())
    }

    /// The era an upstream connection negotiated.
    pub fn of_upstream(peer: &Peer<RoleClient>) -> Self {
        Self::of(peer.peer_info().map(|info| info.protocol_version.clone()).as_ref())
    }
}

/// An upstream's answer to `tools/call` that has no form Warrant can relay.
#[derive(Debug, thiserror::Error)]
pub enum Unrelayable {
    #[error(
        "it asked the client for input first ({methods}: a 2026-07-28 multi round-trip request); Warrant offers upstreams no sampling, elicitation or roots and relays no input responses"
    )]
    InputRequired { methods: String },
    #[error(
        "it answered with a task handle (the `io.modelcontextprotocol/tasks` extension), which Warrant does not relay"
    )]
    Task,
    #[error("it answered with a kind of result Warrant does not know")]
    Unknown,
}

/// Lifts an upstream's answer to `tools/call` into the era-neutral result
/// Warrant relays: a result from a 2025-11-25 upstream carries no
/// `resultType` and is complete, as the 2026-07-28 specification says of
/// such results; the upstream's identity stamp is removed (agents talk to
/// Warrant, not to it); array or scalar `structuredContent` gets the text
/// block SEP-2106 requires beside it, if it has no text.
pub fn from_upstream(response: CallToolResponse) -> Result<CallToolResult, Unrelayable> {
    let mut result = match response {
        CallToolResponse::Complete(result) => result,
        CallToolResponse::InputRequired(asked) => {
            let methods: Vec<&str> = asked
                .input_requests
                .iter()
                .flat_map(|requests| requests.values())
                .map(input_method)
                .collect();
            let methods =
                if methods.is_empty() { "no request named".into() } else { methods.join(", ") };
            return Err(Unrelayable::InputRequired { methods });
        }
        CallToolResponse::Task(_) => return Err(Unrelayable::Task),
        _ => return Err(Unrelayable::Unknown),
    };
    result.result_type.get_or_insert(ResultType::COMPLETE);
    without_server_info(&mut result.meta);
    if result.structured_content.as_ref().is_some_and(|v| !v.is_object())
        && !result.content.iter().any(|block| block.as_text().is_some())
    {
        let text = result.structured_content.as_ref().map(|v| v.to_string()).unwrap_or_default();
        result.content.push(ContentBlock::text(text));
    }
    Ok(result)
}

/// Lowers a tool result into the era of the agent it goes to.
///
/// A 2025-11-25 agent gets SEP-2106's projection (`structuredContent` that
/// is not an object, or whose tool declares a schema that is not an object,
/// becomes `{"result": value}`, as its listing said); rmcp then drops the
/// `resultType`. A 2026-07-28 agent gets a `resultType` and Warrant's own
/// identity stamp. `output_schema` is the tool's schema as the upstream
/// declared it.
pub fn to_agent(
    era: Era,
    response: CallToolResponse,
    output_schema: Option<&JsonObject>,
    server: &Implementation,
) -> CallToolResponse {
    let mut result = match response {
        CallToolResponse::Complete(result) => result,
        // `from_upstream` keeps these from reaching an agent; should one be
        // made here after all, the agent still learns why it got nothing.
        other => match from_upstream(other) {
            Ok(result) => result,
            Err(why) => CallToolResult::error(vec![ContentBlock::text(format!("warrant: {why}"))]),
        },
    };
    match era {
        Era::Legacy => {
            legacy::project_result(&mut result, output_schema);
            without_server_info(&mut result.meta);
        }
        Era::Stateless => {
            result.result_type.get_or_insert(ResultType::COMPLETE);
            stamp_server_info(&mut result.meta, server);
        }
    }
    CallToolResponse::Complete(result)
}

/// The `tools/list` result for an agent of `era`: a 2025-11-25 agent sees
/// each tool's schemas in the form its era allows (SEP-2106's wrap of a
/// non-object output schema; `true`/`false` property schemas as `{}` and
/// `{"not": {}}`); a 2026-07-28 agent sees them as declared, and Warrant's
/// identity stamp.
pub fn tools_result_for(era: Era, tools: Vec<Tool>, server: &Implementation) -> ListToolsResult {
    match era {
        Era::Legacy => {
            ListToolsResult::with_all_items(tools.into_iter().map(legacy::tool).collect())
        }
        Era::Stateless => {
            let mut result = ListToolsResult::with_all_items(tools);
            stamp_server_info(&mut result.meta, server);
            result
        }
    }
}

/// Why a call cannot be relayed as the agent sent it, if it cannot: the
/// retry of a multi round-trip request carries `inputResponses` (and
/// `requestState`) that only the upstream that asked could read, and no
/// upstream asked through Warrant.
pub fn unrelayable_request(request: &CallToolRequestParams) -> Option<&'static str> {
    (request.input_responses.is_some() || request.request_state.is_some()).then_some(
        "the call carries `inputResponses` or `requestState` (a retry of a multi round-trip request); Warrant relays no input to upstreams, and no upstream asked for any through it",
    )
}

fn input_method(request: &InputRequest) -> &'static str {
    match request {
        InputRequest::CreateMessage(_) => "sampling/createMessage",
        InputRequest::Elicitation(_) => "elicitation/create",
        InputRequest::ListRoots(_) => "roots/list",
        _ => "a request of a kind Warrant does not know",
    }
}

fn without_server_info(meta: &mut Option<MetaObject>) {
    if let Some(m) = meta.as_mut() {
        m.remove(SERVER_INFO);
        if m.is_empty() {
            *meta = None;
        }
    }
}

fn stamp_server_info(meta: &mut Option<MetaObject>, server: &Implementation) {
    if let Ok(value) = serde_json::to_value(server) {
        meta.get_or_insert_with(MetaObject::default).insert(SERVER_INFO.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{CreateTaskResult, InputRequiredResult};
    use serde_json::{Value, json};
    use std::sync::Arc;

    fn warrant() -> Implementation {
        Implementation::new("warrant", "0.1.0")
    }

    /// A result as rmcp parses it from an upstream's JSON.
    fn parsed(json: Value) -> CallToolResponse {
        CallToolResponse::Complete(serde_json::from_value(json).unwrap())
    }

    fn wire(response: &CallToolResponse) -> Value {
        let CallToolResponse::Complete(result) = response else { panic!("not complete") };
        serde_json::to_value(result).unwrap()
    }

    fn object(value: Value) -> JsonObject {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn versions_from_2026_07_28_on_are_the_stateless_era() {
        assert_eq!(Era::of(Some(&ProtocolVersion::V_2026_07_28)), Era::Stateless);
        assert_eq!(Era::of(Some(&ProtocolVersion::V_2025_11_25)), Era::Legacy);
        assert_eq!(Era::of(Some(&ProtocolVersion::V_2024_11_05)), Era::Legacy);
        assert_eq!(Era::of(None), Era::Legacy);
    }

    #[test]
    fn a_2025_result_reaches_a_2026_agent_with_its_result_type() {
        let upstream = parsed(json!({"content": [{"type": "text", "text": "Echo: hi"}]}));
        assert!(wire(&upstream).get("resultType").is_none());
        let lifted = from_upstream(upstream).unwrap();
        // Absent means complete: the neutral result says so.
        assert_eq!(lifted.result_type, Some(ResultType::COMPLETE));
        let out = to_agent(Era::Stateless, CallToolResponse::Complete(lifted), None, &warrant());
        let out = wire(&out);
        assert_eq!(out["resultType"], "complete");
        assert_eq!(out["content"][0]["text"], "Echo: hi");
        // Lowering for a 2026-07-28 agent adds it to whatever lacks it.
        let bare = parsed(json!({"content": []}));
        assert_eq!(
            wire(&to_agent(Era::Stateless, bare, None, &warrant()))["resultType"],
            "complete"
        );
    }

    #[test]
    fn a_2026_agent_sees_warrants_identity_not_the_upstreams() {
        let upstream = parsed(json!({
            "content": [], "resultType": "complete",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern-fixture", "version": "2.0"}, "x.example/trace": 1}
        }));
        let lifted = from_upstream(upstream).unwrap();
        let out =
            wire(&to_agent(Era::Stateless, CallToolResponse::Complete(lifted), None, &warrant()));
        assert_eq!(
            out["_meta"]["io.modelcontextprotocol/serverInfo"],
            json!({"name": "warrant", "version": "0.1.0"})
        );
        assert_eq!(out["_meta"]["x.example/trace"], 1);
    }

    #[test]
    fn a_2025_agent_gets_no_2026_vocabulary_in_meta() {
        let upstream = parsed(json!({
            "content": [], "resultType": "complete",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "modern-fixture", "version": "2.0"}}
        }));
        let lifted = from_upstream(upstream).unwrap();
        let out =
            wire(&to_agent(Era::Legacy, CallToolResponse::Complete(lifted), None, &warrant()));
        assert!(out.get("_meta").is_none(), "{out}");
    }

    #[test]
    fn array_structured_content_reaches_a_2025_agent_wrapped_with_its_text() {
        let upstream = parsed(
            json!({"content": [], "structuredContent": [0, 2, 4], "resultType": "complete"}),
        );
        let lifted = from_upstream(upstream).unwrap();
        let schema = object(json!({"type": "array", "items": {"type": "integer"}}));
        let out = wire(&to_agent(
            Era::Legacy,
            CallToolResponse::Complete(lifted.clone()),
            Some(&schema),
            &warrant(),
        ));
        assert_eq!(out["structuredContent"], json!({"result": [0, 2, 4]}));
        assert_eq!(out["content"], json!([{"type": "text", "text": "[0,2,4]"}]));
        // A 2026-07-28 agent gets the value as the upstream sent it.
        let out = wire(&to_agent(
            Era::Stateless,
            CallToolResponse::Complete(lifted),
            Some(&schema),
            &warrant(),
        ));
        assert_eq!(out["structuredContent"], json!([0, 2, 4]));
    }

    #[test]
    fn a_text_block_already_there_is_not_doubled() {
        let upstream =
            parsed(json!({"content": [{"type": "text", "text": "three"}], "structuredContent": 3}));
        let lifted = from_upstream(upstream).unwrap();
        assert_eq!(lifted.content.len(), 1);
        let upstream = parsed(json!({"content": [], "structuredContent": {"x": 1}}));
        assert!(from_upstream(upstream).unwrap().content.is_empty());
    }

    #[test]
    fn input_required_and_tasks_are_refused_with_a_reason() {
        let asked: InputRequiredResult = serde_json::from_value(json!({
            "resultType": "input_required",
            "inputRequests": {"who": {"method": "elicitation/create", "params": {"mode": "form", "message": "Name?", "requestedSchema": {"type": "object", "properties": {}}}}},
            "requestState": "opaque"
        }))
        .unwrap();
        let why = from_upstream(CallToolResponse::InputRequired(asked)).unwrap_err().to_string();
        assert!(why.contains("elicitation/create") && why.contains("relays no input"), "{why}");
        let task: CreateTaskResult = serde_json::from_value(json!({
            "resultType": "task",
            "taskId": "t1", "status": "working", "createdAt": "2026-01-01T00:00:00Z", "lastUpdatedAt": "2026-01-01T00:00:00Z", "ttlMs": 1000
        }))
        .unwrap();
        let why = from_upstream(CallToolResponse::Task(task)).unwrap_err().to_string();
        assert!(why.contains("task"), "{why}");
    }

    #[test]
    fn a_legacy_agent_lists_wrapped_schemas_and_a_modern_one_the_originals() {
        let mut t = Tool::new("evens", "d", Arc::new(object(json!({"type": "object"}))));
        t.output_schema = Some(Arc::new(object(json!({"type": "array"}))));
        let legacy =
            serde_json::to_value(tools_result_for(Era::Legacy, vec![t.clone()], &warrant()))
                .unwrap();
        assert_eq!(
            legacy["tools"][0]["outputSchema"]["properties"]["result"],
            json!({"type": "array"})
        );
        assert!(legacy.get("_meta").is_none());
        let modern =
            serde_json::to_value(tools_result_for(Era::Stateless, vec![t], &warrant())).unwrap();
        assert_eq!(modern["tools"][0]["outputSchema"], json!({"type": "array"}));
        assert_eq!(modern["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "warrant");
    }

    #[test]
    fn a_call_carrying_input_responses_is_not_relayed() {
        let plain: CallToolRequestParams =
            serde_json::from_value(json!({"name": "t", "arguments": {}})).unwrap();
        assert!(unrelayable_request(&plain).is_none());
        let retry: CallToolRequestParams = serde_json::from_value(
            json!({"name": "t", "arguments": {}, "inputResponses": {"who": {"action": "accept"}}, "requestState": "s"}),
        )
        .unwrap();
        assert!(unrelayable_request(&retry).is_some());
        let state_only: CallToolRequestParams =
            serde_json::from_value(json!({"name": "t", "requestState": "s"})).unwrap();
        assert!(unrelayable_request(&state_only).is_some());
    }
}
