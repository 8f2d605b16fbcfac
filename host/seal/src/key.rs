//! Where the estate key lives, and how it is created exactly once.
//!
//! Over 800 lines with its tests (about 300, for every keychain and key-file state); the code is
//! about 640.
//!
//! The key is 32 random bytes from the OS, kept as hex in one of two places:
//!
//! - **The OS keychain** (service `cloudops`, user `estate-key`): the macOS Keychain, the
//!   Windows Credential Manager, and on Linux and the BSDs the desktop's Secret Service
//!   (GNOME Keyring, KWallet) over D-Bus. On Linux this module talks to Secret Service
//!   directly and not through the kernel keyring (`keyutils`): kernel keys are gone after a
//!   reboot, and headless machines often have no session keyring at all (adding a key fails
//!   with `EACCES`), so a key kept only there would be lost and the store unreadable.
//! - **A key file**, `<data dir>/keys/estate.key`, mode 0600 in a 0700 directory. It is
//!   the store on machines without a usable keychain: CI, servers, containers, SSH sessions
//!   without D-Bus.
//!
//! Resolution, with `CLOUDOPS_KEY_STORE` unset ([`KeyStoreChoice::Auto`]):
//!
//! 1. If the key file exists, it is the key. The keychain is not consulted (no unlock prompt).
//! 2. Otherwise, if the keychain holds the key, that is the key.
//! 3. Otherwise, if the keychain works, a new key is created there, read back to check it was
//!    kept, and a marker file `keys/estate.key.keychain` records that the key lives in the
//!    keychain.
//! 4. Otherwise (no keychain: no D-Bus session, no Secret Service, keychain locked or
//!    refused), a new key file is created and a warning names it, once.
//!
//! A new key makes every sealed value in the store unreadable, so a key is never created when
//! one may exist: not when the key file exists, not when the keychain holds one, and not when
//! the marker says the key is in a keychain that cannot be read right now (that is an error
//! telling the user to unlock the keychain). `CLOUDOPS_KEY_STORE=keychain` or `=file` uses that
//! store only; it refuses to create a key there while the other store holds one.
//!
//! The key file is written atomically: a temporary file (0600) is filled and synced, then
//! hard-linked to `estate.key`, which fails if the name exists. Two processes starting at once
//! therefore agree on one key, and an existing key file is never overwritten.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::{rand_core::RngCore, OsRng};
use zeroize::Zeroizing;

use super::KEY_LEN;

/// Environment variable that forces the key store: `keychain` or `file`.
pub const KEY_STORE_ENV: &str = "CLOUDOPS_KEY_STORE";

/// Keychain service name of the estate key.
pub const KEYCHAIN_SERVICE: &str = "cloudops";

/// Keychain user name of the estate key.
pub const KEYCHAIN_USER: &str = "estate-key";

/// A key held in memory; zeroed when dropped.
pub type KeyBytes = Zeroizing<[u8; KEY_LEN]>;

/// Where the estate key was found (or created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The OS keychain.
    Keychain,
    /// A key file at this path.
    File(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Keychain => write!(
                f,
                "OS keychain (service `{KEYCHAIN_SERVICE}`, user `{KEYCHAIN_USER}`)"
            ),
            KeySource::File(path) => write!(f, "key file {}", path.display()),
        }
    }
}

/// Which key store to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStoreChoice {
    /// The key file if it exists, else the keychain, else a new key file (see the module docs).
    #[default]
    Auto,
    /// Only the OS keychain.
    Keychain,
    /// Only the key file.
    File,
}

impl KeyStoreChoice {
    /// Reads [`KEY_STORE_ENV`]: unset or empty is [`KeyStoreChoice::Auto`].
    pub fn from_env() -> Result<Self, KeyError> {
        match std::env::var(KEY_STORE_ENV) {
            Err(_) => Ok(Self::Auto),
            Ok(value) => Self::parse(&value),
        }
    }

    fn parse(value: &str) -> Result<Self, KeyError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Self::Auto),
            "keychain" => Ok(Self::Keychain),
            "file" => Ok(Self::File),
            _ => Err(KeyError::BadChoice {
                value: value.to_owned(),
            }),
        }
    }
}

