use super::*;

/// kubectl 1.29's side of `echo data | kubectl exec -i POD -- cat`, captured after its
/// upgrade: SYN_STREAM error/stdin/stdout/stderr (ids 1, 3, 5, 7; header blocks from Go's
/// compress/zlib with the SPDY dictionary), "data\n" on stdin, stdin's FIN, RST_STREAM
/// CANCEL for the others, GOAWAY.
const KUBECTL_1_29: &[&str] = &[
    "80030001000000290000000100000000000078f9e3c6a7c26260606004a7b392a2d4c45c6851c29a0a0a6800000000ff",
    "ff800300010000001700000003000000000000c22e555c92929907000000ffff80030001000000190000000500000000",
    "0000c22ac5565c92925f5a02000000ffff800300010000001500000007000000000000c229975a5404000000ffff0000",
    "000300000005646174610a00000003010000008003000300000008000000010000000580030003000000080000000500",
    "0000058003000300000008000000070000000580030007000000080000000000000000",
];

fn hex(parts: &[&str]) -> BytesMut {
    let s: String = parts.concat();
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    BytesMut::from(&bytes[..])
}

fn all(buf: &mut BytesMut, codec: &mut HeaderCodec) -> Vec<Frame> {
    std::iter::from_fn(|| decode(buf, codec).unwrap()).collect()
}

fn stream_type(f: &Frame) -> (u32, &str) {
    match f {
        Frame::SynStream {
            stream, headers, ..
        } => (
            *stream,
            super::super::headers::header(headers, "streamtype").unwrap(),
        ),
        other => panic!("not a SYN_STREAM: {other:?}"),
    }
}

#[test]
fn kubectls_frames_decode_with_the_spdy_dictionary() {
    let mut buf = hex(KUBECTL_1_29);
    let mut codec = HeaderCodec::new().unwrap();
    let frames = all(&mut buf, &mut codec);
    assert!(buf.is_empty());
    let opened: Vec<_> = frames[..4].iter().map(stream_type).collect();
    assert_eq!(
        opened,
        [(1, "error"), (3, "stdin"), (5, "stdout"), (7, "stderr")]
    );
    assert_eq!(
        frames[4],
        Frame::Data {
            stream: 3,
            fin: false,
            data: Bytes::from_static(b"data\n")
        }
    );
    assert_eq!(
        frames[5],
        Frame::Data {
            stream: 3,
            fin: true,
            data: Bytes::new()
        }
    );
    assert_eq!(
        frames[6],
        Frame::RstStream {
            stream: 1,
            status: RST_CANCEL
        }
    );
    assert_eq!(
        frames[9],
        Frame::GoAway {
            last_stream: 0,
            status: 0
        }
    );
}

#[test]
fn frames_round_trip_through_two_codecs() {
    let (mut ours, mut theirs) = (HeaderCodec::new().unwrap(), HeaderCodec::new().unwrap());
    let headers = vec![("streamtype".to_string(), "stdout".to_string())];
    let sent = vec![
        Frame::SynStream {
            stream: 1,
            fin: false,
            headers: headers.clone(),
        },
        Frame::SynReply {
            stream: 1,
            fin: false,
            headers: Vec::new(),
        },
        // A second block on the same zlib stream must inflate too.
        Frame::SynStream {
            stream: 3,
            fin: true,
            headers,
        },
        Frame::Data {
            stream: 1,
            fin: true,
            data: Bytes::from_static(b"hi"),
        },
        Frame::RstStream {
            stream: 3,
            status: RST_REFUSED_STREAM,
        },
        Frame::Ping { id: 7 },
        Frame::GoAway {
            last_stream: 3,
            status: 0,
        },
    ];
    let mut wire = BytesMut::new();
    for f in &sent {
        f.encode(&mut wire, &mut ours).unwrap();
    }
    assert_eq!(all(&mut wire, &mut theirs), sent);
}

#[test]
fn a_partial_frame_waits_and_an_oversized_one_is_refused_unread() {
    let mut codec = HeaderCodec::new().unwrap();
    let mut whole = BytesMut::new();
    Frame::Data {
        stream: 1,
        fin: false,
        data: Bytes::from_static(b"abcdef"),
    }
    .encode(&mut whole, &mut codec)
    .unwrap();
    let mut part = BytesMut::from(&whole[..10]);
    assert!(decode(&mut part, &mut codec).unwrap().is_none());
    assert_eq!(part.len(), 10, "nothing consumed");
    let mut huge = BytesMut::from(&[0u8, 0, 0, 1, 0, 0x20, 0, 0][..]); // 2 MiB claimed
    assert!(matches!(
        decode(&mut huge, &mut codec),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn settings_and_window_updates_are_read_and_ignored() {
    let mut codec = HeaderCodec::new().unwrap();
    let mut buf = BytesMut::new();
    // SETTINGS, one entry: id 7 (initial window size) = 100.
    buf.extend_from_slice(&[
        0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 100,
    ]);
    // WINDOW_UPDATE, stream 1, +65536.
    buf.extend_from_slice(&[0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 1, 0, 1, 0, 0]);
    assert_eq!(all(&mut buf, &mut codec), [Frame::Ignored, Frame::Ignored]);
}

#[test]
fn the_dictionary_is_the_drafts() {
    assert_eq!(super::super::headers::DICTIONARY.len(), 1423);
    assert!(super::super::headers::DICTIONARY.starts_with(b"\0\0\0\x07options"));
}
