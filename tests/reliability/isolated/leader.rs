//! Leader election with two real operator processes against the real control plane and the
//! in-process simulator:
//!
//! - only the leader (the Lease's `holderIdentity`) reconciles: every Event before the hand-over
//!   names it as `reportingInstance`, and the standby's `/metrics` shows no reconcile and no IBM
//!   call;
//! - SIGKILL of the leader's process group while models train: the standby takes over only once
//!   the dead leader's lease has expired, finishes the work, and the simulator's request log
//!   shows no operation done twice;
//! - SIGTERM of the leader: it releases the lease and the standby takes over before the old
//!   lease would have expired.
//!
//! The measured takeover times are printed (`eprintln!`, shown with `--nocapture`).

#[path = "../../support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use support::fixture::{self, Service};
use support::process::OperatorProcess;
use support::{ControlPlane, TestNamespace, control_plane, eventually, free_port};
use watson_speech_operator::crd::{CustomLanguageModel, Phase};
use watson_speech_operator::simulator::{self, RunningSimulator, admin::AdminClient};

const API_KEY: &str = "leader-api-key";
const LEASE: &str = "wso-leader";
/// Lease timing for the operators. The leader's fence reads the Lease every 2 s and steps down
/// when less than 3 s are left, so the renewal grace must exceed 3 s.
const LEASE_SECONDS: u64 = 8;
const GRACE_SECONDS: u64 = 4;
/// 0.03 makes a language model training (300 s nominal) take about 9 s.
const TIME_SCALE: f64 = 0.03;
const MODELS: usize = 4;

/// The two tests start four operator processes between them; one at a time keeps the lease
/// timing free of CPU contention on small machines.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One operator process (`watson-speech-operator run --leader-election`) with its pod name and
/// metrics address (the process itself: [`OperatorProcess`], killed on drop).
struct Operator {
    pod: &'static str,
    process: OperatorProcess,
    metrics: String,
}

impl Operator {
    fn start(pod: &'static str, kubeconfig: &Path, ns: &str, dir: &Path) -> Operator {
        let port = free_port();
        let log = dir.join(format!("{pod}.log"));
        let (lease_seconds, grace_seconds) = (LEASE_SECONDS.to_string(), GRACE_SECONDS.to_string());
        let metrics_address = format!("127.0.0.1:{port}");
        let args = [
            "--leader-election",
            "--leader-election-namespace",
            ns,
            "--lease-name",
            LEASE,
            "--lease-duration-seconds",
            &lease_seconds,
            "--lease-grace-seconds",
            &grace_seconds,
            "--namespaces",
            ns,
            "--metrics-address",
            &metrics_address,
            "--drift-interval-seconds",
            "60",
            "--expected-training-seconds",
            "2",
            "--max-poll-seconds",
            "2",
            "--shutdown-timeout-seconds",
            "10",
        ];
        let env = [
            ("POD_NAME", pod),
            ("RUST_LOG", "watson_speech_operator=info"),
        ];
        Operator {
            pod,
            process: OperatorProcess::start(kubeconfig, &args, &env, &log),
            metrics: format!("http://{metrics_address}/metrics"),
        }
    }

    /// SIGKILL to the whole process group (watchdog and operator at once).
    fn kill_group(&mut self) {
        self.process.kill();
    }

    /// SIGTERM to the operator alone (the watchdog would escalate to SIGKILL after 1 s).
    fn terminate(&self) {
        self.process.terminate();
    }

    fn log_text(&self) -> String {
        self.process.log_text()
    }

    async fn scrape(&self) -> Option<String> {
        let resp = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?
            .get(&self.metrics)
            .send()
            .await
            .ok()?;
        resp.status().is_success().then_some(())?;
        resp.text().await.ok()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "----- operator {} log (last 80 lines) -----\n{}",
                self.pod,
                lines[lines.len().saturating_sub(80)..].join("\n")
            );
        }
        self.kill_group();
    }
}

/// The sum of every sample of `family` (an OpenMetrics counter or gauge) in `text`.
fn metric_sum(text: &str, family: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The Lease as the test sees it.
#[derive(Clone, Debug, Default)]
struct LeaseView {
    holder: Option<String>,
    acquired: Option<SystemTime>,
    /// renewTime + leaseDurationSeconds.
    expires: Option<SystemTime>,
}

async fn lease(api: &Api<Lease>) -> LeaseView {
    let Some(spec) = api
        .get_opt(LEASE)
        .await
        .expect("get lease")
        .and_then(|l| l.spec)
    else {
        return LeaseView::default();
    };
    let expires = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(t), Some(d)) => {
            Some(SystemTime::from(t.0) + Duration::from_secs(u64::try_from(d).unwrap_or(0)))
        }
        _ => None,
    };
    LeaseView {
        holder: spec.holder_identity.filter(|h| !h.is_empty()),
        acquired: spec.acquire_time.map(|t| SystemTime::from(t.0)),
        expires,
    }
}

