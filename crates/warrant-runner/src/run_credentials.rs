//! Credentials for a whole agent under `warrant run`: the sandbox holds
//! placeholders, and the egress proxy swaps each for its secret only in
//! requests to the credential's bound hosts.
//!
//! - Each `--credential NAME` puts a placeholder shaped like the secret
//!   (same length, prefix and character classes) in the sandbox's
//!   environment, in the variable the credential's binding names.
//! - When the home has a vault, the proxy inspects every request: plain
//!   HTTP directly, HTTPS by terminating TLS with a certificate from
//!   Warrant's local CA. The CA is made once per home; its key lives in the
//!   vault (`warrant-local-ca`), its certificate in `<home>/ca.pem`; only the
//!   sandbox is told to trust it (`SSL_CERT_FILE` and friends, pointing at a
//!   read-only copy).
//! - Each request is refused (403, a `leak_blocked` record and an `alarm`)
//!   when it carries any vault secret in any encoding or disguise (see
//!   `warrant_vault::scan`), whole in the target, a header name, or the
//!   header values and body read in order; when its parts carry, in any
//!   order, pieces that with those of the run's earlier requests make half
//!   of a secret (`warrant_vault::fragments`: one run is one session, so a
//!   secret split across two headers, or over several requests, is found);
//!   or when it carries a placeholder headed for a host its credential is
//!   not bound to. Otherwise each
//!   placeholder for a bound host is a credential use: policy decides it
//!   (`Action::"use_credential"`, via `egress`), a lease covers it, the
//!   records are committed, and only then is the secret put in — header,
//!   Basic credentials, query or body.
//! - Credentials of well-known formats that are not in the vault are
//!   blocked, or cut out, as `[leaks] well_known` says.
//! - Every request is sent asking for an uncompressed answer
//!   (`Accept-Encoding: identity`), and every response is searched on its
//!   way back for every vault secret in each of its encodings: in header
//!   values, and in the body as it streams (holding back less than one
//!   encoded secret's length). Each match is overwritten with `*`, so
//!   lengths and framing are kept, and the response is recorded as
//!   `secret_redacted` (`where: egress-response`). Responses are searched for
//!   the exact forms only (raw, base64, hex, URL, JSON, UTF-16), not for
//!   disguises, whose length has no bound to hold back. A response that is
//!   compressed anyway cannot be searched and is refused (502). Well-known
//!   formats are not cut out of responses: documentation and test data are
//!   full of them, and changing a download's bytes breaks it.

use crate::RunError;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use warrant_audit::events::{Alarm, AlarmKind, Found, RedactedWhere, SecretRedacted};
use warrant_audit::{AuditError, AuditEvent, AuditLog, Event};
use warrant_broker::{Broker, Known, LOCAL_CA_CREDENTIAL, Use, Via};
use warrant_egress::{Blocked, EgressRequest, Interception, LocalCa, ResponseFilter};
use warrant_policy::{AgentFacts, PolicyEngine};
use warrant_state::Home;
use warrant_vault::SecretValue;
use warrant_vault::fragments::Exposure;
use warrant_vault::rules::{Action, RuleSet};
use warrant_vault::scan::{Encoding, LeakScanner, StreamRedactor};
use warrant_vault::swap::{OutgoingRequest, Swapper};

/// Variables that point TLS clients in the sandbox at the local CA.
const CA_VARIABLES: &[&str] = &[
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "CARGO_HTTP_CAINFO",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
    "DENO_CERT",
];

