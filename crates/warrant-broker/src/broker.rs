//! Credential brokering: Warrant uses the operator's credentials on an
//! agent's behalf so that the agent never holds them.
//!
//! The [`Broker`] holds the unlocked vault. Every use of a credential goes
//! through [`Broker::authorize`], which
//!
//! 1. finds the credential and checks the destination against its binding
//!    (a hard rule: no policy can send a credential to a host it is not
//!    bound to);
//! 2. asks policy (`Action::"use_credential"`, for the agent and every
//!    ancestor);
//! 3. takes a lease (see `warrant_state::leases`);
//! 4. and only then opens the value.
//!
//! It returns the audit records of all of this for the caller to commit
//! *before* it uses the value, and the value in a [`SecretValue`] that cannot
//! be printed. The broker never logs, records or returns a value in an
//! error: records carry names, hosts and lease ids only.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use warrant_audit::Event;
use warrant_audit::events::{
    self, CredentialUse, LeaseEnded, LeaseRecord, LeaseStarted, Outcome, UseStage,
};
use warrant_core::UnixMillis;
use warrant_policy::{AgentFacts, CredentialRequest, Decision, PolicyEngine};
use warrant_state::leases::{Lease, LeaseStore};
use warrant_vault::scan::LeakScanner;
use warrant_vault::{
    Binding, CredentialInfo, CredentialName, KeyCache, SecretValue, UnlockedVault, Vault,
    placeholder_for,
    swap::{SwapEntry, SwapParts},
};

/// The environment variable a passphrase may come from, for unattended use.
pub const PASSPHRASE_ENV: &str = "WARRANT_VAULT_PASSPHRASE";

/// How often `last used` is written for one credential, at most.
const MARK_USED_EVERY: Duration = Duration::from_secs(60);

/// The operator's passphrase could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PassphraseError {
    #[error("{} is not valid UTF-8", PASSPHRASE_ENV)]
    VariableNotUtf8,
    #[error("{} is empty", PASSPHRASE_ENV)]
    VariableEmpty,
    #[error("the vault passphrase is needed: set {} or run this from a terminal", PASSPHRASE_ENV)]
    NoTerminal,
    #[error("reading the passphrase")]
    Read(#[source] std::io::Error),
    #[error("the two passphrases differ")]
    Differ,
    #[error("the passphrase is empty")]
    Empty,
}

/// The vault could not be unlocked, read or written for brokering. No
/// variant holds a value: names and paths only.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// There was no passphrase to unlock the vault with; `why` is the
    /// caller's reason for unlocking it.
    #[error("the vault must be unlocked ({why})")]
    Passphrase {
        why: String,
        #[source]
        source: PassphraseError,
    },
    #[error(transparent)]
    Vault(#[from] warrant_vault::VaultError),
    #[error("cannot open the credential leases")]
    Leases(#[source] rusqlite::Error),
    #[error("the vault holds no local CA key")]
    NoLocalCaKey,
    #[error(
        "`{}` has a binding, so it is not the key Warrant stored for itself",
        crate::LOCAL_CA_CREDENTIAL
    )]
    LocalCaBound,
    #[error("there is no credential `{name}` in the vault")]
    UnknownCredential { name: String },
    #[error("lease `{lease}` says it goes `{via}`, which is no way a credential goes")]
    UnknownVia { lease: String, via: String },
}

