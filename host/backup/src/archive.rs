//! The archive's encryption: a plaintext header, then the payload in AES-256-GCM chunks.
//!
//! ```text
//! "cloudops-backup v1\n"                     magic line
//! u32 big-endian N, then N bytes of JSON      the Header: created_at, version, key id, the
//!                                             data key sealed under the estate key, the
//!                                             nonce prefix, the chunk size, a summary
//! chunk 0, chunk 1, ..., chunk k              each: ciphertext of CHUNK plaintext bytes (the
//!                                             last: 0..=CHUNK bytes) + 16-byte tag
//! ```
//!
//! Chunks follow the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár): chunk `i` is
//! sealed under a fresh per-archive data key with nonce `prefix (7 bytes) ‖ i (u32 BE) ‖ last
//! (1 byte: 1 for the final chunk, else 0)` and the SHA-256 of the magic line and header as
//! associated data. So a chunk cannot be reordered, dropped, duplicated or moved to another
//! archive, the header cannot be edited, and an archive cut anywhere, even between two chunks,
//! does not open: its last chunk was not sealed as the final one. The header also records the
//! payload's length, so a cut is reported as a truncation (with where the archive ends), and
//! an archive of the right length that does not authenticate as an alteration.

use std::io::{self, Read, Write};

use aes_gcm::aead::{rand_core::RngCore, Aead, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use cloudops_seal::{SealError, Sealer, KEY_LEN};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::manifest::Summary;
use crate::BackupError;

/// The first line of every archive.
pub const MAGIC: &[u8] = b"cloudops-backup v1\n";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1 << 20;
const TAG: usize = 16;
const PREFIX: usize = 7;
/// The longest header a reader accepts.
const MAX_HEADER: u32 = 1 << 20;

/// What an archive says about itself in the clear (authenticated by every chunk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Archive format version (1).
    pub format: u32,
    /// Unix seconds when the backup was taken.
    pub created_at: i64,
    /// The cloudops version that wrote it.
    pub cloudops_version: String,
    /// Id of the estate key the data key is sealed under (never the key).
    pub key_id: String,
    /// The archive's data key, sealed with the estate key (`v1:` sealed value).
    pub sealed_data_key: String,
    /// Hex of the 7-byte nonce prefix of the chunks.
    pub nonce_prefix: String,
    /// Plaintext bytes per chunk.
    pub chunk_size: u64,
    /// Plaintext bytes of the payload (all chunks).
    pub payload_bytes: u64,
    /// What it holds, for `cloudops backup list`.
    pub summary: Summary,
}

/// Associated data of the sealed data key: binds it to this use and this archive's nonces.
fn data_key_aad(nonce_prefix: &str) -> Vec<u8> {
    format!("cloudops backup data key v1:{nonce_prefix}").into_bytes()
}

