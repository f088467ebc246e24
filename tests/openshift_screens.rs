//! Whole-screen snapshots of the OpenShift and CSR views fed by the real watch
//! against the lab's scenarios: what an SRE sees for a healthy cluster, just
//! after a restore, during an encryption migration, and under a CSR flood.
//! Ages, the lab's random port and its redeployment timestamps are the only
//! things masked. No member is fed in: the members' own panes (random IDs,
//! live sizes) have their snapshots in the UI tests and are refereed by etcdctl.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use common::*;
use etcd_console::app::{App, View};
use etcd_console::cli::Cli;
use etcd_console::ui::{self, Theme};
use etcd_console_core::openshift::watch::{OpenShiftEvent, Watched};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

/// The OpenShift side of the console as the watch fills it, once every kind
/// has arrived and nothing changed for a second.
async fn watched(scenario: &str) -> App {
    let lab = lab_scenario(scenario, 1.0).await;
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("no API"));
    let cli = Cli::try_parse_from(["etcd-console", "--kubeconfig", &path_str(&kubeconfig)]).unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (connection_tx, _connection_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(etcd_console_core::openshift::watch::run(cli.kube.settings(), tx, connection_tx));
    let mut app = App::new("lab".into(), 8 << 30, Duration::from_secs(2), Instant::now());
    let mut seen: Vec<Watched> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let complete = Watched::SINGLETONS
            .iter()
            .chain(&[Watched::ClusterOperators, Watched::Csrs, Watched::Nodes])
            .all(|w| seen.contains(w));
        let quiet = if complete { Duration::from_secs(1) } else { Duration::from_secs(30) };
        let event = match tokio::time::timeout(quiet, rx.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => panic!("the watch ended"),
            Err(_) if complete => break,
            Err(_) => panic!("the watch never delivered every kind: {seen:?}"),
        };
        assert!(Instant::now() < deadline, "the {scenario} lab never stood still");
        let event = match event {
            OpenShiftEvent::Objects { what, objects, at } => {
                seen.push(what);
                OpenShiftEvent::Objects { what, objects, at }
            }
            OpenShiftEvent::Csrs { pending, at } => {
                seen.push(Watched::Csrs);
                OpenShiftEvent::Csrs { pending, at }
            }
            // The lab's port changes from run to run.
            OpenShiftEvent::Connected { .. } => {
                OpenShiftEvent::Connected { server: "https://api.lab.example:6443".into() }
            }
            other => other,
        };
        app.openshift.on_event(event);
    }
    task.abort();
    // As the event loop does after the watches' events (the quorum guard's badge comes from here).
    app.refresh_quotas();
    app.wall_clock = Some(SystemTime::now());
    app
}

fn render(app: &mut App, view: View, width: u16, height: u16) -> String {
    render_at(app, view, width, height, Instant::now())
}

/// As [`render`], at `now` (the members' fixture's plot is drawn against it).
fn render_at(app: &mut App, view: View, width: u16, height: u16, now: Instant) -> String {
    app.view = view;
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app, Theme { color: true }, now)).unwrap();
    format!("{}", terminal.backend())
}

/// Ages ("3d20h", "8m", "0s", "for 12s") count from when the test ran.
fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d+(d|h|m|s)(\d+(h|m|s))?\b", "[age]");
    // A forced redeployment's reason is `recovery-$(date --rfc-3339=ns)` of when the lab started.
    settings.add_filter(r"recovery-\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00", "recovery-[time]");
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