/// The operator's passphrase: from [`PASSPHRASE_ENV`], else asked on the
/// terminal without echo. `confirm` asks twice (for a new vault). Refuses
/// when neither is possible rather than waiting on a pipe.
pub fn passphrase(prompt: &str, confirm: bool) -> Result<SecretValue, PassphraseError> {
    if let Some(value) = std::env::var_os(PASSPHRASE_ENV) {
        let text = value.into_string().map_err(|_| PassphraseError::VariableNotUtf8)?;
        if text.is_empty() {
            return Err(PassphraseError::VariableEmpty);
        }
        return Ok(SecretValue::from_string(text));
    }
    if !std::io::stdin().is_terminal() {
        return Err(PassphraseError::NoTerminal);
    }
    let first =
        zeroize::Zeroizing::new(rpassword::prompt_password(prompt).map_err(PassphraseError::Read)?);
    if confirm {
        let again = zeroize::Zeroizing::new(
            rpassword::prompt_password("Again: ").map_err(PassphraseError::Read)?,
        );
        if *first != *again {
            return Err(PassphraseError::Differ);
        }
    }
    if first.is_empty() {
        return Err(PassphraseError::Empty);
    }
    Ok(SecretValue::from_string(first.to_string()))
}

/// Whether `host` is one `hosts` names: the same name (case-insensitive), or
/// a subdomain of a `*.example.com` entry (not the apex).
pub fn host_bound(hosts: &[String], host: &str) -> bool {
    hosts.iter().any(|pattern| warrant_vault::host_matches(pattern, host))
}

/// The credentials known at one moment, and a scanner for their values.
pub struct Known {
    pub credentials: BTreeMap<String, CredentialInfo>,
    pub scanner: LeakScanner,
    /// Name, creation and rotation time of each: what a refresh compares.
    stamp: Vec<(String, i64, Option<i64>)>,
}

/// How a credential reaches its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Into an upstream MCP server's environment or headers.
    Upstream,
    /// Added to a `warrant__http_request`.
    HttpRequest,
    /// Swapped for its placeholder by the egress proxy under `warrant run`.
    Egress,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Upstream => "upstream",
            Via::HttpRequest => "http_request",
            Via::Egress => "egress",
        }
    }

    /// The way named `name` (as [`as_str`](Self::as_str) gives it).
    pub fn parse(name: &str) -> Option<Self> {
        [Via::Upstream, Via::HttpRequest, Via::Egress].into_iter().find(|v| v.as_str() == name)
    }
}

impl From<Via> for events::Via {
    fn from(via: Via) -> Self {
        match via {
            Via::Upstream => events::Via::Upstream,
            Via::HttpRequest => events::Via::HttpRequest,
            Via::Egress => events::Via::Egress,
        }
    }
}

/// One use to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    pub credential: &'a str,
    pub via: Via,
    /// The tool the use serves; empty for egress.
    pub tool: &'a str,
    /// The destination host, or the upstream's name for [`Via::Upstream`].
    pub host: &'a str,
}

/// An authorized use: the lease it happens under, where the value goes, and
/// the value.
pub struct Grant {
    pub lease: Lease,
    pub binding: Binding,
    pub secret: SecretValue,
}

/// What [`Broker::authorize`] decided, and the records to commit before
/// the value is used: the use decided, then any lease that ended or began
/// (`credential_use`, `lease_ended`, `lease_started`), in that order.
pub struct Authorized {
    pub grant: Result<Grant, String>,
    pub records: Vec<Event>,
}

/// The unlocked vault, its leases, and what it knows.
pub struct Broker {
    vault: UnlockedVault,
    leases: Mutex<LeaseStore>,
    lease_ttl: Duration,
    known: RwLock<Arc<Known>>,
    marked: Mutex<HashMap<String, Instant>>,
}

/// Opens `home`'s vault: with the key cached in the OS keychain when
/// `[vault] key_cache` is on and a live entry opens it, else with the
/// operator's passphrase (see [`passphrase`]), whose key is then cached.
/// `why` tells the operator why the vault must be unlocked.
pub fn unlock_vault(
    home: &warrant_state::Home,
    settings: &warrant_state::config::VaultSettings,
    why: &str,
) -> Result<UnlockedVault, BrokerError> {
    let path = home.vault();
    let cache = match settings.key_cache {
        Some(ttl) => Some(KeyCache::new(&path, ttl)?),
        None => None,
    };
    if let Some(cache) = &cache
        && let Some(vault) = Vault::unlock_cached(&path, cache)?
    {
        tracing::debug!("vault opened with the key cached in the OS keychain");
        return Ok(vault);
    }
    let pass = passphrase("Vault passphrase: ", false)
        .map_err(|source| BrokerError::Passphrase { why: why.to_owned(), source })?;
    let Some(cache) = &cache else {
        return Ok(Vault::unlock(&path, &pass)?);
    };
    let (vault, cached) = Vault::unlock_caching(&path, &pass, cache)?;
    warn_if_not_cached(cached);
    Ok(vault)
}

