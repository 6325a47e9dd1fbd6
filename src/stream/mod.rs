//! Kubernetes' remote-command streams (exec and attach), protocol by protocol, around one
//! neutral shape: a session is an [`Input`] channel towards the process and an [`Output`]
//! channel back, so any client protocol can be joined to any kubelet protocol (kube-apiserver's
//! StreamTranslator joins WebSocket v5 to SPDY the same way; docs/exec.md).
//!
//! - [`ws`]: WebSocket channel protocols `v4.channel.k8s.io` and `v5.channel.k8s.io` (server).
//! - [`spdy`]: SPDY/3.1 with `v4.channel.k8s.io`, server ([`spdy::serve`]) and client
//!   ([`spdy::dial`], how the service reaches kubelet).
//! - [`portforward`]: port-forward's wires (SPDY, SPDY tunneled in WebSocket, WebSocket
//!   channels), which the service forwards to kubelet unchanged and pipes.
//!
//! Only the v4 semantics of remotecommand exist here (error stream = a JSON `Status`, resize stream): every
//! kubectl from 1.29 and the Python client negotiate v4 or v5 (docs/kubectl.md).

pub(crate) mod accept;
pub(crate) mod portforward;
pub(crate) mod spdy;
pub(crate) mod status;
pub(crate) mod ws;

use bytes::Bytes;

/// The subprotocol of WebSocket v4 and of SPDY's `X-Stream-Protocol-Version`.
pub(crate) const V4: &str = "v4.channel.k8s.io";
/// WebSocket v5: v4 plus the CLOSE signal (stdin half-close).
pub(crate) const V5: &str = "v5.channel.k8s.io";

/// Bytes one stdin/stdout message may carry through the service (a WebSocket message, a SPDY
/// frame); larger WebSocket messages are refused, larger SPDY writes are split.
pub(crate) const MAX_MESSAGE: usize = 1 << 20;

/// Messages queued in each direction of a session before the sender waits.
pub(crate) const QUEUE: usize = 16;

/// The most bytes of an error stream (one `Status`) kept.
pub(crate) const MAX_STATUS: usize = 64 * 1024;

/// Towards the process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    /// Bytes for its stdin.
    Stdin(Bytes),
    /// Its stdin ended (SPDY FIN, WebSocket v5 CLOSE).
    StdinEnd,
    /// The terminal's new size.
    Resize(TerminalSize),
}

/// Back from the process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// Bytes it wrote to stdout (with a TTY: everything).
    Stdout(Bytes),
    /// Bytes it wrote to stderr.
    Stderr(Bytes),
    /// How it ended, a `Status` as JSON (the error stream); always last.
    Status(Bytes),
}

/// kubelet's and client-go's resize message, `{"Width":80,"Height":24}`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub(crate) width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub(crate) height: u16,
}

/// Which streams a session has: the query of exec/attach (`stdin`, `stdout`, `stderr`, `tty`
/// on the API; `input`, `output`, `error`, `tty` on kubelet).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct StreamOptions {
    /// A stdin stream.
    pub(crate) stdin: bool,
    /// A stdout stream.
    pub(crate) stdout: bool,
    /// A stderr stream (never with a TTY: kubelet drops it, as here).
    pub(crate) stderr: bool,
    /// A terminal, and so a resize stream.
    pub(crate) tty: bool,
}

impl StreamOptions {
    /// With `tty`, stderr is merged into stdout, as kubelet's NewOptions does.
    pub(crate) fn normalized(mut self) -> Self {
        if self.tty {
            self.stderr = false;
        }
        self
    }
}

/// The two ends a protocol adapter is given.
#[derive(Debug)]
pub(crate) struct Ends {
    /// Where it puts what the client sends.
    pub(crate) input: tokio::sync::mpsc::Sender<Input>,
    /// What it sends to the client.
    pub(crate) output: tokio::sync::mpsc::Receiver<Output>,
}

/// The ends of the other side: reads [`Input`], writes [`Output`].
#[derive(Debug)]
pub(crate) struct ProcessEnds {
    /// What the client sent.
    pub(crate) input: tokio::sync::mpsc::Receiver<Input>,
    /// Where the process' output goes.
    pub(crate) output: tokio::sync::mpsc::Sender<Output>,
}

/// A joined pair of bounded channels: give [`Ends`] to the client's protocol and
/// [`ProcessEnds`] to the process (or to kubelet's protocol).
pub(crate) fn session() -> (Ends, ProcessEnds) {
    let (input_tx, input_rx) = tokio::sync::mpsc::channel(QUEUE);
    let (output_tx, output_rx) = tokio::sync::mpsc::channel(QUEUE);
    (
        Ends {
            input: input_tx,
            output: output_rx,
        },
        ProcessEnds {
            input: input_rx,
            output: output_tx,
        },
    )
}

#[cfg(test)]
mod latency_tests;
#[cfg(test)]
mod portforward_latency_tests;
