//! A SpeechService's credentials: `spec.auth` and the Secret it names, read on every build of the
//! service's client, so a rotated Secret is used without a restart.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use secrecy::SecretString;

use crate::crd::SpeechService;
use crate::crd::speech_service::AuthType;
use crate::reconcile::error::Error;
use crate::reconcile::inputs::InputError;
use crate::watson::{Auth, CloudPakSecret, TrustedProfileRef};

use super::TrustedProfileSettings;

/// The IBM authentication `spec.auth` asks for, with a digest of the data of the Secret it was
/// read from (empty without a Secret): new credentials build a new client. A digest of the data,
/// not the Secret's `resourceVersion`: a change of its metadata only (the in-use finalizer the
/// SpeechService reconcile adds and releases, a label) keeps the client, its token and listings.
/// A TrustedProfile SpeechService reads no Secret: its token is the operator's own (`trusted`).
pub async fn auth(
    client: &Client,
    svc: &SpeechService,
    namespace: &str,
    trusted: &TrustedProfileSettings,
) -> Result<(Auth, String), Error> {
    let auth = &svc.spec.auth;
    match auth.kind {
        AuthType::None => return Ok((Auth::None, String::new())),
        AuthType::TrustedProfile => {
            return trusted_profile(auth, trusted).map(|a| (a, String::new()));
        }
        _ => {}
    }
    let Some(r) = &auth.secret_ref else {
        return Err(Error::InvalidSpec(
            "spec.auth.secretRef is required unless spec.auth.type is None or TrustedProfile"
                .into(),
        ));
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(&r.name)
        .await?
        .ok_or_else(|| InputError::NotFound {
            kind: "Secret",
            name: r.name.clone(),
            detail: "(credentials) does not exist".into(),
        })?;
    let version = data_digest(&secret);
    let read = |key: &Option<String>, default: &str| -> Result<SecretString, Error> {
        let key = key.as_deref().unwrap_or(default);
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .ok_or_else(|| InputError::NotFound {
                kind: "Secret",
                name: r.name.clone(),
                detail: format!("(credentials) has no key {key:?}"),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            InputError::Malformed(format!("Secret {} key {key:?} is not UTF-8", r.name))
        })?;
        Ok(SecretString::from(text.trim().to_string()))
    };
    let auth = match auth.kind {
        AuthType::Iam => {
            let api_key = read(&r.api_key_key, "apikey")?;
            let iam_url = auth
                .iam_url
                .as_deref()
                .unwrap_or("https://iam.cloud.ibm.com");
            let url = url::Url::parse(iam_url)
                .map_err(|e| Error::InvalidSpec(format!("spec.auth.iamUrl: {e}")))?;
            Auth::Iam { api_key, url }
        }
        AuthType::Bearer => Auth::Bearer(read(&r.token_key, "token")?),
        AuthType::Basic => {
            let user = read(&r.username_key, "username")?;
            Auth::Basic {
                username: secrecy::ExposeSecret::expose_secret(&user).to_string(),
                password: read(&r.password_key, "password")?,
            }
        }
        AuthType::CloudPakForData => {
            let url = auth.cloud_pak_url.as_deref().ok_or_else(|| {
                Error::InvalidSpec(
                    "spec.auth.cloudPakUrl is required when spec.auth.type is CloudPakForData"
                        .into(),
                )
            })?;
            let url = url::Url::parse(url)
                .map_err(|e| Error::InvalidSpec(format!("spec.auth.cloudPakUrl: {e}")))?;
            let user = read(&r.username_key, "username")?;
            // The password when the Secret has one, else the API key (the SDKs' rule).
            let secret = match read(&r.password_key, "password") {
                Ok(p) => CloudPakSecret::Password(p),
                Err(_) => CloudPakSecret::ApiKey(read(&r.api_key_key, "apikey").map_err(|_| {
                    InputError::NotFound {
                        kind: "Secret",
                        name: r.name.clone(),
                        detail: format!(
                            "(credentials) has neither key {:?} nor key {:?}: Cloud Pak for Data needs a password or an API key",
                            r.password_key.as_deref().unwrap_or("password"),
                            r.api_key_key.as_deref().unwrap_or("apikey")
                        ),
                    }
                })?),
            };
            Auth::CloudPakForData {
                url,
                username: secrecy::ExposeSecret::expose_secret(&user).to_string(),
                secret,
            }
        }
        AuthType::None | AuthType::TrustedProfile => Auth::None,
    };
    Ok((auth, version))
}

/// `auth.type: TrustedProfile`: the profile from the spec, the token file and IAM URL from the
/// operator's settings.
fn trusted_profile(
    auth: &crate::crd::speech_service::Auth,
    trusted: &TrustedProfileSettings,
) -> Result<Auth, Error> {
    let profile = auth.trusted_profile.as_ref();
    let profile = match (
        profile.and_then(|p| p.id.clone()),
        profile.and_then(|p| p.name.clone()),
    ) {
        (Some(id), _) => TrustedProfileRef::Id(id),
        (None, Some(name)) => TrustedProfileRef::Name(name),
        (None, None) => {
            return Err(Error::InvalidSpec(
                "spec.auth.trustedProfile.id or .name is required when spec.auth.type is TrustedProfile"
                    .into(),
            ));
        }
    };
    let url = url::Url::parse(&trusted.iam_url)
        .map_err(|e| Error::InvalidSpec(format!("--trusted-profile-iam-url: {e}")))?;
    Ok(Auth::TrustedProfile {
        url,
        token_file: trusted.token_file.clone(),
        profile,
    })
}

/// A digest of a Secret's data (keys and values, in key order): what identifies the credentials.
fn data_digest(secret: &Secret) -> String {
    let mut bytes = Vec::new();
    for (key, value) in secret.data.iter().flatten() {
        bytes.extend_from_slice(&(key.len() as u64).to_be_bytes());
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(&(value.0.len() as u64).to_be_bytes());
        bytes.extend_from_slice(&value.0);
    }
    crate::decision::digest::sha256_hex(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the data identifies the credentials: a finalizer or label changes nothing (issue 24).
    #[test]
    fn the_credentials_digest_follows_the_data_only() {
        let secret = |apikey: &str, finalizers: Option<Vec<String>>| Secret {
            metadata: kube::api::ObjectMeta {
                finalizers,
                resource_version: Some(apikey.len().to_string()),
                ..Default::default()
            },
            data: Some(
                [(
                    "apikey".to_string(),
                    k8s_openapi::ByteString(apikey.as_bytes().to_vec()),
                )]
                .into(),
            ),
            ..Default::default()
        };
        let plain = data_digest(&secret("k1", None));
        assert_eq!(
            plain,
            data_digest(&secret("k1", Some(vec!["speech.watson.dev/in-use".into()])))
        );
        assert_ne!(plain, data_digest(&secret("k2", None)));
    }
}
