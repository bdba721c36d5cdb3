//! One SpeechService's IBM clients (Speech to Text or Text to Speech, as `spec.service` says) and
//! the check that `spec.url` serves that API.

use crate::crd::speech_service::ServiceKind;
use crate::reconcile::error::Error;
use crate::watson::{ServedApi, SttClient, TtsClient};

/// The IBM client of one SpeechService: `stt` for `SpeechToText`, `tts` for `TextToSpeech`.
pub struct Clients {
    /// `spec.service`.
    pub kind: ServiceKind,
    /// The Speech to Text client, for a `SpeechToText` service.
    pub stt: Option<SttClient>,
    /// The Text to Speech client, for a `TextToSpeech` service.
    pub tts: Option<TtsClient>,
}

impl Clients {
    /// The STT client, or an error naming the mismatch.
    pub fn stt(&self) -> Result<&SttClient, Error> {
        self.stt.as_ref().ok_or_else(|| {
            Error::InvalidSpec(
                "spec.serviceRef names a TextToSpeech SpeechService; language and acoustic models need SpeechToText".into(),
            )
        })
    }

    /// The TTS client, or an error naming the mismatch.
    pub fn tts(&self) -> Result<&TtsClient, Error> {
        self.tts.as_ref().ok_or_else(|| {
            Error::InvalidSpec(
                "spec.serviceRef names a SpeechToText SpeechService; voice models need TextToSpeech".into(),
            )
        })
    }

    /// Which API answers at the service's URL (at most two GETs); `None` without a client.
    pub async fn served_api(&self) -> Result<Option<ServedApi>, Error> {
        Ok(match (&self.stt, &self.tts) {
            (Some(c), _) => Some(c.served_api().await?),
            (_, Some(c)) => Some(c.served_api().await?),
            (None, None) => None,
        })
    }
}

/// Whether the API that answers at `url` (`served`) is the one `kind` needs; `Err` carries the
/// condition message (what is wrong and the fix). Pure.
pub fn identity_verdict(
    kind: ServiceKind,
    served: crate::watson::ServedApi,
    url: &str,
) -> Result<(), String> {
    match (kind, served) {
        (ServiceKind::SpeechToText, ServedApi::SpeechToText)
        | (ServiceKind::TextToSpeech, ServedApi::TextToSpeech) => Ok(()),
        (ServiceKind::TextToSpeech, ServedApi::SpeechToText) => Err(format!(
            "this URL serves Speech to Text, not Text to Speech ({url}): set spec.url to the Text to Speech instance's URL, or spec.service to SpeechToText"
        )),
        (ServiceKind::SpeechToText, ServedApi::TextToSpeech) => Err(format!(
            "this URL serves Text to Speech, not Speech to Text ({url}): set spec.url to the Speech to Text instance's URL, or spec.service to TextToSpeech"
        )),
        (_, ServedApi::Neither) => Err(format!(
            "neither Speech to Text nor Text to Speech answers at {url} (GET /v1/models and /v1/voices were not found): set spec.url to the instance's base URL, e.g. https://api.us-south.speech-to-text.watson.cloud.ibm.com/instances/<id>, without /v1 or any further path"
        )),
    }
}

#[cfg(test)]
mod identity_tests {
    use super::*;

    #[test]
    fn the_api_at_the_url_must_match_the_kind() {
        let url = "https://h/instances/1";
        assert_eq!(
            identity_verdict(ServiceKind::SpeechToText, ServedApi::SpeechToText, url),
            Ok(())
        );
        assert_eq!(
            identity_verdict(ServiceKind::TextToSpeech, ServedApi::TextToSpeech, url),
            Ok(())
        );
        let wrong = identity_verdict(ServiceKind::TextToSpeech, ServedApi::SpeechToText, url)
            .expect_err("wrong service");
        assert!(wrong.starts_with("this URL serves Speech to Text, not Text to Speech"));
        let wrong = identity_verdict(ServiceKind::SpeechToText, ServedApi::TextToSpeech, url)
            .expect_err("wrong service");
        assert!(wrong.starts_with("this URL serves Text to Speech, not Speech to Text"));
        for kind in [ServiceKind::SpeechToText, ServiceKind::TextToSpeech] {
            let neither = identity_verdict(kind, ServedApi::Neither, url).expect_err("neither");
            assert!(neither.contains("base URL"), "{neither}");
        }
    }
}
