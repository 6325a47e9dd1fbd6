//! Google's token signing keys (a JWKS), cached for the response's `max-age` (an hour if
//! none) and refreshed single-flight: concurrent requests that need new keys wait on one fetch
//! behind a tokio mutex and then use its result; an unknown key id triggers at most one fetch
//! per 30 s, and a failed fetch is not retried for 5 s (meanwhile cached keys keep working).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use serde::Deserialize;

use super::oidc::OidcError;

const MIN_REFETCH: Duration = Duration::from_secs(30);
const FAILED_FETCH_PAUSE: Duration = Duration::from_secs(5);
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

type Keys = HashMap<String, Arc<DecodingKey>>;

#[derive(Debug)]
struct KeySet {
    keys: Keys,
    fetched: Instant,
    max_age: Duration,
}

/// Google's keys, cached, refreshed single-flight.
#[derive(Debug)]
pub(crate) struct KeyCache {
    url: String,
    http: reqwest::Client,
    current: RwLock<Option<Arc<KeySet>>>,
    refresh: tokio::sync::Mutex<()>,
    failed_at: Mutex<Option<Instant>>,
}

impl KeyCache {
    /// A cache of the JWKS at `url`.
    pub(crate) fn new(url: &str) -> Result<Self, String> {
        let http = crate::http::client("http client", |b| b.timeout(Duration::from_secs(10)))?;
        Ok(KeyCache {
            url: url.to_string(),
            http,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            failed_at: Mutex::new(None),
        })
    }

    /// Installs keys from a JWKS document (tests; a fetch does the same).
    #[cfg(test)]
    pub(crate) fn install(&self, jwks: &[u8]) -> Result<(), OidcError> {
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
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, OidcError> {
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
                    what: "the last fetch failed moments ago".into(),
                    source: None,
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
        let unavailable = |e: reqwest::Error| OidcError::KeysUnavailable {
            what: self.url.clone(),
            source: Some(Arc::new(e)),
        };
        let response = self.http.get(&self.url).send().await.map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(OidcError::KeysUnavailable {
                what: format!("{}: HTTP {}", self.url, response.status()),
                source: None,
            });
        }
        let max_age = response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .and_then(max_age)
            .unwrap_or(DEFAULT_MAX_AGE)
            .clamp(Duration::from_secs(60), Duration::from_secs(86_400));
        let body = response.bytes().await.map_err(unavailable)?;
        Ok(KeySet {
            keys: parse_jwks(&body)?,
            fetched: Instant::now(),
            max_age,
        })
    }
}

pub(crate) fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The RSA keys of a JWKS document, by key id; keys of other types, or that do not parse,
/// are skipped.
fn parse_jwks(body: &[u8]) -> Result<Keys, OidcError> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<serde_json::Value>,
    }
    let jwks: Jwks = serde_json::from_slice(body).map_err(|e| OidcError::KeysUnavailable {
        what: "the JWKS is malformed".into(),
        source: Some(Arc::new(e)),
    })?;
    let mut keys = HashMap::new();
    for value in jwks.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        if !matches!(jwk.algorithm, AlgorithmParameters::RSA(_)) {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.insert(jwk.common.key_id.unwrap_or_default(), Arc::new(key));
        }
    }
    Ok(keys)
}
