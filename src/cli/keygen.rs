//! `palisade keygen --out DIR`: a node's ed25519 key pair, from the operating system's
//! randomness, as hex in `node.key` (secret, mode 0600, also when `--force` replaces a key
//! whose mode was looser) and `node.pub`.

use super::exit::{runtime_error, usage_error};
use crate::actix::keys;
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
    /// Print `{"public_key": HEX, "secret": PATH, "public": PATH}` instead of the bare key.
    #[arg(long)]
    json: bool,
}

/// Runs `palisade keygen`.
pub fn run(args: KeygenArgs) -> ExitCode {
    let secret_path = args.out.join("node.key");
    if secret_path.exists() && !args.force {
        return usage_error(format!("{} exists; pass --force to replace it", secret_path.display()));
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        return runtime_error(format!("cannot create {}: {e}", args.out.display()));
    }
    match generate(&args.out) {
        Ok(public) if args.json => {
            let json = serde_json::json!({
                "public_key": public,
                "secret": secret_path,
                "public": args.out.join("node.pub"),
            });
            outln!("{json}");
            ExitCode::SUCCESS
        }
        Ok(public) => {
            outln!("{public}");
            ExitCode::SUCCESS
        }
        Err(e) => runtime_error(e),
    }
}

/// Writes a fresh key pair into `dir` (which must exist); returns the public key as hex.
/// The secret is written 0600 whatever the file's mode was before.
pub fn generate(dir: &Path) -> Result<String, String> {
    let public = keys::generate(dir).map_err(|e| format!("cannot write keys: {e}"))?;
    Ok(keys::hex(public.as_bytes()))
}
