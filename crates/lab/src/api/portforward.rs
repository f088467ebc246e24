//! `pods/portforward` over WebSocket, as the API server and kubelet serve it to
//! kube-rs: the `v4.channel.k8s.io` framing, two channels per port (data
//! `2i`, error `2i+1`), each opened by a frame carrying the port number
//! (little-endian), then binary frames prefixed by their channel byte.
//!
//! The lab's kubelet is this function: it dials the pod's address (or, for a
//! pod on a network the bastion cannot reach, the address the lab keeps in
//! the pod's `lab.etcd-console/forward-to` annotation) from inside the lab.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::errors::ApiError;
use super::server::{Body, Shared};
use super::store::str_at;

/// Where the lab's kubelet really dials for a pod on an unreachable network.
pub const FORWARD_TO_ANNOTATION: &str = "lab.etcd-console/forward-to";

const PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "v5.channel.k8s.io"];

fn header(request: &Request<Incoming>, name: hyper::header::HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A WebSocket upgrade's key and the first of `served` (in our order of preference) the client offers;
/// `what` names the stream in the refusal of anything else (SPDY).
pub(super) fn negotiate(
    request: &Request<Incoming>,
    served: &[&'static str],
    what: &str,
) -> Result<(String, &'static str), ApiError> {
    let websocket = header(request, hyper::header::UPGRADE).is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let key = header(request, hyper::header::SEC_WEBSOCKET_KEY).map(str::to_string);
    let (true, Some(key)) = (websocket, key) else {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: the lab serves {what} over WebSocket only ({}), not SPDY",
            served.join(", ")
        )));
    };
    let offered: Vec<String> = header(request, hyper::header::SEC_WEBSOCKET_PROTOCOL)
        .unwrap_or("")
        .split(',')
        .map(|p| p.trim().to_string())
        .collect();
    let Some(protocol) = served.iter().find(|p| offered.iter().any(|o| o == *p)) else {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: none of the subprotocols {offered:?} is served (the lab serves {served:?}, not SPDY tunnelled in WebSocket)"
        )));
    };
    Ok((key, protocol))
}

/// The 101 answer to a WebSocket upgrade.
pub(super) fn switching_protocols(key: &str, protocol: &str) -> Response<Body> {
    let mut response = Response::new(super::server::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    let value = |text: &str| hyper::header::HeaderValue::from_str(text).ok();
    for (name, text) in [
        (hyper::header::UPGRADE, "websocket".to_string()),
        (hyper::header::CONNECTION, "Upgrade".to_string()),
        (hyper::header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(key.as_bytes())),
        (hyper::header::SEC_WEBSOCKET_PROTOCOL, protocol.to_string()),
    ] {
        if let Some(v) = value(&text) {
            headers.insert(name, v);
        }
    }
    response
}

/// The ports asked for, as the API server reads `ports=2379,2380` (or repeated).
pub fn requested_ports(values: &[&str]) -> Result<Vec<u16>, ApiError> {
    let mut ports = Vec::new();
    for text in values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|t| !t.is_empty()) {
        match text.parse::<u16>() {
            Ok(port) if port > 0 => ports.push(port),
            _ => return Err(ApiError::bad_request(format!("unable to parse \"{text}\" as a port: invalid port"))),
        }
    }
    if ports.is_empty() {
        return Err(ApiError::bad_request("at least 1 port must be specified"));
    }
    Ok(ports)
}

