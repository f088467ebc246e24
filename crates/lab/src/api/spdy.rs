//! `pods/exec` over SPDY/3.1, as kubectl and oc older than 1.30 speak it
//! (OpenShift 4.14's oc is kubectl 1.27): after the upgrade (`Upgrade:
//! SPDY/3.1`, `X-Stream-Protocol-Version: v4.channel.k8s.io`), the client
//! opens one stream per channel, its `streamtype` header saying which
//! (`error`, `stdin`, `stdout`, `stderr`, `resize`); stdin ends with the
//! stream's FIN; the server ends stdout and stderr with FIN and writes the
//! exit `Status` on the error stream.
//!
//! Only what that needs of SPDY/3.1 is here: SYN_STREAM and SYN_REPLY (their
//! header blocks a zlib stream each way, with SPDY's dictionary, read and
//! written with flate2), DATA, PING, RST_STREAM, GOAWAY; flow control is not
//! enforced (the Go client does not either).

use std::collections::HashMap;
use std::time::Duration;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::errors::ApiError;
use super::server::Body;

pub const UPGRADE: &str = "SPDY/3.1";
const PROTOCOL_HEADER: &str = "x-stream-protocol-version";
/// The channel protocol served over SPDY: v4, whose error stream carries a `Status`.
pub const PROTOCOL: &str = "v4.channel.k8s.io";

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;

/// The SPDY/3 header compression dictionary: length-prefixed names, then text (SPDY/3 §2.6.10.1).
pub fn dictionary() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TEXT: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505\
        203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized\
        403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable\
        Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT\
        chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,\
        text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    let mut out = Vec::with_capacity(1424);
    for word in WORDS {
        out.extend_from_slice(&(word.len() as u32).to_be_bytes());
        out.extend_from_slice(word.as_bytes());
    }
    out.extend_from_slice(TEXT.as_bytes());
    out
}

/// One direction's header compression: a single zlib stream for the whole
/// session, with SPDY's dictionary, each frame's header block ending in a
/// sync flush (SPDY/3 §2.6.10.1).
pub(crate) struct HeaderInflater {
    zlib: Decompress,
    dictionary: Vec<u8>,
}

impl HeaderInflater {
    pub(crate) fn new(dictionary: Vec<u8>) -> Self {
        Self { zlib: Decompress::new(true), dictionary }
    }

    /// One frame's header block: the stream's next part, up to its flush. The
    /// first part's zlib header asks for the dictionary, given then.
    pub(crate) fn inflate(&mut self, part: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(4 * part.len() + 256);
        let mut rest = part;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let (read, written) = (self.zlib.total_in(), out.len());
            let result = self.zlib.decompress_vec(rest, &mut out, FlushDecompress::Sync);
            let consumed = usize::try_from(self.zlib.total_in() - read).unwrap_or(usize::MAX).min(rest.len());
            rest = &rest[consumed..];
            let progressed = consumed > 0 || out.len() > written;
            match result {
                Ok(Status::StreamEnd) => return Ok(out),
                // All read, and all of it out (the output had room to spare, or nothing more came).
                Ok(_) if rest.is_empty() && (out.len() < out.capacity() || !progressed) => return Ok(out),
                Ok(_) if !progressed => return Err("spdy: a header block the zlib stream cannot go on with".into()),
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.zlib.set_dictionary(&self.dictionary).map_err(|e| format!("spdy: header dictionary: {e}"))?;
                }
                Err(e) => return Err(format!("spdy: header block: {e}")),
            }
        }
    }
}

/// The other direction: what the lab writes, compressed with the same dictionary.
pub(crate) struct HeaderDeflater {
    zlib: Compress,
}

impl HeaderDeflater {
    pub(crate) fn new(dictionary: &[u8]) -> Result<Self, String> {
        let mut zlib = Compress::new(Compression::default(), true);
        zlib.set_dictionary(dictionary).map_err(|e| format!("spdy: header dictionary: {e}"))?;
        Ok(Self { zlib })
    }

