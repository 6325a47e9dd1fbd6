//! Who is calling: the Google identity (an email) behind an API request.
//!
//! # On Cloud Run ([`IdentityMode::CloudRun`])
//! Cloud Run IAM admits a request only with a Google-signed ID token of a principal holding
//! `run.routes.invoke`, sent as `Authorization: Bearer` or `X-Serverless-Authorization: Bearer`
//! (the latter wins when both are present, and then `Authorization` reaches the container
//! untouched). Cloud Run "removes the token signature before passing the token to the user
//! container": the third part of the JWT arrives as `SIGNATURE_REMOVED_BY_GOOGLE`
//! (cloud.google.com/run/docs/authenticating/service-to-service#acquire-token and
//! /run/docs/troubleshooting#signature-removed; docs/security.md). So the container cannot
//! re-verify what Cloud Run verified; it reads the email from the payload of the header Cloud
//! Run checked, and trusts it because Cloud Run did. That trust holds only while `allUsers`
//! is not an invoker (terraform/ never grants it). A token that still carries a signature did
//! not come through Cloud Run's check, and is verified in full as in [`IdentityMode::Google`].
//!
//! # Anywhere else ([`IdentityMode::Google`])
//! The token is verified in process: RS256 signature against Google's keys (the single-flight
//! cache of `auth/jwks.rs`), issuer, audience (the service URL or `--token-audiences`), expiry,
//! and `email_verified`.
//!
//! # `k8sless dev` ([`IdentityMode::Dev`])
//! `Bearer dev:EMAIL` is EMAIL; no token, or any other token, is the dev admin (in the
//! `system:masters` group, which is `cluster-admin`, as in Kubernetes). Its banner says so.
//!
//! # Errors
//! No token or a bad one is 401 Unauthorized (kube-apiserver's `Unauthorized` Status); keys that
//! cannot be fetched are 503.

use axum::http::HeaderMap;
use jiff::Timestamp;

use super::oidc::{self, Claims, KeyCache, OidcError};
use crate::error::{self, Error};

/// Every authenticated user's group, as in Kubernetes (`system:authenticated`).
pub(crate) const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// The group Kubernetes binds to `cluster-admin`.
pub(crate) const MASTERS_GROUP: &str = "system:masters";
/// The user a dev-mode request without a `dev:EMAIL` token acts as.
pub(crate) const DEV_ADMIN: &str = "dev-admin";
/// What Cloud Run puts where the signature was.
const SIGNATURE_REMOVED: &str = "SIGNATURE_REMOVED_BY_GOOGLE";
/// Longest token read (Google ID tokens are about 1 KiB).
const MAX_TOKEN: usize = 8 * 1024;

/// The caller, as Kubernetes' `user.Info` names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// The email (user or service account), or [`DEV_ADMIN`].
    pub(crate) name: String,
    /// `system:authenticated`, and `system:masters` for the dev admin.
    pub(crate) groups: Vec<String>,
}

impl User {
    /// An authenticated user by email.
    pub(crate) fn email(name: &str) -> Self {
        User {
            name: name.to_string(),
            groups: vec![AUTHENTICATED_GROUP.to_string()],
        }
    }

    fn dev_admin() -> Self {
        User {
            name: DEV_ADMIN.to_string(),
            groups: vec![MASTERS_GROUP.to_string(), AUTHENTICATED_GROUP.to_string()],
        }
    }
}

/// How callers are identified (`--identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IdentityMode {
    /// Behind Cloud Run IAM: read the token Cloud Run checked (the `serve` default).
    CloudRun,
    /// Verify every Google ID token in process (other hosting, local runs with real tokens).
    Google,
    /// `dev:EMAIL` tokens; anything else is the dev admin (the `dev` default).
    Dev,
}

/// Identifies callers.
#[derive(Debug)]
pub struct Authenticator {
    mode: IdentityMode,
    keys: Option<KeyCache>,
    audiences: Vec<String>,
}

