//! The benchmark scenarios of `make bench` (`benches/scenarios/`) at tiny sizes on the debug
//! operator, so the harness keeps working. Asserts only that every scenario runs and its numbers
//! are internally consistent: the performance targets are not asserted (the machines are noisy).

mod support;

#[path = "../benches/scenarios/mod.rs"]
mod scenarios;

#[path = "../benches/report/mod.rs"]
mod report;

use std::path::PathBuf;

use scenarios::{Env, FleetConfig, LifecycleConfig, Plan};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_at_tiny_sizes() {
    let Some(cp) = support::control_plane() else {
        return;
    };
    let env = Env::new(
        cp,
        PathBuf::from(env!("CARGO_BIN_EXE_watson-speech-operator")),
    );
    let plan = Plan {
        lifecycle: LifecycleConfig {
            language_models: 2,
            acoustic_models: 2,
            time_scale: 0.005,
            audio_minutes: 11,
            fixed_poll_seconds: None,
            timeout_seconds: 120,
        },
        fixed_poll_seconds: 1,
        single_time_scale: 0.01,
        fleet: FleetConfig {
            steady_sizes: vec![6, 12],
            restart_sizes: vec![12],
            drift_interval_s: 2,
            steady_intervals: 2,
            settle_s: 1,
            build_concurrency: 8,
            timeout_seconds: 120,
            unrelated_at: Some(12),
            unrelated_secrets: 4,
            unrelated_secret_kib: 16,
            unrelated_config_maps: 4,
            churn_updates_per_s: 10,
            churn_s: 2,
        },
        burst_models: 10,
        burst_rps: 50,
        burst_time_scale: 1.0,
        large_audio: vec![(1, true)],
        fair_share_neighbours: 3,
    };
    let started = std::time::Instant::now();
    let results = scenarios::run_all(&env, &plan, "cargo test --test bench_smoke").await;
    scenarios::check(&results);
    let json = serde_json::to_string_pretty(&results).expect("results serialize");
    let _ = std::fs::write(std::env::temp_dir().join("wso-bench-smoke.json"), json);
    eprintln!("bench smoke: {:.1} s", started.elapsed().as_secs_f64());
}

/// Runs one scenario at full size (`plan()`'s sizes) on the operator binary of this build, sets
/// its result with `set` in `docs/bench/results.json` and renders `docs/benchmarks.md`: for
/// re-measuring one scenario without the whole `make bench`.
async fn one_scenario_at_full_size<F, Fut>(run: F)
where
    F: FnOnce(Env, scenarios::Plan) -> Fut,
    Fut: std::future::Future<Output = Box<dyn FnOnce(&mut scenarios::Results)>>,
{
    let Some(cp) = support::control_plane() else {
        return;
    };
    let env = Env::new(
        cp,
        PathBuf::from(env!("CARGO_BIN_EXE_watson-speech-operator")),
    );
    let plan = scenarios::plan();
    let set = run(env, plan.clone()).await;
    let dir = scenarios::repo_path("docs/bench");
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    let mut results: scenarios::Results = serde_json::from_str(&text).expect("results.json parses");
    set(&mut results);
    scenarios::check(&results);
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&results).expect("json"),
    )
    .expect("write results.json");
    let md = report::write(&results, &plan, &dir);
    std::fs::write(scenarios::repo_path("docs/benchmarks.md"), md).expect("write benchmarks.md");
}

/// Scenario 9 alone at full size (a 200 MiB source past IBM's limit, a 95 MiB one uploaded):
/// `cargo test --test bench_smoke -- --ignored large_audio_at_full_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full-size scenario 9; writes docs/bench/results.json and docs/benchmarks.md"]
async fn large_audio_at_full_size() {
    one_scenario_at_full_size(|env, plan| async move {
        let large = scenarios::large_audio(&env, &plan.large_audio, 600).await;
        Box::new(move |r: &mut scenarios::Results| r.large_audio = Some(large))
            as Box<dyn FnOnce(&mut scenarios::Results)>
    })
    .await;
}

/// Scenario 10 alone at full size (50 models on a service answering 429 for a day):
/// `cargo test --test bench_smoke -- --ignored fair_share_at_full_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full-size scenario 10; writes docs/bench/results.json and docs/benchmarks.md"]
async fn fair_share_at_full_size() {
    one_scenario_at_full_size(|env, plan| async move {
        let fair = scenarios::fair_share(&env, plan.fair_share_neighbours, 300).await;
        Box::new(move |r: &mut scenarios::Results| r.fair_share = Some(fair))
            as Box<dyn FnOnce(&mut scenarios::Results)>
    })
    .await;
}
