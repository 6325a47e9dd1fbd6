//! What the token tests share: the test keys of tests/keys (Google's stand-in and an
//! attacker's, with the JWKS that publishes Google's), the audience they are minted for, and
//! signing claims as Google would (RS256, the JWKS's key id).

use jsonwebtoken::{Algorithm, EncodingKey, Header};

pub(crate) const GOOGLE: &[u8] = include_bytes!("../../tests/keys/google-test.pem");
pub(crate) const ATTACKER: &[u8] = include_bytes!("../../tests/keys/attacker.pem");
pub(crate) const JWKS: &[u8] = include_bytes!("../../tests/keys/jwks.json");
pub(crate) const SERVICE: &str = "https://k8sless.example";

/// `claims` signed with the key in `pem`, under the key id the test JWKS names.
pub(crate) fn sign(pem: &[u8], claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k8sless-test-1".into());
    let key = EncodingKey::from_rsa_pem(pem).expect("pem");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}