/// Why the estate key could not be found or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `CLOUDOPS_KEY_STORE` has a value this version does not know.
    #[error("{KEY_STORE_ENV}={value:?} is not a key store; use `keychain` or `file`, or unset it")]
    BadChoice {
        /// The value found.
        value: String,
    },
    /// The keychain was asked for explicitly and cannot be used.
    #[error(
        "the OS keychain cannot be used: {reason}; unlock it, or set {KEY_STORE_ENV}=file to \
         keep the key in a file"
    )]
    KeychainUnavailable {
        /// The platform's error.
        reason: String,
    },
    /// The key lives in the keychain (per the marker file) but cannot be read now.
    #[error(
        "the estate key is kept in the OS keychain (see {marker}) but the keychain cannot be \
         read: {reason}; unlock the keychain and retry. A new key is not created, because it \
         would make the local store unreadable"
    )]
    KeychainLocked {
        /// The marker file.
        marker: PathBuf,
        /// The platform's error.
        reason: String,
    },
    /// The marker says the key was created in the keychain, and the keychain has none.
    #[error(
        "the estate key was created in the OS keychain (see {marker}) but the keychain no longer \
         has it; restore the keychain entry `{KEYCHAIN_SERVICE}`/`{KEYCHAIN_USER}`, or delete \
         {marker} and the local store and re-sync to start with a new key"
    )]
    KeychainKeyLost {
        /// The marker file.
        marker: PathBuf,
    },
    /// The keychain failed in a way that is not "unavailable".
    #[error("the OS keychain failed: {reason}")]
    Keychain {
        /// The platform's error.
        reason: String,
    },
    /// The forced store has no key while the other store has one.
    #[error(
        "{KEY_STORE_ENV}={forced} but the estate key is in the {elsewhere}; a second key would \
         make the local store unreadable, so none is created. Unset {KEY_STORE_ENV}, or move \
         the key to the {forced_store}"
    )]
    KeyElsewhere {
        /// The forced store (`keychain` or `file`).
        forced: &'static str,
        /// Human name of the forced store.
        forced_store: &'static str,
        /// Where the key is.
        elsewhere: String,
    },
    /// A stored key is not 32 bytes of hex.
    #[error(
        "the estate key in the {location} is damaged ({reason}); restore it from a backup, or \
         remove it and the local store and re-sync"
    )]
    Corrupt {
        /// Where the damaged key is.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A reader found no key. Readers never create one: a new key could not open the values
    /// the store already holds, and would hide that the old key is gone.
    #[error(
        "the estate key is missing (no key file {file}, no OS keychain entry \
         `{KEYCHAIN_SERVICE}`/`{KEYCHAIN_USER}`); restore it from a backup, or start a new store \
         with `cloudops store rebuild` (a re-sync creates a new key)"
    )]
    Missing {
        /// Where the key file should be.
        file: PathBuf,
    },
    /// An import found another key in place: replacing it would make the store unreadable.
    #[error(
        "the {location} already holds an estate key (key id {existing}) that differs from the \
         imported one (key id {imported}); the local store is sealed with the key in place, so \
         it is kept. To use the imported key, move the data dir aside (or delete that key and \
         the store sealed with it) and import again"
    )]
    Exists {
        /// Where the key in place is.
        location: String,
        /// Its key id.
        existing: String,
        /// The imported key's id.
        imported: String,
    },
    /// Reading or writing the key file failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// 32 random bytes from the OS.
pub(crate) fn generate_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    OsRng.fill_bytes(&mut key);
    key
}

