//! The benchmark scenarios of issue 6, shared by `benches/operator.rs` (`make bench`, release,
//! default sizes) and `tests/bench_smoke.rs` (`make test`, debug, tiny sizes).
//!
//! Everything runs for real: the control plane of `tests/support` (etcd + kube-apiserver), the
//! IBM simulator in this process (one per scenario, so its request log and counters belong to
//! that scenario), and the operator as a child process (the binary given in [`Env`]) watching
//! only the scenario's namespace. Times are wall-clock Unix milliseconds, the clock the
//! simulator's request log uses too.
//!
//! The includer must declare `mod support;` (the test harness) at its crate root.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::watcher;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use watson_speech_operator::crd::{CustomAcousticModel, CustomLanguageModel, SpeechService};
use watson_speech_operator::simulator::{self, RunningSimulator, api::RequestRecord};

use crate::support::{ControlPlane, TestNamespace, free_port};

mod harness;
pub use harness::*;
mod large_audio;
pub use large_audio::*;
mod fair_share;
pub use fair_share::*;

// ------------------------------------------------------------------------------------------
// Scenarios 1, 2, 7: lifecycles
// ------------------------------------------------------------------------------------------

/// Sizes and timing of a lifecycle run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LifecycleConfig {
    pub language_models: usize,
    pub acoustic_models: usize,
    pub time_scale: f64,
    /// Minutes of audio per acoustic model (AM training takes that long, nominal).
    pub audio_minutes: u32,
    /// `None`: progress-aware polling; `Some(s)`: `--fixed-poll-seconds s`.
    pub fixed_poll_seconds: Option<u64>,
    pub timeout_seconds: u64,
}

/// One model's lifecycle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelRun {
    pub name: String,
    pub kind: String,
    pub apply_to_ready_s: f64,
    /// The simulator's time on this model's own operations (`busy_seconds`).
    pub busy_s: f64,
    /// For acoustic models: time from apply until the language model was Ready (not counted
    /// as overhead when it ends after the audio analysis).
    pub dependency_wait_s: f64,
    /// IBM time on this model's critical path (see the report).
    pub ibm_s: f64,
    pub overhead_s: f64,
    /// IBM calls naming this model, by operation.
    pub calls: BTreeMap<String, u64>,
    pub writes: Writes,
    /// From the apply to the first IBM call naming the model (the operator's queue, the
    /// finalizer, the create): where the overhead before the service's work goes.
    #[serde(default)]
    pub first_call_s: f64,
    /// From the last IBM call naming the model (the train call, for a language model) to Ready:
    /// the service's last operation plus the time to see its end.
    #[serde(default)]
    pub after_last_call_s: f64,
}

/// A lifecycle run in one polling mode.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LifecycleRun {
    pub mode: String,
    pub config: LifecycleConfig,
    pub flags: OperatorFlags,
    pub wall_s: f64,
    pub models: Vec<ModelRun>,
    pub overhead_language: Stats,
    pub overhead_acoustic: Stats,
    pub overhead_all: Stats,
    /// p95 overhead as a share of the IBM time (median IBM time of the kind).
    pub overhead_p95_share: f64,
    /// The SpeechService's check before the first model was applied (token, credentials
    /// probe, listings), by operation; not part of the lifecycles (absent before issue 11).
    #[serde(default)]
    pub setup_calls: BTreeMap<String, u64>,
    /// Calls without a customization ID (token, listings) after the apply, by operation.
    pub shared_calls: BTreeMap<String, u64>,
    pub total_calls: u64,
    /// Mean calls naming one language model, by operation.
    pub lm_calls_mean: BTreeMap<String, f64>,
    /// Mean calls naming one acoustic model, by operation.
    pub am_calls_mean: BTreeMap<String, f64>,
    /// All calls of the run / number of lifecycles.
    pub calls_per_lifecycle: f64,
}

impl LifecycleRun {
    pub fn mode_label(fixed: Option<u64>) -> String {
        match fixed {
            Some(s) => format!("fixed {s} s polling"),
            None => "progress-aware polling".to_string(),
        }
    }
}

/// Nominal audio analysis time of the simulator (docs/simulator.md): 2 s + 1 % of the audio.
fn audio_analysis_s(minutes: u32, time_scale: f64) -> f64 {
    (2.0 + 0.01 * f64::from(minutes) * 60.0) * time_scale
}

