//! The `watson-speech-operator` binary: `run` (the operator), `crd` (print the CRDs), `import`
//! (manifests that adopt an instance's existing models), `simulate` (the IBM API simulator) and
//! `test-set` (audio the simulator recognises, for `spec.evaluation`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use clap::{ArgAction, Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use watson_speech_operator::leader::{Elector, LeaseConfig};
use watson_speech_operator::metrics::Metrics;
use watson_speech_operator::reconcile::context::Settings;
use watson_speech_operator::reconcile::run::RunOptions;
#[cfg(feature = "simulator")]
use watson_speech_operator::simulator;
use watson_speech_operator::telemetry::{self, Health, LogFormat, init_logging};

#[derive(Parser)]
#[command(name = "watson-speech-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
    /// Read one IBM service instance's custom models and print manifests that adopt each one
    /// (multi-document YAML; ObserveOnly by default, so applying them changes nothing on the
    /// service).
    Import(Box<watson_speech_operator::import::ImportArgs>),
    /// Measure a model on a test set (a directory with manifest.csv, IBM's watson-stt-wer-python
    /// format, and the audio files it names): word error rate per item and in total, as the
    /// operator measures spec.evaluation. Each item is one recognition request (billed by IBM).
    Evaluate(Box<watson_speech_operator::evaluate::EvaluateArgs>),
    /// Run the IBM Watson Speech customization API simulator.
    #[cfg(feature = "simulator")]
    Simulate(simulator::SimulateArgs),
    /// Write a test set the simulator recognises (spec.evaluation): a WAV file saying each line
    /// of a text file, the manifest (`Audio File Name,Reference`) and ConfigMaps to apply.
    #[cfg(feature = "simulator")]
    TestSet(simulator::testset::TestSetArgs),
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Seconds between drift checks of Available models and services.
    #[arg(long, default_value_t = 600, env = "WSO_DRIFT_INTERVAL_SECONDS")]
    drift_interval_seconds: u64,
    /// The shortest drift interval a model's annotation `speech.watson.dev/drift-interval` may
    /// set, in seconds; shorter values are raised to it (the operator's own interval is not
    /// bound by it).
    #[arg(long, default_value_t = watson_speech_operator::reconcile::context::MIN_DRIFT_INTERVAL_SECONDS, env = "WSO_MIN_DRIFT_INTERVAL_SECONDS")]
    min_drift_interval_seconds: u64,
    /// More than this fraction (0 to 1) of one service's models of a kind missing from its
    /// listing at once (at least three) stops re-creating them until the service lists them
    /// again: an empty or partial listing during an IBM incident must not re-create models in
    /// bulk. 1 never stops.
    #[arg(long, default_value_t = 0.5, env = "WSO_MAX_VANISHED_FRACTION")]
    max_vanished_fraction: f64,
    /// This cluster's stable name (e.g. `prod-eu-1`), unique among the clusters that share an
    /// IBM service instance. With it, the ownership marker of each new model is derived from the
    /// name and the resource's kind, namespace and name, so a cluster rebuilt from the same
    /// manifests (new UIDs, no status) re-finds its models; without it, from the resource's UID
    /// (see docs/operations.md, "Rebuilding a cluster").
    #[arg(long, env = "WSO_CLUSTER_NAME", value_parser = parse_cluster_name)]
    cluster_name: Option<String>,
    /// Custom models of one kind a service instance may hold (IBM Cloud: 1024). The operator
    /// never sends a create past it and warns at 90 %.
    #[arg(long, default_value_t = 1024, env = "WSO_MODEL_QUOTA")]
    model_quota: usize,
    /// Poll running operations every N seconds instead of progress-aware polling (a baseline
    /// for benchmarks; IBM's samples poll every 10 s).
    #[arg(long, env = "WSO_FIXED_POLL_SECONDS")]
    fixed_poll_seconds: Option<u64>,
    /// Longest wait in seconds between two checks of a running training or upgrade
    /// [default: 300, scaled by --simulator-time-scale with --simulator].
    #[arg(long, env = "WSO_MAX_POLL_SECONDS")]
    max_poll_seconds: Option<u64>,
    /// Expected duration in seconds of a training before a model has its own history
    /// [default: 600, scaled by --simulator-time-scale with --simulator].
    #[arg(long, env = "WSO_EXPECTED_TRAINING_SECONDS")]
    expected_training_seconds: Option<u64>,
    /// Expected duration in seconds of the service's analysis of one corpus, grammar or audio
    /// resource [default: 600, scaled by --simulator-time-scale with --simulator].
    #[arg(long, env = "WSO_EXPECTED_ANALYSIS_SECONDS")]
    expected_analysis_seconds: Option<u64>,
    /// Expected seconds of acoustic-model training per second of audio, before the model has
    /// its own history (IBM: training takes about as long as the audio)
    /// [default: 1, scaled by --simulator-time-scale with --simulator].
    #[arg(long, env = "WSO_TRAINING_SECONDS_PER_AUDIO_SECOND")]
    training_seconds_per_audio_second: Option<f64>,
    /// An analysis, training or upgrade running longer than this many times its expected
    /// duration gets a Warning Event and the reason OperationOverdue (nothing else changes).
    #[arg(long, default_value_t = 3, env = "WSO_OVERDUE_FACTOR")]
    overdue_factor: u32,
    /// Decide and report without acting: read the service and write status (`nextAction`
    /// starts with `dry run:`; a skipped step reads `dry run: would ...`), but make no call that
    /// changes the service (create, data, training, upgrade, reset, delete, customer data
    /// erasure) and release no finalizer; each skipped step is logged at info.
    #[arg(long, env = "WSO_DRY_RUN", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    dry_run: bool,
    /// Fetch `url` sources over plain http too (default: https only).
    #[arg(long, env = "WSO_ALLOW_HTTP_SOURCES", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    allow_http_sources: bool,
    /// Networks (CIDR, comma-separated) that `url` sources may reach although their addresses
    /// are refused by default: loopback, link-local (the cloud metadata endpoint), unspecified
    /// and known metadata addresses. E.g. `127.0.0.1/32` for a file server beside the operator.
    #[arg(long, env = "WSO_SOURCE_ALLOWED_NETWORKS", value_delimiter = ',', num_args = 0..,
          value_parser = parse_network)]
    source_allowed_networks: Vec<watson_speech_operator::reconcile::sources::Network>,
    /// The projected service-account token exchanged at IAM for SpeechServices with
    /// `auth.type: TrustedProfile` (the chart's `trustedProfile.enabled` mounts it here).
    #[arg(
        long,
        env = "WSO_TRUSTED_PROFILE_TOKEN_FILE",
        default_value = "/var/run/secrets/tokens/vault-token"
    )]
    trusted_profile_token_file: std::path::PathBuf,
    /// The IAM base URL trusted-profile tokens come from (not settable per SpeechService: the
    /// operator's own token goes nowhere else).
    #[arg(
        long,
        env = "WSO_TRUSTED_PROFILE_IAM_URL",
        default_value = "https://iam.cloud.ibm.com"
    )]
    trusted_profile_iam_url: String,
    /// How many objects are reconciled at once.
    #[arg(long, default_value_t = 8, env = "WSO_CONCURRENCY")]
    concurrency: u16,
    /// At most this many reconciles of one SpeechService's models at once (all kinds together);
    /// one over it requeues in 1-2 s without calling IBM, so one slow or failing service cannot
    /// take every reconcile slot.
    #[arg(long, default_value_t = 4, env = "WSO_MAX_RECONCILES_PER_SERVICE")]
    max_reconciles_per_service: usize,
    /// A reconcile running longer than this many seconds is stopped where it stands and
    /// retried with backoff (reason `ReconcileDeadline`, counted in `wso_reconciles_total`).
    #[arg(long, default_value_t = 300, env = "WSO_RECONCILE_DEADLINE_SECONDS")]
    reconcile_deadline_seconds: u64,
    /// Longest wait in seconds for a connection to an IBM service or token endpoint (TCP and
    /// TLS).
    #[arg(long, default_value_t = 10, env = "WSO_IBM_CONNECT_TIMEOUT_SECONDS")]
    ibm_connect_timeout_seconds: u64,
    /// Longest wait in seconds for an IBM service's answer once a request was sent in full.
    #[arg(long, default_value_t = 60, env = "WSO_IBM_FIRST_BYTE_TIMEOUT_SECONDS")]
    ibm_first_byte_timeout_seconds: u64,
    /// Longest time in seconds no byte moves while an upload to an IBM service is sent or its
    /// answer read. An upload that keeps moving is never cut, however long it takes (the
    /// reconcile deadline still bounds it).
    #[arg(long, default_value_t = 60, env = "WSO_IBM_IDLE_TIMEOUT_SECONDS")]
    ibm_idle_timeout_seconds: u64,
    /// Ask the API server to stream each watch's initial state (Kubernetes streaming lists,
    /// where a start-up probe finds them) instead of LISTs in pages of 100 objects. Off by
    /// default: with 10,000 models it measured 15 MiB more memory than pages for no faster
    /// start (docs/bench/findings.md).
    #[arg(long, env = "WSO_STREAMING_LISTS", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    streaming_lists: bool,
    /// Namespaces to watch, comma-separated; empty watches every namespace.
    #[arg(long, env = "WSO_NAMESPACES", value_delimiter = ',', num_args = 0..)]
    namespaces: Vec<String>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "WSO_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log level filter (RUST_LOG syntax); RUST_LOG wins when set.
    #[arg(long, default_value = "info", env = "WSO_LOG_LEVEL")]
    log_level: String,
    /// Address of the HTTP endpoints `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, default_value = "0.0.0.0:8080", env = "WSO_METRICS_ADDRESS")]
    metrics_address: SocketAddr,
    /// Elect a leader on a Lease so that only one of several replicas reconciles.
    #[arg(long, env = "WSO_LEADER_ELECTION", default_value_t = false, num_args = 0..=1,
          default_missing_value = "true", action = ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the Lease; default: the client's namespace (the pod's own in a cluster).
    #[arg(long, env = "WSO_LEADER_ELECTION_NAMESPACE")]
    leader_election_namespace: Option<String>,
    /// Name of the Lease.
    #[arg(long, default_value = "watson-speech-operator", env = "WSO_LEASE_NAME")]
    lease_name: String,
    /// Seconds a lease stays valid after its last renewal (a standby takes over this long after
    /// the leader dies without releasing it).
    #[arg(long, default_value_t = 15, env = "WSO_LEASE_DURATION_SECONDS")]
    lease_duration_seconds: u64,
    /// The leader renews its lease this many seconds before it expires (more than 3: the
    /// leader steps down when less than 3 s of its lease are left unrenewed).
    #[arg(long, default_value_t = 5, env = "WSO_LEASE_GRACE_SECONDS")]
    lease_grace_seconds: u64,
    /// On SIGTERM, how long in-flight reconciles may take to finish before the process exits.
    #[arg(long, default_value_t = 20, env = "WSO_SHUTDOWN_TIMEOUT_SECONDS")]
    shutdown_timeout_seconds: u64,
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
    /// The IBM service the embedded simulator plays: `ibm-cloud` (today's service) or `legacy`
    /// (previous-generation models and acoustic customization; see docs/simulator.md).
    #[arg(long, default_value = "ibm-cloud", value_parser = ["ibm-cloud", "legacy"])]
    simulator_profile: String,
}

