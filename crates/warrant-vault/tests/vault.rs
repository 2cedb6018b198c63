#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use warrant_core::UnixMillis;
use warrant_vault::{Binding, CredentialName, KdfParams, SecretValue, Vault, VaultError};

const VALUE: &str = "ghp_TOPSECRETvalue0123456789abcdef";

fn name(s: &str) -> CredentialName {
    CredentialName::new(s).unwrap()
}

fn secret(s: &str) -> SecretValue {
    SecretValue::from_string(s.to_owned())
}

fn cheap() -> KdfParams {
    KdfParams::danger_insecure_for_tests()
}

fn github_binding() -> Binding {
    Binding {
        hosts: vec!["API.github.com".to_owned()],
        header: Some("Authorization".to_owned()),
        format: Some("Bearer {}".to_owned()),
        env: Some("GITHUB_TOKEN".to_owned()),
    }
}

fn temp_vault() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    (dir, path)
}

fn raw_sql(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn credentials_round_trip_across_close_and_reopen() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("correct horse"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    vault.add(&name("db.password"), &secret("pw-123456"), Binding::default()).unwrap();
    assert_eq!(vault.get(&name("github")).unwrap().expose_str(), Some(VALUE));
    drop(vault);

    let vault = Vault::unlock(&path, &secret("correct horse")).unwrap();
    assert_eq!(vault.get(&name("github")).unwrap().expose_str(), Some(VALUE));
    let list = vault.list().unwrap();
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["db.password", "github"]);
    assert_eq!(list[1].binding.hosts, ["api.github.com"]);
    assert_eq!(list[1].binding.format.as_deref(), Some("Bearer {}"));
    assert_eq!(list[1].rotated_at, None);

    vault.rotate(&name("github"), &secret("ghp_rotated-value-000")).unwrap();
    vault.mark_used(&name("github"), UnixMillis(1_000)).unwrap();
    vault.set_rotation_due(&name("github"), Some(UnixMillis(2_000))).unwrap();
    vault.remove(&name("db.password")).unwrap();
    drop(vault);

    let vault = Vault::unlock(&path, &secret("correct horse")).unwrap();
    assert_eq!(vault.get(&name("github")).unwrap().expose_str(), Some("ghp_rotated-value-000"));
    assert!(matches!(vault.get(&name("db.password")), Err(VaultError::NoSuchCredential { .. })));
    let list = Vault::list_locked(&path).unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].rotated_at.is_some());
    assert_eq!(list[0].last_used_at, Some(UnixMillis(1_000)));
    assert_eq!(list[0].rotation_due_at, Some(UnixMillis(2_000)));
    assert_eq!(list[0].binding, vault.list().unwrap()[0].binding);
}

#[test]
fn real_kdf_parameters_create_and_unlock() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("correct horse"), KdfParams::recommended()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    drop(vault);
    let vault = Vault::unlock(&path, &secret("correct horse")).unwrap();
    assert_eq!(vault.get(&name("github")).unwrap().expose_str(), Some(VALUE));
    assert!(matches!(
        Vault::unlock(&path, &secret("wrong horse")),
        Err(VaultError::WrongPassphrase { .. })
    ));
    let conn = rusqlite::Connection::open(&path).unwrap();
    let stored: (u32, u32, u32) = conn
        .query_row("SELECT kdf_memory_kib, kdf_iterations, kdf_parallelism FROM meta", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(stored, (65536, 3, 1));
}

#[test]
fn wrong_passphrase_is_wrong_passphrase_not_corruption() {
    let (_dir, path) = temp_vault();
    drop(Vault::create(&path, &secret("right"), cheap()).unwrap());
    let err = Vault::unlock(&path, &secret("wrong")).err().unwrap();
    assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err:?}");
}

#[test]
fn corrupt_wrapped_key_is_corruption_not_wrong_passphrase() {
    let (_dir, path) = temp_vault();
    drop(Vault::create(&path, &secret("right"), cheap()).unwrap());
    raw_sql(&path, "UPDATE meta SET wrapped_key = zeroblob(length(wrapped_key))");
    let err = Vault::unlock(&path, &secret("right")).err().unwrap();
    assert!(matches!(err, VaultError::Corrupt { .. }), "{err:?}");
}

