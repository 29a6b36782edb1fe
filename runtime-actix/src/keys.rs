//! Node keys on disk, in the format `palisade keygen` writes: `node.key` holds the ed25519
//! secret seed as 64 hex digits (mode 0600), `node.pub` the public key as 64 hex digits.
//! [`generate`] writes a pair, [`load_signing_key`] reads a secret back (for
//! [`crate::NodeConfig::key`]), and [`parse_verifying_key`] reads a peer's public key (for
//! [`crate::Peer::key`]).

use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::{OsRng, TryRngCore};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The secret key's file name inside a key directory.
pub const SECRET_FILE: &str = "node.key";
/// The public key's file name inside a key directory.
pub const PUBLIC_FILE: &str = "node.pub";

/// Why a key could not be read or written; its message names the file or field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The text is not 64 hex digits.
    #[error("{what} must be 64 hex digits")]
    NotHex {
        /// Which key (a file name or a configuration field).
        what: String,
    },
    /// The 32 bytes are not a valid ed25519 public key.
    #[error("{what} is not a valid ed25519 public key")]
    Invalid {
        /// Which key.
        what: String,
    },
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    NoRandomness(String),
}

/// Parses 64 hex digits (surrounding whitespace allowed) into 32 bytes.
fn unhex(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let s = text.trim();
    let not_hex = || KeyError::NotHex { what: what.to_string() };
    if s.len() != 64 || !s.is_ascii() {
        return Err(not_hex());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| not_hex())?;
    }
    Ok(out)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a secret key file (`node.key` as `palisade keygen` wrote it).
pub fn load_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
    Ok(SigningKey::from_bytes(&unhex(&text, &path.display().to_string())?))
}

/// Parses a public key given as 64 hex digits (the contents of `node.pub`); `what` names
/// it in the error (a file, or a field such as `peers[2].public_key`).
pub fn parse_verifying_key(text: &str, what: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&unhex(text, what)?).map_err(|_| KeyError::Invalid { what: what.to_string() })
}

/// Reads a public key file (`node.pub`).
pub fn load_verifying_key(path: &Path) -> Result<VerifyingKey, KeyError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
    parse_verifying_key(&text, &path.display().to_string())
}

/// The permission bits of a secret key file that group or others can use, if any (Unix;
/// `None` elsewhere or when the file cannot be read). Callers warn: `chmod 600` fixes it.
pub fn exposed_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Writes a fresh key pair from the operating system's randomness into `dir` (which must
/// exist): `node.key` (mode 0600, replacing any file there whatever its mode) and
/// `node.pub`. Returns the public key.
pub fn generate(dir: &Path) -> Result<VerifyingKey, KeyError> {
    let mut seed = [0u8; 32];
    OsRng.try_fill_bytes(&mut seed).map_err(|e| KeyError::NoRandomness(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let secret = dir.join(SECRET_FILE);
    write_private(&secret, &format!("{}\n", hex(&seed)))
        .map_err(|source| KeyError::Io { path: secret, source })?;
    let public = dir.join(PUBLIC_FILE);
    std::fs::write(&public, format!("{}\n", hex(key.verifying_key().as_bytes())))
        .map_err(|source| KeyError::Io { path: public, source })?;
    Ok(key.verifying_key())
}

/// Replaces `path` with `text`, mode 0600: written to a temporary file beside it, created
/// 0600 (and set so explicitly, whatever the umask), synced, then renamed over `path`. An
/// existing file's looser mode is never kept, and a crash leaves the old key or the new one.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut f = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("palisade-keys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_generated_pair_loads_back_and_signs_for_its_public_key() {
        use ed25519_dalek::{Signer, Verifier};
        let dir = scratch("pair");
        let public = generate(&dir).unwrap();
        let secret = load_signing_key(&dir.join(SECRET_FILE)).unwrap();
        assert_eq!(secret.verifying_key(), public);
        assert_eq!(load_verifying_key(&dir.join(PUBLIC_FILE)).unwrap(), public);
        let sig = secret.sign(b"palisade");
        assert!(public.verify(b"palisade", &sig).is_ok());
        assert_eq!(exposed_mode(&dir.join(SECRET_FILE)), None, "written 0600");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_key_text_is_an_error_naming_the_key() {
        let short = parse_verifying_key("abcd", "peers[0].public_key").unwrap_err();
        assert_eq!(short.to_string(), "peers[0].public_key must be 64 hex digits");
        let not_hex = parse_verifying_key(&"zz".repeat(32), "p").unwrap_err();
        assert!(matches!(not_hex, KeyError::NotHex { .. }));
        // Not every 32 bytes are a point on the curve.
        let invalid = (0u8..=255).map(|b| hex(&[b; 32])).find_map(|h| {
            parse_verifying_key(&h, "p").err().filter(|e| matches!(e, KeyError::Invalid { .. }))
        });
        assert!(invalid.is_some(), "some 32-byte string is not a valid public key");
        let missing = load_signing_key(Path::new("/nonexistent/node.key")).unwrap_err();
        assert!(missing.to_string().starts_with("/nonexistent/node.key: "), "{missing}");
    }
}
