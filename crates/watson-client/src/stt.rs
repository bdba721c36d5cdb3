//! The Speech to Text customization client: base models, custom language models (corpora,
//! words, grammars), custom acoustic models (audio) and `DELETE /v1/user_data`.
//!
//! Every method is one IBM operation; asynchronous work (analysis, training, upgrade) is started,
//! not awaited: poll the `get_*` methods. See `retry.rs` for which methods are retried.

use std::sync::Arc;

use super::upload::Upload;

use super::Operation;
use super::config::ClientConfig;
use super::error::Error;
use super::http::{Call, Payload, Transport, segment};
use super::stt_types::*;

/// A Speech to Text customization client. Cheap to clone (shares one connection pool and token
/// cache).
#[derive(Clone, Debug)]
pub struct SttClient {
    inner: Arc<Transport>,
}

fn customizations(op: Operation, id: &str) -> Result<String, Error> {
    Ok(format!("/v1/customizations/{}", segment(op, id)?))
}

fn acoustic(op: Operation, id: &str) -> Result<String, Error> {
    Ok(format!("/v1/acoustic_customizations/{}", segment(op, id)?))
}

impl SttClient {
    /// Builds a client. Fails on an unusable configuration (URL with credentials, bad CA bundle,
    /// invalid customer id).
    pub fn new(config: ClientConfig) -> Result<SttClient, Error> {
        Ok(SttClient {
            inner: Arc::new(Transport::new(&config)?),
        })
    }

    /// The service URL.
    pub fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// Which IBM API answers at the service URL (see [`crate::ServedApi`]): at most two GETs.
    pub async fn served_api(&self) -> Result<crate::ServedApi, Error> {
        self.inner.served_api().await
    }

    // ----- base models -----

    /// `GET /v1/models`.
    pub async fn list_models(&self) -> Result<SpeechModels, Error> {
        let op = Operation::ListModels;
        self.inner.json(Call::get(op, "/v1/models".into())).await
    }

    /// `GET /v1/models/{model_id}` (unknown model → [`Error::NotFound`]).
    pub async fn get_model(&self, model_id: &str) -> Result<SpeechModel, Error> {
        let op = Operation::GetModel;
        let path = format!("/v1/models/{}", segment(op, model_id)?);
        self.inner.json(Call::get(op, path)).await
    }

    // ----- custom language models -----

    /// `POST /v1/customizations` → the new id. Never retried blindly.
    pub async fn create_language_model(
        &self,
        request: &CreateLanguageModel,
    ) -> Result<CustomizationId, Error> {
        let op = Operation::CreateLanguageModel;
        let call = Call::post(op, "/v1/customizations".into()).json(request)?;
        self.inner.json(call).await
    }

    /// `GET /v1/customizations[?language=]`.
    pub async fn list_language_models(
        &self,
        language: Option<&str>,
    ) -> Result<LanguageModels, Error> {
        let op = Operation::ListLanguageModels;
        let call = Call::get(op, "/v1/customizations".into()).query_opt("language", language);
        self.inner.json(call).await
    }

    /// `GET /v1/customizations/{id}`.
    pub async fn get_language_model(&self, id: &str) -> Result<LanguageModel, Error> {
        let op = Operation::GetLanguageModel;
        self.inner
            .json(Call::get(op, customizations(op, id)?))
            .await
    }

    /// `DELETE /v1/customizations/{id}`.
    pub async fn delete_language_model(&self, id: &str) -> Result<(), Error> {
        let op = Operation::DeleteLanguageModel;
        self.inner
            .unit(Call::delete(op, customizations(op, id)?))
            .await
    }

    /// `POST /v1/customizations/{id}/train`. Not retried on 5xx (a repeat after an unseen
    /// success would answer 409 or 400).
    pub async fn train_language_model(
        &self,
        id: &str,
        params: &TrainLanguageModel,
    ) -> Result<TrainingResponse, Error> {
        let op = Operation::TrainLanguageModel;
        let call = Call::post(op, format!("{}/train", customizations(op, id)?))
            .query_opt(
                "word_type_to_add",
                params.word_type_to_add.map(WordTypeToAdd::as_str),
            )
            .query_opt("customization_weight", params.customization_weight)
            .query_opt("strict", params.strict)
            .query_opt("force", params.force);
        self.inner.json(call).await
    }

    /// `POST /v1/customizations/{id}/reset`: removes all corpora, grammars and words.
    pub async fn reset_language_model(&self, id: &str) -> Result<(), Error> {
        let op = Operation::ResetLanguageModel;
        let call = Call::post(op, format!("{}/reset", customizations(op, id)?)).idempotent(true);
        self.inner.unit(call).await
    }

