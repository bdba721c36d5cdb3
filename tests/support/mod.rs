//! The test ground: a real etcd + kube-apiserver (and optionally kube-controller-manager) per test
//! binary, the way controller-runtime's envtest runs one.
//!
//! - The binaries come from `make k8s-bins` (built from the Kubernetes Go modules); etcd from the
//!   `etcd-bin-vendored` crate. `WSO_K8S_BINS` overrides the directory.
//! - Without binaries a test is skipped with a loud message, unless `WSO_REQUIRE_CONTROL_PLANE=1`
//!   (set by `make test` and CI), in which case it fails.
//! - One control plane per test binary, started on first use and shared by its tests. Every test
//!   builds its own `kube::Client` (clients are bound to the test's runtime) and gets its own
//!   namespace.
//! - Every process runs in its own process group under a watchdog that kills it when the test
//!   binary exits, however it exits (normal end, panic, SIGKILL): statics are never dropped, so
//!   the watchdog is what guarantees no stray etcd or apiserver. A cleaner process likewise
//!   removes the control plane's directory after the binary has exited.
//! - When a test panics, its [`TestNamespace`] guard prints the tail of the control plane's logs.
#![allow(dead_code)]

pub mod fixture;
pub mod operator;
pub mod process;

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client, Config,
    api::{Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};

/// The Kubernetes version the harness expects, read from the wrapper module's go.mod.
pub fn k8s_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        include_str!("../../tools/k8s-bins/go.mod")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .flat_map(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .windows(2)
                    .filter(|w| w[0] == "k8s.io/kubernetes")
                    .map(|w| w[1].to_string())
                    .collect::<Vec<_>>()
            })
            .next()
            .unwrap_or_else(|| "unknown".to_string())
    })
}

/// Where the control-plane binaries are: `WSO_K8S_BINS`, else the cache `make k8s-bins` fills.
pub fn bins_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("WSO_K8S_BINS") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache
        .join("watson-speech-operator/k8s-bins")
        .join(k8s_version())
}

fn required() -> bool {
    matches!(
        std::env::var("WSO_REQUIRE_CONTROL_PLANE").as_deref(),
        Ok("1") | Ok("true")
    )
}

/// Options for the shared control plane; the first test of a binary to start it decides.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Also run kube-controller-manager (garbage collection, namespaces, service accounts).
    pub controller_manager: bool,
}

/// A running control plane shared by the tests of one binary.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub server: String,
    /// What the running kube-apiserver reports (`/version`): with `WSO_K8S_BINS` pointing at
    /// other binaries (`make test-compat`) it differs from [`k8s_version`].
    pub server_version: String,
    pub ca_pem: String,
    /// The CA's certificate and private key (PEM files): the API server trusts client
    /// certificates they sign.
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub bins: PathBuf,
    logs: Vec<(String, PathBuf)>,
    _children: Mutex<Vec<Child>>,
    apiserver_args: Vec<String>,
}

static PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// Starts (once per test binary) or returns the shared control plane. Returns `None` (after a
/// loud message) when the binaries are missing and the control plane is not required.
pub fn control_plane() -> Option<&'static ControlPlane> {
    control_plane_with(Options::default())
}

/// Like [`control_plane`], with options for the first start.
pub fn control_plane_with(options: Options) -> Option<&'static ControlPlane> {
    let result = PLANE.get_or_init(|| {
        let bins = bins_dir();
        if !bins.join("kube-apiserver").exists() {
            return Err(format!(
                "control-plane binaries not found in {} (kube-apiserver {}); run `make k8s-bins`",
                bins.display(),
                k8s_version()
            ));
        }
        // Start on a thread of its own so the set-up runtime is not nested in the test's.
        std::thread::spawn(move || ControlPlane::start(bins, options))
            .join()
            .unwrap_or_else(|_| Err("control plane start-up panicked".into()))
    });
    match result {
        Ok(cp) => Some(cp),
        Err(msg) if required() || !msg.contains("make k8s-bins") => {
            panic!("control plane unavailable: {msg}")
        }
        Err(msg) => {
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !! SKIPPING control-plane test: {msg}\n\
                 !! (set WSO_REQUIRE_CONTROL_PLANE=1 to make this a failure; `make test` does)\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            None
        }
    }
}

/// Reserves a free loopback port (the listener is dropped, so there is a tiny race; the
/// components bind right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Spawns `program` in its own process group under a watchdog that kills the group when the
/// test binary (our pid) goes away, and when the child exits by itself the watchdog exits too.
pub fn spawn_watched(program: &Path, args: &[String], log: &Path) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let log_file = fs::File::create(log)?;
    let script = r#"parent=$1; shift
