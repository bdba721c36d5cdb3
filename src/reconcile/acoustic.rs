//! Custom acoustic models: audio resources, trained with an optional language model (IBM STT
//! customization API).

use std::collections::BTreeMap;

use kube::{Api, ResourceExt};

use super::context::{Context, ServiceHandle};
use super::error::Error;
use super::kind::{Check, Gathered, KindOps, from_entry, trained, trust_record};
use crate::crd::acoustic_model::CustomAcousticModel;
use crate::crd::language_model::CustomLanguageModel;
use crate::crd::{
    ManagementPolicy, RECONCILE_REQUESTED_AT, RESET_REQUESTED_AT, ResourceServiceStatus,
    ResourceStatus, TRAIN_REQUESTED_AT, TrainingPolicy, UPGRADE_REQUESTED_AT, UpgradePolicy,
};
use crate::decision::status::{self, Observation, Outcome, READY, ResourceClass, TrackedResource};
use crate::decision::{Action, Dependency, Desired, Observed, ResourceState, digest};
use crate::watson::Upload;
use crate::watson::stt_types::{
    AcousticModel, AudioFormat, CreateAcousticModel, ModelStatus, TrainAcousticModel,
    UpgradeAcousticModel,
};

/// The IBM audio format of a resource from its content types.
fn audio_format(am: &CustomAcousticModel, name: &str) -> AudioFormat {
    let spec = am.spec.audio.iter().find(|a| a.name == name);
    match spec.map(|a| (a.content_type.as_str(), a.contained_content_type.clone())) {
        Some(("application/zip", c)) => AudioFormat::Zip {
            contained_content_type: c,
        },
        Some(("application/gzip", c)) => AudioFormat::Gzip {
            contained_content_type: c,
        },
        Some((t, _)) => AudioFormat::Audio {
            content_type: t.to_string(),
        },
        None => AudioFormat::wav(),
    }
}

/// Upgrades; when the service answers that nothing changed since training, repeats with force.
async fn upgrade(
    stt: &crate::watson::SttClient,
    id: &str,
    custom_language_model_id: &Option<String>,
) -> Result<(), Error> {
    let params = UpgradeAcousticModel {
        custom_language_model_id: custom_language_model_id.clone(),
        force: None,
    };
    match stt.upgrade_acoustic_model(id, &params).await {
        Ok(()) => Ok(()),
        // The documented path: nothing changed since training → repeat with force.
        Err(e) if e.is_no_input_modified() && custom_language_model_id.is_some() => {
            let forced = UpgradeAcousticModel {
                force: Some(true),
                ..params
            };
            Ok(stt.upgrade_acoustic_model(id, &forced).await?)
        }
        Err(e) => Err(e.into()),
    }
}

