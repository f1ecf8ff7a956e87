//! A node's keys on disk: its TLS key (peers recognise it by this key, which the contract
//! lists), its NEAR account key (it signs `respond` and votes with it) and its store key.
//!
//! Key files use near-cli's JSON format — `{"account_id", "public_key", "private_key"}` with
//! `ed25519:` + base58 strings — so the account key works with NEAR's tools as it is. Secret
//! files are created with mode 0600 and never overwritten.

use ed25519_dalek::SigningKey;
use primitives::NearPublicKey;
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

use crate::store::StoreKey;

/// Why keys could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0} already exists; refusing to overwrite a key")]
    Exists(PathBuf),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not a valid key file: {1}")]
    Invalid(PathBuf, String),
    #[error(
        "{} may be read or changed by other users (mode {:o}); make it private: chmod 600 {}",
        .0.display(), .1, .0.display()
    )]
    Exposed(PathBuf, u32),
}

/// Refuses a secret file that users other than its owner may read or write (as ssh does
/// for private keys): a node's keys are created 0600, and a looser mode means someone
/// copied or edited them carelessly.
pub fn check_private(path: &Path) -> Result<(), IdentityError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| IdentityError::Read(path.to_owned(), e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(IdentityError::Exposed(path.to_owned(), mode & 0o777));
        }
    }
    Ok(())
}

/// near-cli's key file.
#[derive(Serialize, Deserialize)]
pub struct KeyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub public_key: String,
    /// nearcore's own key files (`validator_key.json`) call it `secret_key`.
    #[serde(alias = "secret_key")]
    pub private_key: String,
}

/// An ed25519 key pair as NEAR writes it.
#[derive(Clone)]
pub struct NearKey(SigningKey);

impl NearKey {
    pub fn generate() -> Self {
        Self(SigningKey::generate(&mut OsRng))
    }

    /// The key whose 32-byte ed25519 secret is `secret` (a devnet derives its keys from its
    /// seed this way).
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(secret))
    }

    pub fn public_key(&self) -> NearPublicKey {
        NearPublicKey::ed25519_from_bytes(self.0.verifying_key().as_bytes())
            .expect("an ed25519 public key is a valid point")
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// `ed25519:` + base58 of the 64-byte secret ‖ public, as near-cli writes private keys.
    pub fn private_key_string(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(self.0.to_keypair_bytes());
        Zeroizing::new(format!(
            "ed25519:{}",
            bs58::encode(&bytes[..]).into_string()
        ))
    }

    /// Writes the key file (mode 0600), never replacing an existing one.
    pub fn write(&self, path: &Path, account_id: Option<&str>) -> Result<(), IdentityError> {
        let file = KeyFile {
            account_id: account_id.map(str::to_owned),
            public_key: self.public_key().to_string(),
            private_key: self.private_key_string().to_string(),
        };
        let json = Zeroizing::new(serde_json::to_string_pretty(&file).expect("plain data"));
        write_secret(path, json.as_bytes())
    }

    /// Reads one of a node's own key files, refusing it if others may read it
    /// ([`check_private`]).
    pub fn read_private(path: &Path) -> Result<(Self, Option<String>), IdentityError> {
        check_private(path)?;
        Self::read(path)
    }

    /// A key from its private half as near-cli writes it: `ed25519:` + base58 of the 64-byte
    /// secret ‖ public. The error says what is wrong without repeating the key.
    pub fn from_private_key(text: &str) -> Result<Self, &'static str> {
        let data = text
            .trim()
            .strip_prefix("ed25519:")
            .ok_or("private_key must start with ed25519:")?;
        let bytes = Zeroizing::new(
            bs58::decode(data)
                .into_vec()
                .map_err(|_| "private_key is not base58")?,
        );
        let pair: &[u8; 64] = bytes[..]
            .try_into()
            .map_err(|_| "private_key must hold 64 bytes")?;
        SigningKey::from_keypair_bytes(pair)
            .map(Self)
            .map_err(|_| "private and public halves do not match")
    }

    /// Reads a near-cli key file; the public key must match the private one.
    pub fn read(path: &Path) -> Result<(Self, Option<String>), IdentityError> {
        let invalid = |why: &str| IdentityError::Invalid(path.to_owned(), why.to_owned());
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|e| IdentityError::Read(path.to_owned(), e))?,
        );
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| invalid(&e.to_string()))?;
        let key = Self::from_private_key(&file.private_key).map_err(&invalid)?;
        if key.public_key().to_string() != file.public_key {
            return Err(invalid("public_key does not match private_key"));
        }
        Ok((key, file.account_id))
    }
}