"$@" & child=$!
trap 'kill -TERM $child 2>/dev/null; sleep 1; kill -KILL $child 2>/dev/null; exit 0' TERM INT
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill -TERM $child 2>/dev/null; sleep 2; kill -KILL $child 2>/dev/null
wait $child"#;
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .spawn()
}

/// Removes the control plane's directory once the test binary has exited and the watchdogs have
/// stopped its processes. The directory holds etcd's data (about 130 MB: two preallocated 64 MB
/// WAL files) and the logs. The control plane lives in a static, which is never dropped, so a
/// `TempDir` guard never ran: every test binary left its directory behind, and a full `make test`
/// filled the CI machine's disk (etcd: "no space left on device"). Set
/// `WSO_KEEP_CONTROL_PLANE_DIR=1` to keep the directory for debugging.
fn remove_after_exit(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("WSO_KEEP_CONTROL_PLANE_DIR").is_some_and(|v| v == "1") {
        return Ok(());
    }
    // The watchdogs stop their processes within about 3 s of the parent's exit; removal is
    // retried while a dying process still writes into the directory.
    let script = r#"parent=$1; dir=$2
while kill -0 "$parent" 2>/dev/null; do sleep 0.5; done
sleep 3
for _ in 1 2 3 4 5 6 7 8 9 10; do
  rm -rf -- "$dir" 2>/dev/null
  [ -e "$dir" ] || exit 0
  sleep 1
done"#;
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("cleaner")
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
}

struct Certs {
    ca_pem: String,
    ca_key: String,
    serving_cert: String,
    serving_key: String,
    admin_cert: String,
    admin_key: String,
    sa_key: String,
    sa_pub: String,
}

fn make_certs() -> Result<Certs, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "watson-speech-operator test CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);

    let serving_key = KeyPair::generate()?;
    let mut serving = CertificateParams::new(vec![
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default".to_string(),
        "kubernetes.default.svc".to_string(),
    ])?;
    serving
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    serving
        .subject_alt_names
        .push(SanType::IpAddress("10.0.0.1".parse().expect("ip")));
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let serving_cert = serving.signed_by(&serving_key, &issuer)?;

    let admin_key = KeyPair::generate()?;
    let mut admin = CertificateParams::new(Vec::<String>::new())?;
    admin.distinguished_name = DistinguishedName::new();
    admin
        .distinguished_name
        .push(DnType::CommonName, "test-admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    let admin_cert = admin.signed_by(&admin_key, &issuer)?;

    let sa_key = KeyPair::generate()?;
    Ok(Certs {
        ca_pem: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        serving_cert: serving_cert.pem(),
        serving_key: serving_key.serialize_pem(),
        admin_cert: admin_cert.pem(),
        admin_key: admin_key.serialize_pem(),
        sa_key: sa_key.serialize_pem(),
        sa_pub: sa_key.public_key_pem(),
    })
}

/// A kubeconfig for `server` with a client certificate and key (PEM).
pub fn kubeconfig_yaml(server: &str, ca: &str, user: &str, cert: &str, key: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: {user}\n    namespace: default\ncurrent-context: test\n",
        ca = b64(ca),
        cert = b64(cert),
        key = b64(key),
    )
}

