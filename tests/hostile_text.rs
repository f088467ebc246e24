//! Text from a cluster in trouble is not ours: a condition message, a node or
//! CSR name, a requestor, a HostedCluster's key can carry escape sequences,
//! newlines and direction marks. Real objects (the referee's, captured from a
//! single-node OCP cluster) are served with such text written into every
//! field the console shows; the screen, the headless commands, the terminal's
//! title and the log must show it escaped and never carry it.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use common::fixture_api::FixtureApi;
use common::*;
use etcd_console::app::{App, View};
use etcd_console::cli::Cli;
use etcd_console::ui::{self, Theme};
use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// An OSC that would retitle the terminal, a clear screen, a forged line, a
/// right-to-left override and a C1 CSI.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nforged line\u{202e}dlrow\u{9b}31m";
/// How the console shows it (cut or not, this part always shows).
const SHOWN: &str = "\\e]0;pwned\\x07\\e[2J";

fn unsafe_chars(text: &str) -> Vec<char> {
    text.chars().filter(|c| *c != '\n' && etcd_console_core::units::is_unsafe_char(*c)).collect()
}

/// The referee's objects of a real single-node cluster, with hostile text in every field shown.
fn hostile_objects(to: &Path) -> PathBuf {
    let from = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/referee/openshift/sno-2023-03-09T14-31-10Z");
    std::fs::create_dir_all(to).unwrap();
    let mut extra = Vec::new();
    for entry in std::fs::read_dir(&from).unwrap() {
        let path = entry.unwrap().path();
        let mut object: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if let Some(conditions) = object["status"]["conditions"].as_array_mut() {
            for condition in conditions {
                let message = condition["message"].as_str().unwrap_or_default().to_string();
                condition["message"] = json!(format!("{HOSTILE} {message}"));
            }
        }
        if let Some(nodes) = object["status"]["nodeStatuses"].as_array_mut() {
            for node in nodes {
                node["nodeName"] = json!(format!("node{HOSTILE}"));
            }
        }
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "OpenShiftAPIServer" => {
                // A long message: cut where it is shown.
                for condition in object["status"]["conditions"].as_array_mut().unwrap() {
                    if condition["type"] == "Encrypted" {
                        condition["message"] = json!(format!("{HOSTILE}{}", "A".repeat(10_000)));
                    }
                }
            }
            "CertificateSigningRequest" if object["metadata"]["name"] == "csr-c7mw4" => {
                let mut evil = object.clone();
                evil["metadata"]["name"] = json!(format!("csr-{HOSTILE}"));
                evil["metadata"]["uid"] = json!("00000000-0000-0000-0000-00000000e711");
                evil["spec"]["username"] = json!(format!("system:node:{HOSTILE}"));
                extra.push(("certificatesigningrequest.certificates.k8s.io.evil".to_string(), evil));
            }
            "HostedCluster" => {
                let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
                object["metadata"]["namespace"] = json!(format!("{namespace}{HOSTILE}"));
                if let Some(kms) = object["spec"]["secretEncryption"]["kms"]["aws"]["activeKey"].as_object_mut() {
                    kms.insert("arn".into(), json!(format!("arn{HOSTILE}")));
                }
            }
            _ => {}
        }
        std::fs::write(to.join(path.file_name().unwrap()), serde_json::to_vec(&object).unwrap()).unwrap();
    }
    for (stem, object) in extra {
        std::fs::write(to.join(format!("{stem}.json")), serde_json::to_vec(&object).unwrap()).unwrap();
    }
    to.to_path_buf()
}

/// The console's OpenShift side as its watch fills it from `kubeconfig`, once every kind arrived.
async fn watched(kubeconfig: &Path) -> App {
    let cli = Cli::try_parse_from(["etcd-console", "--kubeconfig", &path_str(kubeconfig)]).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (connection_tx, _connection_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(etcd_console_core::openshift::watch::run(cli.kube.settings(), tx, connection_tx));
    let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), Instant::now());
    let mut seen: Vec<Watched> = Vec::new();
    loop {
        let complete = [Watched::ClusterOperators, Watched::Csrs].iter().all(|w| seen.contains(w));
        let quiet = if complete { Duration::from_secs(1) } else { Duration::from_secs(30) };
        let event = match tokio::time::timeout(quiet, rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the watch ended"),
            Err(_) if complete => break,
            Err(_) => panic!("the watch never delivered every kind: {seen:?}"),
        };
        match &event {
            OpenShiftEvent::Objects { what, .. } => seen.push(*what),
            OpenShiftEvent::Csrs { .. } => seen.push(Watched::Csrs),
            _ => {}
        }
        app.openshift.on_event(event);
    }
    task.abort();
    app.wall_clock = Some(SystemTime::now());
    app
}

