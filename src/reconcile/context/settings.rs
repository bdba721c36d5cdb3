//! The reconcilers' settings, from the command line (`run`'s flags; tests and benchmarks set them
//! directly).

use std::time::Duration;

/// The default of `--min-drift-interval-seconds`: a model's annotation cannot make it checked
/// more often than every 30 s (each check of a steady model is at most a share of one LIST, but
/// a full read on evidence of change costs several calls).
pub const MIN_DRIFT_INTERVAL_SECONDS: u64 = 30;
/// Settings of the reconcilers (from the command line).
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often an Available model (and each service) is checked for drift.
    pub drift_interval: Duration,
    /// The shortest drift interval a model's annotation `speech.watson.dev/drift-interval` may
    /// set (`--min-drift-interval-seconds`); shorter values are raised to it. The operator's own
    /// `drift_interval` is not bound by it.
    pub min_drift_interval: Duration,
    /// Longest wait between two checks of a running operation.
    pub max_poll_interval: Duration,
    /// Expected duration of a training (any kind), until the model's history says better.
    pub expected_training: Duration,
    /// The timeouts of IBM calls (`--ibm-connect-timeout-seconds`,
    /// `--ibm-first-byte-timeout-seconds`, `--ibm-idle-timeout-seconds`).
    pub ibm_timeouts: IbmTimeouts,
    /// The per-instance limit of custom models of one kind (1024 on IBM Cloud). The operator
    /// never sends a create past it and warns at 90 %.
    pub model_quota: usize,
    /// Poll running operations at this fixed interval instead of progress-aware polling (the
    /// benchmarks' baseline; IBM's samples use 10 s).
    pub fixed_poll: Option<Duration>,
    /// Expected duration of the service's analysis of one corpus, grammar or audio resource.
    pub expected_analysis: Duration,
    /// An operation running longer than this many times its expected duration is flagged
    /// (`OperationOverdue`); nothing is re-created or deleted.
    pub overdue_factor: u32,
    /// Expected seconds of acoustic-model training per second of audio, until the model's
    /// history says better (IBM: about as long as the audio, so 1).
    pub training_per_audio_second: f64,
    /// `run --dry-run`: decide and report (status with `nextAction` marked `dry run`), read the
    /// service, but make no call that changes it and release no finalizer; each skipped step is
    /// logged at info.
    pub dry_run: bool,
    /// Where `url` sources may be fetched from (`--allow-http-sources`,
    /// `--source-allowed-networks`).
    pub sources: crate::reconcile::sources::SourcePolicy,
    /// At most this many reconciles of one SpeechService's models in flight at once, across
    /// kinds (`--max-reconciles-per-service`); one over it requeues shortly without calling IBM.
    pub max_reconciles_per_service: usize,
    /// A reconcile running longer is stopped where it stands and retried with backoff
    /// (`ReconcileDeadline`; `--reconcile-deadline-seconds`).
    pub reconcile_deadline: Duration,
    /// SpeechServices with `auth.type: TrustedProfile`: the operator's projected
    /// service-account token (the chart's `trustedProfile` values mount it) and the IAM URL it is
    /// exchanged at. Operator-level, never from a SpeechService: a tenant must not send the
    /// operator's token elsewhere.
    pub trusted_profile: TrustedProfileSettings,
    /// When re-creation stops because a service's models vanished in bulk from its listing
    /// (`--max-vanished-fraction`; issue 25).
    pub vanish_rule: crate::decision::vanished::Rule,
    /// This cluster's stable name (`--cluster-name`): with one, the ownership marker of a new
    /// model is derived from it and the resource's kind, namespace and name, so a rebuilt
    /// cluster re-finds its models; without one, from the resource's UID (issue 25, point 2).
    pub cluster_name: Option<String>,
}

/// The timeouts of one IBM call attempt, split so that a large upload on a slow link is not cut
/// while it keeps moving (issue 26): no attempt has an overall limit; the reconcile deadline
/// ([`Settings::reconcile_deadline`]) bounds a reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IbmTimeouts {
    /// Longest wait for a connection (TCP and TLS). Default 10 s.
    pub connect: Duration,
    /// Longest wait for the response headers once the request was sent. Default 60 s.
    pub first_byte: Duration,
    /// Longest time no byte moves while the request body is sent or the response read.
    /// Default 60 s.
    pub idle: Duration,
}

impl Default for IbmTimeouts {
    fn default() -> Self {
        IbmTimeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }
}

impl IbmTimeouts {
    /// Sets these timeouts on a client configuration.
    pub fn apply(&self, config: &mut crate::watson::ClientConfig) {
        config.connect_timeout = self.connect;
        config.first_byte_timeout = self.first_byte;
        config.idle_timeout = self.idle;
    }
}

/// Where the operator's trusted-profile token comes from and goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProfileSettings {
    /// The projected service-account token file (default the IBM SDKs' default,
    /// `/var/run/secrets/tokens/vault-token`).
    pub token_file: std::path::PathBuf,
    /// The IAM base URL (default `https://iam.cloud.ibm.com`).
    pub iam_url: String,
}

impl Default for TrustedProfileSettings {
    fn default() -> Self {
        TrustedProfileSettings {
            token_file: "/var/run/secrets/tokens/vault-token".into(),
            iam_url: "https://iam.cloud.ibm.com".into(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            drift_interval: Duration::from_secs(600),
            min_drift_interval: Duration::from_secs(MIN_DRIFT_INTERVAL_SECONDS),
            max_poll_interval: Duration::from_secs(300),
            expected_training: Duration::from_secs(600),
            model_quota: 1024,
            fixed_poll: None,
            ibm_timeouts: IbmTimeouts::default(),
            expected_analysis: Duration::from_secs(600),
            overdue_factor: 3,
            training_per_audio_second: 1.0,
            dry_run: false,
            sources: Default::default(),
            max_reconciles_per_service: 4,
            reconcile_deadline: Duration::from_secs(300),
            trusted_profile: TrustedProfileSettings::default(),
            vanish_rule: crate::decision::vanished::DEFAULT_RULE,
            cluster_name: None,
        }
    }
}
