//! Command lines agents send to `exec`: analysis never panics, and whatever
//! it finds is consistent (every program has a name; a literal program is
//! never reported as dynamic by itself).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(a) = warrant_command::analyze(text) {
        assert!(a.programs.len() <= warrant_command::MAX_PROGRAMS);
        for p in &a.programs {
            assert!(!p.path.is_empty() || p.program.is_empty());
        }
    }
});