/// The key cache is optional: one that could not be written is said, and
/// the vault stays open.
pub fn warn_if_not_cached(cached: Result<(), warrant_vault::VaultError>) {
    if let Err(e) = cached {
        tracing::warn!(error = %e, "the vault's key could not be cached; the passphrase will be asked for again");
    }
}

impl Broker {
    /// Takes the unlocked vault and opens the leases in `state_db`.
    pub fn open(
        vault: UnlockedVault,
        state_db: &Path,
        lease_ttl: Duration,
    ) -> Result<Self, BrokerError> {
        let leases = LeaseStore::open(state_db).map_err(BrokerError::Leases)?;
        let known = Arc::new(load(&vault)?);
        Ok(Self {
            vault,
            leases: Mutex::new(leases),
            lease_ttl,
            known: RwLock::new(known),
            marked: Mutex::new(HashMap::new()),
        })
    }

    /// Unlocks `home`'s vault (see [`unlock_vault`]) and opens its leases.
    pub fn unlock_home(
        home: &warrant_state::Home,
        settings: &warrant_state::config::VaultSettings,
        why: &str,
    ) -> Result<Self, BrokerError> {
        let vault = unlock_vault(home, settings, why)?;
        Self::open(vault, &home.state_db(), settings.lease_ttl)
    }

