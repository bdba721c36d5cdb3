//! A kubeconfig that the API server and kubectl accept but the operator's TLS stack (rustls)
//! refuses: a client certificate of X.509 version 1, which `openssl x509 -req` makes without
//! `-extfile` and many hand-made kubeconfigs contain. The operator says so in one line that
//! names the fix and exits non-zero; the fix it names works.
//!
//! An API server certificate of X.509 v1 (here `openssl s_server` plays the API server) is found
//! by the operator's one request at start-up and explained the same way.
//!
//! `run` is the only command that builds a Kubernetes client (`crd` and `simulate` do not), so
//! these cases cover every place the binary does.

#[path = "../../support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::process::OperatorProcess;
use support::{ControlPlane, control_plane, eventually, kubeconfig_yaml};
use watson_speech_operator::kube_client::V3_CLIENT_EXTENSIONS;

fn openssl(args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (the demo needs it too)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A key and a certificate request for a user in `system:masters`, in `dir`.
fn key_and_request(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (key, csr) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.csr")),
    );
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &key.to_string_lossy(),
        "-out",
        &csr.to_string_lossy(),
        "-subj",
        &format!("/CN={name}/O=system:masters"),
    ]);
    (key, csr)
}

/// Signs `csr` with the control plane's CA, the way a hand-made kubeconfig is usually made;
/// `extfile` (extensions) makes it X.509 v3, without it openssl makes v1.
fn sign(cp: &ControlPlane, csr: &Path, out: &Path, extfile: Option<&Path>) -> String {
    let (csr, out_s) = (csr.to_string_lossy(), out.to_string_lossy());
    let (ca, ca_key) = (cp.ca_cert.to_string_lossy(), cp.ca_key.to_string_lossy());
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-set_serial",
        "4242",
        "-days",
        "1",
        "-out",
        &out_s,
    ];
    let ext = extfile.map(|p| p.to_string_lossy().into_owned());
    if let Some(ext) = &ext {
        args.extend(["-extfile", ext]);
    }
    openssl(&args);
    let text = openssl(&["x509", "-in", &out_s, "-noout", "-text"]);
    String::from_utf8_lossy(&text.stdout).into_owned()
}

fn write_kubeconfig(cp: &ControlPlane, dir: &Path, name: &str, cert: &Path, key: &Path) -> PathBuf {
    let read = |p: &Path| std::fs::read_to_string(p).expect("read PEM");
    let path = dir.join(format!("{name}.kubeconfig"));
    let yaml = kubeconfig_yaml(&cp.server, &cp.ca_pem, name, &read(cert), &read(key));
    std::fs::write(&path, yaml).expect("write kubeconfig");
    path
}

