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
//! Keys come from [`KeyCache`] (`auth/jwks.rs`): cached, refreshed single-flight.
//!
//! # Errors
//! A bad caller token is 401 (403 for a valid token of another account); a bad identity
//! token inside an authenticated push is 403; keys that cannot be fetched are 503 (the caller
//! retries).

use axum::http::HeaderMap;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

pub(crate) use super::jwks::KeyCache;
use crate::error::{self, Error};

/// The `google.compute_engine` claims of a verified instance identity token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VmIdentity {
    /// Project id.
    pub project_id: String,
    /// Zone (short name).
    pub zone: String,
    /// Instance id (decimal).
    pub instance_id: String,
    /// Instance name.
    pub instance_name: String,
}

/// Issuers of Google ID tokens.
pub(crate) const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];
pub(crate) const LEEWAY_SECS: i64 = 60;

/// A cause kept with an error (cloneable, as verdicts are shared).
type Cause = std::sync::Arc<dyn std::error::Error + Send + Sync>;

/// Why a token was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OidcError {
    /// No `Authorization: Bearer` header.
    #[error("no bearer token")]
    Missing,
    /// Not a JWT, or not RS256.
    #[error("malformed token: {reason}")]
    Malformed {
        /// Why.
        reason: String,
        /// The JWT library's error, when it found the fault.
        #[source]
        source: Option<jsonwebtoken::errors::Error>,
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
    #[error("Google's signing keys are unavailable: {what}")]
    KeysUnavailable {
        /// What was fetched, or what happened.
        what: String,
        /// The transport's or the parser's error.
        #[source]
        source: Option<Cause>,
    },
}

/// The token of an `Authorization: Bearer <token>` header, trimmed; `None` without one. The
/// scheme is matched as `Bearer` or `bearer`, the spellings callers send (RFC 7235 section 2.1
/// makes schemes case-insensitive). The one parser of it for callers and guests.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// The error for a refused caller (push, scheduler, Eventarc).
pub(crate) fn caller_error(e: OidcError) -> Error {
    let message = error::chain_of(&e);
    match e {
        OidcError::KeysUnavailable { .. } => Error::unavailable(message),
        OidcError::WrongEmail { .. } => Error::Forbidden { message },
        _ => Error::Unauthorized { message },
    }
}

/// The error for a refused identity token inside an authenticated message.
pub(crate) fn message_error(e: OidcError) -> Error {
    let message = error::chain_of(&e);
    match e {
        OidcError::KeysUnavailable { .. } => Error::unavailable(message),
        _ => Error::Forbidden {
            message: format!("the report's instance identity token: {message}"),
        },
    }
}

/// The claims k8sless reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Claims {
    /// Issuer.
    #[serde(default)]
    pub(crate) iss: String,
    /// Audience (a string, or a list).
    #[serde(default)]
    pub(crate) aud: Value,
    /// Expiry (seconds).
    #[serde(default)]
    pub(crate) exp: Option<i64>,
    /// Issued at (seconds).
    #[serde(default)]
    pub(crate) iat: Option<i64>,
    /// Service account email.
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// Whether Google verified the email.
    #[serde(default)]
    pub(crate) email_verified: Option<bool>,
    /// `google.compute_engine` of identity tokens.
    #[serde(default)]
    pub(crate) google: Option<GoogleClaims>,
}

/// `google`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GoogleClaims {
    /// `compute_engine`.
    #[serde(default)]
    pub(crate) compute_engine: Option<ComputeEngineClaims>,
}

/// `google.compute_engine` (identity tokens with `format=full`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ComputeEngineClaims {
    /// Project id.
    #[serde(default)]
    pub(crate) project_id: String,
    /// Zone.
    #[serde(default)]
    pub(crate) zone: String,
    /// Instance id.
    #[serde(default)]
    pub(crate) instance_id: String,
    /// Instance name.
    #[serde(default)]
    pub(crate) instance_name: String,
}

/// What a verifier needs to know.
#[derive(Debug, Clone)]
pub(crate) struct VerifierSettings {
    /// The JWKS URL.
    pub(crate) jwks_url: String,
    /// The service's URL (audience).
    pub(crate) service_url: String,
    /// The account Pub/Sub, Cloud Scheduler and Eventarc call with.
    pub(crate) push_service_account: Option<String>,
}

