//! `palisade keygen --out DIR`: a node's ed25519 key pair, from the operating system's
//! randomness, as hex in `node.key` (secret, mode 0600) and `node.pub`.

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
pub fn generate(dir: &Path) -> Result<String, String> {
    let mut seed = [0u8; 32];
    OsRng.try_fill_bytes(&mut seed).map_err(|e| format!("no randomness from the operating system: {e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = hex(key.verifying_key().as_bytes());
    write_secret(&dir.join("node.key"), &hex(&seed))
        .and_then(|()| std::fs::write(dir.join("node.pub"), format!("{public}\n")))
        .map_err(|e| format!("cannot write keys to {}: {e}", dir.display()))?;
    Ok(public)
}

fn write_secret(path: &Path, hex: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(format!("{hex}\n").as_bytes())?;
    f.sync_all()
}