    /// The credentials and scanner as of the last refresh.
    pub fn known(&self) -> Arc<Known> {
        match self.known.read() {
            Ok(known) => Arc::clone(&known),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the vault's metadata (another process may have added,
    /// rotated or removed a credential) and rebuilds the scanner if anything
    /// changed. Returns the names whose value changed or that went away.
    pub fn refresh(&self) -> Result<Vec<String>, BrokerError> {
        let before = self.known();
        let infos = self.vault.list()?;
        if stamp(&infos) == before.stamp {
            return Ok(Vec::new());
        }
        let now = load(&self.vault)?;
        let changed = before
            .stamp
            .iter()
            .filter(|old| !now.stamp.contains(old))
            .map(|(name, _, _)| name.clone())
            .collect();
        match self.known.write() {
            Ok(mut known) => *known = Arc::new(now),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(now),
        }
        Ok(changed)
    }

    /// The value of `name`. Private: a value leaves the broker only as a
    /// [`Grant`] ([`Broker::authorize`], [`Broker::authorize_spawn`]), inside
    /// a swap entry whose every swap is authorized ([`Broker::swap_entry`]),
    /// or as Warrant's own local CA key ([`Broker::local_ca_key`]).
    fn open_value(&self, name: &str) -> Result<SecretValue, BrokerError> {
        let name = CredentialName::new(name)?;
        Ok(self.vault.get(&name)?)
    }

    /// The key of Warrant's local certificate authority, kept in the vault
    /// under [`crate::LOCAL_CA_CREDENTIAL`] without a binding (so no use of
    /// it can be authorized for anyone). Refused if that entry was given a
    /// binding: then it is not Warrant's.
    pub fn local_ca_key(&self) -> Result<SecretValue, BrokerError> {
        let known = self.known();
        let info =
            known.credentials.get(crate::LOCAL_CA_CREDENTIAL).ok_or(BrokerError::NoLocalCaKey)?;
        if info.binding != Binding::default() {
            return Err(BrokerError::LocalCaBound);
        }
        self.open_value(crate::LOCAL_CA_CREDENTIAL)
    }

    /// `name` as an entry of a `warrant run`'s swapper: its placeholder goes
    /// into the sandbox, and the proxy swaps the value in only for a request
    /// [`Broker::authorize`] granted (binding, policy, lease), checked for
    /// every credential a request would carry before it is sent.
    pub fn swap_entry(&self, name: &str) -> Result<(SwapEntry, Option<String>), BrokerError> {
        let known = self.known();
        let info = known
            .credentials
            .get(name)
            .ok_or_else(|| BrokerError::UnknownCredential { name: name.to_owned() })?;
        let secret = self.open_value(name)?;
        let placeholder = placeholder_for(&secret)?;
        let entry = SwapEntry {
            name: CredentialName::new(name)?,
            placeholder,
            secret,
            hosts: info.binding.hosts.clone(),
            parts: SwapParts::ALL,
        };
        Ok((entry, info.binding.env.clone()))
    }

    /// Releases `credential` to upstream `upstream` as it starts (into its
    /// environment or its request headers). The decision is the operator's
    /// configuration: `configured` says whether `[upstreams.NAME.credentials]`
    /// gives this credential to this upstream, and nothing else can. The
    /// release is leased to the upstream (`upstream:NAME`) and recorded
    /// (`credential_use` at `spawn`, and the lease) for the caller to commit
    /// before it uses the value. Policy still decides each agent's use of the
    /// upstream's credential, per call, before the call is forwarded.
    pub fn authorize_spawn(
        &self,
        upstream: &str,
        credential: &str,
        configured: bool,
    ) -> Authorized {
        let known = self.known();
        let refused = if !known.credentials.contains_key(credential) {
            Some(format!("there is no credential named `{credential}` in the vault"))
        } else if !configured {
            Some(format!("credential `{credential}` is not configured for upstream `{upstream}`"))
        } else {
            None
        };
        let decided = CredentialUse {
            credential: credential.to_owned(),
            via: events::Via::Upstream,
            tool: String::new(),
            host: upstream.to_owned(),
            outcome: if refused.is_some() { Outcome::Deny } else { Outcome::Allow },
            rules: vec!["upstream-configuration".to_owned()],
            reason: refused.clone(),
            bound: Some(configured),
            at: Some(UseStage::Spawn),
            custody: None,
        };
        let records = vec![decided.into()];
        if let Some(reason) = refused {
            return Authorized { grant: Err(reason), records };
        }
        let holder = Holder { id: &format!("upstream:{upstream}"), custody: None };
        self.lease_and_open(&holder, credential, vec![upstream.to_owned()], Via::Upstream, records)
    }

    /// Stores a value Warrant keeps for itself (the local CA's key): no
    /// binding, so no use of it can ever be authorized.
    pub fn store_internal(&self, name: &str, value: &SecretValue) -> Result<(), BrokerError> {
        let name = CredentialName::new(name)?;
        self.vault.add(&name, value, Binding::default())?;
        self.refresh().map(|_| ())
    }

    /// The lease store, for ending leases and checking them.
    pub fn leases(&self) -> std::sync::MutexGuard<'_, LeaseStore> {
        self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Decides one use for `agent` (and its ancestors), takes a lease, and
    /// opens the value. `upstream_bound` says whether the configuration
    /// gives this credential to the upstream named in `use_.host` (only
    /// read for [`Via::Upstream`]). `custody` is the agent's chain of
    /// custody, for the records, when the gateway asks for it.
    pub fn authorize(
        &self,
        policy: &PolicyEngine,
        agent: &AgentFacts,
        ancestors: &[AgentFacts],
        use_: &Use<'_>,
        upstream_bound: bool,
        custody: Option<Vec<String>>,
    ) -> Authorized {
        let known = self.known();
        let decided = |outcome, rules, reason, bound| CredentialUse {
            credential: use_.credential.to_owned(),
            via: use_.via.into(),
            tool: use_.tool.to_owned(),
            host: use_.host.to_owned(),
            outcome,
            rules,
            reason,
            bound,
            at: None,
            custody: custody.clone(),
        };
        let Some(info) = known.credentials.get(use_.credential) else {
            let reason = format!("there is no credential named `{}` in the vault", use_.credential);
            let unknown = vec!["unknown-credential".to_owned()];
            let records = vec![decided(Outcome::Deny, unknown, Some(reason.clone()), None).into()];
            return Authorized { grant: Err(reason), records };
        };
        let bound = match use_.via {
            Via::Upstream => upstream_bound,
            Via::HttpRequest | Via::Egress => host_bound(&info.binding.hosts, use_.host),
        };
        let decision = policy.decide_credential(
            &CredentialRequest {
                agent,
                credential: use_.credential,
                hosts: &info.binding.hosts,
                via: use_.via.as_str(),
                tool: use_.tool,
                host: use_.host,
                bound,
                now: UnixMillis::now(),
            },
            ancestors,
        );
        let rules = decision.rules().iter().map(|r| r.id.clone()).collect();
        let refused = if !bound {
            Some(format!(
                "credential `{}` is not bound to `{}`; it may go only to {}",
                use_.credential,
                use_.host,
                match use_.via {
                    Via::Upstream => "the upstreams configured to receive it".to_owned(),
                    _ => info.binding.hosts.join(", "),
                }
            ))
        } else if let Decision::Deny { reason, rules, .. } = &decision {
            let named = rules.first().map(|r| format!(" by rule `{}`", r.id)).unwrap_or_default();
            Some(format!("use of credential `{}` denied{named}: {reason}", use_.credential))
        } else {
            None
        };
        let outcome = if refused.is_some() { Outcome::Deny } else { Outcome::Allow };
        let records = vec![decided(outcome, rules, refused.clone(), Some(bound)).into()];
        if let Some(reason) = refused {
            return Authorized { grant: Err(reason), records };
        }

        let hosts = match use_.via {
            Via::Upstream => vec![use_.host.to_owned()],
            _ => info.binding.hosts.clone(),
        };
        let holder = Holder { id: &agent.id, custody };
        self.lease_and_open(&holder, use_.credential, hosts, use_.via, records)
    }

    /// Takes (or reuses) the lease of `holder` on `credential` for `hosts`,
    /// then opens the value: the last steps of every authorized release.
    fn lease_and_open(
        &self,
        holder: &Holder<'_>,
        credential: &str,
        hosts: Vec<String>,
        via: Via,
        mut records: Vec<Event>,
    ) -> Authorized {
        let known = self.known();
        let Some(info) = known.credentials.get(credential) else {
            return Authorized {
                grant: Err(format!("there is no credential named `{credential}` in the vault")),
                records,
            };
        };
        let now = UnixMillis::now();
        let acquired =
            self.leases().acquire(holder.id, credential, &hosts, via.as_str(), self.lease_ttl, now);
        let acquired = match acquired {
            Ok(acquired) => acquired,
            Err(e) => {
                return Authorized {
                    grant: Err(format!("credential leases are unavailable ({e})")),
                    records,
                };
            }
        };
        // Every lease `acquire` returns is of `via`.
        let recorded = |lease: &Lease| leased(lease, via.into(), holder.custody.clone());
        records.extend(acquired.expired.iter().map(|lease| LeaseEnded(recorded(lease)).into()));
        if acquired.started {
            records.push(LeaseStarted(recorded(&acquired.lease)).into());
        }
        let secret = match self.open_value(credential) {
            Ok(secret) => secret,
            Err(e) => {
                return Authorized {
                    grant: Err(format!("credential `{credential}` cannot be opened: {e}")),
                    records,
                };
            }
        };
        self.mark_used(credential);
        let grant = Grant { lease: acquired.lease, binding: info.binding.clone(), secret };
        Authorized { grant: Ok(grant), records }
    }

    fn mark_used(&self, name: &str) {
        let mut marked = self.marked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if marked.get(name).is_some_and(|at| at.elapsed() < MARK_USED_EVERY) {
            return;
        }
        marked.insert(name.to_owned(), Instant::now());
        if let Ok(name) = CredentialName::new(name)
            && let Err(e) = self.vault.mark_used(&name, UnixMillis::now())
        {
            tracing::warn!(error = %e, "recording a credential's last use failed");
        }
    }
}

/// The header value that carries `secret`, as `format` says (`Bearer {}`;
/// `{}` when there is none), marked sensitive. The formatted text is
/// zeroized; the `HeaderValue`'s own copy is not.
pub fn header_value(
    format: Option<&str>,
    secret: &SecretValue,
) -> Result<http::HeaderValue, &'static str> {
    let text = secret.expose_str().ok_or("is not text, so it cannot go in a header")?;
    let formatted = zeroize::Zeroizing::new(format.unwrap_or("{}").replacen("{}", text, 1));
    let mut value = http::HeaderValue::from_str(&formatted)
        .map_err(|_| "holds characters a header cannot carry")?;
    value.set_sensitive(true);
    Ok(value)
}

/// A lease as the audit log records it (in `lease_started` and
/// `lease_ended`), with the holder's chain of custody when the gateway took
/// it for an agent. Refused for a lease whose `via` the store should never
/// have held.
pub fn lease_record(
    lease: &Lease,
    custody: Option<Vec<String>>,
) -> Result<LeaseRecord, BrokerError> {
    let via = Via::parse(&lease.via).ok_or_else(|| BrokerError::UnknownVia {
        lease: lease.id.clone(),
        via: lease.via.clone(),
    })?;
    Ok(leased(lease, via.into(), custody))
}

/// Who takes a lease: its holder's id, and its chain of custody if any.
struct Holder<'a> {
    id: &'a str,
    custody: Option<Vec<String>>,
}