/// Creates a file only this user can read, refusing to replace one.
pub fn write_secret(path: &Path, contents: &[u8]) -> Result<(), IdentityError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => IdentityError::Exists(path.to_owned()),
        _ => IdentityError::Write(path.to_owned(), e),
    })?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .map_err(|e| IdentityError::Write(path.to_owned(), e))
}

/// The files of a node's identity inside its data dir.
pub struct IdentityPaths {
    pub tls_key: PathBuf,
    pub account_key: PathBuf,
    pub store_key: PathBuf,
}

impl IdentityPaths {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            tls_key: dir.join("tls_key.json"),
            account_key: dir.join("account_key.json"),
            store_key: dir.join("store.key"),
        }
    }
}

/// What `node init` reports: the public half of a fresh identity.
#[derive(Debug, Serialize)]
pub struct PublicIdentity {
    pub account_id: String,
    pub account_public_key: NearPublicKey,
    pub tls_public_key: NearPublicKey,
}

/// A node's three keys, before they are written.
pub struct NodeKeys {
    pub tls: NearKey,
    pub account: NearKey,
    pub store: StoreKey,
}

impl NodeKeys {
    /// Fresh random keys.
    pub fn generate() -> Self {
        Self {
            tls: NearKey::generate(),
            account: NearKey::generate(),
            store: StoreKey::generate(),
        }
    }
}

/// Writes a fresh TLS key, account key and store key into `dir`.
pub fn create(dir: &Path, account: NewAccount<'_>) -> Result<PublicIdentity, IdentityError> {
    create_with(dir, account, NodeKeys::generate())
}

/// Writes `keys` into `dir` as a node's identity (a devnet's seeded keys; [`create`] for
/// fresh ones).
pub fn create_with(
    dir: &Path,
    account: NewAccount<'_>,
    keys: NodeKeys,
) -> Result<PublicIdentity, IdentityError> {
    let paths = IdentityPaths::in_dir(dir);
    for p in [&paths.tls_key, &paths.account_key, &paths.store_key] {
        if p.exists() {
            return Err(IdentityError::Exists(p.clone()));
        }
    }
    let NodeKeys {
        tls,
        account: account_key,
        store,
    } = keys;
    let account_id = match account {
        NewAccount::Named(id) => id.to_owned(),
        NewAccount::Implicit => hex::encode(account_key.signing_key().verifying_key().as_bytes()),
    };
    tls.write(&paths.tls_key, None)?;
    account_key.write(&paths.account_key, Some(&account_id))?;
    let store = Zeroizing::new(store.to_hex());
    write_secret(&paths.store_key, store.as_bytes())?;
    Ok(PublicIdentity {
        account_id,
        account_public_key: account_key.public_key(),
        tls_public_key: tls.public_key(),
    })
}

