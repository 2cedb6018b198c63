//! The request target, parsed once: which host, which port, which kind.
//!
//! Only two forms are proxy requests: absolute-form `http://host[:port]/path`
//! and authority-form `CONNECT host:port`. Hosts are normalised (ASCII
//! lowercase, one trailing dot removed) and refused if they carry userinfo,
//! characters outside `[a-z0-9._-]`, an IPv6 zone, or a numeric form that is
//! not a dotted-quad IPv4 address (`127.1`, `0x7f.1`, `2130706433`), since
//! resolvers disagree on what those mean.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::{Method, Uri};

/// A parsed proxy request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) kind: TargetKind,
}

/// A normalised host: a name to resolve, or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Name(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetKind {
    /// Forward; `path` is the origin-form path and query.
    Http {
        path: String,
    },
    Connect,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    #[error("not a proxy request: send absolute-form `http://host/path`, or CONNECT for https")]
    NotProxyRequest,
    #[error("scheme `{0}` is not proxied: send https through CONNECT")]
    UnsupportedScheme(String),
    #[error("CONNECT needs a `host:port` target")]
    ConnectTarget,
    #[error("credentials in the request target are refused")]
    Userinfo,
    #[error("empty host")]
    EmptyHost,
    #[error("invalid host `{0}`")]
    InvalidHost(String),
    #[error("invalid port `{0}`")]
    InvalidPort(String),
    #[error("numeric host `{0}` is not a dotted-quad IPv4 address")]
    AmbiguousNumericHost(String),
    #[error("IPv6 zone identifiers are refused")]
    Ipv6Zone,
}

const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;
/// How much of an invalid input is echoed back in an error.
const ECHO_LEN: usize = 64;

impl Host {
    /// The form given to the gate: a name, or the canonical IP text.
    pub(crate) fn text(&self) -> String {
        match self {
            Self::Name(name) => name.clone(),
            Self::Ip(ip) => ip.to_string(),
        }
    }

    /// The value of the `Host` header sent upstream; the port is left out
    /// when it is the scheme's `default_port`.
    pub(crate) fn header_value(&self, port: u16, default_port: u16) -> String {
        let host = match self {
            Self::Ip(IpAddr::V6(v6)) => format!("[{v6}]"),
            other => other.text(),
        };
        if port == default_port { host } else { format!("{host}:{port}") }
    }
}

/// Parses a request's method and target into a [`Target`].
pub(crate) fn parse(method: &Method, uri: &Uri) -> Result<Target, TargetError> {
    if method == Method::CONNECT {
        let authority = match (uri.scheme(), uri.authority()) {
            (None, Some(authority)) => authority,
            _ => return Err(TargetError::ConnectTarget),
        };
        let (host, port) = parse_authority(authority.as_str(), None)?;
        return Ok(Target { host, port, kind: TargetKind::Connect });
    }
    let Some(scheme) = uri.scheme_str() else {
        return Err(TargetError::NotProxyRequest);
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(TargetError::UnsupportedScheme(excerpt(scheme)));
    }
    let authority = uri.authority().ok_or(TargetError::NotProxyRequest)?;
    let (host, port) = parse_authority(authority.as_str(), Some(80))?;
    let mut path = if uri.path().is_empty() { "/".to_owned() } else { uri.path().to_owned() };
    if let Some(query) = uri.query() {
        path.push('?');
        path.push_str(query);
    }
    Ok(Target { host, port, kind: TargetKind::Http { path } })
}

/// Parses a `Host` header value or a request's authority, normalised as a
/// target's host is; `default_port` when it names none.
pub(crate) fn parse_host_header(
    value: &str,
    default_port: u16,
) -> Result<(Host, u16), TargetError> {
    parse_authority(value, Some(default_port))
}

/// Truncates agent-controlled text before it is echoed or recorded.
pub(crate) fn excerpt(text: &str) -> String {
    text.chars().take(ECHO_LEN).collect()
}

fn parse_authority(authority: &str, default_port: Option<u16>) -> Result<(Host, u16), TargetError> {
    if authority.contains('@') {
        return Err(TargetError::Userinfo);
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) =
            rest.split_once(']').ok_or_else(|| TargetError::InvalidHost(excerpt(authority)))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| TargetError::InvalidHost(excerpt(authority)))?,
            ),
        };
        (parse_ipv6(inside)?, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        (parse_host(host)?, port)
    };
    let port = match port {
        Some(text) => parse_port(text)?,
        None => default_port.ok_or(TargetError::ConnectTarget)?,
    };
    Ok((host, port))
}

fn parse_ipv6(inside: &str) -> Result<Host, TargetError> {
    if inside.contains('%') {
        return Err(TargetError::Ipv6Zone);
    }
    inside
        .parse::<Ipv6Addr>()
        .map(|ip| Host::Ip(IpAddr::V6(ip)))
        .map_err(|_| TargetError::InvalidHost(excerpt(inside)))
}

fn parse_host(raw: &str) -> Result<Host, TargetError> {
    let lower = raw.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.is_empty() {
        return Err(TargetError::EmptyHost);
    }
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    };
    if name.len() > MAX_NAME_LEN || !name.split('.').all(valid_label) {
        return Err(TargetError::InvalidHost(excerpt(raw)));
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last.strip_prefix("0x").is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if numeric {
        return Err(TargetError::AmbiguousNumericHost(excerpt(raw)));
    }
    Ok(Host::Name(name.to_owned()))
}