/// A polling setting: the flag when given; otherwise the default for the real service, or,
/// with the embedded simulator, the default compressed by its time scale (its operations are).
fn timing(flag: Option<u64>, default_secs: u64, args: &RunArgs) -> Duration {
    match (flag, args.simulator) {
        (Some(secs), _) => Duration::from_secs(secs),
        (None, Some(_)) => {
            Duration::from_secs_f64((default_secs as f64 * args.simulator_time_scale).max(2.0))
        }
        (None, None) => Duration::from_secs(default_secs),
    }
}

/// The reconcilers' settings from the flags.
/// `--source-allowed-networks`: one CIDR network or address.
fn parse_network(s: &str) -> Result<watson_speech_operator::reconcile::sources::Network, String> {
    s.parse()
}

/// `--cluster-name`: 1 to 63 characters, lowercase letters, digits, `-` and `.` (a DNS label
/// or subdomain part), so it reads the same in every tool; an empty value is no name.
fn parse_cluster_name(s: &str) -> Result<String, String> {
    let ok = s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok {
        Ok(s.to_string())
    } else {
        Err("use at most 63 lowercase letters, digits, '-' and '.'".into())
    }
}

fn settings(args: &RunArgs) -> Settings {
    Settings {
        cluster_name: args.cluster_name.clone().filter(|c| !c.is_empty()),
        drift_interval: Duration::from_secs(args.drift_interval_seconds),
        min_drift_interval: Duration::from_secs(args.min_drift_interval_seconds),
        vanish_rule: watson_speech_operator::decision::vanished::Rule {
            max_fraction: args.max_vanished_fraction.clamp(0.0, 1.0),
            min_models: watson_speech_operator::decision::vanished::MIN_VANISHED_MODELS,
        },
        model_quota: args.model_quota,
        fixed_poll: args.fixed_poll_seconds.map(Duration::from_secs),
        max_poll_interval: timing(args.max_poll_seconds, 300, args),
        expected_training: timing(args.expected_training_seconds, 600, args),
        expected_analysis: timing(args.expected_analysis_seconds, 600, args),
        overdue_factor: args.overdue_factor.max(1),
        training_per_audio_second: match (args.training_seconds_per_audio_second, args.simulator) {
            (Some(r), _) => r.max(0.0),
            (None, Some(_)) => args.simulator_time_scale,
            (None, None) => 1.0,
        },
        dry_run: args.dry_run,
        max_reconciles_per_service: args.max_reconciles_per_service.max(1),
        reconcile_deadline: Duration::from_secs(args.reconcile_deadline_seconds.max(1)),
        ibm_timeouts: watson_speech_operator::reconcile::context::IbmTimeouts {
            connect: Duration::from_secs(args.ibm_connect_timeout_seconds.max(1)),
            first_byte: Duration::from_secs(args.ibm_first_byte_timeout_seconds.max(1)),
            idle: Duration::from_secs(args.ibm_idle_timeout_seconds.max(1)),
        },
        sources: watson_speech_operator::reconcile::sources::SourcePolicy {
            allow_http: args.allow_http_sources,
            allowed_networks: args.source_allowed_networks.clone(),
        },
        trusted_profile: watson_speech_operator::reconcile::context::TrustedProfileSettings {
            token_file: args.trusted_profile_token_file.clone(),
            iam_url: args.trusted_profile_iam_url.clone(),
        },
    }
}

