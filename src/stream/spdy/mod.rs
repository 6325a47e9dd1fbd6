//! remotecommand over SPDY/3.1 (`X-Stream-Protocol-Version: v4.channel.k8s.io`), as kubelet
//! serves it and client-go speaks it: the client opens one stream per channel, named by its
//! `streamtype` header (`error`, `stdin`, `stdout`, `stderr`, `resize`); stdin ends with FIN;
//! the server writes one JSON `Status` on `error` when the process has ended and closes.
//!
//! [`serve`] is the server (the kubelet stand-in; the service for kubectl 1.29 and 1.30, which
//! speak only SPDY); [`dial`] is the client (the service towards kubelet).

pub(crate) mod conn;
pub(crate) mod frame;
pub(crate) mod headers;
pub(crate) mod upgrade;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use super::{Ends, Input, MAX_STATUS, Output, ProcessEnds, StreamOptions, TerminalSize};
use conn::{Connection, SendHalf};
use headers::header;

/// How long the server waits for the client to open every stream it asked for (kubelet's
/// `--streaming-connection...` creation timeout is 30 s as well).
pub(crate) const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The `streamtype` header names.
const TYPES: [&str; 5] = ["error", "stdin", "stdout", "stderr", "resize"];

/// Why a SPDY session did not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The connection failed.
    #[error("SPDY")]
    Spdy(#[source] conn::SpdyError),
    /// The header codec could not start.
    #[error("SPDY header codec")]
    Codec(#[source] headers::HeaderError),
    /// The client did not open the streams it asked for in time.
    #[error("the client did not open its streams within {STREAM_CREATION_TIMEOUT:?}")]
    StreamsMissing,
}

/// The streams of one session, by type.
#[derive(Debug, Default)]
struct Streams {
    tx: [Option<SendHalf>; 5],
    rx: [Option<mpsc::Receiver<Bytes>>; 5],
}

fn index(kind: &str) -> Option<usize> {
    TYPES.iter().position(|t| *t == kind)
}

fn wanted(opts: StreamOptions) -> [bool; 5] {
    [true, opts.stdin, opts.stdout, opts.stderr, opts.tty]
}

/// Serves one session on an upgraded connection: waits for the client's streams, then copies
/// them to and from `ends` until the [`Output::Status`], which it writes last before closing.
pub(crate) async fn serve<IO>(io: IO, opts: StreamOptions, ends: Ends) -> Result<(), SessionError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let opts = opts.normalized();
    let mut conn = Connection::start(io, conn::Role::Server).map_err(SessionError::Codec)?;
    let mut streams = Streams::default();
    let want = wanted(opts);
    let accept_all = async {
        while (0..5).any(|i| want[i] && streams.tx[i].is_none()) {
            let a = conn
                .accept()
                .await
                .ok_or(SessionError::Spdy(conn::SpdyError::Closed))?;
            match header(&a.headers, "streamtype").and_then(index) {
                Some(i) if want[i] && streams.tx[i].is_none() => {
                    streams.tx[i] = Some(a.tx);
                    streams.rx[i] = Some(a.rx);
                }
                _ => conn.reset(&a.tx).await,
            }
        }
        Ok::<(), SessionError>(())
    };
    tokio::time::timeout(STREAM_CREATION_TIMEOUT, accept_all)
        .await
        .map_err(|_| SessionError::StreamsMissing)??;
    let Ends { input, mut output } = ends;
    let pumps = [
        streams.rx[1]
            .take()
            .map(|rx| tokio::spawn(stdin_pump(rx, input.clone()))),
        streams.rx[4]
            .take()
            .map(|rx| tokio::spawn(resize_pump(rx, input))),
    ];
    // Nothing from the process for the idle timeout ends the session (WebSocket's bound; a
    // terminal echoes what is typed, so an interactive shell in use is never idle).
    while let Ok(Some(out)) = tokio::time::timeout(super::ws::IDLE_TIMEOUT, output.recv()).await {
        let (i, data) = match out {
            Output::Stdout(d) => (2, d),
            Output::Stderr(d) => (3, d),
            Output::Status(d) => (0, d),
        };
        if let Some(tx) = &streams.tx[i] {
            tx.send(data).await.map_err(SessionError::Spdy)?;
        }
        if i == 0 {
            break;
        }
    }
    for tx in streams.tx.iter().flatten() {
        let _ = tx.finish().await;
    }
    pumps
        .iter()
        .flatten()
        .for_each(tokio::task::JoinHandle::abort);
    conn.close().await;
    Ok(())
}

