//! Unit tests of token checks, with the test key of tests/keys (no network).

use super::*;
use crate::auth::jwks::max_age;
use crate::auth::test_tokens::{ATTACKER, GOOGLE, JWKS, SERVICE, sign};
use std::time::Duration;

fn now() -> i64 {
    Timestamp::now().as_second()
}

fn push_claims(aud: &str, email: &str, exp: i64) -> serde_json::Value {
    serde_json::json!({"iss": "https://accounts.google.com", "aud": aud, "exp": exp,
        "iat": exp - 3600, "email": email, "email_verified": true, "sub": "1"})
}

fn verifier() -> Verifier {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let v = Verifier::new(&VerifierSettings {
        jwks_url: "http://127.0.0.1:9/unused".into(),
        service_url: SERVICE.into(),
        push_service_account: Some("push@p.iam.gserviceaccount.com".into()),
    })
    .expect("verifier");
    v.keys().expect("keys").install(JWKS).expect("jwks");
    v
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    h
}

async fn caller(v: &Verifier, token: &str) -> Result<(), Error> {
    v.verify_caller(&bearer(token), "/pubsub/push", Timestamp::now())
        .await
}

#[tokio::test]
async fn push_tokens() {
    let v = verifier();
    let email = "push@p.iam.gserviceaccount.com";
    let exp = now() + 600;
    for aud in [SERVICE.to_string(), format!("{SERVICE}/pubsub/push")] {
        assert!(
            caller(&v, &sign(GOOGLE, push_claims(&aud, email, exp)))
                .await
                .is_ok()
        );
    }
    let code = |r: Result<(), Error>| r.err().map(|e| e.code().as_u16());
    assert_eq!(
        code(
            v.verify_caller(&HeaderMap::new(), "/gc", Timestamp::now())
                .await
        ),
        Some(401)
    );
    let wrong_aud = sign(GOOGLE, push_claims("https://other.example", email, exp));
    assert_eq!(code(caller(&v, &wrong_aud).await), Some(401));
    let wrong_email = sign(GOOGLE, push_claims(SERVICE, "me@example.com", exp));
    assert_eq!(code(caller(&v, &wrong_email).await), Some(403));
    let expired = sign(GOOGLE, push_claims(SERVICE, email, now() - 120));
    assert_eq!(code(caller(&v, &expired).await), Some(401));
    let forged = sign(ATTACKER, push_claims(SERVICE, email, exp));
    assert_eq!(code(caller(&v, &forged).await), Some(401));
    let mut bad_iss = push_claims(SERVICE, email, exp);
    bad_iss["iss"] = "https://evil.example".into();
    assert_eq!(code(caller(&v, &sign(GOOGLE, bad_iss)).await), Some(401));
    assert_eq!(code(caller(&v, "not-a-jwt").await), Some(401));
}

#[tokio::test]
async fn identity_tokens_are_checked_at_publish_time() {
    let v = verifier();
    let iat = now() - 7200;
    let token = sign(
        GOOGLE,
        serde_json::json!({"iss": "https://accounts.google.com", "aud": SERVICE,
            "iat": iat, "exp": iat + 3600, "sub": "1",
            "google": {"compute_engine": {"project_id": "p", "zone": "z-a",
                "instance_id": "7", "instance_name": "vm"}}}),
    );
    // Expired now, but valid when the message was published.
    let published = Timestamp::from_second(iat + 10).expect("ts");
    let id = v
        .verify_instance(Some(&token), published)
        .await
        .expect("valid at publish time")
        .expect("identity");
    assert_eq!(id.instance_name, "vm");
    let late = v.verify_instance(Some(&token), Timestamp::now()).await;
    assert_eq!(late.err().map(|e| e.code().as_u16()), Some(403));
    let missing = v.verify_instance(None, Timestamp::now()).await;
    assert_eq!(missing.err().map(|e| e.code().as_u16()), Some(403));
    // A push token is not an identity token.
    let push = sign(GOOGLE, push_claims(SERVICE, "x@y", now() + 600));
    let not_instance = v.verify_instance(Some(&push), Timestamp::now()).await;
    assert_eq!(not_instance.err().map(|e| e.code().as_u16()), Some(403));
}

#[tokio::test]
async fn disabled_accepts_everything() {
    let v = Verifier::disabled();
    assert!(!v.is_enabled());
    assert!(
        v.verify_caller(&HeaderMap::new(), "/gc", Timestamp::now())
            .await
            .is_ok()
    );
    assert_eq!(
        v.verify_instance(None, Timestamp::now()).await.ok(),
        Some(None)
    );
}

#[test]
fn cache_control_max_age() {
    assert_eq!(
        max_age("public, max-age=21001, must-revalidate, no-transform"),
        Some(Duration::from_secs(21001))
    );
    assert_eq!(max_age("no-store"), None);
}

#[tokio::test]
async fn behind_cloud_run_a_stripped_push_token_is_read_not_verified() {
    let email = "push@p.iam.gserviceaccount.com";
    let signed = sign(GOOGLE, push_claims(SERVICE, email, now() + 600));
    let stripped = format!(
        "{}.SIGNATURE_REMOVED_BY_GOOGLE",
        signed.rsplit_once('.').expect("jwt").0
    );
    let code = |r: Result<(), Error>| r.err().map(|e| e.code().as_u16());
    // Off Cloud Run a stripped token is a bad one.
    assert_eq!(code(caller(&verifier(), &stripped).await), Some(401));
    let v = verifier().behind_cloud_run();
    assert!(caller(&v, &stripped).await.is_ok());
    assert!(caller(&v, &signed).await.is_ok());
    // Still the push account only, and still not expired.
    let other = sign(GOOGLE, push_claims(SERVICE, "me@example.com", now() + 600));
    let other = format!(
        "{}.SIGNATURE_REMOVED_BY_GOOGLE",
        other.rsplit_once('.').expect("jwt").0
    );
    assert_eq!(code(caller(&v, &other).await), Some(403));
    let old = sign(GOOGLE, push_claims(SERVICE, email, now() - 600));
    let old = format!(
        "{}.SIGNATURE_REMOVED_BY_GOOGLE",
        old.rsplit_once('.').expect("jwt").0
    );
    assert_eq!(code(caller(&v, &old).await), Some(401));
    // A token with a signature is verified as before: a forged one fails.
    let forged = sign(ATTACKER, push_claims(SERVICE, email, now() + 600));
    assert_eq!(code(caller(&v, &forged).await), Some(401));
}
