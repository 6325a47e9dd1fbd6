//! Encodings the simulator shares: URL-safe base64, page tokens, content fingerprints.

/// A content fingerprint, base64 like Compute Engine's.
pub(crate) fn fingerprint<T: serde::Serialize>(value: &T) -> String {
    use sha2::Digest;
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let digest = sha2::Sha256::digest(&bytes);
    base64_encode(&digest[..8])
}

/// The page token that resumes a listing after `name`.
pub(crate) fn encode_token(name: &str) -> String {
    base64_encode(name.as_bytes())
}

/// Inverse of [`encode_token`].
pub(crate) fn decode_token(token: &str) -> Option<String> {
    String::from_utf8(base64_decode(token)?).ok()
}

/// URL-safe base64 without padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Inverse of [`base64_encode`].
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "k8s-default-hello-abc123"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).as_deref(),
                Some(s.as_bytes())
            );
        }
    }

    #[test]
    fn page_tokens_round_trip() {
        assert_eq!(decode_token(&encode_token("vm-1")).as_deref(), Some("vm-1"));
        assert_eq!(decode_token("!!"), None);
    }
}