/// Scenario 1 (and 2, 7 from the same run): language models with a corpus and words, and
/// acoustic models that depend on them, from apply to Ready.
pub async fn lifecycle(env: &Env, cfg: &LifecycleConfig) -> LifecycleRun {
    let mode = LifecycleRun::mode_label(cfg.fixed_poll_seconds);
    log(&format!(
        "lifecycle ({mode}): {} LMs + {} AMs, time scale {}",
        cfg.language_models, cfg.acoustic_models, cfg.time_scale
    ));
    let sim = start_simulator(cfg.time_scale, 1024).await;
    let ns = namespace_with_services(env, "bench-life", &[("stt", &sim, None)]).await;
    if cfg.acoustic_models > 0 {
        ns.api::<ConfigMap>()
            .create(
                &PostParams::default(),
                &ConfigMap {
                    metadata: ObjectMeta {
                        name: Some("audio".into()),
                        ..Default::default()
                    },
                    binary_data: Some(
                        [("calls.wav".to_string(), ByteString(wav(cfg.audio_minutes)))].into(),
                    ),
                    ..Default::default()
                },
            )
            .await
            .expect("audio ConfigMap");
    }
    let lms: Api<CustomLanguageModel> = ns.api();
    let ams: Api<CustomAcousticModel> = ns.api();
    let lm_rec = Recorder::start(lms.clone());
    let am_rec = Recorder::start(ams.clone());
    let mut flags = OperatorFlags::scaled(cfg.time_scale);
    flags.fixed_poll_seconds = cfg.fixed_poll_seconds;
    let op = Operator::start(env, &ns.name, &flags, &format!("lifecycle-{}", ns.name));
    op.wait_ready().await;
    // The SpeechService's own check (token, credentials probe, listings) comes before any
    // model: counted apart, so every call after the mark belongs to the lifecycles.
    let services: Api<SpeechService> = ns.api();
    wait_for(
        "the SpeechService Ready",
        Duration::from_secs(60),
        || async {
            let s = services.get("stt").await.ok()?.status?;
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
                .then_some(())
        },
    )
    .await;
    let mark = next_seq(&sim).await;

    let t0 = now_ms();
    let lm_objs: Vec<_> = (0..cfg.language_models)
        // The language models acoustic models train with are on their previous-generation base.
        .map(|i| {
            let base = if i < cfg.acoustic_models {
                ACOUSTIC_BASE_MODEL
            } else {
                BASE_MODEL
            };
            language_model_on(base, &format!("lm-{i}"), "stt", true, 3)
        })
        .collect();
    let am_objs: Vec<_> = (0..cfg.acoustic_models)
        .map(|i| {
            acoustic_model(
                &format!("am-{i}"),
                "stt",
                &format!("lm-{}", i % cfg.language_models.max(1)),
            )
        })
        .collect();
    let mut applied: HashMap<String, f64> = HashMap::new();
    applied.extend(create_all(&lms, lm_objs, 8).await);
    applied.extend(create_all(&ams, am_objs, 8).await);

    let total = cfg.language_models + cfg.acoustic_models;
    wait_for(
        &format!("{total} models Ready ({mode})"),
        Duration::from_secs(cfg.timeout_seconds),
        || async {
            let n = lm_rec.count_latest(Obs::ready) + am_rec.count_latest(Obs::ready);
            (n >= total).then_some(())
        },
    )
    .await;
    let wall_s = (now_ms() - t0) / 1000.0;
    drop(op);

    // The simulator's view: models (busy time, ownership marker) and every request.
    let sim_models = sim.admin().models().await.expect("models");
    let setup_calls = by_operation(requests(&sim, 0).await.iter().filter(|r| r.seq < mark));
    let reqs = requests(&sim, mark).await;
    let lm_ready = lm_rec.first_time(Obs::ready);
    let am_ready = am_rec.first_time(Obs::ready);
    let uid_of = |rec: &Recorder, name: &str| -> String {
        rec.objects
            .lock()
            .get(name)
            .and_then(|l| l.first())
            .and_then(|o| o.rest["metadata"]["uid"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let sim_of = |uid: &str| {
        sim_models
            .iter()
            .find(|m| !uid.is_empty() && m.description.contains(uid))
    };

    let mut models = Vec::new();
    for (name, &apply) in &applied {
        let is_lm = name.starts_with("lm-");
        let rec = if is_lm { &lm_rec } else { &am_rec };
        let ready = if is_lm { &lm_ready } else { &am_ready };
        let Some(&ready_ms) = ready.get(name) else {
            continue;
        };
        let uid = uid_of(rec, name);
        let Some(sm) = sim_of(&uid) else { continue };
        let apply_to_ready_s = (ready_ms - apply) / 1000.0;
        let busy_s = sm.busy_seconds;
        let (dependency_wait_s, ibm_s) = if is_lm {
            (0.0, busy_s)
        } else {
            // The AM's own audio analysis runs while its LM trains; training needs the LM
            // Available. Critical path: max(analysis, LM Ready) + AM training.
            let analysis = audio_analysis_s(cfg.audio_minutes, cfg.time_scale).min(busy_s);
            let training = busy_s - analysis;
            let lm_name = format!(
                "lm-{}",
                name.trim_start_matches("am-").parse::<usize>().unwrap_or(0)
                    % cfg.language_models.max(1)
            );
            let dep = lm_ready
                .get(&lm_name)
                .map(|t| ((t - apply) / 1000.0).max(0.0))
                .unwrap_or(0.0);
            (dep, dep.max(analysis) + training)
        };
        let naming: Vec<_> = reqs
            .iter()
            .filter(|r| r.customization_id.as_deref() == Some(sm.customization_id.as_str()))
            .collect();
        let calls = by_operation(naming.iter().copied());
        let first_call_s = naming
            .iter()
            .map(|r| r.at_ms as f64)
            .fold(f64::INFINITY, f64::min);
        let last_call_s = naming.iter().map(|r| r.at_ms as f64).fold(0.0, f64::max);
        models.push(ModelRun {
            name: name.clone(),
            kind: if is_lm { "language" } else { "acoustic" }.to_string(),
            apply_to_ready_s,
            busy_s,
            dependency_wait_s,
            ibm_s,
            overhead_s: apply_to_ready_s - ibm_s,
            calls,
            writes: rec.writes(name),
            first_call_s: if naming.is_empty() {
                0.0
            } else {
                (first_call_s - apply) / 1000.0
            },
            after_last_call_s: if naming.is_empty() {
                0.0
            } else {
                (ready_ms - last_call_s) / 1000.0
            },
        });
    }
    models.sort_by(|a, b| a.name.cmp(&b.name));
    let of_kind = |k: &str| -> Vec<&ModelRun> { models.iter().filter(|m| m.kind == k).collect() };
    let overhead =
        |ms: &[&ModelRun]| Stats::of(&ms.iter().map(|m| m.overhead_s).collect::<Vec<_>>());
    let mean_calls = |ms: &[&ModelRun]| {
        let mut sum: BTreeMap<String, f64> = BTreeMap::new();
        for m in ms {
            for (op, n) in &m.calls {
                *sum.entry(op.clone()).or_default() += *n as f64;
            }
        }
        sum.values_mut().for_each(|v| *v /= ms.len().max(1) as f64);
        sum
    };
    let lm_runs = of_kind("language");
    let am_runs = of_kind("acoustic");
    let all: Vec<&ModelRun> = models.iter().collect();
    let overhead_all = overhead(&all);
    let median_ibm = Stats::of(&all.iter().map(|m| m.ibm_s).collect::<Vec<_>>()).p50;
    let run = LifecycleRun {
        mode,
        config: cfg.clone(),
        flags,
        wall_s,
        overhead_language: overhead(&lm_runs),
        overhead_acoustic: overhead(&am_runs),
        overhead_p95_share: if median_ibm > 0.0 {
            overhead_all.p95 / median_ibm
        } else {
            0.0
        },
        overhead_all,
        setup_calls,
        shared_calls: by_operation(reqs.iter().filter(|r| r.customization_id.is_none())),
        total_calls: reqs.len() as u64,
        lm_calls_mean: mean_calls(&lm_runs),
        am_calls_mean: mean_calls(&am_runs),
        calls_per_lifecycle: reqs.len() as f64 / total.max(1) as f64,
        models,
    };
    log(&format!(
        "lifecycle ({}): wall {:.1} s, overhead p50 {:.2} s p95 {:.2} s max {:.2} s, {} calls",
        run.mode,
        run.wall_s,
        run.overhead_all.p50,
        run.overhead_all.p95,
        run.overhead_all.max,
        run.total_calls
    ));
    run
}

/// Scenario 2: one language model (1 corpus, words) alone, every IBM call of its lifecycle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SingleLifecycle {
    pub mode: String,
    pub time_scale: f64,
    /// Nominal (unscaled) training seconds of this model in the simulator.
    pub training_s: f64,
    pub apply_to_ready_s: f64,
    pub calls: BTreeMap<String, u64>,
    pub total: u64,
    /// create + add corpus + add words + train + 3 confirming reads (corpus analysed, words
    /// added, training finished; IBM refuses an add while a corpus is analysed, so the reads
    /// cannot be merged).
    pub floor: u64,
    /// The SpeechService's check before the apply (token, credentials probe, listings), not
    /// counted in `total` (absent before issue 11).
    #[serde(default)]
    pub setup_calls: BTreeMap<String, u64>,
}

pub async fn single_lifecycle(env: &Env, time_scale: f64, fixed: Option<u64>) -> SingleLifecycle {
    let cfg = LifecycleConfig {
        language_models: 1,
        acoustic_models: 0,
        time_scale,
        audio_minutes: 0,
        fixed_poll_seconds: fixed,
        timeout_seconds: 600,
    };
    let run = lifecycle(env, &cfg).await;
    let mut calls = run.shared_calls.clone();
    for m in &run.models {
        for (op, n) in &m.calls {
            *calls.entry(op.clone()).or_insert(0) += n;
        }
    }
    SingleLifecycle {
        mode: run.mode,
        time_scale,
        training_s: 300.0,
        apply_to_ready_s: run
            .models
            .first()
            .map(|m| m.apply_to_ready_s)
            .unwrap_or(0.0),
        total: calls.values().sum(),
        calls,
        floor: 7,
        setup_calls: run.setup_calls.clone(),
    }
}

/// The polls the operator's progress-aware schedule (`decision::status::poll_after`) makes during one
/// training of `training` when it expects `expected` and waits at most `cap`; and what fixed
/// polling every `fixed` makes.
pub fn modelled_polls(
    training: Duration,
    expected: Duration,
    cap: Duration,
    fixed: Duration,
) -> (u64, u64) {
    let mut t = Duration::ZERO;
    let mut polls = 0;
    while t < training {
        t += watson_speech_operator::decision::status::poll_after(t, expected, cap);
        polls += 1;
    }
    let fixed_polls = training.as_secs_f64() / fixed.as_secs_f64();
    (polls, fixed_polls.ceil() as u64)
}

// ------------------------------------------------------------------------------------------
// Scenarios 3, 4, 5: a fleet of Available models
// ------------------------------------------------------------------------------------------

/// IBM calls in steady state over a window of drift intervals.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteadyState {
    pub models: usize,
    pub services: usize,
    pub drift_interval_s: u64,
    pub window_s: f64,
    pub intervals: f64,
    /// Calls by operation, over the window, all services.
    pub calls: BTreeMap<String, u64>,
    pub calls_per_interval_per_service: f64,
    pub lists_per_interval_per_service: f64,
    /// Calls per hour with the default 600 s drift interval (6 intervals).
    pub calls_per_hour_default_interval: f64,
}

/// A restart of the operator with N Available models.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Restart {
    pub models: usize,
    /// From process spawn until `/readyz`.
    pub ready_s: f64,
    /// From process spawn until `wso_reconciles_total` counted every model.
    pub all_reconciled_s: f64,
    /// Model writes (resourceVersion changes) from spawn until the end of the settle window.
    pub model_writes: usize,
    pub models_written: usize,
    /// SpeechService writes over the same window.
    pub service_writes: usize,
    /// IBM calls during the pass.
    pub ibm_calls: BTreeMap<String, u64>,
    pub rss_steady_mib: f64,
    pub rss_peak_mib: f64,
    /// (seconds since spawn, RSS MiB).
    pub rss_series: Vec<(f64, f64)>,
    /// (seconds since spawn, models reconciled).
    pub reconciled_series: Vec<(f64, f64)>,
}

