//! The vocabulary of IBM API operations, shared by the client (metrics hook, errors), the
//! simulator (request log, counters) and the benchmarks. The names are stable: they are metric
//! label values and keys of the simulator's counters.

use serde::{Deserialize, Serialize};

macro_rules! operations {
    ($($variant:ident => $name:literal,)*) => {
        /// One IBM API operation.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Operation { $($variant,)* }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)*];

            /// The stable snake_case name (metric label, simulator counter key).
            pub fn as_str(self) -> &'static str {
                match self { $(Operation::$variant => $name,)* }
            }

            /// Parses the name produced by [`Operation::as_str`].
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(Operation::$variant),)* _ => None }
            }
        }
    };
}

operations! {
    GetToken => "get_token",
    ListModels => "list_models",
    GetModel => "get_model",
    CreateLanguageModel => "create_language_model",
    ListLanguageModels => "list_language_models",
    GetLanguageModel => "get_language_model",
    DeleteLanguageModel => "delete_language_model",
    TrainLanguageModel => "train_language_model",
    ResetLanguageModel => "reset_language_model",
    UpgradeLanguageModel => "upgrade_language_model",
    ListCorpora => "list_corpora",
    AddCorpus => "add_corpus",
    GetCorpus => "get_corpus",
    DeleteCorpus => "delete_corpus",
    ListWords => "list_words",
    AddWords => "add_words",
    AddWord => "add_word",
    GetWord => "get_word",
    DeleteWord => "delete_word",
    ListGrammars => "list_grammars",
    AddGrammar => "add_grammar",
    GetGrammar => "get_grammar",
    DeleteGrammar => "delete_grammar",
    CreateAcousticModel => "create_acoustic_model",
    ListAcousticModels => "list_acoustic_models",
    GetAcousticModel => "get_acoustic_model",
    DeleteAcousticModel => "delete_acoustic_model",
    TrainAcousticModel => "train_acoustic_model",
    ResetAcousticModel => "reset_acoustic_model",
    UpgradeAcousticModel => "upgrade_acoustic_model",
    ListAudio => "list_audio",
    AddAudio => "add_audio",
    GetAudio => "get_audio",
    DeleteAudio => "delete_audio",
    DeleteSttUserData => "delete_stt_user_data",
    Recognize => "recognize",
    CreateVoiceModel => "create_voice_model",
    ListVoiceModels => "list_voice_models",
    GetVoiceModel => "get_voice_model",
    UpdateVoiceModel => "update_voice_model",
    DeleteVoiceModel => "delete_voice_model",
    AddVoiceWords => "add_voice_words",
    AddVoiceWord => "add_voice_word",
    GetVoiceWord => "get_voice_word",
    ListVoiceWords => "list_voice_words",
    DeleteVoiceWord => "delete_voice_word",
    DeleteTtsUserData => "delete_tts_user_data",
    ListVoices => "list_voices",
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.as_str()), Some(*op));
            let json = serde_json::to_string(op).expect("serialize");
            assert_eq!(json, format!("\"{}\"", op.as_str()));
        }
    }
}
