//! The launcher protocol's frames and the types they carry.
//!
//! A frame is a 4-byte little-endian length, then that many bytes of JSON.
//! The client sends two kinds of frame: `{"id": N, "launch": LaunchRequest}`,
//! and `{"cancel": {"id": N}}` to stop launch N (its answer is then
//! `cancelled`; a cancel is never answered itself, and one for an id that is
//! not running is ignored: it may have just ended). The helper sends
//! [`Answer`]s: `hello` once when it starts, then one `launched` or
//! `rejected` per launch request. OS strings (argv, environment,
//! paths of the spec) travel as the hex of their bytes, so nothing is lossy.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::child::ExitStatus;
use crate::launch::Output;
use crate::profile::{Profile, SandboxSpec};
use crate::report::{Control, Report};

/// Version of the protocol; the helper announces it in its `hello`.
pub(crate) const PROTOCOL: u32 = 2;
/// Largest request frame: a spec, a command line and an environment.
pub const MAX_REQUEST: usize = 4 << 20;
/// Largest output cap a request may ask for, per stream.
pub const MAX_OUTPUT_LIMIT: usize = 8 << 20;
/// Largest answer frame: two capped streams in hex, and the report.
pub(crate) const MAX_ANSWER: usize = 4 * MAX_OUTPUT_LIMIT + (1 << 20);

/// One launch, as the helper receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    pub spec: SandboxSpec,
    /// Program and arguments.
    #[serde(with = "hex_list")]
    pub argv: Vec<OsString>,
    /// The environment the profile's allowlist filters in the helper (the
    /// client sends only what the allowlist lets through).
    #[serde(with = "hex_pairs")]
    pub env: Vec<(OsString, OsString)>,
    /// Cap on each captured stream, at most [`MAX_OUTPUT_LIMIT`].
    pub max_output: usize,
}

/// The frame a client sends to launch.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    pub id: u64,
    pub launch: LaunchRequest,
}

/// The frame a client sends to stop a launch it sent: `{"cancel": {"id": N}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cancel {
    pub cancel: CancelOf,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelOf {
    pub id: u64,
}

/// Only the id of a frame that is not a valid [`Request`], to address the
/// rejection. Nothing else of such a frame is read.
#[derive(Deserialize)]
pub(crate) struct RequestId {
    pub id: u64,
}

/// What the helper sends.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Answer {
    /// Sent once, first: the helper is up.
    Hello { protocol: u32 },
    /// The request was valid and the launch was attempted.
    Launched {
        id: u64,
        outcome: Outcome,
        /// Why the helper's namespace pool stopped making namespaces, if it has.
        namespace_pool_failure: Option<String>,
    },
    /// The frame was not accepted; nothing from it ran.
    Rejected { id: Option<u64>, rejection: Rejection },
}

/// A launch's result.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Outcome {
    Ran(Output),
    /// Not run: the sandbox's [`crate::LaunchError`], as text and control.
    Refused {
        control: Option<Control>,
        message: String,
    },
    /// Cancelled by the client before it ended: its sandbox was killed (or
    /// never started, when the cancel came first).
    Cancelled,
}

/// Why a frame was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rejection {
    #[error("a frame of {len} bytes is over the limit of {max}")]
    Oversized { len: u64, max: u64 },
    #[error("the frame is not a launch or cancel request: {reason}")]
    Malformed { reason: String },
    #[error("the launch request is not valid: {reason}")]
    Invalid { reason: String },
    #[error("{max} launches are already running")]
    Busy { max: usize },
}

/// What one read of a frame found.
pub(crate) enum Frame {
    Body(Vec<u8>),
    /// The header announced more than the limit; its body is still unread.
    Oversized(u64),
    /// The stream ended cleanly between frames.
    End,
}

