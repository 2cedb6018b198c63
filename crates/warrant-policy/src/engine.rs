//! The policy engine: checked rules, sliced per tool, deciding calls.
//!
//! Decision time must not grow with rules that cannot apply. Rules are
//! bucketed by their resource scope (one tool, one upstream, or common); the
//! rules for a tool are common + its upstream's + its own, assembled into
//! Cedar policy sets on first use and cached. The agent's and tool's
//! entities are cached too (per tool, per agent, checked against the facts
//! on every use), so a call only builds its arguments and context.

use crate::args;
use crate::decision::{Decision, EvalDiagnostic, PendingApproval, Permit, RuleRef};
use crate::error::{PolicyError, Problem};
use crate::facts::{
    AgentFacts, Base, BuildError, CallRequest, ConnectRequest, CredentialRequest, Names, ToolFacts,
};
use crate::load::{self, Kind, PolicySource, Rule, Scope};
use crate::whole::{self, ArgumentsNotWhole};
use cedar_policy::{
    AuthorizationError, Authorizer, Entities, PolicyId, PolicySet, Request, Schema,
};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use warrant_core::text::with_causes;

/// More cached slices than this and the cache starts over; tool names come
/// from upstream servers, which must not be able to grow memory without end.
const MAX_CACHED_SLICES: usize = 4096;

/// Checked policies, ready to decide calls. `Send + Sync`; share it.
pub struct PolicyEngine {
    rules: Vec<Rule>,
    by_id: HashMap<String, usize>,
    common: Vec<usize>,
    by_upstream: HashMap<String, Vec<usize>>,
    by_tool: HashMap<String, Vec<usize>>,
    warnings: Vec<String>,
    names: Names,
    authorizer: Authorizer,
    /// upstream name -> tool name -> that tool's slice.
    slices: RwLock<HashMap<String, HashMap<String, Arc<Slice>>>>,
    /// The rules that can decide a connection or a credential use (those
    /// not scoped to a tool or an upstream), and their permits alone.
    connect_all: PolicySet,
    connect_permits: PolicySet,
    arguments_not_whole: ArgumentsNotWhole,
}

/// More cached agent bases per tool than this and that cache starts over.
const MAX_CACHED_BASES: usize = 256;

/// The rules that can apply to one tool, as Cedar policy sets, and the
/// entities of the agents that call it.
struct Slice {
    permits: PolicySet,
    all: PolicySet,
    /// agent id -> that agent's and this tool's entities.
    bases: RwLock<HashMap<String, Arc<Base>>>,
}

impl Slice {
    /// The cached base for `agent` and `tool`, rebuilt if the facts changed.
    fn base(
        &self,
        names: &Names,
        agent: &AgentFacts,
        tool: &ToolFacts,
    ) -> Result<Arc<Base>, Box<BuildError>> {
        {
            let bases = self.bases.read().unwrap_or_else(|p| p.into_inner());
            if let Some(base) = bases.get(&agent.id)
                && base.agent == *agent
                && base.tool == *tool
            {
                return Ok(Arc::clone(base));
            }
        }
        let base = Arc::new(names.base(agent, tool)?);
        let mut bases = self.bases.write().unwrap_or_else(|p| p.into_inner());
        if bases.len() >= MAX_CACHED_BASES {
            bases.clear();
        }
        bases.insert(agent.id.clone(), Arc::clone(&base));
        Ok(base)
    }
}

impl PolicyEngine {
    /// Parses, checks and validates (strictly, against [`crate::SCHEMA`]) the
    /// given files, reporting every problem found.
    pub fn new(sources: &[PolicySource]) -> Result<Self, PolicyError> {
        let schema = crate::schema().map_err(|p| PolicyError::new(vec![p]))?;
        let names = Names::new()
            .map_err(|e| PolicyError::new(vec![Problem::Schema { message: with_causes(&e) }]))?;
        let (rules, warnings) = load::load(sources, &schema).map_err(PolicyError::new)?;

        let mut common = Vec::new();
        let mut by_upstream: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_tool: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_id = HashMap::new();
        for (index, rule) in rules.iter().enumerate() {
            by_id.insert(rule.id.clone(), index);
            match &rule.scope {
                Scope::Common => common.push(index),
                Scope::Upstream(u) => by_upstream.entry(u.clone()).or_default().push(index),
                Scope::Tool(t) => by_tool.entry(t.clone()).or_default().push(index),
            }
        }
        let mut connect_all = PolicySet::new();
        let mut connect_permits = PolicySet::new();
        for rule in common.iter().filter_map(|i| rules.get(*i)) {
            let problem = |e: cedar_policy::PolicySetError| {
                PolicyError::new(vec![Problem::Schema {
                    message: format!("rule `{}`: {e}", rule.id),
                }])
            };
            connect_all.add(rule.policy.clone()).map_err(problem)?;
            if rule.kind == Kind::Permit {
                connect_permits.add(rule.policy.clone()).map_err(problem)?;
            }
        }
        Ok(Self {
            connect_all,
            connect_permits,
            rules,
            by_id,
            common,
            by_upstream,
            by_tool,
            warnings,
            names,
            authorizer: Authorizer::new(),
            slices: RwLock::new(HashMap::new()),
            arguments_not_whole: ArgumentsNotWhole::default(),
        })
    }