impl ControlPlane {
    fn start(bins: PathBuf, options: Options) -> Result<ControlPlane, String> {
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("wso-controlplane-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?
            .keep();
        remove_after_exit(&dir).map_err(|e| format!("directory cleaner: {e}"))?;
        let certs = make_certs().map_err(|e| format!("certificates: {e}"))?;
        let write = |name: &str, body: &str| -> Result<PathBuf, String> {
            let p = dir.join(name);
            fs::write(&p, body).map_err(|e| format!("write {name}: {e}"))?;
            Ok(p)
        };
        let ca = write("ca.crt", &certs.ca_pem)?;
        // Tests that issue client certificates of their own (with openssl) sign with it.
        let ca_key = write("ca.key", &certs.ca_key)?;
        let tls_cert = write("apiserver.crt", &certs.serving_cert)?;
        let tls_key = write("apiserver.key", &certs.serving_key)?;
        let sa_key = write("sa.key", &certs.sa_key)?;
        let sa_pub = write("sa.pub", &certs.sa_pub)?;

        let mut children = Vec::new();
        let mut logs = Vec::new();

        // etcd
        let etcd = etcd_bin_vendored::etcd_bin_path().map_err(|e| format!("etcd: {e}"))?;
        let (etcd_port, peer_port) = (free_port(), free_port());
        let etcd_log = dir.join("etcd.log");
        let etcd_args: Vec<String> = vec![
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
            format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
            format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
            format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ];
        children.push(
            spawn_watched(etcd, &etcd_args, &etcd_log).map_err(|e| format!("spawn etcd: {e}"))?,
        );
        logs.push(("etcd".to_string(), etcd_log));

        // kube-apiserver
        let port = free_port();
        let apiserver_log = dir.join("kube-apiserver.log");
        let args: Vec<String> = vec![
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={port}"),
            format!("--cert-dir={}", dir.join("certs").display()),
            format!("--tls-cert-file={}", tls_cert.display()),
            format!("--tls-private-key-file={}", tls_key.display()),
            format!("--client-ca-file={}", ca.display()),
            "--authorization-mode=RBAC".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--service-account-issuer=https://kubernetes.default.svc".into(),
            format!("--service-account-key-file={}", sa_pub.display()),
            format!("--service-account-signing-key-file={}", sa_key.display()),
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
            "--endpoint-reconciler-type=none".into(),
            "--v=1".into(),
        ];
        children.push(
            spawn_watched(&bins.join("kube-apiserver"), &args, &apiserver_log)
                .map_err(|e| format!("spawn kube-apiserver: {e}"))?,
        );
        logs.push(("kube-apiserver".to_string(), apiserver_log.clone()));

        let server = format!("https://127.0.0.1:{port}");
        let kubeconfig = write(
            "kubeconfig",
            &kubeconfig_yaml(
                &server,
                &certs.ca_pem,
                "test-admin",
                &certs.admin_cert,
                &certs.admin_key,
            ),
        )?;

        let mut plane = ControlPlane {
            dir: dir.clone(),
            kubeconfig: kubeconfig.clone(),
            server,
            server_version: String::new(),
            ca_pem: certs.ca_pem.clone(),
            ca_cert: ca.clone(),
            ca_key,
            bins: bins.clone(),
            logs,
            _children: Mutex::new(Vec::new()),
            apiserver_args: args.clone(),
        };

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let ready = rt.block_on(async {
            plane
                .wait_ready(&mut children, Duration::from_secs(90))
                .await?;
            plane.server_version = plane
                .client()
                .await?
                .apiserver_version()
                .await
                .map_err(|e| format!("/version: {e}"))?
                .git_version;
            if options.controller_manager {
                let log = dir.join("kube-controller-manager.log");
                let args: Vec<String> = vec![
                    format!("--kubeconfig={}", kubeconfig.display()),
                    format!("--authentication-kubeconfig={}", kubeconfig.display()),
                    format!("--authorization-kubeconfig={}", kubeconfig.display()),
                    "--controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token"
                        .into(),
                    "--leader-elect=false".into(),
                    "--use-service-account-credentials=false".into(),
                    format!("--service-account-private-key-file={}", sa_key.display()),
                    format!("--root-ca-file={}", ca.display()),
                    "--bind-address=127.0.0.1".into(),
                    format!("--secure-port={}", free_port()),
                    format!("--cert-dir={}", dir.join("kcm-certs").display()),
                ];
                children.push(
                    spawn_watched(&bins.join("kube-controller-manager"), &args, &log)
                        .map_err(|e| format!("spawn kube-controller-manager: {e}"))?,
                );
                plane.logs.push(("kube-controller-manager".into(), log));
            }
            plane.install_crds().await
        });
        *plane._children.lock().expect("children lock") = children;
        if let Err(e) = ready {
            plane.dump_logs(200);
            return Err(e);
        }
        eprintln!(
            "control plane {} ready at {} in {:.1}s (dir {})",
            plane.server_version,
            plane.server,
            started.elapsed().as_secs_f64(),
            plane.dir.display()
        );
        Ok(plane)
    }

    async fn wait_ready(&self, children: &mut [Child], timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            for (child, (name, _)) in children.iter_mut().zip(self.logs.iter()) {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("{name} exited early ({status}); see its log above"));
                }
            }
            match self.client().await {
                Ok(client) => {
                    let req = http::Request::get("/readyz")
                        .body(Vec::new())
                        .map_err(|e| e.to_string())?;
                    match client.request_text(req).await {
                        Ok(body) if body.trim() == "ok" => return Ok(()),
                        Ok(body) => last = body,
                        Err(e) => last = e.to_string(),
                    }
                }
                Err(e) => last = e,
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "kube-apiserver not ready after {timeout:?}: {last}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Applies every CRD in `crds/` (server-side apply) and waits until each is Established.
    async fn install_crds(&self) -> Result<(), String> {
        let client = self.client().await?;
        let crd_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        let mut files: Vec<PathBuf> = fs::read_dir(&crd_dir)
            .map_err(|e| format!("read {}: {e}", crd_dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        let mut crds = Vec::new();
        for f in files {
            let text = fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            for doc in serde_yaml::Deserializer::from_str(&text) {
                let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
                    .map_err(|e| format!("{}: {e}", f.display()))?;
                if value.is_null() {
                    continue;
                }
                let crd: CustomResourceDefinition =
                    serde_yaml::from_value(value).map_err(|e| format!("{}: {e}", f.display()))?;
                crds.push(crd);
            }
        }
        install_crd_objects(&client, &crds).await
    }

    /// A client with cluster-admin rights (a certificate in `system:masters`), bound to the
    /// calling runtime.
    pub async fn client(&self) -> Result<Client, String> {
        let kc = Kubeconfig::read_from(&self.kubeconfig).map_err(|e| e.to_string())?;
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        Client::try_from(config).map_err(|e| e.to_string())
    }

    /// A client that authenticates as the ServiceAccount `namespace/name` with a fresh token.
    pub async fn service_account_client(&self, namespace: &str, name: &str) -> Client {
        let admin = self.client().await.expect("admin client");
        let sas: Api<ServiceAccount> = Api::namespaced(admin, namespace);
        let sa = ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        match sas.create(&PostParams::default(), &sa).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("create ServiceAccount {namespace}/{name}: {e}"),
        }
        let tr = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..Default::default()
            }),
            ..Default::default()
        };
        let token = sas
            .create_token_request(name, &PostParams::default(), &tr)
            .await
            .expect("token request")
            .status
            .expect("token status")
            .token
            .expect("token");
        let mut config = Config::new(self.server.parse().expect("server url"));
        config.root_cert = Some(vec![pem_to_der(&self.ca_pem)]);
        config.auth_info.token = Some(token.into());
        config.default_namespace = namespace.to_string();
        Client::try_from(config).expect("service account client")
    }

    /// Creates a fresh namespace `prefix-xxxxx` for one test; the guard prints the control
    /// plane's logs if the test panics.
    pub async fn namespace(&'static self, prefix: &str) -> TestNamespace {
        let client = self.client().await.expect("admin client");
        let name = format!(
            "{prefix}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let ns = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("create test namespace");
        TestNamespace {
            name,
            client,
            plane: self,
        }
    }

    /// Stops kube-apiserver and starts it again on the same port, with the same flags and etcd
    /// (its data survives), then waits until it is ready: for tests of what the operator does
    /// when the API server goes away mid-run. `down` is how long it stays away.
    pub async fn restart_apiserver(&self, down: Duration) {
        let log = self.dir.join("kube-apiserver.log");
        {
            let mut children = self._children.lock().expect("children lock");
            // children[1] is the watchdog of kube-apiserver; TERM makes it stop the server.
            let watchdog = &mut children[1];
            let pid = watchdog.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let _ = watchdog.wait();
        }
        tokio::time::sleep(down).await;
        let child = spawn_watched(
            &self.bins.join("kube-apiserver"),
            &self.apiserver_args,
            &log,
        )
        .expect("restart kube-apiserver");
        self._children.lock().expect("children lock")[1] = child;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(client) = self.client().await {
                let req = http::Request::get("/readyz")
                    .body(Vec::new())
                    .expect("request");
                if client
                    .request_text(req)
                    .await
                    .is_ok_and(|b| b.trim() == "ok")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver did not come back"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Prints the last `lines` lines of every component's log to stderr.
    pub fn dump_logs(&self, lines: usize) {
        for (name, path) in &self.logs {
            let text = fs::read_to_string(path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            eprintln!(
                "----- {name} log (last {} lines of {}) -----\n{}",
                tail.len(),
                path.display(),
                tail.join("\n")
            );
        }
    }
}

/// Applies CRDs and waits until they are Established and served.
pub async fn install_crd_objects(
    client: &Client,
    crds: &[CustomResourceDefinition],
) -> Result<(), String> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let pp = PatchParams::apply("wso-test-harness").force();
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &pp, &Patch::Apply(crd))
            .await
            .map_err(|e| format!("apply CRD {name}: {e}"))?;
    }
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let cond = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(api.clone(), &name, cond),
        )
        .await
        .map_err(|_| format!("CRD {name} not Established within 30s"))?
        .map_err(|e| format!("wait for CRD {name}: {e}"))?;
        // Established can precede discovery by a moment; wait until the resource is served.
        let group = &crd.spec.group;
        let version = &crd.spec.versions[0].name;
        let plural = &crd.spec.names.plural;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let req = http::Request::get(format!("/apis/{group}/{version}/{plural}?limit=1"))
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            if client.request_text(req).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("CRD {name} not served within 30s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("CA pem")
}

/// A namespace owned by one test.
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
    plane: &'static ControlPlane,
}

impl TestNamespace {
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test in namespace {} failed; control plane logs:",
                self.name
            );
            self.plane.dump_logs(60);
        }
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
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
