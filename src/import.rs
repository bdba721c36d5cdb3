//! `watson-speech-operator import`: reads the custom models of one IBM service instance and
//! prints manifests that adopt each one (multi-document YAML on stdout).
//!
//! Every manifest names its model by `spec.customizationId` and carries what IBM reports of it:
//! base model (or language), name, description, the custom words in full (the words the user
//! added: IBM's list-words call, source `user`), and the corpora, grammars and audio by name. Their
//! content cannot be downloaded from IBM, so their sources point at a placeholder ConfigMap (a
//! comment in each document says so). The management policy defaults to `ObserveOnly`, under which
//! the operator reads no source and never writes to the service, so applying the output is safe:
//! every model becomes Available with no create, no upload and no training.
//!
//! Only reads are sent (list and get calls). Credentials come from an environment variable or a
//! file and are never printed. Errors are one line naming the flag to fix ([`ImportError`]).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use kube::Resource;
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::crd::acoustic_model::{AudioResource, AudioSource};
use crate::crd::language_model::{Corpus, CustomWord, Grammar, GrammarType};
use crate::crd::voice_model::VoiceWord;
use crate::crd::{
    ConfigMapKeyRef, CustomAcousticModel, CustomAcousticModelSpec, CustomLanguageModel,
    CustomLanguageModelSpec, CustomVoiceModel, CustomVoiceModelSpec, ManagementPolicy, ServiceRef,
    Source,
};

use crate::watson::stt_types::{AudioDetails, ListWords, WordType};
use crate::watson::{Auth, ClientConfig, RetryPolicy, ServedApi, SttClient, TtsClient};

/// The IBM service whose models are imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServiceKindArg {
    /// Speech to Text: custom language and acoustic models.
    SpeechToText,
    /// Text to Speech: custom voice models.
    TextToSpeech,
}

/// The management policy written into every manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    /// The operator only reads the models (safe to apply as is).
    #[value(name = "ObserveOnly")]
    ObserveOnly,
    /// The operator manages the models (put the content into the placeholder ConfigMap first).
    #[value(name = "Manage")]
    Manage,
}

/// How to authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthArg {
    /// An IBM Cloud API key exchanged for IAM tokens at `--iam-url`.
    #[value(name = "IAM")]
    Iam,
    /// A bearer token you provide.
    #[value(name = "Bearer")]
    Bearer,
    /// Cloud Pak for Data: `--username` with the password (or, with `--cloud-pak-api-key`, the
    /// API key) from `--apikey-env`/`--apikey-file`, exchanged at `--cloud-pak-url`.
    #[value(name = "CloudPakForData")]
    CloudPakForData,
    /// An IBM Cloud trusted profile (`--profile-id` or `--profile-name`): the compute resource
    /// token in `--cr-token-file` exchanged at `--iam-url`; no credentials flag.
    #[value(name = "TrustedProfile")]
    TrustedProfile,
    /// No authentication.
    #[value(name = "None")]
    None,
}

/// The flags of `import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The service URL including the instance part, as in a SpeechService's `spec.url`, e.g.
    /// `https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/<id>`.
    #[arg(long)]
    pub url: String,
    /// Which service answers at `--url`.
    #[arg(long, value_enum)]
    pub service_kind: ServiceKindArg,
    /// How to authenticate (as a SpeechService's `spec.auth.type`).
    #[arg(long, value_enum, default_value = "IAM")]
    pub auth_type: AuthArg,
    /// The environment variable holding the API key (IAM) or the token (Bearer).
    #[arg(long, alias = "token-env")]
    pub apikey_env: Option<String>,
    /// A file holding the API key (IAM) or the token (Bearer); surrounding whitespace is ignored.
    #[arg(long, alias = "token-file", conflicts_with = "apikey_env")]
    pub apikey_file: Option<PathBuf>,
    /// The IAM token endpoint base URL (as a SpeechService's `spec.auth.iamUrl`).
    #[arg(long, default_value = "https://iam.cloud.ibm.com")]
    pub iam_url: String,
    /// CloudPakForData: the URL tokens come from (as `spec.auth.cloudPakUrl`), e.g.
    /// `https://cpd.example.com/icp4d-api`.
    #[arg(long)]
    pub cloud_pak_url: Option<String>,
    /// CloudPakForData: the user name.
    #[arg(long)]
    pub username: Option<String>,
    /// CloudPakForData: the credentials flag holds the user's API key, not its password.
    #[arg(long, default_value_t = false)]
    pub cloud_pak_api_key: bool,
    /// TrustedProfile: the profile ID.
    #[arg(long, conflicts_with = "profile_name")]
    pub profile_id: Option<String>,
    /// TrustedProfile: the profile name.
    #[arg(long)]
    pub profile_name: Option<String>,
    /// TrustedProfile: the compute resource token (a projected service-account token).
    #[arg(long, default_value = "/var/run/secrets/tokens/vault-token")]
    pub cr_token_file: PathBuf,
    /// The SpeechService the manifests name in `spec.serviceRef` (same namespace).
    #[arg(long)]
    pub service_ref: String,
    /// The namespace written into every manifest; omitted: the one `kubectl apply` uses.
    #[arg(long)]
    pub namespace: Option<String>,
    /// The management policy written into every manifest.
    #[arg(long, value_enum, default_value = "ObserveOnly")]
    pub management_policy: PolicyArg,
    /// The ConfigMap the sources of corpora, grammars and audio point at (their content cannot
    /// be downloaded from IBM); the key is the resource name.
    #[arg(long, default_value = PLACEHOLDER)]
    pub placeholder_config_map: String,
}