/// Scenarios 3, 4 and 5 on one growing fleet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fleet {
    pub build: Vec<FleetBuild>,
    pub steady: Vec<SteadyState>,
    pub restarts: Vec<Restart>,
    /// Scenario 8 (absent from results before issue 11).
    #[serde(default)]
    pub unrelated: Option<Unrelated>,
}

/// Scenario 8: the restart of scenario 5 again, beside unrelated Secrets and ConfigMaps in the
/// watched namespace, then unrelated ConfigMap updates at a fixed rate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unrelated {
    pub models: usize,
    pub secrets: usize,
    pub secret_kib: usize,
    pub config_maps: usize,
    /// Restart without the unrelated objects (scenario 5 at the same size).
    pub baseline_peak_mib: f64,
    pub baseline_steady_mib: f64,
    /// Restart with them.
    pub restart: Restart,
    pub churn_updates_per_s: f64,
    pub churn_s: f64,
    /// Operator CPU during the churn, in cores (1.0 = one core busy).
    pub churn_cpu_cores: f64,
    /// Language-model reconciles during the churn (none is related).
    pub churn_reconciles: f64,
    /// Seconds to create the unrelated objects (set-up, not a target).
    pub setup_s: f64,
}

/// How long bringing a fleet to Available took (set-up, not a target).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetBuild {
    pub models: usize,
    pub seconds: f64,
    pub concurrency: u16,
}

