//! The optional key cache in the kernel's user keyring: a passphrase typed
//! once opens the vault again until the entry expires or is cleared, and an
//! entry that does not open the vault is discarded, never trusted.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use linux_keyutils::{KeyRing, KeyRingIdentifier};
use std::path::PathBuf;
use std::time::Duration;
use warrant_vault::{Binding, CredentialName, KdfParams, KeyCache, SecretValue, Vault};

const VALUE: &str = "ghp_cachedvalue0123456789abcdefABCDEF";

/// A vault with one credential, and its cache entry (cleared on drop).
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    cache: KeyCache,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.cache.clear();
    }
}

fn fixture(ttl: Duration) -> Option<Fixture> {
    if let Err(why) = KeyCache::available() {
        eprintln!("skipped: {why}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    let vault =
        Vault::create(&path, &passphrase(), KdfParams::danger_insecure_for_tests()).unwrap();
    let value = SecretValue::from_string(VALUE.to_owned());
    vault.add(&CredentialName::new("github").unwrap(), &value, Binding::default()).unwrap();
    drop(vault);
    let cache = KeyCache::new(&path, ttl).unwrap();
    Some(Fixture { _dir: dir, path, cache })
}

fn passphrase() -> SecretValue {
    SecretValue::from_string("correct horse battery staple".to_owned())
}

fn user_keyring() -> KeyRing {
    KeyRing::from_special_id(KeyRingIdentifier::User, false).unwrap()
}

fn opens_github(vault: &warrant_vault::UnlockedVault) -> bool {
    vault.get(&CredentialName::new("github").unwrap()).unwrap().expose_secret() == VALUE.as_bytes()
}

#[test]
fn a_cached_key_opens_the_vault_until_it_is_cleared() {
    let Some(f) = fixture(Duration::from_secs(60)) else { return };
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none(), "nothing cached yet");

    let (vault, cached) = Vault::unlock_caching(&f.path, &passphrase(), &f.cache).unwrap();
    cached.unwrap();
    assert!(opens_github(&vault));
    drop(vault);

    let vault = Vault::unlock_cached(&f.path, &f.cache).unwrap().expect("opened from the cache");
    assert!(opens_github(&vault));
    // What is cached is a 32-byte key, never the passphrase.
    let entry = user_keyring().search(f.cache.description()).unwrap().read_to_vec().unwrap();
    assert_eq!(entry.len(), 32);
    assert!(!entry.windows(5).any(|w| w == b"horse"));

    assert!(f.cache.clear().unwrap());
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none());
    assert!(!f.cache.clear().unwrap(), "cleared twice");
}

#[test]
fn a_wrong_passphrase_caches_nothing() {
    let Some(f) = fixture(Duration::from_secs(60)) else { return };
    let wrong = SecretValue::from_string("wrong".to_owned());
    assert!(Vault::unlock_caching(&f.path, &wrong, &f.cache).is_err());
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none());
}

#[test]
fn a_forged_or_foreign_entry_is_discarded_not_trusted() {
    let Some(f) = fixture(Duration::from_secs(60)) else { return };
    // Any 32 bytes under the vault's name: they fail to open the data key.
    let forged = user_keyring().add_key(f.cache.description(), &[7_u8; 32]).unwrap();
    forged.set_timeout(60).unwrap();
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none());
    assert!(!f.cache.clear().unwrap(), "the forged entry was left in place");

    // Another size is not a key at all.
    let odd = user_keyring().add_key(f.cache.description(), &[1_u8; 33]).unwrap();
    odd.set_timeout(60).unwrap();
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none());
    assert!(!f.cache.clear().unwrap());

    // The key of another vault (same passphrase, its own salt) does not open
    // this one.
    let Some(other) = fixture(Duration::from_secs(60)) else { return };
    let (_, cached) = Vault::unlock_caching(&other.path, &passphrase(), &other.cache).unwrap();
    cached.unwrap();
    let theirs = user_keyring().search(other.cache.description()).unwrap().read_to_vec().unwrap();
    user_keyring().add_key(f.cache.description(), &theirs).unwrap().set_timeout(60).unwrap();
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none());
}

#[test]
fn an_entry_expires_on_its_own() {
    let Some(f) = fixture(Duration::from_secs(1)) else { return };
    let (_, cached) = Vault::unlock_caching(&f.path, &passphrase(), &f.cache).unwrap();
    cached.unwrap();
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_some());
    std::thread::sleep(Duration::from_millis(2100));
    assert!(Vault::unlock_cached(&f.path, &f.cache).unwrap().is_none(), "outlived its timeout");
}

#[test]
fn cache_times_outside_one_second_to_a_day_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    std::fs::write(&path, b"").unwrap();
    assert!(KeyCache::new(&path, Duration::ZERO).is_err());
    assert!(KeyCache::new(&path, Duration::from_secs(25 * 3600)).is_err());
    let a = KeyCache::new(&path, Duration::from_secs(60)).unwrap();
    // Named after the canonical path: the same vault by another path is the
    // same entry; another vault is not.
    let b = KeyCache::new(&dir.path().join(".").join("vault.db"), Duration::from_secs(60)).unwrap();
    assert_eq!(a.description(), b.description());
    let other = dir.path().join("other.db");
    std::fs::write(&other, b"").unwrap();
    assert_ne!(
        a.description(),
        KeyCache::new(&other, Duration::from_secs(60)).unwrap().description()
    );
}

#[test]
fn a_new_vault_can_be_cached_as_it_is_created() {
    if let Err(why) = KeyCache::available() {
        eprintln!("skipped: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    // Named before the file exists, the entry is the one later unlocks use.
    let cache = KeyCache::new(&path, Duration::from_secs(60)).unwrap();
    let (vault, cached) =
        Vault::create_caching(&path, &passphrase(), KdfParams::danger_insecure_for_tests(), &cache)
            .unwrap();
    cached.unwrap();
    drop(vault);
    assert_eq!(
        cache.description(),
        KeyCache::new(&path, Duration::from_secs(60)).unwrap().description()
    );
    assert!(Vault::unlock_cached(&path, &cache).unwrap().is_some());
    assert!(cache.clear().unwrap());
}
