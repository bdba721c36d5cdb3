//! The scenarios' harness: environment, the operator process, objects, observation of the
//! objects and of the simulator's request log.
#![allow(dead_code)]

use super::*;

/// The API key every scenario's simulator accepts.
pub const API_KEY: &str = "bench-api-key";

/// Unix time in milliseconds (the simulator's request log uses the same clock).
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

/// A size from the environment, else the default.
pub fn env_size(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An f64 from the environment, else the default.
pub fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(super) fn log(msg: &str) {
    eprintln!("[bench {:>8.1}s] {msg}", started().elapsed().as_secs_f64());
}

pub(super) fn started() -> Instant {
    static T: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T.get_or_init(Instant::now)
}

// ------------------------------------------------------------------------------------------
// Statistics
// ------------------------------------------------------------------------------------------

/// p50, p95, max (nearest-rank) and mean of a sample.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    pub mean: f64,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        if values.is_empty() {
            return Stats::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Stats {
            n: v.len(),
            p50: rank(0.50),
            p95: rank(0.95),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Environment: control plane, simulator, operator process
// ------------------------------------------------------------------------------------------

/// What every scenario needs.
pub struct Env {
    pub cp: &'static ControlPlane,
    /// The operator binary (release for `make bench`, debug for the smoke test).
    pub operator_bin: PathBuf,
    /// Where operator logs go.
    pub work: PathBuf,
}

impl Env {
    pub fn new(cp: &'static ControlPlane, operator_bin: PathBuf) -> Env {
        let work = cp.dir.join("bench");
        std::fs::create_dir_all(&work).expect("bench work dir");
        started();
        Env {
            cp,
            operator_bin,
            work,
        }
    }
}

/// Starts an in-process simulator.
pub async fn start_simulator(time_scale: f64, model_cap: usize) -> RunningSimulator {
    simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![API_KEY.to_string()],
        auth_required: true,
        time_scale,
        model_cap: model_cap.max(1024),
        ..Default::default()
    })
    .await
    .expect("simulator")
}

/// Flags of one operator process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OperatorFlags {
    pub drift_interval_seconds: u64,
    pub expected_training_seconds: u64,
    pub max_poll_seconds: u64,
    pub fixed_poll_seconds: Option<u64>,
    pub concurrency: u16,
    pub model_quota: usize,
    /// The acoustic training estimate per second of audio, scaled like the simulator (absent
    /// from results before issue 11: 0 there, meaning the operator's default of 1).
    #[serde(default)]
    pub training_seconds_per_audio_second: f64,
    /// Further `run` flags (scenario 9: the `url` source policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
}

impl OperatorFlags {
    /// The operator's defaults compressed by a simulator time scale, the way `run --simulator`
    /// compresses them (at least 2 s).
    pub fn scaled(time_scale: f64) -> OperatorFlags {
        let s = |secs: f64| ((secs * time_scale).round() as u64).max(2);
        OperatorFlags {
            drift_interval_seconds: 600,
            expected_training_seconds: s(600.0),
            max_poll_seconds: s(300.0),
            fixed_poll_seconds: None,
            concurrency: 8,
            model_quota: 1024,
            training_seconds_per_audio_second: time_scale,
            extra: Vec::new(),
        }
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--drift-interval-seconds".to_string(),
            self.drift_interval_seconds.to_string(),
            "--expected-training-seconds".to_string(),
            self.expected_training_seconds.to_string(),
            "--max-poll-seconds".to_string(),
            self.max_poll_seconds.to_string(),
            "--concurrency".to_string(),
            self.concurrency.to_string(),
            "--model-quota".to_string(),
            self.model_quota.to_string(),
            "--training-seconds-per-audio-second".to_string(),
            self.training_seconds_per_audio_second.to_string(),
        ];
        if let Some(f) = self.fixed_poll_seconds {
            a.push("--fixed-poll-seconds".to_string());
            a.push(f.to_string());
        }
        a.extend(self.extra.iter().cloned());
        a
    }
}

/// Memory of a process from `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Mem {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn proc_mem(pid: u32) -> Option<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Mem {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// The operator as a child process; SIGKILLed on drop.
pub struct Operator {
    child: Child,
    pub port: u16,
    pub spawned_ms: f64,
    http: reqwest::Client,
}

