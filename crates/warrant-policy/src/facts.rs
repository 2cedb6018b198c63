//! The facts a decision is made from, and their translation into Cedar
//! entities, context and requests.

use crate::args::FlatArgs;
use cedar_policy::entities_errors::EntitiesError;
use cedar_policy::{
    Context, ContextCreationError, Entities, Entity, EntityAttrEvaluationError, EntityId,
    EntityTypeName, EntityUid, ExpressionConstructionError, ParseErrors, PolicySetError, Request,
    RequestValidationError, RestrictedExpression,
};
use serde_json::Value;
use warrant_core::UnixMillis;

/// Cedar refused something Warrant built for it from the facts of a
/// decision: a value it cannot hold, or a bug in this crate. The decision
/// fails closed and carries this, with Cedar's reason, in its diagnostics.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    #[error("entity type `{name}`")]
    TypeName {
        name: &'static str,
        #[source]
        source: ParseErrors,
    },
    #[error("{entity}")]
    Entity {
        entity: &'static str,
        #[source]
        source: EntityAttrEvaluationError,
    },
    #[error("entities")]
    Entities(#[source] EntitiesError),
    #[error("command")]
    Command(#[source] ExpressionConstructionError),
    #[error("context")]
    Context(#[source] ContextCreationError),
    #[error("request")]
    Request(#[source] RequestValidationError),
    #[error("rule `{rule}`")]
    Rule {
        rule: String,
        #[source]
        source: PolicySetError,
    },
}

impl BuildError {
    fn entity(entity: &'static str) -> impl FnOnce(EntityAttrEvaluationError) -> Self {
        move |source| Self::Entity { entity, source }
    }
}

/// What policy may know about the calling agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    /// The agent id (a UUID); the uid of its `Agent` entity.
    pub id: String,
    pub name: String,
    pub task: String,
    pub spiffe_id: String,
    pub spawned_by: String,
    pub depth: i64,
    /// The chain of custody, root first: who spawned whom down to this agent.
    pub custody: Vec<String>,
}

/// What policy may know about the tool being called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFacts {
    /// Qualified name, e.g. `notes__search`; the uid of its `Tool` entity.
    pub name: String,
    /// The upstream's own name for the tool.
    pub tool: String,
    pub upstream: String,
    pub read_only: bool,
    pub destructive: bool,
    pub idempotent: bool,
    pub open_world: bool,
    /// The operator marked the upstream trusted.
    pub trusted: bool,
}

impl ToolFacts {
    /// Facts from a tool's MCP annotations, with the MCP defaults for hints
    /// the server left out: not read-only, destructive, not idempotent, open
    /// world. (The defaults assume the worst.)
    #[expect(
        clippy::too_many_arguments,
        reason = "one parameter per MCP annotation keeps call sites readable against the spec"
    )]
    pub fn from_annotations(
        name: impl Into<String>,
        tool: impl Into<String>,
        upstream: impl Into<String>,
        read_only_hint: Option<bool>,
        destructive_hint: Option<bool>,
        idempotent_hint: Option<bool>,
        open_world_hint: Option<bool>,
        trusted: bool,
    ) -> Self {
        Self {
            name: name.into(),
            tool: tool.into(),
            upstream: upstream.into(),
            read_only: read_only_hint.unwrap_or(false),
            destructive: destructive_hint.unwrap_or(true),
            idempotent: idempotent_hint.unwrap_or(false),
            open_world: open_world_hint.unwrap_or(true),
            trusted,
        }
    }
}

/// One call to decide.
#[derive(Debug, Clone, Copy)]
pub struct CallRequest<'a> {
    pub agent: &'a AgentFacts,
    pub tool: &'a ToolFacts,
    /// The call's `arguments` object as the agent sent it.
    pub arguments: &'a Value,
    /// The session has taken in untrusted content.
    pub tainted: bool,
    pub now: UnixMillis,
    /// For a command to run: what it would run (`context.command`).
    pub command: Option<&'a CommandFacts>,
}

/// What a command line would run, as the caller parsed it (every program
/// in pipelines, lists, substitutions and wrappers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandFacts {
    /// Program names (the last path component).
    pub programs: Vec<String>,
    /// Programs as written.
    pub paths: Vec<String>,
    /// Files written by redirection.
    pub writes: Vec<String>,
    /// Some program name comes from an expansion.
    pub dynamic: bool,
    /// An interpreter is given code inline.
    pub inline_code: bool,
}