/// Stdin's data as [`Input::Stdin`], its FIN as [`Input::StdinEnd`].
async fn stdin_pump(mut rx: mpsc::Receiver<Bytes>, input: mpsc::Sender<Input>) {
    while let Some(data) = rx.recv().await {
        if input.send(Input::Stdin(data)).await.is_err() {
            return;
        }
    }
    let _ = input.send(Input::StdinEnd).await;
}

/// client-go writes one JSON object per resize (`json.Encoder`), each in its own frame; a
/// frame that is not one is skipped.
async fn resize_pump(mut rx: mpsc::Receiver<Bytes>, input: mpsc::Sender<Input>) {
    while let Some(data) = rx.recv().await {
        let sizes = serde_json::Deserializer::from_slice(&data).into_iter::<TerminalSize>();
        for size in sizes.map_while(Result::ok) {
            if input.send(Input::Resize(size)).await.is_err() {
                return;
            }
        }
    }
}

/// Runs one session as the client on an upgraded connection (the service towards kubelet):
/// opens the streams `opts` asks for, copies `ends` into them, and hands back kubelet's
/// output, its `Status` last (a Success when kubelet closed the error stream empty).
pub(crate) async fn dial<IO>(
    io: IO,
    opts: StreamOptions,
    ends: ProcessEnds,
) -> Result<(), SessionError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let opts = opts.normalized();
    let conn = Connection::start(io, conn::Role::Client).map_err(SessionError::Codec)?;
    let mut streams = Streams::default();
    for (i, want) in wanted(opts).into_iter().enumerate() {
        if want {
            let headers = vec![("streamtype".to_string(), TYPES[i].to_string())];
            let (tx, rx) = conn.open(headers).await.map_err(SessionError::Spdy)?;
            streams.tx[i] = Some(tx);
            streams.rx[i] = Some(rx);
        }
    }
    let ProcessEnds { input, output } = ends;
    let feeder = tokio::spawn(feed(input, streams.tx[1].take(), streams.tx[4].take()));
    let copies: Vec<_> = [(2, true), (3, false)]
        .into_iter()
        .filter_map(|(i, out)| {
            streams.rx[i]
                .take()
                .map(|rx| tokio::spawn(copy_out(rx, output.clone(), out)))
        })
        .collect();
    let status = match streams.rx[0].take() {
        Some(rx) => tokio::select! {
            status = collect(rx) => status,
            // The client went away: drop the connection, kubelet sees it close.
            () = output.closed() => {
                feeder.abort();
                return Ok(());
            }
        },
        None => BytesMut::new(),
    };
    for copy in copies {
        let _ = copy.await;
    }
    feeder.abort();
    let status = if status.is_empty() {
        super::status::success()
    } else {
        status.freeze()
    };
    let _ = output.send(Output::Status(status)).await;
    Ok(())
}

async fn feed(mut input: mpsc::Receiver<Input>, stdin: Option<SendHalf>, resize: Option<SendHalf>) {
    while let Some(i) = input.recv().await {
        let sent = match (i, &stdin, &resize) {
            (Input::Stdin(data), Some(tx), _) => tx.send(data).await,
            (Input::StdinEnd, Some(tx), _) => tx.finish().await,
            (Input::Resize(size), _, Some(tx)) => match serde_json::to_vec(&size) {
                Ok(mut json) => {
                    json.push(b'\n');
                    tx.send(Bytes::from(json)).await
                }
                Err(_) => Ok(()),
            },
            _ => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
    // The client went away without ending stdin (WebSocket v4 cannot): end it now.
    if let Some(tx) = &stdin {
        let _ = tx.finish().await;
    }
}

async fn copy_out(mut rx: mpsc::Receiver<Bytes>, output: mpsc::Sender<Output>, stdout: bool) {
    while let Some(data) = rx.recv().await {
        let out = if stdout {
            Output::Stdout(data)
        } else {
            Output::Stderr(data)
        };
        if output.send(out).await.is_err() {
            return;
        }
    }
}

async fn collect(mut rx: mpsc::Receiver<Bytes>) -> BytesMut {
    let mut all = BytesMut::new();
    while let Some(data) = rx.recv().await {
        let room = MAX_STATUS.saturating_sub(all.len());
        all.extend_from_slice(&data[..data.len().min(room)]);
    }
    all
}

#[cfg(test)]
mod tests;
