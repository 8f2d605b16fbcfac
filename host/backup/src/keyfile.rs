//! The estate key wrapped under a passphrase: `cloudops key export` and `key import`.
//!
//! The file is JSON:
//!
//! ```json
//! {"format": "cloudops-estate-key", "version": 1, "key_id": "1f2e3d4c5b6a7988",
//!  "kdf": {"algorithm": "argon2id", "m_kib": 65536, "t": 3, "p": 1, "salt": "<32 hex>"},
//!  "sealed": "v1:..."}
//! ```
//!
//! A 256-bit wrapping key is derived from the passphrase with Argon2id (RustCrypto's `argon2`;
//! 64 MiB, 3 passes, 1 lane by default: RFC 9106's second recommended setting, memory-hard
//! so that guessing is costly on GPUs) and a random 16-byte salt; the estate key is sealed
//! with it by cloudops-seal's AES-256-GCM, bound to the key id. A wrong passphrase and an
//! altered file are the same error; the passphrase itself is never stored, logged or shown.

use argon2::{Algorithm, Argon2, Params, Version};
use cloudops_seal::{Sealer, KEY_LEN};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Argon2id cost settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self {
            m_kib: 64 * 1024,
            t: 3,
            p: 1,
        }
    }
}

/// The shortest passphrase `export` accepts.
pub const MIN_PASSPHRASE: usize = 12;

#[derive(Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    #[serde(flatten)]
    params: KdfParams,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    format: String,
    version: u32,
    key_id: String,
    kdf: Kdf,
    sealed: String,
}

const FORMAT: &str = "cloudops-estate-key";

/// Why a key file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The passphrase does not open the file (or the file was altered).
    #[error(
        "the passphrase does not open this key file (wrong passphrase, or the file was altered)"
    )]
    WrongPassphrase,
    /// The file is not an exported estate key.
    #[error("this is not a cloudops key export ({0})")]
    Malformed(String),
    /// The passphrase is too short to protect the key.
    #[error("the passphrase is too short: use at least {MIN_PASSPHRASE} characters")]
    WeakPassphrase,
    /// The KDF settings are unusable.
    #[error("the key file's Argon2 settings are unusable: {0}")]
    Kdf(String),
}

fn derive(
    passphrase: &[u8],
    salt: &[u8],
    params: KdfParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyFileError> {
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m_kib, params.t, params.p, Some(KEY_LEN))
            .map_err(|e| KeyFileError::Kdf(e.to_string()))?,
    );
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    argon
        .hash_password_into(passphrase, salt, &mut out[..])
        .map_err(|e| KeyFileError::Kdf(e.to_string()))?;
    Ok(out)
}

fn aad(key_id: &str) -> Vec<u8> {
    format!("cloudops estate key export v1:{key_id}").into_bytes()
}

/// The key file text for `key` under `passphrase`.
pub fn export(
    key: &[u8; KEY_LEN],
    passphrase: &[u8],
    params: KdfParams,
) -> Result<String, KeyFileError> {
    if passphrase.len() < MIN_PASSPHRASE {
        return Err(KeyFileError::WeakPassphrase);
    }
    let mut salt = [0u8; 16];
    aes_gcm::aead::rand_core::RngCore::fill_bytes(&mut aes_gcm::aead::OsRng, &mut salt);
    let wrapping = derive(passphrase, &salt, params)?;
    let key_id = Sealer::from_key(key).key_id().to_owned();
    let file = KeyFile {
        format: FORMAT.to_owned(),
        version: 1,
        sealed: Sealer::from_key(&wrapping).seal(key, &aad(&key_id)),
        key_id,
        kdf: Kdf {
            algorithm: "argon2id".to_owned(),
            params,
            salt: hex::encode(salt),
        },
    };
    Ok(serde_json::to_string_pretty(&file).expect("a key file is always JSON") + "\n")
}

/// The key in a key file, and its id.
pub fn import(
    text: &str,
    passphrase: &[u8],
) -> Result<(Zeroizing<[u8; KEY_LEN]>, String), KeyFileError> {
    let file: KeyFile =
        serde_json::from_str(text).map_err(|e| KeyFileError::Malformed(e.to_string()))?;
    if file.format != FORMAT || file.version != 1 || file.kdf.algorithm != "argon2id" {
        return Err(KeyFileError::Malformed(format!(
            "format {} version {} with {}; this cloudops reads {FORMAT} version 1 with argon2id",
            file.format, file.version, file.kdf.algorithm
        )));
    }
    // A hostile file could ask for terabytes of memory: cap what we are willing to spend.
    if file.kdf.params.m_kib > 4 * 1024 * 1024 || file.kdf.params.t > 64 {
        return Err(KeyFileError::Kdf(
            "costs beyond 4 GiB or 64 passes are refused".to_owned(),
        ));
    }
    let salt =
        hex::decode(&file.kdf.salt).map_err(|e| KeyFileError::Malformed(format!("salt: {e}")))?;
    let wrapping = derive(passphrase, &salt, file.kdf.params)?;
    let opened = Zeroizing::new(
        Sealer::from_key(&wrapping)
            .open(&file.sealed, &aad(&file.key_id))
            .map_err(|_| KeyFileError::WrongPassphrase)?,
    );
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if opened.len() != KEY_LEN {
        return Err(KeyFileError::Malformed(
            "the key is not 32 bytes".to_owned(),
        ));
    }
    key.copy_from_slice(&opened);
    let id = Sealer::from_key(&key).key_id().to_owned();
    if id != file.key_id {
        return Err(KeyFileError::Malformed(
            "the key does not match its key id".to_owned(),
        ));
    }
    Ok((key, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap settings: the tests check the wrapping, not Argon2's cost.
    const FAST: KdfParams = KdfParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };

    #[test]
    fn an_exported_key_imports_with_its_passphrase_only() {
        let key = [7u8; KEY_LEN];
        let text = export(&key, b"correct horse battery", FAST).unwrap();
        assert!(!text.contains(&hex::encode(key)), "{text}");
        assert!(!text.contains("correct horse"), "{text}");
        let (back, id) = import(&text, b"correct horse battery").unwrap();
        assert_eq!(*back, key);
        assert_eq!(id, Sealer::from_key(&key).key_id());
        let err = import(&text, b"wrong horse battery").unwrap_err();
        assert!(matches!(err, KeyFileError::WrongPassphrase), "{err}");
    }

    #[test]
    fn a_short_passphrase_and_an_altered_file_are_refused() {
        let key = [9u8; KEY_LEN];
        assert!(matches!(
            export(&key, b"short", FAST),
            Err(KeyFileError::WeakPassphrase)
        ));
        let text = export(&key, b"a long enough phrase", FAST).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        doc["key_id"] = "0000000000000000".into();
        let err = import(&doc.to_string(), b"a long enough phrase").unwrap_err();
        assert!(matches!(err, KeyFileError::WrongPassphrase), "{err}");
        let err = import("{}", b"a long enough phrase").unwrap_err();
        assert!(matches!(err, KeyFileError::Malformed(_)), "{err}");
    }
}