fn leased(lease: &Lease, via: events::Via, custody: Option<Vec<String>>) -> LeaseRecord {
    LeaseRecord {
        lease: lease.id.clone(),
        holder: Some(lease.agent.clone()),
        credential: lease.credential.clone(),
        hosts: lease.hosts.clone(),
        via,
        expires_at: lease.expires_at.clone(),
        ended_at: lease.ended_at.clone(),
        reason: lease.end_reason.clone(),
        custody,
    }
}

fn stamp(infos: &[CredentialInfo]) -> Vec<(String, i64, Option<i64>)> {
    infos
        .iter()
        .map(|i| (i.name.as_str().to_owned(), i.created_at.0, i.rotated_at.map(|t| t.0)))
        .collect()
}

fn load(vault: &UnlockedVault) -> Result<Known, BrokerError> {
    let infos = vault.list()?;
    let mut secrets = Vec::with_capacity(infos.len());
    for info in &infos {
        let value = vault.get(&info.name)?;
        secrets.push((info.name.as_str().to_owned(), value));
    }
    let refs: Vec<(&str, &SecretValue)> = secrets.iter().map(|(n, v)| (n.as_str(), v)).collect();
    let scanner = LeakScanner::new(&refs)?;
    let stamp = stamp(&infos);
    let credentials = infos.into_iter().map(|i| (i.name.as_str().to_owned(), i)).collect();
    Ok(Known { credentials, scanner, stamp })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::host_bound;

    #[test]
    fn hosts_match_exactly_or_as_subdomains_of_a_wildcard() {
        let hosts = vec!["api.github.com".to_owned(), "*.example.com".to_owned()];
        assert!(host_bound(&hosts, "api.github.com"));
        assert!(host_bound(&hosts, "API.GitHub.com."));
        assert!(!host_bound(&hosts, "github.com"));
        assert!(!host_bound(&hosts, "api.github.com.evil.test"));
        assert!(host_bound(&hosts, "a.example.com"));
        assert!(host_bound(&hosts, "a.b.example.com"));
        assert!(!host_bound(&hosts, "example.com"));
        assert!(!host_bound(&hosts, "badexample.com"));
        assert!(!host_bound(&[], "api.github.com"));
    }
}