    /// What becomes of a call policy would allow, or ask about, whose
    /// arguments it could not see whole ([`ArgumentsNotWhole::Deny`] unless
    /// set otherwise).
    #[must_use]
    pub fn with_arguments_not_whole(mut self, mode: ArgumentsNotWhole) -> Self {
        self.arguments_not_whole = mode;
        self
    }

    /// Decides one call: hard forbid → deny; else `@ask` forbid and permit →
    /// ask; else permit → allow; else deny by default. Then, if policy could
    /// not see the arguments whole (see [`crate::MAX_ARGUMENT_BYTES`] and
    /// its siblings), an allow or an ask becomes a deny, or an ask, by
    /// [`crate::ARGUMENTS_NOT_WHOLE_RULE`], as [`Self::with_arguments_not_whole`]
    /// set: no rule has to remember it.
    ///
    /// A rule whose condition fails to evaluate does not match (Cedar's
    /// semantics) and is reported in the decision's diagnostics. For a permit
    /// that fails closed; a forbid that errors does not apply, so guard
    /// argument access with `hasTag` (strict validation insists on it).
    pub fn decide(&self, req: &CallRequest<'_>) -> Decision {
        let tool = req.tool.name.as_str();
        let agent = req.agent.id.as_str();
        let fail = |error: Box<BuildError>| Decision::Deny {
            rules: Vec::new(),
            reason: format!("policy could not be evaluated for `{tool}`"),
            diagnostics: vec![EvalDiagnostic { rule: String::new(), message: with_causes(&error) }],
        };
        let slice = match self.slice(req.tool) {
            Ok(slice) => slice,
            Err(error) => return fail(error),
        };
        let flat = args::flatten(req.arguments);
        let not_whole = flat.not_whole.clone();
        let built = slice
            .base(&self.names, req.agent, req.tool)
            .and_then(|base| self.names.request(&base, req, flat));
        let (request, entities) = match built {
            Ok(built) => built,
            Err(error) => return fail(error),
        };
        let decision = self.judge(&slice.all, &slice.permits, &request, &entities, tool, agent);
        match not_whole {
            None => decision,
            Some(why) => whole::refuse(decision, &why, self.arguments_not_whole, tool, agent),
        }
    }

    /// Decides one network connection through the egress proxy
    /// (`Action::"connect"` on a `Host`), with the same three outcomes and
    /// rules as calls. Only rules not scoped to a tool or upstream can
    /// apply.
    pub fn decide_connect(&self, req: &ConnectRequest<'_>) -> Decision {
        let resource = format!("{}:{}", req.host, req.port);
        let (request, entities) = match self.names.connect_request(req) {
            Ok(built) => built,
            Err(error) => {
                let message = with_causes(&error);
                return Decision::Deny {
                    rules: Vec::new(),
                    reason: format!("policy could not be evaluated for `{resource}`"),
                    diagnostics: vec![EvalDiagnostic { rule: String::new(), message }],
                };
            }
        };
        self.judge(
            &self.connect_all,
            &self.connect_permits,
            &request,
            &entities,
            &resource,
            &req.agent.id,
        )
    }