    /// One frame's header block, compressed and sync-flushed (a reader, Go's, hands it over only there).
    pub(crate) fn deflate(&mut self, block: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(block.len() + 64);
        let mut rest = block;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let (read, written) = (self.zlib.total_in(), out.len());
            self.zlib
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .map_err(|e| format!("spdy: header block: {e}"))?;
            let consumed = usize::try_from(self.zlib.total_in() - read).unwrap_or(usize::MAX).min(rest.len());
            rest = &rest[consumed..];
            // The flush is complete once the output has room left.
            if rest.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
            if consumed == 0 && out.len() == written && out.len() < out.capacity() {
                return Err("spdy: the header compression went no further".into());
            }
        }
    }
}

/// Whether the request asks for a SPDY upgrade.
pub fn requested(request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|u| u.eq_ignore_ascii_case(UPGRADE))
}

/// The channel protocol both sides speak, or the refusal the API server gives.
pub fn negotiate(request: &Request<Incoming>) -> Result<&'static str, ApiError> {
    let offered: Vec<String> = request
        .headers()
        .get_all(PROTOCOL_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    if offered.iter().any(|p| p == PROTOCOL) {
        Ok(PROTOCOL)
    } else {
        Err(ApiError::bad_request(format!(
            "unable to upgrade connection: unable to negotiate protocol: client supports {offered:?}, the lab serves [\"{PROTOCOL}\"]"
        )))
    }
}

pub fn switching_protocols(protocol: &str) -> Response<Body> {
    let mut response = Response::new(super::server::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    for (name, value) in [("connection", "Upgrade"), ("upgrade", UPGRADE), (PROTOCOL_HEADER, protocol)] {
        if let (Ok(name), Ok(value)) =
            (hyper::header::HeaderName::try_from(name), hyper::header::HeaderValue::from_str(value))
        {
            headers.insert(name, value);
        }
    }
    response
}

fn control(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x80, 0x03];
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.push(flags);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    frame.extend_from_slice(payload);
    frame
}

fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
    frame.push(flags);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    frame.extend_from_slice(payload);
    frame
}

/// The pairs of an uncompressed SPDY/3 header block.
pub(crate) fn header_pairs(block: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut at = 0;
    let number = |at: &mut usize| -> Result<usize, String> {
        let bytes = block.get(*at..*at + 4).ok_or("spdy: a header block cut short")?;
        *at += 4;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
    };
    let count = number(&mut at)?;
    let mut pairs = Vec::new();
    for _ in 0..count {
        let length = number(&mut at)?;
        let name = block.get(at..at + length).ok_or("spdy: a header name cut short")?;
        at += length;
        let length = number(&mut at)?;
        let value = block.get(at..at + length).ok_or("spdy: a header value cut short")?;
        at += length;
        pairs.push((String::from_utf8_lossy(name).to_lowercase(), String::from_utf8_lossy(value).into_owned()));
    }
    Ok(pairs)
}

/// Fuzzing's entry (`fuzz/afl`): `bytes` as what a client writes after the
/// upgrade, split into frames as the session's reader splits them (an 8-byte
/// head, a 24-bit length, the payload); each SYN_STREAM's header block goes
/// through one inflater for the whole stream, as in a session, and is read
/// into pairs. The bytes are also read as one header block, compressed and
/// plain. Nothing is returned: the fuzzer looks for panics and hangs.
pub fn fuzz_entry_frames(bytes: &[u8]) {
    let mut inflater = HeaderInflater::new(dictionary());
    let mut rest = bytes;
    while let (Some(head), Some(after)) = (rest.get(..8), rest.get(8..)) {
        let length = usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
        let Some(payload) = after.get(..length) else { break };
        rest = &after[length..];
        let syn_stream = head[0] & 0x80 != 0 && u16::from_be_bytes([head[2], head[3]]) == SYN_STREAM;
        // A header block that cannot be read ends the session, here too.
        if syn_stream
            && payload.len() >= 10
            && inflater.inflate(&payload[10..]).and_then(|block| header_pairs(&block)).is_err()
        {
            break;
        }
    }
    let mut whole = HeaderInflater::new(dictionary());
    if let Ok(block) = whole.inflate(bytes) {
        let _ = header_pairs(&block);
        let _ = whole.inflate(bytes);
    }
    let _ = header_pairs(bytes);
}