/// Encrypts a payload into an archive on `out`; call [`Writer::finish`] at the end.
pub struct Writer<W: Write> {
    out: W,
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX],
    aad: [u8; 32],
    counter: u32,
    buf: Vec<u8>,
    written: u64,
    payload: u64,
    promised: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the header (with a fresh data key sealed by `sealer`) and returns the writer,
    /// which must then be given exactly `payload_bytes` bytes.
    pub fn new(
        mut out: W,
        sealer: &Sealer,
        created_at: i64,
        payload_bytes: u64,
        summary: Summary,
    ) -> io::Result<Self> {
        let data_key = Zeroizing::new({
            let mut k = [0u8; KEY_LEN];
            OsRng.fill_bytes(&mut k);
            k
        });
        let mut prefix = [0u8; PREFIX];
        OsRng.fill_bytes(&mut prefix);
        let nonce_prefix = hex::encode(prefix);
        let header = Header {
            format: 1,
            created_at,
            cloudops_version: env!("CARGO_PKG_VERSION").to_owned(),
            key_id: sealer.key_id().to_owned(),
            sealed_data_key: sealer.seal(&data_key[..], &data_key_aad(&nonce_prefix)),
            nonce_prefix,
            chunk_size: CHUNK as u64,
            payload_bytes,
            summary,
        };
        let json = serde_json::to_vec(&header).expect("a header is always JSON");
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&(json.len() as u32).to_be_bytes());
        head.extend_from_slice(&json);
        out.write_all(&head)?;
        Ok(Self {
            out,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key[..])),
            prefix,
            aad: Sha256::digest(&head).into(),
            counter: 0,
            buf: Vec::with_capacity(CHUNK),
            written: head.len() as u64,
            payload: 0,
            promised: payload_bytes,
        })
    }

    fn seal_chunk(&mut self, last: bool) -> io::Result<()> {
        let nonce = nonce(&self.prefix, self.counter, last);
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &self.buf,
                    aad: &self.aad,
                },
            )
            .expect("AES-GCM encryption of a 1 MiB chunk");
        self.out.write_all(&sealed)?;
        self.written += sealed.len() as u64;
        self.buf.clear();
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("the archive would exceed 2^32 chunks (4 PiB)"))?;
        Ok(())
    }

    /// Seals the final chunk, flushes, and returns the output and the archive's size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.payload != self.promised {
            return Err(io::Error::other(format!(
                "the payload is {} bytes, the header promised {}",
                self.payload, self.promised
            )));
        }
        self.seal_chunk(true)?;
        self.out.flush()?;
        Ok((self.out, self.written))
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full buffer is sealed only when more data comes: the final chunk must be the last.
        if self.buf.len() == CHUNK && !data.is_empty() {
            self.seal_chunk(false)?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.payload += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn nonce(prefix: &[u8; PREFIX], counter: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = last as u8;
    n
}

/// Reads an archive's header only (no key needed): for listing.
pub fn read_header(input: &mut impl Read) -> Result<(Header, Vec<u8>), BackupError> {
    let mut magic = vec![0u8; MAGIC.len()];
    let got = read_full(input, &mut magic).map_err(BackupError::read("its first line"))?;
    if got < MAGIC.len() && MAGIC.starts_with(&magic[..got]) {
        return Err(BackupError::Truncated(
            "it ends inside its first line".to_owned(),
        ));
    }
    if magic != MAGIC {
        return Err(BackupError::NotAnArchive);
    }
    let mut len = [0u8; 4];
    if read_full(input, &mut len).map_err(BackupError::read("its header"))? < 4 {
        return Err(BackupError::Truncated(
            "it ends inside its header".to_owned(),
        ));
    }
    let len = u32::from_be_bytes(len);
    if len > MAX_HEADER {
        return Err(BackupError::Corrupt(format!(
            "its header claims {len} bytes, more than {MAX_HEADER}"
        )));
    }
    let mut json = vec![0u8; len as usize];
    if read_full(input, &mut json).map_err(BackupError::read("its header"))? < json.len() {
        return Err(BackupError::Truncated(
            "it ends inside its header".to_owned(),
        ));
    }
    let header: Header = serde_json::from_slice(&json)
        .map_err(|e| BackupError::Corrupt(format!("its header does not parse: {e}")))?;
    if header.format != 1 {
        return Err(BackupError::Corrupt(format!(
            "archive format {} is newer than this cloudops reads (1): upgrade cloudops",
            header.format
        )));
    }
    if header.chunk_size != CHUNK as u64 {
        return Err(BackupError::Corrupt(format!(
            "chunk size {} is not {CHUNK}",
            header.chunk_size
        )));
    }
    let mut head = magic;
    head.extend_from_slice(&len.to_be_bytes());
    head.extend_from_slice(&json);
    Ok((header, head))
}

/// Reads `buf.len()` bytes unless the input ends first; returns how many were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Decrypts an archive's payload as a [`Read`]; [`Reader::finish`] checks it ended properly.
pub struct Reader<R: Read> {
    input: R,
    cipher: Aes256Gcm,
    prefix: [u8; PREFIX],
    aad: [u8; 32],
    counter: u32,
    plain: Vec<u8>,
    pos: usize,
    /// Chunks in the archive, from the header's payload length.
    chunks: u64,
    /// Bytes of the archive read so far, and how long it should be.
    offset: u64,
    expected: u64,
    done: bool,
    /// The header, as read.
    pub header: Header,
}

impl<R: Read> Reader<R> {
    /// Reads the header, checks the estate key is the one the archive was sealed for, and
    /// opens the data key with it.
    pub fn open(mut input: R, sealer: &Sealer) -> Result<Self, BackupError> {
        let (header, head) = read_header(&mut input)?;
        if header.key_id != sealer.key_id() {
            return Err(BackupError::ForeignKey {
                archive: header.key_id.clone(),
                current: sealer.key_id().to_owned(),
            });
        }
        let data_key = Zeroizing::new(
            sealer
                .open(&header.sealed_data_key, &data_key_aad(&header.nonce_prefix))
                .map_err(|e| match e {
                    SealError::WrongKeyOrTampered => BackupError::Tampered(
                        "its sealed data key does not open with the estate key".to_owned(),
                    ),
                    other => BackupError::Corrupt(format!("its sealed data key: {other}")),
                })?,
        );
        let chunks = header.payload_bytes.div_ceil(CHUNK as u64).max(1);
        if chunks > u32::MAX as u64 {
            return Err(BackupError::Corrupt(
                "its payload length is impossible".to_owned(),
            ));
        }
        let expected = head.len() as u64 + header.payload_bytes + chunks * TAG as u64;
        let mut prefix = [0u8; PREFIX];
        if data_key.len() != KEY_LEN
            || hex::decode_to_slice(&header.nonce_prefix, &mut prefix).is_err()
        {
            return Err(BackupError::Corrupt(
                "its data key or nonce prefix has the wrong length".to_owned(),
            ));
        }
        Ok(Self {
            input,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key[..])),
            prefix,
            aad: Sha256::digest(&head).into(),
            counter: 0,
            plain: Vec::new(),
            pos: 0,
            chunks,
            offset: head.len() as u64,
            expected,
            done: false,
            header,
        })
    }

    /// Reads and opens the next chunk into `plain`; false at the end of the archive.
    fn next_chunk(&mut self) -> Result<bool, BackupError> {
        if self.done {
            return Ok(false);
        }
        let chunk = self.counter;
        let last = chunk as u64 + 1 == self.chunks;
        let plain_len = if last {
            self.header.payload_bytes - (self.chunks - 1) * CHUNK as u64
        } else {
            CHUNK as u64
        };
        let mut sealed = vec![0u8; plain_len as usize + TAG];
        let got = read_full(&mut self.input, &mut sealed).map_err(BackupError::read("a chunk"))?;
        self.offset += got as u64;
        if got < sealed.len() {
            return Err(BackupError::Truncated(format!(
                "it ends at byte {} of {}, in chunk {chunk} of {}",
                self.offset, self.expected, self.chunks
            )));
        }
        let plain = self.cipher.decrypt(
            Nonce::from_slice(&nonce(&self.prefix, chunk, last)),
            Payload {
                msg: &sealed,
                aad: &self.aad,
            },
        );
        self.plain = plain.map_err(|_| {
            BackupError::Tampered(format!(
                "chunk {chunk} of {} does not authenticate",
                self.chunks
            ))
        })?;
        if last {
            let mut one = [0u8; 1];
            if read_full(&mut self.input, &mut one).map_err(BackupError::read("its end"))? > 0 {
                return Err(BackupError::Corrupt(format!(
                    "bytes follow its final chunk (it should end at byte {})",
                    self.expected
                )));
            }
        }
        self.pos = 0;
        self.done = last;
        self.counter = self.counter.wrapping_add(1);
        Ok(true)
    }

    /// Checks that the payload ends here: the final chunk was read and nothing is left.
    pub fn finish(mut self) -> Result<(), BackupError> {
        if self.pos < self.plain.len() {
            return Err(BackupError::Corrupt(
                "it holds more data than its manifest lists".to_owned(),
            ));
        }
        if self.next_chunk()? && !self.plain.is_empty() || !self.done {
            return Err(BackupError::Corrupt(
                "it holds more data than its manifest lists".to_owned(),
            ));
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` plaintext bytes, with the archive's own errors.
    pub fn read_exact_checked(&mut self, buf: &mut [u8]) -> Result<(), BackupError> {
        let mut got = 0;
        while got < buf.len() {
            if self.pos == self.plain.len() && !self.next_chunk()? {
                return Err(BackupError::Truncated(
                    "its payload ends before everything its manifest lists".to_owned(),
                ));
            }
            let n = (self.plain.len() - self.pos).min(buf.len() - got);
            buf[got..got + n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
            self.pos += n;
            got += n;
        }
        Ok(())
    }
}
