//! A record's index packed for Cloud Storage object metadata (`k8sless-ix1`): raw deflate
//! against a preset dictionary, then base64.
//!
//! A listing carries every object's metadata, so on fake-gcs-server (which ignores `fields`)
//! the index was ~60% of a listing's bytes: ~1,370 bytes a record as a JSON string, every `"`
//! escaped, and encoding it was most of the emulator's CPU on a warm `kubectl get pods -A`
//! (docs/benchmarks.md, "A packed index"). Indexes are small and alike (the same keys, most
//! values from a few), so deflate primed with a typical index ([`DICTIONARY`]) packs one into a
//! few hundred bytes, and base64 has nothing a JSON encoder escapes, so the listing's parser
//! scans it without an unescape.
//!
//! # Guarantees
//! - [`unpack`] is bounded whatever the metadata holds (anyone with write access to the bucket
//!   can set it): at most [`PACKED_MAX`] bytes read, at most [`UNPACKED_MAX`] bytes inflated,
//!   UTF-8 checked; anything else is an error, never a panic.
//! - The dictionary is part of the format: changing it needs a new metadata key (`k8sless-ix2`),
//!   or records packed with this one would no longer read. The bench's seeding
//!   (`scripts/bench`) packs with the same file.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Cloud Storage's custom metadata limit per object (8 KiB): no index this service wrote
/// is longer, packed or not.
pub(crate) const PACKED_MAX: usize = 8 * 1024;
/// The largest index text unpacked (the writer keeps indexes of at most 7 KiB,
/// `pods::index::INDEX_MAX`).
pub(crate) const UNPACKED_MAX: usize = 8 * 1024;

/// A typical index (`pods::index::of` of a pod as kubectl sends it, run and finished, and one
/// pending), the strings most likely last: deflate refers back into it.
pub(crate) const DICTIONARY: &[u8] = include_bytes!("index-dictionary.json");

