//! The one place integration tests start real etcd clusters and run the real
//! binaries (etcd-console, etcdctl, tmux). Clusters are the lab's: TLS on
//! loopback, free ports, own data dirs, torn down when the Lab drops.
#![allow(dead_code, clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod fixture_api;

use etcd_console_lab::{Lab, LabOptions};
use serde_json::Value;

pub fn console_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_etcd-console"))
}

/// The etcd server the tests run: 3.5 (as scripts/setup.sh installs it) when
/// `ETCD_CONSOLE_ETCD_VERSION=3.5`, else Debian's 3.4. The same variable makes the
/// console's `lab` subcommand, which tests start, take the same release.
pub fn etcd_bin() -> PathBuf {
    match std::env::var("ETCD_CONSOLE_ETCD_VERSION").ok().as_deref().map(str::trim) {
        None | Some("") | Some("3.4") => PathBuf::from("/usr/bin/etcd"),
        Some(text) => {
            let version = text.parse().unwrap_or_else(|e| panic!("ETCD_CONSOLE_ETCD_VERSION: {e}"));
            etcd_console_lab::installed_etcd(version).unwrap_or_else(|e| panic!("{e}"))
        }
    }
}

/// The etcdctl of the release under test: the referee speaks the members' own version.
pub fn etcdctl_bin() -> PathBuf {
    let beside = etcd_bin().with_file_name("etcdctl");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("etcdctl")
    }
}

/// The lab's defaults, on the etcd release under test.
pub fn lab_options() -> LabOptions {
    LabOptions { etcd_bin: etcd_bin(), ..LabOptions::default() }
}

/// A real cluster of `members` etcd members with TLS.
pub async fn lab(members: u8, quota_bytes: u64) -> Lab {
    let options = LabOptions { members, quota_bytes, ..lab_options() };
    match Lab::start(options).await {
        Ok(lab) => lab,
        Err(e) => panic!("the test cluster did not start: {e}"),
    }
}

/// Runs a command, killing it if it outlives `limit` (a hang fails the test
/// instead of stalling CI). Output is read as it comes, so a large one
/// cannot fill the pipe and stall the command.
pub fn run_with_limit(mut command: Command, limit: Duration) -> Output {
    use std::io::Read;
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => panic!("cannot run {command:?}: {e}"),
    };
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("{command:?} did not finish within {limit:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {command:?}: {e}"),
        }
    };
    Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}

/// `etcd-console ARGS` with the lab's ETCDCTL_* environment.
pub fn console(lab: &Lab, args: &[&str]) -> Output {
    let mut command = Command::new(console_bin());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir());
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
    run_with_limit(command, Duration::from_secs(60))
}

/// The real etcdctl against the lab.
pub fn etcdctl(lab: &Lab, args: &[&str]) -> Output {
    let mut command = Command::new(etcdctl_bin());
    command.args(args);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    run_with_limit(command, Duration::from_secs(30))
}