/// One network connection to decide (`Action::"connect"`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectRequest<'a> {
    pub agent: &'a AgentFacts,
    /// The host as the agent named it, lowercase; or an IP literal.
    pub host: &'a str,
    pub port: u16,
    /// `CONNECT` for a tunnel, else the HTTP method.
    pub method: &'a str,
    /// The run declared this host (its profile or `--allow-host`).
    pub declared: bool,
    pub now: UnixMillis,
}

/// One use of a vault credential to decide (`Action::"use_credential"`).
#[derive(Debug, Clone, Copy)]
pub struct CredentialRequest<'a> {
    pub agent: &'a AgentFacts,
    /// The credential's name; the uid of its `Credential` entity.
    pub credential: &'a str,
    /// The hosts it is bound to.
    pub hosts: &'a [String],
    /// `upstream`, `http_request` or `egress`.
    pub via: &'a str,
    /// The tool the use serves; empty for egress.
    pub tool: &'a str,
    /// The destination host, or the upstream's name.
    pub host: &'a str,
    /// The destination is one the credential is bound to.
    pub bound: bool,
    pub now: UnixMillis,
}

/// The agent's and the tool's entities, ready to take a call's arguments.
#[derive(Debug)]
pub(crate) struct Base {
    /// The facts this was built from; a base is reused only for equal facts.
    pub(crate) agent: AgentFacts,
    pub(crate) tool: ToolFacts,
    principal: EntityUid,
    resource: EntityUid,
    pub(crate) entities: Entities,
}

/// The Cedar names of the schema's types, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    agent: EntityTypeName,
    tool: EntityTypeName,
    upstream: EntityTypeName,
    arguments: EntityTypeName,
    host: EntityTypeName,
    credential: EntityTypeName,
    call_tool: EntityUid,
    connect: EntityUid,
    use_credential: EntityUid,
}