/// A SYN_STREAM frame as kubectl opens a stream with, its headers
/// compressed with the session's deflater (fuzzing's seeds).
pub fn fuzz_seed_syn_stream(stream: u32, pairs: &[(&str, &str)]) -> Result<Vec<u8>, String> {
    let mut plain = Vec::new();
    plain.extend((pairs.len() as u32).to_be_bytes());
    for (name, value) in pairs {
        plain.extend((name.len() as u32).to_be_bytes());
        plain.extend(name.as_bytes());
        plain.extend((value.len() as u32).to_be_bytes());
        plain.extend(value.as_bytes());
    }
    let mut payload = stream.to_be_bytes().to_vec();
    payload.extend([0, 0, 0, 0, 0, 0]);
    payload.extend(HeaderDeflater::new(&dictionary())?.deflate(&plain)?);
    Ok(control(SYN_STREAM, 0, &payload))
}

/// The stream types the client will open for these options (as client-go's v4 protocol does).
pub fn expected_streams(stdin: bool, stdout: bool, stderr: bool, tty: bool) -> Vec<&'static str> {
    let mut expected = vec!["error"];
    if stdin {
        expected.push("stdin");
    }
    if stdout {
        expected.push("stdout");
    }
    if stderr && !tty {
        expected.push("stderr");
    }
    if tty {
        expected.push("resize");
    }
    expected
}

