//! One SPDY/3.1 connection: a reader task that decodes frames and hands each stream's data to
//! its receiver, and a writer task that encodes what the streams send. Either side may open
//! streams (Kubernetes' clients open them all); a peer's SYN_STREAM is answered with
//! SYN_REPLY at once, as spdystream's server does.
//!
//! No flow control (spdystream has none; WINDOW_UPDATE is ignored): backpressure is TCP's. A
//! stream's receiver holds at most [`STREAM_QUEUE`] frames, so a slow consumer stops the
//! reader, and the peer's writes stall in the kernel, not in our memory. At most
//! [`MAX_STREAMS`] open streams per connection (a stream the peer has finished, FIN or
//! RST_STREAM, no longer counts).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::frame::{self, Frame, MAX_FRAME, RST_CANCEL, RST_REFUSED_STREAM};
use super::headers::{HeaderCodec, Headers};

/// Frames queued per stream before the reader waits.
pub(crate) const STREAM_QUEUE: usize = 16;
/// Streams one connection may open (remotecommand uses five).
pub(crate) const MAX_STREAMS: usize = 8;
/// How long an opened stream waits for the peer's SYN_REPLY (client-go waits 30 s).
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Connection::close`] waits for queued frames to be written.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which stream ids this side opens: clients odd, servers even (SPDY/3 2.3.2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    /// Opened the HTTP connection.
    Client,
    /// Accepted it.
    Server,
}

/// What failed on a connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpdyError {
    /// The connection is gone.
    #[error("SPDY connection closed")]
    Closed,
    /// The peer did not answer SYN_STREAM in time.
    #[error("SPDY peer did not accept a stream within {REPLY_TIMEOUT:?}")]
    ReplyTimeout,
    /// The peer refused a stream.
    #[error("SPDY peer reset the stream")]
    Refused,
}

type Slots = Arc<Mutex<HashMap<u32, Slot>>>;

struct Slot {
    data: Option<mpsc::Sender<Bytes>>,
    reply: Option<oneshot::Sender<bool>>,
}

/// A stream accepted from the peer.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// Its SYN_STREAM headers.
    pub(crate) headers: Headers,
    /// Where to send.
    pub(crate) tx: SendHalf,
    /// What the peer sends.
    pub(crate) rx: mpsc::Receiver<Bytes>,
}

/// A running connection. Dropping it stops both tasks.
#[derive(Debug)]
pub(crate) struct Connection {
    writer: mpsc::Sender<Frame>,
    slots: Slots,
    next_id: Mutex<u32>,
    accepted: mpsc::Receiver<Accepted>,
    tasks: [JoinHandle<()>; 2],
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.tasks.iter().for_each(JoinHandle::abort);
    }
}

/// The sending side of one stream.
#[derive(Debug, Clone)]
pub(crate) struct SendHalf {
    id: u32,
    writer: mpsc::Sender<Frame>,
}

impl SendHalf {
    /// Sends data, in frames of at most [`MAX_FRAME`] bytes.
    pub(crate) async fn send(&self, mut data: Bytes) -> Result<(), SpdyError> {
        while !data.is_empty() {
            let chunk = data.split_to(data.len().min(MAX_FRAME));
            self.frame(Frame::Data {
                stream: self.id,
                fin: false,
                data: chunk,
            })
            .await?;
        }
        Ok(())
    }

    /// Half-closes this side of the stream (an empty data frame with FIN).
    pub(crate) async fn finish(&self) -> Result<(), SpdyError> {
        self.frame(Frame::Data {
            stream: self.id,
            fin: true,
            data: Bytes::new(),
        })
        .await
    }

    async fn frame(&self, frame: Frame) -> Result<(), SpdyError> {
        self.writer.send(frame).await.map_err(|_| SpdyError::Closed)
    }
}

impl Connection {
    /// Starts the reader and writer over `io`, which has finished its HTTP upgrade.
    pub(crate) fn start<IO>(io: IO, role: Role) -> Result<Self, super::headers::HeaderError>
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        Self::start_with(io, role, MAX_STREAMS)
    }

    /// [`Connection::start`] admitting up to `max_streams` open streams (port-forward opens
    /// two per forwarded connection, and many connections share one SPDY connection).
    pub(crate) fn start_with<IO>(
        io: IO,
        role: Role,
        max_streams: usize,
    ) -> Result<Self, super::headers::HeaderError>
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (writer, frames) = mpsc::channel(64);
        let (accept_tx, accepted) = mpsc::channel(max_streams);
        let slots: Slots = Arc::default();
        let reader = Reader {
            codec: HeaderCodec::new()?,
            slots: slots.clone(),
            writer: writer.clone(),
            accept: accept_tx,
            max_streams,
        };
        let tasks = [
            tokio::spawn(reader.run(read)),
            tokio::spawn(write_loop(write, frames, HeaderCodec::new()?)),
        ];
        Ok(Connection {
            writer,
            slots,
            next_id: Mutex::new(if role == Role::Client { 1 } else { 2 }),
            accepted,
            tasks,
        })
    }

    /// Opens a stream with `headers` and waits for the peer's SYN_REPLY.
    pub(crate) async fn open(
        &self,
        headers: Headers,
    ) -> Result<(SendHalf, mpsc::Receiver<Bytes>), SpdyError> {
        let (data_tx, rx) = mpsc::channel(STREAM_QUEUE);
        let (reply_tx, reply) = oneshot::channel();
        let id = {
            let mut next = self.next_id.lock().map_err(|_| SpdyError::Closed)?;
            let id = *next;
            *next += 2;
            id
        };
        let slot = Slot {
            data: Some(data_tx),
            reply: Some(reply_tx),
        };
        self.slots
            .lock()
            .map_err(|_| SpdyError::Closed)?
            .insert(id, slot);
        let syn = Frame::SynStream {
            stream: id,
            fin: false,
            headers,
        };
        self.writer.send(syn).await.map_err(|_| SpdyError::Closed)?;
        match tokio::time::timeout(REPLY_TIMEOUT, reply).await {
            Err(_) => Err(SpdyError::ReplyTimeout),
            Ok(Err(_)) => Err(SpdyError::Closed),
            Ok(Ok(false)) => Err(SpdyError::Refused),
            Ok(Ok(true)) => Ok((
                SendHalf {
                    id,
                    writer: self.writer.clone(),
                },
                rx,
            )),
        }
    }

    /// The next stream the peer opened, `None` once the connection is gone.
    pub(crate) async fn accept(&mut self) -> Option<Accepted> {
        self.accepted.recv().await
    }

    /// Sends GOAWAY and waits (a few seconds at most) until the writer has flushed every
    /// frame queued before it and closed the write side.
    pub(crate) async fn close(&mut self) {
        let _ = self
            .writer
            .send(Frame::GoAway {
                last_stream: 0,
                status: 0,
            })
            .await;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut self.tasks[1]).await;
    }

    /// Resets a stream (e.g. one nobody expected).
    pub(crate) async fn reset(&self, stream: &SendHalf) {
        let _ = self
            .writer
            .send(Frame::RstStream {
                stream: stream.id,
                status: RST_CANCEL,
            })
            .await;
    }
}

struct Reader {
    codec: HeaderCodec,
    slots: Slots,
    writer: mpsc::Sender<Frame>,
    accept: mpsc::Sender<Accepted>,
    max_streams: usize,
}

impl Reader {
    async fn run<R: AsyncRead>(mut self, read: R) {
        tokio::pin!(read);
        let mut buf = BytesMut::with_capacity(16 * 1024);
        'read: loop {
            loop {
                match frame::decode(&mut buf, &mut self.codec) {
                    Ok(Some(f)) => {
                        if self.handle(f).await.is_err() {
                            break 'read;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "SPDY connection dropped");
                        break 'read;
                    }
                }
            }
            buf.reserve(16 * 1024);
            match read.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        // Every receiver sees its end; `open` callers see Closed.
        if let Ok(mut slots) = self.slots.lock() {
            slots.clear();
        }
    }

    async fn handle(&mut self, f: Frame) -> Result<(), SpdyError> {
        match f {
            Frame::Data { stream, fin, data } => {
                let tx = self.slot(stream, |s| if fin { s.data.take() } else { s.data.clone() });
                if let Some(tx) = tx.flatten() {
                    if !data.is_empty() {
                        let _ = tx.send(data).await;
                    }
                }
                if fin {
                    // The peer sends nothing more on it: forget the stream once it is
                    // accepted, so a long connection (port-forward) does not fill up with
                    // finished streams; sending on it needs no slot.
                    if let Ok(mut slots) = self.slots.lock() {
                        if slots.get(&stream).is_some_and(|s| s.reply.is_none()) {
                            slots.remove(&stream);
                        }
                    }
                }
            }
            Frame::SynStream {
                stream,
                fin,
                headers,
            } => self.accept_stream(stream, fin, headers).await?,
            Frame::SynReply { stream, fin, .. } => {
                if let Some(Some(reply)) = self.slot(stream, |s| {
                    if fin {
                        s.data = None;
                    }
                    s.reply.take()
                }) {
                    let _ = reply.send(true);
                }
            }
            Frame::RstStream { stream, .. } => {
                if let Some(slot) = self
                    .slots
                    .lock()
                    .map_err(|_| SpdyError::Closed)?
                    .remove(&stream)
                {
                    if let Some(reply) = slot.reply {
                        let _ = reply.send(false);
                    }
                }
            }
            Frame::Ping { id } => self.send(Frame::Ping { id }).await?,
            Frame::GoAway { .. } | Frame::Ignored => {}
        }
        Ok(())
    }

    fn slot<T>(&self, stream: u32, f: impl FnOnce(&mut Slot) -> T) -> Option<T> {
        self.slots.lock().ok()?.get_mut(&stream).map(f)
    }

    async fn accept_stream(
        &mut self,
        stream: u32,
        fin: bool,
        headers: Headers,
    ) -> Result<(), SpdyError> {
        let (data_tx, rx) = mpsc::channel(STREAM_QUEUE);
        let admitted = {
            let mut slots = self.slots.lock().map_err(|_| SpdyError::Closed)?;
            let room = slots.len() < self.max_streams && !slots.contains_key(&stream);
            if room {
                let data = (!fin).then_some(data_tx);
                slots.insert(stream, Slot { data, reply: None });
            }
            room
        };
        if !admitted {
            return self
                .send(Frame::RstStream {
                    stream,
                    status: RST_REFUSED_STREAM,
                })
                .await;
        }
        self.send(Frame::SynReply {
            stream,
            fin: false,
            headers: Vec::new(),
        })
        .await?;
        let tx = SendHalf {
            id: stream,
            writer: self.writer.clone(),
        };
        // A full accept queue means nobody is accepting: refuse rather than wait.
        if self.accept.try_send(Accepted { headers, tx, rx }).is_err() {
            self.send(Frame::RstStream {
                stream,
                status: frame::RST_PROTOCOL_ERROR,
            })
            .await?;
        }
        Ok(())
    }

    async fn send(&self, f: Frame) -> Result<(), SpdyError> {
        self.writer.send(f).await.map_err(|_| SpdyError::Closed)
    }
}

async fn write_loop<W: AsyncWrite>(
    write: W,
    mut frames: mpsc::Receiver<Frame>,
    mut codec: HeaderCodec,
) {
    tokio::pin!(write);
    let mut out = BytesMut::with_capacity(16 * 1024);
    while let Some(first) = frames.recv().await {
        let mut next = Some(first);
        let mut last = false;
        // Encode what is queued, then write it in one go.
        while let Some(f) = next.take() {
            last = matches!(f, Frame::GoAway { .. });
            if let Err(e) = f.encode(&mut out, &mut codec) {
                tracing::debug!(error = %e, "SPDY frame not sent");
            }
            if last || out.len() > MAX_FRAME {
                break;
            }
            next = frames.try_recv().ok();
        }
        if write.write_all(&out).await.is_err() || write.flush().await.is_err() {
            return;
        }
        out.clear();
        if last {
            let _ = write.shutdown().await;
            return;
        }
    }
    let _ = write.shutdown().await;
}
