//! remotecommand over WebSocket (apimachinery's wsstream, `v4.channel.k8s.io` and
//! `v5.channel.k8s.io`, binary): every message starts with its channel byte, 0 stdin, 1 stdout,
//! 2 stderr, 3 error (the JSON `Status`), 4 resize; v5 adds 255, CLOSE, whose second byte names
//! the channel the client has finished writing (stdin's half-close, which v4 cannot express).
//! After the `Status` the server closes with 1000.
//!
//! Bounded: messages of at most [`super::MAX_MESSAGE`] bytes (set on the upgrade), an idle
//! session (nothing either way for [`IDLE_TIMEOUT`]) is closed.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::{BufMut, Bytes, BytesMut};

use super::{Ends, Input, Output, TerminalSize, V5};

/// Closes a session with no traffic for this long: kubelet's default
/// `--streaming-connection-idle-timeout` is 4 h; Cloud Run ends a request after 60 min anyway.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The subprotocols served, in order of preference.
pub(crate) const PROTOCOLS: [&str; 2] = [V5, super::V4];

/// Serves one session on an upgraded WebSocket speaking `protocol`.
pub(crate) async fn serve(mut socket: WebSocket, protocol: &str, ends: Ends) {
    let v5 = protocol == V5;
    let Ends { input, mut output } = ends;
    let mut input = Some(input);
    loop {
        let next = tokio::time::timeout(IDLE_TIMEOUT, async {
            tokio::select! {
                msg = socket.recv() => Event::Client(msg),
                out = output.recv() => Event::Process(out),
            }
        });
        match next.await {
            Err(_) => break,
            // The Python client sends a `str` as a text message (`"\x00" + data`); wsstream reads
            // text and binary messages alike.
            Ok(Event::Client(Some(Ok(msg @ (Message::Binary(_) | Message::Text(_)))))) => {
                let Some(tx) = &input else { continue };
                let data = msg.into_data();
                let Some(i) = decode(&data, v5) else { continue };
                let end = i == Input::StdinEnd;
                if tx.send(i).await.is_err() || end {
                    input = None;
                }
            }
            Ok(Event::Client(Some(Ok(Message::Close(_))) | None | Some(Err(_)))) => return,
            Ok(Event::Client(Some(Ok(_)))) => {}
            Ok(Event::Process(Some(out))) => {
                let last = matches!(out, Output::Status(_));
                if socket.send(Message::Binary(encode(out))).await.is_err() {
                    return;
                }
                if last {
                    break;
                }
            }
            Ok(Event::Process(None)) => break,
        }
    }
    let close = CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    };
    let _ = socket.send(Message::Close(Some(close))).await;
}

enum Event {
    Client(Option<Result<Message, axum::Error>>),
    Process(Option<Output>),
}

/// A client's binary message as [`Input`]; `None` for anything else (stdout/stderr/error from
/// a client, an empty message, CLOSE of another channel, CLOSE on v4).
pub(crate) fn decode(data: &[u8], v5: bool) -> Option<Input> {
    let (&channel, rest) = data.split_first()?;
    match channel {
        STDIN => Some(Input::Stdin(Bytes::copy_from_slice(rest))),
        RESIZE => serde_json::from_slice::<TerminalSize>(rest)
            .ok()
            .map(Input::Resize),
        CLOSE if v5 && rest.first() == Some(&STDIN) => Some(Input::StdinEnd),
        _ => None,
    }
}

/// One [`Output`] as the message the client reads.
pub(crate) fn encode(out: Output) -> Bytes {
    let (channel, data) = match out {
        Output::Stdout(d) => (STDOUT, d),
        Output::Stderr(d) => (STDERR, d),
        Output::Status(d) => (ERROR, d),
    };
    let mut msg = BytesMut::with_capacity(1 + data.len());
    msg.put_u8(channel);
    msg.put_slice(&data);
    msg.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_decode_as_kubernetes_numbers_them() {
        assert_eq!(
            decode(b"\x00data", false),
            Some(Input::Stdin(Bytes::from_static(b"data")))
        );
        assert_eq!(
            decode(
                br#"{"Width":80,"Height":24}"#
                    .iter()
                    .fold(vec![4u8], |mut v, b| {
                        v.push(*b);
                        v
                    })
                    .as_slice(),
                true
            ),
            Some(Input::Resize(TerminalSize {
                width: 80,
                height: 24
            }))
        );
        assert_eq!(decode(&[255, 0], true), Some(Input::StdinEnd));
        // v4 has no CLOSE signal; a CLOSE of another channel means nothing for stdin.
        assert_eq!(decode(&[255, 0], false), None);
        assert_eq!(decode(&[255, 1], true), None);
        assert_eq!(decode(&[], true), None);
        assert_eq!(decode(b"\x01out", true), None);
    }

    #[test]
    fn outputs_encode_with_their_channel_byte() {
        assert_eq!(
            &encode(Output::Stdout(Bytes::from_static(b"hi")))[..],
            b"\x01hi"
        );
        assert_eq!(
            &encode(Output::Stderr(Bytes::from_static(b"e")))[..],
            b"\x02e"
        );
        assert_eq!(
            &encode(Output::Status(Bytes::from_static(b"{}")))[..],
            b"\x03{}"
        );
    }
}
