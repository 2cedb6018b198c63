//! Swapping placeholders for secrets in outgoing requests.
//!
//! A [`Swapper`] is built once per run from each credential's name,
//! [`Placeholder`], secret, bound hosts and the [`SwapParts`] of a request it
//! may be swapped into. [`Swapper::swap_request`] takes one request as bytes
//! (this crate does not depend on an HTTP library) and either refuses it with
//! every [`Violation`] found, or returns the request with each placeholder of
//! a credential bound to the destination replaced by its secret.
//!
//! A request is refused when it carries:
//! - a placeholder, in any form the leak scanner knows, of a credential that
//!   is not bound to the destination host (the agent is sending it elsewhere);
//! - a real secret, in any form, anywhere, including split across consecutive
//!   parts (an agent must never hold a secret: if it has one, that is a leak).
//!
//! Where placeholders are replaced, in each part the credential's
//! [`SwapParts`] allows: raw, hex, URL- and form-encoded, and JSON-escaped
//! forms, each by the same form of the secret; and inside the base64 of an
//! `Authorization: Basic` header (decoded, swapped, re-encoded). A placeholder
//! has its secret's length and the same bytes wherever the secret has no
//! letter or digit, so every one of these forms has the same length for both:
//! **swapping never changes a part's length**, and every offset reported
//! holds before and after. A placeholder left in place (in a part its
//! credential may not be swapped into, inside other base64, in a header
//! name or the host) is reported as unswapped; the upstream sees only the
//! placeholder.
//!
//! Nothing here holds a secret in its `Debug` or error text: violations and
//! records carry credential names, parts, offsets and encodings. Header names
//! are reported by index, since an agent could put a secret in one. The
//! swapped parts are `Zeroizing` buffers read through `expose_*` accessors;
//! what the caller copies out of them (into a `HeaderValue`, a body buffer,
//! the socket's buffers) is out of this crate's reach and is not zeroized.
//!
//! Not protected against: a bound host that reflects what it receives. An
//! agent that sends its placeholder in a request body or URL to a bound host
//! that stores or echoes it (an issue comment, a search query) gets the
//! secret back in a response or a later read. Allow body and URL swapping
//! only where a credential needs it, and scan responses from bound hosts with
//! [`Swapper::secret_scanner`].

mod request;

pub use request::{
    Location, Occurrence, OutgoingRequest, Part, SwapRefused, SwappedRequest, Violation,
    ViolationKind,
};

use crate::forms::positional_forms;
use crate::host::host_matches;
use crate::placeholder::Placeholder;
use crate::scan::{Encoding, LeakScanner};
use crate::{CredentialName, SecretValue, VaultError};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use request::{locate, request_order};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use zeroize::Zeroizing;

/// One credential as the swapper needs it.
pub struct SwapEntry {
    pub name: CredentialName,
    pub placeholder: Placeholder,
    pub secret: SecretValue,
    /// Host patterns it may be sent to (see [`crate::host_matches`]).
    pub hosts: Vec<String>,
    pub parts: SwapParts,
}

/// The parts of a request a credential's placeholder is swapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwapParts {
    pub headers: bool,
    /// The request target: path and query.
    pub target: bool,
    pub body: bool,
}

impl SwapParts {
    pub const ALL: Self = Self { headers: true, target: true, body: true };
    pub const HEADERS: Self = Self { headers: true, target: false, body: false };
}

/// Swaps placeholders for secrets. Its `Debug` shows names and hosts only.
pub struct Swapper {
    credentials: Vec<Credential>,
    by_name: HashMap<String, usize>,
    placeholders: LeakScanner,
    secrets: LeakScanner,
    swap: Option<AhoCorasick>,
    /// For each pattern of `swap`: the credential, the form, and the same form
    /// of the secret.
    replacements: Vec<(usize, Encoding, Zeroizing<Vec<u8>>)>,
}

struct Credential {
    name: CredentialName,
    hosts: Vec<String>,
    parts: SwapParts,
}

