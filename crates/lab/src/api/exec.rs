//! `pods/exec` as the API server and kubelet serve it: over SPDY/3.1 for
//! kubectl and oc before 1.30 ([`super::spdy`]), and over WebSocket for
//! kubectl 1.30 and later and kube-rs: subprotocol
//! `v5.channel.k8s.io` (preferred: the client closes stdin with the frame
//! `[255, 0]`) or `v4.channel.k8s.io`; channels 0 stdin, 1 stdout, 2 stderr,
//! 3 the command's `metav1.Status` when it ends, 4 terminal resizes (ignored).
//! The framing is port-forward's ([`super::portforward`]).
//!
//! No container runs: the command is interpreted in the lab process by
//! [`super::pod_shell`], with the pod's volumes mapped to lab directories.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::errors::ApiError;
use super::pod_shell::{self, PodContext};
use super::portforward::{frame, negotiate, switching_protocols, Socket};
use super::server::{Body, Shared};
use super::spdy;
use super::store::str_at;

/// The exec request's parameters (`PodExecOptions`).
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub container: Option<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
/// v5: the client's "this stream is closed" frame, `[255, channel]`.
const CLOSE: u8 = 255;

/// The `metav1.Status` the error channel carries when the command ends, as the
/// kubelet writes it (client-go and kube-rs read the exit code from its cause).
pub fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    let code = code.clamp(1, 255);
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// Answers the upgrade (101) and runs the command on its own task; refuses as
/// the API server does a container the pod has not, or a pod not running.
pub fn upgrade(
    shared: &Arc<Shared>,
    request: Request<Incoming>,
    pod: &Value,
    options: ExecOptions,
) -> Result<Response<Body>, ApiError> {
    let name = str_at(pod, "/metadata/name").to_string();
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|c| c.iter().map(|c| str_at(c, "/name").to_string()).collect())
        .unwrap_or_default();
    let container = match &options.container {
        Some(c) if containers.contains(c) => c.clone(),
        Some(c) => return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )))
        }
    };
    if options.command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !(options.stdin || options.stdout || options.stderr) {
        return Err(ApiError::bad_request("you must specify at least 1 of stdin, stdout, stderr"));
    }
    if str_at(pod, "/status/phase") != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{container}\")"
        )));
    }
    let context = PodContext::of(pod, &container, shared.hosts.as_ref());
    let mut shutdown = shared.shutdown.clone();
    if spdy::requested(&request) {
        let protocol = spdy::negotiate(&request)?;
        tokio::spawn(async move {
            let Some(io) = super::portforward::upgraded(request, "exec", &name).await else { return };
            tracing::info!(pod = %name, command = ?options.command, "lab exec (SPDY)");
            let (stdin, output, run) = start(context, &options);
            let (status_tx, status) = tokio::sync::oneshot::channel();
            let command = options.command.clone();
            tokio::spawn(async move {
                let code = run.await.unwrap_or(1);
                let _ = status_tx.send(exit_status(&command, code).to_string().into_bytes());
            });
            let expected = spdy::expected_streams(options.stdin, options.stdout, options.stderr, options.tty);
            tokio::select! {
                _ = spdy::session(io, expected, stdin, output, status) => {}
                _ = shutdown.changed() => {}
            }
        });
        return Ok(spdy::switching_protocols(protocol));
    }
    let (key, protocol) = negotiate(&request, PROTOCOLS, "exec")?;
    tokio::spawn(async move {
        let Some(io) = super::portforward::upgraded(request, "exec", &name).await else { return };
        let socket = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        tracing::info!(pod = %name, command = ?options.command, "lab exec");
        tokio::select! {
            _ = session(socket, context, options) => {}
            _ = shutdown.changed() => {}
        }
    });
    Ok(switching_protocols(&key, protocol))
}

type Started = (Option<mpsc::Sender<Vec<u8>>>, mpsc::Receiver<(u8, Vec<u8>)>, tokio::task::JoinHandle<i32>);

/// Runs the command: where its stdin goes (when asked for), what it writes, its exit code.
fn start(context: PodContext, options: &ExecOptions) -> Started {
    let (stdin_tx, stdin_rx) = mpsc::channel::<Vec<u8>>(16);
    let (out_tx, out_rx) = mpsc::channel::<(u8, Vec<u8>)>(32);
    let command = options.command.clone();
    let stdin = options.stdin.then_some(stdin_rx);
    let run = tokio::spawn(async move { pod_shell::run(&context, &command, stdin, out_tx).await });
    (options.stdin.then_some(stdin_tx), out_rx, run)
}

async fn session(socket: Socket, context: PodContext, options: ExecOptions) {
    let (mut sink, mut stream) = socket.split();
    let (mut stdin_tx, mut out_rx, run) = start(context, &options);
    // Reading on: stdin for the command, and the protocol's control frames (pongs are answered while reading).
    let reader = tokio::spawn(async move {
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Binary(bytes)) if !bytes.is_empty() => match bytes[0] {
                    STDIN => {
                        if let Some(tx) = &stdin_tx {
                            if tx.send(bytes[1..].to_vec()).await.is_err() {
                                // The command reads no more: what comes is dropped.
                                stdin_tx = None;
                            }
                        }
                    }
                    CLOSE if bytes.get(1) == Some(&STDIN) => stdin_tx = None,
                    _ => {}
                },
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    while let Some((channel, data)) = out_rx.recv().await {
        let channel = if options.tty && channel == STDERR { STDOUT } else { channel };
        let wanted = match channel {
            STDOUT => options.stdout,
            STDERR => options.stderr,
            _ => true,
        };
        if wanted && sink.send(frame(channel, &data)).await.is_err() {
            break;
        }
    }
    let code = run.await.unwrap_or(1);
    let status = exit_status(&options.command, code).to_string();
    let _ = sink.send(frame(STATUS, status.as_bytes())).await;
    // A normal closure: client-go takes any other (even one without a code) for a broken stream.
    let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    let _ = sink.send(Message::Close(Some(normal))).await;
    // The client answers the close; then the connection ends.
    let mut reader = reader;
    if tokio::time::timeout(Duration::from_secs(2), &mut reader).await.is_err() {
        reader.abort();
    }
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_status_reads_as_the_kubelet_writes_it() {
        let command = ["test".to_string(), "-e".into(), "/nope".into()];
        assert_eq!(exit_status(&command, 0), json!({"metadata": {}, "status": "Success"}));
        let failed = exit_status(&command, 1);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0], json!({"reason": "ExitCode", "message": "1"}));
        assert!(failed["message"].as_str().unwrap_or("").starts_with("command terminated with non-zero exit code: "));
        assert_eq!(exit_status(&command, 300)["details"]["causes"][0]["message"], "255");
    }
}
