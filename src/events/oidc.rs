//! Verifying Google-signed OIDC tokens: the bearer token of Pub/Sub pushes, Cloud Scheduler
//! and Eventarc calls, and the instance identity token a VM puts inside its report.
//!
//! A token is accepted when its RS256 signature checks against Google's published keys
//! (JWKS, `https://www.googleapis.com/oauth2/v3/certs`, overridable so tests can sign with
//! their own key), its issuer is `accounts.google.com` or `https://accounts.google.com`, its
//! audience is this service, and it has not expired (60 s leeway). A caller's token must also
//! carry `email` = the configured push service account, verified. An identity token must carry
//! the `google.compute_engine` claims, which name the VM.
//!
//! Keys are cached for the JWKS response's `max-age` (an hour if none). A refresh is single
//! flight: concurrent requests that need new keys wait on one fetch behind a tokio mutex and
//! then use its result; an unknown key id triggers at most one fetch per 30 s, and a failed
//! fetch is not retried for 5 s (meanwhile cached keys keep working).
//!
//! # Errors
//! A bad caller token is 401 (403 for a valid token of another account); a bad identity
//! token inside an authenticated push is 403; keys that cannot be fetched are 503 (the caller
//! retries).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::pods::identity::VmIdentity;

/// Google's JWKS.
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// Issuers of Google ID tokens.
pub const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];
const LEEWAY_SECS: i64 = 60;
const MIN_REFETCH: Duration = Duration::from_secs(30);
const FAILED_FETCH_PAUSE: Duration = Duration::from_secs(5);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    Missing,
    /// Not a JWT, or not RS256.
    #[error("malformed token: {reason}")]
    Malformed {
        /// Why.
        reason: String,
    },
    /// Signed with a key Google does not publish.
    #[error("token signed with unknown key {kid:?}")]
    UnknownKey {
        /// The header's `kid`.
        kid: String,
    },
    /// The signature does not check.
    #[error("token signature is invalid")]
    BadSignature,
    /// Past `exp`.
    #[error("token expired at {exp}")]
    Expired {
        /// `exp`.
        exp: i64,
    },
    /// `iat` in the future.
    #[error("token issued in the future ({iat})")]
    NotYetValid {
        /// `iat`.
        iat: i64,
    },
    /// Not Google.
    #[error("token issuer {iss:?} is not Google")]
    WrongIssuer {
        /// `iss`.
        iss: String,
    },
    /// Not for this service.
    #[error("token audience {aud} is not this service")]
    WrongAudience {
        /// `aud`.
        aud: String,
    },
    /// Another account.
    #[error("token is for {email:?}, not the configured push service account")]
    WrongEmail {
        /// `email`.
        email: String,
    },
    /// No `google.compute_engine` claims.
    #[error("not an instance identity token (no google.compute_engine claims)")]
    NotInstance,
    /// The JWKS could not be fetched.
    #[error("Google's signing keys are unavailable: {message}")]
    KeysUnavailable {
        /// What happened.
        message: String,
    },
}

/// The error for a refused caller (push, scheduler, Eventarc).
pub fn caller_error(e: OidcError) -> Error {
    match e {
        OidcError::KeysUnavailable { .. } => Error::unavailable(e.to_string()),
        OidcError::WrongEmail { .. } => Error::Forbidden {
            message: e.to_string(),
        },
        _ => Error::Unauthorized {
            message: e.to_string(),
        },
    }
}

/// The error for a refused identity token inside an authenticated message.
pub fn message_error(e: OidcError) -> Error {
    match e {
        OidcError::KeysUnavailable { .. } => Error::unavailable(e.to_string()),
        _ => Error::Forbidden {
            message: format!("the report's instance identity token: {e}"),
        },
    }
}

/// The claims k8sless reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Claims {
    /// Issuer.
    #[serde(default)]
    pub iss: String,
    /// Audience (a string, or a list).
    #[serde(default)]
    pub aud: Value,
    /// Expiry (seconds).
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issued at (seconds).
    #[serde(default)]
    pub iat: Option<i64>,
    /// Service account email.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether Google verified the email.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// `google.compute_engine` of identity tokens.
    #[serde(default)]
    pub google: Option<GoogleClaims>,
}

/// `google`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GoogleClaims {
    /// `compute_engine`.
    #[serde(default)]
    pub compute_engine: Option<ComputeEngineClaims>,
}

/// `google.compute_engine` (identity tokens with `format=full`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ComputeEngineClaims {
    /// Project id.
    #[serde(default)]
    pub project_id: String,
    /// Zone.
    #[serde(default)]
    pub zone: String,
    /// Instance id.
    #[serde(default)]
    pub instance_id: String,
    /// Instance name.
    #[serde(default)]
    pub instance_name: String,
}