/// The local CA of `home`, made (and its key stored in the vault) at first
/// use.
pub(crate) fn local_ca(home: &Home, broker: &Broker) -> Result<LocalCa, RunError> {
    let cert_path = home.local_ca();
    if broker.known().credentials.contains_key(LOCAL_CA_CREDENTIAL) && cert_path.exists() {
        let key = broker.local_ca_key()?;
        let key = key.expose_str().ok_or(RunError::LocalCaKeyNotPem)?;
        let cert = std::fs::read_to_string(&cert_path).map_err(|source| RunError::Io {
            action: "read",
            path: cert_path.clone(),
            source,
        })?;
        return LocalCa::from_pem(&cert, key)
            .map_err(|source| RunError::LocalCa { path: cert_path, source });
    }
    let (ca, key) = LocalCa::generate("Warrant local CA").map_err(RunError::MakeLocalCa)?;
    broker.store_internal(LOCAL_CA_CREDENTIAL, &SecretValue::from_string(key.to_string()))?;
    std::fs::write(&cert_path, ca.cert_pem()).map_err(|source| RunError::Io {
        action: "write",
        path: cert_path,
        source,
    })?;
    Ok(ca)
}

/// What a run needs to broker credentials through its egress proxy.
pub(crate) struct RunCredentials {
    broker: Arc<Broker>,
    swapper: Option<Swapper>,
    policy: Arc<PolicyEngine>,
    agent: AgentFacts,
    audit: AuditLog,
    agent_id: String,
    rules: RuleSet,
    well_known: Action,
    pub(crate) interception: Arc<Interception>,
    /// The sandbox's copy of the CA certificate (a read-only path).
    ca_dir: tempfile::TempDir,
    /// Variables for the sandbox: placeholders and CA paths.
    pub(crate) grant: Vec<(String, String)>,
    /// The placeholders handed out. They are shaped like real tokens, so
    /// the well-known-format rules would take them for credentials.
    placeholders: Vec<String>,
    /// What of each vault secret the run's requests have carried in pieces.
    exposure: Mutex<Exposure>,
}

impl RunCredentials {
    /// The vault's current secrets and scanner, for the run's gate to search
    /// host names with before they are looked up.
    pub(crate) fn known(&self) -> Arc<Known> {
        self.broker.known()
    }
}

/// Everything [`RunCredentials::prepare`] needs.
pub(crate) struct Prepare<'a> {
    pub home: &'a Home,
    pub broker: Arc<Broker>,
    pub names: &'a [String],
    pub policy: Arc<PolicyEngine>,
    pub agent: AgentFacts,
    pub audit: AuditLog,
    pub ca_files: &'a [PathBuf],
    pub well_known: Action,
}

