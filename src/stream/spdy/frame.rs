//! SPDY/3.1 frames as Kubernetes' streams use them (the layout of the SPDY/3 draft, section
//! 2.2 and 2.6; moby/spdystream is the peer every Kubernetes component runs): data frames and
//! the control frames SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS and
//! WINDOW_UPDATE. Pure bytes in, bytes out: [`decode`] takes one frame off the front of a
//! buffer, [`Frame::encode`] appends one; header blocks go through [`super::headers`].
//!
//! Bounded: a frame longer than [`MAX_FRAME`] is refused before its payload is buffered.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::headers::{HeaderCodec, Headers};

/// The largest frame payload accepted or sent. spdystream writes one data frame per `Write`
/// (Go's `io.Copy` writes 32 KiB), so 1 MiB leaves room without letting a peer make us buffer
/// the protocol's 16 MiB maximum.
pub(crate) const MAX_FRAME: usize = 1 << 20;

const VERSION: u16 = 3;
pub(crate) const FLAG_FIN: u8 = 0x01;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status codes used here (SPDY/3 2.6.3).
pub(crate) const RST_PROTOCOL_ERROR: u32 = 1;
pub(crate) const RST_REFUSED_STREAM: u32 = 3;
pub(crate) const RST_CANCEL: u32 = 5;

/// One frame, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Frame {
    /// Stream data; `fin` half-closes the sender's side.
    Data { stream: u32, fin: bool, data: Bytes },
    /// Opens a stream.
    SynStream {
        stream: u32,
        fin: bool,
        headers: Headers,
    },
    /// Accepts a stream.
    SynReply {
        stream: u32,
        fin: bool,
        headers: Headers,
    },
    /// Aborts a stream.
    RstStream { stream: u32, status: u32 },
    /// Liveness; answered with the same id.
    Ping { id: u32 },
    /// The sender opens no more streams.
    GoAway { last_stream: u32, status: u32 },
    /// Frames k8sless reads and ignores, as spdystream does: SETTINGS, HEADERS and
    /// WINDOW_UPDATE (spdystream implements no flow control, so neither side may depend on it).
    Ignored,
}

/// Why a buffer is not a frame.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The length field exceeds [`MAX_FRAME`].
    #[error("SPDY frame of {len} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge { len: usize },
    /// A control frame of a version other than 3.
    #[error("SPDY control frame of version {version}, not 3")]
    Version { version: u16 },
    /// A control frame of an unknown type or with a short payload.
    #[error("malformed SPDY {what} frame")]
    Malformed { what: &'static str },
    /// The header block did not decompress or parse.
    #[error("SPDY header block")]
    Headers(#[source] super::headers::HeaderError),
}

/// Takes one whole frame off the front of `buf`, or returns `None` until it is all there.
pub(crate) fn decode(
    buf: &mut BytesMut,
    codec: &mut HeaderCodec,
) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge { len });
    }
    if buf.len() < 8 + len {
        return Ok(None);
    }
    let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let flags = buf[4];
    buf.advance(8);
    let mut payload = buf.split_to(len).freeze();
    if first & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream: first & 0x7fff_ffff,
            fin: flags & FLAG_FIN != 0,
            data: payload,
        }));
    }
    let version = ((first >> 16) & 0x7fff) as u16;
    if version != VERSION {
        return Err(FrameError::Version { version });
    }
    control((first & 0xffff) as u16, flags, &mut payload, codec).map(Some)
}

