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

use scenarios::{Env, plan, repo_path};

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
