//! A faithful simulator of the IBM Watson Speech to Text and Text to Speech customization APIs
//! (fact sheet `watson-api.md`, §13), used by every test, the benchmarks and the demo.
//!
//! One HTTP server serves STT under `/speech-to-text`, TTS under `/text-to-speech`, an IAM-like
//! token endpoint at `/identity/token` and an unauthenticated admin API under `/_simulator/`.
//! Start it in-process with [`start`] or from the CLI (`watson-speech-operator simulate`).
//!
//! Layers: this crate depends on the IBM client's wire vocabulary only (`watson-client` without
//! its `client` feature) and knows nothing of the operator or of Kubernetes.
//!
//! Layout: [`state`] holds the pure state machines (settled lazily against a [`clock::Clock`]);
//! [`http`] is the thin shell; [`admin::AdminClient`] is the typed admin client; [`api`] holds
//! the admin wire types. `docs/simulator.md` documents the behaviour and every choice made
//! where the facts are unconfirmed.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod audio;
pub mod auth;
pub mod catalogue;
pub mod clock;
pub mod faults;
pub mod http;
pub mod log;
pub mod persist;
pub mod profile;
pub mod recognize;
pub mod state;
pub mod testset;
pub mod vocabulary;

/// Installs rustls' `ring` crypto provider as the process default (idempotent), so the
/// simulator's TLS server and admin client never pick another provider.
pub fn install_crypto_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admin::{AdminClient, AdminError};
pub use api::{
    BaseModelLifecycle, ConfigPatch, Counters, Faults, LoseAnswers, ModelKind, Quirks, RequestPage,
    RequestRecord, RuntimeConfig, SimModel,
};
use clock::{SharedClock, SystemClock};
use http::Sim;
pub use profile::Profile;

/// Paths of a PEM certificate chain and private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the simulator is started.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatorConfig {
    /// Listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Valid API keys; all belong to one service instance (one owner).
    pub api_keys: Vec<String>,
    /// `false`: STT/TTS requests need no credentials.
    pub auth_required: bool,
    /// Multiplier of every nominal duration (1.0 = realistic).
    pub time_scale: f64,
    /// Lifetime of IAM access tokens.
    pub token_ttl: Duration,
    /// Maximum number of custom language models, and separately of acoustic models.
    pub model_cap: usize,
    /// JSON snapshot loaded at start and written after changes.
    pub state_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate.
    pub tls: Option<TlsFiles>,
    /// The IBM service played (default: IBM Cloud today). Ignored when a state file is
    /// loaded: the state keeps the profile it was written with.
    pub profile: Profile,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_keys: vec!["test-key".to_owned()],
            auth_required: true,
            time_scale: 1.0,
            token_ttl: Duration::from_secs(3600),
            model_cap: 1024,
            state_file: None,
            tls: None,
            profile: Profile::IbmCloud,
        }
    }
}