/// The default placeholder ConfigMap.
pub const PLACEHOLDER: &str = "wso-import-placeholder-content";

/// Why an import failed: one line, naming the flag to fix.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No credentials flag was given.
    #[error(
        "no credentials: pass --apikey-env VAR (or --apikey-file PATH) holding the API key, or --auth-type None"
    )]
    NoCredentials,
    /// A flag the chosen `--auth-type` needs is missing.
    #[error("{0} is required with this --auth-type")]
    MissingFlag(&'static str),
    /// The environment variable is unset or empty.
    #[error(
        "the environment variable {0} (--apikey-env) is not set or empty: export the credentials in it"
    )]
    EmptyEnv(String),
    /// The credentials file cannot be read or is empty.
    #[error("cannot read the credentials file {path} (--apikey-file): {detail}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// `--url` or `--iam-url` does not parse.
    #[error(
        "{flag} {value:?} is not a URL ({detail}): pass the instance's base URL, e.g. https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/<id>"
    )]
    BadUrl {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
        /// The parser's message.
        detail: String,
    },
    /// Nothing answers at the URL.
    #[error(
        "cannot reach {url}: {detail}: check --url (and that the service is reachable from here)"
    )]
    Unreachable {
        /// `--url`.
        url: String,
        /// The transport error.
        detail: String,
    },
    /// The service or IAM refused the credentials.
    #[error("the credentials were refused ({detail}): check the key in {origin} and --iam-url")]
    Refused {
        /// Where the credentials came from (`$VAR` or the file).
        origin: String,
        /// The service's answer.
        detail: String,
    },
    /// The other service (or neither) answers at the URL.
    #[error("{0}")]
    WrongService(String),
    /// Any other failure of a call.
    #[error("reading the models failed: {0}")]
    Service(#[from] crate::watson::Error),
}

/// The credentials and where they came from (for messages; never the value).
fn credentials(args: &ImportArgs) -> Result<(Auth, String), ImportError> {
    match args.auth_type {
        AuthArg::None => return Ok((Auth::None, "nothing (--auth-type None)".into())),
        AuthArg::TrustedProfile => {
            let profile = match (&args.profile_id, &args.profile_name) {
                (Some(id), _) => crate::watson::TrustedProfileRef::Id(id.clone()),
                (None, Some(name)) => crate::watson::TrustedProfileRef::Name(name.clone()),
                (None, None) => {
                    return Err(ImportError::MissingFlag("--profile-id or --profile-name"));
                }
            };
            let auth = Auth::TrustedProfile {
                url: parse_url("--iam-url", &args.iam_url)?,
                token_file: args.cr_token_file.clone(),
                profile,
            };
            return Ok((auth, args.cr_token_file.display().to_string()));
        }
        _ => {}
    }
    let (secret, source) = match (&args.apikey_env, &args.apikey_file) {
        (Some(var), _) => {
            let value = std::env::var(var).unwrap_or_default();
            if value.trim().is_empty() {
                return Err(ImportError::EmptyEnv(var.clone()));
            }
            (value.trim().to_string(), format!("${var}"))
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| ImportError::File {
                path: path.display().to_string(),
                detail: e.to_string(),
            })?;
            if text.trim().is_empty() {
                return Err(ImportError::File {
                    path: path.display().to_string(),
                    detail: "the file is empty".into(),
                });
            }
            (text.trim().to_string(), path.display().to_string())
        }
        (None, None) => return Err(ImportError::NoCredentials),
    };
    let secret = SecretString::from(secret);
    let auth = match args.auth_type {
        AuthArg::Iam => Auth::Iam {
            api_key: secret,
            url: parse_url("--iam-url", &args.iam_url)?,
        },
        AuthArg::Bearer => Auth::Bearer(secret),
        AuthArg::CloudPakForData => Auth::CloudPakForData {
            url: parse_url(
                "--cloud-pak-url",
                args.cloud_pak_url
                    .as_deref()
                    .ok_or(ImportError::MissingFlag("--cloud-pak-url"))?,
            )?,
            username: args
                .username
                .clone()
                .ok_or(ImportError::MissingFlag("--username"))?,
            secret: if args.cloud_pak_api_key {
                crate::watson::CloudPakSecret::ApiKey(secret)
            } else {
                crate::watson::CloudPakSecret::Password(secret)
            },
        },
        AuthArg::None | AuthArg::TrustedProfile => Auth::None,
    };
    Ok((auth, source))
}