    /// `POST /v1/customizations/{id}/upgrade_model`.
    pub async fn upgrade_language_model(&self, id: &str) -> Result<(), Error> {
        let op = Operation::UpgradeLanguageModel;
        let call = Call::post(op, format!("{}/upgrade_model", customizations(op, id)?));
        self.inner.unit(call).await
    }

    // ----- corpora -----

    /// `GET /v1/customizations/{id}/corpora`.
    pub async fn list_corpora(&self, id: &str) -> Result<Corpora, Error> {
        let op = Operation::ListCorpora;
        let call = Call::get(op, format!("{}/corpora", customizations(op, id)?));
        self.inner.json(call).await
    }

    /// `POST /v1/customizations/{id}/corpora/{name}` with the text as the raw
    /// `text/plain` body, byte for byte (see `Payload::CorpusText` for why not multipart).
    /// Retried on transient failures only with `allow_overwrite` (then a repeat is harmless).
    pub async fn add_corpus(
        &self,
        id: &str,
        corpus_name: &str,
        text: impl Into<Upload>,
        allow_overwrite: bool,
    ) -> Result<(), Error> {
        let op = Operation::AddCorpus;
        let path = format!(
            "{}/corpora/{}",
            customizations(op, id)?,
            segment(op, corpus_name)?
        );
        let call = Call::post(op, path)
            .query_opt("allow_overwrite", allow_overwrite.then_some(true))
            .payload(Payload::CorpusText(text.into()))
            .with_metadata()
            .idempotent(allow_overwrite);
        self.inner.unit(call).await
    }

    /// `GET /v1/customizations/{id}/corpora/{name}`.
    pub async fn get_corpus(&self, id: &str, corpus_name: &str) -> Result<Corpus, Error> {
        let op = Operation::GetCorpus;
        let path = format!(
            "{}/corpora/{}",
            customizations(op, id)?,
            segment(op, corpus_name)?
        );
        self.inner.json(Call::get(op, path)).await
    }

    /// `DELETE /v1/customizations/{id}/corpora/{name}` (a missing corpus answers 400).
    pub async fn delete_corpus(&self, id: &str, corpus_name: &str) -> Result<(), Error> {
        let op = Operation::DeleteCorpus;
        let path = format!(
            "{}/corpora/{}",
            customizations(op, id)?,
            segment(op, corpus_name)?
        );
        self.inner.unit(Call::delete(op, path)).await
    }

    // ----- words -----

    /// `GET /v1/customizations/{id}/words[?word_type=&sort=]` (`+` is sent as `%2B`).
    pub async fn list_words(&self, id: &str, params: ListWords) -> Result<Words, Error> {
        let op = Operation::ListWords;
        let call = Call::get(op, format!("{}/words", customizations(op, id)?))
            .query_opt("word_type", params.word_type.map(WordType::as_str))
            .query_opt("sort", params.sort.map(WordSort::as_str));
        self.inner.json(call).await
    }

