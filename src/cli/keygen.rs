//! `palisade keygen --out DIR`: a node's ed25519 key pair, from the operating system's
//! randomness, as hex in `node.key` (secret, mode 0600, also when `--force` replaces a key
//! whose mode was looser) and `node.pub`.

use crate::usage_error;
use rand_core::{OsRng, TryRngCore};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `palisade keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Directory to write `node.key` and `node.pub` into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Overwrite an existing key.
    #[arg(long)]
    force: bool,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `palisade keygen`.
pub fn run(args: KeygenArgs) -> ExitCode {
    let secret_path = args.out.join("node.key");
    if secret_path.exists() && !args.force {
        return usage_error(format!("{} exists; pass --force to replace it", secret_path.display()));
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return usage_error(format!("cannot create {}: {e}", args.out.display()));
    }
    match generate(&args.out) {
        Ok(public) => {
            println!("{public}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("palisade: {e}");
            ExitCode::from(1)
        }
    }
}

/// Writes a fresh key pair into `dir` (which must exist); returns the public key as hex.
/// The secret is written 0600 whatever the file's mode was before (see [`write_private`]).
pub fn generate(dir: &Path) -> Result<String, String> {
    let mut seed = [0u8; 32];
    OsRng.try_fill_bytes(&mut seed).map_err(|e| format!("no randomness from the operating system: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = hex(key.verifying_key().as_bytes());
    write_private(&dir.join("node.key"), &format!("{}\n", hex(&seed)))
        .and_then(|()| std::fs::write(dir.join("node.pub"), format!("{public}\n")))
        .map_err(|e| format!("cannot write keys to {}: {e}", dir.display()))?;
    Ok(public)
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
