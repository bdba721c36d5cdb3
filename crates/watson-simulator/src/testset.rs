//! A test set the simulator recognises (issue 28): one WAV file per utterance, saying it the way
//! [`crate::recognize`] reads audio (the spoken text in the `LIST`/`INFO` `ICMT` chunk), and
//! the manifest in the CSV format of IBM's `watson-stt-wer-python` tool (`Audio File Name,Reference`),
//! the format `spec.evaluation.testSet.manifest` takes. For the demo, the tests and anyone
//! trying the evaluation gate without real audio: real recordings of real speech are what a
//! test set for IBM's service holds.
//!
//! `watson-speech-operator test-set --from utterances.txt --out DIR` writes the files and a
//! `test-set.yaml` with two ConfigMaps (`<name>-manifest`, `<name>-audio`) to apply beside a
//! model.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::recognize::wav_saying;

/// Sample rate of the generated WAV files, Hz: the narrowest IBM accepts for `audio/wav`
/// (telephony), so a ConfigMap holds the most items (0.4 s of tone per word: 6.4 KB).
pub const RATE: u32 = 8_000;

/// Most bytes of audio `test-set.yaml` puts in one ConfigMap: a ConfigMap is at most 1 MiB
/// (the API server's object limit), and `binaryData` travels base64-encoded in the YAML.
pub const CONFIG_MAP_AUDIO_BYTES: usize = 700 * 1024;

/// Most utterances in one test set (the operator measures at most 200 items).
pub const MAX_ITEMS: usize = 200;

/// One item: the file name, its audio, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `item-NNN.wav`, numbered from 1 in the order of the utterances.
    pub file_name: String,
    /// The WAV file.
    pub audio: Vec<u8>,
    /// The reference transcript: the utterance as written.
    pub reference: String,
}

/// A generated test set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSet {
    /// The items, in the order of the utterances.
    pub items: Vec<Item>,
}

/// Why a test set could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TestSetError {
    /// No utterance (every line empty).
    #[error("no utterance: give one per line")]
    Empty,
    /// More than [`MAX_ITEMS`] utterances.
    #[error("{0} utterances: at most {MAX_ITEMS}")]
    TooMany(usize),
    /// Reading the utterances or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

impl TestSet {
    /// One item per non-empty line of `utterances` (surrounding whitespace trimmed).
    ///
    /// # Errors
    /// [`TestSetError::Empty`] without a non-empty line; [`TestSetError::TooMany`] past
    /// [`MAX_ITEMS`].
    pub fn from_lines(utterances: &str) -> Result<TestSet, TestSetError> {
        let lines: Vec<&str> = utterances
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            return Err(TestSetError::Empty);
        }
        if lines.len() > MAX_ITEMS {
            return Err(TestSetError::TooMany(lines.len()));
        }
        let items = lines
            .iter()
            .enumerate()
            .map(|(i, line)| Item {
                file_name: format!("item-{:03}.wav", i + 1),
                audio: wav_saying(line, RATE),
                reference: (*line).to_string(),
            })
            .collect();
        Ok(TestSet { items })
    }

    /// The manifest: `Audio File Name,Reference`, then a line per item; a reference holding a
    /// comma, a quote or a line break is quoted with `"` (a `"` in it doubled), as RFC 4180.
    pub fn manifest_csv(&self) -> String {
        let mut csv = String::from("Audio File Name,Reference\n");
        for item in &self.items {
            let _ = writeln!(csv, "{},{}", item.file_name, csv_field(&item.reference));
        }
        csv
    }

    /// Total bytes of audio.
    pub fn audio_bytes(&self) -> usize {
        self.items.iter().map(|i| i.audio.len()).sum()
    }

    /// `test-set.yaml`: a ConfigMap `<name>-manifest` (key `manifest.csv`) and, when the audio
    /// fits ([`CONFIG_MAP_AUDIO_BYTES`]), a ConfigMap `<name>-audio` with every file in
    /// `binaryData`; `None` for the audio when it does not fit (serve the directory over https
    /// and name it in `testSet.audio.baseUrl`).
    pub fn config_maps_yaml(&self, name: &str, namespace: Option<&str>) -> (String, bool) {
        use base64::Engine as _;
        let meta = |suffix: &str| {
            let mut m = format!("metadata:\n  name: {name}-{suffix}\n");
            if let Some(ns) = namespace {
                let _ = writeln!(m, "  namespace: {ns}");
            }
            m
        };
        let mut yaml = String::from("apiVersion: v1\nkind: ConfigMap\n");
        yaml.push_str(&meta("manifest"));
        yaml.push_str("data:\n  manifest.csv: |\n");
        for line in self.manifest_csv().lines() {
            let _ = writeln!(yaml, "    {line}");
        }
        let fits = self.audio_bytes() <= CONFIG_MAP_AUDIO_BYTES;
        if fits {
            yaml.push_str("---\napiVersion: v1\nkind: ConfigMap\n");
            yaml.push_str(&meta("audio"));
            yaml.push_str("binaryData:\n");
            for item in &self.items {
                let _ = writeln!(
                    yaml,
                    "  {}: {}",
                    item.file_name,
                    base64::engine::general_purpose::STANDARD.encode(&item.audio)
                );
            }
        }
        (yaml, fits)
    }

    /// Writes every WAV file, `manifest.csv` and `test-set.yaml` into `dir` (created if
    /// missing); returns whether the audio fitted in the YAML's ConfigMap.
    ///
    /// # Errors
    /// [`TestSetError::Io`] naming the file that could not be written.
    pub fn write(
        &self,
        dir: &Path,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<bool, TestSetError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TestSetError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        for item in &self.items {
            let path = dir.join(&item.file_name);
            std::fs::write(&path, &item.audio).map_err(io(&path))?;
        }
        let path = dir.join("manifest.csv");
        std::fs::write(&path, self.manifest_csv()).map_err(io(&path))?;
        let (yaml, fits) = self.config_maps_yaml(name, namespace);
        let path = dir.join("test-set.yaml");
        std::fs::write(&path, yaml).map_err(io(&path))?;
        Ok(fits)
    }
}

