//! A request as the swapper sees it, and what it returns: the swapped
//! request, or the violations that refused it.

use crate::CredentialName;
use crate::scan::Encoding;
use serde::Serialize;
use std::fmt;
use zeroize::Zeroizing;

/// One outgoing HTTP request, as bytes.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingRequest<'a> {
    /// The destination host, without the port.
    pub host: &'a str,
    /// The request target: origin-form path and query, or an absolute URL.
    pub target: &'a [u8],
    /// Header names and values, in order.
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: &'a [u8],
}

/// A part of a request. Headers are named by their index in
/// [`OutgoingRequest::headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Host,
    Target,
    HeaderName(usize),
    HeaderValue(usize),
    Body,
}

/// Where something was found: `len` bytes at `offset` into `part`. A real
/// secret split across parts is located where it starts, and its `len` runs
/// on into the parts after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Location {
    pub part: Part,
    pub offset: usize,
    pub len: usize,
    pub encoding: Encoding,
}

/// A credential's placeholder found at a location (swapped, or left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Occurrence {
    pub credential: CredentialName,
    pub at: Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// The placeholder of a credential not bound to the destination host.
    UnboundPlaceholder,
    /// A credential's real value.
    RealSecret,
}

/// Why a request was refused. Names the credential, never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub credential: CredentialName,
    pub at: Location,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ViolationKind::UnboundPlaceholder => "placeholder of credential",
            ViolationKind::RealSecret => "real value of credential",
        };
        let at = self.at;
        write!(
            f,
            "{what} `{}` in {:?} at byte {} ({:?})",
            self.credential, at.part, at.offset, at.encoding
        )
    }
}

/// A refused request: every violation found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request refused: {}", list(.violations))]
pub struct SwapRefused {
    pub violations: Vec<Violation>,
}

fn list(violations: &[Violation]) -> String {
    violations.iter().map(Violation::to_string).collect::<Vec<_>>().join("; ")
}

/// A request with its placeholders swapped. Each part has its input's length.
pub struct SwappedRequest {
    pub(super) target: Zeroizing<Vec<u8>>,
    pub(super) header_values: Vec<Zeroizing<Vec<u8>>>,
    pub(super) body: Zeroizing<Vec<u8>>,
    pub(super) swapped: Vec<Occurrence>,
    pub(super) unswapped: Vec<Occurrence>,
}

impl SwappedRequest {
    pub fn expose_target(&self) -> &[u8] {
        &self.target
    }

    /// The value of header `index` (same order as the input).
    pub fn expose_header_value(&self, index: usize) -> Option<&[u8]> {
        self.header_values.get(index).map(|v| v.as_slice())
    }

    pub fn expose_body(&self) -> &[u8] {
        &self.body
    }

    /// Where placeholders were replaced by secrets.
    pub fn swapped(&self) -> &[Occurrence] {
        &self.swapped
    }

    /// Placeholders of bound credentials left in place.
    pub fn unswapped(&self) -> &[Occurrence] {
        &self.unswapped
    }
}

impl fmt::Debug for SwappedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwappedRequest")
            .field("target_len", &self.target.len())
            .field("headers", &self.header_values.len())
            .field("body_len", &self.body.len())
            .field("swapped", &self.swapped)
            .field("unswapped", &self.unswapped)
            .finish()
    }
}

/// Sorts parts in the order they appear in a request.
pub(super) fn request_order(part: Part) -> (u8, usize) {
    match part {
        Part::Host => (0, 0),
        Part::Target => (1, 0),
        Part::HeaderName(i) => (2, i.saturating_mul(2)),
        Part::HeaderValue(i) => (2, i.saturating_mul(2).saturating_add(1)),
        Part::Body => (3, 0),
    }
}

/// The part an offset into the parts' concatenation falls in.
pub(super) fn locate(
    parts: &[(Part, &[u8])],
    offset: usize,
    len: usize,
    encoding: Encoding,
) -> Location {
    let mut start = 0;
    for (part, bytes) in parts {
        let end = start + bytes.len();
        if offset < end {
            return Location { part: *part, offset: offset - start, len, encoding };
        }
        start = end;
    }
    Location { part: Part::Body, offset, len, encoding }
}