impl RunCredentials {
    pub(crate) fn prepare(p: Prepare<'_>) -> Result<Self, RunError> {
        let mut entries = Vec::new();
        let mut grant = Vec::new();
        let mut placeholders = Vec::new();
        for name in p.names {
            let (entry, variable) = p
                .broker
                .swap_entry(name)
                .map_err(|e| RunError::Credential { name: name.clone(), source: Box::new(e) })?;
            let variable = variable
                .ok_or_else(|| RunError::CredentialWithoutVariable { name: name.clone() })?;
            grant.push((variable, entry.placeholder.as_str().to_owned()));
            placeholders.push(entry.placeholder.as_str().to_owned());
            entries.push(entry);
        }
        let swapper = if entries.is_empty() {
            None
        } else {
            Some(Swapper::new(entries).map_err(RunError::Swapper)?)
        };
        let ca = local_ca(p.home, &p.broker)?;
        let upstream = warrant_broker::upstream_tls::tls_client_config(p.ca_files)
            .map_err(RunError::UpstreamTls)?;
        let ca_dir =
            tempfile::Builder::new().prefix("warrant-ca-").tempdir().map_err(RunError::CaDir)?;
        let ca_file = ca_dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).map_err(|source| RunError::Io {
            action: "write",
            path: ca_file.clone(),
            source,
        })?;
        let ca_text = ca_file
            .to_str()
            .ok_or(RunError::NotUtf8 { what: "the temporary directory" })?
            .to_owned();
        for variable in CA_VARIABLES {
            grant.push(((*variable).to_owned(), ca_text.clone()));
        }
        let rules = RuleSet::builtin().map_err(RunError::LeakRules)?;
        Ok(Self {
            broker: p.broker,
            swapper,
            policy: p.policy,
            agent_id: p.agent.id.clone(),
            agent: p.agent,
            audit: p.audit,
            rules,
            well_known: p.well_known,
            interception: Arc::new(Interception::new(ca, &upstream)),
            ca_dir,
            grant,
            placeholders,
            exposure: Mutex::new(Exposure::default()),
        })
    }

    /// The directory the sandbox must be able to read (the CA copy).
    pub(crate) fn ca_dir(&self) -> &std::path::Path {
        self.ca_dir.path()
    }

    /// Commits records from inside the proxy's synchronous hook. The run's
    /// runtime is multi-threaded, so blocking this worker is allowed.
    fn commit(&self, records: &[Event]) -> Result<(), AuditError> {
        tokio::task::block_in_place(|| {
            for record in records {
                let event = AuditEvent::of_event(record)?.agent(self.agent_id.clone());
                self.audit.append_blocking(event)?;
            }
            Ok(())
        })
    }

    /// Refuses with an alarm (the 403 itself is recorded by the proxy as
    /// `leak_blocked`).
    fn refuse(&self, request: &EgressRequest, reason: String) -> Blocked {
        tracing::error!(agent = %self.agent_id, host = %request.host, %reason, "ALARM: a secret was headed out of a sandbox");
        let alarm = Alarm {
            alarm: AlarmKind::SecretLeak,
            message: reason.clone(),
            tool: None,
            where_: None,
            host: Some(request.host.clone()),
            port: Some(request.port),
            found: None,
            custody: None,
        };
        if let Err(e) = self.commit(&[alarm.into()]) {
            tracing::error!(error = %e, "recording an alarm failed");
        }
        Blocked::leak(reason)
    }

    /// The inspection of one request (see the module doc).
    pub(crate) fn inspect(
        &self,
        request: &EgressRequest,
        head: &mut http::request::Parts,
        body: &mut Vec<u8>,
    ) -> Result<(), Blocked> {
        // Its response must be searchable: asked for uncompressed.
        head.headers
            .insert(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static("identity"));
        let target = head.uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes().to_vec();
        let names: Vec<String> = head.headers.keys().map(|n| n.as_str().to_owned()).collect();
        let values: Vec<Vec<u8>> = head.headers.values().map(|v| v.as_bytes().to_vec()).collect();
        let headers: Vec<(&str, &[u8])> =
            names.iter().map(String::as_str).zip(values.iter().map(Vec::as_slice)).collect();
        let outgoing =
            OutgoingRequest { host: &request.host, target: &target, headers: &headers, body };

        // Any vault secret at all, in any form or disguise, whole, split
        // across parts, or in pieces.
        let parts: Vec<&[u8]> = std::iter::once(target.as_slice())
            .chain(headers.iter().map(|(_, v)| *v))
            .chain(std::iter::once(body.as_slice()))
            .collect();
        let header_names: Vec<&[u8]> = names.iter().map(String::as_bytes).collect();
        let known = self.broker.known();
        let found = {
            let mut exposure = self.exposure.lock().unwrap_or_else(PoisonError::into_inner);
            secrets_in(&known.scanner, &mut exposure, &parts, &header_names)
        };
        if let Some(reason) = found {
            return Err(self.refuse(request, reason));
        }
        let well_known = self.well_known_in(&parts);
        if !well_known.is_empty() && self.well_known == Action::Block {
            return Err(self.refuse(
                request,
                format!(
                    "blocked: the request carries a credential of kind `{}`",
                    well_known.join("`, `")
                ),
            ));
        }

        let Some(swapper) = &self.swapper else {
            return self.redact_well_known(request, head, body, &well_known);
        };
        let swapped = match swapper.swap_request(&outgoing) {
            Ok(swapped) => swapped,
            Err(refused) => {
                let names: Vec<String> =
                    refused.violations.iter().map(|v| v.credential.to_string()).collect();
                return Err(self.refuse(
                    request,
                    format!(
                        "blocked: the placeholder of credential `{}` may not go to `{}`",
                        names.join("`, `"),
                        request.host
                    ),
                ));
            }
        };
        let mut used: Vec<String> =
            swapped.swapped().iter().map(|o| o.credential.to_string()).collect();
        used.sort();
        used.dedup();
        for name in &used {
            let use_ = Use { credential: name, via: Via::Egress, tool: "", host: &request.host };
            let authorized =
                self.broker.authorize(&self.policy, &self.agent, &[], &use_, false, None);
            if let Err(e) = self.commit(&authorized.records) {
                return Err(Blocked::refused(format!(
                    "refused: the audit log is unavailable ({e})"
                )));
            }
            if let Err(reason) = authorized.grant {
                return Err(Blocked::refused(reason));
            }
        }
        if !used.is_empty() {
            head.uri = http::Uri::try_from(swapped.expose_target())
                .map_err(|_| Blocked::refused("the request target cannot be rebuilt"))?;
            for (i, value) in head.headers.values_mut().enumerate() {
                if let Some(bytes) = swapped.expose_header_value(i)
                    && bytes != value.as_bytes()
                {
                    let mut swapped_value = http::HeaderValue::from_bytes(bytes)
                        .map_err(|_| Blocked::refused("a header cannot carry the credential"))?;
                    swapped_value.set_sensitive(true);
                    *value = swapped_value;
                }
            }
            body.clear();
            body.extend_from_slice(swapped.expose_body());
        }
        self.redact_well_known(request, head, body, &well_known)
    }

    /// The response to an inspected request (see the module doc): refused
    /// when it is compressed, since it could not be searched; otherwise every
    /// vault secret in its header values is masked here, and in its body by
    /// the filter returned, as the body streams through.
    pub(crate) fn filter_response(
        &self,
        request: &EgressRequest,
        head: &mut http::response::Parts,
    ) -> Result<Option<Box<dyn ResponseFilter>>, Blocked> {
        if let Some(encoding) = head.headers.get(http::header::CONTENT_ENCODING)
            && !encoding.as_bytes().eq_ignore_ascii_case(b"identity")
        {
            return Err(Blocked::refused(format!(
                "the response from `{}` is compressed (`{}`) although Warrant asked for it uncompressed, so it cannot be searched for secrets",
                request.host,
                warrant_core::printable(&String::from_utf8_lossy(encoding.as_bytes()))
            )));
        }
        let known = self.broker.known();
        let mut found = Vec::new();
        for value in head.headers.values_mut() {
            // Copied only when there is something to mask.
            if known.scanner.scan(value.as_bytes()).is_empty() {
                continue;
            }
            let mut bytes = value.as_bytes().to_vec();
            let here = known.scanner.mask(&mut bytes);
            *value = http::HeaderValue::from_bytes(&bytes)
                .map_err(|_| Blocked::refused("a response header cannot be masked"))?;
            found.extend(here.into_iter().map(|f| (f.name, f.encoding)));
        }
        Ok(Some(Box::new(ResponseRedaction {
            known,
            stream: StreamRedactor::new(),
            found,
            audit: self.audit.clone(),
            agent_id: self.agent_id.clone(),
            host: request.host.clone(),
        })))
    }

    /// The well-known-format rules that fire on `parts`, placeholders masked.
    fn well_known_in(&self, parts: &[&[u8]]) -> Vec<&'static str> {
        let mut ids: Vec<&'static str> = Vec::new();
        for part in parts {
            let mut masked = part.to_vec();
            for placeholder in &self.placeholders {
                mask(&mut masked, placeholder.as_bytes());
            }
            for finding in self.rules.scan(&masked) {
                if !ids.contains(&finding.rule) {
                    ids.push(finding.rule);
                }
            }
        }
        ids
    }

    /// Cuts well-known credentials out of a text body (`[leaks] well_known =
    /// "redact"`); a body that is not text cannot be, and is refused.
    fn redact_well_known(
        &self,
        request: &EgressRequest,
        head: &mut http::request::Parts,
        body: &mut Vec<u8>,
        found: &[&str],
    ) -> Result<(), Blocked> {
        if found.is_empty() {
            return Ok(());
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return Err(self.refuse(
                request,
                format!("blocked: a credential of kind `{}` in a binary body", found.join("`, `")),
            ));
        };
        let uri = head.uri.to_string();
        let head_parts: Vec<&[u8]> = std::iter::once(uri.as_bytes())
            .chain(head.headers.values().map(http::HeaderValue::as_bytes))
            .collect();
        if !self.well_known_in(&head_parts).is_empty() {
            return Err(self.refuse(
                request,
                format!(
                    "blocked: a credential of kind `{}` in the request line or headers",
                    found.join("`, `")
                ),
            ));
        }
        let cleaned = self.rules.redact(text);
        *body = cleaned.into_bytes();
        let redacted = SecretRedacted {
            where_: RedactedWhere::Egress,
            tool: None,
            host: Some(request.host.clone()),
            credentials: None,
            found: Some(found.iter().map(|rule| Found::RuleId((*rule).to_owned())).collect()),
            custody: None,
        };
        let _ = self.commit(&[redacted.into()]);
        Ok(())
    }
}