fn parse_url(flag: &'static str, value: &str) -> Result<url::Url, ImportError> {
    url::Url::parse(value).map_err(|e| ImportError::BadUrl {
        flag,
        value: value.to_string(),
        detail: e.to_string(),
    })
}

/// A client error as the user should read it: unreachable, refused credentials, or as is.
fn explain(e: crate::watson::Error, url: &str, source: &str) -> ImportError {
    use crate::watson::Error as W;
    match e {
        W::Transport { ref context, .. } => ImportError::Unreachable {
            url: url.to_string(),
            detail: context.message.clone(),
        },
        W::Unauthorized(_) | W::Iam(_) | W::CloudPakToken(_) | W::NotFoundOrForbidden(_) => {
            ImportError::Refused {
                origin: source.to_string(),
                detail: e.to_string(),
            }
        }
        other => ImportError::Service(other),
    }
}

/// Reads the instance's models and returns the manifests (multi-document YAML).
pub async fn run(args: &ImportArgs) -> Result<String, ImportError> {
    crate::tls::install_crypto_provider();
    let url = parse_url("--url", &args.url)?;
    let (auth, source) = credentials(args)?;
    let mut config = ClientConfig::new(url, auth);
    // A person waits at the terminal: fail in seconds, not after a minute of retries.
    config.retry = RetryPolicy {
        max_retries: 1,
        initial_backoff: Duration::from_millis(300),
        max_backoff: Duration::from_secs(2),
        max_elapsed: Duration::from_secs(5),
    };
    config.first_byte_timeout = Duration::from_secs(30);
    config.idle_timeout = Duration::from_secs(30);
    config.user_agent = format!(
        "watson-speech-operator-import/{}",
        env!("CARGO_PKG_VERSION")
    );
    let why = |e| explain(e, &args.url, &source);
    let mut out = Namer::default();
    let mut docs = Vec::new();
    match args.service_kind {
        ServiceKindArg::SpeechToText => {
            let stt = SttClient::new(config)?;
            check_served(stt.served_api().await.map_err(why)?, args)?;
            for m in stt
                .list_language_models(None)
                .await
                .map_err(why)?
                .customizations
            {
                docs.push(language(&stt, &m, args, &mut out).await.map_err(why)?);
            }
            for m in stt
                .list_acoustic_models(None)
                .await
                .map_err(why)?
                .customizations
            {
                docs.push(acoustic(&stt, &m, args, &mut out).await.map_err(why)?);
            }
        }
        ServiceKindArg::TextToSpeech => {
            let tts = TtsClient::new(config)?;
            check_served(tts.served_api().await.map_err(why)?, args)?;
            for m in tts
                .list_custom_models(None)
                .await
                .map_err(why)?
                .customizations
            {
                let full = tts
                    .get_custom_model(&m.customization_id)
                    .await
                    .map_err(why)?;
                docs.push(voice(&full, args, &mut out));
            }
        }
    }
    Ok(docs.concat())
}

