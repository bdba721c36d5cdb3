//! The `watson-speech-operator` binary: `run` (the operator), `crd` (print the CRDs) and
//! `simulate` (the IBM API simulator).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "watson-speech-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
}

fn main() -> anyhow::Result<()> {
    watson_speech_operator::tls::install_crypto_provider();
    match Cli::parse().command {
        Command::Crd => {
            print!("{}", watson_speech_operator::crd::to_yaml()?);
            Ok(())
        }
    }
}