type Keys = HashMap<String, Arc<DecodingKey>>;

#[derive(Debug)]
struct KeySet {
    keys: Keys,
    fetched: Instant,
    max_age: Duration,
}

/// Google's keys, cached, refreshed single-flight.
#[derive(Debug)]
pub struct KeyCache {
    url: String,
    http: reqwest::Client,
    current: RwLock<Option<Arc<KeySet>>>,
    refresh: tokio::sync::Mutex<()>,
    failed_at: Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

impl KeyCache {
    /// A cache of the JWKS at `url`.
    pub fn new(url: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(KeyCache {
            url: url.to_string(),
            http,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            failed_at: Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Installs keys from a JWKS document (tests; a fetch does the same).
    pub fn install(&self, jwks: &[u8]) -> Result<(), OidcError> {
        let keys = parse_jwks(jwks)?;
        self.store(KeySet {
            keys,
            fetched: Instant::now(),
            max_age: DEFAULT_MAX_AGE,
        });
        Ok(())
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn store(&self, set: KeySet) -> Arc<KeySet> {
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut c) => *c = Some(set.clone()),
            Err(p) => *p.into_inner() = Some(set.clone()),
        }
        set
    }

    /// The key `kid`, fetching the JWKS when the cache is stale or lacks it.
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, OidcError> {
        let unknown = || OidcError::UnknownKey { kid: kid.into() };
        let before = self.snapshot();
        if let Some(set) = &before {
            let age = set.fetched.elapsed();
            match set.keys.get(kid) {
                Some(k) if age < set.max_age => return Ok(k.clone()),
                None if age < MIN_REFETCH => return Err(unknown()),
                _ => {}
            }
        }
        let _single_flight = self.refresh.lock().await;
        let latest = self.snapshot();
        let refreshed = match (&before, &latest) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (None, Some(_)) => true,
            _ => false,
        };
        let set = if refreshed {
            latest
        } else {
            let paused = self
                .failed_at
                .lock()
                .map(|f| f.is_some_and(|t| t.elapsed() < FAILED_FETCH_PAUSE))
                .unwrap_or(false);
            let fetched = if paused {
                Err(OidcError::KeysUnavailable {
                    message: "the last fetch failed moments ago".into(),
                })
            } else {
                self.fetch().await
            };
            match fetched {
                Ok(set) => Some(self.store(set)),
                Err(e) => {
                    if let Ok(mut f) = self.failed_at.lock() {
                        *f = Some(Instant::now());
                    }
                    // Stale keys beat no keys.
                    return match latest.and_then(|s| s.keys.get(kid).cloned()) {
                        Some(k) => {
                            tracing::warn!(error = %e, "using cached signing keys");
                            Ok(k)
                        }
                        None => Err(e),
                    };
                }
            }
        };
        set.and_then(|s| s.keys.get(kid).cloned())
            .ok_or_else(unknown)
    }

    async fn fetch(&self) -> Result<KeySet, OidcError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let unavailable = |message: String| OidcError::KeysUnavailable { message };
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| unavailable(format!("{}: {e}", self.url)))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "{}: HTTP {}",
                self.url,
                response.status()
            )));
        }
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .clamp(Duration::from_secs(60), Duration::from_secs(86_400));
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(format!("{}: {e}", self.url)))?;
        Ok(KeySet {
            keys: parse_jwks(&body)?,
            fetched: Instant::now(),
            max_age,
        })
    }
}

fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn parse_jwks(body: &[u8]) -> Result<Keys, OidcError> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Jwk>,
    }
    #[derive(Deserialize)]
    struct Jwk {
        #[serde(default)]
        kid: String,
        #[serde(default)]
        kty: String,
        #[serde(default)]
        n: String,
        #[serde(default)]
        e: String,
    }
    let jwks: Jwks = serde_json::from_slice(body).map_err(|e| OidcError::KeysUnavailable {
        message: format!("the JWKS is malformed: {e}"),
    })?;
    let mut keys = HashMap::new();
    for k in jwks.keys.into_iter().filter(|k| k.kty == "RSA") {
        if let Ok(key) = DecodingKey::from_rsa_components(&k.n, &k.e) {
            keys.insert(k.kid, Arc::new(key));
        }
    }
    Ok(keys)
}

/// What a verifier needs to know.
#[derive(Debug, Clone)]
pub struct VerifierSettings {
    /// The JWKS URL.
    pub jwks_url: String,
    /// The service's URL (audience).
    pub service_url: String,
    /// The account Pub/Sub, Cloud Scheduler and Eventarc call with.
    pub push_service_account: Option<String>,
}