fn check_served(served: ServedApi, args: &ImportArgs) -> Result<(), ImportError> {
    let message = match (args.service_kind, served) {
        (ServiceKindArg::SpeechToText, ServedApi::SpeechToText)
        | (ServiceKindArg::TextToSpeech, ServedApi::TextToSpeech) => return Ok(()),
        (ServiceKindArg::SpeechToText, ServedApi::TextToSpeech) => {
            "--url serves Text to Speech: pass --service-kind text-to-speech, or the Speech to Text instance's URL"
        }
        (ServiceKindArg::TextToSpeech, ServedApi::SpeechToText) => {
            "--url serves Speech to Text: pass --service-kind speech-to-text, or the Text to Speech instance's URL"
        }
        (_, ServedApi::Neither) => {
            "neither Speech to Text nor Text to Speech answers at --url: pass the instance's base URL, without /v1 or any further path"
        }
    };
    Err(ImportError::WrongService(format!(
        "{message} ({})",
        args.url
    )))
}

/// Kubernetes names, unique within one output.
#[derive(Default)]
pub struct Namer {
    taken: BTreeSet<String>,
}

impl Namer {
    /// A valid, unique object name for the IBM model `ibm_name` (`id`: its customization ID):
    /// lower case, every run of other characters than `a-z0-9` turned into one `-`, at most 63
    /// characters (a DNS label, the strictest name rule); `model-<id prefix>` when nothing is
    /// left; the ID's first 8 characters appended (then a counter) when the name is taken.
    pub fn name(&mut self, ibm_name: Option<&str>, id: &str) -> String {
        let short: String = id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        let mut base = String::new();
        for c in ibm_name.unwrap_or("").chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                base.push(c);
            } else if !base.ends_with('-') && !base.is_empty() {
                base.push('-');
            }
        }
        let fit = |s: &str, room: usize| s.chars().take(room).collect::<String>();
        let mut base = fit(&base, 63).trim_end_matches('-').to_string();
        if base.is_empty() {
            base = format!("model-{}", short.to_lowercase());
        }
        let mut candidate = base.clone();
        let mut n = 1;
        while self.taken.contains(&candidate) {
            let suffix = if n == 1 {
                format!("-{}", short.to_lowercase())
            } else {
                format!("-{}-{n}", short.to_lowercase())
            };
            let head = fit(&base, 63 - suffix.len());
            candidate = format!("{}{suffix}", head.trim_end_matches('-'));
            n += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// The description as the CRD takes it: the operator's ownership marker removed, at most 85
/// characters. The second value says whether it was shortened.
pub fn description(ibm: Option<&str>) -> (Option<String>, bool) {
    let mut text = ibm.unwrap_or("").to_string();
    if let Some(start) = text.find(" [wso:").or_else(|| text.find("[wso:"))
        && let Some(end) = text[start..].find(']')
    {
        text.replace_range(start..start + end + 1, "");
    }
    let text = text.trim().to_string();
    let cut = text.chars().count() > 85;
    let text: String = text.chars().take(85).collect();
    (
        (!text.trim().is_empty()).then(|| text.trim_end().to_string()),
        cut,
    )
}

/// True when `name` is accepted as a corpus, grammar or audio name by the CRDs.
fn valid_resource_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && name.len() <= 128
        && !["user", "base_lm", "default_lm"].contains(&name)
}

/// Whether a resource listed by the service can be written into a manifest (its name passes
/// the CRD's rules); the name goes to `skipped` (reported in a comment) when it cannot.
fn importable(name: &str, skipped: &mut Vec<String>) -> bool {
    valid_resource_name(name) || {
        skipped.push(name.to_string());
        false
    }
}

/// True when `name` is accepted as `spec.modelName`.
fn valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 256
        && !name.contains(['\\', '/', ':', '=', '&', '?'])
}

/// The fields every kind shares (typed as the CRDs have them), and the header comment lines.
struct Common {
    service_ref: ServiceRef,
    customization_id: Option<String>,
    management_policy: ManagementPolicy,
    model_name: Option<String>,
    description: Option<String>,
    notes: Vec<String>,
}

