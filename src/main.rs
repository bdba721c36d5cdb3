//! The `watson-speech-operator` binary: `run` (the operator), `crd` (print the CRDs) and
//! `simulate` (the IBM API simulator).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use watson_speech_operator::reconcile::context::Settings;
use watson_speech_operator::simulator;

#[derive(Parser)]
#[command(name = "watson-speech-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run(RunArgs),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Run the IBM Watson Speech customization API simulator.
    Simulate(simulator::SimulateArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Seconds between drift checks of Available models and services.
    #[arg(long, default_value_t = 600, env = "WSO_DRIFT_INTERVAL_SECONDS")]
    drift_interval_seconds: u64,
    /// Longest wait in seconds between two checks of a running training or upgrade.
    #[arg(long, default_value_t = 300, env = "WSO_MAX_POLL_SECONDS")]
    max_poll_seconds: u64,
    /// Expected duration in seconds of a training before a model has its own history.
    #[arg(long, default_value_t = 600, env = "WSO_EXPECTED_TRAINING_SECONDS")]
    expected_training_seconds: u64,
    /// How many objects are reconciled at once.
    #[arg(long, default_value_t = 8, env = "WSO_CONCURRENCY")]
    concurrency: u16,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "WSO_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log level filter (RUST_LOG syntax); RUST_LOG wins when set.
    #[arg(long, default_value = "info", env = "WSO_LOG_LEVEL")]
    log_level: String,
    /// Start an embedded IBM API simulator on this address (for demos and trials). SpeechServices
    /// then point at `http://ADDR/speech-to-text` and `http://ADDR/text-to-speech`.
    #[arg(long, env = "WSO_SIMULATOR")]
    simulator: Option<SocketAddr>,
    /// API key the embedded simulator accepts.
    #[arg(long, default_value = "demo-api-key")]
    simulator_api_key: String,
    /// Time scale of the embedded simulator (0.01 makes a 10-minute training take 6 s).
    #[arg(long, default_value_t = 0.01)]
    simulator_time_scale: f64,
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format, &args.log_level);
    let _sim = match args.simulator {
        Some(listen) => {
            let mut config = simulator::SimulatorConfig {
                listen,
                api_keys: vec![args.simulator_api_key.clone()],
                time_scale: args.simulator_time_scale,
                ..Default::default()
            };
            config.auth_required = true;
            let sim = simulator::start(config).await?;
            tracing::info!(url = %sim.base_url(), "embedded IBM API simulator started");
            Some(sim)
        }
        None => None,
    };
    let client = kube::Client::try_default().await?;
    let settings = Settings {
        drift_interval: Duration::from_secs(args.drift_interval_seconds),
        max_poll_interval: Duration::from_secs(args.max_poll_seconds),
        expected_training: Duration::from_secs(args.expected_training_seconds),
        ..Settings::default()
    };
    tokio::select! {
        r = watson_speech_operator::reconcile::run::run(client, settings, args.concurrency) => r?,
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            return;
        }
    }
    let _ = ctrl_c.await;
}

fn main() -> anyhow::Result<()> {
    watson_speech_operator::tls::install_crypto_provider();
    match Cli::parse().command {
        Command::Run(args) => tokio::runtime::Runtime::new()?.block_on(run(args)),
        Command::Crd => {
            print!("{}", watson_speech_operator::crd::to_yaml()?);
            Ok(())
        }
        Command::Simulate(args) => {
            tokio::runtime::Runtime::new()?.block_on(simulator::run(args))?;
            Ok(())
        }
    }
}