impl Swapper {
    /// Builds the swapper. Refuses two credentials with one name or one
    /// placeholder, a placeholder not shaped like its secret (see
    /// [`crate::placeholder_for`]), and a host pattern that is neither a host
    /// nor `*.domain`.
    pub fn new(entries: Vec<SwapEntry>) -> Result<Self, VaultError> {
        let mut credentials = Vec::with_capacity(entries.len());
        let mut by_name = HashMap::new();
        let mut seen_placeholders = HashSet::new();
        let mut patterns: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        let mut replacements = Vec::new();
        let mut seen_forms = HashSet::new();
        for (index, entry) in entries.iter().enumerate() {
            let refuse =
                |reason: String| VaultError::SwapperBuild { name: entry.name.to_string(), reason };
            if by_name.insert(entry.name.as_str().to_owned(), index).is_some() {
                return Err(refuse("is given twice".to_owned()));
            }
            if !seen_placeholders.insert(entry.placeholder.as_str().to_owned()) {
                return Err(refuse("has the placeholder of another credential".to_owned()));
            }
            if !same_shape(entry.placeholder.as_bytes(), entry.secret.expose_secret()) {
                return Err(refuse("has a placeholder that is not shaped like its secret".into()));
            }
            let mut hosts = Vec::with_capacity(entry.hosts.len());
            for host in &entry.hosts {
                let host = host.to_ascii_lowercase();
                if !valid_pattern(&host) {
                    return Err(refuse(format!("has host `{host}`, not a host or `*.domain`")));
                }
                hosts.push(host);
            }
            let placeholder_forms = positional_forms(entry.placeholder.as_bytes());
            let secret_forms = positional_forms(entry.secret.expose_secret());
            if placeholder_forms.len() != secret_forms.len() {
                return Err(refuse("has a placeholder not shaped like its secret".to_owned()));
            }
            for ((form, encoding), (secret_form, _)) in
                placeholder_forms.into_iter().zip(secret_forms)
            {
                if form.len() != secret_form.len() {
                    return Err(refuse("has a placeholder not shaped like its secret".to_owned()));
                }
                if seen_forms.insert(form.to_vec()) {
                    patterns.push(form);
                    replacements.push((index, encoding, secret_form));
                }
            }
            credentials.push(Credential { name: entry.name.clone(), hosts, parts: entry.parts });
        }
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let placeholder_values: Vec<SecretValue> = entries
            .iter()
            .map(|e| SecretValue::from_string(e.placeholder.as_str().to_owned()))
            .collect();
        let placeholder_pairs: Vec<(&str, &SecretValue)> =
            names.iter().copied().zip(&placeholder_values).collect();
        let secret_pairs: Vec<(&str, &SecretValue)> =
            names.iter().copied().zip(entries.iter().map(|e| &e.secret)).collect();
        let placeholders = LeakScanner::new(&placeholder_pairs)?;
        let secrets = LeakScanner::new(&secret_pairs)?;
        let swap = if patterns.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|p| p.as_slice()))
                .map_err(|e| VaultError::ScannerBuild { reason: e.to_string() })?;
            Some(built)
        };
        Ok(Self { credentials, by_name, placeholders, secrets, swap, replacements })
    }

    /// Checks `request` and swaps its placeholders (see the module doc).
    pub fn swap_request(
        &self,
        request: &OutgoingRequest<'_>,
    ) -> Result<SwappedRequest, SwapRefused> {
        let bound: Vec<bool> = self
            .credentials
            .iter()
            .map(|c| c.hosts.iter().any(|pattern| host_matches(pattern, request.host)))
            .collect();
        let violations = self.violations(request, &bound);
        if !violations.is_empty() {
            return Err(SwapRefused { violations });
        }

        let mut swapped = Vec::new();
        let may = |part: Part| {
            move |c: &Credential| match part {
                Part::Target => c.parts.target,
                Part::HeaderValue(_) => c.parts.headers,
                Part::Body => c.parts.body,
                Part::Host | Part::HeaderName(_) => false,
            }
        };
        let target =
            self.swap_in(Part::Target, request.target, &bound, may(Part::Target), &mut swapped);
        let mut header_values = Vec::with_capacity(request.headers.len());
        for (i, (_, value)) in request.headers.iter().enumerate() {
            let part = Part::HeaderValue(i);
            let out = match self.swap_basic(part, value, &bound, &mut swapped) {
                Some(out) => out,
                None => self.swap_in(part, value, &bound, may(part), &mut swapped),
            };
            header_values.push(out);
        }
        let body = self.swap_in(Part::Body, request.body, &bound, may(Part::Body), &mut swapped);

        // Whatever placeholder is still there was left in place.
        let mut unswapped = Vec::new();
        let mut left = |part: Part, bytes: &[u8]| {
            for (index, at) in self.placeholders_in(part, bytes) {
                if let Some(credential) = self.credentials.get(index) {
                    unswapped.push(Occurrence { credential: credential.name.clone(), at });
                }
            }
        };
        left(Part::Host, request.host.as_bytes());
        left(Part::Target, &target);
        for (i, ((name, _), value)) in request.headers.iter().zip(&header_values).enumerate() {
            left(Part::HeaderName(i), name.as_bytes());
            left(Part::HeaderValue(i), value);
        }
        left(Part::Body, &body);
        Ok(SwappedRequest { target, header_values, body, swapped, unswapped })
    }

    /// A scanner over the real secrets, for responses from bound hosts and
    /// anything else that should never carry them.
    pub fn secret_scanner(&self) -> &LeakScanner {
        &self.secrets
    }

    /// Every real secret in `request`, and every placeholder of a credential
    /// not bound to its host, in request order.
    fn violations(&self, request: &OutgoingRequest<'_>, bound: &[bool]) -> Vec<Violation> {
        let mut violations = Vec::new();
        let mut add = |kind, index: usize, at| {
            if let Some(credential) = self.credentials.get(index) {
                violations.push(Violation { kind, credential: credential.name.clone(), at });
            }
        };
        // Header values sit next to each other in one scan, so a secret split
        // across them (or across the target, the values and the body) is
        // caught; names are scanned on their own.
        let mut joined: Vec<(Part, &[u8])> =
            vec![(Part::Host, request.host.as_bytes()), (Part::Target, request.target)];
        for (i, (_, value)) in request.headers.iter().enumerate() {
            joined.push((Part::HeaderValue(i), value));
        }
        joined.push((Part::Body, request.body));
        let slices: Vec<&[u8]> = joined.iter().map(|(_, bytes)| *bytes).collect();
        for finding in self.secrets.scan_parts(&slices) {
            let Some(&index) = self.by_name.get(&finding.name) else { continue };
            let at = locate(&joined, finding.offset, finding.len, finding.encoding);
            add(ViolationKind::RealSecret, index, at);
        }
        let names = request.headers.iter().enumerate().map(|(i, (n, _))| (Part::HeaderName(i), n));
        for (part, name) in names.clone() {
            for finding in self.secrets.scan(name.as_bytes()) {
                let Some(&index) = self.by_name.get(&finding.name) else { continue };
                let at = Location {
                    part,
                    offset: finding.offset,
                    len: finding.len,
                    encoding: finding.encoding,
                };
                add(ViolationKind::RealSecret, index, at);
            }
        }
        let every_part = joined.iter().copied().chain(names.map(|(part, n)| (part, n.as_bytes())));
        for (part, bytes) in every_part {
            for (index, at) in self.placeholders_in(part, bytes) {
                if !bound.get(index).copied().unwrap_or(false) {
                    add(ViolationKind::UnboundPlaceholder, index, at);
                }
            }
        }
        violations.sort_by_key(|v| (request_order(v.at.part), v.at.offset));
        violations
    }

    /// Every placeholder in `bytes`, in any form, by credential index.
    fn placeholders_in(&self, part: Part, bytes: &[u8]) -> Vec<(usize, Location)> {
        self.placeholders
            .scan(bytes)
            .into_iter()
            .filter_map(|f| {
                let index = *self.by_name.get(&f.name)?;
                Some((index, Location { part, offset: f.offset, len: f.len, encoding: f.encoding }))
            })
            .collect()
    }

    /// `bytes` with each placeholder form of a bound credential that `may`
    /// allows replaced by the same form of its secret.
    fn swap_in(
        &self,
        part: Part,
        bytes: &[u8],
        bound: &[bool],
        may: impl Fn(&Credential) -> bool,
        swapped: &mut Vec<Occurrence>,
    ) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(bytes.to_vec());
        let Some(automaton) = &self.swap else { return out };
        for m in automaton.find_iter(bytes) {
            let Some((index, encoding, secret)) = self.replacements.get(m.pattern().as_usize())
            else {
                continue;
            };
            let Some(credential) = self.credentials.get(*index) else { continue };
            if !bound.get(*index).copied().unwrap_or(false) || !may(credential) {
                continue;
            }
            // Same length by construction (checked in `new`).
            let Some(slot) = out.get_mut(m.range()).filter(|s| s.len() == secret.len()) else {
                continue;
            };
            slot.copy_from_slice(secret);
            swapped.push(Occurrence {
                credential: credential.name.clone(),
                at: Location { part, offset: m.start(), len: m.len(), encoding: *encoding },
            });
        }
        out
    }

    /// For an `Authorization: Basic` value: the credentials decoded, swapped
    /// and re-encoded (base64 of input of one length has one length). `None`
    /// when the value is not Basic with canonical base64.
    fn swap_basic(
        &self,
        part: Part,
        value: &[u8],
        bound: &[bool],
        swapped: &mut Vec<Occurrence>,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let (start, token) = basic_token(value)?;
        let (engine, decoded) = [STANDARD, STANDARD_NO_PAD].into_iter().find_map(|engine| {
            let decoded = Zeroizing::new(engine.decode(token).ok()?);
            (engine.encode(decoded.as_slice()).as_bytes() == token).then_some((engine, decoded))
        })?;
        let mut inner = Vec::new();
        let may = |c: &Credential| c.parts.headers;
        let replaced = self.swap_in(part, &decoded, bound, may, &mut inner);
        if inner.is_empty() {
            return None;
        }
        let encoded = Zeroizing::new(engine.encode(replaced.as_slice()));
        let mut out = Zeroizing::new(value.to_vec());
        let slot = out.get_mut(start..start.checked_add(token.len())?)?;
        if slot.len() != encoded.len() {
            return None;
        }
        slot.copy_from_slice(encoded.as_bytes());
        let at = Location { part, offset: start, len: token.len(), encoding: Encoding::Base64 };
        swapped.extend(inner.into_iter().map(|o| Occurrence { at, ..o }));
        Some(out)
    }
}