fn common(
    kind: &str,
    id: &str,
    ibm_name: Option<&str>,
    ibm_description: Option<&str>,
    args: &ImportArgs,
) -> Common {
    let mut notes = vec![format!(
        "{kind}: IBM model {:?} ({id}), imported by watson-speech-operator import.",
        ibm_name.unwrap_or("")
    )];
    let management_policy = match args.management_policy {
        PolicyArg::ObserveOnly => {
            notes.push("managementPolicy ObserveOnly: the operator reads this model and never changes or deletes it.".into());
            ManagementPolicy::ObserveOnly
        }
        PolicyArg::Manage => {
            notes.push("managementPolicy Manage: the operator uploads the sources below and trains; fill the placeholders first.".into());
            ManagementPolicy::Manage
        }
    };
    let model_name = match ibm_name {
        Some(n) if valid_model_name(n) => Some(n.to_string()),
        Some(n) => {
            notes.push(format!(
                "The IBM name {n:?} is not a valid spec.modelName (at most 256 characters, without \\ / : = & ?): left out."
            ));
            None
        }
        None => None,
    };
    let (description, cut) = description(ibm_description);
    if cut {
        notes.push("The description was cut to the 85 characters spec.description allows.".into());
    }
    Common {
        service_ref: ServiceRef {
            name: args.service_ref.clone(),
        },
        customization_id: Some(id.to_string()),
        management_policy,
        model_name,
        description,
        notes,
    }
}

fn placeholder_ref(args: &ImportArgs, key: &str) -> ConfigMapKeyRef {
    ConfigMapKeyRef {
        name: args.placeholder_config_map.clone(),
        key: key.to_string(),
    }
}

fn placeholder(args: &ImportArgs, key: &str) -> Source {
    Source {
        text: None,
        config_map_key_ref: Some(placeholder_ref(args, key)),
        secret_key_ref: None,
        url: None,
        url_from: None,
    }
}

fn placeholder_note(args: &ImportArgs, what: &str) -> String {
    format!(
        "The content of the {what} cannot be downloaded from IBM: each source points at the placeholder ConfigMap {} (key: the resource name). Put the real content there before switching to managementPolicy Manage.",
        args.placeholder_config_map
    )
}

/// The spec fields the manifest always shows, even when they hold the default (the identity of
/// the model and what the operator may do with it); every other field is left out while it
/// holds its default, so the manifest shows what IBM reported and nothing more.
const ALWAYS_SHOWN: &[&str] = &[
    "serviceRef",
    "baseModelName",
    "language",
    "customizationId",
    "managementPolicy",
];

