//! `etcd-console defrag` against real etcd clusters (the lab's), refereed by
//! etcdctl and by etcd's own logs: every member's "starting defragment" and
//! "finished defragment" lines give the order, the waits and any overlap.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use etcd_console_lab::Lab;
use serde_json::Value;

fn json_lines(output: &str) -> Vec<Value> {
    output.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn finished(lines: &[Value]) -> &Value {
    lines.iter().find(|l| l["event"] == "finished").unwrap_or_else(|| panic!("no finished line: {lines:?}"))
}

fn done_names(finished: &Value) -> Vec<String> {
    finished["done"].as_array().unwrap().iter().map(|d| d["member"].as_str().unwrap().to_string()).collect()
}

/// `etcdctl endpoint status --cluster -w json`, by member name (through member list).
fn sizes(lab: &Lab) -> Vec<(String, u64)> {
    let out = etcdctl(lab, &["endpoint", "status", "--cluster", "-w", "json"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut sizes: Vec<(String, u64)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s["Status"]["header"]["member_id"].as_u64().unwrap();
            (name_of(lab, id), s["Status"]["dbSize"].as_u64().unwrap())
        })
        .collect();
    sizes.sort();
    sizes
}

fn member_ids(lab: &Lab) -> Vec<(String, u64)> {
    let out = etcdctl(lab, &["member", "list", "-w", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["ID"].as_u64().unwrap()))
        .collect()
}

fn name_of(lab: &Lab, id: u64) -> String {
    member_ids(lab).into_iter().find(|(_, i)| *i == id).map(|(n, _)| n).unwrap()
}

fn defrag_args<'a>(journal: &'a str, wait: &'a str) -> Vec<&'a str> {
    vec!["defrag", "--yes", "-o", "json", "--journal-dir", journal, "--wait", wait, "--i-know-wait-is-short"]
}

/// The binary running in the background, its JSON lines read as they come.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(lab: &Lab, args: &[&str]) -> Running {
        let mut command = Command::new(console_bin());
        command.args(args).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command.env("HOME", std::env::temp_dir()).arg("--log-dir").arg(lab.dir.join("console-logs"));
        for (name, value) in lab.env() {
            command.env(name, value);
        }
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines, seen: Vec::new() }
    }

    /// Waits for a line containing `what`; returns it.
    fn wait_for(&mut self, what: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(what) {
                        return serde_json::from_str(&line).unwrap();
                    }
                }
                Err(_) => panic!("no line with {what} within {limit:?}; seen:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Reads to the end; the exit code and every line.
    fn finish(mut self, limit: Duration) -> (i32, Vec<Value>) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                let lines = self.seen.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
                return (status.code().unwrap_or(-1), lines);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("defrag did not end within {limit:?}; seen:\n{}", self.seen.join("\n"));
            }
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fragmented_cluster_shrinks_member_by_member_the_leader_last_a_wait_apart() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let before = sizes(&lab);
    let journal = lab.dir.join("journal");
    let out = console(&lab, &defrag_args(&path_str(&journal), "3s"));
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    // The default rule is OpenShift's: 96 MiB written, nine tenths deleted, every member qualifies.
    let plan = &lines[0];
    assert_eq!(plan["event"], "plan");
    assert_eq!(plan["steps"].as_array().unwrap().len(), 3, "{plan}");
    assert_eq!(plan["steps"][2]["member"], leader.as_str());
    let finished = finished(&lines);
    assert_eq!(finished["outcome"], "completed");
    let done = done_names(finished);
    assert_eq!(done.last(), Some(&leader), "the leader last: {done:?}");

    // etcdctl sees every member shrink, to the sizes we reported.
    let after = sizes(&lab);
    for ((name, size_before), (_, size_after)) in before.iter().zip(&after) {
        assert!(size_after * 3 < *size_before, "{name}: {size_before} -> {size_after}");
        let ours = finished["done"].as_array().unwrap().iter().find(|d| d["member"] == name.as_str()).unwrap();
        assert_eq!(ours["size_after"].as_u64(), Some(*size_after), "{name}: our size after against etcdctl's");
        assert_eq!(ours["size_before"].as_u64(), Some(*size_before), "{name}: our size before against etcdctl's");
    }

    // etcd's logs: three defrags, one at a time, the leader's last, each at least the wait after the last.
    let spans = defrag_spans(&lab);
    assert_eq!(spans.len(), 3, "{spans:?}");
    assert_eq!(spans[2].0, leader);
    for pair in spans.windows(2) {
        let gap = pair[1].1.duration_since(pair[0].2).unwrap_or_else(|_| panic!("overlap: {pair:?}"));
        assert!(gap >= Duration::from_secs(3), "only {gap:?} between {} and {}", pair[0].0, pair[1].0);
    }
    // The journal is kept under a finished name; no unfinished run is left.
    let kept: Vec<String> = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".jsonl"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].starts_with("defrag-") && kept[0].matches('-').count() > 2, "{kept:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn leadership_moved_during_the_run_puts_the_new_leader_last() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let leader = lab.leader().await.unwrap();
    let journal = path_str(&lab.dir.join("journal"));
    let mut run = Running::start(&lab, &defrag_args(&journal, "6s"));
    let plan = run.wait_for("\"plan\"", Duration::from_secs(30));
    let order: Vec<String> =
        plan["steps"].as_array().unwrap().iter().map(|s| s["member"].as_str().unwrap().to_string()).collect();
    assert_eq!(order[2], lab.members[leader].name);
    let first = run.wait_for("\"defragmented\"", Duration::from_secs(30));
    assert_eq!(first["member"], order[0].as_str());
    // During the wait, the test hands the leadership to the second follower (not done yet).
    let ids = member_ids(&lab);
    let next = ids.iter().find(|(n, _)| *n == order[1]).unwrap().1;
    let moved = common::move_leader(&lab, &lab.members[leader].client_url, &format!("{next:x}"));
    assert!(moved.status.success(), "{}", stderr(&moved));
    let (code, lines) = run.finish(Duration::from_secs(90));
    assert_eq!(code, 0, "{lines:?}");
    let finished = finished(&lines);
    assert_eq!(done_names(finished), [order[0].clone(), order[2].clone(), order[1].clone()], "new leader last");
    assert_eq!(finished["done"][2]["was_leader"], true);
    assert_eq!(finished["done"][1]["was_leader"], false);
    let spans = defrag_spans(&lab);
    assert_eq!(spans.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), done_names(finished), "etcd's logs agree");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_stopped_during_the_wait_stops_the_run_and_the_rest_is_untouched() {
    let mut lab = lab_scenario("fragmented", 1.0).await;
    let journal = path_str(&lab.dir.join("journal"));
    let mut run = Running::start(&lab, &defrag_args(&journal, "6s"));
    let plan = run.wait_for("\"plan\"", Duration::from_secs(30));
    let order: Vec<String> =
        plan["steps"].as_array().unwrap().iter().map(|s| s["member"].as_str().unwrap().to_string()).collect();
    run.wait_for("\"defragmented\"", Duration::from_secs(30));
    let stopped = lab.members.iter().position(|m| m.name == order[1]).unwrap();
    lab.kill_member(stopped).unwrap();
    let (code, lines) = run.finish(Duration::from_secs(60));
    assert_eq!(code, 1, "{lines:?}");
    let finished = finished(&lines);
    assert_eq!(finished["outcome"], "stopped");
    assert!(finished["reason"].as_str().unwrap().contains(&format!("{} does not answer", order[1])), "{finished}");
    assert_eq!(done_names(finished), [order[0].clone()]);
    assert_eq!(finished["not_done"], serde_json::json!([order[1], order[2]]));
    let spans = defrag_spans(&lab);
    assert_eq!(spans.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(), [order[0].as_str()], "the others untouched");
}