/// Sizes of the fleet scenarios.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetConfig {
    /// Steady-state sizes (models across the two services), ascending.
    pub steady_sizes: Vec<usize>,
    /// Restart (start-up pass, memory) sizes, ascending; may include the steady sizes.
    pub restart_sizes: Vec<usize>,
    pub drift_interval_s: u64,
    /// Drift intervals counted in steady state.
    pub steady_intervals: u64,
    /// Seconds the restarted operator idles after its pass (steady RSS).
    pub settle_s: u64,
    /// Operator concurrency while building the fleet (not measured).
    pub build_concurrency: u16,
    pub timeout_seconds: u64,
    /// Scenario 8 at this fleet size (one of `restart_sizes`), if any.
    pub unrelated_at: Option<usize>,
    pub unrelated_secrets: usize,
    pub unrelated_secret_kib: usize,
    pub unrelated_config_maps: usize,
    pub churn_updates_per_s: u32,
    pub churn_s: u64,
}

/// Scenarios 3 (steady state), 4 (memory) and 5 (start-up pass) on one growing fleet of
/// Available language models split over two SpeechServices (one simulator each, time scale 0).
pub async fn fleet(env: &Env, cfg: &FleetConfig) -> Fleet {
    let max = cfg
        .steady_sizes
        .iter()
        .chain(&cfg.restart_sizes)
        .copied()
        .max()
        .unwrap_or(0);
    let per_service = max.div_ceil(2) + 16;
    let sim_a = start_simulator(0.0, per_service).await;
    let sim_b = start_simulator(0.0, per_service).await;
    let ns = namespace_with_services(
        env,
        "bench-fleet",
        &[("stt-a", &sim_a, None), ("stt-b", &sim_b, None)],
    )
    .await;
    let lms: Api<CustomLanguageModel> = ns.api();
    let svcs: Api<SpeechService> = ns.api();
    let lm_rec = Recorder::start(lms.clone());
    let svc_rec = Recorder::start(svcs.clone());
    let quota = per_service + 16;
    let mut out = Fleet {
        build: vec![],
        steady: vec![],
        restarts: vec![],
        unrelated: None,
    };
    let mut sizes: Vec<usize> = cfg
        .steady_sizes
        .iter()
        .chain(&cfg.restart_sizes)
        .copied()
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut have = 0usize;
    for size in sizes {
        // Grow to `size` with a builder operator (short drift interval when measuring steady
        // state at this size).
        let steady_here = cfg.steady_sizes.contains(&size);
        let mut flags = OperatorFlags::scaled(0.0);
        flags.model_quota = quota;
        flags.concurrency = cfg.build_concurrency;
        if steady_here {
            flags.drift_interval_seconds = cfg.drift_interval_s;
        }
        let op = Operator::start(env, &ns.name, &flags, &format!("fleet-build-{size}"));
        op.wait_ready().await;
        let t = now_ms();
        let objs: Vec<_> = (have..size)
            .map(|i| {
                let svc = if i % 2 == 0 { "stt-a" } else { "stt-b" };
                language_model(&format!("m-{i:05}"), svc, false, 1)
            })
            .collect();
        log(&format!(
            "fleet: creating {} models (to {size})",
            objs.len()
        ));
        create_all(&lms, objs, 16).await;
        wait_for(
            &format!("{size} fleet models Available"),
            Duration::from_secs(cfg.timeout_seconds),
            || async {
                let n = lm_rec.count_latest(|o| o.ready());
                (n >= size).then_some(())
            },
        )
        .await;
        let secs = (now_ms() - t) / 1000.0;
        log(&format!("fleet: {size} Available after {secs:.1} s"));
        out.build.push(FleetBuild {
            models: size,
            seconds: secs,
            concurrency: cfg.build_concurrency,
        });
        have = size;

        if steady_here {
            // Let every model's first drift check pass, then count a window.
            tokio::time::sleep(Duration::from_secs(cfg.drift_interval_s + 2)).await;
            let (sa, sb) = (next_seq(&sim_a).await, next_seq(&sim_b).await);
            let w0 = now_ms();
            tokio::time::sleep(Duration::from_secs(
                cfg.drift_interval_s * cfg.steady_intervals,
            ))
            .await;
            let window_s = (now_ms() - w0) / 1000.0;
            let mut reqs = requests(&sim_a, sa).await;
            reqs.extend(requests(&sim_b, sb).await);
            let calls = by_operation(reqs.iter());
            let intervals = window_s / cfg.drift_interval_s as f64;
            let total: u64 = calls.values().sum();
            let lists = calls.get("list_language_models").copied().unwrap_or(0);
            let s = SteadyState {
                models: size,
                services: 2,
                drift_interval_s: cfg.drift_interval_s,
                window_s,
                intervals,
                calls_per_interval_per_service: total as f64 / intervals / 2.0,
                lists_per_interval_per_service: lists as f64 / intervals / 2.0,
                calls_per_hour_default_interval: total as f64 / intervals * 6.0,
                calls,
            };
            log(&format!(
                "steady state at {size}: {:.2} calls and {:.2} LISTs per interval per service",
                s.calls_per_interval_per_service, s.lists_per_interval_per_service
            ));
            out.steady.push(s);
        }
        drop(op);

        if cfg.restart_sizes.contains(&size) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let baseline = restart(
                env, &ns.name, &lm_rec, &svc_rec, &sim_a, &sim_b, size, quota, cfg,
            )
            .await;
            if cfg.unrelated_at == Some(size) {
                out.unrelated = Some(
                    unrelated(
                        env, &ns, &lm_rec, &svc_rec, &sim_a, &sim_b, size, quota, cfg, &baseline,
                    )
                    .await,
                );
            }
            out.restarts.push(baseline);
            hold(env, &ns.name, size, quota).await;
        }
    }
    out
}

