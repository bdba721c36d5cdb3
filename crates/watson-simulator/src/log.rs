//! The request log (a bounded ring) and per-operation counters, plus the mapping from a request
//! line to its [`Operation`].

use std::collections::{BTreeMap, HashMap, VecDeque};

use watson_client::Operation;

use super::api::{Counters, RequestPage, RequestRecord};

/// Default ring size.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Requests seen by the API side (never the admin API).
#[derive(Debug)]
pub struct RequestLog {
    entries: VecDeque<RequestRecord>,
    capacity: usize,
    next_seq: u64,
    total: u64,
    lost_answers: u64,
    by_operation: HashMap<Operation, HashMap<u16, u64>>,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl RequestLog {
    /// An empty log keeping at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
            next_seq: 0,
            total: 0,
            lost_answers: 0,
            by_operation: HashMap::new(),
        }
    }

    /// Appends a request (its `seq` is assigned here) and counts it.
    pub fn record(&mut self, mut r: RequestRecord, operation: Option<Operation>) {
        r.seq = self.next_seq;
        self.next_seq += 1;
        self.total += 1;
        if let Some(op) = operation {
            *self
                .by_operation
                .entry(op)
                .or_default()
                .entry(r.status)
                .or_insert(0) += 1;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(r);
    }

    /// Entries with `seq >= since`, at most `limit`.
    pub fn page(&self, since: u64, limit: usize) -> RequestPage {
        let first = self.entries.front().map(|e| e.seq).unwrap_or(self.next_seq);
        let skip = usize::try_from(since.saturating_sub(first)).unwrap_or(usize::MAX);
        let requests: Vec<RequestRecord> = self
            .entries
            .iter()
            .skip(skip)
            .take(limit)
            .cloned()
            .collect();
        let next_seq = requests.last().map(|r| r.seq + 1).unwrap_or(self.next_seq);
        RequestPage { requests, next_seq }
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        let by_operation = self
            .by_operation
            .iter()
            .map(|(op, statuses)| {
                let m: BTreeMap<String, u64> =
                    statuses.iter().map(|(s, n)| (s.to_string(), *n)).collect();
                (op.as_str().to_owned(), m)
            })
            .collect();
        Counters {
            total: self.total,
            lost_answers: self.lost_answers,
            by_operation,
        }
    }

    /// One answer was lost after its request was performed.
    pub fn lost_answer(&mut self) {
        self.lost_answers += 1;
    }
}