/// Which operator an identity (`POD_NAME` + `_` + random suffix) belongs to.
fn pod_of(identity: &str) -> &str {
    identity.rsplit_once('_').map_or(identity, |(pod, _)| pod)
}

struct Setup {
    cp: &'static ControlPlane,
    ns: TestNamespace,
    sim: RunningSimulator,
    admin: AdminClient,
    dir: tempfile::TempDir,
}

async fn setup(prefix: &str) -> Option<Setup> {
    let cp = control_plane()?;
    let sim = simulator::start(simulator::SimulatorConfig {
        profile: watson_speech_operator::simulator::Profile::Legacy,
        listen: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![API_KEY.to_string()],
        auth_required: true,
        time_scale: TIME_SCALE,
        ..Default::default()
    })
    .await
    .expect("simulator");
    let admin = sim.admin();
    let ns = cp.namespace(prefix).await;
    fixture::credentials_and_services(&ns, API_KEY, &sim.base_url(), &[Service::Stt]).await;
    let dir = tempfile::Builder::new()
        .prefix("wso-leader-")
        .tempdir()
        .expect("tempdir");
    Some(Setup {
        cp,
        ns,
        sim,
        admin,
        dir,
    })
}

/// Creates `MODELS` language models with two corpora and a word each; returns their UIDs.
async fn create_models(api: &Api<CustomLanguageModel>) -> HashMap<String, String> {
    let mut uids = HashMap::new();
    for i in 0..MODELS {
        let name = format!("lm-{i}");
        let lm: CustomLanguageModel = serde_json::from_value(json!({
            "apiVersion": "speech.watson.dev/v1alpha1", "kind": "CustomLanguageModel",
            "metadata": {"name": name},
            "spec": {"serviceRef": {"name": "stt"}, "baseModelName": "en-US_BroadbandModel",
                     "corpora": [
                         {"name": "tickets", "source": {"text": format!("reset the VPN token for user {i}")}},
                         {"name": "faq", "source": {"text": format!("how do I renew certificate number {i}")}}
                     ],
                     "words": [{"word": "VPN", "soundsLike": ["V P N"], "displayAs": "VPN"}]}
        }))
        .expect("lm");
        let created = api
            .create(&PostParams::default(), &lm)
            .await
            .expect("create lm");
        uids.insert(name, created.uid().expect("uid"));
    }
    uids
}

async fn models(api: &Api<CustomLanguageModel>) -> Vec<CustomLanguageModel> {
    api.list(&ListParams::default()).await.expect("list").items
}

fn phase(m: &CustomLanguageModel) -> Option<Phase> {
    m.status.as_ref().and_then(|s| s.model.phase.clone())
}