/// Verifies callers and instance identity tokens; or, in dev mode, nothing.
#[derive(Debug)]
pub struct Verifier {
    keys: Option<KeyCache>,
    service_url: String,
    push_email: Option<String>,
}

impl Verifier {
    /// A verifier that checks tokens.
    pub fn new(s: &VerifierSettings) -> Result<Self, String> {
        Ok(Verifier {
            keys: Some(KeyCache::new(&s.jwks_url)?),
            service_url: s.service_url.trim_end_matches('/').to_string(),
            push_email: s.push_service_account.clone().filter(|e| !e.is_empty()),
        })
    }

    /// A verifier that accepts everything (dev mode only).
    pub fn disabled() -> Self {
        Verifier {
            keys: None,
            service_url: String::new(),
            push_email: None,
        }
    }

    /// Whether tokens are checked.
    pub fn is_enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// The key cache (tests read its fetch count).
    pub fn keys(&self) -> Option<&KeyCache> {
        self.keys.as_ref()
    }

    /// Checks the bearer token of a call to `path` (Pub/Sub, Cloud Scheduler, Eventarc).
    /// Accepted audiences: the service URL, and the service URL plus `path` (Pub/Sub's and
    /// Cloud Scheduler's default is the full endpoint URL).
    pub async fn verify_caller(
        &self,
        headers: &HeaderMap,
        path: &str,
        now: Timestamp,
    ) -> Result<(), Error> {
        let Some(keys) = &self.keys else {
            return Ok(());
        };
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(OidcError::Missing)
            .map_err(caller_error)?;
        let audiences = [
            self.service_url.clone(),
            format!("{}/", self.service_url),
            format!("{}{path}", self.service_url),
        ];
        let claims = verify(keys, token.trim(), &audiences, now)
            .await
            .map_err(caller_error)?;
        let email = claims.email.unwrap_or_default();
        match &self.push_email {
            Some(want) if *want == email && claims.email_verified == Some(true) => Ok(()),
            _ => Err(caller_error(OidcError::WrongEmail { email })),
        }
    }

    /// Checks an instance identity token as of `at` (the message's publish time: the token
    /// must have been valid when the VM published, however late Pub/Sub delivers) and returns
    /// the VM it names; `None` when verification is off.
    pub async fn verify_instance(
        &self,
        token: Option<&str>,
        at: Timestamp,
    ) -> Result<Option<VmIdentity>, Error> {
        let Some(keys) = &self.keys else {
            return Ok(None);
        };
        let token = token.ok_or(OidcError::Missing).map_err(message_error)?;
        let audiences = [self.service_url.clone(), format!("{}/", self.service_url)];
        let claims = verify(keys, token, &audiences, at)
            .await
            .map_err(message_error)?;
        let ce = claims
            .google
            .and_then(|g| g.compute_engine)
            .ok_or(OidcError::NotInstance)
            .map_err(message_error)?;
        Ok(Some(VmIdentity {
            project_id: ce.project_id,
            zone: ce.zone,
            instance_id: ce.instance_id,
            instance_name: ce.instance_name,
        }))
    }
}

async fn verify(
    keys: &KeyCache,
    token: &str,
    audiences: &[String],
    at: Timestamp,
) -> Result<Claims, OidcError> {
    let malformed = |reason: String| OidcError::Malformed { reason };
    let header = jsonwebtoken::decode_header(token).map_err(|e| malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(malformed(format!(
            "algorithm {:?}, expected RS256",
            header.alg
        )));
    }
    let kid = header.kid.unwrap_or_default();
    let key = keys.key(&kid).await?;
    check(token, &key, audiences, at)
}

/// Signature, issuer, audience and times (no I/O).
pub fn check(
    token: &str,
    key: &DecodingKey,
    audiences: &[String],
    at: Timestamp,
) -> Result<Claims, OidcError> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => OidcError::BadSignature,
            _ => OidcError::Malformed {
                reason: e.to_string(),
            },
        })?
        .claims;
    if !GOOGLE_ISSUERS.contains(&claims.iss.as_str()) {
        return Err(OidcError::WrongIssuer { iss: claims.iss });
    }
    let aud_ok = match &claims.aud {
        Value::String(a) => audiences.contains(a),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|w| w == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(OidcError::WrongAudience {
            aud: claims.aud.to_string(),
        });
    }
    let now = at.as_second();
    let exp = claims.exp.ok_or_else(|| OidcError::Malformed {
        reason: "no exp".into(),
    })?;
    if now > exp + LEEWAY_SECS {
        return Err(OidcError::Expired { exp });
    }
    if let Some(iat) = claims.iat.filter(|iat| *iat > now + LEEWAY_SECS) {
        return Err(OidcError::NotYetValid { iat });
    }
    Ok(claims)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
