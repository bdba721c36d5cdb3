//! A typed client for the simulator's admin API, for tests and benchmarks anywhere in the
//! project.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::api::{
    BaseModelLifecycle, ConfigPatch, Counters, FailNextTraining, Faults, PublishVersion, Quirks,
    RequestPage, RuntimeConfig, SimModel, SimModels,
};

/// Errors of the admin client.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Transport or decoding failure.
    #[error("admin request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The simulator answered with an unexpected status.
    #[error("admin request answered {status}: {body}")]
    Status { status: u16, body: String },
}

/// Client of `/_simulator/...`.
#[derive(Clone, Debug)]
pub struct AdminClient {
    base: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for the simulator at `base_url` (e.g. `http://127.0.0.1:8089`).
    pub fn new(base_url: impl Into<String>) -> Result<Self, AdminError> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder().no_proxy().build()?;
        Ok(Self::with_client(base_url, http))
    }

    /// A client using a caller-built `reqwest::Client` (e.g. one trusting a test CA).
    pub fn with_client(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        let base = base_url.into().trim_end_matches('/').to_owned();
        AdminClient { base, http }
    }

    /// The simulator base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/_simulator{path}", self.base)
    }

    async fn check(
        resp: reqwest::Response,
        expected: StatusCode,
    ) -> Result<reqwest::Response, AdminError> {
        if resp.status() == expected {
            Ok(resp)
        } else {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            Err(AdminError::Status { status, body })
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, AdminError> {
        let resp = self.http.get(self.url(path)).send().await?;
        Ok(Self::check(resp, StatusCode::OK).await?.json().await?)
    }

    /// `POST /_simulator/reset`: forget models, faults, log and counters (config stays).
    pub async fn reset(&self) -> Result<(), AdminError> {
        let resp = self.http.post(self.url("/reset")).send().await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `POST /_simulator/base-models/{name}/versions`: publishes a new base-model version
    /// (`None`: one day after the newest). Returns the version string.
    pub async fn publish_base_version(
        &self,
        base_model: &str,
        version: Option<&str>,
    ) -> Result<String, AdminError> {
        let body = PublishVersion {
            version: version.map(str::to_owned),
        };
        let resp = self
            .http
            .post(self.url(&format!("/base-models/{base_model}/versions")))
            .json(&body)
            .send()
            .await?;
        let out: PublishVersion = Self::check(resp, StatusCode::CREATED).await?.json().await?;
        Ok(out.version.unwrap_or_default())
    }

    /// `PUT /_simulator/base-models/{name}/lifecycle`: withdraws a base model (or offers it
    /// again) and marks versions defective or repaired.
    pub async fn set_base_model_lifecycle(
        &self,
        base_model: &str,
        change: &BaseModelLifecycle,
    ) -> Result<(), AdminError> {
        let resp = self
            .http
            .put(self.url(&format!("/base-models/{base_model}/lifecycle")))
            .json(change)
            .send()
            .await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// Withdraws `base_model` (IBM's discontinuation): no new custom model can use it.
    pub async fn withdraw_base_model(&self, base_model: &str) -> Result<(), AdminError> {
        self.set_base_model_lifecycle(
            base_model,
            &BaseModelLifecycle {
                withdrawn: Some(true),
                ..BaseModelLifecycle::default()
            },
        )
        .await
    }

    /// Marks `version` (`name.vYYYY-MM-DD`) of `base_model` defective: custom models on it
    /// must be re-created.
    pub async fn mark_base_version_defective(
        &self,
        base_model: &str,
        version: &str,
    ) -> Result<(), AdminError> {
        self.set_base_model_lifecycle(
            base_model,
            &BaseModelLifecycle {
                defective_versions: vec![version.to_owned()],
                ..BaseModelLifecycle::default()
            },
        )
        .await
    }

    /// Marks `version` of `base_model` worse at recognition (`worse`) or restores it: on a
    /// worse version `POST /v1/recognize` loses every third heard word.
    pub async fn set_base_version_worse(
        &self,
        base_model: &str,
        version: &str,
        worse: bool,
    ) -> Result<(), AdminError> {
        let versions = vec![version.to_owned()];
        let lifecycle = if worse {
            BaseModelLifecycle {
                worse_versions: versions,
                ..BaseModelLifecycle::default()
            }
        } else {
            BaseModelLifecycle {
                restored_versions: versions,
                ..BaseModelLifecycle::default()
            }
        };
        self.set_base_model_lifecycle(base_model, &lifecycle).await
    }

    /// Publishes a new version of `base_model` (one day after the newest) that recognises
    /// worse ([`Self::set_base_version_worse`]); returns the version. What a test of a
    /// regression by upgrade needs in one call.
    pub async fn publish_worse_base_version(&self, base_model: &str) -> Result<String, AdminError> {
        let version = self.publish_base_version(base_model, None).await?;
        self.set_base_version_worse(base_model, &version, true)
            .await?;
        Ok(version)
    }

    /// `POST` (`worse`) or `DELETE /_simulator/models/{id}/worse`: recognition with the custom
    /// language model loses every third heard word while marked.
    pub async fn set_model_worse(
        &self,
        customization_id: &str,
        worse: bool,
    ) -> Result<(), AdminError> {
        self.switch(&format!("/models/{customization_id}/worse"), worse)
            .await
    }

    /// `POST` (on) or `DELETE` (off) of the admin switch at `path`, answered with 204.
    async fn switch(&self, path: &str, on: bool) -> Result<(), AdminError> {
        let url = self.url(path);
        let req = if on {
            self.http.post(url)
        } else {
            self.http.delete(url)
        };
        Self::check(req.send().await?, StatusCode::NO_CONTENT)
            .await
            .map(drop)
    }

    /// `POST /_simulator/models/{id}/fail-next-training`.
    pub async fn fail_next_training(&self, customization_id: &str) -> Result<(), AdminError> {
        self.fail_next_training_with(customization_id, None).await
    }

    /// `POST /_simulator/models/{id}/fail-next-training` with `{"error": ...}`: the failed
    /// model's `error` field holds `error` (default: a stringified 500).
    pub async fn fail_next_training_with(
        &self,
        customization_id: &str,
        error: Option<&str>,
    ) -> Result<(), AdminError> {
        let body = FailNextTraining {
            error: error.map(str::to_owned),
        };
        let resp = self
            .http
            .post(self.url(&format!("/models/{customization_id}/fail-next-training")))
            .json(&body)
            .send()
            .await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `POST` (`held`) or `DELETE /_simulator/models/{id}/hold`: while held, none of the model's
    /// analyses, trainings or upgrades finishes.
    pub async fn hold(&self, customization_id: &str, held: bool) -> Result<(), AdminError> {
        self.switch(&format!("/models/{customization_id}/hold"), held)
            .await
    }

    /// `POST` (`locked`) or `DELETE /_simulator/models/{id}/lock`: while locked, every change
    /// of the model (delete included) answers 409; its status reads as usual.
    pub async fn lock(&self, customization_id: &str, locked: bool) -> Result<(), AdminError> {
        self.switch(&format!("/models/{customization_id}/lock"), locked)
            .await
    }

    /// `DELETE /_simulator/models/{id}`: out-of-band delete of any model.
    pub async fn delete_model(&self, customization_id: &str) -> Result<(), AdminError> {
        let resp = self
            .http
            .delete(self.url(&format!("/models/{customization_id}")))
            .send()
            .await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `GET /_simulator/models`.
    pub async fn models(&self) -> Result<Vec<SimModel>, AdminError> {
        Ok(self.get_json::<SimModels>("/models").await?.models)
    }

    /// `PUT /_simulator/faults`.
    pub async fn set_faults(&self, faults: &Faults) -> Result<(), AdminError> {
        let resp = self
            .http
            .put(self.url("/faults"))
            .json(faults)
            .send()
            .await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `GET /_simulator/faults`.
    pub async fn faults(&self) -> Result<Faults, AdminError> {
        self.get_json("/faults").await
    }

    /// `DELETE /_simulator/faults`.
    pub async fn clear_faults(&self) -> Result<(), AdminError> {
        let resp = self.http.delete(self.url("/faults")).send().await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `PUT /_simulator/quirks`: switches IBM behaviours on (replaces the whole set).
    pub async fn set_quirks(&self, quirks: &Quirks) -> Result<(), AdminError> {
        let resp = self
            .http
            .put(self.url("/quirks"))
            .json(quirks)
            .send()
            .await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `GET /_simulator/quirks`.
    pub async fn quirks(&self) -> Result<Quirks, AdminError> {
        self.get_json("/quirks").await
    }

    /// `GET /_simulator/requests?since=SEQ`.
    pub async fn requests(&self, since: u64) -> Result<RequestPage, AdminError> {
        self.get_json(&format!("/requests?since={since}")).await
    }

    /// The calls of operation `op` (e.g. `"recognize"`, `"create_language_model"`) answered with
    /// a 2xx status in the request log from sequence number `since` on.
    pub async fn successful_calls(&self, op: &str, since: u64) -> Result<usize, AdminError> {
        Ok(self
            .requests(since)
            .await?
            .requests
            .iter()
            .filter(|r| r.operation.as_deref() == Some(op) && r.status < 300)
            .count())
    }

    /// `GET /_simulator/counters`.
    pub async fn counters(&self) -> Result<Counters, AdminError> {
        self.get_json("/counters").await
    }

    /// `PUT /_simulator/config`.
    pub async fn set_config(&self, patch: &ConfigPatch) -> Result<(), AdminError> {
        let resp = self
            .http
            .put(self.url("/config"))
            .json(patch)
            .send()
            .await?;
        Self::check(resp, StatusCode::NO_CONTENT).await.map(drop)
    }

    /// `GET /_simulator/config`.
    pub async fn config(&self) -> Result<RuntimeConfig, AdminError> {
        self.get_json("/config").await
    }
}
