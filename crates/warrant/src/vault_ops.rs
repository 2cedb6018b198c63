//! `warrant vault ...`: the operator's side of the vault. No command here
//! prints, returns or records a credential's value.

use crate::ops::{OpError, record, state_error};
use std::io::{IsTerminal, Read};
use warrant_audit::events::{self, LeaseEnded, VaultChange, VaultChanged};
use warrant_broker::{
    self as broker, BrokerError, LOCAL_CA_CREDENTIAL, PassphraseError, lease_record,
};
use warrant_core::UnixMillis;
use warrant_identity::operator;
use warrant_state::Home;
use warrant_state::leases::{Lease, LeaseStore};
use warrant_vault::{
    Binding, CredentialInfo, CredentialName, KdfParams, KeyCache, SecretValue, Vault, VaultError,
};

/// The largest value `vault add` and `vault rotate` accept.
const MAX_VALUE_BYTES: usize = 64 * 1024;

/// What `warrant vault add` stores.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    pub name: String,
    pub hosts: Vec<String>,
    pub header: Option<String>,
    pub format: Option<String>,
    pub env: Option<String>,
    /// When it should be rotated, from now (shown by `vault list`).
    pub rotation_due: Option<std::time::Duration>,
}

/// A vault command could not be done. No variant holds a value.
#[derive(Debug, thiserror::Error)]
pub enum VaultOpError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("a new vault needs a passphrase")]
    NewPassphrase(#[source] PassphraseError),
    #[error("`{name}` is reserved for Warrant's local CA")]
    Reserved { name: String },
    #[error("reading the value")]
    ReadValue(#[source] std::io::Error),
    #[error("reading the value from standard input")]
    ReadStdin(#[source] std::io::Error),
    #[error("the value is over {MAX_VALUE_BYTES} bytes")]
    ValueTooLarge,
    #[error("the value is not valid UTF-8")]
    ValueNotUtf8,
    #[error("the value is empty")]
    ValueEmpty,
    #[error("the value holds control characters (a pasted newline?)")]
    ValueControlCharacters,
    #[error("the credential vanished after it was added")]
    Vanished,
    #[error("there is no vault yet; add a credential with `warrant vault add`")]
    NoVault,
    #[error("no credential named `{name}`")]
    NoSuchCredential { name: CredentialName },
}

/// A vault command's error as an [`OpError`], for `map_err`.
fn vault_error(e: impl Into<VaultOpError>) -> OpError {
    OpError::Vault(e.into())
}

fn name_of(name: &str) -> Result<CredentialName, OpError> {
    CredentialName::new(name).map_err(vault_error)
}

/// Refuses names Warrant keeps for itself.
fn not_reserved(name: &str) -> Result<(), OpError> {
    if name == LOCAL_CA_CREDENTIAL {
        return Err(vault_error(VaultOpError::Reserved { name: name.to_owned() }));
    }
    Ok(())
}

/// The value of a credential: asked for on the terminal (no echo), or read
/// from standard input when that is not a terminal (one trailing newline
/// dropped). Never from an argument, where it would sit in shell history
/// and `ps`.
fn read_value(name: &str) -> Result<SecretValue, OpError> {
    let text = if std::io::stdin().is_terminal() {
        zeroize::Zeroizing::new(
            rpassword::prompt_password(format!("Value of `{name}`: "))
                .map_err(VaultOpError::ReadValue)?,
        )
    } else {
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        std::io::stdin()
            .take(MAX_VALUE_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(VaultOpError::ReadStdin)?;
        if bytes.len() > MAX_VALUE_BYTES {
            return Err(vault_error(VaultOpError::ValueTooLarge));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| VaultOpError::ValueNotUtf8)?;
        let trimmed = text.strip_suffix('\n').unwrap_or(text);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        zeroize::Zeroizing::new(trimmed.to_owned())
    };
    if text.is_empty() {
        return Err(vault_error(VaultOpError::ValueEmpty));
    }
    if text.chars().any(char::is_control) {
        return Err(vault_error(VaultOpError::ValueControlCharacters));
    }
    Ok(SecretValue::from_string(text.to_string()))
}

/// The home's `[vault]` settings.
fn settings(home: &Home) -> Result<warrant_state::config::VaultSettings, OpError> {
    Ok(warrant_state::config::Config::load(&home.config())?.vault)
}

/// Opens the vault, creating it (and asking for the passphrase twice) if
/// there is none yet.
fn unlock_or_create(home: &Home) -> Result<warrant_vault::UnlockedVault, OpError> {
    let path = home.vault();
    let settings = settings(home)?;
    if path.exists() {
        return broker::unlock_vault(home, &settings, "to change it").map_err(vault_error);
    }
    let pass = broker::passphrase("New vault passphrase: ", true)
        .map_err(|e| vault_error(VaultOpError::NewPassphrase(e)))?;
    let params = KdfParams::recommended();
    // A new vault's key is cached as an unlock's would be.
    let Some(ttl) = settings.key_cache else {
        return Vault::create(&path, &pass, params).map_err(vault_error);
    };
    let cache = KeyCache::new(&path, ttl).map_err(vault_error)?;
    let (vault, cached) =
        Vault::create_caching(&path, &pass, params, &cache).map_err(vault_error)?;
    broker::broker::warn_if_not_cached(cached);
    Ok(vault)
}

fn unlock(home: &Home) -> Result<warrant_vault::UnlockedVault, OpError> {
    if !home.vault().exists() {
        return Err(vault_error(VaultOpError::NoVault));
    }
    broker::unlock_vault(home, &settings(home)?, "to change it").map_err(vault_error)
}

/// `warrant vault lock`: forgets the vault's key cached in the OS keychain,
/// whatever `[vault] key_cache` says now. Whether there was one.
pub fn lock(home: &Home) -> Result<bool, OpError> {
    let path = home.vault();
    if !path.exists() {
        return Ok(false);
    }
    KeyCache::new(&path, warrant_vault::keycache::MAX_TTL)
        .and_then(|cache| cache.clear())
        .map_err(vault_error)
}

fn binding_record(binding: &Binding) -> events::Binding {
    events::Binding {
        hosts: binding.hosts.clone(),
        header: binding.header.clone(),
        format: binding.format.clone(),
        env: binding.env.clone(),
    }
}

/// The record of the operator's `change` to credential `name`.
fn changed(change: VaultChange, name: &CredentialName) -> VaultChanged {
    VaultChanged { change, credential: name.as_str().to_owned(), by: operator(), binding: None }
}

/// `warrant vault add NAME`. Without `--header` or `--env`, the credential
/// goes in `Authorization: Bearer ...`.
pub fn add(home: &Home, options: AddOptions) -> Result<CredentialInfo, OpError> {
    home.check()?;
    not_reserved(&options.name)?;
    let name = name_of(&options.name)?;
    let (header, format) = match (options.header, options.format, &options.env) {
        (None, None, None) => (Some("Authorization".to_owned()), Some("Bearer {}".to_owned())),
        (header, format, _) => (header, format),
    };
    let binding = Binding { hosts: options.hosts, header, format, env: options.env };
    let vault = unlock_or_create(home)?;
    let value = read_value(name.as_str())?;
    vault.add(&name, &value, binding).map_err(vault_error)?;
    if let Some(after) = options.rotation_due {
        vault.set_rotation_due(&name, Some(UnixMillis::now().plus(after))).map_err(vault_error)?;
    }
    let info = vault
        .list()
        .map_err(vault_error)?
        .into_iter()
        .find(|i| i.name == name)
        .ok_or_else(|| vault_error(VaultOpError::Vanished))?;
    let added = VaultChanged {
        binding: Some(binding_record(&info.binding)),
        ..changed(VaultChange::Added, &name)
    };
    record(home, None, &added)?;
    Ok(info)
}

/// `warrant vault list`: metadata only, without the passphrase.
pub fn list(home: &Home) -> Result<Vec<CredentialInfo>, OpError> {
    home.check()?;
    let path = home.vault();
    if !path.exists() {
        return Ok(Vec::new());
    }
    Vault::list_locked(&path).map_err(vault_error)
}

/// `warrant vault rm NAME`: removes it and ends its leases.
pub fn remove(home: &Home, name: &str) -> Result<Vec<Lease>, OpError> {
    home.check()?;
    not_reserved(name)?;
    let name = name_of(name)?;
    let vault = unlock(home)?;
    record(home, None, &changed(VaultChange::Removed, &name))?;
    vault.remove(&name).map_err(vault_error)?;
    end_credential_leases(home, name.as_str(), "removed")
}

/// `warrant vault rotate NAME`: a new value under the same binding; every
/// lease on it ends, and a running gateway restarts the upstreams that
/// receive it.
pub fn rotate(
    home: &Home,
    name: &str,
    rotation_due: Option<std::time::Duration>,
) -> Result<Vec<Lease>, OpError> {
    home.check()?;
    not_reserved(name)?;
    let name = name_of(name)?;
    let vault = unlock(home)?;
    if vault.list().map_err(vault_error)?.iter().all(|i| i.name != name) {
        return Err(vault_error(VaultOpError::NoSuchCredential { name }));
    }
    let value = read_value(name.as_str())?;
    record(home, None, &changed(VaultChange::Rotated, &name))?;
    vault.rotate(&name, &value).map_err(vault_error)?;
    // A rotation fulfils the due date; a new one is set only if asked for.
    let due = rotation_due.map(|after| UnixMillis::now().plus(after));
    vault.set_rotation_due(&name, due).map_err(vault_error)?;
    end_credential_leases(home, name.as_str(), "rotated")
}

/// `warrant vault leases [--all]`.
pub fn leases(home: &Home, all: bool) -> Result<Vec<Lease>, OpError> {
    home.check()?;
    lease_store(home)?.list(all, UnixMillis::now()).map_err(state_error(home))
}

fn lease_store(home: &Home) -> Result<LeaseStore, OpError> {
    LeaseStore::open(&home.state_db()).map_err(state_error(home))
}

fn end_credential_leases(
    home: &Home,
    credential: &str,
    reason: &str,
) -> Result<Vec<Lease>, OpError> {
    let ended = lease_store(home)?
        .end_for_credential(credential, reason, UnixMillis::now())
        .map_err(state_error(home))?;
    record_ended(home, &ended)?;
    Ok(ended)
}

/// Records the end of each of `ended`, about its holder when that is an
/// agent (not an upstream).
fn record_ended(home: &Home, ended: &[Lease]) -> Result<(), OpError> {
    for lease in ended {
        let agent = warrant_core::AgentId::parse(&lease.agent).ok();
        let recorded = lease_record(lease, None).map_err(vault_error)?;
        record(home, agent.as_ref(), &LeaseEnded(recorded))?;
    }
    Ok(())
}

/// Ends the leases of `agents` (killed or revoked), each recorded.
pub(crate) fn end_leases(
    home: &Home,
    agents: &[String],
    reason: &str,
) -> Result<Vec<Lease>, OpError> {
    let ended = lease_store(home)?
        .end_for_agents(agents, reason, UnixMillis::now())
        .map_err(state_error(home))?;
    record_ended(home, &ended)?;
    Ok(ended)
}