fn control(
    kind: u16,
    flags: u8,
    p: &mut Bytes,
    codec: &mut HeaderCodec,
) -> Result<Frame, FrameError> {
    let fin = flags & FLAG_FIN != 0;
    let need = |p: &Bytes, n: usize, what| {
        if p.len() < n {
            Err(FrameError::Malformed { what })
        } else {
            Ok(())
        }
    };
    Ok(match kind {
        SYN_STREAM => {
            need(p, 10, "SYN_STREAM")?;
            let stream = p.get_u32() & 0x7fff_ffff;
            p.advance(6); // associated stream, priority, slot: unused by Kubernetes
            let headers = codec.decode(p).map_err(FrameError::Headers)?;
            Frame::SynStream {
                stream,
                fin,
                headers,
            }
        }
        SYN_REPLY => {
            need(p, 4, "SYN_REPLY")?;
            let stream = p.get_u32() & 0x7fff_ffff;
            let headers = codec.decode(p).map_err(FrameError::Headers)?;
            Frame::SynReply {
                stream,
                fin,
                headers,
            }
        }
        RST_STREAM => {
            need(p, 8, "RST_STREAM")?;
            Frame::RstStream {
                stream: p.get_u32() & 0x7fff_ffff,
                status: p.get_u32(),
            }
        }
        PING => {
            need(p, 4, "PING")?;
            Frame::Ping { id: p.get_u32() }
        }
        GOAWAY => {
            need(p, 4, "GOAWAY")?;
            let last_stream = p.get_u32() & 0x7fff_ffff;
            let status = if p.len() >= 4 { p.get_u32() } else { 0 };
            Frame::GoAway {
                last_stream,
                status,
            }
        }
        HEADERS => {
            // Decompressed anyway: the zlib stream is shared by every header block.
            need(p, 4, "HEADERS")?;
            p.advance(4);
            codec.decode(p).map_err(FrameError::Headers)?;
            Frame::Ignored
        }
        SETTINGS | WINDOW_UPDATE => Frame::Ignored,
        _ => {
            return Err(FrameError::Malformed {
                what: "unknown control",
            });
        }
    })
}

impl Frame {
    /// Appends the frame's bytes to `out`.
    pub(crate) fn encode(
        &self,
        out: &mut BytesMut,
        codec: &mut HeaderCodec,
    ) -> Result<(), FrameError> {
        match self {
            Frame::Data { stream, fin, data } => {
                if data.len() > MAX_FRAME {
                    return Err(FrameError::TooLarge { len: data.len() });
                }
                out.put_u32(stream & 0x7fff_ffff);
                out.put_u32(flags_len(*fin, data.len()));
                out.put_slice(data);
            }
            Frame::SynStream {
                stream,
                fin,
                headers,
            }
            | Frame::SynReply {
                stream,
                fin,
                headers,
            } => {
                // SYN_STREAM carries 6 more bytes after the stream id: the associated-to
                // stream (none) and priority 0, slot 0.
                let syn_stream = matches!(self, Frame::SynStream { .. });
                let (kind, fixed) = if syn_stream {
                    (SYN_STREAM, 10)
                } else {
                    (SYN_REPLY, 4)
                };
                let block = codec.encode(headers).map_err(FrameError::Headers)?;
                control_header(out, kind, *fin, fixed + block.len());
                out.put_u32(*stream);
                if syn_stream {
                    out.put_u32(0);
                    out.put_u16(0);
                }
                out.put_slice(&block);
            }
            Frame::RstStream { stream, status } => {
                control_header(out, RST_STREAM, false, 8);
                out.put_u32(*stream);
                out.put_u32(*status);
            }
            Frame::Ping { id } => {
                control_header(out, PING, false, 4);
                out.put_u32(*id);
            }
            Frame::GoAway {
                last_stream,
                status,
            } => {
                control_header(out, GOAWAY, false, 8);
                out.put_u32(*last_stream);
                out.put_u32(*status);
            }
            Frame::Ignored => {}
        }
        Ok(())
    }
}

fn flags_len(fin: bool, len: usize) -> u32 {
    (u32::from(if fin { FLAG_FIN } else { 0 }) << 24) | (len as u32 & 0x00ff_ffff)
}

fn control_header(out: &mut BytesMut, kind: u16, fin: bool, len: usize) {
    out.put_u16(0x8000 | VERSION);
    out.put_u16(kind);
    out.put_u32(flags_len(fin, len));
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