/// Reads one frame of at most `max` bytes. A stream that ends inside a frame
/// is an error (`UnexpectedEof`): a partial frame is never used.
pub(crate) fn read_frame(input: &mut impl Read, max: usize) -> io::Result<Frame> {
    let mut header = [0u8; 4];
    let mut filled = 0;
    while filled < header.len() {
        let Some(rest) = header.get_mut(filled..) else { break };
        match input.read(rest) {
            Ok(0) if filled == 0 => return Ok(Frame::End),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(header);
    match usize::try_from(len) {
        Ok(size) if size <= max => {
            let mut body = vec![0u8; size];
            input.read_exact(&mut body)?;
            Ok(Frame::Body(body))
        }
        _ => Ok(Frame::Oversized(u64::from(len))),
    }
}

/// Reads and drops the `len` bytes of an oversized frame's body.
pub(crate) fn skip(input: &mut impl Read, len: u64) -> io::Result<()> {
    let skipped = io::copy(&mut input.take(len), &mut io::sink())?;
    if skipped < len { Err(io::ErrorKind::UnexpectedEof.into()) } else { Ok(()) }
}

/// The bytes of one frame holding `value`, refused beyond `max`.
pub(crate) fn encode(value: &impl Serialize, max: usize) -> Result<Vec<u8>, EncodeError> {
    let body = serde_json::to_vec(value).map_err(EncodeError::Json)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|_| body.len() <= max)
        .ok_or(EncodeError::TooLarge { len: body.len(), max })?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Writes one frame with a single `write_all` (callers hold the writer's lock).
pub(crate) fn write_frame(out: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    out.write_all(frame)?;
    out.flush()
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum EncodeError {
    #[error("cannot encode the frame: {0}")]
    Json(#[source] serde_json::Error),
    #[error("a frame of {len} bytes is over the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

/// [`SandboxSpec`] on the wire (see [`SandboxSpec`]'s serde attributes).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireSpec {
    profile: Profile,
    workspace: Hex,
    cwd: Option<Hex>,
    proxy_socket: Option<Hex>,
    cgroup_parent: Option<Hex>,
    protected: Vec<(Hex, String)>,
}

impl From<SandboxSpec> for WireSpec {
    fn from(spec: SandboxSpec) -> Self {
        Self {
            profile: spec.profile,
            workspace: Hex::from(spec.workspace),
            cwd: spec.cwd.map(Hex::from),
            proxy_socket: spec.proxy_socket.map(Hex::from),
            cgroup_parent: spec.cgroup_parent.map(Hex::from),
            protected: spec.protected.into_iter().map(|(p, r)| (Hex::from(p), r)).collect(),
        }
    }
}

impl From<WireSpec> for SandboxSpec {
    fn from(wire: WireSpec) -> Self {
        Self {
            profile: wire.profile,
            workspace: wire.workspace.into(),
            cwd: wire.cwd.map(PathBuf::from),
            proxy_socket: wire.proxy_socket.map(PathBuf::from),
            cgroup_parent: wire.cgroup_parent.map(PathBuf::from),
            protected: wire.protected.into_iter().map(|(p, r)| (p.into(), r)).collect(),
        }
    }
}

/// [`Output`] on the wire: the streams in hex.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WireOutput {
    status: ExitStatus,
    stdout: Hex,
    stdout_truncated: bool,
    stderr: Hex,
    stderr_truncated: bool,
    report: Report,
}

impl From<Output> for WireOutput {
    fn from(output: Output) -> Self {
        Self {
            status: output.status,
            stdout: Hex(output.stdout),
            stdout_truncated: output.stdout_truncated,
            stderr: Hex(output.stderr),
            stderr_truncated: output.stderr_truncated,
            report: output.report,
        }
    }
}

impl From<WireOutput> for Output {
    fn from(wire: WireOutput) -> Self {
        Self {
            status: wire.status,
            stdout: wire.stdout.0,
            stdout_truncated: wire.stdout_truncated,
            stderr: wire.stderr.0,
            stderr_truncated: wire.stderr_truncated,
            report: wire.report,
        }
    }
}

/// Bytes as a lowercase hex string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hex(pub Vec<u8>);

impl From<PathBuf> for Hex {
    fn from(path: PathBuf) -> Self {
        Self(path.into_os_string().into_vec())
    }
}

impl From<OsString> for Hex {
    fn from(value: OsString) -> Self {
        Self(value.into_vec())
    }
}

impl From<Hex> for PathBuf {
    fn from(hex: Hex) -> Self {
        PathBuf::from(OsString::from_vec(hex.0))
    }
}

impl From<Hex> for OsString {
    fn from(hex: Hex) -> Self {
        OsString::from_vec(hex.0)
    }
}

const DIGITS: &[u8; 16] = b"0123456789abcdef";

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = String::with_capacity(self.0.len() * 2);
        for byte in &self.0 {
            for nibble in [byte >> 4, byte & 0xf] {
                text.push(char::from(*DIGITS.get(usize::from(nibble)).unwrap_or(&b'0')));
            }
        }
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let digit = |c: u8| DIGITS.iter().position(|d| *d == c);
        let pairs = text.as_bytes().chunks(2);
        let mut bytes = Vec::with_capacity(text.len() / 2);
        for pair in pairs {
            let [high, low] = pair else {
                return Err(serde::de::Error::custom("hex of odd length"));
            };
            let (Some(high), Some(low)) = (digit(*high), digit(*low)) else {
                return Err(serde::de::Error::custom("not lowercase hex"));
            };
            bytes.push(u8::try_from(high * 16 + low).map_err(serde::de::Error::custom)?);
        }
        Ok(Self(bytes))
    }
}

/// `Vec<OsString>` as a list of hex strings.
mod hex_list {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        list: &[OsString],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(list.iter().map(|s| Hex(s.as_bytes().to_vec())))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<OsString>, D::Error> {
        Ok(Vec::<Hex>::deserialize(deserializer)?.into_iter().map(OsString::from).collect())
    }
}

/// `Vec<(OsString, OsString)>` as a list of pairs of hex strings.
mod hex_pairs {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        pairs: &[(OsString, OsString)],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            pairs.iter().map(|(n, v)| (Hex(n.as_bytes().to_vec()), Hex(v.as_bytes().to_vec()))),
        )
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<(OsString, OsString)>, D::Error> {
        let pairs = Vec::<(Hex, Hex)>::deserialize(deserializer)?;
        Ok(pairs.into_iter().map(|(n, v)| (n.into(), v.into())).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn request() -> Request {
        let spec = SandboxSpec::new(Profile::builtin("strict").unwrap(), "/w\u{e9}rk/\u{1f600}")
            .with_cwd(PathBuf::from(OsString::from_vec(b"/w/\xff\xfe".to_vec())))
            .with_protected("/secret", "the vault");
        let launch = LaunchRequest {
            spec,
            argv: vec!["/bin/echo".into(), OsString::from_vec(b"\x00\xff\x80 a".to_vec())],
            env: vec![("LANG".into(), OsString::from_vec(b"C\xff".to_vec()))],
            max_output: 4096,
        };
        Request { id: 7, launch }
    }

    #[test]
    fn a_request_survives_the_wire_byte_for_byte() {
        let sent = request();
        let frame = encode(&sent, MAX_REQUEST).unwrap();
        let Frame::Body(body) = read_frame(&mut frame.as_slice(), MAX_REQUEST).unwrap() else {
            panic!("no body")
        };
        let received: Request = serde_json::from_slice(&body).unwrap();
        assert_eq!(received.id, 7);
        assert_eq!(received.launch, sent.launch);
    }

    #[test]
    fn an_unknown_field_anywhere_is_refused() {
        let mut value = serde_json::to_value(request()).unwrap();
        value["launch"]["spec"]["mounts_everything"] = true.into();
        assert!(serde_json::from_value::<Request>(value).is_err());
        let mut value = serde_json::to_value(request()).unwrap();
        value["shutdown"] = true.into();
        assert!(serde_json::from_value::<Request>(value).is_err());
    }

    #[test]
    fn a_cancel_is_its_id_and_nothing_else() {
        let frame = encode(&Cancel { cancel: CancelOf { id: 9 } }, MAX_REQUEST).unwrap();
        assert_eq!(&frame[4..], br#"{"cancel":{"id":9}}"#);
        for bad in [
            r#"{"cancel":{"id":9},"id":9}"#,
            r#"{"cancel":{"id":9,"launch":{}}}"#,
            r#"{"cancel":9}"#,
            r#"{"cancel":{}}"#,
        ] {
            assert!(serde_json::from_str::<Cancel>(bad).is_err(), "{bad}");
        }
        // Neither frame is read as the other.
        assert!(serde_json::from_str::<Request>(r#"{"cancel":{"id":9}}"#).is_err());
        let launch = serde_json::to_string(&request()).unwrap();
        assert!(serde_json::from_str::<Cancel>(&launch).is_err());
    }

    #[test]
    fn hex_is_strict() {
        for bad in ["\"abc\"", "\"zz\"", "\"AB\"", "12"] {
            assert!(serde_json::from_str::<Hex>(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::from_str::<Hex>("\"00ff10\"").unwrap().0, vec![0, 255, 16]);
    }

    #[test]
    fn an_oversized_header_is_reported_without_reading_the_body() {
        let mut bytes = 11u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"01234567890");
        let mut input = bytes.as_slice();
        assert!(matches!(read_frame(&mut input, 10).unwrap(), Frame::Oversized(11)));
        skip(&mut input, 11).unwrap();
        assert!(matches!(read_frame(&mut input, 10).unwrap(), Frame::End));
    }

    #[test]
    fn a_frame_cut_short_is_an_error_not_a_frame() {
        let frame = encode(&request(), MAX_REQUEST).unwrap();
        for cut in [2, 4, frame.len() - 1] {
            assert!(read_frame(&mut &frame[..cut], MAX_REQUEST).is_err(), "cut at {cut}");
        }
    }
}