/// Runs the exec's SPDY session on the upgraded connection: stdin to `stdin`,
/// `(channel, data)` from `output` onto the stdout/stderr streams, then `status`
/// (the exit `Status` JSON) on the error stream.
pub async fn session<S>(
    io: S,
    expected: Vec<&'static str>,
    stdin: Option<mpsc::Sender<Vec<u8>>>,
    mut output: mpsc::Receiver<(u8, Vec<u8>)>,
    status: oneshot::Receiver<Vec<u8>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut read, mut write) = tokio::io::split(io);
    let (frames, mut outgoing) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(frame) = outgoing.recv().await {
            if write.write_all(&frame).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    let (ready_tx, ready) = oneshot::channel::<HashMap<&'static str, u32>>();
    let replies = frames.clone();
    let reader = tokio::spawn(async move {
        let mut inflater = HeaderInflater::new(dictionary());
        let mut deflater = match HeaderDeflater::new(&dictionary()) {
            Ok(deflater) => deflater,
            Err(e) => {
                tracing::warn!(error = %e, "lab exec (SPDY): cannot compress headers");
                return;
            }
        };
        let mut streams: HashMap<&'static str, u32> = HashMap::new();
        let mut ready_tx = Some(ready_tx);
        let mut stdin = stdin;
        loop {
            let mut head = [0u8; 8];
            if read.read_exact(&mut head).await.is_err() {
                break;
            }
            let length = usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
            let mut payload = vec![0u8; length];
            if read.read_exact(&mut payload).await.is_err() {
                break;
            }
            let flags = head[4];
            if head[0] & 0x80 == 0 {
                let stream = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
                if streams.get("stdin") == Some(&stream) {
                    if let Some(tx) = &stdin {
                        if !payload.is_empty() && tx.send(payload).await.is_err() {
                            stdin = None;
                        }
                    }
                    if flags & FLAG_FIN != 0 {
                        stdin = None;
                    }
                }
                continue;
            }
            match u16::from_be_bytes([head[2], head[3]]) {
                SYN_STREAM if payload.len() >= 10 => {
                    let stream = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
                    let pairs = inflater.inflate(&payload[10..]).and_then(|block| header_pairs(&block));
                    let kind = match pairs {
                        Ok(pairs) => pairs.into_iter().find(|(n, _)| n == "streamtype").map(|(_, v)| v),
                        Err(e) => {
                            tracing::warn!(error = %e, "lab exec (SPDY): cannot read a stream's headers");
                            break;
                        }
                    };
                    let mut reply = stream.to_be_bytes().to_vec();
                    match deflater.deflate(&0u32.to_be_bytes()) {
                        Ok(headers) => reply.extend(headers),
                        Err(e) => {
                            tracing::warn!(error = %e, "lab exec (SPDY): cannot write a stream's headers");
                            break;
                        }
                    }
                    if replies.send(control(SYN_REPLY, 0, &reply)).await.is_err() {
                        break;
                    }
                    if let Some(kind) = kind.and_then(|k| expected.iter().find(|e| **e == k)) {
                        streams.insert(kind, stream);
                        if *kind == "stdin" && flags & FLAG_FIN != 0 {
                            stdin = None;
                        }
                    }
                    if expected.iter().all(|e| streams.contains_key(e)) {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(streams.clone());
                        }
                    }
                }
                PING if replies.send(control(PING, 0, &payload)).await.is_err() => break,
                RST_STREAM if payload.len() >= 4 => {
                    let stream = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]) & 0x7fff_ffff;
                    if streams.get("stdin") == Some(&stream) {
                        stdin = None;
                    }
                }
                GOAWAY => break,
                _ => {}
            }
        }
    });
    // The client opens its streams first; what the command says meanwhile waits.
    let streams = match tokio::time::timeout(Duration::from_secs(10), ready).await {
        Ok(Ok(streams)) => streams,
        _ => {
            tracing::debug!("lab exec (SPDY): the client did not open its streams");
            drop(frames);
            reader.abort();
            let _ = writer.await;
            return;
        }
    };
    while let Some((channel, bytes)) = output.recv().await {
        let kind = match channel {
            1 => "stdout",
            2 => "stderr",
            _ => continue,
        };
        // With a terminal, stderr comes on stdout.
        let stream = streams.get(kind).or_else(|| streams.get("stdout"));
        if let Some(&stream) = stream {
            for chunk in bytes.chunks(32 * 1024) {
                if frames.send(data(stream, 0, chunk)).await.is_err() {
                    break;
                }
            }
        }
    }
    let status = status.await.unwrap_or_default();
    for kind in ["stdout", "stderr"] {
        if let Some(&stream) = streams.get(kind) {
            let _ = frames.send(data(stream, FLAG_FIN, &[])).await;
        }
    }
    if let Some(&stream) = streams.get("error") {
        let _ = frames.send(data(stream, 0, &status)).await;
        let _ = frames.send(data(stream, FLAG_FIN, &[])).await;
    }
    let last = streams.values().copied().max().unwrap_or(0);
    let mut away = last.to_be_bytes().to_vec();
    away.extend_from_slice(&0u32.to_be_bytes());
    let _ = frames.send(control(GOAWAY, 0, &away)).await;
    drop(frames);
    // The client closes once it has read the status.
    let mut reader = reader;
    if tokio::time::timeout(Duration::from_secs(2), &mut reader).await.is_err() {
        reader.abort();
    }
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_spdy3s() {
        let dictionary = dictionary();
        assert_eq!(dictionary.len(), 1423);
        assert_eq!(&dictionary[..11], b"\x00\x00\x00\x07options");
        assert!(dictionary.ends_with(b",*,enq=0."));
        // Its zlib dictionary id (Adler-32), as Go's SPDY framer announces it.
        let (mut a, mut b) = (1u32, 0u32);
        for byte in &dictionary {
            a = (a + u32::from(*byte)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(b << 16 | a, 0xe3c6_a7c2);
    }

    /// A header block of one pair, `streamtype: value`, as client-go writes it.
    fn streamtype(value: &str) -> Vec<u8> {
        let mut block = vec![0, 0, 0, 1, 0, 0, 0, 10];
        block.extend_from_slice(b"streamtype");
        block.extend_from_slice(&(value.len() as u32).to_be_bytes());
        block.extend_from_slice(value.as_bytes());
        block
    }

    #[test]
    fn kubectls_header_blocks_read() {
        // The SYN_STREAMs' header blocks of `kubectl exec -i` (kubectl 1.32, Go's compress/flate,
        // KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false), captured in that order on one connection.
        let blocks: [(&[u8], &str); 4] = [
            (
                &[
                    0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x62, 0x60, 0x60, 0x60, 0x04, 0xa7, 0xb3, 0x92, 0xa2, 0xd4,
                    0xc4, 0x5c, 0x68, 0x51, 0xc2, 0x9a, 0x0a, 0x0a, 0x68, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff,
                ],
                "error",
            ),
            (&[0xc2, 0x2e, 0x55, 0x5c, 0x92, 0x92, 0x99, 0x07, 0x00, 0x00, 0x00, 0xff, 0xff], "stdin"),
            (&[0xc2, 0x2a, 0xc5, 0x56, 0x5c, 0x92, 0x92, 0x5f, 0x5a, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff], "stdout"),
            (&[0xc2, 0x29, 0x97, 0x5a, 0x54, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff], "stderr"),
        ];
        let mut inflater = HeaderInflater::new(dictionary());
        for (block, kind) in blocks {
            assert_eq!(inflater.inflate(block), Ok(streamtype(kind)));
        }
    }

    #[test]
    fn other_zlib_streams_read() {
        // python3: c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, b"streamtypestdinstdouterror");
        // a header block (one pair) per part, each ending in c.flush(zlib.Z_SYNC_FLUSH).
        let first = [
            0x78, 0xf9, 0x97, 0x7e, 0x0b, 0x3e, 0x62, 0x60, 0x60, 0x60, 0x04, 0x62, 0xae, 0x62, 0xb8, 0x0a, 0x20, 0x8f,
            0x15, 0x2c, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff,
        ];
        let second = [0xc2, 0x2e, 0x05, 0x36, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff];
        let mut reader = HeaderInflater::new(b"streamtypestdinstdouterror".to_vec());
        assert_eq!(reader.inflate(&first), Ok(streamtype("error")));
        assert_eq!(reader.inflate(&second), Ok(streamtype("stdin")));
        // Without a dictionary: stored blocks, sync-flushed part by part (what the lab wrote before).
        let mut stored = HeaderInflater::new(dictionary());
        let hello =
            [0x78, 0x01, 0x00, 0x05, 0x00, 0xfa, 0xff, b'h', b'e', b'l', b'l', b'o', 0x00, 0x00, 0x00, 0xff, 0xff];
        assert_eq!(stored.inflate(&hello), Ok(b"hello".to_vec()));
        let world = [0x00, 0x06, 0x00, 0xf9, 0xff, b' ', b'w', b'o', b'r', b'l', b'd', 0x00, 0x00, 0x00, 0xff, 0xff];
        assert_eq!(stored.inflate(&world), Ok(b" world".to_vec()));
        // A whole stream, fixed codes: zlib.compress(b"hello").
        let fixed = [0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15];
        assert_eq!(HeaderInflater::new(dictionary()).inflate(&fixed), Ok(b"hello".to_vec()));
    }

    #[test]
    fn a_dynamic_block_reads_back() {
        // python3: zlib.compress(b" ".join(random.choice(words) for _ in range(120)), 9) with random.seed(7).
        let data = [
            0x78, 0xda, 0x6d, 0x52, 0x5b, 0x0e, 0xc3, 0x30, 0x08, 0xbb, 0x4a, 0xae, 0x96, 0xae, 0x4c, 0xad, 0xd4, 0xc7,
            0x44, 0xa2, 0x9d, 0x7f, 0x23, 0x0f, 0x82, 0x49, 0x7f, 0xfa, 0x00, 0xc7, 0xd8, 0x0e, 0x1c, 0xdf, 0x39, 0xa4,
            0x2b, 0x7e, 0xd2, 0x76, 0xe7, 0xc0, 0xf4, 0xdd, 0xd3, 0x7e, 0x5f, 0x81, 0xf2, 0x6b, 0x0d, 0x27, 0x9d, 0x0b,
            0x71, 0x7f, 0xb1, 0x20, 0x4b, 0x9d, 0x29, 0xe5, 0x9b, 0x09, 0x40, 0x7a, 0x52, 0x3f, 0xb4, 0x51, 0xc1, 0x1e,
            0x87, 0x87, 0x0d, 0x21, 0x22, 0xa0, 0xa5, 0x3a, 0x0f, 0x8a, 0xab, 0x25, 0xd3, 0x46, 0x23, 0x6c, 0x7d, 0x5f,
            0xee, 0x64, 0xc5, 0x0a, 0xba, 0x83, 0x61, 0x47, 0x5c, 0x8c, 0x21, 0x01, 0x4b, 0xa5, 0x54, 0xcb, 0x4f, 0x9f,
            0x5e, 0xd1, 0x26, 0x3d, 0xb0, 0xda, 0x60, 0xe3, 0x98, 0x70, 0xd4, 0x9a, 0x4b, 0x76, 0xb2, 0xc1, 0x70, 0x2b,
            0x20, 0x07, 0x72, 0x13, 0xd8, 0x78, 0x74, 0x91, 0xc8, 0x6e, 0x64, 0x58, 0xaf, 0xa6, 0xec, 0xd3, 0x1c, 0x37,
            0xad, 0xda, 0xa7, 0x80, 0xff, 0x0d, 0x8c, 0xcc, 0x25, 0xae, 0x51, 0x4f, 0x7b, 0x61, 0x84, 0x3c, 0x3b, 0x9c,
            0xa9, 0xb0, 0x81, 0x3a, 0xcd, 0x00, 0x77, 0x1d, 0x7e, 0xc8, 0x83, 0x36, 0xb3, 0x5b, 0x22, 0xc1, 0xef, 0x57,
            0x7b, 0xc1, 0xee, 0xfd, 0x00, 0x5f, 0x4e, 0x33, 0x47,
        ];
        let text = HeaderInflater::new(dictionary())
            .inflate(&data)
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .unwrap_or_default();
        assert_eq!(text.len(), 817);
        assert!(text.starts_with("raft snapshot revision etcd member member raft"), "{text}");
        assert!(text.ends_with("snapshot leader leader etcd snapshot"), "{text}");
        let words = ["etcd", "member", "snapshot", "restore", "leader", "raft", "revision", "lab"];
        assert!(text.split(' ').all(|w| words.contains(&w)), "{text}");
    }

    #[test]
    fn written_headers_read_back_with_spdys_dictionary() {
        let Ok(mut deflater) = HeaderDeflater::new(&dictionary()) else { panic!("no deflater") };
        let mut inflater = HeaderInflater::new(dictionary());
        let reply = deflater.deflate(&0u32.to_be_bytes()).unwrap_or_default();
        // zlib, FDICT set, and the dictionary's id that Go's reader checks.
        assert_eq!(reply[0], 0x78);
        assert!(reply[1] & 0x20 != 0 && (u16::from(reply[0]) << 8 | u16::from(reply[1])) % 31 == 0);
        assert_eq!(reply[2..6], [0xe3, 0xc6, 0xa7, 0xc2]);
        assert!(reply.ends_with(&[0x00, 0x00, 0xff, 0xff]), "{reply:02x?}");
        assert_eq!(inflater.inflate(&reply), Ok(0u32.to_be_bytes().to_vec()));
        // Later frames go on in the same stream: one past the buffers' first guess when written
        // (incompressible), one past it when read (repetitive). A header block is never empty (zlib
        // writes nothing for an empty sync-flushed part).
        let mut seed = 7u32;
        let noise: Vec<u8> = (0..1 << 20)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        let repetitive = b"streamtype".repeat(10_000);
        for block in [streamtype("stdout"), noise, repetitive, 0u32.to_be_bytes().to_vec(), streamtype("error")] {
            let part = deflater.deflate(&block).unwrap_or_default();
            assert!(part.ends_with(&[0x00, 0x00, 0xff, 0xff]));
            assert_eq!(inflater.inflate(&part), Ok(block));
        }
    }

    #[test]
    fn bad_header_blocks_are_errors() {
        assert!(HeaderInflater::new(dictionary()).inflate(&[0x12, 0x34, 0x56]).is_err());
        // Another dictionary than the one the stream names.
        let Ok(mut deflater) = HeaderDeflater::new(b"another dictionary") else { panic!("no deflater") };
        let block = deflater.deflate(&streamtype("error")).unwrap_or_default();
        assert!(HeaderInflater::new(dictionary()).inflate(&block).is_err());
    }

    #[test]
    fn frames_are_laid_out_as_spdy3_has_them() {
        assert_eq!(control(PING, 0, &[0, 0, 0, 1]), [0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        assert_eq!(data(5, FLAG_FIN, b"x"), [0, 0, 0, 5, 1, 0, 0, 1, b'x']);
        let block = [0, 0, 0, 1, 0, 0, 0, 10, b's', b't', b'r', b'e', b'a', b'm', b't', b'y', b'p', b'e', 0, 0, 0, 5];
        let mut block = block.to_vec();
        block.extend_from_slice(b"error");
        assert_eq!(header_pairs(&block), Ok(vec![("streamtype".to_string(), "error".to_string())]));
        assert_eq!(expected_streams(true, true, true, false), ["error", "stdin", "stdout", "stderr"]);
        assert_eq!(expected_streams(false, true, true, true), ["error", "stdout", "resize"]);
    }
}
