//! The `palisade` command line ([`palisade::cli::main`]).

fn main() -> std::process::ExitCode {
    palisade::cli::main()
}
