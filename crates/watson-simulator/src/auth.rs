//! Credentials: API keys (Basic `apikey:KEY`), and IAM-like access tokens — JWTs signed with
//! HMAC-SHA256 under a per-process secret, so verification is stateless and O(1).

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Issues and verifies tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    secret: [u8; 32],
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(..)")
    }
}

/// What the IAM endpoint returns.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedToken {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub expiration: u64,
}

impl IssuedToken {
    /// The IAM response body.
    pub fn to_json(&self) -> Value {
        json!({
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "expiration": self.expiration,
            "scope": "ibm openid",
            "ims_user_id": 0,
        })
    }
}

impl TokenIssuer {
    /// A new issuer with a random secret.
    pub fn random() -> Self {
        TokenIssuer {
            secret: rand::random(),
        }
    }

    fn sign(&self, header: &Value, payload: &Value) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(payload.to_string());
        let signing_input = format!("{h}.{p}");
        let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(&self.secret, signing_input.as_bytes()));
        format!("{signing_input}.{sig}")
    }

    /// The verified payload of a token, or `None`.
    fn open(&self, token: &str) -> Option<Value> {
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let expected = hmac_sha256(&self.secret, format!("{h}.{p}").as_bytes());
        let given = URL_SAFE_NO_PAD.decode(s).ok()?;
        // Length check plus byte comparison; timing attacks are not a concern in a simulator.
        if given.as_slice() != expected.as_slice() {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
    }

    /// Issues an access token (and refresh token) valid for `ttl_s` seconds from `now_s`.
    pub fn issue(&self, subject: &str, now_s: u64, ttl_s: u64) -> IssuedToken {
        let exp = now_s + ttl_s;
        let header = json!({"kid": "simulator", "alg": "HS256", "typ": "JWT"});
        let payload = json!({
            "iam_id": format!("iam-ServiceId-{subject}"),
            "id": format!("iam-ServiceId-{subject}"),
            "realmid": "iam",
            "jti": uuid::Uuid::new_v4().to_string(),
            "identifier": subject,
            "sub": format!("ServiceId-{subject}"),
            "sub_type": "ServiceId",
            "grant_type": "urn:ibm:params:oauth:grant-type:apikey",
            "scope": "ibm openid",
            "client_id": "default",
            "iss": "https://iam.cloud.ibm.com/identity",
            "iat": now_s,
            "exp": exp,
        });
        let refresh = json!({
            "typ": "refresh",
            "sub": subject,
            "iat": now_s,
            "exp": now_s + 30 * 24 * 3600,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        IssuedToken {
            access_token: self.sign(&header, &payload),
            refresh_token: self.sign(&header, &refresh),
            expires_in: ttl_s,
            expiration: exp,
        }
    }

    /// Whether `token` is an unexpired access token issued here.
    pub fn verify_access(&self, token: &str, now_s: u64) -> bool {
        self.open(token).is_some_and(|p| {
            p.get("typ").is_none()
                && p.get("exp")
                    .and_then(Value::as_u64)
                    .is_some_and(|exp| now_s < exp)
        })
    }

    /// The subject of a valid, unexpired refresh token.
    pub fn verify_refresh(&self, token: &str, now_s: u64) -> Option<String> {
        let p = self.open(token)?;
        if p.get("typ").and_then(Value::as_str) != Some("refresh") {
            return None;
        }
        if p.get("exp")
            .and_then(Value::as_u64)
            .is_none_or(|exp| now_s >= exp)
        {
            return None;
        }
        p.get("sub").and_then(Value::as_str).map(str::to_owned)
    }
}

/// A short, non-reversible label for an API key (used as token subject).
pub fn key_label(api_key: &str) -> String {
    hex::encode(&Sha256::digest(api_key.as_bytes())[..8])
}

/// Checks an `Authorization` header value against the keys and the issuer.
pub fn authorized(
    header: Option<&str>,
    keys: &HashSet<String>,
    issuer: &TokenIssuer,
    now_s: u64,
) -> bool {
    let Some(h) = header else { return false };
    if let Some(b) = h
        .strip_prefix("Basic ")
        .or_else(|| h.strip_prefix("basic "))
    {
        return STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .and_then(|s| s.strip_prefix("apikey:").map(|k| keys.contains(k)))
            .unwrap_or(false);
    }
    if let Some(t) = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))
    {
        return issuer.verify_access(t.trim(), now_s);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_are_jwt_shaped_and_expire() {
        let iss = TokenIssuer::random();
        let t = iss.issue("k", 1000, 60);
        assert_eq!(t.access_token.split('.').count(), 3);
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(t.access_token.split('.').nth(1).expect("payload"))
                .expect("b64"),
        )
        .expect("json");
        assert_eq!(payload["iat"], 1000);
        assert_eq!(payload["exp"], 1060);
        assert_eq!(t.expiration, 1060);
        assert!(iss.verify_access(&t.access_token, 1059));
        assert!(!iss.verify_access(&t.access_token, 1060));
        assert!(
            !iss.verify_access(&t.refresh_token, 1000),
            "refresh token is not an access token"
        );
        assert!(
            !TokenIssuer::random().verify_access(&t.access_token, 1000),
            "foreign signature"
        );
        assert_eq!(
            iss.verify_refresh(&t.refresh_token, 2000).as_deref(),
            Some("k")
        );
    }

    #[test]
    fn basic_and_bearer_auth() {
        let iss = TokenIssuer::random();
        let keys: HashSet<String> = ["good".to_owned()].into();
        let basic = |s: &str| format!("Basic {}", STANDARD.encode(s));
        assert!(authorized(Some(&basic("apikey:good")), &keys, &iss, 0));
        assert!(!authorized(Some(&basic("apikey:bad")), &keys, &iss, 0));
        assert!(!authorized(Some(&basic("user:good")), &keys, &iss, 0));
        let t = iss.issue("x", 0, 10).access_token;
        assert!(authorized(Some(&format!("Bearer {t}")), &keys, &iss, 5));
        assert!(!authorized(Some(&format!("Bearer {t}")), &keys, &iss, 10));
        assert!(!authorized(Some("Bearer nonsense"), &keys, &iss, 0));
        assert!(!authorized(None, &keys, &iss, 0));
    }
}
