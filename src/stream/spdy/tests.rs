//! A whole session over an in-memory pipe: [`dial`] (the service towards kubelet) against
//! [`serve`] (the stand-in), with a scripted process on the server's side.

use super::*;
use crate::stream::{Input, Output, StreamOptions, session, status};

type Session = tokio::task::JoinHandle<Result<(), SessionError>>;

/// [`dial`] against [`serve`] over an in-memory pipe with every stream (and a terminal when
/// `tty`): the client's ends (what the API holds), the process's ends (what a runner would
/// hold on the stand-in's side), and the two protocol tasks, server first.
fn pipe(tty: bool) -> (Ends, ProcessEnds, Session, Session) {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let opts = StreamOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        tty,
    };
    let (server_ends, process) = session();
    let server = tokio::spawn(serve(server_io, opts, server_ends));
    let (client, kubelet_side) = session();
    let dialled = tokio::spawn(dial(client_io, opts, kubelet_side));
    (client, process, server, dialled)
}

#[tokio::test]
async fn a_dialled_session_carries_stdin_its_end_output_and_status_in_order() {
    let (mut client, mut process, server, dialled) = pipe(false);

    client
        .input
        .send(Input::Stdin(Bytes::from_static(b"data\n")))
        .await
        .unwrap();
    client.input.send(Input::StdinEnd).await.unwrap();
    assert_eq!(
        process.input.recv().await,
        Some(Input::Stdin(Bytes::from_static(b"data\n")))
    );
    assert_eq!(process.input.recv().await, Some(Input::StdinEnd));
    process
        .output
        .send(Output::Stdout(Bytes::from_static(b"data\n")))
        .await
        .unwrap();
    process
        .output
        .send(Output::Stderr(Bytes::from_static(b"warn")))
        .await
        .unwrap();
    let exited = status::exited(&["cat".into()], 3);
    process
        .output
        .send(Output::Status(exited.clone()))
        .await
        .unwrap();

    let mut seen = Vec::new();
    while let Some(out) = client.output.recv().await {
        seen.push(out);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.contains(&Output::Stdout(Bytes::from_static(b"data\n"))));
    assert!(seen.contains(&Output::Stderr(Bytes::from_static(b"warn"))));
    assert_eq!(seen[2], Output::Status(exited), "the status comes last");
    server.await.unwrap().unwrap();
    dialled.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_tty_session_has_a_resize_stream_and_no_stderr() {
    let (mut client, mut process, server, _dialled) = pipe(true);
    let size = crate::stream::TerminalSize {
        width: 120,
        height: 40,
    };
    client.input.send(Input::Resize(size)).await.unwrap();
    assert_eq!(process.input.recv().await, Some(Input::Resize(size)));
    process
        .output
        .send(Output::Status(status::success()))
        .await
        .unwrap();
    assert_eq!(
        client.output.recv().await,
        Some(Output::Status(status::success()))
    );
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_client_that_never_opens_its_streams_times_out() {
    tokio::time::pause();
    let (_client_io, server_io) = tokio::io::duplex(1024);
    let (server_ends, _process) = session();
    let served = serve(
        server_io,
        StreamOptions {
            stdout: true,
            ..Default::default()
        },
        server_ends,
    );
    assert!(matches!(served.await, Err(SessionError::StreamsMissing)));
}

#[tokio::test]
async fn finished_streams_free_their_place_on_a_long_connection() {
    // port-forward opens two streams per forwarded connection on one SPDY connection: those
    // the peer has finished must not count against the bound.
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let client = Connection::start(client_io, conn::Role::Client).unwrap();
    let mut server = Connection::start(server_io, conn::Role::Server).unwrap();
    let accepting = tokio::spawn(async move {
        let mut seen = 0;
        while let Some(mut a) = server.accept().await {
            // Read to the peer's FIN.
            while a.rx.recv().await.is_some() {}
            seen += 1;
            if seen == 3 * conn::MAX_STREAMS {
                break;
            }
        }
        seen
    });
    for i in 0..3 * conn::MAX_STREAMS {
        let headers = vec![("requestid".to_string(), i.to_string())];
        let (tx, _rx) = client.open(headers).await.expect("a place for the stream");
        tx.send(Bytes::from_static(b"x")).await.unwrap();
        tx.finish().await.unwrap();
    }
    assert_eq!(accepting.await.unwrap(), 3 * conn::MAX_STREAMS);
}
