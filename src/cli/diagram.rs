//! `palisade diagram TRACE.jsonl -o FILE.html`: the space-time diagram of a saved trace
//! (`palisade sim ... --trace`, or an explorer counterexample's `--trace`). A trace saved
//! from a failing run records its violation, which the diagram rings and opens on.

use super::exit::{runtime_error, usage_error};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `palisade diagram`.
#[derive(clap::Args, Debug)]
pub struct DiagramArgs {
    /// The JSON-lines trace.
    trace: PathBuf,
    /// Where to write the HTML page.
    #[arg(short, long, value_name = "FILE.html")]
    out: PathBuf,
    /// The page's title (default: the trace's file name).
    #[arg(long)]
    title: Option<String>,
}

/// Runs `palisade diagram`.
pub fn run(args: DiagramArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.trace) {
        Ok(t) => t,
        Err(e) => return runtime_error(format!("cannot read {}: {e}", args.trace.display())),
    };
    let title = args.title.unwrap_or_else(|| args.trace.display().to_string());
    let page = match palisade_sim::diagram::render(&title, &text, None, 0) {
        Ok(p) => p,
        Err(e) => return usage_error(format!("{}: not a palisade trace: {e}", args.trace.display())),
    };
    if let Err(e) = std::fs::write(&args.out, page) {
        return runtime_error(format!("cannot write {}: {e}", args.out.display()));
    }
    errln!("diagram written to {}", args.out.display());
    ExitCode::SUCCESS
}