fn parse_port(text: &str) -> Result<u16, TargetError> {
    let invalid = || TargetError::InvalidPort(excerpt(text));
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(target: &str) -> Result<Target, TargetError> {
        parse(&Method::GET, &target.parse().unwrap())
    }

    fn connect(target: &str) -> Result<Target, TargetError> {
        parse(&Method::CONNECT, &target.parse().unwrap())
    }

    fn name(n: &str) -> Host {
        Host::Name(n.to_owned())
    }

    #[test]
    fn absolute_form_is_split_into_host_port_and_origin_path() {
        let t = get("http://Example.COM./a/b?c=d").unwrap();
        assert_eq!(t.host, name("example.com"));
        assert_eq!(t.port, 80);
        assert_eq!(t.kind, TargetKind::Http { path: "/a/b?c=d".into() });
        let t = get("http://example.com:8080").unwrap();
        assert_eq!(t.port, 8080);
        assert_eq!(t.kind, TargetKind::Http { path: "/".into() });
    }

    #[test]
    fn connect_needs_host_and_port() {
        let t = connect("example.com:443").unwrap();
        assert_eq!((t.host, t.port, t.kind), (name("example.com"), 443, TargetKind::Connect));
        assert_eq!(connect("example.com").unwrap_err(), TargetError::ConnectTarget);
        assert_eq!(connect("http://example.com:443/").unwrap_err(), TargetError::ConnectTarget);
    }

    #[test]
    fn ip_literals_are_canonical_and_ipv6_is_bracketed_only_in_host_header() {
        let t = connect("[::FFFF:127.0.0.1]:443").unwrap();
        assert_eq!(t.host, Host::Ip("::ffff:127.0.0.1".parse().unwrap()));
        assert_eq!(t.host.text(), "::ffff:127.0.0.1");
        assert_eq!(t.host.header_value(8080, 80), "[::ffff:127.0.0.1]:8080");
        let t = get("http://10.0.0.1/").unwrap();
        assert_eq!(t.host.header_value(80, 80), "10.0.0.1");
    }

    #[test]
    fn origin_form_and_other_schemes_are_not_proxy_requests() {
        assert_eq!(get("/path").unwrap_err(), TargetError::NotProxyRequest);
        assert_eq!(get("*").unwrap_err(), TargetError::NotProxyRequest);
        assert_eq!(get("example.com:80").unwrap_err(), TargetError::NotProxyRequest);
        assert!(matches!(get("https://example.com/"), Err(TargetError::UnsupportedScheme(_))));
    }

    #[test]
    fn userinfo_bad_characters_and_empty_hosts_are_refused() {
        assert_eq!(get("http://user:pw@example.com/").unwrap_err(), TargetError::Userinfo);
        assert_eq!(connect("user@example.com:443").unwrap_err(), TargetError::Userinfo);
        // `%` is already refused by the URI parser; these pass it.
        for host in ["exa$mple.com", "a,b", "a;b", "a=b", "ex'ample"] {
            assert!(
                matches!(get(&format!("http://{host}/")), Err(TargetError::InvalidHost(_))),
                "{host}"
            );
        }
        assert!(matches!(get("http://a:/"), Err(TargetError::InvalidPort(_))));
        assert!(matches!(get("http://a..b/"), Err(TargetError::InvalidHost(_))));
        assert!(matches!(get("http://a!b/"), Err(TargetError::InvalidHost(_))));
        assert_eq!(connect("[fe80::1%25eth0]:443").unwrap_err(), TargetError::Ipv6Zone);
        assert!(matches!(connect("[::1]x:443"), Err(TargetError::InvalidHost(_))));
    }

    #[test]
    fn numeric_hosts_that_are_not_dotted_quads_are_refused() {
        for host in ["127.1", "2130706433", "0x7f.0.0.1", "010.0.0.1", "foo.0x7f", "1.2.3.04"] {
            assert!(
                matches!(
                    get(&format!("http://{host}/")),
                    Err(TargetError::AmbiguousNumericHost(_))
                ),
                "{host}"
            );
        }
        assert!(get("http://1password.com/").is_ok());
    }

    #[test]
    fn host_headers_are_normalised_like_targets() {
        assert_eq!(
            parse_host_header("API.Example.com.", 443).unwrap(),
            (name("api.example.com"), 443)
        );
        assert_eq!(parse_host_header("api.example.com:8443", 443).unwrap().1, 8443);
        assert_eq!(
            parse_host_header("[::1]:443", 443).unwrap(),
            (Host::Ip("::1".parse().unwrap()), 443)
        );
        assert!(parse_host_header("user@api.example.com", 443).is_err());
    }

    #[test]
    fn ports_must_be_between_1_and_65535() {
        assert!(matches!(connect("example.com:0"), Err(TargetError::InvalidPort(_))));
        // The URI parser may already reject it; if not, the target parser does.
        if let Ok(uri) = "example.com:65536".parse::<Uri>() {
            assert!(matches!(parse(&Method::CONNECT, &uri), Err(TargetError::InvalidPort(_))));
        }
        assert_eq!(connect("example.com:65535").unwrap().port, 65535);
    }
}
