//! Custom language models: corpora, grammars and custom words (IBM STT customization API).

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::context::{Context, ServiceHandle};
use super::error::Error;
use super::inputs::parse_word_list;
use super::kind::{Check, Gathered, KindOps, from_entry, trained, trust_record};
use crate::crd::language_model::{CustomLanguageModel, CustomWord, GrammarType, WordTypeToAdd};
use crate::crd::{
    ManagementPolicy, PROMOTE_REQUESTED_AT, RECONCILE_REQUESTED_AT, RECREATE_REQUESTED_AT,
    RESET_REQUESTED_AT, ResourceServiceStatus, TRAIN_REQUESTED_AT, TrainingPolicy,
    UPGRADE_REQUESTED_AT, UpgradePolicy,
};
use crate::decision::status::{
    Observation, Outcome, Previous, ResourceClass, TrackedResource, Words,
};
use crate::decision::{Action, Desired, Observed, ResourceState, WordDef, digest};
use crate::watson::Upload;
use crate::watson::stt_types::{
    CreateLanguageModel, GrammarFormat, LanguageModel, ListWords, ModelStatus, TrainLanguageModel,
    WordDefinition, WordType,
};

fn word_def(w: &CustomWord) -> WordDef {
    WordDef {
        sounds_like: w.sounds_like.clone(),
        display_as: w.display_as.clone(),
        mapping_only: w.mapping_only,
        translation: None,
        part_of_speech: None,
    }
}

/// True when the service's word matches what the user asked for (the service may fill in a
/// display form or a generated pronunciation the user left out).
fn word_matches(
    want: &WordDef,
    word: &str,
    sounds_like: &[String],
    display_as: Option<&str>,
    mapping_only: Option<bool>,
) -> bool {
    let sl_ok = want.sounds_like.is_empty() || want.sounds_like == sounds_like;
    let da_ok = match &want.display_as {
        None => display_as.is_none_or(|d| d.is_empty() || d == word),
        Some(d) => display_as == Some(d.as_str()),
    };
    let mo_ok = want.mapping_only.unwrap_or(false) == mapping_only.unwrap_or(false);
    sl_ok && da_ok && mo_ok
}

/// The service's analysis status of a corpus or grammar, as just listed.
fn text_state(status: Option<&ResourceServiceStatus>, error: Option<&String>) -> ResourceState {
    ResourceState::of(status, error.cloned().unwrap_or_default(), true)
}