fn decode_key(text: &str, location: impl Fn() -> String) -> Result<KeyBytes, KeyError> {
    let corrupt = |reason: String| KeyError::Corrupt {
        location: location(),
        reason,
    };
    let text = text.trim();
    if text.len() != KEY_LEN * 2 {
        return Err(corrupt(format!(
            "{} characters, expected {} hex digits",
            text.len(),
            KEY_LEN * 2
        )));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(text, &mut key[..]).map_err(|e| corrupt(format!("not hex: {e}")))?;
    Ok(key)
}

/// What a keychain answered.
#[derive(Debug)]
pub(crate) enum KeychainError {
    /// No keychain here, or it refused access (locked, no D-Bus, no Secret Service).
    Unavailable(String),
    /// Something else went wrong.
    Failed(String),
}

/// A place holding one secret string: the OS keychain, or a fake in tests.
pub(crate) trait Keychain: Send + Sync {
    /// The secret, `None` when there is none.
    fn get(&self) -> Result<Option<Zeroizing<String>>, KeychainError>;
    /// Stores the secret.
    fn set(&self, secret: &str) -> Result<(), KeychainError>;
}

/// The OS keychain entry `service`/`user`.
pub(crate) struct OsKeychain {
    service: String,
    user: String,
}

impl OsKeychain {
    pub(crate) fn new(service: &str, user: &str) -> Self {
        Self {
            service: service.to_owned(),
            user: user.to_owned(),
        }
    }

    fn entry(&self) -> Result<keyring::Entry, KeychainError> {
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        {
            // Secret Service only: see the module docs for why not the kernel keyring.
            let credential = keyring::secret_service::SsCredential::new_with_target(
                None,
                &self.service,
                &self.user,
            )
            .map_err(keychain_error)?;
            Ok(keyring::Entry::new_with_credential(Box::new(credential)))
        }
        #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
        {
            keyring::Entry::new(&self.service, &self.user).map_err(keychain_error)
        }
    }

    /// Removes the entry (tests only).
    #[cfg(test)]
    pub(crate) fn delete(&self) -> Result<(), KeychainError> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error(e)),
        }
    }
}

fn keychain_error(err: keyring::Error) -> KeychainError {
    match err {
        keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
            KeychainError::Unavailable(err.to_string())
        }
        other => KeychainError::Failed(other.to_string()),
    }
}