impl KindOps for CustomAcousticModel {
    type Entry = AcousticModel;

    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let resolver = ctx.resolver(&ns);
        let mut resources = BTreeMap::new();
        let mut contents = BTreeMap::new();
        // An observed model's audio is never uploaded, so never read.
        let observe_only = self.spec.management_policy == ManagementPolicy::ObserveOnly;
        for a in &self.spec.audio {
            let contained = a.contained_content_type.as_deref();
            let src = &a.source;
            let read = async {
                match (&src.config_map_key_ref, &src.secret_key_ref) {
                    (Some(r), _) => resolver.config_map_key(r).await,
                    (None, Some(r)) => resolver.secret_key(r).await,
                    (None, None) => Ok(Vec::new()),
                }
            };
            let content = resolver
                .content(
                    observe_only,
                    src.url.as_deref(),
                    src.url_from.as_ref(),
                    read,
                )
                .await?;
            let d = digest::audio_of(&a.content_type, contained, &content.sha256);
            resources.insert(a.name.clone(), d);
            if let Some(bytes) = content.bytes {
                contents.insert(a.name.clone(), bytes);
            }
        }
        let training = &self.spec.training;
        let language_model = self
            .spec
            .language_model_ref
            .as_ref()
            .map(|r| r.name.as_str());
        let annotations = self.annotations();
        Ok((
            Desired {
                inputs_digest: match observe_only {
                    true => String::new(),
                    false => digest::acoustic(&resources, training.strict, language_model),
                },
                resources,
                words: BTreeMap::new(),
                target_version: self.spec.base_model_version.clone(),
                upgrade_automatic: self.spec.upgrade_policy == UpgradePolicy::Automatic,
                train_on_change: training.policy == TrainingPolicy::OnChange,
                train_token: annotations.get(TRAIN_REQUESTED_AT).cloned(),
                upgrade_token: annotations.get(UPGRADE_REQUESTED_AT).cloned(),
                reset_token: annotations.get(RESET_REQUESTED_AT).cloned(),
                reconcile_token: annotations.get(RECONCILE_REQUESTED_AT).cloned(),
                recreate_token: None,
                promote_token: None,
                strict: training.strict.unwrap_or(true),
            },
            contents,
        ))
    }

    async fn dependency(&self, ctx: &Context) -> Result<Dependency, Error> {
        let Some(r) = &self.spec.language_model_ref else {
            return Ok(Dependency::None);
        };
        let api: Api<CustomLanguageModel> =
            Api::namespaced(ctx.client.clone(), &self.namespace().unwrap_or_default());
        let Some(lm) = api.get_opt(&r.name).await? else {
            return Ok(Dependency::Missing);
        };
        if lm.spec.base_model_name != self.spec.base_model_name {
            return Err(Error::InvalidSpec(format!(
                "spec.languageModelRef {} is on base model {}, this model on {}: both must use the same base model",
                r.name, lm.spec.base_model_name, self.spec.base_model_name
            )));
        }
        let st = lm.status.as_ref().map(|s| &s.model);
        let ready = st.is_some_and(|s| {
            status::condition(&s.conditions, READY).is_some_and(|c| c.status == "True")
        });
        match (ready, st.and_then(|s| s.customization_id.clone())) {
            (true, Some(id)) => Ok(Dependency::Available {
                customization_id: id,
                version: st.and_then(|s| s.base_model_version.clone()),
            }),
            _ => Ok(Dependency::NotReady {
                reason: format!(
                    "waiting for CustomLanguageModel {} to be Ready (now {})",
                    r.name,
                    st.and_then(|s| s.phase.as_ref())
                        .map_or("unknown", |p| p.as_str())
                ),
            }),
        }
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        m: &AcousticModel,
        check: &Check<'_>,
        _desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<(Observed, Observation)>, Error> {
        let (mut observed, mut seen) = from_entry(m);
        let id = &m.customization_id;
        let recorded = &check.prev.resources;
        // Acoustic models hold no words.
        let no_words = status::Words {
            recorded: Some(0),
            to_add: false,
        };
        if check.may_trust(&observed, no_words, ctx) {
            trust_record(recorded.clone(), &mut observed, &mut seen);
        } else {
            for a in svc.stt()?.list_audio(id).await?.audio {
                let status = a
                    .status
                    .as_ref()
                    .map(|s| ResourceServiceStatus::parse(s.as_str()));
                let state = ResourceState::of(status.as_ref(), "invalid audio".into(), true);
                observed.resources.insert(a.name.clone(), state);
                let known = recorded.iter().find(|r| r.status.name == a.name);
                let digest = known.and_then(|r| r.status.digest.clone());
                let added_at = known.and_then(|r| r.status.added_at.clone());
                let mut listed = ResourceStatus {
                    service_status: status,
                    name: a.name,
                    digest,
                    added_at,
                    duration_seconds: a.duration.map(|d| d as i64),
                    ..Default::default()
                };
                // Replaced elsewhere (issue 25): what the service holds is no longer known to
                // be the spec's audio, so it is uploaded again.
                if check.read_all
                    && known.is_some_and(|k| status::replaced_elsewhere(&k.status, &listed))
                {
                    listed.digest = None;
                }
                seen.resources.push(TrackedResource {
                    class: ResourceClass::Audio,
                    status: listed,
                });
            }
        }
        Ok(Some((observed, seen)))
    }

    async fn create(
        &self,
        svc: &ServiceHandle,
        name: String,
        description: String,
    ) -> Result<AcousticModel, Error> {
        let req = CreateAcousticModel {
            name,
            base_model_name: self.spec.base_model_name.clone(),
            description: Some(description),
        };
        let created = svc.stt()?.create_acoustic_model(&req).await?;
        Ok(AcousticModel {
            customization_id: created.customization_id,
            name: Some(req.name),
            description: req.description,
            base_model_name: Some(req.base_model_name),
            status: Some(ModelStatus::Pending),
            ..Default::default()
        })
    }

    async fn delete(svc: &ServiceHandle, id: &str) -> Result<(), Error> {
        Ok(svc.stt()?.delete_acoustic_model(id).await?)
    }

    async fn change(
        &self,
        svc: &ServiceHandle,
        id: &str,
        action: &Action,
        g: &Gathered,
    ) -> Result<Outcome, Error> {
        let stt = svc.stt()?;
        match action {
            Action::DeleteResource { name } => stt.delete_audio(id, name).await?,
            Action::AddResource { name, overwrite } => {
                let format = audio_format(self, name);
                let source = self
                    .spec
                    .audio
                    .iter()
                    .find(|a| &a.name == name)
                    .map(|a| &a.source);
                let (url, url_from) = match source {
                    Some(s) => (s.url.as_deref(), s.url_from.as_ref()),
                    None => (None, None),
                };
                // A URL streams from its source to the service; a ConfigMap or Secret key (at
                // most 1 MiB, etcd's limit) is sent from the bytes read for the digest.
                let resolver = svc.sources()?;
                let data = match resolver.url_source(url, url_from).await? {
                    Some(u) => resolver.source_upload(&u).await?,
                    None => Upload::from(g.contents.get(name).cloned().unwrap_or_default()),
                };
                match stt
                    .add_audio(id, name, &format, data.clone(), *overwrite)
                    .await
                {
                    // An earlier add whose answer was lost put it there: send it again with
                    // allow_overwrite, so the service holds exactly what the spec says.
                    Err(e) if !overwrite && e.is_already_exists() => {
                        stt.add_audio(id, name, &format, data, true).await?
                    }
                    other => other?,
                }
            }
            Action::Train {
                custom_language_model_id,
            } => {
                let params = TrainAcousticModel {
                    custom_language_model_id: custom_language_model_id.clone(),
                    strict: self.spec.training.strict,
                };
                return Ok(trained(stt.train_acoustic_model(id, &params).await?));
            }
            Action::Upgrade {
                custom_language_model_id,
            } => upgrade(stt, id, custom_language_model_id).await?,
            Action::Reset => stt.reset_acoustic_model(id).await?,
            _ => {}
        }
        Ok(Outcome::default())
    }

    fn audio_seconds(&self) -> i64 {
        self.status
            .as_ref()
            .map(|s| s.audio.iter().filter_map(|a| a.duration_seconds).sum())
            .unwrap_or(0)
    }
}