fn kubectl_version(cp: &ControlPlane, kubeconfig: &Path) -> Output {
    Command::new(cp.bins.join("kubectl"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(["get", "--raw", "/version"])
        .output()
        .expect("kubectl")
}

/// `watson-speech-operator run` against `kubeconfig`, to its exit (killed, and the test failed,
/// if it is still running after a minute: it was expected to stop at start-up).
fn run_operator(kubeconfig: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_watson-speech-operator"))
        .args(["run", "--metrics-address=127.0.0.1:0"])
        .env("KUBECONFIG", kubeconfig)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the operator");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "the operator kept running; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

#[tokio::test]
async fn a_v1_client_certificate_is_refused_in_one_line_that_names_the_fix() {
    let Some(cp) = control_plane() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (key, csr) = key_and_request(dir, "v1-user");
    let v1 = dir.join("v1-user.crt");
    let text = sign(cp, &csr, &v1, None);
    assert!(text.contains("Version: 1 (0x0)"), "{text}");
    let kubeconfig = write_kubeconfig(cp, dir, "v1-user", &v1, &key);

    // The API server and kubectl (Go) accept the certificate: only rustls refuses it.
    let kubectl = kubectl_version(cp, &kubeconfig);
    assert!(
        kubectl.status.success(),
        "kubectl with the v1 certificate: {}",
        String::from_utf8_lossy(&kubectl.stderr)
    );

    let out = run_operator(&kubeconfig);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    let line = lines[0];
    assert!(
        line.starts_with("Error: the kubeconfig's client certificate is not X.509 v3"),
        "{line}"
    );
    assert!(line.contains("rustls refuses"), "{line}");
    assert!(line.contains("-extfile"), "names the fix: {line}");
    assert!(
        !line.contains("panicked") && !line.contains("backtrace"),
        "{line}"
    );

    // The fix the line names: the same request signed with the v3 extensions. kubectl still
    // works, and the operator gets past its client into its running state.
    let ext = dir.join("v3.ext");
    std::fs::write(&ext, V3_CLIENT_EXTENSIONS.replace("\\n", "\n")).expect("extfile");
    let v3 = dir.join("v3-user.crt");
    let text = sign(cp, &csr, &v3, Some(&ext));
    assert!(text.contains("Version: 3 (0x2)"), "{text}");
    let kubeconfig = write_kubeconfig(cp, dir, "v3-user", &v3, &key);
    assert!(kubectl_version(cp, &kubeconfig).status.success());
    let mut operator = OperatorProcess::start(
        &kubeconfig,
        &["--metrics-address=127.0.0.1:0"],
        &[],
        &dir.join("operator.log"),
    );
    eventually(
        "the operator with the re-issued certificate serving /metrics",
        Duration::from_secs(60),
        || {
            let log = operator.log_text();
            let exited = operator.exited();
            async move {
                assert!(exited.is_none(), "the operator exited ({exited:?}):\n{log}");
                log.contains("serving /healthz").then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_client_key_of_another_certificate_is_refused_in_one_line() {
    let Some(cp) = control_plane() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (_, csr) = key_and_request(dir, "user");
    let (other_key, _) = key_and_request(dir, "other");
    let ext = dir.join("v3.ext");
    std::fs::write(&ext, V3_CLIENT_EXTENSIONS.replace("\\n", "\n")).expect("extfile");
    let cert = dir.join("user.crt");
    sign(cp, &csr, &cert, Some(&ext));
    let kubeconfig = write_kubeconfig(cp, dir, "user", &cert, &other_key);

    let out = run_operator(&kubeconfig);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr.lines().collect::<Vec<_>>(),
        [
            "Error: the kubeconfig's client certificate does not match its client key; put the key the certificate was issued for in client-key-data (or client-key)"
        ],
    );
}

#[tokio::test]
async fn an_api_server_certificate_of_x509_v1_is_refused_in_one_line() {
    // No control plane: the refusal happens in the TLS handshake, before any HTTP.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let (ca, ca_key) = (dir.join("ca.crt"), dir.join("ca.key"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &s(&ca_key),
        "-out",
        &s(&ca),
        "-subj",
        "/CN=test CA",
        "-days",
        "1",
    ]);
    let (key, csr, cert) = (
        dir.join("srv.key"),
        dir.join("srv.csr"),
        dir.join("srv.crt"),
    );
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        &s(&key),
        "-out",
        &s(&csr),
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &s(&csr),
        "-CA",
        &s(&ca),
        "-CAkey",
        &s(&ca_key),
        "-set_serial",
        "7",
        "-days",
        "1",
        "-out",
        &s(&cert),
    ]);
    let port = support::free_port();
    // Under the harness's watchdog: it goes when the test binary goes, however that ends.
    let mut server = support::spawn_watched(
        Path::new("/usr/bin/env"),
        &[
            "openssl",
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            &s(&cert),
            "-key",
            &s(&key),
        ]
        .map(String::from),
        &dir.join("s_server.log"),
    )
    .expect("openssl s_server");
    eventually(
        "openssl s_server listening",
        Duration::from_secs(30),
        || async move {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(|_| ())
        },
    )
    .await;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: s\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: not-needed\ncontexts:\n- name: s\n  context: {{cluster: s, user: u}}\ncurrent-context: s\n",
            ca.display()
        ),
    )
    .expect("kubeconfig");

    let out = run_operator(&kubeconfig);
    // TERM to the watchdog stops s_server; then reap the watchdog.
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(
        lines[0].starts_with(
            "Error: the API server's certificate is refused by rustls: it is not X.509 v3"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains("re-issue the API server's serving certificate as v3"),
        "{}",
        lines[0]
    );
}