/// Why a request's `parts` (target, header values, body, in order) and
/// header `names` must not go: a vault secret whole in any form or disguise
/// (across consecutive parts too), or pieces that, with those `exposure`
/// holds from the run's earlier requests, make half of one. Pieces let
/// through are added to `exposure`. Names credentials, never values.
fn secrets_in(
    scanner: &LeakScanner,
    exposure: &mut Exposure,
    parts: &[&[u8]],
    names: &[&[u8]],
) -> Option<String> {
    let whole =
        scanner.scan_parts(parts).into_iter().chain(names.iter().flat_map(|n| scanner.scan(n)));
    if let Some(first) = whole.into_iter().next() {
        return Some(format!(
            "blocked: the request carries the value of vault credential `{}`; a sandbox never holds secrets",
            first.name
        ));
    }
    let every: Vec<&[u8]> = parts.iter().chain(names).copied().collect();
    let leaks = exposure.admit(scanner, &scanner.fragments(&every));
    let first = leaks.first()?;
    Some(format!(
        "blocked: the run's requests carry pieces of vault credential `{}` ({} of its characters with this one); a sandbox never holds secrets",
        first.name, first.covered
    ))
}

/// The body filter of [`RunCredentials::filter_response`]: vault secrets
/// masked (`*`, the length kept) as the body streams to the sandbox, and one
/// `secret_redacted` record for the response when it is done with.
struct ResponseRedaction {
    known: Arc<Known>,
    stream: StreamRedactor,
    /// Found in the head.
    found: Vec<(String, Encoding)>,
    audit: AuditLog,
    agent_id: String,
    host: String,
}

