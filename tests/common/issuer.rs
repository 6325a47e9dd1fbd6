//! A stand-in for Google's token issuer: the test key of tests/keys, its JWKS served from a
//! local server that counts fetches, and the tokens it signs (callers and VM identities).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use k8sless::testing::{Instance, Report};
use serde_json::{Value, json};

use super::init;

pub const SERVICE_URL: &str = "https://k8sless.test";
pub const PUSH_SA: &str = "push@k8sless-test.iam.gserviceaccount.com";
pub const OWN_SA: &str = "k8sless@k8sless-test.iam.gserviceaccount.com";
pub const PROJECT: &str = "k8sless-dev";
const GOOGLE: &[u8] = include_bytes!("../keys/google-test.pem");
const ATTACKER: &[u8] = include_bytes!("../keys/attacker.pem");
const JWKS: &str = include_str!("../keys/jwks.json");

/// Google's stand-in.
pub struct Issuer {
    pub jwks_url: String,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    /// Serves the JWKS (each answer delayed 200 ms, so concurrent verifiers overlap).
    pub async fn start() -> Issuer {
        init();
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/oauth2/v3/certs",
            axum::routing::get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    (
                        [
                            ("content-type", "application/json"),
                            ("cache-control", "public, max-age=3600"),
                        ],
                        JWKS,
                    )
                }
            }),
        );
        let base = super::serve(app).await;
        Issuer {
            jwks_url: format!("{base}/oauth2/v3/certs"),
            fetches,
        }
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn sign(&self, claims: &Value) -> String {
        sign(GOOGLE, claims)
    }

    pub fn forge(&self, claims: &Value) -> String {
        sign(ATTACKER, claims)
    }

    /// A valid caller token for `path`.
    pub fn caller(&self, path: &str) -> String {
        self.sign(&caller_claims(
            &format!("{SERVICE_URL}{path}"),
            PUSH_SA,
            7200, // two hours: tests move the service clock up to an hour ahead
        ))
    }

    /// A valid identity token of `vm`.
    /// A report of `pod` from `vm` carrying the VM's identity token.
    pub fn report(&self, pod: &Value, vm: &Instance, seq: u64, status: Value) -> Report {
        super::report(pod, vm, seq, status, Some(self.identity(vm)))
    }

    pub fn identity(&self, vm: &Instance) -> String {
        self.sign(&identity_claims(vm, SERVICE_URL))
    }
}

fn sign(pem: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k8sless-test-1".into());
    let key = EncodingKey::from_rsa_pem(pem).expect("pem");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub fn caller_claims(aud: &str, email: &str, expires_in: i64) -> Value {
    json!({"iss": "https://accounts.google.com", "aud": aud, "azp": "1",
        "exp": now() + expires_in, "iat": now() - 10, "sub": "1",
        "email": email, "email_verified": true})
}

pub fn zone_of(vm: &Instance) -> String {
    vm.zone
        .as_deref()
        .and_then(|z| z.rsplit('/').next())
        .unwrap_or_default()
        .to_string()
}

pub fn identity_claims(vm: &Instance, aud: &str) -> Value {
    json!({"iss": "https://accounts.google.com", "aud": aud, "azp": "1",
        "exp": now() + 3600, "iat": now() - 5, "sub": "1",
        "google": {"compute_engine": {"project_id": PROJECT, "project_number": 1,
            "zone": zone_of(vm), "instance_id": vm.id.clone().unwrap_or_default(),
            "instance_name": vm.name, "instance_creation_timestamp": now() - 60}}})
}
