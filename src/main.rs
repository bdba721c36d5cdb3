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
    /// Run the IBM Watson Speech customization API simulator.
    Simulate(watson_speech_operator::simulator::SimulateArgs),
}

fn main() -> anyhow::Result<()> {
    watson_speech_operator::tls::install_crypto_provider();
    match Cli::parse().command {
        Command::Crd => Ok(()),
        Command::Simulate(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(watson_speech_operator::simulator::run(args))?;
            Ok(())
        }
    }
}