/// The NEAR account a new node's identity is for.
#[derive(Clone, Copy, Debug)]
pub enum NewAccount<'a> {
    /// An account that exists or will be created under this name.
    Named(&'a str),
    /// The implicit account of the new account key: its 64 hex digits, which a transfer to it
    /// creates (on NEAR and on the devnet).
    Implicit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn key_files_others_may_read_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        create(tmp.path(), NewAccount::Named("node0.test")).unwrap();
        let paths = IdentityPaths::in_dir(tmp.path());
        assert!(NearKey::read_private(&paths.tls_key).is_ok());
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&paths.tls_key, std::fs::Permissions::from_mode(mode))
                .unwrap();
            let Err(err) = NearKey::read_private(&paths.tls_key) else {
                panic!("mode {mode:o} was accepted")
            };
            assert!(
                matches!(err, IdentityError::Exposed(_, m) if m == mode),
                "{err}"
            );
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&paths.tls_key, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(
            NearKey::read_private(&paths.tls_key).is_ok(),
            "read-only for its owner is fine"
        );
    }

    #[test]
    fn identities_are_created_once_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let public = create(dir, NewAccount::Named("node0.test")).unwrap();
        let paths = IdentityPaths::in_dir(dir);
        let (tls, account) = (
            NearKey::read(&paths.tls_key).unwrap(),
            NearKey::read(&paths.account_key).unwrap(),
        );
        assert_eq!(tls.0.public_key(), public.tls_public_key);
        assert_eq!(account.0.public_key(), public.account_public_key);
        assert_eq!(account.1.as_deref(), Some("node0.test"));
        assert_ne!(public.tls_public_key, public.account_public_key);
        #[cfg(unix)]
        for p in [&paths.tls_key, &paths.account_key, &paths.store_key] {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert!(matches!(
            create(dir, NewAccount::Named("node0.test")),
            Err(IdentityError::Exists(_))
        ));
    }

    #[test]
    fn given_keys_are_written_as_they_are() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = || NodeKeys {
            tls: NearKey::from_secret(&[1; 32]),
            account: NearKey::from_secret(&[2; 32]),
            store: StoreKey::new([3; 32]),
        };
        let public = create_with(tmp.path(), NewAccount::Named("n.test"), keys()).unwrap();
        assert_eq!(public.tls_public_key, keys().tls.public_key());
        assert_eq!(public.account_public_key, keys().account.public_key());
        let paths = IdentityPaths::in_dir(tmp.path());
        let (tls, _) = NearKey::read(&paths.tls_key).unwrap();
        assert_eq!(tls.signing_key().to_bytes(), [1; 32]);
        let store = std::fs::read_to_string(&paths.store_key).unwrap();
        assert_eq!(store, "03".repeat(32));
    }

    #[test]
    fn an_implicit_account_is_named_by_its_key() {
        let tmp = tempfile::tempdir().unwrap();
        let public = create(tmp.path(), NewAccount::Implicit).unwrap();
        assert_eq!(
            public.account_id,
            hex::encode(public.account_public_key.key_bytes())
        );
        let (_, account) = NearKey::read(&IdentityPaths::in_dir(tmp.path()).account_key).unwrap();
        assert_eq!(account.as_deref(), Some(public.account_id.as_str()));
    }

    #[test]
    fn broken_key_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("k.json");
        NearKey::generate().write(&path, Some("a.test")).unwrap();
        let good: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let other = NearKey::generate().public_key().to_string();
        let cases = [
            serde_json::json!({"public_key": other, "private_key": good["private_key"]}),
            serde_json::json!({"public_key": good["public_key"], "private_key": "secp256k1:abc"}),
            serde_json::json!({"public_key": good["public_key"], "private_key": "ed25519:0OIl"}),
            serde_json::json!({"public_key": good["public_key"], "private_key": "ed25519:2222"}),
            serde_json::json!({"public_key": good["public_key"]}),
        ];
        for (i, case) in cases.iter().enumerate() {
            let p = dir.join(format!("bad{i}.json"));
            std::fs::write(&p, case.to_string()).unwrap();
            assert!(
                matches!(NearKey::read(&p), Err(IdentityError::Invalid(..))),
                "case {i}"
            );
        }
    }
}