/// One YAML document: the header comments, then the resource (`apiVersion`, `kind`,
/// `metadata.name`, `metadata.namespace` with `--namespace`, `spec`) as the CRD types serialize
/// it, without the spec fields that hold their default (see [`ALWAYS_SHOWN`]).
fn document<K>(mut object: K, notes: &[String], args: &ImportArgs) -> String
where
    K: Resource + Serialize + DeserializeOwned,
    K::DynamicType: Default,
{
    object.meta_mut().namespace = args.namespace.clone();
    let mut value = serde_json::to_value(&object).unwrap_or_default();
    // The defaults are what the API server reads for an empty spec: the same object with every
    // spec field but the required ones taken out, read back through the CRD type.
    if let Some(spec) = value.get("spec").and_then(Value::as_object).cloned() {
        let required: serde_json::Map<String, Value> = spec
            .iter()
            .filter(|(k, _)| ALWAYS_SHOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut bare = value.clone();
        bare["spec"] = Value::Object(required);
        let defaults = serde_json::from_value::<K>(bare)
            .ok()
            .and_then(|d| serde_json::to_value(d).ok());
        if let Some(defaults) = defaults.as_ref().and_then(|d| d.get("spec")) {
            let shown: serde_json::Map<String, Value> = spec
                .into_iter()
                .filter(|(k, v)| ALWAYS_SHOWN.contains(&k.as_str()) || defaults.get(k) != Some(v))
                .collect();
            value["spec"] = Value::Object(shown);
        }
    }
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    let yaml = serde_yaml::to_string(&value).unwrap_or_default();
    let comments: String = notes.iter().map(|n| format!("# {n}\n")).collect();
    format!("---\n{comments}{yaml}")
}

async fn language(
    stt: &SttClient,
    m: &crate::watson::stt_types::LanguageModel,
    args: &ImportArgs,
    namer: &mut Namer,
) -> Result<String, crate::watson::Error> {
    let id = &m.customization_id;
    let mut c = common(
        "CustomLanguageModel",
        id,
        m.name.as_deref(),
        m.description.as_deref(),
        args,
    );
    let mut skipped = Vec::new();
    let corpora: Vec<Corpus> = stt
        .list_corpora(id)
        .await?
        .corpora
        .into_iter()
        .filter(|r| importable(&r.name, &mut skipped))
        .map(|r| Corpus {
            source: placeholder(args, &r.name),
            name: r.name,
        })
        .collect();
    let grammars: Vec<Grammar> = stt
        .list_grammars(id)
        .await?
        .grammars
        .into_iter()
        .filter(|r| importable(&r.name, &mut skipped))
        .map(|r| Grammar {
            content_type: GrammarType::Abnf,
            source: placeholder(args, &r.name),
            name: r.name,
        })
        .collect();
    let query = ListWords {
        word_type: Some(WordType::User),
        sort: None,
    };
    let words: Vec<CustomWord> = stt
        .list_words(id, query)
        .await?
        .words
        .into_iter()
        .filter(|w| w.source.iter().any(|s| s == "user"))
        .map(|w| CustomWord {
            display_as: w.display_as.filter(|d| !d.is_empty() && *d != w.word),
            mapping_only: (w.mapping_only == Some(true)).then_some(true),
            sounds_like: w.sounds_like,
            word: w.word,
        })
        .collect();
    if !corpora.is_empty() || !grammars.is_empty() {
        c.notes.push(placeholder_note(args, "corpora and grammars"));
    }
    if !grammars.is_empty() {
        c.notes.push("IBM does not report a grammar's format: contentType abnf is a guess; set xml where needed.".into());
    }
    if !skipped.is_empty() {
        c.notes.push(format!(
            "Left out (names the CRD refuses): {}.",
            skipped.join(", ")
        ));
    }
    let spec = CustomLanguageModelSpec {
        service_ref: c.service_ref,
        base_model_name: m.base_model_name.clone().unwrap_or_default(),
        dialect: None,
        model_name: c.model_name,
        description: c.description,
        base_model_version: None,
        upgrade_policy: Default::default(),
        corpora,
        words,
        words_from: None,
        grammars,
        training: Default::default(),
        deletion_policy: Default::default(),
        export: None,
        customization_id: c.customization_id,
        suspend: false,
        management_policy: c.management_policy,
        evaluation: None,
    };
    let name = namer.name(m.name.as_deref(), id);
    Ok(document(
        CustomLanguageModel::new(&name, spec),
        &c.notes,
        args,
    ))
}

/// The content type of an audio resource from IBM's details (a guess for single files: IBM
/// reports the codec, not the type it was sent with).
pub fn audio_content_type(details: Option<&AudioDetails>) -> &'static str {
    let Some(d) = details else {
        return "audio/wav";
    };
    match (d.compression.as_deref(), d.codec.as_deref()) {
        (Some("zip"), _) => "application/zip",
        (Some("gzip"), _) => "application/gzip",
        (_, Some("opus" | "vorbis")) => "audio/ogg",
        (_, Some("flac")) => "audio/flac",
        (_, Some("mp3")) => "audio/mp3",
        _ => "audio/wav",
    }
}

async fn acoustic(
    stt: &SttClient,
    m: &crate::watson::stt_types::AcousticModel,
    args: &ImportArgs,
    namer: &mut Namer,
) -> Result<String, crate::watson::Error> {
    let id = &m.customization_id;
    let mut c = common(
        "CustomAcousticModel",
        id,
        m.name.as_deref(),
        m.description.as_deref(),
        args,
    );
    let mut skipped = Vec::new();
    let audio: Vec<AudioResource> = stt
        .list_audio(id)
        .await?
        .audio
        .into_iter()
        .filter(|r| importable(&r.name, &mut skipped))
        .map(|r| AudioResource {
            content_type: audio_content_type(r.details.as_ref()).to_string(),
            contained_content_type: None,
            source: AudioSource {
                url: None,
                config_map_key_ref: Some(placeholder_ref(args, &r.name)),
                secret_key_ref: None,
                url_from: None,
            },
            name: r.name,
        })
        .collect();
    if !audio.is_empty() {
        c.notes.push(placeholder_note(args, "audio"));
        c.notes.push("Content types come from IBM's audio details (a single file's is a guess); the language model trained with, if any, is not reported by IBM: add spec.languageModelRef yourself.".into());
    }
    if !skipped.is_empty() {
        c.notes.push(format!(
            "Left out (names the CRD refuses): {}.",
            skipped.join(", ")
        ));
    }
    let spec = CustomAcousticModelSpec {
        service_ref: c.service_ref,
        base_model_name: m.base_model_name.clone().unwrap_or_default(),
        model_name: c.model_name,
        description: c.description,
        base_model_version: None,
        upgrade_policy: Default::default(),
        language_model_ref: None,
        audio,
        training: Default::default(),
        deletion_policy: Default::default(),
        export: None,
        customization_id: c.customization_id,
        suspend: false,
        management_policy: c.management_policy,
    };
    let name = namer.name(m.name.as_deref(), id);
    Ok(document(
        CustomAcousticModel::new(&name, spec),
        &c.notes,
        args,
    ))
}

