//! Unit tests of caller identification, with the test keys of tests/keys (no network).

use super::*;
use crate::auth::test_tokens::{ATTACKER, GOOGLE, JWKS, SERVICE, sign};

fn claims(email: &str, aud: &str, exp_in: i64) -> serde_json::Value {
    let now = Timestamp::now().as_second();
    serde_json::json!({"iss": "https://accounts.google.com", "aud": aud, "exp": now + exp_in,
        "iat": now - 10, "email": email, "email_verified": true, "sub": "1"})
}

/// What Cloud Run hands the container: the token with its signature replaced.
fn strip(token: &str) -> String {
    let (head, _) = token.rsplit_once('.').expect("jwt");
    format!("{head}.{SIGNATURE_REMOVED}")
}

fn authenticator(mode: IdentityMode) -> Authenticator {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = Authenticator::new(mode, "http://127.0.0.1:9/unused", vec![SERVICE.to_string()])
        .expect("authenticator");
    if let Some(keys) = a.keys() {
        keys.install(JWKS).expect("jwks");
    }
    a
}

/// `Authorization: Bearer <token>`.
fn bearer(token: &str) -> HeaderMap {
    headers("authorization", &format!("Bearer {token}"))
}

fn headers(name: &str, value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
        value.parse().expect("value"),
    );
    h
}

async fn who(a: &Authenticator, h: &HeaderMap) -> Result<String, u16> {
    a.authenticate(h, Timestamp::now())
        .await
        .map(|u| u.name)
        .map_err(|e| e.code().as_u16())
}

#[tokio::test]
async fn cloud_run_reads_the_token_it_checked() {
    let a = authenticator(IdentityMode::CloudRun);
    // gcloud's user tokens have gcloud's client id as audience; Cloud Run accepted it.
    let user = strip(&sign(
        GOOGLE,
        claims(
            "alice@example.com",
            "32555940559.apps.googleusercontent.com",
            600,
        ),
    ));
    let h = headers("authorization", &format!("Bearer {user}"));
    assert_eq!(who(&a, &h).await, Ok("alice@example.com".into()));
    // X-Serverless-Authorization wins: Cloud Run checked that one.
    let mut both = headers("x-serverless-authorization", &format!("Bearer {user}"));
    both.insert("authorization", "Bearer something-else".parse().expect("v"));
    assert_eq!(who(&a, &both).await, Ok("alice@example.com".into()));
    let expired = strip(&sign(GOOGLE, claims("alice@example.com", SERVICE, -600)));
    assert_eq!(who(&a, &bearer(&expired)).await, Err(401));
    assert_eq!(who(&a, &HeaderMap::new()).await, Err(401));
}

#[tokio::test]
async fn a_token_with_a_signature_did_not_pass_cloud_run_and_is_verified() {
    let a = authenticator(IdentityMode::CloudRun);
    let forged = sign(ATTACKER, claims("root@example.com", SERVICE, 600));
    assert_eq!(who(&a, &bearer(&forged)).await, Err(401));
    let real = sign(
        GOOGLE,
        claims("svc@p.iam.gserviceaccount.com", SERVICE, 600),
    );
    assert_eq!(
        who(&a, &bearer(&real)).await,
        Ok("svc@p.iam.gserviceaccount.com".into())
    );
}

#[tokio::test]
async fn google_mode_verifies_everything() {
    let a = authenticator(IdentityMode::Google);
    let good = sign(GOOGLE, claims("bob@example.com", SERVICE, 600));
    assert_eq!(
        who(&a, &headers("authorization", &format!("bearer {good}"))).await,
        Ok("bob@example.com".into())
    );
    let stripped = strip(&good);
    assert_eq!(who(&a, &bearer(&stripped)).await, Err(401));
    let other_aud = sign(
        GOOGLE,
        claims("bob@example.com", "https://other.example", 600),
    );
    assert_eq!(who(&a, &bearer(&other_aud)).await, Err(401));
    let mut unverified = claims("bob@example.com", SERVICE, 600);
    unverified["email_verified"] = false.into();
    let unverified = sign(GOOGLE, unverified);
    assert_eq!(who(&a, &bearer(&unverified)).await, Err(401));
}

#[tokio::test]
async fn dev_mode_takes_dev_tokens_and_defaults_to_the_dev_admin() {
    let a = authenticator(IdentityMode::Dev);
    let h = headers("authorization", "Bearer dev:alice@example.com");
    assert_eq!(who(&a, &h).await, Ok("alice@example.com".into()));
    let admin = a
        .authenticate(&HeaderMap::new(), Timestamp::now())
        .await
        .expect("admin");
    assert_eq!(admin.name, DEV_ADMIN);
    assert!(admin.groups.contains(&MASTERS_GROUP.to_string()));
    assert_eq!(
        who(&a, &headers("authorization", "Bearer anything")).await,
        Ok(DEV_ADMIN.into())
    );
}
