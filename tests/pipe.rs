//! A closed pipe is not a crash: every headless command whose output is cut
//! short by its reader (`| head -3`) ends quietly, with the exit code it has
//! when its output is read to the end. Run against the `csr-flood` lab (5,000
//! pending CSRs: more output than a pipe holds).
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;

fn command(lab: &Lab, args: &[&str]) -> Command {
    lab_console(lab, args, "pipe-logs")
}

/// The exit code and stderr with stdout read to the end, then with stdout closed before the
/// first byte is read.
/// `@DIR` in the arguments becomes a new directory for each run (backups are named by the second).
fn both_ways(lab: &Lab, args: &[&str]) -> ((Option<i32>, String), (Option<i32>, String)) {
    let fresh = |run: &str| -> Vec<String> {
        let dir = lab.dir.join(format!("pipe-{run}-{}", args.join("-").replace('/', "_")));
        args.iter().map(|a| if *a == "@DIR" { path_str(&dir) } else { a.to_string() }).collect()
    };
    let whole = run_with_limit(
        {
            let mut c = command(lab, &[]);
            c.args(fresh("whole"));
            c
        },
        Duration::from_secs(120),
    );
    let mut cut = command(lab, &[]);
    cut.args(fresh("cut"));
    cut.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cut.spawn().unwrap();
    // The reader goes away at once: every write the command makes meets a closed pipe.
    drop(child.stdout.take());
    let mut stderr = child.stderr.take().unwrap();
    let drain = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{args:?} hung on a closed pipe");
        std::thread::sleep(Duration::from_millis(20));
    };
    ((whole.status.code(), String::from_utf8_lossy(&whole.stderr).into_owned()), (status.code(), drain.join().unwrap()))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_headless_command_ends_quietly_on_a_closed_pipe_with_its_exit_code() {
    let lab = lab_scenario("csr-flood", 1.0).await;
    let snapshot = lab.dir.join("pipe.db");
    let saved = etcdctl_at(&lab, &lab.members[0].client_url, &["snapshot", "save", &path_str(&snapshot)]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    let snapshot = path_str(&snapshot);
    let member = lab.members[1].name.clone();
    let cases: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["status", "-o", "json"],
        vec!["csr", "list"],
        vec!["csr", "list", "-o", "json"],
        vec!["snapshot", "status", &snapshot],
        vec!["snapshot", "verify", &snapshot, "-o", "json"],
        vec!["snapshot", "analyze", &snapshot],
        vec!["space", "--space-dir", "@DIR"],
        vec!["space", "-o", "json", "--space-dir", "@DIR"],
        vec!["defrag", "--dry-run", "--all", "--journal-dir", "@DIR"],
        vec!["encryption", "status"],
        vec!["encryption", "status", "-o", "json"],
        vec!["member", "plan", &member],
        vec!["backup", "--snapshot-only", "--dir", "@DIR", "-o", "json"],
    ];
    for args in cases {
        let ((code, _), (cut_code, cut_err)) = both_ways(&lab, &args);
        assert!(code.is_some(), "{args:?} ended by a signal");
        assert_eq!(cut_code, code, "{args:?}: the exit code with stdout closed; stderr: {cut_err}");
        assert!(!cut_err.contains("panicked"), "{args:?}: {cut_err}");
        assert!(!cut_err.to_lowercase().contains("broken pipe"), "{args:?}: {cut_err}");
    }
}