/// Verifies callers and instance identity tokens; or, in dev mode, nothing.
#[derive(Debug)]
pub struct Verifier {
    keys: Option<KeyCache>,
    service_url: String,
    push_email: Option<String>,
    /// Behind Cloud Run IAM: a caller token whose signature Cloud Run stripped is read, not
    /// verified (`auth/identity.rs` explains why).
    behind_cloud_run: bool,
}

impl Verifier {
    /// A verifier that checks tokens.
    pub(crate) fn new(s: &VerifierSettings) -> Result<Self, String> {
        Ok(Verifier {
            keys: Some(KeyCache::new(&s.jwks_url)?),
            service_url: s.service_url.trim_end_matches('/').to_string(),
            push_email: s.push_service_account.clone().filter(|e| !e.is_empty()),
            behind_cloud_run: false,
        })
    }

    /// This verifier behind Cloud Run IAM (`--identity cloud-run`): Cloud Run checks the push
    /// callers' tokens too (their accounts hold `roles/run.invoker`) and strips their
    /// signature before the container sees them, so a stripped caller token is read from its
    /// payload (issuer, expiry, email); one with a signature is still verified in full.
    pub(crate) fn behind_cloud_run(mut self) -> Self {
        self.behind_cloud_run = true;
        self
    }

    /// A verifier that accepts everything (dev mode only).
    pub(crate) fn disabled() -> Self {
        Verifier {
            keys: None,
            service_url: String::new(),
            push_email: None,
            behind_cloud_run: false,
        }
    }

    /// Whether tokens are checked.
    #[cfg(test)]
    pub(crate) fn is_enabled(&self) -> bool {
        self.keys.is_some()
    }

    /// The key cache (tests install keys in it).
    #[cfg(test)]
    pub(crate) fn keys(&self) -> Option<&KeyCache> {
        self.keys.as_ref()
    }

    /// Checks the bearer token of a call to `path` (Pub/Sub, Cloud Scheduler, Eventarc).
    /// Accepted audiences: the service URL, and the service URL plus `path` (Pub/Sub's and
    /// Cloud Scheduler's default is the full endpoint URL).
    pub(crate) async fn verify_caller(
        &self,
        headers: &HeaderMap,
        path: &str,
        now: Timestamp,
    ) -> Result<(), Error> {
        let Some(keys) = &self.keys else {
            return Ok(());
        };
        let token = bearer_token(headers)
            .ok_or(OidcError::Missing)
            .map_err(caller_error)?;
        let audiences = [
            self.service_url.clone(),
            format!("{}/", self.service_url),
            format!("{}{path}", self.service_url),
        ];
        let token = token.trim();
        let claims = if self.behind_cloud_run && super::identity::stripped(token) {
            super::identity::forwarded_claims(token, now).map_err(caller_error)?
        } else {
            verify(keys, token, &audiences, now)
                .await
                .map_err(caller_error)?
        };
        let email = claims.email.unwrap_or_default();
        match &self.push_email {
            Some(want) if *want == email && claims.email_verified == Some(true) => Ok(()),
            _ => Err(caller_error(OidcError::WrongEmail { email })),
        }
    }

    /// Checks an instance identity token as of `at` (the message's publish time: the token
    /// must have been valid when the VM published, however late Pub/Sub delivers) and returns
    /// the VM it names; `None` when verification is off.
    pub(crate) async fn verify_instance(
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

/// Verifies `token` against Google's keys: signature, issuer, one of `audiences`, times.
pub(crate) async fn verify(
    keys: &KeyCache,
    token: &str,
    audiences: &[String],
    at: Timestamp,
) -> Result<Claims, OidcError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| OidcError::Malformed {
        reason: "no JWT header".into(),
        source: Some(e),
    })?;
    if header.alg != Algorithm::RS256 {
        return Err(OidcError::Malformed {
            reason: format!("algorithm {:?}, expected RS256", header.alg),
            source: None,
        });
    }
    let kid = header.kid.unwrap_or_default();
    let key = keys.key(&kid).await?;
    check(token, &key, audiences, at)
}

/// Signature, issuer, audience and times (no I/O).
pub(crate) fn check(
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
                reason: "undecodable".into(),
                source: Some(e),
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
        source: None,
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