impl Operator {
    pub fn start(env: &Env, ns: &str, flags: &OperatorFlags, log_name: &str) -> Operator {
        let port = free_port();
        let log = std::fs::File::create(env.work.join(format!("{log_name}.log"))).expect("log");
        let mut args = vec![
            "run".to_string(),
            "--namespaces".to_string(),
            ns.to_string(),
            "--metrics-address".to_string(),
            format!("127.0.0.1:{port}"),
            "--log-format".to_string(),
            "text".to_string(),
        ];
        args.extend(flags.args());
        let spawned_ms = now_ms();
        let child = Command::new(&env.operator_bin)
            .args(&args)
            .env("KUBECONFIG", &env.cp.kubeconfig)
            .env("WSO_LOG_LEVEL", "warn")
            .env_remove("RUST_LOG")
            .env_remove("WSO_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", env.operator_bin.display()));
        Operator {
            child,
            port,
            spawned_ms,
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn mem(&self) -> Option<Mem> {
        proc_mem(self.child.id())
    }

    /// CPU seconds the process has used (user + system, `/proc/<pid>/stat`).
    pub fn cpu_seconds(&self) -> Option<f64> {
        let text = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces) start at state (field 3).
        let rest = text.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
        // utime is field 14, stime 15: indexes 11 and 12 after the state field.
        Some((ticks(11)? + ticks(12)?) / 100.0)
    }

    /// Waits until `/readyz` answers 200 (caches synced).
    pub async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        wait_for("operator /readyz", Duration::from_secs(120), || async {
            let r = self.http.get(&url).send().await.ok()?;
            r.status().is_success().then_some(())
        })
        .await;
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> Option<String> {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        self.http.get(&url).send().await.ok()?.text().await.ok()
    }

    /// The sum of `wso_reconciles_total` samples for one kind.
    pub async fn reconciles(&self, kind: &str) -> Option<f64> {
        let text = self.metrics().await?;
        Some(metric_sum(
            &text,
            "wso_reconciles_total",
            &format!("kind=\"{kind}\""),
        ))
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sums the samples of `name` whose label set contains `label` (Prometheus text format).
pub fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Polls `check` every 100 ms until it returns `Some`, or panics after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------------------------------
// Namespace set-up and manifests
// ------------------------------------------------------------------------------------------

/// A namespace with the Secret `creds` and one SpeechService per `(name, simulator, budget)`.
pub async fn namespace_with_services(
    env: &Env,
    prefix: &str,
    services: &[(&str, &RunningSimulator, Option<u32>)],
) -> TestNamespace {
    let ns = env.cp.namespace(prefix).await;
    ns.api::<Secret>()
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("creds".into()),
                    ..Default::default()
                },
                string_data: Some([("apikey".to_string(), API_KEY.to_string())].into()),
                ..Default::default()
            },
        )
        .await
        .expect("secret");
    for (name, sim, budget) in services {
        let mut spec = json!({
            "service": "SpeechToText", "url": sim.stt_url(),
            "auth": {"type": "IAM", "iamUrl": sim.base_url(), "secretRef": {"name": "creds"}}
        });
        if let Some(rps) = budget {
            spec["requestBudget"] = json!({"requestsPerSecond": rps, "burst": rps});
        }
        let svc: SpeechService = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "SpeechService",
            "metadata": {"name": name}, "spec": spec
        }))
        .expect("service");
        ns.api::<SpeechService>()
            .create(&PostParams::default(), &svc)
            .await
            .expect("create service");
    }
    ns
}

/// The base model of the scenarios' language models: a next-generation model IBM offers today.
pub const BASE_MODEL: &str = "en-US_Telephony";
/// The base model of acoustic models and the language models they train with: acoustic
/// customization exists only on previous-generation models (the simulator's `legacy` profile,
/// which the harness runs).
pub const ACOUSTIC_BASE_MODEL: &str = "en-US_BroadbandModel";

/// A language model on [`BASE_MODEL`]: one inline corpus (when `corpus`) and `words` custom
/// words.
pub fn language_model(
    name: &str,
    service: &str,
    corpus: bool,
    words: usize,
) -> CustomLanguageModel {
    language_model_on(BASE_MODEL, name, service, corpus, words)
}

