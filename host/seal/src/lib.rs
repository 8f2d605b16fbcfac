//! Sealing: AES-256-GCM for the sensitive fields of stored points.
//!
//! This module is the only code that touches the estate key. A [`Sealer`] holds it;
//! [`Sealer::seal`] turns a plaintext into a string safe to keep in a JSON payload, and
//! [`Sealer::open`] turns it back, or fails with a [`SealError`] that says what to do.
//!
//! Format of a sealed value: `v1:` followed by unpadded URL-safe base64 of
//! `nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)`. Each seal draws a fresh random nonce
//! from the OS, so sealing the same plaintext twice gives two different strings. The
//! associated data (`aad`) is authenticated but not stored: the store passes the point id, so
//! a sealed value copied into another point does not open.
//!
//! Where the key lives is [`key`]'s job: [`Sealer::from_keychain`] finds the key in the OS
//! keychain or in a key file, and creates it on first use.

#![deny(missing_docs)]

pub mod key;

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use key::{KeySource, KeyStore, KeyStoreChoice, KEY_STORE_ENV};

/// Bytes in an estate key (AES-256).
pub const KEY_LEN: usize = 32;

/// Prefix of a value sealed with the current format.
pub const SEALED_PREFIX: &str = "v1:";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// What to tell the user when a sealed value does not open with the current key.
const RECOVERY: &str = "re-sync (`cloudops sync`) to rebuild the local store with the current \
     key, or restore the key it was sealed with (OS keychain entry `cloudops`/`estate-key`, \
     or `keys/estate.key` in the data directory)";

/// Why sealing, opening or finding the key failed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Authentication failed: another key, altered bytes, or a value moved between records.
    #[error(
        "a sealed field of the local store does not open: it was sealed with a different estate \
         key, or it was altered or copied from another record; {RECOVERY}"
    )]
    WrongKeyOrTampered,
    /// The value is not a sealed value of a format this version knows.
    #[error("a sealed field of the local store is malformed ({reason}); {RECOVERY}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The key could not be read from, or created in, its store.
    #[error("estate key: {0}")]
    Key(#[from] key::KeyError),
}

/// Seals and opens values with the estate key. `Debug` shows only the key's id.
pub struct Sealer {
    cipher: Aes256Gcm,
    /// HMAC key for [`Sealer::fingerprint`], derived from the estate key.
    mac_key: Zeroizing<[u8; KEY_LEN]>,
    key_id: String,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("key", &"** redacted **")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl Sealer {
    /// A sealer for the estate key, found or created as [`KeyStore`] describes; the store is
    /// chosen by `CLOUDOPS_KEY_STORE` (`keychain`, `file`, or unset for automatic). Also
    /// returns where the key was found, for `cloudops status`.
    pub fn from_keychain(data_dir: &Path) -> Result<(Sealer, KeySource), SealError> {
        let choice = KeyStoreChoice::from_env()?;
        let (key, source) = KeyStore::new(data_dir).choice(choice).load_or_create()?;
        Ok((Sealer::from_key(&key), source))
    }

    /// A sealer for the estate key that must already exist (see [`KeyStore::load_existing`]):
    /// for readers, which never create a key.
    pub fn existing(data_dir: &Path) -> Result<(Sealer, KeySource), SealError> {
        let choice = KeyStoreChoice::from_env()?;
        let (key, source) = KeyStore::new(data_dir).choice(choice).load_existing()?;
        Ok((Sealer::from_key(&key), source))
    }

    /// A sealer for an explicit key, for tests and key import. The caller should zeroize its
    /// copy.
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
        let derive = |label: &[u8]| -> Zeroizing<[u8; KEY_LEN]> {
            let mut hasher = Sha256::new();
            hasher.update(label);
            hasher.update(key);
            Zeroizing::new(hasher.finalize().into())
        };
        let key_id = hex::encode(&derive(b"cloudops estate key id\0")[..8]);
        Self {
            cipher,
            mac_key: derive(b"cloudops estate fingerprint key\0"),
            key_id,
        }
    }