/// Lists corpora, grammars (when any may exist) and user words (when any may exist).
/// `read_all`: nothing is skipped on the record's word (the model changed elsewhere, or a full
/// read was requested), and a corpus or grammar whose listing shows it replaced elsewhere loses
/// its recorded digest, so it is uploaded again.
#[allow(clippy::too_many_arguments)]
async fn list_data(
    lm: &CustomLanguageModel,
    svc: &ServiceHandle,
    id: &str,
    desired: &Desired,
    prev: &Previous,
    read_all: bool,
    observed: &mut Observed,
    seen: &mut Observation,
) -> Result<(), Error> {
    let stt = svc.stt()?;
    let recorded = &prev.resources;
    let find = |name: &str| recorded.iter().find(|r| r.status.name == name);
    let digest_of = |name: &str| find(name).and_then(|r| r.status.digest.clone());
    // The recorded digest, unless the listing shows the resource replaced elsewhere.
    let kept = |listed: &mut crate::crd::ResourceStatus| {
        if read_all
            && find(&listed.name)
                .is_some_and(|r| crate::decision::status::replaced_elsewhere(&r.status, listed))
        {
            listed.digest = None;
        }
    };
    let added_of = |name: &str| find(name).and_then(|r| r.status.added_at.clone());
    for c in stt.list_corpora(id).await?.corpora {
        let status = c
            .status
            .as_ref()
            .map(|s| ResourceServiceStatus::parse(s.as_str()));
        observed.resources.insert(
            c.name.clone(),
            text_state(status.as_ref(), c.error.as_ref()),
        );
        let mut listed = crate::crd::ResourceStatus {
            digest: digest_of(&c.name),
            added_at: added_of(&c.name),
            name: c.name,
            service_status: status,
            total_words: c.total_words.map(|v| v as i64),
            out_of_vocabulary_words: c.out_of_vocabulary_words.map(|v| v as i64),
            duration_seconds: None,
            error: c.error,
        };
        kept(&mut listed);
        seen.resources.push(TrackedResource {
            class: ResourceClass::Corpus,
            status: listed,
        });
    }
    // Skipped only when neither the spec nor the last listing has a grammar.
    let had_grammars = recorded.iter().any(|r| r.class == ResourceClass::Grammar);
    let observe_only = lm.spec.management_policy == ManagementPolicy::ObserveOnly;
    if read_all || !lm.spec.grammars.is_empty() || had_grammars || observe_only {
        for gr in stt.list_grammars(id).await?.grammars {
            let status = gr
                .status
                .as_ref()
                .map(|s| ResourceServiceStatus::parse(s.as_str()));
            observed.resources.insert(
                gr.name.clone(),
                text_state(status.as_ref(), gr.error.as_ref()),
            );
            observed.grammars.insert(gr.name.clone());
            let mut listed = crate::crd::ResourceStatus {
                digest: digest_of(&gr.name),
                added_at: added_of(&gr.name),
                name: gr.name,
                service_status: status,
                out_of_vocabulary_words: gr.out_of_vocabulary_words.map(|v| v as i64),
                error: gr.error,
                ..Default::default()
            };
            kept(&mut listed);
            seen.resources.push(TrackedResource {
                class: ResourceClass::Grammar,
                status: listed,
            });
        }
    }
    // Skipped while the record says the model holds no word (a new or reset model, or the last
    // listing found none; adding words clears the count). Adding words again is harmless (the
    // service overwrites them), so a missed addition costs nothing.
    if !read_all && prev.word_count == Some(0) {
        return Ok(());
    }
    // Skipped while the record says the service holds exactly the spec's words (the operator
    // sent them, or the last listing found them), unless the model failed: IBM names a bad word
    // at training (watson-api.md §8.3), and the listing then shows it. One call fewer per
    // lifecycle (issue 11).
    let spec_words = digest::language_words(&desired.words);
    if !read_all
        && prev.words_digest.as_deref() == Some(spec_words.as_str())
        && observed.status != Some(crate::decision::ServiceStatus::Failed)
    {
        observed.words = desired.words.clone();
        seen.word_count = Some(desired.words.len() as i64);
        return Ok(());
    }
    let query = ListWords {
        word_type: Some(WordType::User),
        sort: None,
    };
    let words = stt.list_words(id, query).await?.words;
    let user_words: Vec<_> = words
        .iter()
        .filter(|w| w.source.iter().any(|s| s == "user"))
        .collect();
    seen.word_count = Some(user_words.len() as i64);
    for w in user_words {
        let def = match desired.words.get(&w.word) {
            Some(want)
                if word_matches(
                    want,
                    &w.word,
                    &w.sounds_like,
                    w.display_as.as_deref(),
                    w.mapping_only,
                ) =>
            {
                want.clone()
            }
            _ => WordDef {
                sounds_like: w.sounds_like.clone(),
                display_as: w.display_as.clone(),
                mapping_only: w.mapping_only,
                translation: None,
                part_of_speech: None,
            },
        };
        observed.words.insert(w.word.clone(), def);
    }
    seen.words_digest = Some(digest::language_words(&observed.words));
    Ok(())
}

impl KindOps for CustomLanguageModel {
    type Entry = LanguageModel;

    fn after_reconcile(&self, ctx: &std::sync::Arc<Context>) {
        super::evaluate::after_reconcile(self, ctx);
    }

    fn gate(&self) -> Option<crate::decision::gate::Gate> {
        super::evaluate::gate(self)
    }

    async fn desired(&self, ctx: &Context) -> Result<(Desired, BTreeMap<String, Vec<u8>>), Error> {
        let ns = self.namespace().unwrap_or_default();
        let resolver = ctx.resolver(&ns);
        let mut resources = BTreeMap::new();
        let mut contents = BTreeMap::new();
        // An observed model's sources are never uploaded, so never read (they may be
        // placeholders, as `import` writes them).
        let observe_only = self.spec.management_policy == ManagementPolicy::ObserveOnly;
        for c in &self.spec.corpora {
            let src = &c.source;
            let content = resolver
                .content(
                    observe_only,
                    src.url.as_deref(),
                    src.url_from.as_ref(),
                    resolver.source(src),
                )
                .await?;
            resources.insert(c.name.clone(), digest::corpus_of(&content.sha256));
            if let Some(bytes) = content.bytes {
                contents.insert(c.name.clone(), bytes);
            }
        }
        for gr in &self.spec.grammars {
            let src = &gr.source;
            let content = resolver
                .content(
                    observe_only,
                    src.url.as_deref(),
                    src.url_from.as_ref(),
                    resolver.source(src),
                )
                .await?;
            resources.insert(
                gr.name.clone(),
                digest::grammar_of(gr.content_type, &content.sha256),
            );
            if let Some(bytes) = content.bytes {
                contents.insert(gr.name.clone(), bytes);
            }
        }
        let mut words: BTreeMap<String, WordDef> = BTreeMap::new();
        if let Some(from) = &self.spec.words_from {
            let r = &from.config_map_key_ref;
            let bytes = resolver.config_map_key(r).await?;
            let list: Vec<CustomWord> = parse_word_list(
                &bytes,
                &format!("spec.wordsFrom (ConfigMap {} key {})", r.name, r.key),
            )?;
            for w in &list {
                words.insert(w.word.clone(), word_def(w));
            }
        }
        for w in &self.spec.words {
            words.insert(w.word.clone(), word_def(w));
        }
        let t = &self.spec.training;
        let annotations = self.annotations();
        Ok((
            Desired {
                inputs_digest: match observe_only {
                    true => String::new(),
                    false => digest::language(&resources, &words, t),
                },
                resources,
                words,
                target_version: self.spec.base_model_version.clone(),
                upgrade_automatic: self.spec.upgrade_policy == UpgradePolicy::Automatic,
                train_on_change: t.policy == TrainingPolicy::OnChange,
                train_token: annotations.get(TRAIN_REQUESTED_AT).cloned(),
                upgrade_token: annotations.get(UPGRADE_REQUESTED_AT).cloned(),
                reset_token: annotations.get(RESET_REQUESTED_AT).cloned(),
                reconcile_token: annotations.get(RECONCILE_REQUESTED_AT).cloned(),
                recreate_token: annotations.get(RECREATE_REQUESTED_AT).cloned(),
                promote_token: annotations.get(PROMOTE_REQUESTED_AT).cloned(),
                strict: t.strict.unwrap_or(true),
            },
            contents,
        ))
    }

