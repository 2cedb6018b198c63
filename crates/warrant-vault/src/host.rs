//! Matching a destination host against a credential's bound hosts.

/// Whether `host` (a host name or IP literal, without a port) is covered by
/// `pattern`, ignoring ASCII case and one trailing dot on either.
///
/// A pattern is an exact host (`api.github.com`, `[::1]`), or `*.` followed by
/// a domain, which covers every subdomain of that domain at any depth
/// (`*.example.com` covers `a.example.com` and `a.b.example.com`) but not the
/// domain itself. A `*` anywhere else, and an empty label, match nothing.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() || host.contains('*') || has_empty_label(host) {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            if domain.is_empty() || domain.contains('*') || has_empty_label(domain) {
                return false;
            }
            let Some(cut) = host.len().checked_sub(domain.len()) else { return false };
            let (Some(sub), Some(tail)) = (host.get(..cut), host.get(cut..)) else {
                return false;
            };
            tail.eq_ignore_ascii_case(domain) && sub.len() > 1 && sub.ends_with('.')
        }
        None => !pattern.contains('*') && pattern.eq_ignore_ascii_case(host),
    }
}

fn has_empty_label(name: &str) -> bool {
    // IP literals in brackets have no labels.
    !name.starts_with('[') && name.split('.').any(str::is_empty)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::host_matches;

    #[test]
    fn exact_hosts_match_ignoring_case_and_a_trailing_dot() {
        assert!(host_matches("api.github.com", "api.github.com"));
        assert!(host_matches("API.GitHub.com", "api.github.COM."));
        assert!(host_matches("[::1]", "[::1]"));
        assert!(!host_matches("api.github.com", "github.com"));
        assert!(!host_matches("api.github.com", "api.github.com.evil.net"));
        assert!(!host_matches("api.github.com", "xapi.github.com"));
        assert!(!host_matches("api.github.com", ""));
    }

    #[test]
    fn wildcard_covers_subdomains_at_any_depth_but_not_the_apex() {
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(host_matches("*.example.com", "A.B.Example.COM"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "badexample.com"));
        assert!(!host_matches("*.example.com", ".example.com"));
        assert!(!host_matches("*.example.com", "a..example.com"));
        assert!(!host_matches("*.example.com", "example.com.evil.net"));
    }

    #[test]
    fn stray_wildcards_and_empty_patterns_match_nothing() {
        for pattern in ["*", "*.", "a*.example.com", "*.*.example.com", "", "*.example..com"] {
            assert!(!host_matches(pattern, "a.example.com"), "{pattern}");
            assert!(!host_matches(pattern, pattern), "{pattern}");
        }
    }
}