impl Keychain for OsKeychain {
    fn get(&self) -> Result<Option<Zeroizing<String>>, KeychainError> {
        match self.entry()?.get_password() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn set(&self, secret: &str) -> Result<(), KeychainError> {
        self.entry()?.set_password(secret).map_err(keychain_error)
    }
}

/// Finds or creates the estate key; see the module docs for the order.
pub struct KeyStore {
    data_dir: PathBuf,
    choice: KeyStoreChoice,
    keychain: Box<dyn Keychain>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("data_dir", &self.data_dir)
            .field("choice", &self.choice)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// The key store for `data_dir`, automatic choice, keychain entry
    /// [`KEYCHAIN_SERVICE`]/[`KEYCHAIN_USER`].
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            choice: KeyStoreChoice::Auto,
            keychain: Box::new(OsKeychain::new(KEYCHAIN_SERVICE, KEYCHAIN_USER)),
        }
    }

    /// Uses `choice` instead of the automatic order.
    pub fn choice(mut self, choice: KeyStoreChoice) -> Self {
        self.choice = choice;
        self
    }

    /// Uses another keychain entry (tests, or a second profile).
    pub fn keychain_entry(mut self, service: &str, user: &str) -> Self {
        self.keychain = Box::new(OsKeychain::new(service, user));
        self
    }

    #[cfg(test)]
    pub(crate) fn with_keychain(mut self, keychain: Box<dyn Keychain>) -> Self {
        self.keychain = keychain;
        self
    }

    /// The key file: `<data dir>/keys/estate.key`.
    pub fn key_file(&self) -> PathBuf {
        self.data_dir.join("keys").join("estate.key")
    }

    /// The marker that records that the key lives in the keychain.
    pub fn keychain_marker(&self) -> PathBuf {
        self.data_dir.join("keys").join("estate.key.keychain")
    }

    /// The key and where it came from, creating it on first use.
    pub fn load_or_create(&self) -> Result<(KeyBytes, KeySource), KeyError> {
        self.find(true)
    }

    /// The key and where it came from; [`KeyError::Missing`] when there is none. For readers
    /// (search, status): only a writer that starts an empty store may create the key.
    pub fn load_existing(&self) -> Result<(KeyBytes, KeySource), KeyError> {
        self.find(false)
    }

    fn find(&self, create: bool) -> Result<(KeyBytes, KeySource), KeyError> {
        let missing = || KeyError::Missing {
            file: self.key_file(),
        };
        let file = self.key_file();
        let marker = self.keychain_marker();
        match self.choice {
            KeyStoreChoice::File => {
                if let Some(key) = self.read_file()? {
                    return Ok((key, KeySource::File(file)));
                }
                if marker.exists() {
                    return Err(KeyError::KeyElsewhere {
                        forced: "file",
                        forced_store: "key file",
                        elsewhere: format!("OS keychain (see {})", marker.display()),
                    });
                }
                if !create {
                    return Err(missing());
                }
                let key = self.create_file()?;
                tracing::warn!(
                    "created the estate key in {} ({KEY_STORE_ENV}=file); back it up: without it \
                     the sealed fields of the local store cannot be read",
                    file.display()
                );
                Ok((key, KeySource::File(file)))
            }
            KeyStoreChoice::Keychain => match self.keychain.get() {
                Ok(Some(secret)) => Ok((self.decode_keychain(&secret)?, KeySource::Keychain)),
                Ok(None) => {
                    if file.exists() {
                        return Err(KeyError::KeyElsewhere {
                            forced: "keychain",
                            forced_store: "OS keychain",
                            elsewhere: format!("key file {}", file.display()),
                        });
                    }
                    if marker.exists() {
                        return Err(KeyError::KeychainKeyLost { marker });
                    }
                    if !create {
                        return Err(missing());
                    }
                    match self.create_in_keychain()? {
                        Some(key) => Ok((key, KeySource::Keychain)),
                        None => Err(KeyError::KeychainUnavailable {
                            reason: "the keychain accepted the key but did not keep it".to_owned(),
                        }),
                    }
                }
                Err(KeychainError::Unavailable(reason)) => {
                    Err(KeyError::KeychainUnavailable { reason })
                }
                Err(KeychainError::Failed(reason)) => Err(KeyError::Keychain { reason }),
            },
            KeyStoreChoice::Auto => {
                if let Some(key) = self.read_file()? {
                    return Ok((key, KeySource::File(file)));
                }
                let unavailable = match self.keychain.get() {
                    Ok(Some(secret)) => {
                        return Ok((self.decode_keychain(&secret)?, KeySource::Keychain))
                    }
                    Ok(None) => {
                        if marker.exists() {
                            return Err(KeyError::KeychainKeyLost { marker });
                        }
                        if !create {
                            return Err(missing());
                        }
                        match self.create_in_keychain() {
                            Ok(Some(key)) => return Ok((key, KeySource::Keychain)),
                            Ok(None) => {
                                "the keychain accepted the key but did not keep it".to_owned()
                            }
                            Err(KeyError::KeychainUnavailable { reason }) => reason,
                            Err(other) => return Err(other),
                        }
                    }
                    Err(KeychainError::Unavailable(reason)) => {
                        if marker.exists() {
                            return Err(KeyError::KeychainLocked { marker, reason });
                        }
                        reason
                    }
                    Err(KeychainError::Failed(reason)) => {
                        return Err(KeyError::Keychain { reason })
                    }
                };
                if !create {
                    return Err(missing());
                }
                let key = self.create_file()?;
                tracing::warn!(
                    "the OS keychain is not available ({unavailable}); created the estate key in \
                     {} instead (mode 0600). Back it up: without it the sealed fields of the \
                     local store cannot be read",
                    file.display()
                );
                Ok((key, KeySource::File(file)))
            }
        }
    }

    fn decode_keychain(&self, secret: &str) -> Result<KeyBytes, KeyError> {
        decode_key(secret, || {
            format!("OS keychain entry `{KEYCHAIN_SERVICE}`/`{KEYCHAIN_USER}`")
        })
    }

    /// Creates a key in the keychain and checks it was kept; `None` when it was not kept.
    fn create_in_keychain(&self) -> Result<Option<KeyBytes>, KeyError> {
        self.put_in_keychain(Zeroizing::new(generate_key()))
    }

    /// Keeps `key` as the estate key (`cloudops key import`), in the store [`KeyStore::choice`]
    /// names (automatic: the keychain when it works, else the key file). A key already in
    /// place is never replaced: the same key is a no-op, another is [`KeyError::Exists`].
    pub fn import(&self, key: &[u8; KEY_LEN]) -> Result<KeySource, KeyError> {
        let imported = crate::Sealer::from_key(key).key_id().to_owned();
        match self.find(false) {
            Ok((existing, source)) if existing[..] == key[..] => return Ok(source),
            Ok((existing, source)) => {
                return Err(KeyError::Exists {
                    location: source.to_string(),
                    existing: crate::Sealer::from_key(&existing).key_id().to_owned(),
                    imported,
                })
            }
            Err(KeyError::Missing { .. }) => {}
            Err(e) => return Err(e),
        }
        let file = self.key_file();
        let to_file = || -> Result<KeySource, KeyError> {
            match install_key_file(&file, key)? {
                None => Ok(KeySource::File(file.clone())),
                Some(raced) if raced[..] == key[..] => Ok(KeySource::File(file.clone())),
                Some(raced) => Err(KeyError::Exists {
                    location: KeySource::File(file.clone()).to_string(),
                    existing: crate::Sealer::from_key(&raced).key_id().to_owned(),
                    imported: imported.clone(),
                }),
            }
        };
        let keychain = || self.put_in_keychain(Zeroizing::new(*key));
        match self.choice {
            KeyStoreChoice::File => to_file(),
            KeyStoreChoice::Keychain => match keychain()? {
                Some(_) => Ok(KeySource::Keychain),
                None => Err(KeyError::KeychainUnavailable {
                    reason: "the keychain accepted the key but did not keep it".to_owned(),
                }),
            },
            KeyStoreChoice::Auto => match keychain() {
                Ok(Some(_)) => Ok(KeySource::Keychain),
                Ok(None) | Err(KeyError::KeychainUnavailable { .. }) => to_file(),
                Err(other) => Err(other),
            },
        }
    }

    /// Stores `key` in the keychain, reads it back and writes the marker; `None` when the
    /// keychain did not keep it.
    fn put_in_keychain(&self, key: KeyBytes) -> Result<Option<KeyBytes>, KeyError> {
        let text = Zeroizing::new(hex::encode(&key[..]));
        match self.keychain.set(&text) {
            Ok(()) => {}
            Err(KeychainError::Unavailable(reason)) => {
                return Err(KeyError::KeychainUnavailable { reason })
            }
            Err(KeychainError::Failed(reason)) => return Err(KeyError::Keychain { reason }),
        }
        match self.keychain.get() {
            Ok(Some(back)) if back.trim() == text.as_str() => {}
            Ok(_) => return Ok(None),
            Err(KeychainError::Unavailable(reason)) => {
                return Err(KeyError::KeychainUnavailable { reason })
            }
            Err(KeychainError::Failed(reason)) => return Err(KeyError::Keychain { reason }),
        }
        self.write_marker()?;
        Ok(Some(key))
    }

    fn write_marker(&self) -> Result<(), KeyError> {
        let marker = self.keychain_marker();
        let dir = marker.parent().expect("marker has a parent");
        create_private_dir(dir)?;
        let text = format!(
            "The cloudops estate key is kept in the OS keychain (service `{KEYCHAIN_SERVICE}`, \
             user `{KEYCHAIN_USER}`).\nThis file stops cloudops from creating a new key when the \
             keychain cannot be read; keep it.\n"
        );
        fs::write(&marker, text).map_err(|source| KeyError::Io {
            path: marker.clone(),
            source,
        })
    }

    fn read_file(&self) -> Result<Option<KeyBytes>, KeyError> {
        read_key_file(&self.key_file())
    }

    /// Creates the key file, or returns the key another process created first.
    fn create_file(&self) -> Result<KeyBytes, KeyError> {
        create_key_file(&self.key_file())
    }
}