/// [`language_model`] on `base` (an acoustic model's language model: [`ACOUSTIC_BASE_MODEL`]).
pub fn language_model_on(
    base: &str,
    name: &str,
    service: &str,
    corpus: bool,
    words: usize,
) -> CustomLanguageModel {
    let mut spec = json!({"serviceRef": {"name": service}, "baseModelName": base});
    if corpus {
        spec["corpora"] = json!([{"name": "calls", "source": {"text": format!(
            "Thank you for calling the help desk of {name}. Please restart the router and \
             wait for the green light. Your ticket number is four five six.")}}]);
    }
    if words > 0 {
        const WORDS: [(&str, &str); 6] = [
            ("acme", "ack me"),
            ("voip", "voyp"),
            ("gigabit", "giga bit"),
            ("ont", "o n t"),
            ("splitter", "split er"),
            ("router", "row ter"),
        ];
        let w: Vec<Value> = WORDS
            .iter()
            .cycle()
            .take(words)
            .enumerate()
            .map(|(i, (word, sounds))| {
                let suffix = if i < WORDS.len() {
                    String::new()
                } else {
                    format!("x{i}")
                };
                json!({"word": format!("{word}{suffix}"), "soundsLike": [sounds]})
            })
            .collect();
        spec["words"] = Value::Array(w);
    }
    serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
        "metadata": {"name": name}, "spec": spec
    }))
    .expect("language model")
}

/// An acoustic model using `lm` with the audio of the ConfigMap `audio` (key `calls.wav`).
pub fn acoustic_model(name: &str, service: &str, lm: &str) -> CustomAcousticModel {
    serde_json::from_value(json!({
        "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomAcousticModel",
        "metadata": {"name": name},
        "spec": {"serviceRef": {"name": service}, "baseModelName": ACOUSTIC_BASE_MODEL,
                 "languageModelRef": {"name": lm},
                 "audio": [{"name": "calls", "contentType": "application/gzip",
                            "source": {"configMapKeyRef": {"name": "audio", "key": "calls.wav"}}}]}
    }))
    .expect("acoustic model")
}

/// `minutes` of real 16 kHz mono PCM (a tone) in a tar.gz archive (about 2 KB a minute): the
/// simulator measures the audio it receives, as IBM does.
pub fn wav(minutes: u32) -> Vec<u8> {
    watson_speech_operator::simulator::audio::tone_tar_gz(
        "calls.wav",
        16_000,
        f64::from(minutes) * 60.0,
    )
}

/// Creates many objects, `parallel` at a time; returns each name with the time of its create
/// call.
pub async fn create_all<K>(api: &Api<K>, objects: Vec<K>, parallel: usize) -> Vec<(String, f64)>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    futures::stream::iter(objects)
        .map(|o| {
            let api = api.clone();
            async move {
                let name = o.meta().name.clone().unwrap_or_default();
                let t = now_ms();
                let mut tries = 0;
                loop {
                    match api.create(&PostParams::default(), &o).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => {
                            panic!("create {name}: {}", s.message)
                        }
                        Err(e) if tries < 5 => {
                            tries += 1;
                            log(&format!("create {name}: {e}; retrying"));
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        Err(e) => panic!("create {name}: {e}"),
                    }
                }
                (name, t)
            }
        })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await
}

// ------------------------------------------------------------------------------------------
// The watch recorder: every resourceVersion of every object of a kind
// ------------------------------------------------------------------------------------------

/// One observed version of an object.
#[derive(Clone, Debug)]
pub struct Obs {
    pub t_ms: f64,
    pub rv: String,
    pub status: Value,
    /// Everything but status, resourceVersion and managedFields.
    pub rest: Value,
}

impl Obs {
    pub fn phase(&self) -> Option<&str> {
        self.status.get("phase")?.as_str()
    }