impl ResponseFilter for ResponseRedaction {
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.stream.push(&self.known.scanner, chunk, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.stream.finish(&self.known.scanner, out);
    }
}

impl Drop for ResponseRedaction {
    /// Records what was masked, also for a body cut short. After the bytes
    /// went: masking is a rewrite, not an action to approve.
    fn drop(&mut self) {
        let mut found = std::mem::take(&mut self.found);
        found.extend(self.stream.found().iter().map(|f| (f.name.clone(), f.encoding)));
        if found.is_empty() {
            return;
        }
        tracing::warn!(agent = %self.agent_id, host = %self.host, "a response carried a vault secret; it was masked");
        let leak = warrant_broker::leak::Leak { credentials: found, rules: Vec::new() };
        let redacted = SecretRedacted {
            where_: RedactedWhere::EgressResponse,
            tool: None,
            host: Some(self.host.clone()),
            credentials: None,
            found: Some(leak.record()),
            custody: None,
        };
        let event = match AuditEvent::of(&redacted) {
            Ok(event) => event.agent(self.agent_id.clone()),
            Err(e) => {
                tracing::error!(error = %e, "recording a masked response failed");
                return;
            }
        };
        let audit = self.audit.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn(async move {
                if let Err(e) = audit.append(event).await {
                    tracing::error!(error = %e, "recording a masked response failed");
                }
            })),
            Err(_) => {
                if let Err(e) = audit.append_blocking(event) {
                    tracing::error!(error = %e, "recording a masked response failed");
                }
            }
        }
    }
}

