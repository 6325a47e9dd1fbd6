//! Encodings the simulator shares: URL-safe base64, page tokens, content fingerprints.

/// A content fingerprint, base64 like Compute Engine's.
pub(crate) fn fingerprint<T: serde::Serialize>(value: &T) -> String {
    use sha2::Digest;
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let digest = sha2::Sha256::digest(&bytes);
    base64_encode(&digest[..8])
}

/// The fingerprint of metadata items: each key and value hashed as it is, length first.
/// Through [`fingerprint`] most of an insert's time in the simulator was JSON-escaping the
/// ~50 KB user-data to hash it.
pub(crate) fn items_fingerprint(items: &[crate::gce::types::MetadataItem]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for item in items {
        hash.update((item.key.len() as u64).to_le_bytes());
        hash.update(item.key.as_bytes());
        match &item.value {
            Some(v) => {
                hash.update([1]);
                hash.update((v.len() as u64).to_le_bytes());
                hash.update(v.as_bytes());
            }
            None => hash.update([0]),
        }
    }
    base64_encode(&hash.finalize()[..8])
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
