//! Custom voice models: word translations (IBM TTS customization API; no training, no upgrades,
//! every call synchronous).

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::context::{Context, NewModel, ServiceHandle};
use super::error::Error;
use super::inputs::parse_word_list;
use super::models::{
    Check, Gathered, IN_FLIGHT_AGE, KindOps, ObservedFull, description, gone_is_fine, marked,
    model_name,
};
use crate::crd::voice_model::{CustomVoiceModel, VoiceWord};
use crate::decision::status::{Observation, Outcome};
use crate::decision::{Action, Dependency, Desired, Observed, ServiceStatus, WordDef, digest};
use crate::watson::tts_types::{CreateVoiceModel, VoiceModel};

fn voice_def(w: &VoiceWord) -> WordDef {
    WordDef {
        sounds_like: Vec::new(),
        display_as: None,
        mapping_only: None,
        translation: Some(w.translation.clone()),
        part_of_speech: w.part_of_speech.clone(),
    }
}

impl KindOps for CustomVoiceModel {
    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let mut words = BTreeMap::new();
        if let Some(from) = &self.spec.words_from {
            let r = &from.config_map_key_ref;
            let bytes = ctx.resolver(&ns).config_map_key(r).await?;
            let list: Vec<VoiceWord> =
                parse_word_list(&bytes, &format!("ConfigMap {} key {}", r.name, r.key))?;
            for w in &list {
                words.insert(w.word.clone(), voice_def(w));
            }
        }
        for w in &self.spec.words {
            words.insert(w.word.clone(), voice_def(w));
        }
        Ok((
            Desired {
                inputs_digest: match self.spec.management_policy {
                    crate::crd::ManagementPolicy::ObserveOnly => String::new(),
                    crate::crd::ManagementPolicy::Manage => digest::voice(&words),
                },
                words,
                strict: true,
                ..Default::default()
            },
            BTreeMap::new(),
        ))
    }

    async fn dependency(&self, _ctx: &Context) -> Result<Dependency, Error> {
        Ok(Dependency::None)
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        id: &str,
        check: &Check<'_>,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<ObservedFull>, Error> {
        let list = svc.voice_models(check.listing_age(ctx), Some(id)).await?;
        if !list.iter().any(|m| m.customization_id == id) {
            return Ok(None);
        }
        let mut observed = Observed {
            status: Some(ServiceStatus::Exists),
            ..Default::default()
        };
        let mut seen = Observation::default();
        if check.steady {
            observed.words = desired.words.clone();
        } else {
            let m = match svc.tts()?.get_custom_model(id).await {
                Ok(m) => m,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            seen.word_count = Some(m.words.len() as i64);
            for w in m.words {
                let def = WordDef {
                    sounds_like: Vec::new(),
                    display_as: None,
                    mapping_only: None,
                    translation: Some(w.translation.clone()),
                    part_of_speech: w.part_of_speech.as_ref().map(|p| p.as_str().to_string()),
                };
                observed.words.insert(w.word, def);
            }
        }
        Ok(Some(ObservedFull {
            observed,
            seen,
            base_model: None,
            newest_version: None,
        }))
    }

    async fn find_marked(&self, svc: &ServiceHandle) -> Result<Option<String>, Error> {
        let list = svc.voice_models(IN_FLIGHT_AGE, None).await?;
        Ok(marked(
            &self.uid().unwrap_or_default(),
            list.iter()
                .map(|m| (m.description.as_deref(), m.customization_id.as_str())),
        ))
    }

    async fn execute(
        &self,
        svc: &ServiceHandle,
        id: Option<&str>,
        action: &Action,
        g: &Gathered,
    ) -> Result<Outcome, Error> {
        let tts = svc.tts()?;
        let id_or = || id.ok_or_else(|| Error::InvalidSpec("no customization id recorded".into()));
        match action {
            Action::Create | Action::Recreate => {
                let req = CreateVoiceModel {
                    name: model_name(self),
                    language: Some(self.spec.language.clone()),
                    description: Some(description(
                        self.spec.description.as_deref(),
                        &self.uid().unwrap_or_default(),
                    )),
                };
                let created = tts.create_custom_model(&req).await?;
                svc.created(NewModel::Voice(VoiceModel {
                    customization_id: created.customization_id.clone(),
                    name: Some(req.name),
                    description: req.description,
                    language: req.language,
                    ..Default::default()
                }))
                .await;
                return Ok(Outcome {
                    created_id: Some(created.customization_id),
                    ..Default::default()
                });
            }
            Action::DeleteModel => gone_is_fine(tts.delete_custom_model(id_or()?).await)?,
            Action::AddWords { words } => {
                let list: Vec<crate::watson::tts_types::VoiceWord> = words
                    .iter()
                    .filter_map(|w| g.facts.desired.words.get(w).map(|d| (w, d)))
                    .map(|(w, d)| crate::watson::tts_types::VoiceWord {
                        word: w.clone(),
                        translation: d.translation.clone().unwrap_or_default(),
                        part_of_speech: d.part_of_speech.as_deref().map(Into::into),
                    })
                    .collect();
                tts.add_words(id_or()?, &list).await?;
            }
            Action::DeleteWord { word } => tts.delete_word(id_or()?, word).await?,
            _ => {}
        }
        Ok(Outcome::default())
    }
}