/// Errors starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    State(#[from] persist::PersistError),
    #[error("TLS set-up failed: {0}")]
    Tls(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A running simulator; stops when [`RunningSimulator::shutdown`] is called or when dropped.
#[derive(Debug)]
pub struct RunningSimulator {
    addr: SocketAddr,
    scheme: &'static str,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSimulator {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (or `https://`); also the IAM base URL.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The STT service URL (`{base}/speech-to-text`).
    pub fn stt_url(&self) -> String {
        format!("{}/speech-to-text", self.base_url())
    }

    /// The TTS service URL (`{base}/text-to-speech`).
    pub fn tts_url(&self) -> String {
        format!("{}/text-to-speech", self.base_url())
    }

    /// The IAM base URL (clients append `/identity/token`).
    pub fn iam_url(&self) -> String {
        self.base_url()
    }

    /// A client of the admin API. Panics only if the HTTP client cannot be built at all
    /// (no TLS provider), which is a start-up failure.
    pub fn admin(&self) -> AdminClient {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .no_proxy()
            .danger_accept_invalid_certs(self.scheme == "https")
            .build()
            .unwrap_or_default();
        AdminClient::with_client(self.base_url(), http)
    }

    /// Stops accepting, drains open connections (up to 5 s) and writes the state file.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, SimulatorError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    crate::install_crypto_provider();
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| SimulatorError::Tls(format!("{}: {e}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| SimulatorError::Tls(format!("{}: {e}", files.key.display())))?;
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| SimulatorError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Starts the simulator on the real clock.
pub async fn start(config: SimulatorConfig) -> Result<RunningSimulator, SimulatorError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// Starts the simulator with a given clock (e.g. a [`clock::ManualClock`] for deterministic
/// HTTP tests).
pub async fn start_with_clock(
    config: SimulatorConfig,
    clock: SharedClock,
) -> Result<RunningSimulator, SimulatorError> {
    if !config.time_scale.is_finite() || config.time_scale < 0.0 {
        return Err(SimulatorError::Config(
            "time scale must be a finite number >= 0".to_owned(),
        ));
    }
    if config.auth_required && config.api_keys.is_empty() {
        return Err(SimulatorError::Config(
            "at least one API key is needed unless auth is off".to_owned(),
        ));
    }
    let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
    let state = match &config.state_file {
        Some(p) => persist::load(p)?,
        None => None,
    }
    .unwrap_or_else(|| {
        state::State::with_profile(uuid::Uuid::new_v4().to_string(), config.profile)
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimulatorError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SimulatorError::Bind {
            addr: config.listen,
            source,
        })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let sim = Arc::new(Sim {
        clock,
        state: Mutex::new(state),
        runtime: Mutex::new(RuntimeConfig {
            time_scale: config.time_scale,
            model_cap: config.model_cap,
            token_ttl_seconds: config.token_ttl.as_secs().max(1),
            profile: config.profile,
            audio_cap_hours: profile::DEFAULT_AUDIO_CAP_HOURS,
        }),
        faults: Mutex::new(Faults::default()),
        quirks: Mutex::new(Quirks::default()),
        locked: Mutex::new(HashSet::new()),
        log: Mutex::new(log::RequestLog::default()),
        api_keys: config.api_keys.iter().cloned().collect::<HashSet<_>>(),
        auth_required: config.auth_required,
        tokens: auth::TokenIssuer::random(),
        changed: AtomicBool::new(false),
        scheme,
    });
    let (tx, rx) = watch::channel(false);
    let mut tasks = vec![tokio::spawn(http::serve(
        listener,
        tls,
        http::router(sim.clone()),
        rx.clone(),
    ))];
    if let Some(p) = config.state_file.clone() {
        tasks.push(tokio::spawn(persist::writer(sim, p, rx)));
    }
    Ok(RunningSimulator {
        addr,
        scheme,
        shutdown: tx,
        tasks,
    })
}

/// Whether STT/TTS requests need credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Basic `apikey:KEY` or a Bearer token from `/identity/token`.
    Apikey,
    /// No credentials needed.
    None,
}

/// `watson-speech-operator simulate`: run the IBM API simulator.
#[derive(Clone, Debug, clap::Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8089", env = "WSO_SIM_LISTEN")]
    pub listen: SocketAddr,
    /// A valid API key (repeatable). All keys belong to one service instance.
    #[arg(long = "api-key", env = "WSO_SIM_API_KEYS", value_delimiter = ',')]
    pub api_keys: Vec<String>,
    /// Authentication mode of the STT and TTS APIs.
    #[arg(long, value_enum, default_value = "apikey")]
    pub auth: AuthMode,
    /// Multiplier of every simulated duration (0.01 = hundred times faster).
    #[arg(long, default_value_t = 1.0, env = "WSO_SIM_TIME_SCALE")]
    pub time_scale: f64,
    /// Lifetime of IAM access tokens in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl_seconds: u64,
    /// Maximum number of custom language models (and separately acoustic models).
    #[arg(long, default_value_t = 1024)]
    pub model_cap: usize,
    /// JSON file holding the state across restarts.
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// PEM certificate chain; serves HTTPS together with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The IBM service to play: `ibm-cloud` (the service as sold today: previous-generation
    /// models withdrawn, no acoustic customization) or `legacy` (the 2021–2022 service).
    #[arg(long, value_enum, default_value = "ibm-cloud", env = "WSO_SIM_PROFILE")]
    pub profile: Profile,
}

impl SimulateArgs {
    /// The in-process configuration these flags describe.
    pub fn to_config(&self) -> SimulatorConfig {
        SimulatorConfig {
            listen: self.listen,
            api_keys: self.api_keys.clone(),
            auth_required: self.auth == AuthMode::Apikey,
            time_scale: self.time_scale,
            token_ttl: Duration::from_secs(self.token_ttl_seconds),
            model_cap: self.model_cap,
            state_file: self.state_file.clone(),
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                _ => None,
            },
            profile: self.profile,
        }
    }
}

/// Runs the simulator until Ctrl-C / SIGTERM.
pub async fn run(args: SimulateArgs) -> Result<(), SimulatorError> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let sim = start(args.to_config()).await?;
    println!(
        "IBM Watson Speech simulator listening on {}",
        sim.base_url()
    );
    println!("  STT service URL: {}", sim.stt_url());
    println!("  TTS service URL: {}", sim.tts_url());
    println!("  IAM URL:         {}", sim.iam_url());
    println!("  Admin API:       {}/_simulator/", sim.base_url());
    println!("  Profile:         {}", args.profile.as_str());
    wait_for_signal().await;
    sim.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
