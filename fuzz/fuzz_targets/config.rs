//! `warrant.toml` from anywhere: an error or a config, never a panic; a
//! config never listens off loopback.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warrant_state::Config;

fuzz_target!(|text: &str| {
    if let Ok(config) = Config::parse(text, "fuzz") {
        assert!(config.gateway.listen.ip().is_loopback());
    }
});
