//! Custom voice models: word translations (IBM TTS customization API; no training, no upgrades,
//! every call synchronous).

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::context::{Context, ServiceHandle};
use super::error::Error;
use super::inputs::parse_word_list;
use super::kind::{Check, Gathered, KindOps};
use crate::crd::voice_model::{CustomVoiceModel, VoiceWord};
use crate::decision::status::{Observation, Outcome};
use crate::decision::{Action, Desired, Observed, ServiceStatus, WordDef, digest};
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
    type Entry = VoiceModel;

    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let mut words = BTreeMap::new();
        if let Some(from) = &self.spec.words_from {
            let r = &from.config_map_key_ref;
            let bytes = ctx.resolver(&ns).config_map_key(r).await?;
            let list: Vec<VoiceWord> = parse_word_list(
                &bytes,
                &format!("spec.wordsFrom (ConfigMap {} key {})", r.name, r.key),
            )?;
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
                reconcile_token: self
                    .annotations()
                    .get(crate::crd::RECONCILE_REQUESTED_AT)
                    .cloned(),
                ..Default::default()
            },
            BTreeMap::new(),
        ))
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        entry: &VoiceModel,
        check: &Check<'_>,
        desired: &Desired,
        _ctx: &Context,
    ) -> Result<Option<(Observed, Observation)>, Error> {
        let id = &entry.customization_id;
        let mut observed = Observed {
            status: Some(ServiceStatus::Exists),
            ..Default::default()
        };
        let mut seen = Observation::default();
        // Steady, and nothing says it changed elsewhere (`read_all`): the words are the spec's.
        if check.steady && !check.read_all {
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
        Ok(Some((observed, seen)))
    }

    async fn create(
        &self,
        svc: &ServiceHandle,
        name: String,
        description: String,
    ) -> Result<VoiceModel, Error> {
        let req = CreateVoiceModel {
            name,
            language: Some(self.spec.language.clone()),
            description: Some(description),
        };
        let created = svc.tts()?.create_custom_model(&req).await?;
        Ok(VoiceModel {
            customization_id: created.customization_id,
            name: Some(req.name),
            description: req.description,
            language: req.language,
            ..Default::default()
        })
    }

    async fn delete(svc: &ServiceHandle, id: &str) -> Result<(), Error> {
        Ok(svc.tts()?.delete_custom_model(id).await?)
    }

    async fn change(
        &self,
        svc: &ServiceHandle,
        id: &str,
        action: &Action,
        g: &Gathered,
    ) -> Result<Outcome, Error> {
        let tts = svc.tts()?;
        match action {
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
                tts.add_words(id, &list).await?;
            }
            Action::DeleteWord { word } => tts.delete_word(id, word).await?,
            _ => {}
        }
        Ok(Outcome::default())
    }
}
