//! The `user-data` metadata value as it travels: the `#cloud-config` document gzip-compressed,
//! then base64, with the metadata key `user-data-encoding: base64` beside it.
//!
//! Why: the document is ~50 KB of scripts and units. As plain text in the JSON
//! `instances.insert` body every newline and quote was escaped (a ~72 KB body), which the
//! service serialized and Compute Engine parsed on every create. Compressed and in base64 it
//! is about a third of that, in characters JSON never escapes. Nothing in the document is the
//! pod's own (its identity is in `k8sless-config`), so the encoded value is computed once per
//! process for each variant (GPU switch, kubelet source) and copied into each create's body.
//!
//! How the guest reads it back, from cloud-init's own source (canonical/cloud-init):
//! - `cloudinit/sources/DataSourceGCE.py`, `read_md`: when the instance attribute
//!   `user-data-encoding` is `base64`, `user-data` is base64-decoded (there since 0.7.7); any
//!   other value is logged as unknown and the text used as it is. The datasource's page,
//!   `doc/rtd/reference/datasources/gce.rst`, documents both keys.
//! - `cloudinit/user_data.py`, `convert_string`: the user-data goes through `util.decomp_gzip`
//!   (decompressed when it is gzip, kept as it is otherwise; gzip user-data is handled since
//!   0.7), then is recognised as `#cloud-config` by its first line as before.
//!
//! [`decode`] follows those two steps, so tests, the simulator's readers and
//! `k8sless render --user-data` see what cloud-init runs.

use std::io::{Read as _, Write as _};
use std::sync::RwLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{GuestConfig, GuestError, KubeletSource};

/// Metadata key naming the `user-data` value's encoding (read by cloud-init's GCE datasource).
pub(crate) const USER_DATA_ENCODING_KEY: &str = "user-data-encoding";

/// The one encoding cloud-init's GCE datasource knows.
pub(crate) const USER_DATA_ENCODING: &str = "base64";

/// Largest document [`decode`] expands to (the rendered one is ~50 KB): a bound on what a
/// hostile or corrupt value can make the decoder allocate.
const MAX_DECODED_BYTES: usize = 4 * 1024 * 1024;

/// Variants kept: one per (GPU switch, kubelet source) the process renders, which is two in
/// practice (the kubelet source is the deployment's). Past this, values are encoded per call.
const MAX_VARIANTS: usize = 8;

/// gzip's magic number, the test `util.decomp_gzip` amounts to (Python's `GzipFile` refuses
/// anything else, and cloud-init then keeps the data as it is).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

type Variants = Vec<(bool, KubeletSource, String)>;

static CACHE: RwLock<Variants> = RwLock::new(Vec::new());

/// `doc` gzip-compressed (best compression: it is done once per variant) and base64-encoded.
/// The gzip header has no name and a zero mtime, so the value is a function of `doc` alone.
pub(crate) fn encode(doc: &str) -> String {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(doc.len() / 3),
        flate2::Compression::best(),
    );
    // Writing into a Vec cannot fail.
    let _ = gz.write_all(doc.as_bytes());
    let bytes = gz.finish().unwrap_or_default();
    STANDARD.encode(bytes)
}

/// The encoded `user-data` value for `cfg`: computed on the first call for its variant, then
/// copied from the cache.
pub(super) fn encoded_user_data(cfg: &GuestConfig) -> String {
    let find = |list: &Variants| {
        list.iter()
            .find(|(gpu, kubelet, _)| *gpu == cfg.install_gpu_driver && *kubelet == cfg.kubelet)
            .map(|(_, _, value)| value.clone())
    };
    // A poisoned lock (a panic while it was held) only costs the cache.
    if let Some(hit) = CACHE.read().ok().and_then(|list| find(&list)) {
        return hit;
    }
    let value = encode(&super::user_data(cfg));
    if let Ok(mut list) = CACHE.write()
        && find(&list).is_none()
        && list.len() < MAX_VARIANTS
    {
        list.push((cfg.install_gpu_driver, cfg.kubelet.clone(), value.clone()));
    }
    value
}