/// Maps a request to its operation and customization id. `path` is the raw URI path.
pub fn classify(method: &http::Method, path: &str) -> (Option<Operation>, Option<String>) {
    use Operation::*;
    use http::Method as M;
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let id = |i: usize| segs.get(i).map(|s| (*s).to_owned());
    let m = method.clone();
    match segs.as_slice() {
        ["identity", "token"] | ["icp4d-api", "v1", "authorize"] if m == M::POST => {
            (Some(GetToken), None)
        }
        ["speech-to-text", "v1", rest @ ..] => {
            let op = match (rest, &m) {
                (["models"], &M::GET) => Some(ListModels),
                (["models", _], &M::GET) => Some(GetModel),
                (["user_data"], &M::DELETE) => Some(DeleteSttUserData),
                (["recognize"], &M::POST) => Some(Recognize),
                (["customizations"], &M::POST) => Some(CreateLanguageModel),
                (["customizations"], &M::GET) => Some(ListLanguageModels),
                (["customizations", _], &M::GET) => Some(GetLanguageModel),
                (["customizations", _], &M::DELETE) => Some(DeleteLanguageModel),
                (["customizations", _, "train"], &M::POST) => Some(TrainLanguageModel),
                (["customizations", _, "reset"], &M::POST) => Some(ResetLanguageModel),
                (["customizations", _, "upgrade_model"], &M::POST) => Some(UpgradeLanguageModel),
                (["customizations", _, "corpora"], &M::GET) => Some(ListCorpora),
                (["customizations", _, "corpora", _], &M::POST) => Some(AddCorpus),
                (["customizations", _, "corpora", _], &M::GET) => Some(GetCorpus),
                (["customizations", _, "corpora", _], &M::DELETE) => Some(DeleteCorpus),
                (["customizations", _, "words"], &M::GET) => Some(ListWords),
                (["customizations", _, "words"], &M::POST) => Some(AddWords),
                (["customizations", _, "words", _], &M::PUT) => Some(AddWord),
                (["customizations", _, "words", _], &M::GET) => Some(GetWord),
                (["customizations", _, "words", _], &M::DELETE) => Some(DeleteWord),
                (["customizations", _, "grammars"], &M::GET) => Some(ListGrammars),
                (["customizations", _, "grammars", _], &M::POST) => Some(AddGrammar),
                (["customizations", _, "grammars", _], &M::GET) => Some(GetGrammar),
                (["customizations", _, "grammars", _], &M::DELETE) => Some(DeleteGrammar),
                (["acoustic_customizations"], &M::POST) => Some(CreateAcousticModel),
                (["acoustic_customizations"], &M::GET) => Some(ListAcousticModels),
                (["acoustic_customizations", _], &M::GET) => Some(GetAcousticModel),
                (["acoustic_customizations", _], &M::DELETE) => Some(DeleteAcousticModel),
                (["acoustic_customizations", _, "train"], &M::POST) => Some(TrainAcousticModel),
                (["acoustic_customizations", _, "reset"], &M::POST) => Some(ResetAcousticModel),
                (["acoustic_customizations", _, "upgrade_model"], &M::POST) => {
                    Some(UpgradeAcousticModel)
                }
                (["acoustic_customizations", _, "audio"], &M::GET) => Some(ListAudio),
                (["acoustic_customizations", _, "audio", _], &M::POST) => Some(AddAudio),
                (["acoustic_customizations", _, "audio", _], &M::GET) => Some(GetAudio),
                (["acoustic_customizations", _, "audio", _], &M::DELETE) => Some(DeleteAudio),
                _ => None,
            };
            let cid = match rest {
                ["customizations" | "acoustic_customizations", _, ..] => id(3),
                _ => None,
            };
            (op, cid)
        }
        ["text-to-speech", "v1", rest @ ..] => {
            let op = match (rest, &m) {
                (["user_data"], &M::DELETE) => Some(DeleteTtsUserData),
                (["voices"], &M::GET) => Some(ListVoices),
                (["customizations"], &M::POST) => Some(CreateVoiceModel),
                (["customizations"], &M::GET) => Some(ListVoiceModels),
                (["customizations", _], &M::POST) => Some(UpdateVoiceModel),
                (["customizations", _], &M::GET) => Some(GetVoiceModel),
                (["customizations", _], &M::DELETE) => Some(DeleteVoiceModel),
                (["customizations", _, "words"], &M::GET) => Some(ListVoiceWords),
                (["customizations", _, "words"], &M::POST) => Some(AddVoiceWords),
                (["customizations", _, "words", _], &M::PUT) => Some(AddVoiceWord),
                (["customizations", _, "words", _], &M::GET) => Some(GetVoiceWord),
                (["customizations", _, "words", _], &M::DELETE) => Some(DeleteVoiceWord),
                _ => None,
            };
            let cid = match rest {
                ["customizations", _, ..] => id(3),
                _ => None,
            };
            (op, cid)
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str, status: u16) -> RequestRecord {
        RequestRecord {
            seq: 0,
            at_ms: 0,
            method: "GET".into(),
            path: path.into(),
            operation: None,
            status,
            customization_id: None,
            model_name: None,
            latency_ms: 0,
        }
    }

    #[test]
    fn classify_maps_paths_to_operations() {
        let (op, id) = classify(
            &http::Method::POST,
            "/speech-to-text/v1/customizations/abc/train",
        );
        assert_eq!(op, Some(Operation::TrainLanguageModel));
        assert_eq!(id.as_deref(), Some("abc"));
        let (op, id) = classify(
            &http::Method::PUT,
            "/text-to-speech/v1/customizations/x/words/IBM",
        );
        assert_eq!(op, Some(Operation::AddVoiceWord));
        assert_eq!(id.as_deref(), Some("x"));
        assert_eq!(
            classify(&http::Method::POST, "/identity/token").0,
            Some(Operation::GetToken)
        );
        assert_eq!(
            classify(&http::Method::PATCH, "/speech-to-text/v1/customizations").0,
            None
        );
        assert_eq!(
            classify(
                &http::Method::POST,
                "/speech-to-text/v1/acoustic_customizations/q/audio/a.wav"
            )
            .0,
            Some(Operation::AddAudio)
        );
    }

    #[test]
    fn ring_is_bounded_and_paged_by_seq() {
        let mut log = RequestLog::new(3);
        for i in 0..5 {
            log.record(rec(&format!("/p{i}"), 200), Some(Operation::ListModels));
        }
        let all = log.page(0, 100);
        assert_eq!(
            all.requests.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(all.next_seq, 5);
        let newer = log.page(4, 100);
        assert_eq!(newer.requests.len(), 1);
        assert!(log.page(5, 100).requests.is_empty());
        assert_eq!(log.page(5, 100).next_seq, 5);
        assert_eq!(log.counters().get(Operation::ListModels, 200), 5);
        assert_eq!(log.counters().total, 5);
    }
}