/// With `--simulator`, the embedded IBM API simulator, running until dropped.
#[cfg(feature = "simulator")]
async fn start_simulator(args: &RunArgs) -> anyhow::Result<Option<simulator::RunningSimulator>> {
    let Some(listen) = args.simulator else {
        return Ok(None);
    };
    let mut config = simulator::SimulatorConfig {
        listen,
        api_keys: vec![args.simulator_api_key.clone()],
        time_scale: args.simulator_time_scale,
        profile: if args.simulator_profile == "legacy" {
            simulator::Profile::Legacy
        } else {
            simulator::Profile::IbmCloud
        },
        ..Default::default()
    };
    config.auth_required = true;
    let sim = simulator::start(config).await?;
    tracing::info!(url = %sim.base_url(), "embedded IBM API simulator started");
    Ok(Some(sim))
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format, &args.log_level);
    #[cfg(not(feature = "simulator"))]
    if args.simulator.is_some() {
        anyhow::bail!(
            "--simulator: this binary was built without the `simulator` feature (cargo build --features simulator)"
        );
    }
    #[cfg(feature = "simulator")]
    let _sim = start_simulator(&args).await?;
    let client = watson_speech_operator::kube_client::from_environment().await?;
    let settings = settings(&args);
    if args.dry_run {
        tracing::info!(
            "dry run: the operator reads and reports, and changes nothing on the service"
        );
    }
    let metrics = Arc::new(Metrics::new());
    let health = Health::new(args.leader_election);

    // SIGTERM/Ctrl-C: stop being ready at once, then stop the controllers gracefully.
    let shutdown = CancellationToken::new();
    {
        let (shutdown, health) = (shutdown.clone(), health.clone());
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutdown requested: finishing the reconciles in flight");
            health.set_shutting_down();
            shutdown.cancel();
        });
    }
    let server_stop = CancellationToken::new();
    let (addr, server) = telemetry::serve(
        args.metrics_address,
        health.clone(),
        metrics.clone(),
        server_stop.clone().cancelled_owned(),
    )
    .await?;
    tracing::info!(%addr, "serving /healthz, /readyz and /metrics");

    let mut elector = match elect(&args, &client, &health, &metrics, &shutdown).await? {
        Election::Leader(e) => e,
        Election::StoppedFirst => {
            server_stop.cancel();
            let _ = server.await;
            return Ok(());
        }
    };
    let namespaces: Vec<String> = args
        .namespaces
        .iter()
        .filter(|n| !n.is_empty())
        .cloned()
        .collect();
    let grace = Duration::from_secs(args.shutdown_timeout_seconds);
    let outcome = loop {
        let (synced_tx, mut synced_rx) = tokio::sync::watch::channel(false);
        let synced_task = {
            let health = health.clone();
            tokio::spawn(async move {
                if synced_rx.wait_for(|s| *s).await.is_ok() {
                    health.set_synced(true);
                }
            })
        };
        let options = RunOptions {
            namespaces: namespaces.clone(),
            metrics: Some(metrics.clone()),
            synced: Some(synced_tx),
            shutdown: shutdown.clone(),
            streaming_lists: args.streaming_lists,
            health: Some(health.clone()),
        };
        let controllers = watson_speech_operator::reconcile::run::run_with(
            client.clone(),
            settings.clone(),
            args.concurrency,
            options,
        );
        let lost = async {
            match elector.as_mut() {
                Some(e) => e.lost().await,
                None => std::future::pending().await,
            }
        };
        let lost_lease = tokio::select! {
            r = controllers => break r.map_err(anyhow::Error::from),
            // Another instance may act from now on: stop at once, in-flight work included.
            _ = lost => true,
            _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(timeout = ?grace, "reconciles still running at the shutdown timeout; stopping them");
                break Ok(());
            }
        };
        synced_task.abort();
        health.set_synced(false);
        if !lost_lease {
            break Ok(());
        }
        // Issue 26: an API-server outage must not end the process (restarts end in
        // CrashLoopBackOff): the controllers stopped, the election goes on as a standby, and
        // the controllers start afresh once this instance leads again.
        tracing::warn!(
            "lost the leader lease: the controllers stopped; standing by until elected again"
        );
        let Some(e) = elector.as_mut() else {
            break Ok(());
        };
        tokio::select! {
            acquired = e.acquired() => {
                if !acquired {
                    break Err(anyhow::anyhow!("leader election stopped"));
                }
                tracing::info!("elected again: starting the controllers");
            }
            _ = shutdown.cancelled() => break Ok(()),
        }
    };
    health.set_shutting_down();
    if let Some(e) = elector {
        // Releases only if still held, so a standby takes over at once.
        e.release().await;
    }
    server_stop.cancel();
    let _ = server.await;
    tracing::info!("stopped");
    outcome
}