impl Names {
    pub(crate) fn new() -> Result<Self, Box<BuildError>> {
        let parse = |name: &'static str| {
            name.parse::<EntityTypeName>()
                .map_err(|source| Box::new(BuildError::TypeName { name, source }))
        };
        let action = parse("Action")?;
        Ok(Self {
            agent: parse("Agent")?,
            tool: parse("Tool")?,
            upstream: parse("Upstream")?,
            arguments: parse("Arguments")?,
            host: parse("Host")?,
            credential: parse("Credential")?,
            call_tool: EntityUid::from_type_name_and_id(action.clone(), EntityId::new("call_tool")),
            connect: EntityUid::from_type_name_and_id(action.clone(), EntityId::new("connect")),
            use_credential: EntityUid::from_type_name_and_id(
                action,
                EntityId::new("use_credential"),
            ),
        })
    }

    fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    /// The parts of a request that depend only on the agent and the tool,
    /// built once and reused for every call of that tool by that agent.
    pub(crate) fn base(
        &self,
        agent: &AgentFacts,
        tool: &ToolFacts,
    ) -> Result<Base, Box<BuildError>> {
        let (principal, resource, entities) = self.scope_entities(agent, tool)?;
        let entities = Entities::from_entities(entities, None).map_err(BuildError::Entities)?;
        Ok(Base { agent: agent.clone(), tool: tool.clone(), principal, resource, entities })
    }

    /// The request and entities for deciding one call with its arguments
    /// flattened (`flat`).
    pub(crate) fn request(
        &self,
        base: &Base,
        req: &CallRequest<'_>,
        flat: FlatArgs,
    ) -> Result<(Request, Entities), Box<BuildError>> {
        let truncated = flat.not_whole.is_some();
        let args_uid = Self::uid(&self.arguments, "call");
        let tags = flat
            .tags
            .into_iter()
            .map(|(name, value)| (name, RestrictedExpression::new_string(value)));
        let arguments = Entity::new_with_tags(args_uid.clone(), [], [], tags)
            .map_err(BuildError::entity("arguments"))?;

        let custody = req.agent.custody.iter().map(|c| RestrictedExpression::new_string(c.clone()));
        let mut pairs = vec![
            ("args".to_owned(), RestrictedExpression::new_entity_uid(args_uid)),
            ("task".to_owned(), RestrictedExpression::new_string(req.agent.task.clone())),
            ("custody".to_owned(), RestrictedExpression::new_set(custody)),
            ("tainted".to_owned(), RestrictedExpression::new_bool(req.tainted)),
            ("now".to_owned(), RestrictedExpression::new_long(req.now.as_secs())),
            ("args_truncated".to_owned(), RestrictedExpression::new_bool(truncated)),
        ];
        if let Some(command) = req.command {
            let set = |items: &[String]| {
                RestrictedExpression::new_set(
                    items.iter().map(|i| RestrictedExpression::new_string(i.clone())),
                )
            };
            let record = RestrictedExpression::new_record([
                ("programs".to_owned(), set(&command.programs)),
                ("paths".to_owned(), set(&command.paths)),
                ("writes".to_owned(), set(&command.writes)),
                ("dynamic".to_owned(), RestrictedExpression::new_bool(command.dynamic)),
                ("inline_code".to_owned(), RestrictedExpression::new_bool(command.inline_code)),
            ])
            .map_err(BuildError::Command)?;
            pairs.push(("command".to_owned(), record));
        }
        let context = Context::from_pairs(pairs).map_err(BuildError::Context)?;

        let request = Request::new(
            base.principal.clone(),
            self.call_tool.clone(),
            base.resource.clone(),
            context,
            None,
        )
        .map_err(BuildError::Request)?;
        let entities =
            base.entities.clone().add_entities([arguments], None).map_err(BuildError::Entities)?;
        Ok((request, entities))
    }

    /// The request and entities for deciding one connection.
    pub(crate) fn connect_request(
        &self,
        req: &ConnectRequest<'_>,
    ) -> Result<(Request, Entities), Box<BuildError>> {
        let agent_uid = Self::uid(&self.agent, &req.agent.id);
        let agent = self.agent_entity(agent_uid.clone(), req.agent)?;
        let host_uid = Self::uid(&self.host, req.host);
        let host = Entity::new_with_tags(
            host_uid.clone(),
            [("name".to_owned(), RestrictedExpression::new_string(req.host.to_owned()))],
            [],
            [],
        )
        .map_err(BuildError::entity("host"))?;
        let custody = req.agent.custody.iter().map(|c| RestrictedExpression::new_string(c.clone()));
        let context = Context::from_pairs([
            ("port".to_owned(), RestrictedExpression::new_long(i64::from(req.port))),
            ("method".to_owned(), RestrictedExpression::new_string(req.method.to_owned())),
            ("declared".to_owned(), RestrictedExpression::new_bool(req.declared)),
            ("task".to_owned(), RestrictedExpression::new_string(req.agent.task.clone())),
            ("custody".to_owned(), RestrictedExpression::new_set(custody)),
            ("now".to_owned(), RestrictedExpression::new_long(req.now.as_secs())),
        ])
        .map_err(BuildError::Context)?;
        let request = Request::new(agent_uid, self.connect.clone(), host_uid, context, None)
            .map_err(BuildError::Request)?;
        let entities =
            Entities::from_entities([agent, host], None).map_err(BuildError::Entities)?;
        Ok((request, entities))
    }

    /// The request and entities for deciding one use of a credential.
    pub(crate) fn credential_request(
        &self,
        req: &CredentialRequest<'_>,
    ) -> Result<(Request, Entities), Box<BuildError>> {
        let agent_uid = Self::uid(&self.agent, &req.agent.id);
        let agent = self.agent_entity(agent_uid.clone(), req.agent)?;
        let credential_uid = Self::uid(&self.credential, req.credential);
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let hosts = RestrictedExpression::new_set(req.hosts.iter().map(|h| string(h)));
        let credential = Entity::new_with_tags(
            credential_uid.clone(),
            [("name".to_owned(), string(req.credential)), ("hosts".to_owned(), hosts)],
            [],
            [],
        )
        .map_err(BuildError::entity("credential"))?;
        let custody = req.agent.custody.iter().map(|c| string(c));
        let context = Context::from_pairs([
            ("via".to_owned(), string(req.via)),
            ("tool".to_owned(), string(req.tool)),
            ("host".to_owned(), string(req.host)),
            ("bound".to_owned(), RestrictedExpression::new_bool(req.bound)),
            ("task".to_owned(), string(&req.agent.task)),
            ("custody".to_owned(), RestrictedExpression::new_set(custody)),
            ("now".to_owned(), RestrictedExpression::new_long(req.now.as_secs())),
        ])
        .map_err(BuildError::Context)?;
        let request =
            Request::new(agent_uid, self.use_credential.clone(), credential_uid, context, None)
                .map_err(BuildError::Request)?;
        let entities =
            Entities::from_entities([agent, credential], None).map_err(BuildError::Entities)?;
        Ok((request, entities))
    }

    fn agent_entity(&self, uid: EntityUid, agent: &AgentFacts) -> Result<Entity, Box<BuildError>> {
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let entity = Entity::new_with_tags(
            uid,
            [
                ("name".to_owned(), string(&agent.name)),
                ("task".to_owned(), string(&agent.task)),
                ("spiffe_id".to_owned(), string(&agent.spiffe_id)),
                ("spawned_by".to_owned(), string(&agent.spawned_by)),
                ("depth".to_owned(), RestrictedExpression::new_long(agent.depth)),
            ],
            [],
            [],
        )
        .map_err(BuildError::entity("agent"))?;
        Ok(entity)
    }

    /// The request for a decision whose context is unknown.
    pub(crate) fn partial_request(&self, base: &Base) -> Request {
        // No context: partial evaluation treats all of it as unknown.
        Request::builder()
            .principal(base.principal.clone())
            .action(self.call_tool.clone())
            .resource(base.resource.clone())
            .build()
    }

    /// The principal and resource uids and their entities (agent, tool, upstream).
    fn scope_entities(
        &self,
        agent: &AgentFacts,
        tool: &ToolFacts,
    ) -> Result<(EntityUid, EntityUid, Vec<Entity>), Box<BuildError>> {
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let agent_uid = Self::uid(&self.agent, &agent.id);
        let agent_entity = self.agent_entity(agent_uid.clone(), agent)?;

        let upstream_uid = Self::uid(&self.upstream, &tool.upstream);
        let tool_uid = Self::uid(&self.tool, &tool.name);
        let bool_attr = |name: &str, b: bool| (name.to_owned(), RestrictedExpression::new_bool(b));
        let tool_entity = Entity::new_with_tags(
            tool_uid.clone(),
            [
                ("name".to_owned(), string(&tool.name)),
                ("tool".to_owned(), string(&tool.tool)),
                ("upstream".to_owned(), string(&tool.upstream)),
                bool_attr("read_only", tool.read_only),
                bool_attr("destructive", tool.destructive),
                bool_attr("idempotent", tool.idempotent),
                bool_attr("open_world", tool.open_world),
                bool_attr("trusted", tool.trusted),
            ],
            [upstream_uid.clone()],
            [],
        )
        .map_err(BuildError::entity("tool"))?;
        let upstream_entity = Entity::new_no_attrs(upstream_uid, Default::default());
        Ok((agent_uid, tool_uid, vec![agent_entity, tool_entity, upstream_entity]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn cedars_reason_is_kept_as_the_source() {
        let source = "not a type".parse::<EntityTypeName>().unwrap_err();
        let reason = source.to_string();
        let error = BuildError::TypeName { name: "not a type", source };
        assert_eq!(error.to_string(), "entity type `not a type`");
        let shown = warrant_core::text::with_causes(&error);
        assert!(shown.starts_with(&format!("entity type `not a type`: {reason}")), "{shown}");
    }

    #[test]
    fn missing_hints_take_the_cautious_mcp_defaults() {
        let t = ToolFacts::from_annotations("n__t", "t", "n", None, None, None, None, false);
        assert!(!t.read_only && t.destructive && !t.idempotent && t.open_world);
        let t = ToolFacts::from_annotations(
            "n__t",
            "t",
            "n",
            Some(true),
            Some(false),
            Some(true),
            Some(false),
            true,
        );
        assert!(t.read_only && !t.destructive && t.idempotent && !t.open_world && t.trusted);
    }
}
