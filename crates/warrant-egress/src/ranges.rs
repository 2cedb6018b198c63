//! The address ranges an agent may not reach unless the embedder exempts them,
//! as data with a reason per entry.
//!
//! A destination is refused if *any* address its name resolves to is
//! forbidden: a name that answers with one public and one private address is a
//! rebinding attempt or a misconfiguration, and either way not worth the risk.
//! IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged
//! by the IPv4 address they carry, and IPv6 outside global unicast (2000::/3)
//! is refused wholesale.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// One forbidden range and why.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForbiddenRange {
    pub(crate) net: IpNet,
    pub(crate) reason: &'static str,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, reason: &'static str) -> ForbiddenRange {
    ForbiddenRange { net: IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)), reason }
}

const fn v6(segments: [u16; 8], len: u8, reason: &'static str) -> ForbiddenRange {
    let [a, b, c, d, e, f, g, h] = segments;
    ForbiddenRange {
        net: IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)),
        reason,
    }
}

/// Forbidden IPv4 ranges; the first match names the reason, so specific
/// entries come before the ranges that contain them.
pub(crate) const FORBIDDEN_V4: &[ForbiddenRange] = &[
    v4(0, 0, 0, 0, 32, "unspecified"),
    v4(0, 0, 0, 0, 8, "this network (RFC 791)"),
    v4(10, 0, 0, 0, 8, "private (RFC 1918)"),
    v4(100, 64, 0, 0, 10, "shared address space, carrier-grade NAT (RFC 6598)"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(169, 254, 169, 254, 32, "link-local (cloud metadata)"),
    v4(169, 254, 0, 0, 16, "link-local"),
    v4(172, 16, 0, 0, 12, "private (RFC 1918)"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments (RFC 6890)"),
    v4(192, 0, 2, 0, 24, "documentation (TEST-NET-1)"),
    v4(192, 88, 99, 0, 24, "6to4 relay anycast (deprecated)"),
    v4(192, 168, 0, 0, 16, "private (RFC 1918)"),
    v4(198, 18, 0, 0, 15, "benchmarking (RFC 2544)"),
    v4(198, 51, 100, 0, 24, "documentation (TEST-NET-2)"),
    v4(203, 0, 113, 0, 24, "documentation (TEST-NET-3)"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(255, 255, 255, 255, 32, "broadcast"),
    v4(240, 0, 0, 0, 4, "reserved (RFC 1112)"),
];

/// Forbidden IPv6 ranges inside or beside global unicast; same ordering rule.
pub(crate) const FORBIDDEN_V6: &[ForbiddenRange] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use IPv4/IPv6 translation (RFC 8215)"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only (RFC 6666)"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation (RFC 9637)"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing SIDs (RFC 9602)"),
    v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, "AWS instance metadata (cloud metadata)"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local (ULA)"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

/// IPv6 outside this range is not routable on the internet today.
const GLOBAL_UNICAST_V6: ForbiddenRange =
    v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, "outside global unicast (2000::/3)");

/// Why `ip` may not be reached, or `None` if it is an ordinary public
/// address. Exemptions are not considered here (see [`is_exempt`]).
pub(crate) fn forbidden_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(_) => first_match(FORBIDDEN_V4, ip).map(str::to_owned),
        IpAddr::V6(v6) => {
            if let Some((form, inner)) = embedded_v4(v6) {
                return forbidden_reason(IpAddr::V4(inner))
                    .map(|why| format!("{form} {inner}: {why}"));
            }
            if let Some(why) = first_match(FORBIDDEN_V6, ip) {
                return Some(why.to_owned());
            }
            (!GLOBAL_UNICAST_V6.net.contains(&ip)).then(|| GLOBAL_UNICAST_V6.reason.to_owned())
        }
    }
}

/// Whether an exemption in `allow` covers `ip`: a network contains it, or,
/// for an IPv4-mapped address, the IPv4 address it maps to (the same socket).
pub(crate) fn is_exempt(ip: IpAddr, allow: &[IpNet]) -> bool {
    let mapped = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    allow.iter().any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
}

fn first_match(table: &[ForbiddenRange], ip: IpAddr) -> Option<&'static str> {
    table.iter().find(|range| range.net.contains(&ip)).map(|range| range.reason)
}

/// The IPv4 address an IPv6 address stands for, with the form's name.
fn embedded_v4(ip: Ipv6Addr) -> Option<(&'static str, Ipv4Addr)> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(("IPv4-mapped", v4));
    }
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // Well-known NAT64 prefix 64:ff9b::/96 (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(("NAT64", from(hi, lo))),
        // 6to4 2002:V4HI:V4LO::/48 (RFC 3056).
        [0x2002, hi, lo, ..] => Some(("6to4", from(hi, lo))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<String> {
        forbidden_reason(s.parse().unwrap())
    }

    #[test]
    fn forbidden_ipv4_ranges_are_refused_with_their_reason() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private (RFC 1918)"),
            ("172.31.255.255", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("100.100.100.200", "shared address space, carrier-grade NAT (RFC 6598)"),
            ("169.254.169.254", "link-local (cloud metadata)"),
            ("169.254.1.1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network (RFC 791)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("250.1.1.1", "reserved (RFC 1112)"),
            ("192.0.2.7", "documentation (TEST-NET-1)"),
            ("198.51.100.7", "documentation (TEST-NET-2)"),
            ("203.0.113.7", "documentation (TEST-NET-3)"),
            ("198.19.0.1", "benchmarking (RFC 2544)"),
        ] {
            assert_eq!(reason(ip).as_deref(), Some(why), "{ip}");
        }
    }

    #[test]
    fn forbidden_ipv6_ranges_are_refused_with_their_reason() {
        for (ip, why) in [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00:ec2::254", "AWS instance metadata (cloud metadata)"),
            ("fd12::1", "unique local (ULA)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "IETF protocol assignments (Teredo, benchmarking, ORCHID)"),
            ("::7f00:1", "outside global unicast (2000::/3)"),
            ("4000::1", "outside global unicast (2000::/3)"),
        ] {
            assert_eq!(reason(ip).as_deref(), Some(why), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_forbidden_ipv4_are_refused() {
        assert_eq!(reason("::ffff:127.0.0.1").as_deref(), Some("IPv4-mapped 127.0.0.1: loopback"));
        assert_eq!(
            reason("64:ff9b::a9fe:a9fe").as_deref(),
            Some("NAT64 169.254.169.254: link-local (cloud metadata)")
        );
        assert_eq!(
            reason("2002:0a00:0001::1").as_deref(),
            Some("6to4 10.0.0.1: private (RFC 1918)")
        );
    }

    #[test]
    fn public_addresses_and_their_ipv6_forms_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn exemption_covers_the_address_and_its_ipv4_mapped_form_only() {
        let allow: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(is_exempt("127.0.0.1".parse().unwrap(), &allow));
        assert!(is_exempt("::ffff:127.0.0.1".parse().unwrap(), &allow));
        assert!(!is_exempt("127.0.0.2".parse().unwrap(), &allow));
        assert!(!is_exempt("::1".parse().unwrap(), &allow));
        assert!(!is_exempt("64:ff9b::7f00:1".parse().unwrap(), &allow));
    }
}
