//! `make bench`: the seven scenarios of issue 6 on the real control plane, the simulator and the
//! release operator binary; writes `docs/bench/results.json`, `docs/bench/*.png` and
//! `docs/benchmarks.md`.
//!
//! `cargo test --all-targets` builds and runs this target without `--bench`: it then only says
//! how to run it. Sizes come from environment variables (see `plan()` and the report).

#[path = "../tests/support/mod.rs"]
mod support;

mod report;
mod scenarios;

use std::path::PathBuf;

use scenarios::{Env, FleetConfig, LifecycleConfig, Plan, env_f64, env_size, repo_path};

fn plan() -> Plan {
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
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("operator bench: not run under `cargo test` (use `make bench`)");
        return;
    }
    if std::env::var("WSO_BENCH_REPORT_ONLY").as_deref() == Ok("1") {
        // Re-render docs/benchmarks.md and the plots from the committed results.json.
        let out = repo_path("docs/bench");
        let text = std::fs::read_to_string(out.join("results.json")).expect("results.json");
        let results: scenarios::Results = serde_json::from_str(&text).expect("parse results.json");
        let md = report::write(&results, &plan(), &out);
        std::fs::write(repo_path("docs/benchmarks.md"), md).expect("write docs/benchmarks.md");
        eprintln!("re-rendered docs/benchmarks.md and docs/bench/*.png from results.json");
        return;
    }
    let operator_bin = std::env::var_os("WSO_OPERATOR_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_path("target"));
            target.join("release/watson-speech-operator")
        });
    assert!(
        operator_bin.exists(),
        "operator binary {} not found: run `make bench` (it builds it) or set WSO_OPERATOR_BIN",
        operator_bin.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cp = support::control_plane().expect("control plane (run `make k8s-bins`)");
    let env = Env::new(cp, operator_bin);
    let plan = plan();
    eprintln!("{plan:#?}");
    let results = rt.block_on(scenarios::run_all(&env, &plan, "make bench"));
    scenarios::check(&results);
    let out = repo_path("docs/bench");
    std::fs::create_dir_all(&out).expect("docs/bench");
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(&results).expect("json"),
    )
    .expect("write results.json");
    let md = report::write(&results, &plan, &out);
    std::fs::write(repo_path("docs/benchmarks.md"), md).expect("write docs/benchmarks.md");
    eprintln!(
        "wrote docs/bench/results.json, docs/bench/*.png and docs/benchmarks.md ({:.0} s)",
        results.total_s
    );
}