#[tokio::test(flavor = "multi_thread")]
async fn nospace_is_cleared_with_disarm_only_once_sizes_are_below_ninety_percent() {
    let lab = lab_scenario("nospace", 1.0).await;
    let journal = path_str(&lab.dir.join("journal"));
    let alarms = || stdout(&etcdctl(&lab, &["alarm", "list"]));
    assert!(alarms().contains("NOSPACE"));
    let mut args = defrag_args(&journal, "1s");
    args.extend(["--all", "--disarm", "--quota-bytes", "24MiB"]);

    // Packed with live data to the quota (set up with etcdctl: disarm, defrag, fill until NOSPACE).
    assert!(etcdctl(&lab, &["alarm", "disarm"]).status.success());
    assert!(etcdctl(&lab, &["defrag", "--cluster"]).status.success());
    // A defrag cannot bring it under 90 %, so the alarm stays.
    let value = "y".repeat(24_000);
    let filled = (0..2000).any(|i| !etcdctl(&lab, &["put", &format!("/more/{i:04}"), &value]).status.success());
    assert!(filled && alarms().contains("NOSPACE"), "etcd never raised NOSPACE again");
    let out = console(&lab, &args);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    let why = lines.iter().filter_map(|l| l["text"].as_str()).find(|t| t.contains("NOSPACE left raised"));
    assert!(why.is_some_and(|t| t.contains("% of the 24.0 MiB quota")), "{lines:?}");
    assert!(!lines.iter().any(|l| l["kind"] == "disarmed"));
    assert!(alarms().contains("NOSPACE"), "cleared although above 90 %");
    assert!(!etcdctl(&lab, &["put", "k", "v"]).status.success());

    // The data deleted (etcd takes deletes under NOSPACE), then compact + defrag + disarm.
    assert!(etcdctl(&lab, &["del", "--prefix", "/more/"]).status.success());
    assert!(etcdctl(&lab, &["del", "--prefix", "/lab/fill/"]).status.success());
    args.push("--compact");
    let out = console(&lab, &args);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert!(lines.iter().any(|l| l["kind"] == "compacted"), "{lines:?}");
    assert!(lines.iter().any(|l| l["kind"] == "disarmed"), "{lines:?}");
    assert_eq!(alarms().trim(), "", "NOSPACE still listed");
    // As etcdctl sees them before any write (a write may grow the file again).
    for (name, size) in sizes(&lab) {
        assert!((size as f64) < 24.0 * 1024.0 * 1024.0 * 0.9, "{name}: {size}");
    }
    assert!(etcdctl(&lab, &["put", "k", "v"]).status.success(), "writes are taken again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_defrag_that_times_out_is_waited_for_and_never_sent_twice() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let journal = path_str(&lab.dir.join("journal"));
    let mut args = defrag_args(&journal, "1s");
    // The call gives up after 20 ms; etcd goes on and finishes (~200 ms for this DB).
    args.extend(["--command-timeout", "20ms"]);
    let out = console(&lab, &args);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    let late = lines.iter().filter(|l| l["text"].as_str().is_some_and(|t| t.contains("answered again"))).count();
    assert_eq!(late, 3, "{lines:?}");
    assert!(finished(&lines)["done"].as_array().unwrap().iter().all(|d| d["seconds"].is_null()));
    let spans = defrag_spans(&lab);
    assert_eq!(spans.len(), 3, "each member once: {spans:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_run_resumes_with_what_is_left() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let journal = path_str(&lab.dir.join("journal"));
    let mut run = Running::start(&lab, &defrag_args(&journal, "8s"));
    let plan = run.wait_for("\"plan\"", Duration::from_secs(30));
    let order: Vec<String> =
        plan["steps"].as_array().unwrap().iter().map(|s| s["member"].as_str().unwrap().to_string()).collect();
    run.wait_for("\"countdown\"", Duration::from_secs(30));
    // The console dies during the wait (SIGKILL: no clean-up at all).
    run.child.kill().unwrap();
    run.child.wait().unwrap();

    let out = console(&lab, &defrag_args(&journal, "8s"));
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert_eq!(lines[0]["event"], "unfinished", "{lines:?}");
    assert_eq!(lines[0]["done"], serde_json::json!([order[0]]));
    assert!(lines.iter().any(|l| l["kind"] == "resumed"));
    assert_eq!(done_names(finished(&lines)), order);
    let spans = defrag_spans(&lab);
    assert_eq!(spans.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), order, "nobody twice, the leader last");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_and_refusals_change_nothing() {
    let lab = lab(3, etcd_console_core::settings::DEFAULT_QUOTA_BYTES).await;
    let journal = path_str(&lab.dir.join("journal"));
    let cases: [(&[&str], &str); 6] = [
        (&["defrag", "--journal-dir", &journal, "--all", "--yes", "--disarm"], "--disarm needs the cluster's quota"),
        (&["defrag", "--journal-dir", &journal, "--all", "--read-only"], "--read-only"),
        (&["defrag", "--journal-dir", &journal, "--all"], "not a terminal"),
        (&["defrag", "--journal-dir", &journal, "--all", "--yes", "--wait", "5s"], "--i-know-wait-is-short"),
        (&["defrag", "--journal-dir", &journal, "--yes", "--rule", "dbsize > 1"], "unknown name \"dbsize\""),
        (&["defrag", "--journal-dir", &journal, "--yes", "--rule", "dbSize > 1", "--all"], "not both"),
    ];
    for (args, expected) in cases {
        let out = console(&lab, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    // A rule true for no member: the plan says so, nothing runs.
    let out = console(&lab, &["defrag", "--journal-dir", &journal, "--yes", "--rule", "dbSize < 1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("no member needs it"), "{}", stdout(&out));
    // --dry-run is allowed read-only and touches nothing.
    let out = console(&lab, &["defrag", "--journal-dir", &journal, "--all", "--dry-run", "--read-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("(leader, last)"), "{}", stdout(&out));
    assert!(defrag_spans(&lab).is_empty(), "something was defragmented");
}

#[tokio::test(flavor = "multi_thread")]
async fn from_a_kubeconfig_alone_through_port_forwards_the_same_run() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let kubeconfig = lab.kubeconfig.clone().unwrap();
    let journal = path_str(&lab.dir.join("journal"));
    let mut args = defrag_args(&journal, "1s");
    args.extend(["--etcd-via", "port-forward"]);
    let out = console_with_kubeconfig_only(&lab, &kubeconfig, &args);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    assert_eq!(done_names(finished(&lines)).last(), Some(&leader));
    let spans = defrag_spans(&lab);
    assert_eq!(spans.len(), 3, "{spans:?}");
    assert_eq!(spans[2].0, leader);
}

/// A voting member down refuses the plan at once: `--dry-run` says which and exits 1, as for
/// the other refusals of the cluster's state; nothing is journalled.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_down_refuses_the_plan_at_once() {
    let lab = lab_scenario("member-down", 1.0).await;
    let journal = lab.dir.join("journal-down").display().to_string();
    let out = console(&lab, &["defrag", "--journal-dir", &journal, "--all", "--dry-run", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    let reason = finished(&lines)["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.starts_with("refused: ") && reason.contains(" is down"), "{reason}");
    assert!(!lines.iter().any(|l| l["event"] == "plan"), "no plan is printed: {lines:?}");
    assert!(!std::path::Path::new(&journal).exists() || std::fs::read_dir(&journal).unwrap().next().is_none());
}

/// On a cluster under NOSPACE, `--dry-run` names the alarm and what would clear it (compact,
/// every member leader last, disarm behind the 90 % rule), and touches nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_under_nospace_names_the_alarm_and_what_would_clear_it() {
    let lab = lab_scenario("nospace", 1.0).await;
    let journal = path_str(&lab.dir.join("journal"));
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let out = console(&lab, &["defrag", "--journal-dir", &journal, "--dry-run", "--quota-bytes", "24MiB"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("NOSPACE alarm raised by "), "{text}");
    assert!(text.contains("% of the 24.0 MiB quota)"), "{text}");
    assert!(text.contains("1. compact to the current revision "), "{text}");
    assert!(text.contains("2. defragment one at a time: "), "{text}");
    assert!(text.contains(&format!("{leader} (leader, last)")), "{text}");
    assert!(text.contains("3. disarm, only if every member is below 90 % of the 24.0 MiB quota (21.6 MiB)"));
    // Where more than 90 % of the quota is live data, compaction frees none of it, and the plan says so.
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&etcdctl(&lab, &["endpoint", "status", "--cluster", "-w", "json"]))).unwrap();
    let limit = 24.0 * 1024.0 * 1024.0 * 0.9;
    let over = status.as_array().unwrap().iter().any(|e| e["Status"]["dbSizeInUse"].as_f64().unwrap_or(0.0) >= limit);
    assert_eq!(text.contains("delete data first"), over, "in use over 21.6 MiB: {over}\n{text}");
    assert!(text.contains("This run does not clear it: give --compact --disarm"), "{text}");

    let out = console(
        &lab,
        &[
            "defrag",
            "--journal-dir",
            &journal,
            "--dry-run",
            "--quota-bytes",
            "24MiB",
            "--compact",
            "--disarm",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    let lines = json_lines(&stdout(&out));
    let plan = lines.iter().find(|l| l["event"] == "plan").unwrap();
    assert!(!plan["alarms"].as_array().unwrap().is_empty(), "{plan}");
    assert_eq!(plan["alarms"][0]["alarm"], "NOSPACE");
    assert_eq!(plan["nospace_plan"]["this_run_clears_it"], true, "{plan}");
    assert_eq!(plan["nospace_plan"]["disarm_limit_bytes"], (24u64 << 20) * 9 / 10);
    assert!(plan["nospace_plan"]["compact_to_revision"].as_i64().unwrap() > 1, "{plan}");
    // Every member, leader last, although none is fragmented by OpenShift's rule.
    let steps = plan["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{plan}");
    assert_eq!(steps[2]["member"], leader.as_str());
    assert!(stdout(&etcdctl(&lab, &["alarm", "list"])).contains("NOSPACE"), "a dry run clears nothing");

    // Without --quota-bytes, --disarm takes the quota the etcd pods are started with (24 MiB here).
    let kubeconfig = path_str(lab.kubeconfig.as_ref().unwrap());
    let args = ["defrag", "--journal-dir", &journal, "--dry-run", "--compact", "--disarm", "--kubeconfig", &kubeconfig];
    let out = console(&lab, &[&args[..], &["-o", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("checked against: 24.0 MiB (pod spec)"), "{}", stderr(&out));
    let lines = json_lines(&stdout(&out));
    let plan = lines.iter().find(|l| l["event"] == "plan").unwrap();
    assert_eq!(plan["nospace_plan"]["disarm_limit_bytes"], (24u64 << 20) * 9 / 10, "{plan}");
}

/// SIGKILLed right after each kind of step it reports (a defragment sent, its answer, the wait),
/// one kill per run, and run again until a run ends by itself: each member defragmented exactly
/// once, in the planned order with the leader last, and never two closer than the wait.
#[tokio::test(flavor = "multi_thread")]
async fn a_defrag_killed_after_each_step_ends_with_each_member_defragmented_once_the_leader_last() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let journal = path_str(&lab.dir.join("journal"));
    let args = defrag_args(&journal, "2s");
    let kills = [("\"began\"", "\"defragment\""), ("\"defragmented\"", ""), ("\"countdown\"", "")];
    let mut order: Vec<String> = Vec::new();
    let mut killed = 0;
    let lines = loop {
        assert!(killed < 12, "still not done after {killed} kills");
        let mut run = Running::start(&lab, &args);
        let (event, detail) = kills[killed % kills.len()];
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut hit = false;
        while Instant::now() < deadline && !hit {
            let Ok(line) = run.lines.recv_timeout(Duration::from_millis(200)) else {
                if run.child.try_wait().unwrap().is_some() {
                    break;
                }
                continue;
            };
            run.seen.push(line.clone());
            if line.contains("\"event\":\"plan\"") && order.is_empty() {
                let plan: Value = serde_json::from_str(&line).unwrap();
                order =
                    plan["steps"].as_array().unwrap().iter().map(|s| s["member"].as_str().unwrap().into()).collect();
            }
            hit = line.contains(event) && line.contains(detail);
        }
        if !hit {
            let (code, lines) = run.finish(Duration::from_secs(60));
            assert_eq!(code, 0, "{lines:?}");
            break lines;
        }
        run.child.kill().unwrap();
        run.child.wait().unwrap();
        killed += 1;
    };
    assert!(killed >= kills.len(), "the kills fell on every kind of step: {killed}");
    let finished = finished(&lines);
    assert_eq!(finished["outcome"], "completed", "{finished}");
    assert_eq!(order.last(), Some(&leader), "the leader planned last");
    let spans = defrag_spans(&lab);
    let names: Vec<String> = spans.iter().map(|s| s.0.clone()).collect();
    assert_eq!(names, order, "each member once, in the planned order, the leader last (killed {killed} times)");
    for pair in spans.windows(2) {
        let gap = pair[1].1.duration_since(pair[0].2).unwrap_or_default();
        assert!(gap >= Duration::from_millis(1900), "{} began {gap:?} after {} ended", pair[1].0, pair[0].0);
    }
}