fn render(app: &mut App, view: View) -> String {
    app.view = view;
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app, Theme { color: true }, Instant::now())).unwrap();
    let buffer = terminal.backend().buffer();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_text_in_every_shown_field_is_escaped_on_screen_in_output_and_in_the_log() {
    let lab = lab(3, 64 << 20).await;
    let objects = hostile_objects(&lab.dir.join("hostile"));
    let api = FixtureApi::serve(&objects, &lab.dir.join("hostile-api"));

    // The screens, drawn from what the watch read: every hostile field escaped where it is drawn
    // (no cell left for the last guard to blank), the forged line never a line of its own.
    let mut app = watched(&api.kubeconfig).await;
    for view in [View::OpenShift, View::Csrs, View::Member] {
        let screen = render(&mut app, view);
        assert!(unsafe_chars(&screen).is_empty(), "{view:?}: {:?}\n{screen}", unsafe_chars(&screen));
        assert!(!screen.contains('\u{fffd}'), "{view:?}: a field drawn unescaped\n{screen}");
        assert!(!screen.lines().any(|l| l.trim_start().starts_with("forged line")), "{view:?}\n{screen}");
        if view != View::Member {
            assert!(screen.contains(SHOWN), "{view:?}: the escaped text is shown\n{screen}");
        }
    }
    let openshift = render(&mut app, View::OpenShift);
    assert!(openshift.contains("bytes cut]"), "the 10,000-byte message is cut and says so\n{openshift}");
    let csrs = render(&mut app, View::Csrs);
    assert!(csrs.contains("csr-\\e]0;pw"), "the name, escaped, cut to its column\n{csrs}");

    // The headless commands: text with the escapes shown, JSON with the exact values.
    let logs = lab.dir.join("console-logs");
    let run = |args: &[&str]| {
        let mut command = Command::new(console_bin());
        command.args(args).arg("--kubeconfig").arg(&api.kubeconfig).arg("--log-dir").arg(&logs);
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
        for (name, value) in lab.env() {
            command.env(name, value);
        }
        run_with_limit(command, Duration::from_secs(60))
    };
    for args in [&["status"][..], &["csr", "list"], &["encryption", "status"]] {
        let out = run(args);
        let (text, errors) = (stdout(&out), stderr(&out));
        assert!(!errors.contains("panicked"), "{args:?}: {errors}");
        assert!(unsafe_chars(&text).is_empty(), "{args:?} stdout: {:?}\n{text}", unsafe_chars(&text));
        assert!(unsafe_chars(&errors).is_empty(), "{args:?} stderr: {:?}\n{errors}", unsafe_chars(&errors));
        assert!(!text.lines().any(|l| l.starts_with("forged line")), "{args:?}\n{text}");
    }
    let listed = run(&["csr", "list"]);
    assert!(stdout(&listed).contains("csr-\\e]0;pwned"), "{}", stdout(&listed));
    let json_list = run(&["csr", "list", "-o", "json"]);
    let raw = stdout(&json_list);
    assert!(!raw.contains('\u{1b}'), "JSON escapes its own");
    let report: Value = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}: {raw}"));
    let evil: Vec<&Value> = report["csrs_pending"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"].as_str().is_some_and(|n| n.starts_with("csr-\u{1b}")))
        .collect();
    assert_eq!(evil.len(), 1, "{raw}");
    assert_eq!(evil[0]["name"], format!("csr-{HOSTILE}"), "the exact name, for scripts");
    assert_eq!(evil[0]["class"], "unexpected", "{}", evil[0]);

    // The console on a real terminal: the pane keeps its title, the text shows escaped.
    let command = with_lab_env(
        &lab,
        &format!(
            "KUBECONFIG={} {} --view openshift --log-dir {}; echo CONSOLE-EXITED $?; sleep 30",
            api.kubeconfig.display(),
            console_bin().display(),
            logs.display()
        ),
    );
    let tmux = Tmux::start("hostile", 200, 60, &command);
    let before = tmux.pane_title();
    let screen = tmux.wait_for("the escaped text", Duration::from_secs(30), |s| s.contains(SHOWN));
    assert!(!screen.lines().any(|l| l.trim_start().starts_with("forged line")), "{screen}");
    tmux.keys(&["Tab"]);
    tmux.wait_for("the CSR view", Duration::from_secs(10), |s| s.contains("csr-\\e]0;pw"));
    assert!(!tmux.pane_title().contains("pwned"), "the terminal was retitled: {}", tmux.pane_title());
    assert_eq!(tmux.pane_title(), before);
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", Duration::from_secs(30), |s| s.contains("CONSOLE-EXITED 0"));

    // The log: one line per event, no escape in it.
    let mut lines = 0;
    for entry in std::fs::read_dir(&logs).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(unsafe_chars(&text).is_empty(), "{:?}\n{text}", unsafe_chars(&text));
        for line in text.lines() {
            lines += 1;
            assert!(line.starts_with("20"), "every line starts with its time: {line}");
        }
    }
    assert!(lines > 0, "the runs were logged");
}