/// The real etcdctl against one member of the lab (`snapshot save` takes exactly one).
pub fn etcdctl_at(lab: &Lab, endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(etcdctl_bin());
    command.args(args);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.env("ETCDCTL_ENDPOINTS", endpoint);
    run_with_limit(command, Duration::from_secs(60))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(output: &Output) -> serde_json::Value {
    match serde_json::from_slice(&output.stdout) {
        Ok(value) => value,
        Err(e) => panic!("not JSON ({e}): {}\nstderr: {}", stdout(output), stderr(output)),
    }
}

/// The `name` of every alert in a `status -o json` report.
pub fn alert_names(report: &serde_json::Value) -> Vec<String> {
    let alerts = report["alerts"].as_array().cloned().unwrap_or_default();
    alerts.iter().map(|a| a["name"].as_str().unwrap_or_default().to_string()).collect()
}

/// A tmux server of the test's own, so parallel tests never share one.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let socket = format!("ecl-{}-{name}", std::process::id());
        let tmux = Tmux { socket };
        let status = Command::new("tmux")
            .args([
                "-L",
                &tmux.socket,
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
                command,
            ])
            .status();
        assert!(matches!(status, Ok(s) if s.success()), "tmux did not start: {status:?}");
        tmux
    }

    pub fn screen(&self) -> String {
        let output = Command::new("tmux").args(["-L", &self.socket, "capture-pane", "-p", "-t", "main"]).output();
        output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    /// The process id of the pane's command (the shell running the console).
    pub fn pane_pid(&self) -> Option<u32> {
        let output =
            Command::new("tmux").args(["-L", &self.socket, "list-panes", "-t", "main", "-F", "#{pane_pid}"]).output();
        output.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
    }

    /// The pane's title (what an OSC 0/2 sequence written to the terminal would change).
    pub fn pane_title(&self) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "display-message", "-p", "-t", "main", "#{pane_title}"])
            .output();
        output.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default()
    }

    pub fn keys(&self, keys: &[&str]) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "send-keys", "-t", "main"]).args(keys).status();
    }

    /// Pastes `text` as a terminal does: inside bracketed-paste marks when the program asked for them.
    pub fn paste(&self, text: &str) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "set-buffer", "-b", "pasted", text]).status();
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "paste-buffer", "-p", "-b", "pasted", "-t", "main"])
            .status();
    }

    /// Waits until the screen satisfies `check`; panics with the screen after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen();
            if check(&screen) {
                // The screen as it stands once the frame being written is whole: the same check on a
                // capture a moment later (a capture can fall in the middle of a frame's bytes).
                std::thread::sleep(Duration::from_millis(150));
                let settled = self.screen();
                if check(&settled) {
                    return settled;
                }
            }
            if Instant::now() > deadline {
                panic!("waited {limit:?} for {what}; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}

/// A shell command line that exports the lab's environment, then runs `command`.
pub fn with_lab_env(lab: &Lab, command: &str) -> String {
    let exports: Vec<String> = lab.env().into_iter().map(|(k, v)| format!("export {k}='{v}';")).collect();
    // Never the machine's own cluster: only a KUBECONFIG the test names itself.
    format!("unset KUBECONFIG; {} {command}", exports.join(" "))
}

pub fn path_str(path: &Path) -> String {
    path.display().to_string()
}

/// A lab started in `scenario` (a built-in name), its operators `speed` times real time.
pub async fn lab_scenario(scenario: &str, speed: f64) -> Lab {
    let scenario = match etcd_console_lab::scenario::Scenario::load(scenario) {
        Ok(scenario) => scenario,
        Err(e) => panic!("{e}"),
    };
    let quota_bytes = scenario.quota_bytes().ok().flatten().unwrap_or(etcd_console_core::settings::DEFAULT_QUOTA_BYTES);
    let options = LabOptions { scenario, speed, quota_bytes, ..lab_options() };
    match Lab::start(options).await {
        Ok(lab) => lab,
        Err(e) => panic!("the lab did not start: {e}"),
    }
}

/// The real kubectl against the lab's simulated API (its own discovery cache).
pub fn kubectl(lab: &Lab, args: &[&str]) -> Output {
    let mut command = Command::new("kubectl");
    command.args(args);
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("the lab runs no API"));
    command.env("KUBECONFIG", kubeconfig).env("KUBECACHEDIR", lab.dir.join("kube-cache"));
    run_with_limit(command, Duration::from_secs(30))
}

/// kubectl's stdout, failing the test (with stderr) if kubectl failed.
pub fn kubectl_ok(lab: &Lab, args: &[&str]) -> String {
    let output = kubectl(lab, args);
    assert!(output.status.success(), "kubectl {args:?} failed: {}{}", stdout(&output), stderr(&output));
    stdout(&output)
}

/// Polls `probe` until it returns Some, or fails the test with `what` after `limit`.
pub fn eventually<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("waited {limit:?} for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first column of each line after the header: the NAMEs `kubectl get` printed.
pub fn names(table: &str) -> Vec<String> {
    table.lines().skip(1).filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect()
}

/// A shell command line that runs the console on the lab's members and API
/// (`extra` flags after it), then says how it exited and lingers for the test to read.
pub fn console_on_lab(lab: &Lab, extra: &str) -> String {
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("the lab runs no API"));
    with_lab_env(
        lab,
        &format!(
            "KUBECONFIG={} {} {extra} --log-dir {}; echo CONSOLE-EXITED $?; sleep 60",
            kubeconfig.display(),
            console_bin().display(),
            lab.dir.join("tui-logs").display()
        ),
    )
}

/// A copy of the lab's kubeconfig whose server is a closed loopback port.
pub fn kubeconfig_pointing_nowhere(lab: &Lab) -> PathBuf {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = closed.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("{e}"));
    drop(closed);
    let text = std::fs::read_to_string(lab.kubeconfig.as_ref().unwrap_or_else(|| panic!("no API")))
        .unwrap_or_else(|e| panic!("{e}"));
    let server = text.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap_or_default().to_string();
    let elsewhere = lab.dir.join("elsewhere.kubeconfig");
    std::fs::write(&elsewhere, text.replace(&server, &format!("https://127.0.0.1:{port}")))
        .unwrap_or_else(|e| panic!("{e}"));
    elsewhere
}