async fn snapshot_views(scenario: &str, csr_rows: u16) {
    let mut app = watched(scenario).await;
    let openshift = render(&mut app, View::OpenShift, 130, 40);
    let csrs = render(&mut app, View::Csrs, 130, csr_rows);
    let nodes = render(&mut app, View::Nodes, 130, 30);
    settings().bind(|| {
        insta::assert_snapshot!(format!("{scenario}-openshift"), openshift);
        insta::assert_snapshot!(format!("{scenario}-csrs"), csrs);
        insta::assert_snapshot!(format!("{scenario}-nodes"), nodes);
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn healthy() {
    snapshot_views("healthy", 24).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn post_restore() {
    snapshot_views("post-restore", 30).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn encryption_in_progress() {
    snapshot_views("encryption-in-progress", 24).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn csr_flood() {
    snapshot_views("csr-flood", 40).await;
}

/// The flood as the SRE meets it: the node pane counts what each node has pending, the CSR list
/// says which node each is for; V is refused past the approver's bound (it would approve none).
#[tokio::test(flavor = "multi_thread")]
async fn csr_flood_by_node_at_80x24_and_120x40() {
    use etcd_console::app::keys::Action;
    let mut app = watched("csr-flood").await;
    let nodes_narrow = render(&mut app, View::Nodes, 80, 24);
    let nodes_wide = render(&mut app, View::Nodes, 120, 40);
    let csrs_narrow = render(&mut app, View::Csrs, 80, 24);
    let csrs_wide = render(&mut app, View::Csrs, 120, 40);
    assert!(csrs_narrow.contains("NODE"), "{csrs_narrow}");
    assert!(nodes_narrow.contains("worker-1") && nodes_narrow.contains("1000"), "{nodes_narrow}");
    app.on_action(Action::ApproveAllValid);
    assert!(app.confirm.is_none(), "no bulk approval past the bound");
    assert!(
        app.notice.as_deref().unwrap_or("").contains("past the cluster-machine-approver's bound"),
        "{:?}",
        app.notice
    );
    settings().bind(|| {
        insta::assert_snapshot!("csr-flood-nodes-80x24", nodes_narrow);
        insta::assert_snapshot!("csr-flood-nodes-120x40", nodes_wide);
        insta::assert_snapshot!("csr-flood-csrs-80x24", csrs_narrow);
        insta::assert_snapshot!("csr-flood-csrs-120x40", csrs_wide);
    });
}

/// After a restore: V sums what it approves by node and class, and names the cluster first.
#[tokio::test(flavor = "multi_thread")]
async fn post_restore_approval_by_node_at_80x24_and_120x40() {
    use etcd_console::app::keys::Action;
    let mut app = watched("post-restore").await;
    app.view = View::Csrs;
    app.on_action(Action::ApproveAllValid);
    let confirm = app.confirm.clone().unwrap_or_else(|| panic!("V asked nothing: {:?}", app.notice));
    assert!(confirm.title.starts_with("Approve 4 CSR(s) for 4 node(s)?"), "{}", confirm.title);
    assert!(confirm.lines[0].starts_with("cluster "), "the cluster named first: {:?}", confirm.lines);
    for line in ["  master-1: 1 node-bootstrapper", "  worker-1: 1 kubelet-serving"] {
        assert!(confirm.lines.iter().any(|l| l == line), "{line:?} in {:?}", confirm.lines);
    }
    let narrow = render(&mut app, View::Csrs, 80, 24);
    let wide = render(&mut app, View::Csrs, 120, 40);
    settings().bind(|| {
        insta::assert_snapshot!("post-restore-approve-80x24", narrow);
        insta::assert_snapshot!("post-restore-approve-120x40", wide);
    });
}

/// The members view with its one-glance strip, fed by the real watch (the members are the
/// UI's fixture: three healthy, no backup yet), at 80x24, 120x40 and 200x60.
async fn snapshot_members_view(scenario: &str) {
    let mut app = watched(scenario).await;
    let now = Instant::now();
    app.cluster = etcd_console_core::cluster::fixtures::healthy_cluster(3, now);
    // The plot's axis counts from when the console started: the same for every run.
    app.started = now;
    app.cluster.discovery = etcd_console_core::cluster::Discovery::Known { at: now };
    app.last_backup = Some(None);
    // As the event loop does after a poll: what the watches say of etcd (quota, quorum guard).
    app.refresh_quotas();
    for (width, height) in [(80, 24), (120, 40), (200, 60)] {
        let screen = render_at(&mut app, View::Member, width, height, now);
        // Nothing cut mid-word on the strip: the line under the badges ends before the edge.
        let strip = screen.lines().nth(2).unwrap_or_default().trim_matches('"').trim_end().to_string();
        assert!(strip.chars().count() < usize::from(width), "{strip}");
        settings().bind(|| insta::assert_snapshot!(format!("{scenario}-members-{width}x{height}"), screen));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn post_restore_members_at_a_glance() {
    snapshot_members_view("post-restore").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn encryption_in_progress_members_at_a_glance() {
    snapshot_members_view("encryption-in-progress").await;
}