    /// Decides a connection (`Action::"connect"`) for the agent and, for a
    /// child, for every ancestor too, as [`Self::decide_in_custody`] does for
    /// calls: any denial refuses (an ancestor's saying so), otherwise every
    /// rule that asks, the agent's own first, is put to a person once for the
    /// whole chain. Both of Warrant's egress paths (a `warrant run` proxy and
    /// `warrant__http_request`) decide through this.
    pub fn decide_connect_in_custody(
        &self,
        req: &ConnectRequest<'_>,
        ancestors: &[AgentFacts],
    ) -> Decision {
        let own = self.decide_connect(req);
        if ancestors.is_empty() || own.outcome() == crate::Outcome::Deny {
            return own;
        }
        let resource = format!("{}:{}", req.host, req.port);
        let mut asks: Vec<RuleRef> = Vec::new();
        for ancestor in ancestors {
            match self.decide_connect(&ConnectRequest { agent: ancestor, ..*req }) {
                Decision::Deny { rules, reason, diagnostics } => {
                    return Decision::Deny {
                        rules,
                        reason: format!(
                            "`{resource}` is beyond what ancestor `{}` may reach: {reason}",
                            ancestor.name
                        ),
                        diagnostics,
                    };
                }
                Decision::Ask { rules, .. } => asks.extend(rules),
                Decision::Allow { .. } => {}
            }
        }
        if asks.is_empty() {
            return own;
        }
        let (mut rules, permitted, pending, diagnostics) = match own {
            Decision::Allow { permit, diagnostics, .. } => {
                (Vec::new(), permit.into_rules(), None, diagnostics)
            }
            Decision::Ask { pending, rules, diagnostics } => {
                (rules, Vec::new(), Some(pending), diagnostics)
            }
            deny @ Decision::Deny { .. } => return deny,
        };
        for rule in asks {
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        let ask_ids = rules.iter().map(|r| r.id.clone()).collect();
        let pending = match pending {
            Some(pending) => pending.with_ask_rules(ask_ids),
            None => PendingApproval::new(&resource, &req.agent.id, permitted, ask_ids),
        };
        Decision::Ask { pending, rules, diagnostics }
    }

    /// Decides one use of a vault credential (`Action::"use_credential"`) by
    /// the agent and, for a child, by every ancestor too: the strictest
    /// answer wins, as for calls. An `@ask` rule counts as a deny here: a
    /// credential use happens inside a call or a request already under way,
    /// where no person can be asked in time.
    pub fn decide_credential(
        &self,
        req: &CredentialRequest<'_>,
        ancestors: &[AgentFacts],
    ) -> Decision {
        let resource = format!("credential `{}`", req.credential);
        let one = |agent: &AgentFacts| {
            let (request, entities) =
                match self.names.credential_request(&CredentialRequest { agent, ..*req }) {
                    Ok(built) => built,
                    Err(error) => {
                        let message = with_causes(&error);
                        return Decision::Deny {
                            rules: Vec::new(),
                            reason: format!("policy could not be evaluated for {resource}"),
                            diagnostics: vec![EvalDiagnostic { rule: String::new(), message }],
                        };
                    }
                };
            match self.judge(
                &self.connect_all,
                &self.connect_permits,
                &request,
                &entities,
                &resource,
                &agent.id,
            ) {
                Decision::Ask { rules, diagnostics, .. } => Decision::Deny {
                    reason: format!(
                        "{resource} needs a person's approval, which cannot be asked for a credential use"
                    ),
                    rules,
                    diagnostics,
                },
                other => other,
            }
        };
        let own = one(req.agent);
        if own.outcome() != crate::Outcome::Allow {
            return own;
        }
        for ancestor in ancestors {
            if let Decision::Deny { rules, reason, diagnostics } = one(ancestor) {
                return Decision::Deny {
                    rules,
                    reason: format!("beyond what ancestor `{}` may do: {reason}", ancestor.name),
                    diagnostics,
                };
            }
        }
        own
    }

    /// Hard forbid → deny; else `@ask` forbid and permit → ask; else permit
    /// → allow; else deny by default. `resource` names what the permit is
    /// for.
    fn judge(
        &self,
        all: &PolicySet,
        permits_only: &PolicySet,
        request: &Request,
        entities: &Entities,
        resource: &str,
        agent: &str,
    ) -> Decision {
        let tool = resource;
        let mut diagnostics = Vec::new();

        // One pass over every rule that can apply: Cedar reports the
        // satisfied forbids if there are any, else the satisfied permits.
        let first = self.matching(all, request, entities, Some(&mut diagnostics));
        let of_kind = |kind: Kind| -> Vec<usize> {
            first
                .iter()
                .copied()
                .filter(|i| self.rules.get(*i).is_some_and(|r| r.kind == kind))
                .collect()
        };
        let hard = self.refs(&of_kind(Kind::HardForbid));
        if let Some(first_hard) = hard.first() {
            let reason = first_hard
                .reason
                .clone()
                .unwrap_or_else(|| format!("denied by rule `{}`", first_hard.id));
            return Decision::Deny { rules: hard, reason, diagnostics };
        }
        let asks = self.refs(&of_kind(Kind::AskForbid));
        let permits = if asks.is_empty() {
            self.refs(&of_kind(Kind::Permit))
        } else {
            // The forbids hid the permits; ask again of the permits alone
            // (their errors were already noted in the first pass).
            self.refs(&self.matching(permits_only, request, entities, None))
        };
        if permits.is_empty() {
            return Decision::Deny {
                rules: Vec::new(),
                reason: format!("no policy permits `{tool}` for this agent"),
                diagnostics,
            };
        }
        let permit_ids = permits.iter().map(|r| r.id.clone()).collect();
        if asks.is_empty() {
            Decision::Allow {
                permit: Permit::new(tool, agent, permit_ids),
                rules: permits,
                diagnostics,
            }
        } else {
            let ask_ids = asks.iter().map(|r| r.id.clone()).collect();
            Decision::Ask {
                pending: PendingApproval::new(tool, agent, permit_ids, ask_ids),
                rules: asks,
                diagnostics,
            }
        }
    }

    /// Decides a call by an agent with ancestors (a child agent): its
    /// effective rights are its own policy intersected with each ancestor's,
    /// so a child never does what an ancestor could not, even where a
    /// policy would permit the child. `ancestors` are root first; each is
    /// decided with the same tool, arguments and context as the call.
    ///
    /// The strictest answer wins: the child's own deny, else an ancestor's
    /// deny (named in the reason), else ask (the ask rules of all), else
    /// allow. Arguments policy could not see whole are refused by the child's
    /// own decision already, and asked about once however many generations
    /// ask.
    pub fn decide_in_custody(&self, req: &CallRequest<'_>, ancestors: &[AgentFacts]) -> Decision {
        let own = self.decide(req);
        if ancestors.is_empty() || own.outcome() == crate::Outcome::Deny {
            return own;
        }
        let mut asks: Vec<RuleRef> = Vec::new();
        for ancestor in ancestors {
            match self.decide(&CallRequest { agent: ancestor, ..*req }) {
                Decision::Deny { rules, reason, diagnostics } => {
                    return Decision::Deny {
                        rules,
                        reason: format!(
                            "`{}` is beyond what ancestor `{}` may do: {reason}",
                            req.tool.name, ancestor.name
                        ),
                        diagnostics,
                    };
                }
                Decision::Ask { rules, .. } => asks.extend(rules),
                Decision::Allow { .. } => {}
            }
        }
        if asks.is_empty() {
            return own;
        }
        match own {
            Decision::Allow { permit, diagnostics, .. } => {
                let mut rules = Vec::new();
                for rule in asks {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                let ask_ids = rules.iter().map(|r| r.id.clone()).collect();
                let tool = req.tool.name.as_str();
                let pending =
                    PendingApproval::new(tool, &req.agent.id, permit.into_rules(), ask_ids);
                Decision::Ask { pending, rules, diagnostics }
            }
            Decision::Ask { pending, mut rules, diagnostics } => {
                for rule in asks {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                let ask_ids = rules.iter().map(|r| r.id.clone()).collect();
                Decision::Ask { pending: pending.with_ask_rules(ask_ids), rules, diagnostics }
            }
            deny @ Decision::Deny { .. } => deny,
        }
    }

    /// [`Self::could_allow`] for the agent and every ancestor: a tool an
    /// ancestor could never call is hidden from its descendants.
    pub fn could_allow_in_custody(
        &self,
        agent: &AgentFacts,
        ancestors: &[AgentFacts],
        tool: &ToolFacts,
    ) -> bool {
        self.could_allow(agent, tool) && ancestors.iter().all(|a| self.could_allow(a, tool))
    }

    /// Whether some call of `tool` by `agent` could be allowed (possibly after
    /// approval): some permit can be satisfied for some arguments and context,
    /// and no hard forbid holds whatever the context. Used to hide tools from
    /// `tools/list`; the call itself is still decided by [`Self::decide`].
    /// Arguments are unknown here: a tool shown may still have a call refused
    /// because its arguments were not seen whole.
    pub fn could_allow(&self, agent: &AgentFacts, tool: &ToolFacts) -> bool {
        let Ok(slice) = self.slice(tool) else {
            return false;
        };
        let Ok(base) = slice.base(&self.names, agent, tool) else {
            return false;
        };
        let request = self.names.partial_request(&base);
        let response = self.authorizer.is_authorized_partial(&request, &slice.all, &base.entities);
        let mut permit_possible = false;
        for policy in response.definitely_satisfied() {
            match self.kind_of(policy.id()) {
                Some(Kind::HardForbid) => return false,
                Some(Kind::Permit) => permit_possible = true,
                Some(Kind::AskForbid) | None => {}
            }
        }
        permit_possible
            || response
                .nontrivial_residuals()
                .any(|policy| self.kind_of(policy.id()) == Some(Kind::Permit))
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule id, in load order.
    pub fn rule_ids(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.id.clone()).collect()
    }

    /// The validator's warnings, one line each (`file:line: rule `id`: ...`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn kind_of(&self, id: &PolicyId) -> Option<Kind> {
        let index = self.by_id.get(AsRef::<str>::as_ref(id))?;
        self.rules.get(*index).map(|r| r.kind)
    }

    /// Indices of the rules Cedar reports as deciding `set`, in load order,
    /// noting evaluation errors when asked to.
    fn matching(
        &self,
        set: &PolicySet,
        request: &Request,
        entities: &Entities,
        diagnostics: Option<&mut Vec<EvalDiagnostic>>,
    ) -> Vec<usize> {
        if set.is_empty() {
            return Vec::new();
        }
        let response = self.authorizer.is_authorized(request, set, entities);
        if let Some(diagnostics) = diagnostics {
            diagnostics.extend(response.diagnostics().errors().map(|error| {
                let AuthorizationError::PolicyEvaluationError(e) = error;
                EvalDiagnostic { rule: e.policy_id().to_string(), message: e.inner().to_string() }
            }));
        }
        let mut indices: Vec<usize> = response
            .diagnostics()
            .reason()
            .filter_map(|id| self.by_id.get(AsRef::<str>::as_ref(id)).copied())
            .collect();
        indices.sort_unstable();
        indices
    }

    fn refs(&self, indices: &[usize]) -> Vec<RuleRef> {
        indices
            .iter()
            .filter_map(|i| self.rules.get(*i))
            .map(|rule| RuleRef {
                id: rule.id.clone(),
                reason: rule.reason.clone(),
                ask: rule.ask.clone(),
            })
            .collect()
    }

    /// The cached slice for `tool`, built on first use.
    fn slice(&self, tool: &ToolFacts) -> Result<Arc<Slice>, Box<BuildError>> {
        {
            let cache = self.slices.read().unwrap_or_else(|p| p.into_inner());
            if let Some(slice) = cache.get(&tool.upstream).and_then(|t| t.get(&tool.name)) {
                return Ok(Arc::clone(slice));
            }
        }
        let slice = Arc::new(self.build_slice(tool)?);
        let mut cache = self.slices.write().unwrap_or_else(|p| p.into_inner());
        if cache.values().map(HashMap::len).sum::<usize>() >= MAX_CACHED_SLICES {
            cache.clear();
        }
        cache
            .entry(tool.upstream.clone())
            .or_default()
            .insert(tool.name.clone(), Arc::clone(&slice));
        Ok(slice)
    }

    fn build_slice(&self, tool: &ToolFacts) -> Result<Slice, Box<BuildError>> {
        let empty = Vec::new();
        let mut indices: Vec<usize> = self
            .common
            .iter()
            .chain(self.by_upstream.get(&tool.upstream).unwrap_or(&empty))
            .chain(self.by_tool.get(&tool.name).unwrap_or(&empty))
            .copied()
            .collect();
        indices.sort_unstable();

        let mut slice = Slice {
            permits: PolicySet::new(),
            all: PolicySet::new(),
            bases: RwLock::new(HashMap::new()),
        };
        for rule in indices.into_iter().filter_map(|i| self.rules.get(i)) {
            let add = |set: &mut PolicySet| {
                set.add(rule.policy.clone())
                    .map_err(|source| Box::new(BuildError::Rule { rule: rule.id.clone(), source }))
            };
            if rule.kind == Kind::Permit {
                add(&mut slice.permits)?;
            }
            add(&mut slice.all)?;
        }
        Ok(slice)
    }
}

impl std::fmt::Debug for PolicyEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyEngine").field("rules", &self.rule_ids()).finish_non_exhaustive()
    }
}

/// The built-in schema, parsed.
pub(crate) fn parse_schema(text: &str) -> Result<Schema, Problem> {
    Schema::from_cedarschema_str(text)
        .map(|(schema, _warnings)| schema)
        .map_err(|e| Problem::Schema { message: crate::error::one_line(&e.to_string()) })
}