/// The document cloud-init runs for a `user-data` value and its `user-data-encoding`: base64
/// decoded when the encoding is `base64` (another encoding is ignored, as cloud-init ignores
/// it), then gunzipped when it starts with gzip's magic number.
///
/// # Errors
///
/// [`GuestError::UserDataUndecodable`] when the base64 or the gzip stream is broken, the
/// result is over 4 MiB, or it is not UTF-8.
pub(crate) fn decode(value: &str, encoding: Option<&str>) -> Result<String, GuestError> {
    let undecodable = |reason: String| GuestError::UserDataUndecodable { reason };
    let bytes = if encoding == Some(USER_DATA_ENCODING) {
        STANDARD
            .decode(value)
            .map_err(|e| undecodable(format!("base64: {e}")))?
    } else {
        value.as_bytes().to_vec()
    };
    let bytes = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        let limit = u64::try_from(MAX_DECODED_BYTES).unwrap_or(u64::MAX) + 1;
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| undecodable(format!("gzip: {e}")))?;
        out
    } else {
        bytes
    };
    if bytes.len() > MAX_DECODED_BYTES {
        return Err(undecodable(format!(
            "over {MAX_DECODED_BYTES} bytes decoded"
        )));
    }
    String::from_utf8(bytes).map_err(|_| undecodable("not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_undoes_encode_and_follows_cloud_init() {
        let doc = "#cloud-config\nruncmd:\n  - [echo, \"é\"]\n";
        let value = encode(doc);
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
            "base64 needs no JSON escaping: {value}"
        );
        assert_eq!(decode(&value, Some("base64")).unwrap(), doc);
        // Plain text stays as it is, with or without an encoding cloud-init does not know.
        assert_eq!(decode(doc, None).unwrap(), doc);
        assert_eq!(decode(doc, Some("gzip")).unwrap(), doc);
        let gzip = STANDARD.decode(&value).unwrap();
        assert_eq!(gzip[..2], GZIP_MAGIC, "compressed before the base64");
        assert_eq!(encode(doc), value, "the same document encodes the same");
    }

    #[test]
    fn decode_refuses_what_cloud_init_could_not_read() {
        for (value, why) in [
            ("not base64!", "base64"),
            (&STANDARD.encode([0x1f, 0x8b, 0, 1, 2]), "gzip"),
            (&STANDARD.encode([0xff, 0xfe]), "UTF-8"),
        ] {
            let err = decode(value, Some("base64")).unwrap_err();
            assert!(err.to_string().contains(why), "{value}: {err}");
        }
        // A small value that expands past the bound is cut, not allocated in full.
        let bomb = encode(&"a".repeat(MAX_DECODED_BYTES + 1));
        assert!(bomb.len() < 16 * 1024);
        let err = decode(&bomb, Some("base64")).unwrap_err();
        assert!(err.to_string().contains("over"), "{err}");
    }

    #[test]
    fn each_variant_is_encoded_once_and_never_per_pod() {
        let mut a = super::super::tests::config();
        let mut b = a.clone();
        b.namespace = "other".into();
        b.name = "another".into();
        b.uid = "6f1c0e8e-0000-4000-8000-000000000000".into();
        b.project = "elsewhere".into();
        assert_eq!(encoded_user_data(&a), encoded_user_data(&b));
        assert_eq!(
            decode(&encoded_user_data(&a), Some("base64")).unwrap(),
            super::super::render::user_data(&a)
        );
        a.install_gpu_driver = true;
        assert_ne!(encoded_user_data(&a), encoded_user_data(&b));
        b.install_gpu_driver = true;
        b.kubelet.sha256 = "0".repeat(64);
        let gpu_other_kubelet = decode(&encoded_user_data(&b), Some("base64")).unwrap();
        assert!(gpu_other_kubelet.contains(&"0".repeat(64)));
        assert_eq!(
            gpu_other_kubelet,
            super::super::render::user_data(&b),
            "a cached variant is the variant's document"
        );
    }
}
