//! Building the command's environment from an allowlist.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::LaunchError;
use crate::profile::EnvPolicy;
use crate::tables::{ENV_DEFAULT_ALLOW, ENV_DENYLIST, EnvRule, env_pattern_matches};

/// PATH when the launcher has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The denylist entry that matches `name`, if any.
pub(crate) fn denied_by(name: &str) -> Option<&'static EnvRule> {
    ENV_DENYLIST.iter().find(|rule| env_pattern_matches(rule.pattern, name))
}

fn allowed(policy: &EnvPolicy, name: &str) -> bool {
    ENV_DEFAULT_ALLOW.iter().any(|rule| env_pattern_matches(rule.pattern, name))
        || policy.allow.iter().any(|pattern| env_pattern_matches(pattern, name))
}

/// The environment of the command: allowed variables of `base` that are not on
/// the denylist, then the launcher's fixed variables (`HOME`, `TMPDIR`, ...),
/// then the profile's explicit `set`. Sorted by name.
pub(crate) fn build(
    policy: &EnvPolicy,
    base: impl IntoIterator<Item = (OsString, OsString)>,
    fixed: &[(&str, String)],
) -> BTreeMap<OsString, OsString> {
    let mut env = BTreeMap::new();
    for (name, value) in base {
        let Some(text) = name.to_str() else { continue };
        if allowed(policy, text) && denied_by(text).is_none() {
            env.insert(name, value);
        }
    }
    env.entry(OsString::from("PATH")).or_insert_with(|| OsString::from(DEFAULT_PATH));
    for (name, value) in fixed {
        env.insert(OsString::from(name), OsString::from(value));
    }
    for (name, value) in &policy.set {
        env.insert(OsString::from(name), OsString::from(value));
    }
    env
}

/// `NAME=value` C strings for execve.
pub(crate) fn to_c_strings(
    env: &BTreeMap<OsString, OsString>,
) -> Result<Vec<CString>, LaunchError> {
    env.iter()
        .map(|(name, value)| {
            let mut bytes = name.clone().into_vec();
            bytes.push(b'=');
            bytes.extend_from_slice(value.as_bytes());
            CString::new(bytes)
                .map_err(|_| LaunchError::NulByte(name.to_string_lossy().into_owned()))
        })
        .collect()
}

/// The value of `name` in a built environment.
pub(crate) fn lookup<'a>(env: &'a BTreeMap<OsString, OsString>, name: &str) -> Option<&'a OsStr> {
    env.get(OsStr::new(name)).map(OsString::as_os_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    fn base(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(n, v)| (OsString::from(n), OsString::from(v))).collect()
    }

    #[test]
    fn denylist_wins_over_a_catch_all_allowlist() {
        let policy = EnvPolicy { allow: vec!["*".into()], set: BTreeMap::new() };
        let env = build(
            &policy,
            base(&[
                ("AWS_SECRET_ACCESS_KEY", "x"),
                ("GITHUB_TOKEN", "x"),
                ("SSH_AUTH_SOCK", "/run/agent"),
                ("OPENAI_API_KEY", "x"),
                ("DBUS_SESSION_BUS_ADDRESS", "x"),
                ("WARRANT_HOME", "/home/u/.warrant"),
                ("EDITOR", "vi"),
            ]),
            &[],
        );
        let names: Vec<_> = env.keys().map(|k| k.to_str().unwrap()).collect();
        assert_eq!(names, ["EDITOR", "PATH"]);
    }

    #[test]
    fn only_allowlisted_variables_pass_by_default() {
        let env = build(&EnvPolicy::default(), base(&[("LANG", "C.UTF-8"), ("EDITOR", "vi")]), &[]);
        assert_eq!(lookup(&env, "LANG").unwrap(), "C.UTF-8");
        assert!(lookup(&env, "EDITOR").is_none());
        assert_eq!(lookup(&env, "PATH").unwrap(), DEFAULT_PATH);
    }

    #[test]
    fn fixed_and_explicit_variables_override_inherited_ones() {
        let mut set = BTreeMap::new();
        set.insert("CI".to_owned(), "1".to_owned());
        let policy = EnvPolicy { allow: vec!["HOME".into(), "CI".into()], set };
        let env = build(
            &policy,
            base(&[("HOME", "/host/home"), ("CI", "0")]),
            &[("HOME", "/sandbox".into())],
        );
        assert_eq!(lookup(&env, "HOME").unwrap(), "/sandbox");
        assert_eq!(lookup(&env, "CI").unwrap(), "1");
    }
}