    pub fn ready(&self) -> bool {
        self.status
            .get("conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    }
}

/// Records every version of every object of a kind in a namespace (deduplicated by
/// resourceVersion, so a re-list adds nothing).
#[derive(Clone, Default)]
pub struct Recorder {
    pub objects: Arc<Mutex<HashMap<String, Vec<Obs>>>>,
}

impl Recorder {
    pub fn start<K>(api: Api<K>) -> Recorder
    where
        K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
    {
        let rec = Recorder::default();
        let objects = rec.objects.clone();
        tokio::spawn(async move {
            let mut stream = watcher(api, watcher::Config::default()).boxed();
            while let Some(ev) = stream.next().await {
                let obj = match ev {
                    Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => o,
                    _ => continue,
                };
                let t_ms = now_ms();
                let Ok(mut v) = serde_json::to_value(&obj) else {
                    continue;
                };
                let name = v["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let rv = v["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let status = v
                    .as_object_mut()
                    .and_then(|m| m.remove("status"))
                    .unwrap_or(Value::Null);
                if let Some(m) = v["metadata"].as_object_mut() {
                    m.remove("resourceVersion");
                    m.remove("managedFields");
                }
                let mut objs = objects.lock();
                let list = objs.entry(name).or_default();
                if list.last().is_some_and(|o| o.rv == rv) {
                    continue;
                }
                list.push(Obs {
                    t_ms,
                    rv,
                    status,
                    rest: v,
                });
            }
        });
        rec
    }

    /// Objects for which `pred` holds on their latest version.
    pub fn count_latest(&self, pred: impl Fn(&Obs) -> bool) -> usize {
        self.objects
            .lock()
            .values()
            .filter(|l| l.last().is_some_and(&pred))
            .count()
    }

    /// Objects with a version at or after `t_ms`, and the number of such versions.
    pub fn versions_since(&self, t_ms: f64) -> (usize, usize) {
        let objs = self.objects.lock();
        let mut objects = 0;
        let mut versions = 0;
        for l in objs.values() {
            let n = l.iter().filter(|o| o.t_ms >= t_ms).count();
            if n > 0 {
                objects += 1;
                versions += n;
            }
        }
        (objects, versions)
    }

    /// The first time each object satisfied `pred`.
    pub fn first_time(&self, pred: impl Fn(&Obs) -> bool) -> HashMap<String, f64> {
        self.objects
            .lock()
            .iter()
            .filter_map(|(n, l)| Some((n.clone(), l.iter().find(|o| pred(o))?.t_ms)))
            .collect()
    }

    /// Writes after creation, split by what changed.
    pub fn writes(&self, name: &str) -> Writes {
        let objs = self.objects.lock();
        let mut w = Writes::default();
        if let Some(l) = objs.get(name) {
            for pair in l.windows(2) {
                w.total += 1;
                let status = pair[0].status != pair[1].status;
                let rest = pair[0].rest != pair[1].rest;
                if status {
                    w.status_changes += 1;
                }
                if rest {
                    w.metadata_changes += 1;
                }
                if !status && !rest {
                    w.no_op += 1;
                }
            }
        }
        w
    }
}

/// API-server writes to one object after its creation (versions seen by a watch).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Writes {
    /// resourceVersion changes.
    pub total: u32,
    /// Writes whose status differs from the previous version's.
    pub status_changes: u32,
    /// Writes that changed metadata or spec (finalizers), not status.
    pub metadata_changes: u32,
    /// Writes that changed nothing but resourceVersion/managedFields.
    pub no_op: u32,
}

// ------------------------------------------------------------------------------------------
// IBM request log helpers
// ------------------------------------------------------------------------------------------

/// Every request the simulator logged since `since`.
pub async fn requests(sim: &RunningSimulator, since: u64) -> Vec<RequestRecord> {
    sim.admin()
        .requests(since)
        .await
        .expect("request log")
        .requests
}

pub async fn next_seq(sim: &RunningSimulator) -> u64 {
    sim.admin().requests(u64::MAX).await.expect("log").next_seq
}

pub(super) fn op_name(r: &RequestRecord) -> String {
    r.operation.clone().unwrap_or_else(|| "other".to_string())
}

/// Counts by operation.
pub fn by_operation<'a>(reqs: impl Iterator<Item = &'a RequestRecord>) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in reqs {
        *m.entry(op_name(r)).or_insert(0) += 1;
    }
    m
}
