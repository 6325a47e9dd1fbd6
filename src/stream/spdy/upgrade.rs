//! The HTTP/1.1 upgrade to SPDY/3.1 from the client's side (client-go's `SpdyRoundTripper`):
//! `Connection: Upgrade`, `Upgrade: SPDY/3.1`, `X-Stream-Protocol-Version: v4.channel.k8s.io`;
//! kubelet answers 101 naming the version, or an error status with a short body.
//! [`send`] is the same exchange for any request head: port-forward's, whose SPDY or WebSocket
//! upgrade the service forwards from the client (`crate::stream::portforward`).
//!
//! Bounded: the response head is at most [`MAX_HEAD`] bytes, an error body [`MAX_BODY`].

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::stream::V4;

/// The longest response head read.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// The most of an error body kept.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Why the upgrade did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpgradeError {
    /// Reading or writing the connection failed.
    #[error("kubelet connection")]
    Io(#[source] std::io::Error),
    /// The answer was not HTTP.
    #[error("kubelet's answer to the upgrade is not an HTTP response")]
    NotHttp,
    /// kubelet answered with an error: its status and body.
    #[error("kubelet answered {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The body, as text.
        body: String,
    },
    /// 101, but without the protocol version asked for.
    #[error("kubelet did not agree to {V4} (it answered {0:?})")]
    Version(String),
}

/// Sends the upgrade request for `path_and_query` and reads the answer; on 101 returns the
/// connection, with any bytes read past the head still to be read.
pub(crate) async fn upgrade<IO>(
    io: IO,
    host: &str,
    path_and_query: &str,
) -> Result<Prefixed<IO>, UpgradeError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let head = format!(
        "POST {path_and_query} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: k8sless\r\nContent-Length: 0\r\n\
         Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {V4}\r\n\r\n"
    );
    let (answer, io) = send(io, &head).await?;
    let version = answer
        .header("x-stream-protocol-version")
        .unwrap_or_default();
    if version != V4 {
        return Err(UpgradeError::Version(version.to_string()));
    }
    Ok(io)
}

/// The head of a 101: its headers, names as sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Switched {
    /// Every header of the answer, in order.
    pub(crate) headers: Vec<(String, String)>,
}

impl Switched {
    /// The first value of `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        super::headers::header(&self.headers, name)
    }
}

/// Writes `head` (a whole HTTP/1.1 request head asking for an upgrade) and reads the answer:
/// on 101 its headers and the connection, with any bytes read past the head still to be read;
/// any other status is [`UpgradeError::Refused`] with the start of its body.
pub(crate) async fn send<IO>(
    mut io: IO,
    head: &str,
) -> Result<(Switched, Prefixed<IO>), UpgradeError>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(head.as_bytes())
        .await
        .map_err(UpgradeError::Io)?;
    io.flush().await.map_err(UpgradeError::Io)?;
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if buf.len() > MAX_HEAD {
            return Err(UpgradeError::NotHttp);
        }
        if io.read_buf(&mut buf).await.map_err(UpgradeError::Io)? == 0 {
            return Err(UpgradeError::NotHttp);
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let head = match response.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => continue,
            Err(_) => return Err(UpgradeError::NotHttp),
        };
        let status = response.code.unwrap_or(0);
        let switched = Switched {
            headers: response
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).to_string(),
                    )
                })
                .collect(),
        };
        buf.advance(head);
        if status != 101 {
            let length = switched
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok());
            let body = read_body(&mut io, buf, length).await;
            return Err(UpgradeError::Refused { status, body });
        }
        return Ok((switched, Prefixed { prefix: buf, io }));
    }
}

async fn read_body<IO: AsyncRead + Unpin>(
    io: &mut IO,
    mut buf: BytesMut,
    length: Option<usize>,
) -> String {
    let want = length.unwrap_or(MAX_BODY).min(MAX_BODY);
    let read = async {
        while buf.len() < want {
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
    buf.truncate(want);
    String::from_utf8_lossy(&buf).trim().to_string()
}

/// A connection with bytes already read from it in front.
#[derive(Debug)]
pub(crate) struct Prefixed<IO> {
    prefix: BytesMut,
    io: IO,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Prefixed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(out.remaining());
            out.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, out)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Prefixed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
