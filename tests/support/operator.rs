//! The operator and the simulator for end-to-end tests: started once per test binary on a
//! runtime of their own (the operator watches every namespace, so one per binary), plus helpers
//! to set up a namespace with credentials and SpeechServices and to wait for conditions.

use std::sync::OnceLock;
use std::time::Duration;

use kube::{Api, Resource};
use watson_speech_operator::crd::ModelStatus;
use watson_speech_operator::simulator::{self, admin::AdminClient};

use super::fixture::{self, Service};
use super::{ControlPlane, TestNamespace, eventually};

/// The API key the simulator accepts.
pub const API_KEY: &str = "e2e-api-key";
/// The `--cluster-name` of the shared operator of `tests/operator` (its `OPTIONS`).
pub const CLUSTER_NAME: &str = "e2e-shared";
/// A second valid key (for rotation tests).
pub const OTHER_API_KEY: &str = "e2e-rotated-key";

/// A simulator of a test's own on the `legacy` profile (the previous-generation base models the
/// fixtures use), requiring `api_key`, at `time_scale`: for tests that start their own operator
/// process.
pub async fn own_simulator(api_key: &str, time_scale: f64) -> simulator::RunningSimulator {
    simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![api_key.to_string()],
        auth_required: true,
        time_scale,
        ..Default::default()
    })
    .await
    .expect("simulator")
}

/// How the shared operator and simulator run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub time_scale: f64,
    pub drift_seconds: u64,
    /// The simulator's model cap and the operator's quota (IBM: 1024).
    pub model_quota: usize,
    /// The operator's `--cluster-name` (issue 25): `None` keeps the UID markers.
    pub cluster_name: Option<&'static str>,
}

static HARNESS: OnceLock<String> = OnceLock::new();

/// Starts (once per binary) the simulator and the operator; returns the simulator's base URL.
pub fn start(cp: &'static ControlPlane, options: Options) -> &'static str {
    start_with(cp, options, false)
}

/// [`start`] with the operator in `run --dry-run` mode (`Settings::dry_run`): a binary uses
/// either this or [`start`], never both (one operator per binary).
pub fn start_dry_run(cp: &'static ControlPlane, options: Options) -> &'static str {
    start_with(cp, options, true)
}

fn start_with(cp: &'static ControlPlane, options: Options, dry_run: bool) -> &'static str {
    HARNESS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    std::env::var("WSO_TEST_LOG").unwrap_or_else(|_| "warn".into()),
                ))
                .try_init();
            rt.block_on(async move {
                let sim = simulator::start(simulator::SimulatorConfig {
                    profile: watson_speech_operator::simulator::Profile::Legacy,
                    listen: "127.0.0.1:0".parse().expect("addr"),
                    api_keys: vec![API_KEY.to_string(), OTHER_API_KEY.to_string()],
                    auth_required: true,
                    time_scale: options.time_scale,
                    model_cap: options.model_quota,
                    ..Default::default()
                })
                .await
                .expect("simulator");
                let client = cp.client().await.expect("client");
                let settings = watson_speech_operator::reconcile::context::Settings {
                    drift_interval: Duration::from_secs(options.drift_seconds),
                    max_poll_interval: Duration::from_secs(5),
                    expected_training: Duration::from_secs(2),
                    model_quota: options.model_quota,
                    dry_run,
                    cluster_name: options.cluster_name.map(str::to_string),
                    // TrustedProfile SpeechServices: a projected token as the kubelet writes it,
                    // exchanged at the simulator's IAM.
                    trusted_profile:
                        watson_speech_operator::reconcile::context::TrustedProfileSettings {
                            token_file: trusted_profile_token_file(cp),
                            iam_url: sim.base_url(),
                        },
                    ..Default::default()
                };
                tx.send(sim.base_url()).expect("send");
                let _keep = sim;
                watson_speech_operator::reconcile::run::run(client, settings, 8)
                    .await
                    .expect("operator");
            });
        });
        rx.recv().expect("harness start")
    })
}