    async fn observe(
        &self,
        svc: &ServiceHandle,
        m: &LanguageModel,
        check: &Check<'_>,
        desired: &Desired,
        ctx: &Context,
    ) -> Result<Option<(Observed, Observation)>, Error> {
        let (mut observed, mut seen) = from_entry(m);
        let words = Words {
            recorded: check.prev.word_count,
            to_add: !desired.words.is_empty(),
        };
        if check.may_trust(&observed, words, ctx) {
            trust_record(check.prev.resources.clone(), &mut observed, &mut seen);
            // The record's word count says whether the words were added: none on a model the
            // operator just created or reset (0), else the ones asked for.
            if check.prev.word_count != Some(0) {
                observed.words = desired.words.clone();
            }
        } else {
            let id = &m.customization_id;
            let (prev, all) = (check.prev, check.read_all);
            list_data(self, svc, id, desired, prev, all, &mut observed, &mut seen).await?;
        }
        Ok(Some((observed, seen)))
    }

    async fn create(
        &self,
        svc: &ServiceHandle,
        name: String,
        description: String,
    ) -> Result<LanguageModel, Error> {
        let req = CreateLanguageModel {
            name,
            base_model_name: self.spec.base_model_name.clone(),
            dialect: self.spec.dialect.clone(),
            description: Some(description),
        };
        let created = svc.stt()?.create_language_model(&req).await?;
        Ok(LanguageModel {
            customization_id: created.customization_id,
            name: Some(req.name),
            description: req.description,
            base_model_name: Some(req.base_model_name),
            dialect: req.dialect,
            status: Some(ModelStatus::Pending),
            ..Default::default()
        })
    }