/// With `WSO_BENCH_HOLD=<size>`, stops after the restart at that fleet size and keeps the
/// control plane, simulators and models up (the harness sleeps until it is killed), so that
/// operator builds can be measured against the same fleet one after another. Writes the
/// command that starts an operator like the restart's to `<work>/hold.sh`.
async fn hold(env: &Env, ns: &str, size: usize, quota: usize) {
    if std::env::var("WSO_BENCH_HOLD").ok() != Some(size.to_string()) {
        return;
    }
    let mut flags = OperatorFlags::scaled(0.0);
    flags.model_quota = quota;
    flags.drift_interval_seconds = 600;
    let script = format!(
        "#!/bin/sh\n# An operator as the restart at {size} starts it; $1 = the binary.\nexec env KUBECONFIG={} WSO_LOG_LEVEL=warn \"${{1:-{}}}\" run --namespaces {ns} --metrics-address 127.0.0.1:${{PORT:-18080}} --log-format text {}\n",
        env.cp.kubeconfig.display(),
        env.operator_bin.display(),
        flags.args().join(" ")
    );
    let path = env.work.join("hold.sh");
    std::fs::write(&path, script).expect("hold.sh");
    log(&format!("holding the fleet of {size}: {}", path.display()));
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn restart(
    env: &Env,
    ns: &str,
    lm_rec: &Recorder,
    svc_rec: &Recorder,
    sim_a: &RunningSimulator,
    sim_b: &RunningSimulator,
    size: usize,
    quota: usize,
    cfg: &FleetConfig,
) -> Restart {
    let (sa, sb) = (next_seq(sim_a).await, next_seq(sim_b).await);
    let mut flags = OperatorFlags::scaled(0.0);
    flags.model_quota = quota;
    flags.drift_interval_seconds = 600;
    let op = Operator::start(env, ns, &flags, &format!("fleet-restart-{size}"));
    let t0 = op.spawned_ms;
    let mut rss_series = vec![];
    let mut reconciled_series = vec![];
    let mut ready_s = None;
    let mut all_reconciled_s = None;
    let deadline = Instant::now() + Duration::from_secs(cfg.timeout_seconds);
    let sample = |op: &Operator, series: &mut Vec<(f64, f64)>| {
        if let Some(m) = op.mem() {
            series.push(((now_ms() - t0) / 1000.0, m.rss_kib as f64 / 1024.0));
        }
    };
    while all_reconciled_s.is_none() {
        assert!(
            Instant::now() < deadline,
            "start-up pass at {size} did not finish"
        );
        sample(&op, &mut rss_series);
        if let Some(n) = op.reconciles("CustomLanguageModel").await {
            let t = (now_ms() - t0) / 1000.0;
            if ready_s.is_none() {
                ready_s = Some(t);
            }
            reconciled_series.push((t, n));
            if n >= size as f64 {
                all_reconciled_s = Some(t);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settle_until = Instant::now() + Duration::from_secs(cfg.settle_s);
    while Instant::now() < settle_until {
        sample(&op, &mut rss_series);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mem = op.mem().unwrap_or_default();
    drop(op);
    let (models_written, model_writes) = lm_rec.versions_since(t0);
    let (_, service_writes) = svc_rec.versions_since(t0);
    let mut reqs = requests(sim_a, sa).await;
    reqs.extend(requests(sim_b, sb).await);
    let r = Restart {
        models: size,
        ready_s: ready_s.unwrap_or_default(),
        all_reconciled_s: all_reconciled_s.unwrap_or_default(),
        model_writes,
        models_written,
        service_writes,
        ibm_calls: by_operation(reqs.iter()),
        rss_steady_mib: mem.rss_kib as f64 / 1024.0,
        rss_peak_mib: mem.hwm_kib as f64 / 1024.0,
        rss_series,
        reconciled_series,
    };
    log(&format!(
        "restart at {size}: all reconciled after {:.1} s, {} model writes, RSS {:.1} MiB (peak {:.1})",
        r.all_reconciled_s, r.model_writes, r.rss_steady_mib, r.rss_peak_mib
    ));
    r
}

/// Scenario 8: creates the unrelated objects, restarts the operator beside them (start-up RSS),
/// then updates unrelated ConfigMaps at a fixed rate and measures the operator's CPU and
/// reconciles; removes the objects again (the next fleet size is measured without them).
#[allow(clippy::too_many_arguments)]
async fn unrelated(
    env: &Env,
    ns: &TestNamespace,
    lm_rec: &Recorder,
    svc_rec: &Recorder,
    sim_a: &RunningSimulator,
    sim_b: &RunningSimulator,
    size: usize,
    quota: usize,
    cfg: &FleetConfig,
    baseline: &Restart,
) -> Unrelated {
    let secrets: Api<Secret> = ns.api();
    let config_maps: Api<ConfigMap> = ns.api();
    let t = now_ms();
    log(&format!(
        "unrelated: {} Secrets of {} KiB and {} ConfigMaps",
        cfg.unrelated_secrets, cfg.unrelated_secret_kib, cfg.unrelated_config_maps
    ));
    let blob = ByteString(vec![b'x'; cfg.unrelated_secret_kib * 1024]);
    futures::stream::iter(0..cfg.unrelated_secrets)
        .for_each_concurrent(16, |i| {
            let (secrets, blob) = (secrets.clone(), blob.clone());
            async move {
                let s = Secret {
                    metadata: ObjectMeta {
                        name: Some(format!("sh.helm.release.v1.unrelated-{i:05}.v1")),
                        labels: Some([("owner".to_string(), "helm".to_string())].into()),
                        ..Default::default()
                    },
                    data: Some([("release".to_string(), blob)].into()),
                    ..Default::default()
                };
                secrets
                    .create(&PostParams::default(), &s)
                    .await
                    .expect("unrelated Secret");
            }
        })
        .await;
    futures::stream::iter(0..cfg.unrelated_config_maps)
        .for_each_concurrent(16, |i| {
            let config_maps = config_maps.clone();
            async move {
                config_maps
                    .create(&PostParams::default(), &unrelated_config_map(i, 0))
                    .await
                    .expect("unrelated ConfigMap");
            }
        })
        .await;
    let setup_s = (now_ms() - t) / 1000.0;
    let restart = restart(
        env, &ns.name, lm_rec, svc_rec, sim_a, sim_b, size, quota, cfg,
    )
    .await;

    // Churn: a fresh operator, settled, then updates at a fixed rate.
    let mut flags = OperatorFlags::scaled(0.0);
    flags.model_quota = quota;
    flags.drift_interval_seconds = 600;
    let op = Operator::start(env, &ns.name, &flags, &format!("unrelated-churn-{size}"));
    op.wait_ready().await;
    wait_for(
        "the churn operator's start-up pass",
        Duration::from_secs(cfg.timeout_seconds),
        || async {
            let n = op.reconciles("CustomLanguageModel").await?;
            (n >= size as f64).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu0, rec0, t0) = (
        op.cpu_seconds().unwrap_or_default(),
        op.reconciles("CustomLanguageModel")
            .await
            .unwrap_or_default(),
        Instant::now(),
    );
    let every = Duration::from_secs_f64(1.0 / f64::from(cfg.churn_updates_per_s.max(1)));
    let mut tick = tokio::time::interval(every);
    let mut n = 0usize;
    while t0.elapsed() < Duration::from_secs(cfg.churn_s) {
        tick.tick().await;
        let i = n % cfg.unrelated_config_maps.max(1);
        n += 1;
        let _ = config_maps
            .replace(
                &format!("unrelated-{i:05}"),
                &PostParams::default(),
                &unrelated_config_map(i, n),
            )
            .await;
    }
    let churn_s = t0.elapsed().as_secs_f64();
    let churn_cpu_cores = (op.cpu_seconds().unwrap_or_default() - cpu0) / churn_s;
    let churn_reconciles = op
        .reconciles("CustomLanguageModel")
        .await
        .unwrap_or_default()
        - rec0;
    drop(op);
    log(&format!(
        "unrelated: peak RSS {:.1} MiB (without: {:.1}), churn {:.1}/s: {:.3} cores, {} reconciles",
        restart.rss_peak_mib,
        baseline.rss_peak_mib,
        n as f64 / churn_s,
        churn_cpu_cores,
        churn_reconciles
    ));
    let lp = kube::api::ListParams::default();
    let _ = secrets
        .delete_collection(&Default::default(), &lp.clone().labels("owner=helm"))
        .await;
    let _ = config_maps
        .delete_collection(&Default::default(), &lp.labels("owner=unrelated"))
        .await;
    Unrelated {
        models: size,
        secrets: cfg.unrelated_secrets,
        secret_kib: cfg.unrelated_secret_kib,
        config_maps: cfg.unrelated_config_maps,
        baseline_peak_mib: baseline.rss_peak_mib,
        baseline_steady_mib: baseline.rss_steady_mib,
        restart,
        churn_updates_per_s: n as f64 / churn_s,
        churn_s,
        churn_cpu_cores,
        churn_reconciles,
        setup_s,
    }
}

fn unrelated_config_map(i: usize, version: usize) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(format!("unrelated-{i:05}")),
            labels: Some([("owner".to_string(), "unrelated".to_string())].into()),
            ..Default::default()
        },
        data: Some([("settings".to_string(), format!("version {version}"))].into()),
        ..Default::default()
    }
}

// ------------------------------------------------------------------------------------------
// Scenario 6: burst
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Burst {
    pub models: usize,
    pub requests_per_second: u32,
    pub time_scale: f64,
    /// From the first create until every model had been seen Training (or later).
    pub all_training_s: f64,
    pub creates_s: f64,
    /// Calls before the last model reached Training, by operation.
    pub calls: BTreeMap<String, u64>,
    /// Observed request rate over that time.
    pub observed_rps: f64,
    /// calls per model before Training × models / budget.
    pub budget_floor_s: f64,
    /// (seconds since first create, models that reached Training).
    pub series: Vec<(f64, f64)>,
}

pub async fn burst(env: &Env, models: usize, rps: u32, time_scale: f64, timeout: u64) -> Burst {
    log(&format!("burst: {models} LMs at {rps} requests/s"));
    let sim = start_simulator(time_scale, models + 16).await;
    let ns = namespace_with_services(env, "bench-burst", &[("stt", &sim, Some(rps))]).await;
    let lms: Api<CustomLanguageModel> = ns.api();
    let rec = Recorder::start(lms.clone());
    let mut flags = OperatorFlags::scaled(time_scale);
    flags.model_quota = models + 16;
    let op = Operator::start(env, &ns.name, &flags, &format!("burst-{}", ns.name));
    op.wait_ready().await;
    // Let the SpeechService's own check (token, listing) pass before the burst.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seq0 = next_seq(&sim).await;
    let objs: Vec<_> = (0..models)
        .map(|i| language_model(&format!("b-{i:04}"), "stt", true, 0))
        .collect();
    let t0 = now_ms();
    create_all(&lms, objs, 32).await;
    let creates_s = (now_ms() - t0) / 1000.0;
    let training = |o: &Obs| matches!(o.phase(), Some("Training" | "Available"));
    wait_for(
        &format!("{models} burst models Training"),
        Duration::from_secs(timeout),
        || async { (rec.count_latest(training) >= models).then_some(()) },
    )
    .await;
    drop(op);
    let firsts = rec.first_time(training);
    let last = firsts.values().copied().fold(t0, f64::max);
    let all_training_s = (last - t0) / 1000.0;
    let mut times: Vec<f64> = firsts.values().map(|t| (t - t0) / 1000.0).collect();
    times.sort_by(f64::total_cmp);
    let series = times
        .iter()
        .enumerate()
        .map(|(i, t)| (*t, (i + 1) as f64))
        .collect();
    let reqs: Vec<_> = requests(&sim, seq0)
        .await
        .into_iter()
        .filter(|r| (r.at_ms as f64) <= last)
        .collect();
    let calls = by_operation(reqs.iter());
    let total: u64 = calls.values().sum();
    let b = Burst {
        models,
        requests_per_second: rps,
        time_scale,
        all_training_s,
        creates_s,
        observed_rps: total as f64 / all_training_s.max(0.001),
        budget_floor_s: total as f64 / f64::from(rps),
        calls,
        series,
    };
    log(&format!(
        "burst: all {models} Training after {:.1} s ({} calls, {:.1} req/s)",
        b.all_training_s, total, b.observed_rps
    ));
    b
}

// ------------------------------------------------------------------------------------------
// Machine description
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    /// What the benchmark's kube-apiserver reported (absent before issue 14: v1.36.3 then).
    #[serde(default)]
    pub kube_apiserver: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Machine {
        kube_apiserver: String::new(),
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model: cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| "unknown".into()),
        memory_gib: mem_kib / 1024.0 / 1024.0,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// Every result of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub date: String,
    pub machine: Machine,
    pub command: String,
    pub lifecycle: Vec<LifecycleRun>,
    pub single: Vec<SingleLifecycle>,
    /// (nominal training s, progress-aware polls, fixed-10 s polls) from `decision::status::poll_after`.
    pub modelled_polls: Vec<(u64, u64, u64)>,
    pub fleet: Fleet,
    pub burst: Burst,
    /// Scenario 9 (absent from results before issue 26).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_audio: Option<LargeAudio>,
    /// Scenario 10 (absent from results before issue 26's fair-share times).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fair_share: Option<FairShare>,
    pub total_s: f64,
}

/// Sizes of a whole run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub lifecycle: LifecycleConfig,
    pub fixed_poll_seconds: u64,
    pub single_time_scale: f64,
    pub fleet: FleetConfig,
    pub burst_models: usize,
    pub burst_rps: u32,
    pub burst_time_scale: f64,
    /// Scenario 9's sources: (MiB, whether the length is announced).
    pub large_audio: Vec<(u64, bool)>,
    /// Scenario 10's models on the flooded service.
    pub fair_share_neighbours: usize,
}

/// The plan of `make bench`: default sizes, each overridable by its `WSO_BENCH_*` variable.
pub fn plan() -> Plan {
    let steady_small = env_size("WSO_BENCH_STEADY_SMALL", 100);
    let steady_large = env_size("WSO_BENCH_STEADY_LARGE", 1000);
    let restart_small = env_size("WSO_BENCH_RESTART_SMALL", 1000);
    let restart_large = env_size("WSO_BENCH_RESTART_LARGE", 10_000);
    Plan {
        lifecycle: LifecycleConfig {
            language_models: env_size("WSO_BENCH_LIFECYCLE_LMS", 20),
            acoustic_models: env_size("WSO_BENCH_LIFECYCLE_AMS", 20),
            time_scale: env_f64("WSO_BENCH_TIME_SCALE", 0.1),
            audio_minutes: env_size("WSO_BENCH_AUDIO_MINUTES", 11) as u32,
            fixed_poll_seconds: None,
            timeout_seconds: 900,
        },
        fixed_poll_seconds: env_size("WSO_BENCH_FIXED_POLL_SECONDS", 10) as u64,
        single_time_scale: env_f64("WSO_BENCH_SINGLE_TIME_SCALE", 0.1),
        fleet: FleetConfig {
            steady_sizes: vec![steady_small, steady_large],
            restart_sizes: vec![restart_small, restart_large],
            drift_interval_s: env_size("WSO_BENCH_DRIFT_SECONDS", 10) as u64,
            steady_intervals: env_size("WSO_BENCH_STEADY_INTERVALS", 6) as u64,
            settle_s: env_size("WSO_BENCH_SETTLE_SECONDS", 20) as u64,
            build_concurrency: env_size("WSO_BENCH_BUILD_CONCURRENCY", 32) as u16,
            timeout_seconds: 1800,
            unrelated_at: Some(env_size("WSO_BENCH_UNRELATED_AT", 1000)),
            unrelated_secrets: env_size("WSO_BENCH_UNRELATED_SECRETS", 2000),
            unrelated_secret_kib: env_size("WSO_BENCH_UNRELATED_SECRET_KIB", 100),
            unrelated_config_maps: env_size("WSO_BENCH_UNRELATED_CONFIG_MAPS", 2000),
            churn_updates_per_s: env_size("WSO_BENCH_CHURN_PER_SECOND", 10) as u32,
            churn_s: env_size("WSO_BENCH_CHURN_SECONDS", 60) as u64,
        },
        burst_models: env_size("WSO_BENCH_BURST_MODELS", 1000),
        burst_rps: env_size("WSO_BENCH_BURST_RPS", 50) as u32,
        burst_time_scale: env_f64("WSO_BENCH_BURST_TIME_SCALE", 1.0),
        large_audio: vec![
            (env_size("WSO_BENCH_LARGE_AUDIO_MIB", 200) as u64, false),
            (env_size("WSO_BENCH_UPLOAD_AUDIO_MIB", 95) as u64, true),
        ],
        fair_share_neighbours: env_size("WSO_BENCH_FAIR_SHARE_NEIGHBOURS", 50),
    }
}

/// Runs every scenario of the plan.
pub async fn run_all(env: &Env, plan: &Plan, command: &str) -> Results {
    let t0 = Instant::now();
    let mut lifecycle_runs = vec![];
    let mut single = vec![];
    for fixed in [None, Some(plan.fixed_poll_seconds)] {
        let mut cfg = plan.lifecycle.clone();
        cfg.fixed_poll_seconds = fixed;
        lifecycle_runs.push(lifecycle(env, &cfg).await);
        single.push(single_lifecycle(env, plan.single_time_scale, fixed).await);
    }
    let modelled = [300u64, 1800, 3600]
        .iter()
        .map(|&t| {
            let (p, f) = modelled_polls(
                Duration::from_secs(t),
                Duration::from_secs(600),
                Duration::from_secs(300),
                Duration::from_secs(10),
            );
            (t, p, f)
        })
        .collect();
    let fleet = fleet(env, &plan.fleet).await;
    let burst = burst(
        env,
        plan.burst_models,
        plan.burst_rps,
        plan.burst_time_scale,
        plan.fleet.timeout_seconds,
    )
    .await;
    Results {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        machine: Machine {
            kube_apiserver: env.cp.server_version.clone(),
            ..machine()
        },
        command: command.to_string(),
        lifecycle: lifecycle_runs,
        single,
        modelled_polls: modelled,
        fleet,
        burst,
        large_audio: Some(large_audio(env, &plan.large_audio, plan.fleet.timeout_seconds).await),
        fair_share: Some(fair_share(env, plan.fair_share_neighbours, 300).await),
        total_s: t0.elapsed().as_secs_f64(),
    }
}

/// Internal consistency of a run (what the smoke test asserts; no targets).
pub fn check(r: &Results) {
    for run in &r.lifecycle {
        let want = run.config.language_models + run.config.acoustic_models;
        assert_eq!(run.models.len(), want, "{}: every model measured", run.mode);
        for m in &run.models {
            assert!(
                m.apply_to_ready_s > 0.0 && m.apply_to_ready_s.is_finite(),
                "{m:?}"
            );
            assert!(
                m.busy_s > 0.0,
                "{}: the simulator was busy on {}",
                run.mode,
                m.name
            );
            assert!(m.overhead_s.is_finite(), "{m:?}");
            assert!(m.calls.values().sum::<u64>() > 0, "{m:?}");
            assert!(m.writes.total >= m.writes.status_changes, "{m:?}");
            assert!(m.writes.status_changes > 0, "{m:?}");
        }
        assert!(run.total_calls > 0 && run.calls_per_lifecycle.is_finite());
        assert!(
            run.overhead_all.p50 <= run.overhead_all.p95
                && run.overhead_all.p95 <= run.overhead_all.max
        );
    }
    for s in &r.single {
        assert!(s.total >= 4, "{s:?}");
        assert!(s.calls.contains_key("train_language_model"), "{s:?}");
    }
    for (_, p, f) in &r.modelled_polls {
        assert!(*p > 0 && *f > 0);
    }
    assert!(!r.fleet.steady.is_empty());
    for s in &r.fleet.steady {
        assert!(
            s.intervals > 0.5 && s.calls_per_interval_per_service.is_finite(),
            "{s:?}"
        );
    }
    assert!(!r.fleet.restarts.is_empty());
    for x in &r.fleet.restarts {
        assert!(
            x.all_reconciled_s > 0.0 && x.all_reconciled_s >= x.ready_s,
            "{x:?}"
        );
        assert!(
            x.rss_steady_mib > 1.0 && x.rss_peak_mib >= x.rss_steady_mib,
            "{x:?}"
        );
    }
    let b = &r.burst;
    assert_eq!(b.series.len(), b.models);
    assert!(b.all_training_s > 0.0 && b.calls.values().sum::<u64>() >= b.models as u64);
    if let Some(f) = &r.fair_share {
        // Every time measured; the flooded service saw a handful of requests, not one per
        // neighbour and retry.
        assert!(
            f.alone_ready_s > 0.0 && f.beside_ready_s > 0.0 && f.neighbours_reconciled_s > 0.0,
            "{f:?}"
        );
        assert!((1..=6).contains(&f.flooded_requests), "{f:?}");
    }
    for x in r.large_audio.iter().flat_map(|l| &l.runs) {
        // An announced source within IBM's limit is uploaded whole, having been read twice
        // (digest, upload); a larger one is refused having been read at most once past the limit.
        let bytes = x.source_mib * 1024 * 1024;
        if x.announced && bytes <= 100 * 1024 * 1024 {
            assert_eq!(x.outcome, "uploaded", "{x:?}");
            assert_eq!(x.uploaded_bytes, bytes, "{x:?}");
            assert!(x.served_bytes >= 2 * bytes, "{x:?}");
        } else {
            assert_eq!(x.outcome, "InputTooLarge", "{x:?}");
        }
        assert!(
            x.peak_rss_mib >= x.baseline_rss_mib && x.seconds > 0.0,
            "{x:?}"
        );
    }
}

/// Where a file of the repository is.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