#[test]
fn flipped_ciphertext_byte_is_an_authentication_error_naming_the_credential() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    drop(vault);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut ct: Vec<u8> = conn
        .query_row("SELECT ciphertext FROM credentials WHERE name = 'github'", [], |r| r.get(0))
        .unwrap();
    ct[3] ^= 0x01;
    conn.execute("UPDATE credentials SET ciphertext = ?1 WHERE name = 'github'", [&ct]).unwrap();
    drop(conn);

    let vault = Vault::unlock(&path, &secret("pw")).unwrap();
    let err = vault.get(&name("github")).err().unwrap();
    assert!(matches!(&err, VaultError::CredentialTampered { name } if name == "github"), "{err:?}");
    assert!(err.to_string().contains("`github`"));
    // Rotation refuses to re-seal a tampered row too.
    assert!(vault.rotate(&name("github"), &secret("new-value-123")).is_err());
}

#[test]
fn ciphertext_copied_onto_another_name_fails_to_open() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    vault.add(&name("prod"), &secret("prod-secret-value"), Binding::default()).unwrap();
    vault.add(&name("dev"), &secret("dev-secret-value"), Binding::default()).unwrap();
    drop(vault);
    raw_sql(
        &path,
        "UPDATE credentials SET
             ciphertext = (SELECT ciphertext FROM credentials WHERE name = 'prod'),
             nonce = (SELECT nonce FROM credentials WHERE name = 'prod')
         WHERE name = 'dev'",
    );
    let vault = Vault::unlock(&path, &secret("pw")).unwrap();
    assert!(matches!(vault.get(&name("dev")), Err(VaultError::CredentialTampered { .. })));
    assert_eq!(vault.get(&name("prod")).unwrap().expose_str(), Some("prod-secret-value"));
}

#[test]
fn binding_edited_in_the_file_fails_to_open() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    drop(vault);
    raw_sql(&path, r#"UPDATE credentials SET hosts = '["evil.example"]'"#);
    let vault = Vault::unlock(&path, &secret("pw")).unwrap();
    assert!(matches!(vault.get(&name("github")), Err(VaultError::CredentialTampered { .. })));
}

#[test]
fn vault_files_never_contain_the_plaintext() {
    let (dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    vault.rotate(&name("github"), &secret(VALUE)).unwrap();
    // Read while the connection is open, so the WAL still holds the pages.
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()));
        checked += 1;
    }
    assert!(checked >= 2, "expected the database and its WAL, found {checked} files");
    drop(vault);
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()));
}

#[test]
fn vault_file_is_readable_by_its_owner_only() {
    let (dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?}", entry.file_name());
    }
}

#[test]
fn kdf_parameters_below_the_minimum_are_refused() {
    assert!(matches!(KdfParams::new(32 * 1024, 3, 1), Err(VaultError::KdfTooWeak { .. })));
    assert!(matches!(KdfParams::new(64 * 1024, 2, 1), Err(VaultError::KdfTooWeak { .. })));
    assert!(KdfParams::new(64 * 1024, 3, 1).is_ok());

    // A vault file edited to a weaker cost is refused before deriving.
    let (_dir, path) = temp_vault();
    drop(Vault::create(&path, &secret("pw"), cheap()).unwrap());
    raw_sql(&path, "UPDATE meta SET kdf_memory_kib = 32768, kdf_iterations = 3");
    assert!(matches!(Vault::unlock(&path, &secret("pw")), Err(VaultError::KdfTooWeak { .. })));
}

#[test]
fn credential_listing_never_contains_the_value() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    let json = serde_json::to_string(&vault.list().unwrap()).unwrap();
    assert!(json.contains("github"));
    assert!(!json.contains(VALUE));
    let locked = serde_json::to_string(&Vault::list_locked(&path).unwrap()).unwrap();
    assert!(!locked.contains(VALUE));
    assert!(!format!("{:?}", vault.list().unwrap()).contains(VALUE));
}