    async fn delete(svc: &ServiceHandle, id: &str) -> Result<(), Error> {
        Ok(svc.stt()?.delete_language_model(id).await?)
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
            Action::DeleteResource { name } => {
                let is_grammar = g
                    .facts
                    .observed
                    .as_ref()
                    .is_some_and(|o| o.grammars.contains(name));
                if is_grammar {
                    stt.delete_grammar(id, name).await?;
                } else {
                    match stt.delete_corpus(id, name).await {
                        Ok(()) => {}
                        // Not a corpus: it must be a grammar.
                        Err(crate::watson::Error::InvalidRequest(_)) => {
                            stt.delete_grammar(id, name).await?
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Action::AddResource { name, overwrite } => {
                let grammar = self.spec.grammars.iter().find(|gr| &gr.name == name);
                let source = match grammar {
                    Some(gr) => Some(&gr.source),
                    None => self
                        .spec
                        .corpora
                        .iter()
                        .find(|c| &c.name == name)
                        .map(|c| &c.source),
                };
                let (url, url_from) = match source {
                    Some(s) => (s.url.as_deref(), s.url_from.as_ref()),
                    None => (None, None),
                };
                // A URL streams from its source to the service; other sources are sent from the
                // bytes read for the digest.
                let resolver = svc.sources()?;
                let data = match resolver.url_source(url, url_from).await? {
                    Some(u) => resolver.source_upload(&u).await?,
                    None => Upload::from(g.contents.get(name).cloned().unwrap_or_default()),
                };
                let add = |overwrite: bool| {
                    let bytes = data.clone();
                    async move {
                        match grammar {
                            Some(gr) => {
                                let format = match gr.content_type {
                                    GrammarType::Abnf => GrammarFormat::Abnf,
                                    GrammarType::Xml => GrammarFormat::Xml,
                                };
                                stt.add_grammar(id, name, format, bytes, overwrite).await
                            }
                            None => stt.add_corpus(id, name, bytes, overwrite).await,
                        }
                    }
                };
                match add(*overwrite).await {
                    // An earlier add whose answer was lost put it there: send it again with
                    // allow_overwrite, so the service holds exactly what the spec says.
                    Err(e) if !overwrite && e.is_already_exists() => add(true).await?,
                    other => other?,
                }
            }
            Action::AddWords { words } => {
                let list: Vec<crate::watson::stt_types::CustomWord> = words
                    .iter()
                    .filter_map(|w| g.facts.desired.words.get(w).map(|d| (w, d)))
                    .map(|(w, d)| crate::watson::stt_types::CustomWord {
                        word: w.clone(),
                        definition: WordDefinition {
                            sounds_like: (!d.sounds_like.is_empty()).then(|| d.sounds_like.clone()),
                            display_as: d.display_as.clone(),
                            mapping_only: d.mapping_only,
                        },
                    })
                    .collect();
                stt.add_words(id, &list).await?;
            }
            Action::DeleteWord { word } => stt.delete_word(id, word).await?,
            Action::Train { .. } => {
                let t = &self.spec.training;
                let (desired, recorded) = (&g.facts.desired, &g.facts.recorded);
                let force = g.facts.train_requested()
                    && recorded.trained_inputs_digest.as_deref()
                        == Some(desired.inputs_digest.as_str());
                let params = TrainLanguageModel {
                    word_type_to_add: t.word_type_to_add.map(|w| match w {
                        WordTypeToAdd::All => crate::watson::stt_types::WordTypeToAdd::All,
                        WordTypeToAdd::User => crate::watson::stt_types::WordTypeToAdd::User,
                    }),
                    customization_weight: t.customization_weight,
                    strict: t.strict,
                    force: force.then_some(true),
                };
                return Ok(trained(stt.train_language_model(id, &params).await?));
            }
            Action::Upgrade { .. } => {
                // IBM's improved next-generation bases (release notes, 27 Feb 2023) refuse
                // upgrade_model; the upgrade is a forced retrain, which drops a non-default
                // customization_weight unless it is sent again (custom-upgrade.md). Once the
                // service said so for a base, its next upgrades go straight to the retrain.
                let base = self.spec.base_model_name.as_str();
                let by_retrain = svc.upgrades_by_retrain(base)
                    || match stt.upgrade_language_model(id).await {
                        Ok(()) => false,
                        Err(e) if upgrades_by_retrain(&e) => {
                            svc.learned_upgrades_by_retrain(base);
                            true
                        }
                        Err(e) => return Err(e.into()),
                    };
                if by_retrain {
                    let t = &self.spec.training;
                    let params = TrainLanguageModel {
                        word_type_to_add: None,
                        customization_weight: t.customization_weight,
                        strict: t.strict,
                        force: Some(true),
                    };
                    stt.train_language_model(id, &params).await?;
                }
            }
            Action::Reset => stt.reset_language_model(id).await?,
            _ => {}
        }
        Ok(Outcome::default())
    }
}

/// The service refused `upgrade_model` because the model upgrades by a forced retrain (a 400
/// that names the `force` parameter of `train`: IBM's improved next-generation bases).
fn upgrades_by_retrain(e: &crate::watson::Error) -> bool {
    matches!(e, crate::watson::Error::InvalidRequest(c)
    if c.status == Some(400) && {
        let m = c.message.to_ascii_lowercase();
        m.contains("force") && m.contains("train")
    })
}

#[cfg(test)]
mod upgrade_tests {
    use super::upgrades_by_retrain;
    use crate::watson::{Error, ErrorContext, Operation};

    fn bad_request(message: &str) -> Error {
        Error::InvalidRequest(ErrorContext {
            operation: Operation::UpgradeLanguageModel,
            status: Some(400),
            transaction_id: None,
            message: message.to_owned(),
        })
    }

    #[test]
    fn only_the_retrain_refusal_turns_an_upgrade_into_a_forced_training() {
        assert!(upgrades_by_retrain(&bad_request(
            "Upgrading custom models based on the improved version of the base model 'en-US_Telephony' is not supported. To upgrade the model, retrain it with the 'force' query parameter set to 'true'."
        )));
        assert!(!upgrades_by_retrain(&bad_request(
            "The custom model is already based on the latest version of base model 'en-US_Telephony'."
        )));
    }
}
