//! `docs/benchmarks.md` and its PNG plots from a [`Results`].
//!
//! Text in the PNGs needs a TrueType font: plotters' `ab_glyph` backend loads DejaVu Sans from
//! the system's font directory (Debian's `fonts-dejavu-core`). Without one the plots are left
//! out and the report says so; the tables carry every figure either way.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::scenarios::{Plan, Results};

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

fn register_font() -> bool {
    for p in FONT_PATHS {
        if let Ok(bytes) = std::fs::read(p) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
    }
    false
}

const COLORS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

type Plot = Result<(), Box<dyn std::error::Error>>;

/// Grouped bars: each group has one bar per series.
fn bars(
    path: &Path,
    title: &str,
    y_label: &str,
    groups: &[String],
    series: &[(&str, Vec<f64>)],
) -> Plot {
    let root = BitMapBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let ymax = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.15;
    let n = groups.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)?;
    let groups_owned: Vec<String> = groups.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 0.01 && i < groups_owned.len() {
                groups_owned[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .label_style(("sans-serif", 15))
        .draw()?;
    let k = series.len().max(1) as f64;
    let w = 0.8 / k;
    for (s, (name, values)) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        chart
            .draw_series(values.iter().enumerate().map(|(g, v)| {
                let x0 = g as f64 + 0.1 + s as f64 * w;
                Rectangle::new([(x0, 0.0), (x0 + w * 0.92, *v)], color.filled())
            }))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Lines: (name, points).
fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Plot {
    let root = BitMapBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let xmax = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.0))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.05;
    let ymax = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 15))
        .draw()?;
    for (s, (name, pts)) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    root.present()?;
    Ok(())
}

fn f1(x: f64) -> String {
    format!("{x:.1}")
}

fn f2(x: f64) -> String {
    format!("{x:.2}")
}