impl Authenticator {
    /// An authenticator; `jwks_url` is fetched only for tokens that must be verified.
    pub(crate) fn new(
        mode: IdentityMode,
        jwks_url: &str,
        audiences: Vec<String>,
    ) -> Result<Self, String> {
        let keys = match mode {
            IdentityMode::Dev => None,
            _ => Some(KeyCache::new(jwks_url)?),
        };
        Ok(Authenticator {
            mode,
            keys,
            audiences,
        })
    }

    /// The mode.
    pub(crate) fn mode(&self) -> IdentityMode {
        self.mode
    }

    /// The key cache (tests install keys in it).
    #[cfg(test)]
    pub(crate) fn keys(&self) -> Option<&KeyCache> {
        self.keys.as_ref()
    }

    /// The caller of a request with these headers.
    pub(crate) async fn authenticate(
        &self,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Result<User, Error> {
        let token = bearer(headers, "x-serverless-authorization")
            .or_else(|| bearer(headers, "authorization"));
        if self.mode == IdentityMode::Dev {
            return Ok(match token.and_then(|t| t.strip_prefix("dev:")) {
                Some(email) if !email.trim().is_empty() => User::email(email.trim()),
                _ => User::dev_admin(),
            });
        }
        let token = token.ok_or(OidcError::Missing).map_err(unauthorized)?;
        if token.len() > MAX_TOKEN {
            return Err(unauthorized(OidcError::Malformed {
                reason: format!("longer than {MAX_TOKEN} bytes"),
                source: None,
            }));
        }
        let claims = if self.mode == IdentityMode::CloudRun && stripped(token) {
            forwarded_claims(token, now).map_err(unauthorized)?
        } else {
            self.verified_claims(token, now).await?
        };
        email_of(claims)
            .map(|e| User::email(&e))
            .map_err(unauthorized)
    }

    async fn verified_claims(&self, token: &str, now: Timestamp) -> Result<Claims, Error> {
        let Some(keys) = &self.keys else {
            return Err(Error::internal("token verification has no key cache"));
        };
        let claims = oidc::verify(keys, token, &self.audiences, now)
            .await
            .map_err(|e| match e {
                OidcError::KeysUnavailable { .. } => Error::unavailable(error::chain_of(&e)),
                e => unauthorized(e),
            })?;
        if claims.email_verified != Some(true) {
            return Err(unauthorized(OidcError::Malformed {
                reason: "the token's email is not verified".into(),
                source: None,
            }));
        }
        Ok(claims)
    }
}

/// The token of `Bearer <token>` in header `name`.
fn bearer<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let value = headers.get(name)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether Cloud Run stripped this token's signature.
pub(crate) fn stripped(token: &str) -> bool {
    token.rsplit('.').next() == Some(SIGNATURE_REMOVED)
}

/// The claims of a token Cloud Run verified: only the issuer and the expiry are checked again
/// (Cloud Run accepted its audience, which may be a custom one or gcloud's client id).
pub(crate) fn forwarded_claims(token: &str, now: Timestamp) -> Result<Claims, OidcError> {
    let data = jsonwebtoken::dangerous::insecure_decode::<Claims>(token).map_err(|e| {
        OidcError::Malformed {
            reason: "undecodable".into(),
            source: Some(e),
        }
    })?;
    let claims = data.claims;
    if !oidc::GOOGLE_ISSUERS.contains(&claims.iss.as_str()) {
        return Err(OidcError::WrongIssuer { iss: claims.iss });
    }
    match claims.exp {
        Some(exp) if now.as_second() <= exp + oidc::LEEWAY_SECS => Ok(claims),
        Some(exp) => Err(OidcError::Expired { exp }),
        None => Err(OidcError::Malformed {
            reason: "no exp".into(),
            source: None,
        }),
    }
}

fn email_of(claims: Claims) -> Result<String, OidcError> {
    claims
        .email
        .filter(|e| !e.is_empty())
        .ok_or_else(|| OidcError::Malformed {
            reason: "no email claim (ask for a token with the email scope)".into(),
            source: None,
        })
}

/// kube-apiserver answers every failed authentication with 401 `Unauthorized`; the reason goes
/// to the log only.
fn unauthorized(e: OidcError) -> Error {
    Error::Unauthenticated { source: e }
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