/// Reads a key file written by [`create_key_file`]; `None` when there is none.
pub fn read_key_file(path: &Path) -> Result<Option<KeyBytes>, KeyError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => Zeroizing::new(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(KeyError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    warn_if_readable_by_others(path);
    decode_key(&text, || format!("key file {}", path.display())).map(Some)
}

/// Creates a key file holding 32 new random bytes (mode 0600 in a 0700 directory), or
/// returns the key another process created there first: the file is never overwritten.
pub fn create_key_file(path: &Path) -> Result<KeyBytes, KeyError> {
    let key = Zeroizing::new(generate_key());
    Ok(install_key_file(path, &key)?.unwrap_or(key))
}

/// Writes `key` as the key file (mode 0600 in a 0700 directory). Returns `None` when it did,
/// or the key already there: an existing key file is never overwritten.
pub fn install_key_file(path: &Path, key: &[u8; KEY_LEN]) -> Result<Option<KeyBytes>, KeyError> {
    let dir = path.parent().expect("key file has a parent").to_owned();
    create_private_dir(&dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id(),
        hex::encode(&generate_key()[..6])
    ));
    let written = (|| -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(&key[..])));
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(KeyError::Io { path: tmp, source });
    }
    // A hard link never replaces an existing name: if another process created the key
    // first, keep theirs.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(&dir);
            Ok(None)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key_file(path)?
            .ok_or(KeyError::Io {
                path: path.to_owned(),
                source: io::Error::from(io::ErrorKind::NotFound),
            })
            .map(Some),
        Err(source) => Err(KeyError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), KeyError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| KeyError::Io {
        path: dir.to_owned(),
        source,
    })
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "the key file {} can be read by other users (mode {mode:o}); \
                     run `chmod 600 {}`",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An in-memory keychain that can be made unavailable, and counts reads.
    #[derive(Clone, Default)]
    struct FakeKeychain {
        secret: Arc<Mutex<Option<String>>>,
        unavailable: Arc<Mutex<bool>>,
        forgetful: bool,
        reads: Arc<AtomicUsize>,
    }

    impl Keychain for FakeKeychain {
        fn get(&self) -> Result<Option<Zeroizing<String>>, KeychainError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if *self.unavailable.lock().unwrap() {
                return Err(KeychainError::Unavailable("no D-Bus session".into()));
            }
            Ok(self.secret.lock().unwrap().clone().map(Zeroizing::new))
        }
        fn set(&self, secret: &str) -> Result<(), KeychainError> {
            if *self.unavailable.lock().unwrap() {
                return Err(KeychainError::Unavailable("no D-Bus session".into()));
            }
            if !self.forgetful {
                *self.secret.lock().unwrap() = Some(secret.to_owned());
            }
            Ok(())
        }
    }

    fn store(dir: &Path, keychain: &FakeKeychain, choice: KeyStoreChoice) -> KeyStore {
        KeyStore::new(dir)
            .choice(choice)
            .with_keychain(Box::new(keychain.clone()))
    }

    fn unavailable() -> FakeKeychain {
        let k = FakeKeychain::default();
        *k.unavailable.lock().unwrap() = true;
        k
    }

    #[test]
    fn a_reader_finds_no_key_and_creates_none() {
        let dir = tempfile::tempdir().unwrap();
        for choice in [KeyStoreChoice::File, KeyStoreChoice::Auto] {
            let err = store(dir.path(), &unavailable(), choice)
                .load_existing()
                .unwrap_err();
            assert!(matches!(err, KeyError::Missing { .. }), "{err}");
            assert!(err.to_string().contains("cloudops store rebuild"), "{err}");
        }
        assert!(!dir.path().join("keys").exists(), "nothing was created");
        let (made, _) = store(dir.path(), &unavailable(), KeyStoreChoice::File)
            .load_or_create()
            .unwrap();
        let (found, _) = store(dir.path(), &unavailable(), KeyStoreChoice::File)
            .load_existing()
            .unwrap();
        assert_eq!(*made, *found);
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = unavailable();
        let (first, source) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        let path = dir.path().join("keys/estate.key");
        assert_eq!(source, KeySource::File(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "key file mode {mode:o}");
            let mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700, "keys dir mode {mode:o}");
        }
        let (second, source2) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        assert_eq!(*first, *second, "the same key on the second call");
        assert_eq!(source2, KeySource::File(path.clone()));
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["estate.key"]);
    }

    #[test]
    fn an_imported_key_goes_where_a_new_one_would_and_never_replaces_another() {
        let key = [5u8; KEY_LEN];
        // No keychain: the key file.
        let dir = tempfile::tempdir().unwrap();
        let source = store(dir.path(), &unavailable(), KeyStoreChoice::Auto)
            .import(&key)
            .unwrap();
        assert_eq!(source, KeySource::File(dir.path().join("keys/estate.key")));
        let (found, _) = store(dir.path(), &unavailable(), KeyStoreChoice::Auto)
            .load_existing()
            .unwrap();
        assert_eq!(*found, key);
        // The same key again is a no-op; another is refused and the first stays.
        store(dir.path(), &unavailable(), KeyStoreChoice::File)
            .import(&key)
            .unwrap();
        let err = store(dir.path(), &unavailable(), KeyStoreChoice::File)
            .import(&[6u8; KEY_LEN])
            .unwrap_err();
        assert!(matches!(err, KeyError::Exists { .. }), "{err}");
        assert!(
            !err.to_string().contains(&hex::encode([6u8; KEY_LEN])),
            "{err}"
        );
        let (found, _) = store(dir.path(), &unavailable(), KeyStoreChoice::File)
            .load_existing()
            .unwrap();
        assert_eq!(*found, key);
        // A working keychain: there, with the marker.
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain::default();
        let source = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .import(&key)
            .unwrap();
        assert_eq!(source, KeySource::Keychain);
        assert!(dir.path().join("keys/estate.key.keychain").exists());
        assert_eq!(
            keychain.secret.lock().unwrap().as_deref(),
            Some(hex::encode(key).as_str())
        );
    }

    #[test]
    fn forced_file_store_never_asks_the_keychain() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain::default();
        let (_, source) = store(dir.path(), &keychain, KeyStoreChoice::File)
            .load_or_create()
            .unwrap();
        assert!(matches!(source, KeySource::File(_)));
        assert_eq!(keychain.reads.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn existing_key_file_wins_and_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = unavailable();
        let (key, _) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        let path = dir.path().join("keys/estate.key");
        let before = fs::read(&path).unwrap();

        // The keychain comes back (and is empty): the file is still the key, and the keychain
        // is not even read.
        let keychain = FakeKeychain::default();
        let (again, source) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        assert_eq!(*key, *again);
        assert!(matches!(source, KeySource::File(_)));
        assert_eq!(keychain.reads.load(Ordering::SeqCst), 0);
        assert!(keychain.secret.lock().unwrap().is_none());

        // Forcing the keychain does not create a second key either.
        let err = store(dir.path(), &keychain, KeyStoreChoice::Keychain)
            .load_or_create()
            .unwrap_err();
        assert!(matches!(err, KeyError::KeyElsewhere { .. }), "{err}");
        assert!(err.to_string().contains("a second key"), "{err}");
        assert!(keychain.secret.lock().unwrap().is_none());
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn keychain_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain::default();
        let (key, source) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        assert_eq!(source, KeySource::Keychain);
        assert!(!dir.path().join("keys/estate.key").exists());
        assert!(dir.path().join("keys/estate.key.keychain").exists());
        let stored = keychain.secret.lock().unwrap().clone().unwrap();
        assert_eq!(stored, hex::encode(&key[..]));

        let (again, _) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        assert_eq!(*key, *again);
        assert_eq!(keychain.secret.lock().unwrap().clone().unwrap(), stored);
    }

    #[test]
    fn locked_keychain_holding_the_key_does_not_get_a_file_key() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain::default();
        store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        *keychain.unavailable.lock().unwrap() = true;
        let err = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap_err();
        assert!(matches!(err, KeyError::KeychainLocked { .. }), "{err}");
        assert!(err.to_string().contains("unlock the keychain"), "{err}");
        assert!(!dir.path().join("keys/estate.key").exists());

        // Forcing the file store does not create one either.
        let err = store(dir.path(), &keychain, KeyStoreChoice::File)
            .load_or_create()
            .unwrap_err();
        assert!(matches!(err, KeyError::KeyElsewhere { .. }), "{err}");
        assert!(!dir.path().join("keys/estate.key").exists());
    }

    #[test]
    fn lost_keychain_key_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain::default();
        store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        *keychain.secret.lock().unwrap() = None;
        let err = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap_err();
        assert!(matches!(err, KeyError::KeychainKeyLost { .. }), "{err}");
        assert!(keychain.secret.lock().unwrap().is_none());
    }

    #[test]
    fn keychain_that_does_not_keep_the_key_falls_back_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let keychain = FakeKeychain {
            forgetful: true,
            ..FakeKeychain::default()
        };
        let (_, source) = store(dir.path(), &keychain, KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap();
        assert!(matches!(source, KeySource::File(_)));
        assert!(!dir.path().join("keys/estate.key.keychain").exists());
    }

    #[test]
    fn forced_keychain_that_is_unavailable_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = store(dir.path(), &unavailable(), KeyStoreChoice::Keychain)
            .load_or_create()
            .unwrap_err();
        assert!(matches!(err, KeyError::KeychainUnavailable { .. }), "{err}");
        assert!(err.to_string().contains("CLOUDOPS_KEY_STORE=file"), "{err}");
        assert!(!dir.path().join("keys").exists());
    }

    #[test]
    fn damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/estate.key");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "not a key\n").unwrap();
        let err = store(dir.path(), &unavailable(), KeyStoreChoice::Auto)
            .load_or_create()
            .unwrap_err();
        assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a key\n");
    }

    #[test]
    fn concurrent_first_runs_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; KEY_LEN]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let (key, _) = store(dir.path(), &unavailable(), KeyStoreChoice::File)
                            .load_or_create()
                            .unwrap();
                        *key
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "one key for all");
    }

    #[test]
    fn key_store_choice_parses_the_environment_value() {
        assert_eq!(KeyStoreChoice::parse("").unwrap(), KeyStoreChoice::Auto);
        assert_eq!(KeyStoreChoice::parse("File").unwrap(), KeyStoreChoice::File);
        assert_eq!(
            KeyStoreChoice::parse("keychain").unwrap(),
            KeyStoreChoice::Keychain
        );
        let err = KeyStoreChoice::parse("vault").unwrap_err();
        assert!(
            err.to_string().contains("use `keychain` or `file`"),
            "{err}"
        );
    }

    /// The real OS keychain, with a throwaway entry, where this machine has one.
    #[test]
    fn os_keychain_round_trip_where_available() {
        let user = format!("estate-key-test-{}", hex::encode(&generate_key()[..6]));
        let keychain = OsKeychain::new(KEYCHAIN_SERVICE, &user);
        match keychain.get() {
            Err(KeychainError::Unavailable(reason)) => {
                println!("skipped: no usable OS keychain on this machine ({reason})");
                return;
            }
            Err(KeychainError::Failed(reason)) => panic!("keychain failed: {reason}"),
            Ok(existing) => assert!(existing.is_none(), "fresh test entry"),
        }
        let dir = tempfile::tempdir().unwrap();
        let store = || {
            KeyStore::new(dir.path())
                .choice(KeyStoreChoice::Keychain)
                .keychain_entry(KEYCHAIN_SERVICE, &user)
        };
        let result = store().load_or_create();
        let again = store().load_or_create();
        let _ = keychain.delete();
        let (key, source) = result.unwrap();
        assert_eq!(source, KeySource::Keychain);
        assert_eq!(*key, *again.unwrap().0);
        println!("OS keychain: created, read back and deleted a test key");
    }
}