/// Overwrites each occurrence of `needle` in `haystack` with spaces.
fn mask(haystack: &mut [u8], needle: &[u8]) {
    if needle.is_empty() || needle.len() > haystack.len() {
        return;
    }
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if haystack.get(i..i + needle.len()) == Some(needle) {
            if let Some(window) = haystack.get_mut(i..i + needle.len()) {
                window.fill(b' ');
            }
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    /// A GitHub-shaped token, assembled so the repository holds none.
    fn token() -> String {
        ["gh", "p_", "1c0dQ4e9fZ2a", "7bK857aX3c6d", "M1e0fR9b2cW4d6eT"].concat()
    }

    fn scanner() -> LeakScanner {
        let secret = SecretValue::from_string(token());
        LeakScanner::new(&[("github", &secret)]).unwrap()
    }

    #[test]
    fn a_secret_split_across_two_headers_of_one_request_is_blocked() {
        let s = scanner();
        let t = token();
        let (head, tail) = t.split_at(22);
        // Two headers with another between them, the second half first.
        let parts: [&[u8]; 5] =
            [b"/upload", tail.as_bytes(), b"text/plain", head.as_bytes(), b"hello"];
        let names: [&[u8]; 3] = [b"x-part-b", b"content-type", b"x-part-a"];
        let reason = secrets_in(&s, &mut Exposure::default(), &parts, &names)
            .unwrap_or_else(|| panic!("missed"));
        assert!(reason.contains("`github`"), "{reason}");
        assert!(!reason.contains(head) && !reason.contains(tail), "{reason}");
        // Half in a header name, half in a value.
        let parts: [&[u8]; 3] = [b"/", head.as_bytes(), b""];
        let names: [&[u8]; 1] = [tail.as_bytes()];
        assert!(secrets_in(&s, &mut Exposure::default(), &parts, &names).is_some());
    }

    #[test]
    fn a_disguised_secret_in_a_request_is_blocked() {
        let s = scanner();
        let spaced: String = token().chars().flat_map(|c| [c, '-']).collect();
        let utf16: Vec<u8> = token().encode_utf16().flat_map(u16::to_le_bytes).collect();
        for body in [spaced.into_bytes(), utf16] {
            let parts: [&[u8]; 2] = [b"/", &body];
            assert!(secrets_in(&s, &mut Exposure::default(), &parts, &[]).is_some());
        }
    }

    #[test]
    fn pieces_over_a_runs_requests_are_blocked_once_half_has_gone() {
        let s = scanner();
        let body: Vec<char> = token()[4..].chars().collect();
        let pieces: Vec<String> = body.chunks(8).map(|c| c.iter().collect()).collect();
        let mut run = Exposure::default();
        let request = |piece: &str| format!("/search?q={piece}");
        for piece in &pieces[..2] {
            let target = request(piece);
            assert!(secrets_in(&s, &mut run, &[target.as_bytes()], &[]).is_none());
        }
        let target = request(&pieces[4]);
        assert!(secrets_in(&s, &mut run, &[target.as_bytes()], &[]).is_some());
        // An ordinary request is unaffected.
        assert!(secrets_in(&s, &mut run, &[b"/search?q=weather"], &[]).is_none());
    }
}