/// `field` as one CSV field (RFC 4180 quoting when needed).
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// `watson-speech-operator test-set`: writes a test set the simulator recognises.
#[derive(clap::Args, Debug)]
pub struct TestSetArgs {
    /// A text file with one utterance per line (`-` for standard input); each becomes one WAV
    /// file saying it and one manifest line with it as the reference.
    #[arg(long)]
    pub from: PathBuf,
    /// The directory to write into (created if missing): `item-NNN.wav`, `manifest.csv`,
    /// `test-set.yaml`.
    #[arg(long)]
    pub out: PathBuf,
    /// The ConfigMaps' name prefix in `test-set.yaml` (`<name>-manifest`, `<name>-audio`).
    #[arg(long, default_value = "test-set")]
    pub name: String,
    /// `metadata.namespace` of the ConfigMaps (none: `kubectl apply -n` decides).
    #[arg(long)]
    pub namespace: Option<String>,
}

/// Runs `test-set`: a summary line for the user.
///
/// # Errors
/// As [`TestSet::from_lines`] and [`TestSet::write`], and reading `--from`.
pub fn run_test_set(args: &TestSetArgs) -> Result<String, TestSetError> {
    let text = if args.from.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|source| TestSetError::Io {
            path: args.from.clone(),
            source,
        })?
    } else {
        std::fs::read_to_string(&args.from).map_err(|source| TestSetError::Io {
            path: args.from.clone(),
            source,
        })?
    };
    let set = TestSet::from_lines(&text)?;
    let fits = set.write(&args.out, &args.name, args.namespace.as_deref())?;
    let audio = if fits {
        format!("ConfigMaps {0}-manifest and {0}-audio", args.name)
    } else {
        format!(
            "ConfigMap {}-manifest only: {} bytes of audio do not fit in a ConfigMap; serve {} over https and set testSet.audio.baseUrl",
            args.name,
            set.audio_bytes(),
            args.out.display()
        )
    };
    Ok(format!(
        "{} items written to {} (test-set.yaml: {audio})",
        set.items.len(),
        args.out.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::spoken_text;

    #[test]
    fn each_line_becomes_a_wav_saying_it_and_a_manifest_line() {
        let set = TestSet::from_lines("  Call the help desk\n\nReset the router, then wait\n")
            .expect("set");
        assert_eq!(set.items.len(), 2);
        assert_eq!(set.items[0].file_name, "item-001.wav");
        assert_eq!(
            spoken_text(&set.items[0].audio).as_deref(),
            Some("Call the help desk")
        );
        assert_eq!(
            spoken_text(&set.items[1].audio).as_deref(),
            Some("Reset the router, then wait")
        );
        assert_eq!(
            set.manifest_csv(),
            "Audio File Name,Reference\nitem-001.wav,Call the help desk\nitem-002.wav,\"Reset the router, then wait\"\n"
        );
    }

    #[test]
    fn quotes_are_doubled_and_empty_or_huge_inputs_refused() {
        assert_eq!(csv_field(r#"say "hi""#), r#""say ""hi""""#);
        assert_eq!(csv_field("plain"), "plain");
        assert!(matches!(
            TestSet::from_lines("\n  \n"),
            Err(TestSetError::Empty)
        ));
        let many = "word\n".repeat(MAX_ITEMS + 1);
        assert!(matches!(
            TestSet::from_lines(&many),
            Err(TestSetError::TooMany(n)) if n == MAX_ITEMS + 1
        ));
    }

    #[test]
    fn the_yaml_holds_the_audio_only_when_a_config_map_can() {
        use base64::Engine as _;
        let set = TestSet::from_lines("one two three").expect("set");
        let (yaml, fits) = set.config_maps_yaml("helpdesk-tests", Some("speech"));
        assert!(fits);
        use serde::Deserialize as _;
        let docs: Vec<serde_json::Value> = serde_yaml::Deserializer::from_str(&yaml)
            .map(|d| serde_json::Value::deserialize(d).expect("yaml"))
            .collect();
        assert_eq!(docs[0]["metadata"]["name"], "helpdesk-tests-manifest");
        assert_eq!(docs[0]["metadata"]["namespace"], "speech");
        assert_eq!(docs[0]["data"]["manifest.csv"], set.manifest_csv());
        let audio = docs[1]["binaryData"]["item-001.wav"]
            .as_str()
            .expect("audio");
        let audio = base64::engine::general_purpose::STANDARD
            .decode(audio)
            .expect("base64");
        assert_eq!(spoken_text(&audio).as_deref(), Some("one two three"));
        // 200 long utterances do not fit: only the manifest is written.
        let long = format!("{}\n", "word ".repeat(40)).repeat(MAX_ITEMS);
        let set = TestSet::from_lines(&long).expect("set");
        let (yaml, fits) = set.config_maps_yaml("big", None);
        assert!(!fits);
        assert!(!yaml.contains("binaryData"));
    }
}