/// Why a packed index could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Unpack {
    #[error("packed index of {0} bytes is over the {PACKED_MAX}-byte limit")]
    TooLong(usize),
    #[error("packed index is not base64")]
    Base64(#[source] base64::DecodeError),
    #[error("packed index does not inflate")]
    Inflate(#[source] flate2::DecompressError),
    #[error("packed index inflates past {UNPACKED_MAX} bytes or is truncated")]
    Unfinished,
    #[error("packed index is not UTF-8")]
    Utf8(#[source] std::string::FromUtf8Error),
}

/// `text` packed, or `None` when packing fails or the result would exceed [`PACKED_MAX`]
/// (the record is then written without an index and read from its body).
pub(crate) fn pack(text: &str) -> Option<String> {
    // Deflate grows incompressible input by a few bytes per 16 KiB block at most.
    let mut raw = Vec::with_capacity(text.len() + 64);
    let done = DEFLATE.with_borrow_mut(|deflate| {
        deflate.reset();
        deflate.set_dictionary(DICTIONARY).is_ok()
            && matches!(
                deflate.compress_vec(text.as_bytes(), &mut raw, FlushCompress::Finish),
                Ok(Status::StreamEnd)
            )
    });
    if !done {
        return None;
    }
    let packed = STANDARD_NO_PAD.encode(raw);
    (packed.len() <= PACKED_MAX).then_some(packed)
}

/// The index text `packed` holds.
pub(crate) fn unpack(packed: &[u8]) -> Result<String, Unpack> {
    if packed.len() > PACKED_MAX {
        return Err(Unpack::TooLong(packed.len()));
    }
    let raw = STANDARD_NO_PAD.decode(packed).map_err(Unpack::Base64)?;
    // `decompress_vec` writes into the spare capacity only: the bound on what is inflated.
    // One byte of room past the bound tells a text at the bound from a longer one.
    let mut text = Vec::with_capacity(UNPACKED_MAX + 1);
    INFLATE.with_borrow_mut(|inflate| {
        inflate.reset(false);
        inflate
            .set_dictionary(DICTIONARY)
            .map_err(Unpack::Inflate)?;
        match inflate.decompress_vec(&raw, &mut text, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) if text.len() <= UNPACKED_MAX => Ok(()),
            Ok(_) => Err(Unpack::Unfinished),
            Err(e) => Err(Unpack::Inflate(e)),
        }
    })?;
    String::from_utf8(text).map_err(Unpack::Utf8)
}

thread_local! {
    // One deflate and one inflate state per thread, reset for each index: a state and its
    // window are tens of KiB (deflate's at the best level more), and a cold walk inflates
    // 10,000 indexes: allocating them fresh each time was that much memory to fault in and free.
    static DEFLATE: std::cell::RefCell<Compress> =
        std::cell::RefCell::new(Compress::new(Compression::best(), false));
    static INFLATE: std::cell::RefCell<Decompress> =
        std::cell::RefCell::new(Decompress::new(false));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflated(bytes: &[u8]) -> String {
        let mut deflate = Compress::new(Compression::best(), false);
        let mut raw = Vec::with_capacity(bytes.len() + 1024);
        deflate
            .compress_vec(bytes, &mut raw, FlushCompress::Finish)
            .expect("deflate");
        STANDARD_NO_PAD.encode(raw)
    }

    #[test]
    fn an_index_packs_small_and_reads_back() {
        let text = std::str::from_utf8(DICTIONARY)
            .expect("utf-8")
            .replace("nginx", "a \"é\"");
        let packed = pack(&text).expect("packed");
        assert!(
            packed.len() * 4 < text.len(),
            "{} of {}",
            packed.len(),
            text.len()
        );
        assert!(
            packed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/".contains(&b))
        );
        assert_eq!(unpack(packed.as_bytes()).expect("unpack"), text);
        assert_eq!(
            unpack(pack("").expect("empty").as_bytes()).expect("unpack"),
            ""
        );
    }

    #[test]
    fn hostile_packed_indexes_are_errors() {
        // Not base64, over the input bound, truncated, packed without the dictionary (its
        // back-references point before the start), a deflate bomb, not UTF-8.
        let good = pack(r#"{"pod":{"metadata":{"name":"p"}}}"#).expect("packed");
        let bomb = deflated(&vec![b'a'; UNPACKED_MAX + 1]);
        assert!(
            bomb.len() < PACKED_MAX,
            "the bomb itself fits: {}",
            bomb.len()
        );
        let not_utf8 = deflated(&[0xff, 0xfe]);
        type Expect = fn(&Unpack) -> bool;
        let cases: [(&[u8], Expect); 6] = [
            (b"{not base64}", |e| matches!(e, Unpack::Base64(_))),
            (&[b'A'; PACKED_MAX + 1], |e| matches!(e, Unpack::TooLong(_))),
            (&good.as_bytes()[..good.len() / 2], |e| {
                matches!(
                    e,
                    Unpack::Unfinished | Unpack::Inflate(_) | Unpack::Base64(_)
                )
            }),
            (b"////////", |e| {
                matches!(e, Unpack::Inflate(_) | Unpack::Unfinished)
            }),
            (bomb.as_bytes(), |e| matches!(e, Unpack::Unfinished)),
            (not_utf8.as_bytes(), |e| matches!(e, Unpack::Utf8(_))),
        ];
        let good = pack(r#"{"pod":{"metadata":{"name":"after"}}}"#).expect("packs");
        for (input, want) in cases {
            let got = unpack(input).expect_err("rejected");
            assert!(want(&got), "{:?}: {got:?}", String::from_utf8_lossy(input));
            // The thread's inflate state is reset for each index: a rejected one leaves
            // nothing behind for the next.
            assert_eq!(
                unpack(good.as_bytes()).expect("reads after a rejection"),
                r#"{"pod":{"metadata":{"name":"after"}}}"#
            );
        }
        // An index exactly at the bound still reads.
        let at_bound = deflated(&vec![b'a'; UNPACKED_MAX]);
        assert_eq!(
            unpack(at_bound.as_bytes()).expect("at the bound").len(),
            UNPACKED_MAX
        );
    }
}