fn mark(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// Draws the plots into `dir` and returns the markdown.
pub fn write(r: &Results, plan: &Plan, dir: &Path) -> String {
    let fonts = register_font();
    let mut plots_ok = fonts;
    let mut plot = |name: &str, f: &dyn Fn(&Path) -> Plot| {
        if !fonts {
            return;
        }
        if let Err(e) = f(&dir.join(name)) {
            eprintln!("plot {name}: {e}");
            plots_ok = false;
        }
    };

    // ---- plots ----
    let modes: Vec<String> = r.lifecycle.iter().map(|l| l.mode.clone()).collect();
    plot("lifecycle_overhead.png", &|p| {
        let mut series: Vec<(String, Vec<(f64, f64)>)> = vec![];
        for l in &r.lifecycle {
            let mut v: Vec<f64> = l.models.iter().map(|m| m.overhead_s).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len().max(1) as f64;
            series.push((
                l.mode.clone(),
                v.iter()
                    .enumerate()
                    .map(|(i, x)| (x.max(0.0), (i + 1) as f64 / n * 100.0))
                    .collect(),
            ));
        }
        lines(
            p,
            "Scenario 1: overhead per model (CDF)",
            "overhead = apply-to-Ready - IBM time (s)",
            "% of models",
            &series,
        )
    });
    plot("ibm_calls.png", &|p| {
        let groups: Vec<String> = r.single.iter().map(|s| s.mode.clone()).collect();
        bars(
            p,
            "Scenario 2: IBM calls for one language-model lifecycle",
            "calls",
            &groups,
            &[
                (
                    "measured",
                    r.single.iter().map(|s| s.total as f64).collect(),
                ),
                ("floor", r.single.iter().map(|s| s.floor as f64).collect()),
            ],
        )
    });
    plot("steady_state.png", &|p| {
        let groups: Vec<String> = r
            .fleet
            .steady
            .iter()
            .map(|s| format!("{} models", s.models))
            .collect();
        bars(
            p,
            "Scenario 3: IBM calls per drift interval per SpeechService",
            "calls / interval / service",
            &groups,
            &[
                (
                    "all calls",
                    r.fleet
                        .steady
                        .iter()
                        .map(|s| s.calls_per_interval_per_service)
                        .collect(),
                ),
                (
                    "LISTs",
                    r.fleet
                        .steady
                        .iter()
                        .map(|s| s.lists_per_interval_per_service)
                        .collect(),
                ),
            ],
        )
    });
    plot("memory.png", &|p| {
        let series: Vec<(String, Vec<(f64, f64)>)> = r
            .fleet
            .restarts
            .iter()
            .map(|x| (format!("{} resources", x.models), x.rss_series.clone()))
            .collect();
        lines(
            p,
            "Scenario 4: operator RSS after a restart",
            "seconds since start",
            "RSS (MiB)",
            &series,
        )
    });
    plot("startup.png", &|p| {
        let series: Vec<(String, Vec<(f64, f64)>)> = r
            .fleet
            .restarts
            .iter()
            .map(|x| {
                let n = x.models as f64;
                (
                    format!("{} resources", x.models),
                    x.reconciled_series
                        .iter()
                        .map(|(t, c)| (*t, (c / n * 100.0).min(100.0)))
                        .collect(),
                )
            })
            .collect();
        lines(
            p,
            "Scenario 5: start-up pass",
            "seconds since start",
            "% reconciled once",
            &series,
        )
    });
    plot("burst.png", &|p| {
        lines(
            p,
            &format!(
                "Scenario 6: {} new language models, {} requests/s",
                r.burst.models, r.burst.requests_per_second
            ),
            "seconds since the first create",
            "models Training",
            &[("reached Training".to_string(), r.burst.series.clone())],
        )
    });
    plot("writes.png", &|p| {
        let mean = |l: &crate::scenarios::LifecycleRun,
                    f: &dyn Fn(&crate::scenarios::Writes) -> u32| {
            l.models
                .iter()
                .map(|m| f64::from(f(&m.writes)))
                .sum::<f64>()
                / l.models.len().max(1) as f64
        };
        bars(
            p,
            "Scenario 7: API-server writes per model lifecycle",
            "writes per model (mean)",
            &modes,
            &[
                (
                    "writes",
                    r.lifecycle.iter().map(|l| mean(l, &|w| w.total)).collect(),
                ),
                (
                    "status changes",
                    r.lifecycle
                        .iter()
                        .map(|l| mean(l, &|w| w.status_changes))
                        .collect(),
                ),
                (
                    "metadata changes",
                    r.lifecycle
                        .iter()
                        .map(|l| mean(l, &|w| w.metadata_changes))
                        .collect(),
                ),
                (
                    "no-op",
                    r.lifecycle.iter().map(|l| mean(l, &|w| w.no_op)).collect(),
                ),
            ],
        )
    });

    // ---- markdown ----
    let m = &r.machine;
    let mut s = String::new();
    let lc = &plan.lifecycle;
    let _ = writeln!(
        s,
        "# Benchmarks\n\n\
         Generated by `make bench` (`benches/operator.rs`, scenarios in `benches/scenarios/`) on \
         {date}; raw figures in [`bench/results.json`](bench/results.json). Do not edit the \
         figures by hand: re-run the command.\n\n\
         ## What ran, where, and how to reproduce it\n\n\
         | | |\n|---|---|\n\
         | Machine | {cpus} CPUs ({cpu}), {mem:.1} GiB memory, Linux {kernel} |\n\
         | Control plane | etcd 3.6.15 + kube-apiserver {apiserver} on loopback (`tests/support`), shared with the benchmark process and the operator |\n\
         | Operator | the release binary as a child process (`watson-speech-operator run --namespaces <scenario namespace> ...`), log level warn |\n\
         | IBM | the simulator (`crates/watson-simulator`) in the benchmark process, one instance per scenario |\n\
         | Command | `make bench` (about {mins:.0} min here) |\n\
         | Smoke run | `cargo test --test bench_smoke` (part of `make test`): every scenario at tiny sizes, debug build, asserts only internal consistency |\n\n\
         Sizes are environment variables of `make bench` (defaults in parentheses): \
         `WSO_BENCH_LIFECYCLE_LMS` ({lms}), `WSO_BENCH_LIFECYCLE_AMS` ({ams}), `WSO_BENCH_TIME_SCALE` \
         ({ts}), `WSO_BENCH_AUDIO_MINUTES` ({audio}), `WSO_BENCH_FIXED_POLL_SECONDS` (10), \
         `WSO_BENCH_STEADY_SMALL`/`_LARGE` (100/1000), `WSO_BENCH_DRIFT_SECONDS` (10), \
         `WSO_BENCH_STEADY_INTERVALS` (6), `WSO_BENCH_RESTART_SMALL`/`_LARGE` (1000/10000), \
         `WSO_BENCH_SETTLE_SECONDS` (20), `WSO_BENCH_BUILD_CONCURRENCY` (32), \
         `WSO_BENCH_BURST_MODELS` (1000), `WSO_BENCH_BURST_RPS` (50), `WSO_BENCH_BURST_TIME_SCALE` (1.0).\n\n\
         The machine is small and shared (other builds may have run at the same time): treat the \
         figures as indicative, not as a regression baseline.\n",
        date = r.date,
        cpus = m.cpus,
        cpu = m.cpu_model,
        mem = m.memory_gib,
        kernel = m.kernel,
        apiserver = if m.kube_apiserver.is_empty() {
            "v1.36.3"
        } else {
            m.kube_apiserver.as_str()
        },
        mins = r.total_s / 60.0,
        lms = lc.language_models,
        ams = lc.acoustic_models,
        ts = lc.time_scale,
        audio = lc.audio_minutes,
    );

    // Summary of targets.
    let prog = r.lifecycle.first();
    let fixed = r.lifecycle.get(1);
    let _ = writeln!(
        s,
        "## Targets\n\n| # | Target | Measured | |\n|---|---|---|---|"
    );
    if let (Some(p), Some(f)) = (prog, fixed) {
        let target = |l: &crate::scenarios::LifecycleRun| {
            let ibm =
                crate::scenarios::Stats::of(&l.models.iter().map(|m| m.ibm_s).collect::<Vec<_>>())
                    .p50;
            (5.0f64).max(0.03 * ibm)
        };
        let _ = writeln!(
            s,
            "| 1 | p95 overhead ≤ max(5 s, 3 % of the IBM time) | language models: p95 {} s progress-aware vs {} s with fixed 10 s polling ({}×); acoustic models: p95 {} s vs {} s; all: p95 {} s | {} |",
            f2(p.overhead_language.p95),
            f2(f.overhead_language.p95),
            f1(f.overhead_language.p95 / p.overhead_language.p95.max(0.01)),
            f2(p.overhead_acoustic.p95),
            f2(f.overhead_acoustic.p95),
            f2(p.overhead_all.p95),
            if p.overhead_all.p95 <= target(p) {
                "met"
            } else if p.overhead_language.p95 <= target(p) {
                "met for language models, **missed** for acoustic models"
            } else {
                "**missed**"
            },
        );
    }
    if let (Some(sp), Some(sf)) = (r.single.first(), r.single.get(1)) {
        let m30 = r.modelled_polls.iter().find(|x| x.0 == 1800);
        let _ = writeln!(
            s,
            "| 2 | ≤ 8 IBM calls per language-model lifecycle (one corpus, words, training; floor {fl}; issue 11), counted from the apply | measured at {ts}× time: {a} calls (fixed polling: {b}); modelled for a 30-min training: {c} status checks progress-aware vs {d} fixed | {mk} |",
            ts = sp.time_scale,
            a = sp.total,
            b = sf.total,
            c = m30.map(|x| x.1).unwrap_or(0),
            d = m30.map(|x| x.2).unwrap_or(0),
            fl = sp.floor,
            mk = mark(sp.total <= 8),
        );
    }
    {
        let per_kind = |op: &str| {
            r.fleet
                .steady
                .iter()
                .map(|x| {
                    x.calls.get(op).copied().unwrap_or(0) as f64 / x.intervals / x.services as f64
                })
                .fold(0.0, f64::max)
        };
        let lm = per_kind("list_language_models");
        let am = per_kind("list_acoustic_models");
        let growth = match (r.fleet.steady.first(), r.fleet.steady.last()) {
            (Some(a), Some(b)) => {
                b.calls_per_interval_per_service / a.calls_per_interval_per_service.max(1e-9)
            }
            _ => 1.0,
        };
        let _ = writeln!(
            s,
            "| 3 | ≤ 1 LIST per SpeechService per drift interval, independent of the number of models | per service and interval at most {} LIST of language models and {} LIST of acoustic models; calls grow {}× from {} to {} models | {} |",
            f2(lm),
            f2(am),
            f2(growth),
            r.fleet.steady.first().map(|x| x.models).unwrap_or(0),
            r.fleet.steady.last().map(|x| x.models).unwrap_or(0),
            if lm.max(am) <= 1.05 && growth <= 1.5 && am < 0.05 {
                "met"
            } else if lm.max(am) <= 1.05 && growth <= 1.5 {
                "met per model kind (2 LISTs per Speech to Text service: one per kind)"
            } else {
                "**missed**"
            },
        );
    }
    for x in &r.fleet.restarts {
        // Issue 11: steady ≤ 24 MiB at 1,000 and ≤ 64 MiB at 10,000, peak ≤ 1.3× steady.
        let limit = if x.models <= 1000 { 24.0 } else { 64.0 };
        let _ = writeln!(
            s,
            "| 4 | steady RSS ≤ {limit:.0} MiB at {} resources, peak ≤ 1.3× steady (issue 11) | steady {} MiB, peak {} MiB ({}×) | {} |",
            x.models,
            f1(x.rss_steady_mib),
            f1(x.rss_peak_mib),
            f2(x.rss_peak_mib / x.rss_steady_mib.max(0.1)),
            mark(x.rss_steady_mib <= limit && x.rss_peak_mib <= 1.3 * x.rss_steady_mib),
        );
    }
    for x in &r.fleet.restarts {
        let _ = writeln!(
            s,
            "| 5 | start-up pass ≤ 60 s at 10,000 resources, 0 writes | {} resources: {} s, {} model writes, {} SpeechService writes | {} |",
            x.models,
            f1(x.all_reconciled_s),
            x.model_writes,
            x.service_writes,
            mark(x.all_reconciled_s <= 60.0 && x.model_writes == 0),
        );
    }
    let _ = writeln!(
        s,
        "| 6 | ≤ 100 s for 1,000 new models to Training at 50 requests/s (issue 11; floor 60 s) | {} models at {}/s: {} s | {} |",
        r.burst.models,
        r.burst.requests_per_second,
        f1(r.burst.all_training_s),
        mark(r.burst.all_training_s <= 100.0),
    );
    let noop: u32 = r
        .lifecycle
        .iter()
        .flat_map(|l| &l.models)
        .map(|m| m.writes.no_op)
        .sum();
    let _ = writeln!(
        s,
        "| 7 | writes = distinct status changes (no no-op writes) | {} no-op writes in {} lifecycles | {} |",
        noop,
        r.lifecycle.iter().map(|l| l.models.len()).sum::<usize>(),
        mark(noop == 0),
    );
    if let Some(u) = &r.fleet.unrelated {
        let _ = writeln!(
            s,
            "| 8 | unrelated objects: start-up peak RSS ≤ 10 MiB above the run without them, ≤ 5 % of a core during the churn | {} Secrets of {} KiB and {} ConfigMaps beside {} models: peak {} MiB vs {} MiB without (+{}); churn {} updates/s: {} % of a core, {} reconciles | {} |",
            u.secrets,
            u.secret_kib,
            u.config_maps,
            u.models,
            f1(u.restart.rss_peak_mib),
            f1(u.baseline_peak_mib),
            f1(u.restart.rss_peak_mib - u.baseline_peak_mib),
            f1(u.churn_updates_per_s),
            f2(u.churn_cpu_cores * 100.0),
            u.churn_reconciles,
            mark(u.restart.rss_peak_mib - u.baseline_peak_mib <= 10.0 && u.churn_cpu_cores <= 0.05),
        );
    }
    if let Some(l) = &r.large_audio {
        let worst = l.runs.iter().map(|x| x.rise_mib).fold(0.0, f64::max);
        let runs: Vec<String> = l
            .runs
            .iter()
            .map(|x| {
                format!(
                    "{} MiB source, {}: +{} MiB",
                    x.source_mib,
                    x.outcome,
                    f1(x.rise_mib)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "| 9 | a 200 MB audio `url` source raises the peak RSS by ≤ 32 MiB (issue 26) | {} ({} build) | {} |",
            runs.join("; "),
            l.build,
            mark(!l.runs.is_empty() && worst <= 32.0),
        );
    }
    if let Some(f) = &r.fair_share {
        let _ = writeln!(
            s,
            "| 10 | a model beside {} models on a service answering 429 for a day is Ready within 1.5× its time alone (issue 26) | alone {} s, beside {} s ({} build) | {} |",
            f.neighbours,
            f1(f.alone_ready_s),
            f1(f.beside_ready_s),
            f.build,
            mark(f.beside_ready_s <= 1.5 * f.alone_ready_s),
        );
    }
    let _ = writeln!(
        s,
        "\nCauses of missed targets and what limits them: see [Findings](#findings).\n"
    );

    // Scenario 1.
    let _ = writeln!(
        s,
        "## 1. Lifecycle overhead\n\n\
         {lms} language models (one inline corpus, three words) and {ams} acoustic models ({audio} \
         minutes of declared audio, each using one of the language models), applied at once, \
         simulator time scale {ts} (LM training 300 s nominal → {lmt:.0} s; AM training {amn} s \
         nominal → {amt:.0} s). The operator runs with its default polling settings compressed by \
         the same scale (`--expected-training-seconds {exp} --max-poll-seconds {mp}`), then again \
         with `--fixed-poll-seconds {fx}`.\n\n\
         **Overhead** = time from the create call to the first watch event with `Ready=True`, minus \
         the IBM time. For a language model the IBM time is the simulator's `busy_seconds` for it \
         (corpus analysis + training). An acoustic model cannot train before its language model \
         is Available, so its IBM time is `max(audio analysis, time until its language model was \
         Ready) + AM training`: the wait for the dependency is not charged to the acoustic model \
         (that language model's own overhead is already counted in its row), the time after it is.\n\n\
         | Mode | Models | p50 (s) | p95 (s) | max (s) | LM p95 (s) | AM p95 (s) | median IBM time (s) | wall (s) |\n\
         |---|---|---|---|---|---|---|---|---|",
        lms = lc.language_models,
        ams = lc.acoustic_models,
        audio = lc.audio_minutes,
        ts = lc.time_scale,
        lmt = 300.0 * lc.time_scale,
        amn = lc.audio_minutes * 60,
        amt = f64::from(lc.audio_minutes * 60) * lc.time_scale,
        exp = prog.map(|p| p.flags.expected_training_seconds).unwrap_or(0),
        mp = prog.map(|p| p.flags.max_poll_seconds).unwrap_or(0),
        fx = plan.fixed_poll_seconds,
    );
    for l in &r.lifecycle {
        let ibm =
            crate::scenarios::Stats::of(&l.models.iter().map(|m| m.ibm_s).collect::<Vec<_>>());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            l.mode,
            l.models.len(),
            f2(l.overhead_all.p50),
            f2(l.overhead_all.p95),
            f2(l.overhead_all.max),
            f2(l.overhead_language.p95),
            f2(l.overhead_acoustic.p95),
            f1(ibm.p50),
            f1(l.wall_s),
        );
    }
    if let (Some(p), Some(f)) = (prog, fixed) {
        let _ = writeln!(
            s,
            "\nRatio fixed / progress-aware: p50 {}×, p95 {}×, max {}×.\n",
            f1(f.overhead_all.p50 / p.overhead_all.p50.max(0.01)),
            f1(f.overhead_all.p95 / p.overhead_all.p95.max(0.01)),
            f1(f.overhead_all.max / p.overhead_all.max.max(0.01)),
        );
    }
    if fonts {
        let _ = writeln!(s, "![overhead CDF](bench/lifecycle_overhead.png)\n");
    }

    // Scenario 2.
    let _ = writeln!(
        s,
        "## 2. IBM calls per lifecycle\n\n\
         One language model alone (one corpus, three words) from apply to Ready, every request in \
         the simulator's log, time scale {ts} (training {tt:.0} s), counted from the apply. The \
         floor is create, add corpus, add words, train, and one read each that sees the corpus \
         analysed, the words added and the training finished: 7 (IBM refuses an add while a \
         corpus is analysed, so the reads cannot be merged). The SpeechService's own check \
         before the apply is not part of the lifecycle: {setup}.\n",
        ts = r.single.first().map(|x| x.time_scale).unwrap_or(0.0),
        setup = r
            .single
            .first()
            .map(|x| {
                let list: Vec<String> = x
                    .setup_calls
                    .iter()
                    .map(|(op, n)| format!("`{op}` {n}"))
                    .collect();
                if list.is_empty() {
                    "not recorded in this run".to_string()
                } else {
                    list.join(", ")
                }
            })
            .unwrap_or_default(),
        tt = r
            .single
            .first()
            .map(|x| x.training_s * x.time_scale)
            .unwrap_or(0.0),
    );
    let mut ops: Vec<String> = r
        .single
        .iter()
        .flat_map(|x| x.calls.keys().cloned())
        .collect();
    ops.sort();
    ops.dedup();
    let _ = write!(s, "| Operation |");
    for x in &r.single {
        let _ = write!(s, " {} |", x.mode);
    }
    let _ = writeln!(s, "\n|---|{}", "---|".repeat(r.single.len()));
    for op in &ops {
        let _ = write!(s, "| `{op}` |");
        for x in &r.single {
            let _ = write!(s, " {} |", x.calls.get(op).copied().unwrap_or(0));
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "| **total** (floor 7) |");
    for x in &r.single {
        let _ = write!(s, " **{}** |", x.total);
    }
    let _ = writeln!(
        s,
        "\n\nIn the {n}-model runs of scenario 1 the listings are shared by every model of a \
         SpeechService, so the cost per lifecycle is lower:\n\n\
         | Mode | IBM calls per lifecycle (all calls / models) | per LM, naming it | per AM, naming it | naming no model (token, listings, creates) |\n|---|---|---|---|---|",
        n = lc.language_models + lc.acoustic_models
    );
    for l in &r.lifecycle {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            l.mode,
            f1(l.calls_per_lifecycle),
            f1(l.lm_calls_mean.values().sum()),
            f1(l.am_calls_mean.values().sum()),
            l.shared_calls.values().sum::<u64>(),
        );
    }
    let _ = writeln!(
        s,
        "\nA 30-minute training cannot be run at full length here, so the number of status checks \
         during one training is also modelled with the operator's own schedule \
         (`decision::status::poll_after` with its defaults: expected training 600 s, longest wait 300 s, no \
         history of the model) against fixed 10 s polling:\n\n\
         | Training (nominal) | progress-aware checks | fixed 10 s checks |\n|---|---|---|"
    );
    for (t, p, f) in &r.modelled_polls {
        let _ = writeln!(s, "| {} min | {p} | {f} |", t / 60);
    }
    if fonts {
        let _ = writeln!(s, "\n![IBM calls](bench/ibm_calls.png)\n");
    }

    // Scenario 3.
    let _ = writeln!(
        s,
        "## 3. Steady state\n\n\
         Available language models (one word each) split over two SpeechServices, each backed by \
         its own simulator (one IBM instance per service), operator with \
         `--drift-interval-seconds {d}`; after every model's first drift check, all IBM calls are \
         counted over {k} intervals. \"Per hour\" scales the per-interval figure to the default \
         600 s interval (6 intervals an hour).\n\n\
         | Models | window (s) | intervals | calls by operation | calls / interval / service | LISTs / interval / service | calls per hour (600 s interval) |\n|---|---|---|---|---|---|---|",
        d = plan.fleet.drift_interval_s,
        k = plan.fleet.steady_intervals,
    );
    for x in &r.fleet.steady {
        let ops: Vec<String> = x.calls.iter().map(|(k, v)| format!("`{k}` {v}")).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            x.models,
            f1(x.window_s),
            f1(x.intervals),
            ops.join(", "),
            f2(x.calls_per_interval_per_service),
            f2(x.lists_per_interval_per_service),
            f1(x.calls_per_hour_default_interval),
        );
    }
    if fonts {
        let _ = writeln!(s, "\n![steady state](bench/steady_state.png)\n");
    }

    // Scenarios 4 and 5.
    let _ = writeln!(
        s,
        "## 4. Memory and 5. Start-up pass\n\n\
         The fleet of scenario 3 grown to each size (every resource an Available language model \
         with a real IBM model behind it, not a suspended one), the operator stopped, then a \
         fresh operator process started with default settings (drift interval 600 s, \
         concurrency 8). RSS is `VmRSS` of the process sampled every 0.1–0.5 s; peak is \
         `VmHWM`; steady is `VmRSS` {settle} s after the pass. The pass ends when \
         `wso_reconciles_total{{kind=\"CustomLanguageModel\"}}` (scraped every 100 ms) reaches \
         the number of resources. Writes are resourceVersion changes seen by a watch from the \
         process start to the end of the settle time.\n\n\
         | Resources | /readyz (s) | every one reconciled (s) | model writes | SpeechService writes | IBM calls | RSS steady (MiB) | RSS peak (MiB) | fleet build (s, not a target) |\n|---|---|---|---|---|---|---|---|---|",
        settle = plan.fleet.settle_s,
    );
    for x in &r.fleet.restarts {
        let build = r
            .fleet
            .build
            .iter()
            .find(|b| b.models == x.models)
            .map(|b| f1(b.seconds))
            .unwrap_or_default();
        let ops: Vec<String> = x
            .ibm_calls
            .iter()
            .map(|(k, v)| format!("`{k}` {v}"))
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            x.models,
            f1(x.ready_s),
            f1(x.all_reconciled_s),
            x.model_writes,
            x.service_writes,
            if ops.is_empty() {
                "0".to_string()
            } else {
                ops.join(", ")
            },
            f1(x.rss_steady_mib),
            f1(x.rss_peak_mib),
            build,
        );
    }
    if fonts {
        let _ = writeln!(
            s,
            "\n![memory](bench/memory.png)\n\n![start-up](bench/startup.png)\n"
        );
    }

    // Scenario 6.
    let b = &r.burst;
    let _ = writeln!(
        s,
        "## 6. Burst\n\n\
         {n} new language models (one inline corpus each) created at once ({c} s for the creates, \
         32 in flight) on a SpeechService with `requestBudget: {{requestsPerSecond: {rps}, burst: \
         {rps}}}`, simulator time scale {ts} (corpus analysis 5 s, training 300 s). Time from the \
         first create until every model had been seen in phase Training (or later).\n\n\
         | Models | budget (req/s) | all Training (s) | calls until then | observed req/s | calls / budget (s) |\n|---|---|---|---|---|---|\n\
         | {n} | {rps} | {t} | {calls} | {obs} | {floor} |\n\n\
         Calls until the last model was Training, by operation: {ops}.\n",
        n = b.models,
        c = f1(b.creates_s),
        rps = b.requests_per_second,
        ts = b.time_scale,
        t = f1(b.all_training_s),
        calls = b.calls.values().sum::<u64>(),
        obs = f1(b.observed_rps),
        floor = f1(b.budget_floor_s),
        ops = b
            .calls
            .iter()
            .map(|(k, v)| format!("`{k}` {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    if fonts {
        let _ = writeln!(s, "![burst](bench/burst.png)\n");
    }

    // Scenario 7.
    let _ = writeln!(
        s,
        "## 7. Writes per lifecycle\n\n\
         From the scenario-1 runs: a watch per kind records every resourceVersion of every model \
         after its creation. A write is a status change when the status differs from the previous \
         version's, a metadata change when anything else (finalizers) differs, and no-op when \
         only resourceVersion/managedFields changed.\n\n\
         | Mode | Kind | models | writes (mean) | status changes (mean) | metadata changes (mean) | no-op writes (total) | max writes |\n|---|---|---|---|---|---|---|---|"
    );
    for l in &r.lifecycle {
        for kind in ["language", "acoustic"] {
            let ms: Vec<_> = l.models.iter().filter(|m| m.kind == kind).collect();
            if ms.is_empty() {
                continue;
            }
            let n = ms.len() as f64;
            let mean = |f: &dyn Fn(&crate::scenarios::Writes) -> u32| {
                ms.iter().map(|m| f64::from(f(&m.writes))).sum::<f64>() / n
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                l.mode,
                kind,
                ms.len(),
                f1(mean(&|w| w.total)),
                f1(mean(&|w| w.status_changes)),
                f1(mean(&|w| w.metadata_changes)),
                ms.iter().map(|m| m.writes.no_op).sum::<u32>(),
                ms.iter().map(|m| m.writes.total).max().unwrap_or(0),
            );
        }
    }
    if fonts {
        let _ = writeln!(s, "\n![writes](bench/writes.png)\n");
    }

    // Scenario 8.
    if let Some(u) = &r.fleet.unrelated {
        let _ = writeln!(
            s,
            "## 8. Unrelated objects\n\n\
             The fleet of scenario 4 at {} models, then {} Secrets of {} KiB (the size of Helm \
             release Secrets) and {} ConfigMaps that no resource references, in the watched \
             namespace ({} s to create, not a target). A fresh operator is started beside them as \
             in scenario 5; then another, once its start-up pass is done, watches {} unrelated \
             ConfigMap updates per second for {} s: its CPU time (user + system, \
             `/proc/<pid>/stat`) over that window and its reconciles.\n\n\
             | | RSS peak (MiB) | RSS steady (MiB) | every one reconciled (s) |\n|---|---|---|---|\n\
             | without the unrelated objects (scenario 5) | {} | {} | |\n\
             | beside them | {} | {} | {} |\n\n\
             | Churn | updates/s | operator CPU (% of a core) | language-model reconciles |\n|---|---|---|---|\n\
             | {} s | {} | {} | {} |\n",
            u.models,
            u.secrets,
            u.secret_kib,
            u.config_maps,
            f1(u.setup_s),
            f1(u.churn_updates_per_s),
            f1(u.churn_s),
            f1(u.baseline_peak_mib),
            f1(u.baseline_steady_mib),
            f1(u.restart.rss_peak_mib),
            f1(u.restart.rss_steady_mib),
            f1(u.restart.all_reconciled_s),
            f1(u.churn_s),
            f1(u.churn_updates_per_s),
            f2(u.churn_cpu_cores * 100.0),
            u.churn_reconciles,
        );
    }
    // Scenario 9.
    if let Some(l) = &r.large_audio {
        let _ = writeln!(
            s,
            "## 9. Large audio source streamed\n\n\
             An acoustic model whose audio is a `url` source of raw 16 kHz L16 audio served from \
             loopback by the benchmark process; one simulator, namespace and operator process per \
             source ({} build). The operator reads the source once for its digest without keeping \
             it, then streams it again to the service; a source larger than IBM's 100 MB limit \
             that does not announce its length is read up to the limit and refused. **Rise** = \
             the operator's peak RSS (VmHWM) once the outcome was seen minus its RSS just before \
             the model was created (target ≤ 32 MiB, issue 26).\n\n\
             | Source (MiB) | length announced | outcome | served by the source (MiB) | uploaded (MiB) | RSS before (MiB) | peak RSS (MiB) | rise (MiB) | time (s) |\n\
             |---|---|---|---|---|---|---|---|---|",
            l.build
        );
        for x in &l.runs {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | **{}** | {} |",
                x.source_mib,
                if x.announced { "yes" } else { "no" },
                x.outcome,
                f1(x.served_bytes as f64 / 1048576.0),
                f1(x.uploaded_bytes as f64 / 1048576.0),
                f1(x.baseline_rss_mib),
                f1(x.peak_rss_mib),
                f1(x.rise_mib),
                f1(x.seconds),
            );
        }
        let _ = writeln!(s);
    }
    // Scenario 10.
    if let Some(f) = &r.fair_share {
        let _ = writeln!(
            s,
            "## 10. Fair share: a flooded neighbour\n\n\
             One operator process ({} build), two simulators. A language model on the healthy \
             service goes from apply to Ready alone; then a second simulator answers every request \
             with 429 and a `Retry-After` of {} s, {} language models use it through the \
             SpeechService `flooded`, and once each shows a failed Ready condition a second model \
             on the healthy service goes from apply to Ready beside them. No wait on a service \
             holds a reconcile slot, so the second time stays near the first \
             (`operator_noisy_neighbour` asserts the calls; this reports the times).\n\n\
             | alone: apply → Ready (s) | neighbours all reconciled (s) | beside: apply → Ready (s) | requests to the flooded service |\n\
             |---|---|---|---|\n\
             | {} | {} | **{}** | {} |\n",
            f.build,
            f.retry_after_s,
            f.neighbours,
            f1(f.alone_ready_s),
            f1(f.neighbours_reconciled_s),
            f1(f.beside_ready_s),
            f.flooded_requests,
        );
    }
    if !plots_ok {
        let _ = writeln!(
            s,
            "\n(No plots: no DejaVu Sans font was found in {FONT_PATHS:?}, or a plot failed; the tables hold every figure.)\n"
        );
    }

    // Findings (hand-written, kept beside the figures).
    let notes = std::fs::read_to_string(crate::scenarios::repo_path("docs/bench/findings.md"))
        .unwrap_or_default();
    let _ = writeln!(s, "## Findings\n\n{notes}");
    s
}