    /// A sealer with a fresh random key that is never stored, for tests and throwaway stores.
    pub fn generate() -> Self {
        let key = Zeroizing::new(key::generate_key());
        Self::from_key(&key)
    }

    /// A short, non-secret identifier of the key (hex of a hash of it): two sealers with the
    /// same id hold the same key. Safe to show and log.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A keyed fingerprint of `data` (HMAC-SHA-256 under a key derived from the estate key,
    /// 128 bits in hex): equal data gives equal fingerprints under one key, and without the
    /// key a fingerprint says nothing about the data. For recognising unchanged content
    /// without storing it in the clear.
    pub fn fingerprint(&self, data: &[u8]) -> String {
        hex::encode(&hmac_sha256(&self.mac_key, data)[..16])
    }

    /// Seals `plaintext`, bound to `aad` (the point id), with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // Encryption fails only for inputs beyond 64 GiB.
            .expect("AES-GCM encryption of an in-memory value");
        let mut raw = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ciphertext);
        let mut out = String::with_capacity(SEALED_PREFIX.len() + raw.len() * 4 / 3 + 4);
        out.push_str(SEALED_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&raw, &mut out);
        out
    }

    /// Opens a value made by [`Sealer::seal`] with the same key and `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some(body) = sealed.strip_prefix(SEALED_PREFIX) else {
            let reason = match sealed.split_once(':') {
                Some((version, _)) if !version.is_empty() && version.len() <= 8 => {
                    format!("unknown format `{version}`, this version reads `v1`")
                }
                _ => "it does not start with `v1:`".to_owned(),
            };
            return Err(SealError::Malformed { reason });
        };
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| SealError::Malformed {
                reason: match e {
                    // A valid prefix of a sealed value that ends in the wrong place.
                    base64::DecodeError::InvalidLength(_)
                    | base64::DecodeError::InvalidLastSymbol(..) => {
                        format!("truncated: {e}")
                    }
                    _ => format!("bad base64: {e}"),
                },
            })?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed {
                reason: format!(
                    "{} bytes, shorter than a nonce and a tag ({} bytes): truncated",
                    raw.len(),
                    NONCE_LEN + TAG_LEN
                ),
            });
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SealError::WrongKeyOrTampered)
    }
}

