//! `pods/exec` over SPDY/3.1, as kubectl and oc older than 1.30 speak it
//! (OpenShift 4.14's oc is kubectl 1.27): after the upgrade (`Upgrade:
//! SPDY/3.1`, `X-Stream-Protocol-Version: v4.channel.k8s.io`), the client
//! opens one stream per channel, its `streamtype` header saying which
//! (`error`, `stdin`, `stdout`, `stderr`, `resize`); stdin ends with the
//! stream's FIN; the server ends stdout and stderr with FIN and writes the
//! exit `Status` on the error stream.
//!
//! Only what that needs of SPDY/3.1 is here: SYN_STREAM (whose compressed
//! headers [`super::inflate`] reads), SYN_REPLY (headers written as stored
//! zlib blocks), DATA, PING, RST_STREAM, GOAWAY; flow control is not enforced
//! (the Go client does not either).

use std::collections::HashMap;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::errors::ApiError;
use super::inflate::{Inflater, StoredDeflater};
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
fn header_pairs(block: &[u8]) -> Result<Vec<(String, String)>, String> {
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
        let mut inflater = Inflater::new(&dictionary());
        let mut deflater = StoredDeflater::default();
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
                    reply.extend(deflater.part(&0u32.to_be_bytes()));
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
