//! The Kubernetes client the operator builds at start-up (kubeconfig or in-cluster config, as
//! `kube::Client::try_default` finds it), and the start-up errors a user can fix, each explained
//! in one line that names the problem and the fix: TLS material in the kubeconfig that rustls
//! refuses, and an API server certificate it refuses (one request at start-up finds it).
//!
//! Why: rustls is stricter than client-go. A kubeconfig that `kubectl` accepts can be refused
//! before the first request, and kube reports it as a nested chain ending in
//! "invalid peer certificate: Other(OtherError(UnsupportedCertVersion))", which does not say
//! which certificate nor what to do.

use std::time::Duration;

use rustls::{CertificateError, InconsistentKeys};
use thiserror::Error;

/// How long the start-up request for the API server's version may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The extensions of an X.509 v3 client certificate for Kubernetes, as the `printf` format of
/// an `openssl x509 -req -extfile` file (lines separated by a literal `\n`).
pub const V3_CLIENT_EXTENSIONS: &str = "basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature,keyEncipherment\\nextendedKeyUsage=clientAuth";

/// Why no Kubernetes client could be built.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The kubeconfig's client certificate is X.509 v1 (or v2); rustls only accepts v3.
    #[error(
        "the kubeconfig's client certificate is not X.509 v3 (most likely v1, what `openssl x509 -req` \
         makes without -extfile), which rustls refuses; re-issue it as v3: \
         openssl x509 -req -in user.csr -CA ca.crt -CAkey ca.key -days 365 -out user.crt \
         -extfile <(printf '{}')",
        V3_CLIENT_EXTENSIONS
    )]
    ClientCertificateNotV3,
    /// The kubeconfig's client certificate and client key belong to different key pairs.
    #[error(
        "the kubeconfig's client certificate does not match its client key; \
         put the key the certificate was issued for in client-key-data (or client-key)"
    )]
    ClientKeyMismatch,
    /// The kubeconfig's client certificate or key could not be parsed or is refused by rustls
    /// for another reason.
    #[error(
        "the kubeconfig's client certificate or key is refused by rustls: {detail}; \
         check client-certificate-data and client-key-data (PEM, an X.509 v3 certificate and its key)"
    )]
    ClientIdentity {
        /// What rustls or kube said, on one line.
        detail: String,
    },
    /// The API server presented a certificate rustls refuses (found by one request at start-up:
    /// without it, every watch would retry this forever).
    #[error("the API server's certificate is refused by rustls: {problem}; {fix}")]
    ServerCertificate {
        /// What is wrong with it.
        problem: &'static str,
        /// What to change.
        fix: &'static str,
    },
    /// Anything else: no kubeconfig, an unreadable file, an unknown context, ...
    #[error("cannot build a Kubernetes client from the kubeconfig or in-cluster config: {detail}")]
    Other {
        /// The whole error chain, on one line.
        detail: String,
    },
}

impl ClientError {
    /// Explains an error of `kube::Client::try_default` (or `Client::try_from`).
    pub fn classify(error: &kube::Error) -> ClientError {
        use kube::client::RustlsTlsError as TlsError;
        match error {
            kube::Error::RustlsTls(TlsError::InvalidPrivateKey(e)) => match e {
                rustls::Error::InvalidCertificate(CertificateError::Other(other))
                    if other
                        .0
                        .downcast_ref::<webpki::Error>()
                        .is_some_and(|w| matches!(w, webpki::Error::UnsupportedCertVersion)) =>
                {
                    ClientError::ClientCertificateNotV3
                }
                rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                    ClientError::ClientKeyMismatch
                }
                _ => ClientError::ClientIdentity {
                    detail: one_line(error),
                },
            },
            kube::Error::RustlsTls(
                TlsError::InvalidIdentityPem(_)
                | TlsError::MissingPrivateKey
                | TlsError::MissingCertificate
                | TlsError::UnknownPrivateKeyFormat,
            ) => ClientError::ClientIdentity {
                detail: one_line(error),
            },
            _ => ClientError::Other {
                detail: one_line(error),
            },
        }
    }
}