#[test]
fn errors_never_contain_a_secret() {
    let (_dir, path) = temp_vault();
    let mut errors = Vec::new();
    errors.push(Vault::create(&path, &secret(""), cheap()).err().unwrap());
    let vault = Vault::create(&path, &secret(VALUE), cheap()).unwrap();
    errors.push(Vault::create(&path, &secret(VALUE), cheap()).err().unwrap());
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    errors.push(vault.add(&name("github"), &secret(VALUE), github_binding()).err().unwrap());
    errors.push(vault.rotate(&name("missing"), &secret(VALUE)).err().unwrap());
    let bad_binding = Binding { format: Some("x".to_owned()), ..github_binding() };
    errors.push(vault.add(&name("other"), &secret(VALUE), bad_binding).err().unwrap());
    errors.push(vault.rewrap(&secret(""), cheap()).err().unwrap());
    drop(vault);
    errors.push(Vault::unlock(&path, &secret(&format!("{VALUE}x"))).err().unwrap());
    raw_sql(&path, "UPDATE credentials SET nonce = zeroblob(24)");
    let vault = Vault::unlock(&path, &secret(VALUE)).unwrap();
    errors.push(vault.get(&name("github")).err().unwrap());
    errors.push(vault.rotate(&name("github"), &secret(VALUE)).err().unwrap());
    drop(vault);
    raw_sql(&path, "UPDATE meta SET wrapped_key = zeroblob(length(wrapped_key))");
    errors.push(Vault::unlock(&path, &secret(VALUE)).err().unwrap());

    assert_eq!(errors.len(), 10);
    for err in errors {
        let mut shown = format!("{err} {err:?}");
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            shown.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert!(!shown.contains(VALUE), "{shown}");
        assert!(!shown.contains("TOPSECRET"), "{shown}");
    }
}

#[test]
fn rewrap_changes_the_passphrase_and_keeps_the_values() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("old"), cheap()).unwrap();
    vault.add(&name("github"), &secret(VALUE), github_binding()).unwrap();
    vault.rewrap(&secret("new"), cheap()).unwrap();
    drop(vault);
    assert!(matches!(
        Vault::unlock(&path, &secret("old")),
        Err(VaultError::WrongPassphrase { .. })
    ));
    let vault = Vault::unlock(&path, &secret("new")).unwrap();
    assert_eq!(vault.get(&name("github")).unwrap().expose_str(), Some(VALUE));
}

#[test]
fn create_refuses_an_existing_file_and_unlock_a_missing_one() {
    let (_dir, path) = temp_vault();
    drop(Vault::create(&path, &secret("pw"), cheap()).unwrap());
    assert!(matches!(
        Vault::create(&path, &secret("pw"), cheap()),
        Err(VaultError::AlreadyExists { .. })
    ));
    let missing = path.with_file_name("missing.db");
    assert!(matches!(Vault::unlock(&missing, &secret("pw")), Err(VaultError::NotFound { .. })));
    assert!(!missing.exists());
}

#[test]
fn invalid_bindings_and_duplicate_names_are_refused() {
    let (_dir, path) = temp_vault();
    let vault = Vault::create(&path, &secret("pw"), cheap()).unwrap();
    let bad = [
        Binding { hosts: vec!["evil host".to_owned()], ..Binding::default() },
        Binding { header: Some("Bad Header".to_owned()), ..Binding::default() },
        Binding { format: Some("Bearer {}".to_owned()), ..Binding::default() },
        Binding {
            header: Some("X".to_owned()),
            format: Some("{}{}".to_owned()),
            ..Binding::default()
        },
        Binding { env: Some("1BAD".to_owned()), ..Binding::default() },
    ];
    for binding in bad {
        let err = vault.add(&name("x"), &secret("value-1234"), binding.clone()).err();
        assert!(matches!(err, Some(VaultError::InvalidBinding { .. })), "{binding:?}");
    }
    vault.add(&name("x"), &secret("value-1234"), Binding::default()).unwrap();
    assert!(matches!(
        vault.add(&name("x"), &secret("value-5678"), Binding::default()),
        Err(VaultError::CredentialExists { .. })
    ));
    assert_eq!(vault.get(&name("x")).unwrap().expose_str(), Some("value-1234"));
}