/// Runs `ours` between two readings of `referee` until both readings agree (the
/// cluster stood still for it): a fair comparison of live figures. Returns what
/// `ours` gave and the referee's reading.
pub fn while_standing_still<T>(
    referee: impl Fn() -> serde_json::Value,
    mut ours: impl FnMut() -> T,
) -> (T, serde_json::Value) {
    for _ in 0..10 {
        let before = referee();
        let value = ours();
        if referee() == before {
            return (value, before);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the cluster never stood still for one reading");
}

/// Pauses (`Some("true")` or a date) or resumes (`None`) the hosted lab's
/// HostedCluster with kubectl, as the runbook does.
pub fn set_hosted_paused(lab: &Lab, until: Option<&str>) {
    let patch = serde_json::json!({"spec": {"pausedUntil": until}}).to_string();
    kubectl_ok(lab, &["patch", "-n", "clusters", "hostedclusters/hosted", "-p", &patch, "--type=merge"]);
}

/// One member of `status -o json` against the same member's `Status` in
/// `etcdctl endpoint status -w json`: ID, sizes, raft position, version,
/// leadership, health, no error. `what` names it in failures.
pub fn assert_member_equals_etcdctl(member: &serde_json::Value, status: &serde_json::Value, what: &str) {
    assert!(member["error"].is_null(), "{what}: {member}");
    let id = status["header"]["member_id"].as_u64().unwrap_or_default();
    assert_eq!(member["id"], format!("{id:x}"), "{what} ID");
    assert_eq!(member["db_size_bytes"], status["dbSize"], "{what} DB size");
    assert_eq!(member["db_size_in_use_bytes"], status["dbSizeInUse"], "{what} in use");
    assert_eq!(member["raft_index"], status["raftIndex"], "{what} raft index");
    assert_eq!(member["raft_term"], status["raftTerm"], "{what} raft term");
    assert_eq!(member["version"], status["version"], "{what} version");
    assert_eq!(member["is_leader"], status["leader"] == status["header"]["member_id"], "{what} leader");
    assert_eq!(member["healthy"], true, "{what} health");
}

/// When each member started and finished defragmenting, from its etcd log.
pub fn defrag_spans(lab: &Lab) -> Vec<(String, std::time::SystemTime, std::time::SystemTime)> {
    let mut spans = Vec::new();
    for member in &lab.members {
        let log = std::fs::read_to_string(&member.log).unwrap();
        let mut start = None;
        for line in log.lines() {
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let at = || humantime::parse_rfc3339(entry["ts"].as_str().unwrap()).unwrap();
            match entry["msg"].as_str() {
                Some("starting defragment") => start = Some(at()),
                Some("finished defragment") => spans.push((member.name.clone(), start.take().unwrap(), at())),
                _ => {}
            }
        }
        assert!(start.is_none(), "{} never finished its defrag", member.name);
    }
    spans.sort_by_key(|(_, start, _)| *start);
    spans
}

/// `etcd-console ARGS --kubeconfig K`, with no etcd flag or ETCDCTL_* variable at all.
pub fn console_with_kubeconfig_only(lab: &Lab, kubeconfig: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(console_bin());
    command
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--log-dir")
        .arg(lab.dir.join("discovery-logs"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", lab.dir.join("home"));
    run_with_limit(command, Duration::from_secs(60))
}

/// Spawns `command` with its stdout read line by line on a thread of its own.
pub fn spawn_with_lines(mut command: Command) -> (Child, std::sync::mpsc::Receiver<String>) {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child: Child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Runs `command` (a wizard run with `-o json`) and kills it once it has begun step `at`.
pub fn kill_when(command: Command, at: &str) {
    let (mut child, rx) = spawn_with_lines(command);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = Err(format!("step {at} never began"));
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if value["event"] == "step" && value["id"] == at {
            seen = Ok(());
            break;
        }
        if value["event"] == "outcome" {
            seen = Err(format!("the run ended before step {at}: {line}"));
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen.unwrap_or_else(|e| panic!("{e}"));
}

/// `etcd-console ARGS` as an SRE runs it after `source lab.env`, as the kubeconfig's `context`,
/// with the journal and logs in the lab's directory.
pub fn sre_command(lab: &Lab, context: &str, args: &[&str]) -> Command {
    let mut command = lab_console(lab, args, "console-logs");
    command.env("ETCD_CONSOLE_LAB_DIR", &lab.dir);
    command.args(["--context", context, "--journal-dir"]).arg(lab.dir.join("journal"));
    command
}

/// `etcd-console ARGS` with nothing of the machine's environment but PATH: the lab's ETCDCTL_*
/// variables, its kubeconfig (when it runs an API), HOME in the lab, and its log in `logs`
/// under the lab's directory.
pub fn lab_console(lab: &Lab, args: &[&str], logs: &str) -> Command {
    let mut command = Command::new(console_bin());
    command.args(args);
    command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default()).env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    if let Some(kubeconfig) = &lab.kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    command.arg("--log-dir").arg(lab.dir.join(logs));
    command
}

/// As [`kill_after`]; Err with the lines when the run ended (or stalled for 120 s) first.
pub fn try_kill_after(command: Command, mut at: impl FnMut(&Value) -> bool) -> Result<Vec<Value>, Vec<Value>> {
    let (mut child, rx) = spawn_with_lines(command);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    let mut reached = false;
    while Instant::now() < deadline {
        let line = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => line,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            // Its stdout closed: it ended.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let value: Value = serde_json::from_str(&line).unwrap_or_default();
        seen.push(value.clone());
        if at(&value) {
            reached = true;
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    if reached {
        Ok(seen)
    } else {
        Err(seen)
    }
}

/// The journal kept under a dated name when `prefix`'s last run finished: every line whole JSON.
pub fn kept_journal(lab: &Lab, prefix: &str) -> Vec<Value> {
    let dir = lab.dir.join("journal");
    let mut kept: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(&format!("{prefix}-")) && name.ends_with(".jsonl")
        })
        .collect();
    kept.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).unwrap());
    let newest = kept.last().unwrap_or_else(|| panic!("no journal of {prefix} in {}", dir.display()));
    let text = std::fs::read_to_string(newest).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a torn line in {}: {e}: {l}", newest.display())))
        .collect()
}

/// Over the journal's records, in order: once `done`, no step ran again (a step killed while it
/// ran is re-checked and may run again; one that ended is never redone), and each ended done or
/// skipped. The steps' ids.
pub fn assert_each_step_done_once(records: &[Value]) -> Vec<String> {
    let last = &records.last().unwrap()["run"];
    let ids: Vec<String> =
        last["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    for (at, id) in ids.iter().enumerate() {
        let states: Vec<&str> = records.iter().filter_map(|r| r["run"]["records"][at]["state"].as_str()).collect();
        if let Some(done) = states.iter().position(|s| *s == "done") {
            assert!(states[done..].iter().all(|s| *s == "done"), "step {id} ran again once done: {states:?}");
        }
        let end = states.last().copied().unwrap_or("");
        assert!(end == "done" || end == "skipped", "step {id} ended {end}: {states:?}");
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// The hosted restore rehearsal (tests/restore.rs, tests/crash_steps.rs)

/// `etcdctl ARGS` against one member alone, reading its own copy (serializable).
pub fn etcdctl_on(lab: &Lab, member: usize, args: &[&str]) -> Output {
    etcdctl_at(lab, &lab.members[member].client_url, args)
}

/// A hosted lab with keys written, a snapshot of them taken, then more written and two deleted.
pub async fn hosted_lab_with_backup() -> (Lab, PathBuf) {
    let lab = lab_scenario("hosted", 300.0).await;
    for i in 0..5 {
        assert!(etcdctl(&lab, &["put", &format!("before-{i}"), "v"]).status.success());
    }
    let dir = lab.dir.join("hosted-backup");
    std::fs::create_dir_all(&dir).unwrap();
    let snapshot = dir.join("snapshot_2026-12-02_010203.db");
    let saved = etcdctl_on(&lab, 0, &["snapshot", "save", &path_str(&snapshot)]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    for i in 0..5 {
        assert!(etcdctl(&lab, &["put", &format!("after-{i}"), "v"]).status.success());
    }
    for key in ["before-0", "before-1"] {
        assert!(etcdctl(&lab, &["del", key]).status.success());
    }
    (lab, dir)
}

/// `etcd-console ARGS --backup DIR --hosted-cluster clusters/hosted -o json`, its etcd found
/// through the management cluster as an SRE would have it (no ETCDCTL_ENDPOINTS).
pub fn hosted_command(lab: &Lab, dir: &Path, args: &[&str]) -> Command {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--backup", dir.to_str().unwrap(), "--hosted-cluster", "clusters/hosted", "-o", "json"]);
    let mut command = sre_command(lab, "lab-admin-cert", &all);
    command.env_remove("ETCDCTL_ENDPOINTS");
    command
}

pub fn hosted_volumes(lab: &Lab) -> String {
    kubectl_ok(lab, &["get", "pvc", "-n", "clusters-hosted", "-o", "jsonpath={.items[*].spec.volumeName}"])
}

/// What a finished hosted restore leaves, refereed by etcdctl and kubectl.
pub fn assert_hosted_restored(lab: &Lab, volumes_before: &str) {
    // etcdctl, member by member: the backup's keys (the deleted ones too), none written after it.
    for member in 0..3 {
        let keys = stdout(&etcdctl_on(lab, member, &["get", "--consistency=s", "--prefix", "", "--keys-only"]));
        for i in 0..5 {
            assert!(keys.contains(&format!("before-{i}")), "member {member}: {keys}");
            assert!(!keys.contains(&format!("after-{i}")), "member {member}: {keys}");
        }
    }
    let members = stdout(&etcdctl(lab, &["member", "list"]));
    assert_eq!(members.lines().filter(|l| l.contains(", started,")).count(), 3, "{members}");
    let health = etcdctl(lab, &["endpoint", "health"]);
    assert!(health.status.success(), "{}{}", stdout(&health), stderr(&health));
    let status: Value = serde_json::from_str(&stdout(&etcdctl(lab, &["endpoint", "status", "-w", "json"]))).unwrap();
    let revisions: Vec<i64> =
        status.as_array().unwrap().iter().map(|s| s["Status"]["header"]["revision"].as_i64().unwrap()).collect();
    assert!(revisions.len() == 3 && revisions.iter().all(|r| *r == revisions[0]), "{revisions:?}");
    // kubectl: reconciliation resumed, the API servers at 3, etcd at 3, no helper left, the same volumes.
    let paused =
        kubectl_ok(lab, &["get", "hostedcluster", "-n", "clusters", "hosted", "-o", "jsonpath={.spec.pausedUntil}"]);
    assert_eq!(paused.trim(), "");
    for writer in ["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"] {
        let ready = kubectl_ok(
            lab,
            &["get", "deployment", "-n", "clusters-hosted", writer, "-o", "jsonpath={.status.readyReplicas}"],
        );
        assert_eq!(ready.trim(), "3", "{writer}");
    }
    let scale =
        kubectl_ok(lab, &["get", "statefulset", "-n", "clusters-hosted", "etcd", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(scale.trim(), "3", "etcd's StatefulSet scaled back");
    let deployments = kubectl_ok(lab, &["get", "deployments", "-n", "clusters-hosted", "-o", "name"]);
    assert!(!deployments.contains("etcd-data"), "{deployments}");
    let running = kubectl_ok(
        lab,
        &[
            "get",
            "pods",
            "-n",
            "clusters-hosted",
            "-l",
            "app=etcd",
            "--field-selector=status.phase=Running",
            "-o",
            "name",
        ],
    );
    assert_eq!(running.lines().count(), 3, "{running}");
    assert_eq!(hosted_volumes(lab), volumes_before, "the members' volumes were restored into, not replaced");
}

/// `etcdctl move-leader TO_HEX` asked at `endpoint` (the leader). Flags, not ETCDCTL_ variables:
/// etcdctl 3.5.1's move-leader reads its environment twice and then refuses it as shadowed by
/// its own flags.
pub fn move_leader(lab: &Lab, endpoint: &str, to_hex: &str) -> Output {
    let mut command = Command::new(etcdctl_bin());
    command.args(["--endpoints", endpoint]);
    command.args(["--cacert", &path_str(&lab.pki.ca), "--cert", &path_str(&lab.pki.client.cert)]);
    command.args(["--key", &path_str(&lab.pki.client.key), "move-leader", to_hex]);
    for (name, _) in lab.env() {
        command.env_remove(name);
    }
    run_with_limit(command, Duration::from_secs(30))
}
