//! Request targets agents send the egress proxy: parsing never panics; an
//! accepted host never smuggles a character a host name cannot have; and an
//! accepted IP literal is judged by the same range table as resolved
//! addresses.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, &str)| {
    let (connect, text) = input;
    let method = if connect { http::Method::CONNECT } else { http::Method::GET };
    let Ok(uri) = text.parse::<http::Uri>() else { return };
    if let Some(host) = warrant_egress::fuzzing::target(&method, &uri) {
        assert!(!host.is_empty());
        assert!(
            host.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c)),
            "{host:?}"
        );
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            let _ = warrant_egress::fuzzing::forbidden(ip);
        }
    }
});