/// A namespace with the Secret `creds` and the SpeechServices `stt` and `tts`
/// ([`fixture::credentials_and_services`]).
pub async fn namespace(
    cp: &'static ControlPlane,
    sim_base: &str,
    prefix: &str,
) -> (TestNamespace, AdminClient) {
    let ns = cp.namespace(prefix).await;
    fixture::credentials_and_services(&ns, API_KEY, sim_base, &[Service::Stt, Service::Tts]).await;
    let admin = AdminClient::new(sim_base.to_string()).expect("admin");
    (ns, admin)
}

/// The set-up of a test on the shared operator: the control plane (with `plane` options), the
/// operator and simulator of this binary ([`start`] with `options`), and a namespace
/// ([`namespace`]). Returns the namespace, the simulator's admin client and its base URL; `None`
/// when the control plane is skipped.
pub async fn setup_with(
    plane: super::Options,
    options: Options,
    prefix: &str,
) -> Option<(TestNamespace, AdminClient, String)> {
    let cp = super::control_plane_with(plane)?;
    let base = start(cp, options);
    let (ns, admin) = namespace(cp, base, prefix).await;
    Some((ns, admin, base.to_string()))
}

/// [`setup_with`] on the default control plane.
pub async fn setup(options: Options, prefix: &str) -> Option<(TestNamespace, AdminClient, String)> {
    setup_with(super::Options::default(), options, prefix).await
}

/// An STT client of the simulator at `sim_base`, with [`API_KEY`] (for what a test does behind the
/// operator's back).
pub fn stt_client(sim_base: &str) -> watson_speech_operator::watson::SttClient {
    use watson_speech_operator::watson::{Auth, ClientConfig, SttClient};
    let url = url::Url::parse(&format!("{sim_base}/speech-to-text")).expect("url");
    let auth = Auth::Iam {
        api_key: API_KEY.to_string().into(),
        url: url::Url::parse(sim_base).expect("iam"),
    };
    SttClient::new(ClientConfig::new(url, auth)).expect("client")
}

/// Reads the common model status of any of the three kinds.
pub trait HasModelStatus {
    fn model(&self) -> Option<&ModelStatus>;
}

impl HasModelStatus for watson_speech_operator::crd::CustomLanguageModel {
    fn model(&self) -> Option<&ModelStatus> {
        self.status.as_ref().map(|s| &s.model)
    }
}
impl HasModelStatus for watson_speech_operator::crd::CustomAcousticModel {
    fn model(&self) -> Option<&ModelStatus> {
        self.status.as_ref().map(|s| &s.model)
    }
}
impl HasModelStatus for watson_speech_operator::crd::CustomVoiceModel {
    fn model(&self) -> Option<&ModelStatus> {
        self.status.as_ref().map(|s| &s.model)
    }
}

/// The status of condition `type_`, if set.
pub fn condition(m: &impl HasModelStatus, type_: &str) -> Option<(String, String)> {
    m.model()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// Waits until `check` holds for the object `name`.
pub async fn wait_for<K, F>(api: &Api<K>, name: &str, what: &str, secs: u64, check: F) -> K
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasModelStatus,
    F: Fn(&K) -> bool,
{
    let check = &check;
    eventually(
        &format!("{name}: {what}"),
        Duration::from_secs(secs),
        || async move {
            let m = api.get(name).await.ok()?;
            check(&m).then_some(m)
        },
    )
    .await
}

/// True when the Ready condition is True.
pub fn is_ready(m: &impl HasModelStatus) -> bool {
    condition(m, "Ready").is_some_and(|(s, _)| s == "True")
}

/// Successful requests of operation `op` for model `id` in the simulator's log, in order.
pub async fn calls(
    admin: &AdminClient,
    id: &str,
    op: &str,
) -> Vec<watson_speech_operator::simulator::api::RequestRecord> {
    admin
        .requests(0)
        .await
        .expect("request log")
        .requests
        .into_iter()
        .filter(|r| r.customization_id.as_deref() == Some(id) && r.operation.as_deref() == Some(op))
        .collect()
}

/// A compute resource token (a JWT) in the control plane's directory: the shared operator's
/// trusted-profile token file.
pub fn trusted_profile_token_file(cp: &ControlPlane) -> std::path::PathBuf {
    let path = cp.dir.join("trusted-profile-token");
    if !path.exists() {
        std::fs::write(
            &path,
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln",
        )
        .expect("token file");
    }
    path
}