/// HMAC-SHA-256 (RFC 2104) with a 32-byte key.
fn hmac_sha256(key: &[u8; KEY_LEN], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut ipad = Zeroizing::new([0x36u8; BLOCK]);
    let mut opad = Zeroizing::new([0x5cu8; BLOCK]);
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let inner = Sha256::new()
        .chain_update(&ipad[..])
        .chain_update(data)
        .finalize();
    Sha256::new()
        .chain_update(&opad[..])
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &[u8] = b"6c6f7564-6f70-5365-8000-657374617465";

    fn sealer(byte: u8) -> Sealer {
        Sealer::from_key(&[byte; KEY_LEN])
    }

    #[test]
    fn sealed_value_opens_with_the_same_key_and_aad() {
        let s = sealer(7);
        let sealed = s.seal(b"arn:aws:iam::123456789012:role/admin", ID);
        assert!(sealed.starts_with("v1:"), "{sealed}");
        assert_eq!(
            s.open(&sealed, ID).unwrap(),
            b"arn:aws:iam::123456789012:role/admin"
        );
        // Empty plaintext round-trips too.
        assert_eq!(s.open(&s.seal(b"", ID), ID).unwrap(), b"");
    }

    #[test]
    fn two_seals_of_the_same_plaintext_differ() {
        let s = sealer(7);
        let a = s.seal(b"same", ID);
        let b = s.seal(b"same", ID);
        assert_ne!(a, b, "a fresh nonce per seal");
        assert_eq!(s.open(&a, ID).unwrap(), s.open(&b, ID).unwrap());
    }

    #[test]
    fn tampered_ciphertext_is_refused() {
        let s = sealer(7);
        let sealed = s.seal(b"secret value", ID);
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        for position in [0, NONCE_LEN, raw.len() - 1] {
            raw[position] ^= 0x01;
            let altered = format!("v1:{}", URL_SAFE_NO_PAD.encode(&raw));
            let err = s.open(&altered, ID).unwrap_err();
            assert!(matches!(err, SealError::WrongKeyOrTampered), "{err}");
            raw[position] ^= 0x01;
        }
    }

    #[test]
    fn wrong_key_is_refused_with_a_message_saying_what_to_do() {
        let sealed = sealer(7).seal(b"secret value", ID);
        let err = sealer(8).open(&sealed, ID).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, SealError::WrongKeyOrTampered));
        assert!(message.contains("different estate key"), "{message}");
        assert!(message.contains("re-sync"), "{message}");
        assert!(message.contains("restore the key"), "{message}");
    }

    #[test]
    fn value_moved_to_another_record_is_refused() {
        let s = sealer(7);
        let sealed = s.seal(b"secret value", ID);
        let err = s.open(&sealed, b"another-point-id").unwrap_err();
        assert!(matches!(err, SealError::WrongKeyOrTampered), "{err}");
    }

    #[test]
    fn truncated_value_is_refused() {
        let s = sealer(7);
        let sealed = s.seal(b"secret value", ID);
        // Bytes cut from the tag: still long enough to parse, fails authentication.
        let raw = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        let cut = format!("v1:{}", URL_SAFE_NO_PAD.encode(&raw[..raw.len() - 3]));
        let err = s.open(&cut, ID).unwrap_err();
        assert!(matches!(err, SealError::WrongKeyOrTampered), "{err}");
        // A string cut anywhere never opens.
        for end in 3..sealed.len() {
            assert!(s.open(&sealed[..end], ID).is_err(), "cut at {end}");
        }
        // Cut below nonce + tag: malformed.
        let err = s.open(&sealed[..20], ID).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = s.open("v1:", ID).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn bad_prefix_and_bad_encoding_are_refused() {
        let s = sealer(7);
        let err = s.open("plain text", ID).unwrap_err();
        assert!(
            err.to_string().contains("does not start with `v1:`"),
            "{err}"
        );
        let err = s.open("v2:AAAA", ID).unwrap_err();
        assert!(err.to_string().contains("unknown format `v2`"), "{err}");
        let err = s.open("v1:not base64!", ID).unwrap_err();
        assert!(err.to_string().contains("bad base64"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let s = sealer(0xAB);
        let shown = format!("{s:?}");
        assert!(shown.contains("redacted"), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
        assert_eq!(s.key_id(), sealer(0xAB).key_id());
        assert_ne!(s.key_id(), sealer(0xAC).key_id());
    }

    #[test]
    fn generated_sealers_have_distinct_keys() {
        assert_ne!(Sealer::generate().key_id(), Sealer::generate().key_id());
        let sealed = Sealer::generate().seal(b"x", ID);
        assert!(Sealer::generate().open(&sealed, ID).is_err());
    }

    #[test]
    fn fingerprints_are_keyed_and_deterministic() {
        let a = sealer(1);
        assert_eq!(a.fingerprint(b"content"), sealer(1).fingerprint(b"content"));
        assert_ne!(a.fingerprint(b"content"), a.fingerprint(b"content2"));
        assert_ne!(a.fingerprint(b"content"), sealer(2).fingerprint(b"content"));
        assert_eq!(a.fingerprint(b"").len(), 32);
    }

    #[test]
    fn hmac_matches_rfc_4231_shape() {
        // RFC 4231 test case 2 uses a 4-byte key; our keys are 32 bytes, so check against the
        // definition with a zero-padded key instead: HMAC pads short keys with zeros.
        let mut key = [0u8; KEY_LEN];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex::encode(hmac_sha256(&key, b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