    /// `POST /v1/customizations/{id}/words`: adds or replaces a batch (asynchronous validation).
    /// An upsert, so it is retried like an idempotent call.
    pub async fn add_words(&self, id: &str, words: &[CustomWord]) -> Result<(), Error> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            words: &'a [CustomWord],
        }
        let op = Operation::AddWords;
        let call = Call::post(op, format!("{}/words", customizations(op, id)?))
            .json(&Body { words })?
            .with_metadata()
            .idempotent(true);
        self.inner.unit(call).await
    }

    /// `PUT /v1/customizations/{id}/words/{word}`: adds or replaces one word (synchronous; an
    /// invalid `sounds_like` answers 400).
    pub async fn add_word(
        &self,
        id: &str,
        word: &str,
        definition: &WordDefinition,
    ) -> Result<(), Error> {
        let op = Operation::AddWord;
        let path = format!("{}/words/{}", customizations(op, id)?, segment(op, word)?);
        let call = Call::put(op, path).json(definition)?.with_metadata();
        self.inner.unit(call).await
    }

    /// `GET /v1/customizations/{id}/words/{word}`.
    pub async fn get_word(&self, id: &str, word: &str) -> Result<Word, Error> {
        let op = Operation::GetWord;
        let path = format!("{}/words/{}", customizations(op, id)?, segment(op, word)?);
        self.inner.json(Call::get(op, path)).await
    }

    /// `DELETE /v1/customizations/{id}/words/{word}`.
    pub async fn delete_word(&self, id: &str, word: &str) -> Result<(), Error> {
        let op = Operation::DeleteWord;
        let path = format!("{}/words/{}", customizations(op, id)?, segment(op, word)?);
        self.inner.unit(Call::delete(op, path)).await
    }

    // ----- grammars -----

    /// `GET /v1/customizations/{id}/grammars`.
    pub async fn list_grammars(&self, id: &str) -> Result<Grammars, Error> {
        let op = Operation::ListGrammars;
        let call = Call::get(op, format!("{}/grammars", customizations(op, id)?));
        self.inner.json(call).await
    }

    /// `POST /v1/customizations/{id}/grammars/{name}` with the SRGS content type.
    pub async fn add_grammar(
        &self,
        id: &str,
        grammar_name: &str,
        format: GrammarFormat,
        grammar: impl Into<Upload>,
        allow_overwrite: bool,
    ) -> Result<(), Error> {
        let op = Operation::AddGrammar;
        let path = format!(
            "{}/grammars/{}",
            customizations(op, id)?,
            segment(op, grammar_name)?
        );
        let call = Call::post(op, path)
            .query_opt("allow_overwrite", allow_overwrite.then_some(true))
            .payload(Payload::Raw {
                content_type: format.content_type().to_string(),
                contained_content_type: None,
                data: grammar.into(),
            })
            .with_metadata()
            .idempotent(allow_overwrite);
        self.inner.unit(call).await
    }

    /// `GET /v1/customizations/{id}/grammars/{name}`.
    pub async fn get_grammar(&self, id: &str, grammar_name: &str) -> Result<Grammar, Error> {
        let op = Operation::GetGrammar;
        let path = format!(
            "{}/grammars/{}",
            customizations(op, id)?,
            segment(op, grammar_name)?
        );
        self.inner.json(Call::get(op, path)).await
    }

    /// `DELETE /v1/customizations/{id}/grammars/{name}`.
    pub async fn delete_grammar(&self, id: &str, grammar_name: &str) -> Result<(), Error> {
        let op = Operation::DeleteGrammar;
        let path = format!(
            "{}/grammars/{}",
            customizations(op, id)?,
            segment(op, grammar_name)?
        );
        self.inner.unit(Call::delete(op, path)).await
    }

    // ----- custom acoustic models -----

    /// `POST /v1/acoustic_customizations` → the new id. Never retried blindly.
    pub async fn create_acoustic_model(
        &self,
        request: &CreateAcousticModel,
    ) -> Result<CustomizationId, Error> {
        let op = Operation::CreateAcousticModel;
        let call = Call::post(op, "/v1/acoustic_customizations".into()).json(request)?;
        self.inner.json(call).await
    }

    /// `GET /v1/acoustic_customizations[?language=]`.
    pub async fn list_acoustic_models(
        &self,
        language: Option<&str>,
    ) -> Result<AcousticModels, Error> {
        let op = Operation::ListAcousticModels;
        let call =
            Call::get(op, "/v1/acoustic_customizations".into()).query_opt("language", language);
        self.inner.json(call).await
    }

    /// `GET /v1/acoustic_customizations/{id}`.
    pub async fn get_acoustic_model(&self, id: &str) -> Result<AcousticModel, Error> {
        let op = Operation::GetAcousticModel;
        self.inner.json(Call::get(op, acoustic(op, id)?)).await
    }

    /// `DELETE /v1/acoustic_customizations/{id}`.
    pub async fn delete_acoustic_model(&self, id: &str) -> Result<(), Error> {
        let op = Operation::DeleteAcousticModel;
        self.inner.unit(Call::delete(op, acoustic(op, id)?)).await
    }

    /// `POST /v1/acoustic_customizations/{id}/train[?custom_language_model_id=&strict=]`.
    pub async fn train_acoustic_model(
        &self,
        id: &str,
        params: &TrainAcousticModel,
    ) -> Result<TrainingResponse, Error> {
        let op = Operation::TrainAcousticModel;
        let call = Call::post(op, format!("{}/train", acoustic(op, id)?))
            .query_opt(
                "custom_language_model_id",
                params.custom_language_model_id.as_deref(),
            )
            .query_opt("strict", params.strict);
        self.inner.json(call).await
    }

    /// `POST /v1/acoustic_customizations/{id}/reset`: removes all audio.
    pub async fn reset_acoustic_model(&self, id: &str) -> Result<(), Error> {
        let op = Operation::ResetAcousticModel;
        let call = Call::post(op, format!("{}/reset", acoustic(op, id)?)).idempotent(true);
        self.inner.unit(call).await
    }

    /// `POST /v1/acoustic_customizations/{id}/upgrade_model[?custom_language_model_id=&force=]`.
    /// A 400 with [`Error::is_no_input_modified`] means: repeat with `force: Some(true)`.
    pub async fn upgrade_acoustic_model(
        &self,
        id: &str,
        params: &UpgradeAcousticModel,
    ) -> Result<(), Error> {
        let op = Operation::UpgradeAcousticModel;
        let call = Call::post(op, format!("{}/upgrade_model", acoustic(op, id)?))
            .query_opt(
                "custom_language_model_id",
                params.custom_language_model_id.as_deref(),
            )
            .query_opt("force", params.force);
        self.inner.unit(call).await
    }

    // ----- audio -----

    /// `GET /v1/acoustic_customizations/{id}/audio`.
    pub async fn list_audio(&self, id: &str) -> Result<AudioResources, Error> {
        let op = Operation::ListAudio;
        let call = Call::get(op, format!("{}/audio", acoustic(op, id)?));
        self.inner.json(call).await
    }

    /// `POST /v1/acoustic_customizations/{id}/audio/{name}`: a single audio file or a zip/gzip
    /// archive (with `Contained-Content-Type` when given). `data` may be an [`Upload`] streamed
    /// from its source (opened again for each attempt), so up to IBM's 100 MB is never held whole.
    pub async fn add_audio(
        &self,
        id: &str,
        audio_name: &str,
        format: &AudioFormat,
        data: impl Into<Upload>,
        allow_overwrite: bool,
    ) -> Result<(), Error> {
        let op = Operation::AddAudio;
        let path = format!("{}/audio/{}", acoustic(op, id)?, segment(op, audio_name)?);
        let (content_type, contained) = format.headers();
        let call = Call::post(op, path)
            .query_opt("allow_overwrite", allow_overwrite.then_some(true))
            .payload(Payload::Raw {
                content_type: content_type.to_string(),
                contained_content_type: contained.map(str::to_string),
                data: data.into(),
            })
            .with_metadata()
            .idempotent(allow_overwrite);
        self.inner.unit(call).await
    }

    /// `GET /v1/acoustic_customizations/{id}/audio/{name}` (single-file or archive shape).
    pub async fn get_audio(&self, id: &str, audio_name: &str) -> Result<AudioListing, Error> {
        let op = Operation::GetAudio;
        let path = format!("{}/audio/{}", acoustic(op, id)?, segment(op, audio_name)?);
        self.inner.json(Call::get(op, path)).await
    }

    /// `DELETE /v1/acoustic_customizations/{id}/audio/{name}`.
    pub async fn delete_audio(&self, id: &str, audio_name: &str) -> Result<(), Error> {
        let op = Operation::DeleteAudio;
        let path = format!("{}/audio/{}", acoustic(op, id)?, segment(op, audio_name)?);
        self.inner.unit(Call::delete(op, path)).await
    }

    // ----- recognition -----

    /// `POST /v1/recognize`: synchronous recognition of one audio file (`content_type`, e.g.
    /// `audio/wav`) of at most IBM's 100 MB. Retried like a read (it changes nothing on the
    /// service). A 401 naming the custom model (`Invalid customization_id (...)`) is
    /// [`Error::NotFoundOrForbidden`]; a custom model that is not trained, a base mismatch or
    /// audio the service cannot decode are [`Error::InvalidRequest`]; an unknown `model` is
    /// [`Error::NotFound`].
    pub async fn recognize(
        &self,
        params: &RecognizeParams,
        content_type: &str,
        audio: impl Into<Upload>,
    ) -> Result<SpeechRecognitionResults, Error> {
        let op = Operation::Recognize;
        let call = Call::post(op, "/v1/recognize".into())
            .query_opt("model", params.model.as_deref())
            .query_opt(
                "language_customization_id",
                params.language_customization_id.as_deref(),
            )
            .query_opt(
                "acoustic_customization_id",
                params.acoustic_customization_id.as_deref(),
            )
            .query_opt("base_model_version", params.base_model_version.as_deref())
            .query_opt("customization_weight", params.customization_weight)
            .query_opt("parameter_set", params.parameter_set.as_deref())
            .payload(Payload::Raw {
                content_type: content_type.to_string(),
                contained_content_type: None,
                data: audio.into(),
            })
            .with_metadata()
            .idempotent(true);
        match self.inner.json(call).await {
            Err(Error::Unauthorized(c)) if c.message.contains("Invalid customization_id") => {
                Err(Error::NotFoundOrForbidden(c))
            }
            other => other,
        }
    }

    // ----- user data -----

    /// `DELETE /v1/user_data?customer_id=`: deletes every resource labelled with that id.
    pub async fn delete_user_data(&self, customer_id: &str) -> Result<(), Error> {
        let op = Operation::DeleteSttUserData;
        let call = Call::delete(op, "/v1/user_data".into())
            .query("customer_id", customer_id)
            .without_accept();
        self.inner.unit(call).await
    }
}
