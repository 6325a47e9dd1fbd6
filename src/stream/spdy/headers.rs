//! SPDY/3 header blocks (draft 3, 2.6.10): a count, then length-prefixed name/value pairs
//! (32-bit lengths, names lower case, several values joined by NUL), compressed with one zlib
//! stream per direction for the whole connection, primed with SPDY's dictionary and
//! sync-flushed after each block. Go's compress/zlib does the same on the other side
//! (spdystream's framer), so the dictionary must be byte for byte the draft's.
//!
//! Bounded: a block inflates to at most [`MAX_BLOCK`] bytes and [`MAX_HEADERS`] pairs.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The dictionary of the SPDY/3 draft, section 2.6.10.1 (1,423 bytes).
pub(crate) const DICTIONARY: &[u8] = include_bytes!("dictionary.bin");

/// The largest inflated header block accepted. Kubernetes sends one or two short headers.
pub(crate) const MAX_BLOCK: usize = 16 * 1024;
/// The most name/value pairs in one block.
pub(crate) const MAX_HEADERS: usize = 64;

/// Name/value pairs in the order sent; names lower case.
pub(crate) type Headers = Vec<(String, String)>;

/// The value of `name`, if present.
pub(crate) fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Why a header block was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeaderError {
    /// zlib refused the bytes (or the dictionary).
    #[error("zlib: {0}")]
    Zlib(String),
    /// Inflated past [`MAX_BLOCK`] or [`MAX_HEADERS`].
    #[error("header block exceeds {MAX_BLOCK} bytes or {MAX_HEADERS} headers")]
    TooLarge,
    /// The inflated block is not count + pairs.
    #[error("malformed header block")]
    Malformed,
}

/// One connection's two zlib streams.
pub(crate) struct HeaderCodec {
    deflate: Compress,
    inflate: Decompress,
}

impl std::fmt::Debug for HeaderCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderCodec")
    }
}

impl HeaderCodec {
    /// A fresh pair, the compressor primed with the dictionary.
    pub(crate) fn new() -> Result<Self, HeaderError> {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(DICTIONARY)
            .map_err(|e| HeaderError::Zlib(e.to_string()))?;
        Ok(HeaderCodec {
            deflate,
            inflate: Decompress::new(true),
        })
    }

    /// Serializes and compresses one block (sync flush, so the peer can inflate it alone).
    pub(crate) fn encode(&mut self, headers: &Headers) -> Result<Vec<u8>, HeaderError> {
        let mut raw = Vec::with_capacity(64);
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            raw.extend_from_slice(&(name.len() as u32).to_be_bytes());
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(&(value.len() as u32).to_be_bytes());
            raw.extend_from_slice(value.as_bytes());
        }
        if raw.len() > MAX_BLOCK {
            return Err(HeaderError::TooLarge);
        }
        let mut out = Vec::with_capacity(raw.len() + 64);
        let mut input = &raw[..];
        loop {
            out.reserve(256);
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .map_err(|e| HeaderError::Zlib(e.to_string()))?;
            input = &input[(self.deflate.total_in() - before) as usize..];
            // Done once all input is taken and zlib left spare room (the flush completed).
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Inflates and parses one block.
    pub(crate) fn decode(&mut self, block: &[u8]) -> Result<Headers, HeaderError> {
        let mut out = Vec::with_capacity(256);
        let mut input = block;
        loop {
            let progress = (self.inflate.total_in(), self.inflate.total_out());
            if out.len() >= MAX_BLOCK {
                return Err(HeaderError::TooLarge);
            }
            out.reserve(1024.min(MAX_BLOCK + 1 - out.len()));
            let before = self.inflate.total_in();
            let result = self
                .inflate
                .decompress_vec(input, &mut out, FlushDecompress::Sync);
            input = &input[(self.inflate.total_in() - before) as usize..];
            match result {
                Ok(Status::Ok | Status::BufError)
                    if input.is_empty() && out.len() < out.capacity() =>
                {
                    break;
                }
                Ok(Status::StreamEnd) => break,
                Ok(_) if progress == (self.inflate.total_in(), self.inflate.total_out()) => {
                    return Err(HeaderError::Malformed);
                }
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => self
                    .inflate
                    .set_dictionary(DICTIONARY)
                    .map(drop)
                    .map_err(|e| HeaderError::Zlib(e.to_string()))?,
                Err(e) => return Err(HeaderError::Zlib(e.to_string())),
            }
        }
        parse(&out)
    }
}

fn parse(mut raw: &[u8]) -> Result<Headers, HeaderError> {
    let count = take_u32(&mut raw)? as usize;
    if count > MAX_HEADERS {
        return Err(HeaderError::TooLarge);
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let name = take_str(&mut raw)?;
        let value = take_str(&mut raw)?;
        headers.push((name.to_ascii_lowercase(), value));
    }
    Ok(headers)
}

fn take_u32(raw: &mut &[u8]) -> Result<u32, HeaderError> {
    let (head, rest) = raw.split_at_checked(4).ok_or(HeaderError::Malformed)?;
    *raw = rest;
    Ok(u32::from_be_bytes([head[0], head[1], head[2], head[3]]))
}

fn take_str(raw: &mut &[u8]) -> Result<String, HeaderError> {
    let len = take_u32(raw)? as usize;
    let (head, rest) = raw.split_at_checked(len).ok_or(HeaderError::Malformed)?;
    *raw = rest;
    String::from_utf8(head.to_vec()).map_err(|_| HeaderError::Malformed)
}