fn voice(m: &crate::watson::tts_types::VoiceModel, args: &ImportArgs, namer: &mut Namer) -> String {
    let id = &m.customization_id;
    let c = common(
        "CustomVoiceModel",
        id,
        m.name.as_deref(),
        m.description.as_deref(),
        args,
    );
    let words: Vec<VoiceWord> = m
        .words
        .iter()
        .map(|w| VoiceWord {
            word: w.word.clone(),
            translation: w.translation.clone(),
            part_of_speech: w.part_of_speech.as_ref().map(|p| p.as_str().to_string()),
        })
        .collect();
    let spec = CustomVoiceModelSpec {
        service_ref: c.service_ref,
        language: m
            .language
            .clone()
            .unwrap_or_else(crate::crd::voice_model::default_language),
        model_name: c.model_name,
        description: c.description,
        words,
        words_from: None,
        deletion_policy: Default::default(),
        export: None,
        customization_id: c.customization_id,
        suspend: false,
        management_policy: c.management_policy,
    };
    let name = namer.name(m.name.as_deref(), id);
    document(CustomVoiceModel::new(&name, spec), &c.notes, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let mut n = Namer::default();
        assert_eq!(
            n.name(Some("Helpdesk Model (v2)"), "abcdef12-0000"),
            "helpdesk-model-v2"
        );
        assert_eq!(
            n.name(Some("helpdesk model v2"), "12345678-9999"),
            "helpdesk-model-v2-12345678"
        );
        assert_eq!(
            n.name(Some("helpdesk_model_v2"), "12345678-9999"),
            "helpdesk-model-v2-12345678-2"
        );
        assert_eq!(n.name(Some("日本語"), "FEDCBA98-1"), "model-fedcba98");
        assert_eq!(n.name(None, "0a0b0c0d-1"), "model-0a0b0c0d");
        let long = n.name(Some(&"x".repeat(300)), "11112222-3");
        assert_eq!(long.len(), 63);
        let again = n.name(Some(&"x".repeat(300)), "11112222-3");
        assert!(again.len() <= 63 && again.ends_with("-11112222"), "{again}");
        for name in n.taken {
            assert!(
                name.len() <= 63
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !name.starts_with('-')
                    && !name.ends_with('-'),
                "{name}"
            );
        }
    }

    #[test]
    fn descriptions_lose_the_marker_and_fit_the_crd() {
        assert_eq!(
            description(Some("helpdesk [wso:0f9e-uid]")),
            (Some("helpdesk".to_string()), false)
        );
        assert_eq!(description(Some("[wso:uid]")), (None, false));
        assert_eq!(description(None), (None, false));
        let (d, cut) = description(Some(&"d".repeat(128)));
        assert_eq!((d.map(|d| d.len()), cut), (Some(85), true));
    }

    #[test]
    fn resource_and_model_names_follow_the_crd() {
        assert!(valid_resource_name("corpus-1.txt"));
        assert!(
            !valid_resource_name("user")
                && !valid_resource_name("-x")
                && !valid_resource_name("a b")
        );
        assert!(valid_model_name("Helpdesk model"));
        assert!(!valid_model_name("a/b") && !valid_model_name(""));
    }

    #[test]
    fn audio_content_types_come_from_the_details() {
        let d = |compression: Option<&str>, codec: Option<&str>| AudioDetails {
            kind: None,
            codec: codec.map(str::to_string),
            frequency: None,
            compression: compression.map(str::to_string),
        };
        assert_eq!(
            audio_content_type(Some(&d(Some("gzip"), None))),
            "application/gzip"
        );
        assert_eq!(
            audio_content_type(Some(&d(Some("zip"), None))),
            "application/zip"
        );
        assert_eq!(
            audio_content_type(Some(&d(None, Some("opus")))),
            "audio/ogg"
        );
        assert_eq!(
            audio_content_type(Some(&d(None, Some("pcm_s16le")))),
            "audio/wav"
        );
        assert_eq!(audio_content_type(None), "audio/wav");
    }
}