/// Answers the upgrade request (101) and serves the forward on its own task.
pub fn upgrade(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    pod: &Value,
    ports: &[String],
) -> Result<Response<Body>, ApiError> {
    let name = str_at(pod, "/metadata/name").to_string();
    if str_at(pod, "/status/phase") != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: pod {name} is not running (phase {})",
            str_at(pod, "/status/phase")
        )));
    }
    let (key, protocol) = negotiate(&request, PROTOCOLS, "port-forward")?;
    let ports = requested_ports(&ports.iter().map(String::as_str).collect::<Vec<_>>())?;
    let address = pod
        .pointer(&format!("/metadata/annotations/{}", FORWARD_TO_ANNOTATION.replace('/', "~1")))
        .and_then(Value::as_str)
        .unwrap_or_else(|| str_at(pod, "/status/podIP"))
        .to_string();
    let uid = str_at(pod, "/metadata/uid").to_string();
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let Some(upgraded) = upgraded(request, "port-forward", &name).await else { return };
        let socket = WebSocketStream::from_raw_socket(upgraded, Role::Server, None).await;
        tokio::select! {
            _ = forward(socket, &address, &ports, &name, &uid) => {}
            _ = shutdown.changed() => {}
        }
    });
    Ok(switching_protocols(&key, protocol))
}

/// The connection a 101 Switching Protocols answer hands over, or None (logged) when the client went.
pub async fn upgraded(
    request: Request<Incoming>,
    what: &str,
    pod: &str,
) -> Option<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>> {
    match hyper::upgrade::on(request).await {
        Ok(upgraded) => Some(hyper_util::rt::TokioIo::new(upgraded)),
        Err(e) => {
            tracing::debug!(pod = %pod, error = %e, "lab {what}: upgrade failed");
            None
        }
    }
}

/// A binary message of the channel protocols: the channel's byte, then the data.
pub(super) fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::binary(bytes)
}

pub(super) type Socket = WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

async fn forward(socket: Socket, address: &str, ports: &[u16], pod: &str, uid: &str) {
    let (mut sink, mut stream) = socket.split();
    // Each channel opens with its port number.
    for (i, port) in ports.iter().enumerate() {
        let channel = u8::try_from(2 * i).unwrap_or(u8::MAX - 1);
        for c in [channel, channel + 1] {
            if sink.send(frame(c, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
    }
    // Dial every port; one that cannot be dialled gets its error message.
    let (to_socket, mut outgoing) = mpsc::channel::<Message>(16);
    let mut writers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let channel = u8::try_from(2 * i).unwrap_or(u8::MAX - 1);
        let target = format!("{address}:{port}");
        match tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&target)).await {
            Ok(Ok(tcp)) => {
                let (mut read, write) = tcp.into_split();
                writers.push(Some(write));
                let to_socket = to_socket.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 32 * 1024];
                    loop {
                        match read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if to_socket.send(frame(channel, &buffer[..n])).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    // The pod closed its end: so does the stream (v4 has no half-close).
                    let _ = to_socket.send(Message::Close(None)).await;
                });
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "i/o timeout".to_string(),
                };
                writers.push(None);
                let message = format!(
                    "error forwarding port {port} to pod {pod}, uid {uid}: failed to connect to {target}: {why}"
                );
                let _ = to_socket.send(frame(channel + 1, message.as_bytes())).await;
            }
        }
    }
    drop(to_socket);
    loop {
        tokio::select! {
            outgoing = outgoing.recv() => match outgoing {
                Some(message) => {
                    let close = message.is_close();
                    if sink.send(message).await.is_err() || close {
                        break;
                    }
                }
                None => break,
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Binary(bytes))) if bytes.len() > 1 => {
                    let index = usize::from(bytes[0] / 2);
                    if bytes[0] % 2 == 1 {
                        continue;
                    }
                    if let Some(Some(writer)) = writers.get_mut(index) {
                        if writer.write_all(&bytes[1..]).await.is_err() {
                            writers[index] = None;
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    for writer in writers.iter_mut().flatten() {
        let _ = writer.shutdown().await;
    }
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_as_the_api_server_reads_them() {
        assert_eq!(requested_ports(&["2379,2380"]).ok(), Some(vec![2379, 2380]));
        assert_eq!(requested_ports(&["2379", "9979"]).ok(), Some(vec![2379, 9979]));
        assert!(requested_ports(&["0"]).is_err());
        assert!(requested_ports(&["http"]).is_err());
        let none = requested_ports(&[]).err().map(|e| e.message).unwrap_or_default();
        assert_eq!(none, "at least 1 port must be specified");
    }
}
