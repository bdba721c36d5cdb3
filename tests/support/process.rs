//! The operator as a real process (`watson-speech-operator run`), for the tests that kill,
//! restart or scrape it: one helper with the harness's watchdog, so the process dies with the
//! test binary however that ends (normal end, panic, SIGKILL).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One operator process in its own process group under the watchdog of
/// [`super::spawn_watched`]; its output goes to `log`. SIGKILLed on drop.
pub struct OperatorProcess {
    /// The watchdog (bash); its pid is the process group id.
    watchdog: Child,
    log: PathBuf,
}

/// The arguments of an operator process an isolated test starts for one namespace: metrics served
/// on `metrics_address`, trainings expected to take 2 s, polls at most 5 s apart, only
/// `namespace` watched.
pub fn watching_args<'a>(metrics_address: &'a str, namespace: &'a str) -> [&'a str; 8] {
    [
        "--metrics-address",
        metrics_address,
        "--expected-training-seconds",
        "2",
        "--max-poll-seconds",
        "5",
        "--namespaces",
        namespace,
    ]
}

impl OperatorProcess {
    /// Starts `watson-speech-operator run <args>` against `kubeconfig`, with `env` added and
    /// `WSO_CRASH_AT` and `RUST_LOG` removed from the inherited environment (a test sets them
    /// explicitly when it wants them).
    pub fn start(kubeconfig: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Self {
        let bin = env!("CARGO_BIN_EXE_watson-speech-operator");
        let mut argv: Vec<String> = vec![
            "-u".into(),
            "WSO_CRASH_AT".into(),
            "-u".into(),
            "RUST_LOG".into(),
            format!("KUBECONFIG={}", kubeconfig.display()),
        ];
        argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        argv.push(bin.into());
        argv.push("run".into());
        argv.extend(args.iter().map(|a| a.to_string()));
        let watchdog = super::spawn_watched(Path::new("/usr/bin/env"), &argv, log)
            .unwrap_or_else(|e| panic!("start the operator: {e}"));
        OperatorProcess {
            watchdog,
            log: log.to_path_buf(),
        }
    }

    /// The operator's own pid: the watchdog's child (`env` execs the binary).
    pub fn pid(&self) -> Option<u32> {
        let pid = self.watchdog.id();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// SIGKILL to the whole process group (watchdog and operator at once), as a crash would.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.watchdog.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.wait();
    }

    /// SIGTERM to the operator alone (a graceful shutdown; the watchdog then exits too).
    pub fn terminate(&self) {
        let pid = self.pid().expect("operator pid");
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "SIGTERM to {pid}");
    }

    /// The exit status once the operator exited by itself (the watchdog exits with it).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.watchdog.try_wait().ok().flatten()
    }

    /// What the operator printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
