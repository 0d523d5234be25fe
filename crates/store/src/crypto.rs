//! Envelope encryption of personal data (design guide, "Tenancy and data protection").
//!
//! - The **master key** (32 bytes) comes from a file or the environment. In the embedded default
//!   it is generated on first start as `master.key` (mode 0600) in the data directory, with a loud
//!   warning: whoever holds that file and a copy of the databases can read them.
//! - Each organisation has its own random **data key**, stored only wrapped (AES-256-GCM) by the
//!   master key, the AAD naming the organisation. Deleting the wrapped key shreds the organisation.
//! - From the data key, HKDF-SHA256 derives a **sealing key** (AES-256-GCM for personal data; the AAD
//!   binds organisation, table, column and row, so a ciphertext copied to another row, column or
//!   organisation does not open) and a **lookup key** (HMAC-SHA256 for national identity numbers,
//!   so a patient can be found without storing the number in the clear).
//!
//! Sealed values are `1 || nonce (12) || ciphertext || tag (16)`; the leading byte is the format
//! version. aws-lc-rs is the one crypto provider, as for TLS.

use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::{hkdf, hmac};
use base64::Engine as _;
use uuid::Uuid;

use crate::StoreError;

const SEALED_VERSION: u8 = 1;

/// The deployment's master key. Its `Debug` never prints the key.
pub struct MasterKey {
    key: LessSafeKey,
    /// HKDF-SHA256 of the master key with info `trygg:ceremony:v1`: the key of login ceremony
    /// tokens (issue 17), so every node with this master key opens them.
    ceremony: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Where the master key came from, for the start-up log and the compliance report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterKeySource {
    /// Given in the environment or configuration as base64.
    Value,
    /// Read from an existing file.
    File,
    /// Generated now into a new file in the data directory.
    Generated,
}

impl MasterKey {
    /// Builds a key from 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() != 32 {
            return Err(StoreError::MasterKey(format!(
                "the key must be 32 bytes, got {}",
                bytes.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Crypto("cannot build the master key"))?;
        let mut ikm = [0u8; 32];
        ikm.copy_from_slice(bytes);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            ceremony: derive(&ikm, b"trygg:ceremony:v1")?,
        })
    }

    /// Parses a base64 value (standard alphabet, 32 bytes).
    pub fn from_base64(value: &str) -> Result<Self, StoreError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .map_err(|_| StoreError::MasterKey("the value is not base64".into()))?;
        Self::from_bytes(&bytes)
    }

    /// Reads a key file (base64 of 32 bytes). On Unix the file must not be readable by group or
    /// others.
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        check_private_file(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| StoreError::Io {
            what: format!("reading the master key file {}", path.display()),
            source,
        })?;
        Self::from_base64(&text)
            .map_err(|e| StoreError::MasterKey(format!("{}: {e}", path.display())))
    }

    /// Reads the key file, or creates it with a fresh random key (mode 0600) if it does not exist.
    pub fn load_or_generate(path: &Path) -> Result<(Self, MasterKeySource), StoreError> {
        if path.exists() {
            return Ok((Self::from_file(path)?, MasterKeySource::File));
        }
        if let Some(dir) = path.parent() {
            crate::db::ensure_private_dir(dir)?;
        }
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes)?;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        write_private_file(path, text.as_bytes())?;
        Ok((Self::from_bytes(&bytes)?, MasterKeySource::Generated))
    }

    /// The key for login ceremony tokens, derived from the master key for this purpose only.
    pub fn ceremony_key(&self) -> &[u8; 32] {
        &self.ceremony
    }

    /// Wraps an organisation's data key.
    pub(crate) fn wrap(&self, org: Uuid, key: &DataKey) -> Result<Vec<u8>, StoreError> {
        seal_with(&self.key, &wrap_aad(org), &key.0)
    }

    /// Unwraps an organisation's data key; fails if the wrapped key belongs to another
    /// organisation or was altered.
    pub(crate) fn unwrap(&self, org: Uuid, wrapped: &[u8]) -> Result<DataKey, StoreError> {
        let bytes = open_with(&self.key, &wrap_aad(org), wrapped)?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("wrapped data key has the wrong length"))?;
        Ok(DataKey(arr))
    }
}

fn wrap_aad(org: Uuid) -> Vec<u8> {
    format!("trygg:org-data-key:v1:{org}").into_bytes()
}

/// An organisation's data key, in memory only while deriving the working keys.
pub(crate) struct DataKey([u8; 32]);

impl DataKey {
    pub(crate) fn generate() -> Result<Self, StoreError> {
        let mut b = [0u8; 32];
        fill_random(&mut b)?;
        Ok(Self(b))
    }
}

/// The sealing and lookup keys of one organisation.
pub struct Sealer {
    org: Uuid,
    seal: LessSafeKey,
    lookup: hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({}, ***)", self.org)
    }
}

impl Sealer {
    pub(crate) fn new(org: Uuid, key: &DataKey) -> Result<Self, StoreError> {
        let seal_bytes = derive(&key.0, b"trygg:seal:v1")?;
        let lookup_bytes = derive(&key.0, b"trygg:lookup:v1")?;
        let unbound = UnboundKey::new(&AES_256_GCM, &seal_bytes)
            .map_err(|_| StoreError::Crypto("cannot build the sealing key"))?;
        Ok(Self {
            org,
            seal: LessSafeKey::new(unbound),
            lookup: hmac::Key::new(hmac::HMAC_SHA256, &lookup_bytes),
        })
    }