/// The outcome of leader election at start-up.
enum Election {
    /// Elected (`Some`), or election is off (`None`).
    Leader(Option<Elector>),
    /// Shutdown was requested before this instance was elected.
    StoppedFirst,
}

/// With `--leader-election`, waits until this instance holds the Lease (or shutdown comes first).
async fn elect(
    args: &RunArgs,
    client: &kube::Client,
    health: &Arc<Health>,
    metrics: &Arc<Metrics>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Election> {
    if !args.leader_election {
        metrics.set_leader(true);
        return Ok(Election::Leader(None));
    }
    let namespace = args
        .leader_election_namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client.default_namespace().to_string());
    let mut config = LeaseConfig::new(namespace, args.lease_name.clone());
    config.duration = Duration::from_secs(args.lease_duration_seconds);
    config.grace = Duration::from_secs(args.lease_grace_seconds);
    let mut e = Elector::start(client.clone(), config, health.clone(), metrics.clone()).await?;
    tracing::info!(identity = e.identity(), "standing by until elected");
    tokio::select! {
        acquired = e.acquired() => {
            if !acquired {
                anyhow::bail!("leader election stopped before this instance was elected");
            }
            Ok(Election::Leader(Some(e)))
        }
        _ = shutdown.cancelled() => {
            e.release().await;
            Ok(Election::StoppedFirst)
        }
    }
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

/// The number of glibc malloc arenas the operator runs with, unless the environment sets one
/// (`MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`, which glibc has read
/// already): `Some(2)` when neither does, `None` to leave glibc's choice alone.
///
/// glibc gives every thread that allocates its own arena, up to 8 per core; memory freed in one
/// arena is not reused by another. The reconciles run on every tokio worker thread, each reading
/// whole objects that are freed at once, so each arena keeps its own free pages: at 10,000
/// models the same binary measured 73.6–81.8 MiB RSS with glibc's default and 55.7–57.3 MiB with
/// two arenas, start-up pass unchanged (findings in `docs/benchmarks.md`, issue 11).
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn malloc_arenas(arena_max: Option<&str>, tunables: Option<&str>) -> Option<i32> {
    let set_by_tunables = tunables.is_some_and(|t| {
        t.split(':')
            .any(|kv| kv.trim_start().starts_with("glibc.malloc.arena_max="))
    });
    (arena_max.is_none() && !set_by_tunables).then_some(2)
}

/// Applies [`malloc_arenas`] (glibc on Linux only; other C libraries keep their own policy).
/// Called first in `main`, before any other thread exists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    let arena_max = std::env::var("MALLOC_ARENA_MAX").ok();
    let tunables = std::env::var("GLIBC_TUNABLES").ok();
    if let Some(n) = malloc_arenas(arena_max.as_deref(), tunables.as_deref()) {
        // SAFETY: mallopt only sets an allocator parameter (it returns 0 on a refused value,
        // which leaves glibc's default); no memory is touched, and no other thread is running.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, n);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    watson_speech_operator::tls::install_crypto_provider();
    match dispatch(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line (the error chain joined by ": "), not anyhow's multi-line report: a start-up
            // error such as a refused kubeconfig is read in `kubectl logs` or a terminal, and its
            // message already names the fix.
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes a command's output to stdout. A reader that stopped reading (`crd | head`) is not an
/// error: the command did its job, as with any Unix filter (`print!` panics on the closed pipe,
/// since Rust ignores SIGPIPE).
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => tokio::runtime::Runtime::new()?.block_on(run(*args)),
        Command::Import(args) => {
            let yaml = tokio::runtime::Runtime::new()?
                .block_on(watson_speech_operator::import::run(&args))?;
            emit(&yaml)?;
            // On stderr, so the YAML on stdout stays clean for `kubectl apply -f -`.
            eprintln!(
                "{} models imported (apply the manifests to adopt them)",
                yaml.matches("\n---\n").count() + usize::from(yaml.starts_with("---\n"))
            );
            Ok(())
        }
        Command::Evaluate(args) => {
            let table = tokio::runtime::Runtime::new()?
                .block_on(watson_speech_operator::evaluate::run(&args))?;
            emit(&table)?;
            Ok(())
        }
        Command::Crd => {
            emit(&watson_speech_operator::crd::to_yaml()?)?;
            Ok(())
        }
        #[cfg(feature = "simulator")]
        Command::Simulate(args) => {
            tokio::runtime::Runtime::new()?.block_on(simulator::run(args))?;
            Ok(())
        }
        #[cfg(feature = "simulator")]
        Command::TestSet(args) => {
            eprintln!("{}", simulator::testset::run_test_set(&args)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::malloc_arenas;

    #[test]
    fn two_malloc_arenas_unless_the_environment_chooses() {
        assert_eq!(malloc_arenas(None, None), Some(2));
        assert_eq!(malloc_arenas(Some("4"), None), None);
        assert_eq!(
            malloc_arenas(None, Some("glibc.malloc.trim_threshold=131072")),
            Some(2)
        );
        assert_eq!(
            malloc_arenas(
                None,
                Some("glibc.malloc.trim_threshold=131072:glibc.malloc.arena_max=8")
            ),
            None
        );
    }
}