impl fmt::Debug for Swapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials: Vec<(&str, &[String])> =
            self.credentials.iter().map(|c| (c.name.as_str(), c.hosts.as_slice())).collect();
        f.debug_struct("Swapper").field("credentials", &credentials).finish_non_exhaustive()
    }
}

/// Whether `placeholder` could stand for `secret`: the same length, and a
/// letter or digit wherever the other has one, the same byte elsewhere.
fn same_shape(placeholder: &[u8], secret: &[u8]) -> bool {
    placeholder.len() == secret.len()
        && placeholder != secret
        && placeholder
            .iter()
            .zip(secret)
            .all(|(p, s)| (p.is_ascii_alphanumeric() && s.is_ascii_alphanumeric()) || p == s)
}

/// A host, or `*.` and a domain, in host-name characters, with no other `*`
/// and no empty label.
fn valid_pattern(pattern: &str) -> bool {
    let characters = pattern.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:[]*".contains(&b));
    characters
        && match pattern.strip_prefix("*.") {
            Some(domain) => host_matches(pattern, &format!("x.{domain}")),
            None => host_matches(pattern, pattern),
        }
}

/// The offset and bytes of the base64 token in a `Basic` credentials value.
fn basic_token(value: &[u8]) -> Option<(usize, &[u8])> {
    let lead = value.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    let scheme = value.get(lead..lead.checked_add(5)?)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let after = lead + 5;
    let gap = value.get(after..)?.iter().take_while(|b| **b == b' ').count();
    if gap == 0 {
        return None;
    }
    let start = after + gap;
    let rest = value.get(start..)?;
    let len = rest.iter().take_while(|b| !b.is_ascii_whitespace()).count();
    let token = rest.get(..len)?;
    let trailing = rest.get(len..)?;
    (!token.is_empty() && trailing.iter().all(u8::is_ascii_whitespace)).then_some((start, token))
}