    /// Seals a value for one cell: `table.column` of row `row`.
    pub fn seal(
        &self,
        table: &str,
        column: &str,
        row: &str,
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        seal_with(&self.seal, &self.aad(table, column, row), plain)
    }

    /// Opens a sealed cell; fails if it was altered or moved from another cell.
    pub fn open(
        &self,
        table: &str,
        column: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        open_with(&self.seal, &self.aad(table, column, row), sealed)
    }

    /// Opens a sealed cell holding UTF-8 text.
    pub fn open_text(
        &self,
        table: &str,
        column: &str,
        row: &str,
        sealed: &[u8],
    ) -> Result<String, StoreError> {
        String::from_utf8(self.open(table, column, row, sealed)?)
            .map_err(|_| StoreError::Corrupt("sealed text is not UTF-8"))
    }

    /// The keyed hash of a lookup value, domain-separated by `kind`, as hex.
    pub fn lookup_hash(&self, kind: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.lookup);
        ctx.update(kind.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        hex::encode(ctx.sign().as_ref())
    }

    fn aad(&self, table: &str, column: &str, row: &str) -> Vec<u8> {
        format!("trygg:v1\0{}\0{table}\0{column}\0{row}", self.org).into_bytes()
    }
}

fn derive(ikm: &[u8; 32], info: &[u8]) -> Result<[u8; 32], StoreError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"trygg-store").extract(ikm);
    let info = [info];
    let okm = prk
        .expand(&info, hkdf::HKDF_SHA256)
        .map_err(|_| StoreError::Crypto("key derivation failed"))?;
    let mut out = [0u8; 32];
    okm.fill(&mut out)
        .map_err(|_| StoreError::Crypto("key derivation failed"))?;
    Ok(out)
}

fn seal_with(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| StoreError::Crypto("sealing failed"))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
    out.push(SEALED_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (version, rest) = sealed
        .split_first()
        .ok_or(StoreError::Corrupt("sealed value is empty"))?;
    if *version != SEALED_VERSION || rest.len() < NONCE_LEN + 16 {
        return Err(StoreError::Corrupt("sealed value has an unknown format"));
    }
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| StoreError::Corrupt("sealed value has a bad nonce"))?;
    let mut buf = ct.to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| StoreError::Corrupt("sealed value does not open (altered or moved)"))?;
    Ok(plain.to_vec())
}

/// Fills a buffer from the system's secure random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), StoreError> {
    SystemRandom::new()
        .fill(buf)
        .map_err(|_| StoreError::Crypto("the system random source failed"))
}

/// SHA-256 of a value as hex (for API token hashes).
pub fn sha256_hex(value: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value).as_ref())
}

/// Writes a new file readable only by its owner; fails if it exists.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), StoreError> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let io = |source| StoreError::Io {
        what: format!("writing {}", path.display()),
        source,
    };
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(contents).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Refuses a key file that group or others can read or write (on Unix).
pub(crate) fn check_private_file(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path).map_err(|source| StoreError::Io {
            what: format!("reading {}", path.display()),
            source,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(StoreError::MasterKey(format!(
                "{} is readable by others; run: chmod 600 {}",
                path.display(),
                path.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(org: Uuid) -> Sealer {
        Sealer::new(org, &DataKey([7u8; 32])).unwrap()
    }

    #[test]
    fn seal_round_trips_and_binds_its_cell() {
        let org = Uuid::new_v4();
        let s = sealer(org);
        let c = s.seal("patients", "name", "r1", b"Kari").unwrap();
        assert!(!c.windows(4).any(|w| w == b"Kari"));
        assert_eq!(s.open("patients", "name", "r1", &c).unwrap(), b"Kari");
        assert!(s.open("patients", "name", "r2", &c).is_err());
        assert!(s.open("patients", "phone", "r1", &c).is_err());
        assert!(sealer(Uuid::new_v4())
            .open("patients", "name", "r1", &c)
            .is_err());
        let mut bad = c.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.open("patients", "name", "r1", &bad).is_err());
    }

    #[test]
    fn wrapped_key_is_bound_to_its_org() {
        let m = MasterKey::from_bytes(&[1u8; 32]).unwrap();
        let a = Uuid::new_v4();
        let k = DataKey::generate().unwrap();
        let w = m.wrap(a, &k).unwrap();
        assert_eq!(m.unwrap(a, &w).unwrap().0, k.0);
        assert!(m.unwrap(Uuid::new_v4(), &w).is_err());
        let other = MasterKey::from_bytes(&[2u8; 32]).unwrap();
        assert!(other.unwrap(a, &w).is_err());
    }

    #[test]
    fn lookup_hash_is_keyed_and_separated() {
        let org = Uuid::new_v4();
        let a = sealer(org);
        assert_eq!(a.lookup_hash("nid", "x"), a.lookup_hash("nid", "x"));
        assert_ne!(a.lookup_hash("nid", "x"), a.lookup_hash("phone", "x"));
        let b = Sealer::new(org, &DataKey([8u8; 32])).unwrap();
        assert_ne!(a.lookup_hash("nid", "x"), b.lookup_hash("nid", "x"));
    }

    #[test]
    fn master_key_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("master.key");
        let (_, src) = MasterKey::load_or_generate(&p).unwrap();
        assert_eq!(src, MasterKeySource::Generated);
        let (_, src) = MasterKey::load_or_generate(&p).unwrap();
        assert_eq!(src, MasterKeySource::File);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = MasterKey::from_file(&p).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
        assert!(MasterKey::from_base64("bm90IGEga2V5").is_err());
    }
}