fn is_ready(m: &CustomLanguageModel) -> bool {
    m.status.as_ref().is_some_and(|s| {
        s.model
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// Waits until both operators serve `/metrics` and one of them holds the Lease; returns
/// (leader, standby) indexes into `ops` and the leader's identity.
async fn elected(ops: &[Operator; 2], leases: &Api<Lease>) -> (usize, usize, String) {
    for op in ops {
        eventually(
            &format!("{} to serve /metrics", op.pod),
            Duration::from_secs(60),
            || op.scrape(),
        )
        .await;
    }
    let holder = eventually("a leader", Duration::from_secs(60), || async {
        lease(leases).await.holder
    })
    .await;
    let leader = ops
        .iter()
        .position(|o| o.pod == pod_of(&holder))
        .unwrap_or_else(|| panic!("unknown holder {holder}"));
    eprintln!("leader: {holder}");
    (leader, 1 - leader, holder)
}

/// Only the leader acts: its `/metrics` says leader, the standby's says standby with no
/// reconcile and no IBM call, the standby never logged an election, and every Event so far was
/// reported by the leader.
async fn assert_only_leader_acts(ns: &TestNamespace, leader: &Operator, standby: &Operator) {
    let lm = leader.scrape().await.expect("leader metrics");
    let sm = standby.scrape().await.expect("standby metrics");
    assert_eq!(metric_sum(&lm, "wso_leader"), 1.0, "leader gauge:\n{lm}");
    assert_eq!(metric_sum(&sm, "wso_leader"), 0.0, "standby gauge:\n{sm}");
    assert!(
        metric_sum(&lm, "wso_reconciles_total") > 0.0,
        "the leader reconciled:\n{lm}"
    );
    assert_eq!(
        metric_sum(&sm, "wso_reconciles_total"),
        0.0,
        "the standby reconciled:\n{sm}"
    );
    assert_eq!(
        metric_sum(&sm, "wso_ibm_requests_total"),
        0.0,
        "the standby called IBM:\n{sm}"
    );
    let slog = standby.log_text();
    assert!(
        slog.contains("standing by until elected") && !slog.contains("became the leader"),
        "standby log:\n{slog}"
    );
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    let models: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.regarding
                .as_ref()
                .is_some_and(|r| r.kind.as_deref() == Some("CustomLanguageModel"))
        })
        .collect();
    assert!(!models.is_empty(), "the leader recorded Events");
    for e in &events {
        assert_eq!(
            e.reporting_instance.as_deref(),
            Some(leader.pod),
            "Event {:?}/{:?} reported by another instance",
            e.reason,
            e.note
        );
    }
}

/// From the simulator's request log: one successful create per model (and one model per
/// object on the service), one successful training per model, no corpus uploaded twice.
async fn assert_nothing_done_twice(admin: &AdminClient, uids: &HashMap<String, String>) {
    let log = admin.requests(0).await.expect("request log").requests;
    let ok = |r: &&simulator::api::RequestRecord| (200..300).contains(&r.status);
    let of = |op: &str| -> Vec<&simulator::api::RequestRecord> {
        log.iter()
            .filter(|r| r.operation.as_deref() == Some(op))
            .filter(ok)
            .collect()
    };
    assert_eq!(
        of("create_language_model").len(),
        MODELS,
        "one successful create per model"
    );
    let sim_models = admin.models().await.expect("models");
    for (name, uid) in uids {
        let marked: Vec<_> = sim_models
            .iter()
            .filter(|m| m.description.contains(uid.as_str()))
            .collect();
        assert_eq!(marked.len(), 1, "{name}: exactly one model on the service");
        let id = &marked[0].customization_id;
        let trains = of("train_language_model")
            .iter()
            .filter(|r| r.customization_id.as_ref() == Some(id))
            .count();
        assert_eq!(trains, 1, "{name}: one successful training");
    }
    let mut corpora: HashMap<&str, usize> = HashMap::new();
    for r in of("add_corpus") {
        *corpora.entry(r.path.as_str()).or_default() += 1;
    }
    assert_eq!(
        corpora.len(),
        MODELS * 2,
        "two corpora per model: {corpora:?}"
    );
    for (path, n) in &corpora {
        assert_eq!(*n, 1, "{path} uploaded {n} times");
    }
    let words: usize = of("add_words").len() + of("add_word").len();
    assert_eq!(words, MODELS, "one word upload per model");
}

/// Every model in phase Training: all data is in place and every train call recorded.
async fn wait_all_training(api: &Api<CustomLanguageModel>) {
    eventually("every model Training", Duration::from_secs(60), || async {
        let ms = models(api).await;
        (ms.len() == MODELS && ms.iter().all(|m| phase(m) == Some(Phase::Training))).then_some(())
    })
    .await;
}

async fn wait_all_ready(api: &Api<CustomLanguageModel>) {
    eventually("every model Ready", Duration::from_secs(120), || async {
        let ms = models(api).await;
        (ms.len() == MODELS && ms.iter().all(is_ready)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_hands_over_after_expiry_and_nothing_is_done_twice() {
    let _serial = SERIAL.lock().await;
    let Some(s) = setup("leader-kill").await else {
        return;
    };
    let leases: Api<Lease> = s.ns.api();
    let api: Api<CustomLanguageModel> = s.ns.api();
    let mut ops = [
        Operator::start("op-a", &s.cp.kubeconfig, &s.ns.name, s.dir.path()),
        Operator::start("op-b", &s.cp.kubeconfig, &s.ns.name, s.dir.path()),
    ];
    let (leader, standby, old_holder) = elected(&ops, &leases).await;
    let uids = create_models(&api).await;
    wait_all_training(&api).await;
    assert_only_leader_acts(&s.ns, &ops[leader], &ops[standby]).await;
    let training = s
        .admin
        .models()
        .await
        .expect("models")
        .iter()
        .filter(|m| m.status.as_deref() == Some("training"))
        .count();
    assert_eq!(training, MODELS, "the service trains every model");

    // SIGKILL: the lease stays held until it expires.
    let before = lease(&leases).await;
    assert_eq!(before.holder.as_deref(), Some(old_holder.as_str()));
    let killed_at = Instant::now();
    ops[leader].kill_group();
    let mut old_expiry = before.expires.expect("renewTime");
    let new = loop {
        let l = lease(&leases).await;
        match l.holder.as_deref() {
            Some(h) if h == old_holder => old_expiry = l.expires.expect("renewTime"),
            Some(_) => break l,
            None => {}
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "no takeover within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let takeover = killed_at.elapsed();
    let new_holder = new.holder.clone().expect("holder");
    eprintln!(
        "SIGKILL takeover: {:.2} s from the kill to the Lease naming {new_holder} \
         (lease {LEASE_SECONDS} s, grace {GRACE_SECONDS} s)",
        takeover.as_secs_f64()
    );
    assert_eq!(pod_of(&new_holder), ops[standby].pod, "the standby leads");
    assert!(
        new.acquired.expect("acquireTime") >= old_expiry,
        "the standby took the lease before the dead leader's lease expired"
    );
    assert!(
        takeover < Duration::from_secs(LEASE_SECONDS + 5),
        "takeover within a lease duration and a few seconds: {takeover:?}"
    );

    // The new leader finishes the trainings it did not start.
    wait_all_ready(&api).await;
    eprintln!(
        "SIGKILL: every model Ready {:.2} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    let nm = ops[standby].scrape().await.expect("new leader metrics");
    assert_eq!(metric_sum(&nm, "wso_leader"), 1.0, "{nm}");
    assert_nothing_done_twice(&s.admin, &uids).await;
    let events =
        s.ns.api::<Event>()
            .list(&ListParams::default())
            .await
            .expect("events")
            .items;
    assert!(
        events
            .iter()
            .any(|e| e.reporting_instance.as_deref() == Some(ops[standby].pod)),
        "the new leader recorded Events"
    );
    drop(s.sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_releases_the_lease_and_the_standby_takes_over_by_its_expiry() {
    sigterm_hand_over(false).await;
}

/// The hand-over a release gives: the standby leads before the old lease would have expired.
/// kube-lease-manager's standby alone sleeps until the expiry it last read; the operator's
/// fence sees the released Lease and campaigns at once (`src/leader.rs`, `campaign`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_over_before_the_old_lease_expires() {
    sigterm_hand_over(true).await;
}

/// SIGTERM to the leader while models train: it finishes in-flight reconciles, releases the
/// lease and exits; the standby leads and finishes the work with nothing done twice. `strict`
/// also requires the takeover to happen before the old lease would have expired.
async fn sigterm_hand_over(strict: bool) {
    let _serial = SERIAL.lock().await;
    let Some(s) = setup("leader-term").await else {
        return;
    };
    let leases: Api<Lease> = s.ns.api();
    let api: Api<CustomLanguageModel> = s.ns.api();
    let ops = [
        Operator::start("op-a", &s.cp.kubeconfig, &s.ns.name, s.dir.path()),
        Operator::start("op-b", &s.cp.kubeconfig, &s.ns.name, s.dir.path()),
    ];
    let (leader, standby, old_holder) = elected(&ops, &leases).await;
    let uids = create_models(&api).await;
    wait_all_training(&api).await;
    assert_only_leader_acts(&s.ns, &ops[leader], &ops[standby]).await;

    let before = lease(&leases).await;
    assert_eq!(before.holder.as_deref(), Some(old_holder.as_str()));
    let mut old_expiry = before.expires.expect("renewTime");
    let termed_at = Instant::now();
    ops[leader].terminate();
    let mut released = false;
    let new = loop {
        let l = lease(&leases).await;
        match l.holder.as_deref() {
            Some(h) if h == old_holder => old_expiry = l.expires.expect("renewTime"),
            Some(_) => break l,
            None => released = true,
        }
        assert!(
            termed_at.elapsed() < Duration::from_secs(60),
            "no takeover within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let takeover = termed_at.elapsed();
    let new_holder = new.holder.clone().expect("holder");
    let acquired = new.acquired.expect("acquireTime");
    // Positive: acquired before the old lease would have expired.
    let margin = old_expiry
        .duration_since(acquired)
        .map(|d| d.as_secs_f64())
        .unwrap_or_else(|e| -e.duration().as_secs_f64());
    eprintln!(
        "SIGTERM takeover: {:.2} s from SIGTERM to the Lease naming {new_holder}; acquired \
         {margin:.2} s before the old lease would have expired (released lease seen: {released}; \
         lease {LEASE_SECONDS} s, grace {GRACE_SECONDS} s)",
        takeover.as_secs_f64()
    );
    assert_eq!(pod_of(&new_holder), ops[standby].pod, "the standby leads");
    eventually(
        "the old leader to release the lease and stop",
        Duration::from_secs(30),
        || async {
            let log = ops[leader].log_text();
            (log.contains("released the lease") && log.contains("stopped")).then_some(())
        },
    )
    .await;
    if strict {
        assert!(
            margin > 0.0,
            "the standby took over {:.2} s after the old lease expired: the release did not hand over early",
            -margin
        );
    } else {
        // Released, the lease is free when the standby looks at it: no forced release of an
        // expired lease, so the takeover comes at the latest right at the old expiry.
        assert!(
            margin > -1.5,
            "the standby took over {:.2} s after the old lease expired",
            -margin
        );
    }

    wait_all_ready(&api).await;
    assert_nothing_done_twice(&s.admin, &uids).await;
    drop(s.sim);
}
