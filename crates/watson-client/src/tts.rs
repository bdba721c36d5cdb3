//! The Text to Speech customization client: custom voice models and their words, and
//! `DELETE /v1/user_data`. Every TTS customization call is synchronous.

use std::sync::Arc;

use super::Operation;
use super::config::ClientConfig;
use super::error::Error;
use super::http::{Call, Transport, segment};
use super::tts_types::*;

/// A Text to Speech customization client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TtsClient {
    inner: Arc<Transport>,
}

fn customizations(op: Operation, id: &str) -> Result<String, Error> {
    Ok(format!("/v1/customizations/{}", segment(op, id)?))
}

fn word_path(op: Operation, id: &str, word: &str) -> Result<String, Error> {
    Ok(format!(
        "{}/words/{}",
        customizations(op, id)?,
        segment(op, word)?
    ))
}

impl TtsClient {
    /// Builds a client (see [`SttClient::new`](super::SttClient::new)).
    pub fn new(config: ClientConfig) -> Result<TtsClient, Error> {
        Ok(TtsClient {
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

    /// `POST /v1/customizations` → the new id. Never retried blindly.
    pub async fn create_custom_model(
        &self,
        request: &CreateVoiceModel,
    ) -> Result<super::stt_types::CustomizationId, Error> {
        let op = Operation::CreateVoiceModel;
        let call = Call::post(op, "/v1/customizations".into()).json(request)?;
        self.inner.json(call).await
    }

    /// `GET /v1/customizations[?language=]` (models without words and prompts).
    pub async fn list_custom_models(&self, language: Option<&str>) -> Result<VoiceModels, Error> {
        let op = Operation::ListVoiceModels;
        let call = Call::get(op, "/v1/customizations".into()).query_opt("language", language);
        self.inner.json(call).await
    }

    /// `GET /v1/customizations/{id}` (with words and prompts).
    pub async fn get_custom_model(&self, id: &str) -> Result<VoiceModel, Error> {
        let op = Operation::GetVoiceModel;
        self.inner
            .json(Call::get(op, customizations(op, id)?))
            .await
    }

    /// `POST /v1/customizations/{id}`: updates name/description and upserts words.
    pub async fn update_custom_model(
        &self,
        id: &str,
        update: &UpdateVoiceModel,
    ) -> Result<(), Error> {
        let op = Operation::UpdateVoiceModel;
        let call = Call::post(op, customizations(op, id)?)
            .json(update)?
            .with_metadata()
            .idempotent(true);
        self.inner.unit(call).await
    }

    /// `DELETE /v1/customizations/{id}` (204).
    pub async fn delete_custom_model(&self, id: &str) -> Result<(), Error> {
        let op = Operation::DeleteVoiceModel;
        let call = Call::delete(op, customizations(op, id)?).without_accept();
        self.inner.unit(call).await
    }

    /// `POST /v1/customizations/{id}/words`: upserts a batch.
    pub async fn add_words(&self, id: &str, words: &[VoiceWord]) -> Result<(), Error> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            words: &'a [VoiceWord],
        }
        let op = Operation::AddVoiceWords;
        let call = Call::post(op, format!("{}/words", customizations(op, id)?))
            .json(&Body { words })?
            .with_metadata()
            .idempotent(true);
        self.inner.unit(call).await
    }

    /// `PUT /v1/customizations/{id}/words/{word}`: upserts one word.
    pub async fn add_word(
        &self,
        id: &str,
        word: &str,
        translation: &Translation,
    ) -> Result<(), Error> {
        let op = Operation::AddVoiceWord;
        let call = Call::put(op, word_path(op, id, word)?)
            .json(translation)?
            .with_metadata()
            .without_accept();
        self.inner.unit(call).await
    }

    /// `GET /v1/customizations/{id}/words/{word}` (a missing word answers 400).
    pub async fn get_word(&self, id: &str, word: &str) -> Result<Translation, Error> {
        let op = Operation::GetVoiceWord;
        self.inner
            .json(Call::get(op, word_path(op, id, word)?))
            .await
    }

    /// `GET /v1/customizations/{id}/words`.
    pub async fn list_words(&self, id: &str) -> Result<VoiceWords, Error> {
        let op = Operation::ListVoiceWords;
        let call = Call::get(op, format!("{}/words", customizations(op, id)?));
        self.inner.json(call).await
    }

    /// `DELETE /v1/customizations/{id}/words/{word}` (204).
    pub async fn delete_word(&self, id: &str, word: &str) -> Result<(), Error> {
        let op = Operation::DeleteVoiceWord;
        let call = Call::delete(op, word_path(op, id, word)?).without_accept();
        self.inner.unit(call).await
    }

    /// `DELETE /v1/user_data?customer_id=`.
    pub async fn delete_user_data(&self, customer_id: &str) -> Result<(), Error> {
        let op = Operation::DeleteTtsUserData;
        let call = Call::delete(op, "/v1/user_data".into())
            .query("customer_id", customer_id)
            .without_accept();
        self.inner.unit(call).await
    }
}