/// The error and its sources joined with ": ", the way `anyhow`'s `{:#}` prints a chain.
fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let part = e.to_string();
        // Many errors repeat their source in their own message; print each part once.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = e.source();
    }
    text.replace('\n', " ")
}

/// The certificate error rustls raised somewhere in `error`'s chain. A TLS handshake failure
/// reaches kube as an `io::Error` wrapping an `io::Error` (hyper-rustls wraps tokio-rustls's)
/// wrapping the rustls error, and `io::Error::source()` skips what it wraps, so every
/// `io::Error` is opened with `get_ref` as well.
fn certificate_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CertificateError> {
    let mut next = Some(error);
    while let Some(e) = next {
        let mut candidate = Some(e);
        while let Some(c) = candidate {
            if let Some(rustls::Error::InvalidCertificate(cert)) = c.downcast_ref() {
                return Some(cert);
            }
            candidate = c
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn std::error::Error + 'static));
        }
        next = e.source();
    }
    None
}

/// Names a server certificate problem and its fix; `None` when the error is not about the
/// server's certificate (the API server may just be starting: the controllers retry).
fn server_certificate(error: &kube::Error) -> Option<ClientError> {
    let (problem, fix) = match certificate_error(error)? {
        CertificateError::Other(other)
            if other
                .0
                .downcast_ref::<webpki::Error>()
                .is_some_and(|w| matches!(w, webpki::Error::UnsupportedCertVersion)) =>
        {
            (
                "it is not X.509 v3 (most likely v1, what `openssl x509 -req` makes without -extfile)",
                "re-issue the API server's serving certificate as v3 (openssl x509 -req ... -extfile with subjectAltName, keyUsage and extendedKeyUsage=serverAuth)",
            )
        }
        CertificateError::UnknownIssuer | CertificateError::BadSignature => (
            "it is not signed by the kubeconfig's certificate authority",
            "set certificate-authority-data (or certificate-authority) to the CA that signed the API server's certificate",
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            "it is not valid for the server address in the kubeconfig",
            "use a server address the certificate names (its subjectAltName), or re-issue it with that address",
        ),
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => (
            "it is expired or not yet valid",
            "renew the API server's certificate, or check this machine's clock",
        ),
        _ => (
            "rustls does not accept it",
            "check the API server's serving certificate (an X.509 v3 certificate signed by the kubeconfig's CA)",
        ),
    };
    Some(ClientError::ServerCertificate { problem, fix })
}

/// Connect timeout of Kubernetes calls: an API server that does not accept connections is
/// noticed in seconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Read timeout of Kubernetes calls (silence on a connection, counted from the request): a call
/// to an API server that accepted it and went quiet fails instead of hanging. Longer than the
/// watches' server-side timeout (290 s), so an idle watch ends by the server first.
pub const READ_TIMEOUT: Duration = Duration::from_secs(295);

/// Sets the operator's timeouts on a Kubernetes client configuration (issue 26: kube 5 has no
/// read timeout by default).
pub fn timeouts(config: &mut kube::Config) {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    config.write_timeout = Some(CONNECT_TIMEOUT);
    config.reset_reader_on_write = true;
}

/// Builds the client from the environment (`KUBECONFIG`, `~/.kube/config` or the in-cluster
/// service account) and asks the API server for its version once, explaining in one line a
/// kubeconfig or a server certificate that rustls refuses. Any other failure of that request is
/// left to the controllers, which retry (the API server may be starting).
pub async fn from_environment() -> Result<kube::Client, ClientError> {
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| ClientError::Other {
            detail: one_line(&e),
        })?;
    timeouts(&mut config);
    let client = kube::Client::try_from(config).map_err(|e| ClientError::classify(&e))?;
    // Bounded, so that an unreachable API server delays the start by seconds, not by the
    // client's connect timeout.
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => match server_certificate(&e) {
            Some(refused) => Err(refused),
            None => {
                tracing::warn!(error = %one_line(&e), "the API server did not answer at start-up; the controllers retry");
                Ok(client)
            }
        },
        Err(_) => {
            tracing::warn!(timeout = ?PROBE_TIMEOUT, "the API server did not answer at start-up; the controllers retry");
            Ok(client)
        }
    }
}
