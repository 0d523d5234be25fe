//! The `trygg` binary: parses the command line and runs it. Errors are printed as one plain
//! message with their causes, and the exit code is 1.

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = trygg::cli::Cli::parse();
    match trygg::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trygg: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
