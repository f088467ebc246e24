//! The real binary in a real terminal (tmux), on real etcd members.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use etcd_console_lab::Lab;

const WAIT: Duration = Duration::from_secs(30);

/// Figures of a member row taken at most 3 seconds ago ("0s".."3s" in AGE).
fn fresh(row: &str) -> bool {
    ["0s", "1s", "2s", "3s"].iter().any(|age| row.trim_end_matches('│').trim_end().ends_with(age))
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let output = std::process::Command::new("pgrep").args(["-P", &pid.to_string()]).output();
    output
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Member rows (not the detail pane) whose health reads ok.
fn healthy_rows(screen: &str) -> usize {
    screen.lines().filter(|l| l.contains("master-") && l.contains(" ok ") && !l.contains("health")).count()
}

fn row<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(name) && (l.contains("ok ") || l.contains("no answer") || l.contains("asking")))
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_member_shows_no_answer_while_the_others_and_the_keys_keep_working() {
    let lab = lab(3, 8 << 30).await;
    let logs = lab.dir.join("tui-logs");
    let command = with_lab_env(
        &lab,
        &format!(
            "{} --refresh 1s --command-timeout 2s --log-dir {}; echo CONSOLE-EXITED $?; sleep 60",
            console_bin().display(),
            logs.display()
        ),
    );
    let tmux = Tmux::start("frozen", 100, 30, &command);
    tmux.wait_for("three healthy members", WAIT, |s| s.matches("ok ").count() >= 3 && s.contains("leader"));

    // A follower, so no election muddies the picture.
    let frozen = lab.follower().await.expect("a leader and a follower");
    let name = lab.members[frozen].name.clone();
    let others: Vec<String> = lab.members.iter().filter(|m| m.name != name).map(|m| m.name.clone()).collect();
    lab.pause_member(frozen).unwrap_or_else(|e| panic!("{e}"));
    let screen = tmux.wait_for("the frozen member to show no answer", WAIT, |s| row(s, &name).contains("no answer"));
    assert!(screen.contains(&format!("MembersDown {name}")), "{screen}");
    // The others keep updating: their figures are fresh well after the freeze.
    std::thread::sleep(Duration::from_secs(3));
    let screen = tmux.wait_for("fresh figures from the others", WAIT, |s| others.iter().all(|o| fresh(row(s, o))));
    assert!(row(&screen, &name).contains("no answer"), "{screen}");

    // Keys still work while a member hangs.
    tmux.keys(&["?"]);
    tmux.wait_for("the help", Duration::from_secs(5), |s| s.contains("Help: keys") && s.contains("quit (also Ctrl-C)"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help to close", Duration::from_secs(5), |s| !s.contains("Help: keys"));
    tmux.keys(&["a"]);
    tmux.wait_for("the alerts with their messages", Duration::from_secs(5), |s| {
        s.contains("Alerts (") && s.contains(&format!("{name} does not answer: no answer within 2s"))
    });
    tmux.keys(&["a"]);
    tmux.wait_for("the alerts to close", Duration::from_secs(5), |s| !s.contains("Alerts ("));
    for _ in 0..frozen {
        tmux.keys(&["j"]);
    }
    // A voter down: the lower half says why it is down (etcd's own word, for how long), what is left and what next.
    tmux.wait_for("the frozen member in the diagnosis pane", Duration::from_secs(5), |s| {
        s.contains(&format!("> {name}"))
            && s.contains(&format!("Why {name} is down"))
            && s.contains("no answer within 2s")
            && s.contains("etcd     no answer for ")
            && s.contains("can lose 0 more")
    });

    lab.resume_member(frozen).unwrap_or_else(|e| panic!("{e}"));
    tmux.wait_for("the frozen member to come back", WAIT, |s| row(s, &name).contains("ok "));

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the console to exit", Duration::from_secs(10), |s| s.contains("CONSOLE-EXITED"));
    assert!(screen.contains("CONSOLE-EXITED 0"), "{screen}");
    // The terminal is restored: the shell's line is on the normal screen, the console's frame is gone.
    assert!(!screen.contains("Members (3)"), "{screen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_cluster_is_shown_and_ctrl_c_quits() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let command = format!(
        "{} --endpoints http://127.0.0.1:1 --log-dir {}; echo CONSOLE-EXITED $?; sleep 60",
        console_bin().display(),
        dir.path().display()
    );
    let tmux = Tmux::start("unreachable", 80, 24, &command);
    let screen = tmux.wait_for("the failure and the retry", WAIT, |s| {
        s.contains("no member has answered") && s.contains("Connection refused")
    });
    assert!(screen.contains("CRIT MembersDown"), "{screen}");
    // Still running after several retries.
    std::thread::sleep(Duration::from_secs(4));
    let screen = tmux.screen();
    assert!(!screen.contains("CONSOLE-EXITED"), "{screen}");
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("the console to exit", Duration::from_secs(10), |s| s.contains("CONSOLE-EXITED"));
    assert!(screen.contains("CONSOLE-EXITED 0"), "{screen}");
}

#[test]
fn the_lab_command_opens_the_console_on_its_own_cluster_and_stops_it_on_exit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let command =
        format!("{} lab --log-dir {}; echo CONSOLE-EXITED $?; sleep 60", console_bin().display(), dir.path().display());
    let tmux = Tmux::start("lab", 80, 24, &command);
    let screen = tmux.wait_for("the lab's three members", Duration::from_secs(60), |s| healthy_rows(s) == 3);
    assert!(screen.contains("lab, 3 members"), "{screen}");
    for name in ["master-0", "master-1", "master-2"] {
        assert!(screen.contains(name), "{screen}");
    }
    // Its members are real etcd processes, children of this console (the shell's child).
    let shell = tmux.pane_pid().expect("the pane's shell");
    let console = children(shell).into_iter().next().expect("the console under the shell");
    let members = children(console);
    assert_eq!(members.len(), 3, "the console's children: {members:?}");
    for pid in &members {
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let etcd = common::etcd_bin().display().to_string();
        assert!(cmdline.starts_with(&etcd), "{cmdline}");
    }

    tmux.keys(&["q"]);
    let screen = tmux.wait_for("the console to exit", Duration::from_secs(20), |s| s.contains("CONSOLE-EXITED"));
    assert!(screen.contains("CONSOLE-EXITED 0"), "{screen}");
    let left: Vec<&u32> = members.iter().filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()).collect();
    assert!(left.is_empty(), "etcd members left running after quitting: {left:?}");
    let logs: Vec<std::path::PathBuf> =
        std::fs::read_dir(dir.path()).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    let text: String = logs.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
    assert!(
        text.contains("lab started") && text.contains("console opened") && text.contains("lab stopped"),
        "log: {text}"
    );
    assert!(!text.contains("BEGIN") && !text.contains("PRIVATE KEY"), "no key material in the log: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_z_suspends_to_the_shell_and_fg_brings_the_console_back() {
    let lab = lab(1, 8 << 30).await;
    let tmux = Tmux::start("suspend", 90, 26, "bash --norc --noprofile");
    let logs = lab.dir.join("tui-logs");
    tmux.keys(&[&with_lab_env(&lab, &format!("{} --log-dir {}", console_bin().display(), logs.display())), "Enter"]);
    tmux.wait_for("the console", WAIT, |s| healthy_rows(s) == 1);
    tmux.keys(&["C-z"]);
    let screen = tmux.wait_for("the shell's job control", Duration::from_secs(10), |s| s.contains("Stopped"));
    assert!(!screen.contains("Members (1)"), "the shell has its screen back: {screen}");
    tmux.keys(&["fg", "Enter"]);
    tmux.wait_for("the console again", Duration::from_secs(10), |s| s.contains("Members (1)") && healthy_rows(s) == 1);
    tmux.keys(&["q"]);
    // Type the next command only once the console has let go of the terminal (or it reads the keys).
    tmux.wait_for("the console to close", Duration::from_secs(10), |s| !s.contains("Members (1)"));
    tmux.keys(&["echo SHELL-BACK-$?", "Enter"]);
    tmux.wait_for("the shell after quitting", Duration::from_secs(10), |s| s.contains("SHELL-BACK-0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openshift_views_follow_the_cluster_live() {
    // 60x: each node of the restore's rollout takes two seconds.
    let lab = lab_scenario("post-restore", 60.0).await;
    let command = console_on_lab(&lab, "");
    let tmux = Tmux::start("openshift", 130, 40, &command);
    let screen = tmux.wait_for("the quorum guard banner", WAIT, |s| s.contains("quorum guard disabled"));
    assert!(screen.contains("etcd rolling to revision 7"), "{screen}");
    tmux.keys(&["Tab"]);
    // The rollout finishes under our eyes: the watch brings each step.
    let screen = tmux.wait_for("etcd at the latest revision", WAIT, |s| {
        s.lines().any(|l| l.contains("etcd ") && l.contains("rev 7") && l.contains("AllNodesAtLatestRevision"))
    });
    assert!(screen.contains("Encryption · Operators") && screen.contains("EncryptionDisabled"), "{screen}");
    tmux.wait_for("the rollout banners gone", WAIT, |s| !s.contains("rolling to revision"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("the pending CSRs", WAIT, |s| {
        s.contains("Pending CSRs (4, 0 unexpected)") && s.contains("node-bootstrapper")
    });
    // Approved from elsewhere (kubectl): the list follows, and the kubelets' serving CSRs appear.
    let names = kubectl_ok(&lab, &["get", "csr", "-o", "name"]);
    let mut approve = vec!["certificate", "approve"];
    approve.extend(names.lines());
    kubectl_ok(&lab, &approve);
    let screen = tmux.wait_for("the serving CSRs that follow", WAIT, |s| s.contains("Pending CSRs (3, 0 unexpected)"));
    assert!(screen.contains("kubelet-serving") && !screen.contains("node-bootstrapper "), "{screen}");
    // Quiet watches are not failures: nothing changes for longer than the request timeout (10s).
    std::thread::sleep(Duration::from_secs(12));
    let screen = tmux.screen();
    assert!(!screen.contains("failing for"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn csrs_are_approved_from_the_console_after_one_confirmation_and_never_with_a_read_only_token() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let console = |context: &str| console_on_lab(&lab, &format!("--context {context}"));
    // The read-only token: SelfSubjectAccessReview says no, and the console says so instead of asking.
    let viewer = Tmux::start("csr-viewer", 120, 36, &console("lab-readonly"));
    viewer.wait_for("the members", WAIT, |s| s.contains("leader"));
    viewer.keys(&["Tab", "Tab"]);
    viewer
        .wait_for("the CSRs", WAIT, |s| s.contains("Pending CSRs (4, 0 unexpected)") && s.contains("may not approve"));
    viewer.keys(&["V"]);
    viewer.wait_for("the refusal", WAIT, |s| {
        s.contains("may not approve or deny CSRs (SelfSubjectAccessReview says no)")
    });
    viewer.keys(&["q"]);
    drop(viewer);

    let admin = Tmux::start("csr-admin", 120, 36, &console("lab"));
    admin.wait_for("the members", WAIT, |s| s.contains("leader"));
    admin.keys(&["Tab", "Tab"]);
    admin.wait_for("the CSRs", WAIT, |s| s.contains("Pending CSRs (4, 0 unexpected)"));
    admin.keys(&["V"]);
    let screen = admin.wait_for("the confirmation", WAIT, |s| s.contains("Approve 4 CSR(s) for 4 node(s)?"));
    assert!(screen.contains("y : do it") && !screen.contains("Enter: do it"), "{screen}");
    assert!(screen.contains("master-1: 1 node-bootstrapper") && screen.contains(" · etcd "), "{screen}");
    // Enter is no yes: the question stays and nothing is approved.
    admin.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(admin.screen().contains("Approve 4 CSR(s)"), "Enter took the question down");
    assert!(
        kubectl_ok(&lab, &["get", "csr", "--no-headers"]).lines().all(|l| l.ends_with("Pending")),
        "nothing before the yes"
    );
    admin.keys(&["y"]);
    admin.wait_for("the outcome", WAIT, |s| s.contains("4 CSR(s) approved"));
    let csrs = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
    assert_eq!(csrs.lines().filter(|l| l.contains("Approved")).count(), 4, "{csrs}");
    // The kubelets' serving CSRs arrive; deny one, filtered by name, after its own confirmation.
    admin.wait_for("the serving CSRs", WAIT, |s| s.contains("Pending CSRs (3, 0 unexpected)"));
    admin.keys(&["/", "m", "a", "s", "t", "e", "r", "-", "1", "Enter"]);
    admin.wait_for("the filter", WAIT, |s| s.contains("Pending CSRs (1 of 3, 0 unexpected) /master-1"));
    admin.keys(&["D"]);
    admin.wait_for("the deny confirmation", WAIT, |s| s.contains("Deny csr-"));
    admin.keys(&["y"]);
    admin.wait_for("the denial", WAIT, |s| s.contains("1 CSR(s) denied"));
    let denied = kubectl_ok(&lab, &["get", "csr", "--no-headers"]);
    assert_eq!(denied.lines().filter(|l| l.ends_with("Denied")).count(), 1, "{denied}");
    assert!(denied.lines().any(|l| l.ends_with("Denied") && l.contains("system:node:master-1")), "{denied}");
    admin.keys(&["q"]);
    admin.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_plain_kubernetes_api_the_openshift_view_says_so_and_the_rest_works() {
    let lab = lab_scenario("kubernetes", 1.0).await;
    let command = console_on_lab(&lab, "");
    let tmux = Tmux::start("plain", 120, 36, &command);
    tmux.wait_for("the members", WAIT, |s| s.contains("leader"));
    tmux.keys(&["Tab"]);
    let screen = tmux.wait_for("the plain message", WAIT, |s| s.contains("Not an OpenShift cluster"));
    assert!(!screen.contains("failing for"), "a missing group is not an outage: {screen}");
    assert!(screen.contains("3/3 healthy"), "{screen}");
    tmux.keys(&["Tab"]);
    tmux.wait_for("the CSR view, working", WAIT, |s| s.contains("no pending CSRs"));
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_hosted_cluster_is_a_banner_until_it_is_resumed() {
    let lab = lab_scenario("hosted", 1.0).await;
    let command = console_on_lab(&lab, "");
    let tmux = Tmux::start("hosted", 130, 40, &command);
    tmux.wait_for("the members", WAIT, |s| s.contains("leader"));
    tmux.keys(&["Tab"]);
    tmux.wait_for("the hosted cluster's encryption", WAIT, |s| {
        s.contains("HostedCluster clusters/hosted")
            && s.contains("secretEncryption aescbc, key hosted-etcd-encryption-key")
    });
    set_hosted_paused(&lab, Some("true"));
    tmux.wait_for("the paused banner", WAIT, |s| {
        s.contains("HostedCluster clusters/hosted reconciliation paused (pausedUntil true)")
    });
    set_hosted_paused(&lab, None);
    tmux.wait_for("the banner gone", WAIT, |s| !s.contains("reconciliation paused"));
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

/// The console run with a kubeconfig alone: no etcd flag, no ETCDCTL_* variable.
fn console_with_kubeconfig_only(lab: &Lab, kubeconfig: &std::path::Path, extra: &str) -> String {
    format!(
        "unset KUBECONFIG ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY; {} --kubeconfig {} {extra} --log-dir {}; echo CONSOLE-EXITED $?; sleep 60",
        console_bin().display(),
        kubeconfig.display(),
        lab.dir.join("tui-logs").display()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn from_a_kubeconfig_alone_the_console_finds_etcd_and_reaches_it_through_port_forwards() {
    let lab = lab_scenario("healthy", 1.0).await;
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("no API"));
    let tmux =
        Tmux::start("found", 120, 36, &console_with_kubeconfig_only(&lab, &kubeconfig, "--etcd-via port-forward"));
    let screen = tmux.wait_for("every member through its tunnel", WAIT, |s| {
        s.contains("openshift-etcd through port-forwards") && s.contains("3/3 healthy") && s.contains("leader")
    });
    assert!(screen.contains("via     port-forward etcd-master-0"), "{screen}");
    // The figures keep coming through the tunnels.
    tmux.keys(&["Down"]);
    tmux.wait_for("the second member's route", WAIT, |s| s.contains("via     port-forward etcd-master-1"));
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_api_down_the_console_says_why_it_cannot_find_etcd_and_stays_open() {
    let lab = lab_scenario("healthy", 1.0).await;
    let nowhere = kubeconfig_pointing_nowhere(&lab);
    let tmux = Tmux::start("no-api", 110, 30, &console_with_kubeconfig_only(&lab, &nowhere, ""));
    let screen = tmux.wait_for("the reason", WAIT, |s| {
        s.contains("Looking for the cluster at etcd pods k8s-app=etcd in openshift-etcd")
    });
    tmux.wait_for("the API's failure", WAIT, |s| {
        s.to_ascii_lowercase().contains("connection refused") || s.contains("did not answer")
    });
    assert!(!screen.contains("CONSOLE-EXITED"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_defrag_from_the_console_survives_a_crash_and_resumes_leader_last() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let journal = lab.dir.join("journal");
    let logs = lab.dir.join("tui-logs");
    let console =
        format!("{} --journal-dir {} --log-dir {}", console_bin().display(), journal.display(), logs.display());
    let command = with_lab_env(
        &lab,
        &format!(
            "{console} --defrag-wait 8s --i-know-wait-is-short; echo FIRST-EXITED $?; {console}; echo CONSOLE-EXITED $?; sleep 60"
        ),
    );
    let tmux = Tmux::start("defrag", 110, 34, &command);
    tmux.wait_for("three members up", WAIT, |s| s.contains("3/3 healthy"));
    tmux.keys(&["d"]);
    let plan = tmux.wait_for("the plan", WAIT, |s| s.contains("Defrag plan") && s.contains("TO GIVE BACK"));
    let leader_row = plan.lines().find(|l| l.starts_with("│3  ")).unwrap_or("");
    assert!(leader_row.contains(&leader) && leader_row.contains("leader"), "{plan}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the confirmation", WAIT, |s| s.contains("Defragment 3 member(s)?"));
    // d Enter Enter starts nothing: the second Enter leaves the question up.
    tmux.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    let still = tmux.screen();
    assert!(still.contains("Defragment 3 member(s)?") && !still.contains("done in"), "{still}");
    tmux.keys(&["y"]);
    tmux.wait_for("the first member done and the countdown", WAIT, |s| {
        s.contains("done in") && s.contains("next member in")
    });

    // The console dies during the wait (SIGKILL: no clean-up).
    let shell = tmux.pane_pid().unwrap();
    for pid in children(shell) {
        let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    tmux.wait_for("the second console to find the unfinished run", WAIT, |s| {
        s.contains("an unfinished defrag run was found")
    });
    tmux.keys(&["d"]);
    let resume = tmux.wait_for("the resume screen", WAIT, |s| s.contains("Defrag: resume"));
    assert_eq!(resume.matches("not yet").count(), 2, "{resume}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the resume confirmation", WAIT, |s| s.contains("Resume the defrag run?"));
    tmux.keys(&["y"]);
    let done = tmux.wait_for("the run to complete", Duration::from_secs(90), |s| s.contains(": completed"));
    assert_eq!(done.matches("done in").count(), 3, "{done}");
    // Esc and q sent together can read as Alt-q: q only once the wizard has closed.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the wizard closed", WAIT, |s| !s.contains("Defrag of cluster"));
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));

    let spans = defrag_spans(&lab);
    assert_eq!(spans.len(), 3, "each member once: {spans:?}");
    assert_eq!(spans[2].0, leader, "the leader last: {spans:?}");
}

/// The lab's `nospace` (a 24 MiB quota filled until etcd raised NOSPACE) cleared from the
/// console: the data deleted with etcdctl (etcd takes deletes under NOSPACE), then `d` shows the
/// NOSPACE form, one confirmation naming the cluster, and the run compacts, defragments every
/// member leader last and disarms; etcdctl then lists no alarm, every member is below 90 % of
/// the quota and a write is taken again.
#[tokio::test(flavor = "multi_thread")]
async fn nospace_is_cleared_from_the_console_compact_defrag_disarm() {
    let lab = lab_scenario("nospace", 1.0).await;
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let alarms = || String::from_utf8_lossy(&etcdctl(&lab, &["alarm", "list"]).stdout).to_string();
    assert!(alarms().contains("NOSPACE"));
    assert!(!etcdctl(&lab, &["put", "k", "v"]).status.success(), "writes are refused under NOSPACE");
    assert!(etcdctl(&lab, &["del", "--prefix", "/lab/fill/"]).status.success());
    let journal = lab.dir.join("journal");
    let logs = lab.dir.join("tui-logs");
    // No --quota-bytes: the 24 MiB quota is read from the etcd pods' --quota-backend-bytes.
    let console = format!(
        "{} --kubeconfig {} --journal-dir {} --log-dir {} --defrag-wait 2s --i-know-wait-is-short",
        console_bin().display(),
        path_str(lab.kubeconfig.as_ref().unwrap()),
        journal.display(),
        logs.display()
    );
    let command = with_lab_env(&lab, &format!("{console}; echo CONSOLE-EXITED $?; sleep 60"));
    let tmux = Tmux::start("nospace", 120, 40, &command);
    tmux.wait_for("three members up", WAIT, |s| s.contains("0/3 healthy, quorum 2"));
    tmux.keys(&["d"]);
    let form = tmux.wait_for("the NOSPACE form", WAIT, |s| s.contains("Defrag: clear NOSPACE"));
    assert!(form.contains("NOSPACE raised by "), "{form}");
    assert!(form.contains("OF QUOTA"), "{form}");
    // Every member against the quota (the alarm raised by one or more of them, as etcd decided).
    let rows = form.lines().filter(|l| l.contains(" %") && (l.contains(" leader ") || l.contains(" follower ")));
    assert_eq!(rows.count(), 3, "each member against the quota: {form}");
    assert!(form.lines().any(|l| l.contains(" %  NOSPACE")), "{form}");
    assert!(form.contains("1. compact to the current revision"), "{form}");
    assert!(form.contains(&format!("{leader} (leader, last)")), "{form}");
    assert!(form.contains("3. disarm, only if every member is below 90 % of the 24.0 MiB quota (21.6 MiB)"), "{form}");
    assert!(form.contains("compact, defrag, disarm (asks)"), "{form}");
    tmux.keys(&["Enter"]);
    let ask = tmux
        .wait_for("the confirmation", WAIT, |s| s.contains("Clear NOSPACE: compact, defragment 3 member(s), disarm?"));
    assert!(ask.contains(" · etcd "), "the cluster named: {ask}");
    tmux.keys(&["y"]);
    let done = tmux.wait_for("the run to complete", Duration::from_secs(120), |s| {
        s.contains(": completed") || s.contains(": stopped")
    });
    assert!(done.contains(": completed"), "{done}");
    assert!(done.contains("compacted to revision"), "{done}");
    assert!(done.contains("NOSPACE cleared"), "{done}");
    assert_eq!(done.matches("done in").count(), 3, "{done}");

    assert_eq!(alarms().trim(), "", "NOSPACE still listed");
    // As etcdctl sees them before any write.
    let out = etcdctl(&lab, &["endpoint", "status", "--cluster", "-w", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sizes: Vec<u64> = status.as_array().unwrap().iter().map(|s| s["Status"]["dbSize"].as_u64().unwrap()).collect();
    assert_eq!(sizes.len(), 3, "{status}");
    for size in sizes {
        assert!((size as f64) < 24.0 * 1024.0 * 1024.0 * 0.9, "{size} bytes: {status}");
    }
    assert!(etcdctl(&lab, &["put", "k", "v"]).status.success(), "writes are taken again");
    let spans = defrag_spans(&lab);
    assert_eq!(spans.len(), 3, "each member once: {spans:?}");
    assert_eq!(spans[2].0, leader, "the leader last: {spans:?}");

    tmux.keys(&["Escape"]);
    tmux.wait_for("the wizard closed", WAIT, |s| !s.contains("Defrag of cluster"));
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_from_the_console_is_refused_during_a_migration_and_forced_with_the_mark() {
    let lab = lab_scenario("encryption-in-progress", 1.0).await;
    let backups = lab.dir.join("tui-backups");
    let tmux = Tmux::start("backup", 110, 34, &console_on_lab(&lab, &format!("--backup-dir {}", backups.display())));
    tmux.wait_for("three members up and no backup yet", WAIT, |s| {
        s.contains("3/3 healthy") && s.contains("no verified backup yet")
    });
    tmux.keys(&["b"]);
    tmux.wait_for("the wizard seeing the migration", WAIT, |s| {
        s.contains("refused while: encryption migration to aescbc in progress")
    });
    tmux.keys(&["Enter"]);
    let refused = tmux.wait_for("the refusal", WAIT, |s| s.contains("Backup: refused"));
    assert!(refused.contains("f  take it anyway"), "{refused}");
    assert!(!backups.exists() || std::fs::read_dir(&backups).unwrap().next().is_none(), "a refusal writes nothing");
    tmux.keys(&["f"]);
    tmux.wait_for("the confirmation naming the reason", WAIT, |s| s.contains("Take the backup anyway?"));
    tmux.keys(&["y"]);
    let done = tmux.wait_for("the forced backup", WAIT, |s| s.contains("Backup: done"));
    assert!(done.contains("__POSSIBLY_DIRTY__.db"), "{done}");
    assert!(done.contains("restore-grade"), "the runbook's backup, through a debug pod: {done}");
    tmux.wait_for("the members pane to show its age", WAIT, |s| {
        s.contains("last restorable backup") && s.contains("possibly dirty")
    });
    let mut names: Vec<String> =
        std::fs::read_dir(&backups).unwrap().flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[0].starts_with("backup_") && names[0].ends_with("__POSSIBLY_DIRTY__.json"), "{names:?}");
    assert!(names[1].starts_with("snapshot_") && names[1].ends_with("__POSSIBLY_DIRTY__.db"), "{names:?}");
    assert!(
        names[2].starts_with("static_kuberesources_") && names[2].ends_with("__POSSIBLY_DIRTY__.tar.gz"),
        "{names:?}"
    );
    let verify = std::process::Command::new(console_bin())
        .args(["snapshot", "verify"])
        .arg(backups.join(&names[1]))
        .args(["--log-dir", lab.dir.join("verify-logs").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the wizard closed", WAIT, |s| !s.contains("Backup: done"));
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_encryption_migration_from_the_console_asks_backs_up_first_and_is_followed_to_the_end() {
    // 60x: the migration takes 20 s, long enough to see it running.
    let lab = lab_scenario("healthy", 60.0).await;
    let backups = lab.dir.join("tui-backups");
    let tmux =
        Tmux::start("encryption", 120, 40, &console_on_lab(&lab, &format!("--backup-dir {}", backups.display())));
    tmux.wait_for("three members up", WAIT, |s| s.contains("3/3 healthy"));
    tmux.keys(&["E"]);
    let choosing = tmux.wait_for("the wizard with the type now", WAIT, |s| s.contains("type now: identity"));
    assert!(choosing.contains("(•) aescbc") && choosing.contains("backup first: yes"), "{choosing}");
    tmux.keys(&["Enter"]);
    let question = tmux.wait_for("the question", WAIT, |s| s.contains("Set encryption identity -> aescbc?"));
    assert!(question.contains(" · etcd "), "the cluster named: {question}");
    assert!(question.contains("a verified backup is taken first"), "{question}");
    assert_eq!(kubectl_ok(&lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.spec.encryption.type}"]), "");
    tmux.keys(&["y"]);
    // While it runs, every pane has the banner (here the members view under the wizard).
    tmux.wait_for("the migration banner", WAIT, |s| s.contains("encryption migration to aescbc in progress"));
    let done = tmux.wait_for("the migration to complete", Duration::from_secs(90), |s| s.contains("Encryption: done"));
    assert_eq!(done.matches("done after").count(), 3, "{done}");
    assert!(done.contains("next: take a fresh backup now"), "{done}");
    assert!(done.contains("new key secrets: encryption-key-openshift-apiserver-1"), "{done}");
    assert_eq!(kubectl_ok(&lab, &["get", "apiserver", "cluster", "-o", "jsonpath={.spec.encryption.type}"]), "aescbc");
    let snapshots = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".db"))
        .count();
    assert_eq!(snapshots, 1, "the backup first was taken");
    tmux.wait_for("the banner gone", WAIT, |s| !s.contains("encryption migration to aescbc in progress"));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the wizard closed", WAIT, |s| !s.contains("Encryption: done"));
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_from_the_console_plans_asks_the_name_runs_every_step_and_follows_the_new_cluster() {
    let lab = lab_scenario("restore", 300.0).await;
    let put = |key: &str| assert!(etcdctl(&lab, &["put", key, "1"]).status.success());
    put("/demo/before");
    let mut backup = std::process::Command::new(console_bin());
    backup.args(["lab", "host", "--dir"]).arg(&lab.dir).args([
        "master-0",
        "--",
        "sudo -E /usr/local/bin/cluster-backup.sh /home/core/backup",
    ]);
    assert!(run_with_limit(backup, WAIT).status.success());
    let backup_dir = lab.dir.join("hosts/master-0/home/core/backup");
    put("/demo/after");
    let extra = format!(
        "--context lab-admin-cert --restore-backup {} --journal-dir {}",
        backup_dir.display(),
        lab.dir.join("tui-journal").display()
    );
    let tmux = Tmux::start("restore", 130, 44, &console_on_lab(&lab, &extra));
    tmux.wait_for("three members up", WAIT, |s| s.contains("3/3 healthy"));
    tmux.keys(&["R"]);
    tmux.wait_for("the hosts to choose from", WAIT, |s| s.contains("choose the recovery host"));
    tmux.keys(&["Down"]);
    let plan = tmux.wait_for("the plan judged", WAIT, |s| s.contains("Enter runs it"));
    assert!(plan.contains("(•) master-0") && plan.contains("[ok] same_cluster"), "{plan}");
    assert!(plan.contains("the point of no return is step 4.1@master-1"), "{plan}");
    tmux.keys(&["Enter"]);
    let asked = tmux.wait_for("the typed confirmation", WAIT, |s| s.contains("type lab-7xk2p and Enter"));
    // The cluster named as every confirmation names it: infrastructure name, API host, etcd ID.
    assert!(asked.contains("restore cluster lab-7xk2p (") && asked.contains(") · etcd "), "{asked}");
    // A wrong name cancels: nothing changed.
    tmux.keys(&["lab", "Enter"]);
    tmux.wait_for("the cancel", WAIT, |s| s.contains("cancelled: nothing changed"));
    assert!(lab.dir.join("hosts/master-1/etc/kubernetes/manifests/etcd-pod.yaml").exists());
    tmux.keys(&["Enter"]);
    tmux.wait_for("the plan again", WAIT, |s| s.contains("Enter runs it"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("the typed confirmation again", WAIT, |s| s.contains("type lab-7xk2p and Enter"));
    tmux.keys(&["lab-7xk2p", "Enter"]);
    tmux.wait_for("the checklist", WAIT, |s| s.contains("[x] 3 "));
    let done = tmux.wait_for("the restore to end", Duration::from_secs(300), |s| {
        s.contains("restored: every step done and checked") || s.contains("stopped at step")
    });
    assert!(done.contains("restored: every step done and checked"), "{done}");
    // The members pane follows the restored cluster (new member IDs) to three members up.
    tmux.wait_for("the new cluster's three members", Duration::from_secs(60), |s| s.contains("3/3 healthy"));
    assert_eq!(stdout(&etcdctl(&lab, &["get", "/demo/before", "--print-value-only"])).trim(), "1");
    assert_eq!(stdout(&etcdctl(&lab, &["get", "/demo/after", "--print-value-only"])).trim(), "");
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

/// The lab's `member-down`: `M` on the member that is down shows the engine's plan for it (what
/// the survey found, the procedure, every gate), and Esc closes it. Nothing is replaced here:
/// the CLI's rehearsals run whole replacements.
#[tokio::test(flavor = "multi_thread")]
async fn m_on_the_member_down_shows_its_plan_and_gates_and_esc_closes_it() {
    let lab = lab_scenario("member-down", 1.0).await;
    let backups = lab.dir.join("tui-backups");
    let journal = lab.dir.join("tui-journal");
    let extra = format!("--backup-dir {} --journal-dir {}", backups.display(), journal.display());
    let tmux = Tmux::start("member", 120, 40, &console_on_lab(&lab, &extra));
    let screen = tmux.wait_for("a member down", WAIT, |s| s.contains("2/3 healthy") && s.contains("can lose 0 more"));
    // The member down, by its row; selected with g then j.
    let name = screen
        .lines()
        .filter(|l| l.starts_with("│") && (l.contains(" down ") || l.contains("no answer")))
        .find_map(|l| l.split_whitespace().find(|w| w.starts_with("master-")))
        .unwrap_or_else(|| panic!("no member down:\n{screen}"))
        .to_string();
    tmux.keys(&["g"]);
    for _ in 0..3 {
        if tmux.screen().contains(&format!("> {name}")) {
            break;
        }
        tmux.keys(&["j"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    tmux.wait_for("the member down selected", WAIT, |s| s.contains(&format!("> {name}")));
    tmux.keys(&["M"]);
    let plan = tmux.wait_for("its plan", WAIT, |s| s.contains("[ok] quorum_holds") || s.contains("[NO] quorum_holds"));
    assert!(plan.contains(&format!("Replace etcd member {name}")), "{plan}");
    assert!(plan.contains(&format!("[ok] member_unhealthy {name}: it does not answer")), "{plan}");
    assert!(plan.contains("[ok] quorum_holds 2 healthy of 3 voting members"), "{plan}");
    assert!(plan.contains("[ok] backup no backup in"), "none yet: one is taken first: {plan}");
    assert!(plan.contains("procedure its ") && plan.contains("Replacing an unhealthy etcd member"), "{plan}");
    assert!(plan.contains("remove_member"), "{plan}");
    assert!(!backups.exists() && !journal.exists(), "a plan writes nothing");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the wizard closed", WAIT, |s| !s.contains("Replace etcd member"));
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

/// `s` on the bloat lab: the live reading ranks events first, read on a follower, with
/// etcdctl's counts; `r` reads again and says what grew; `b` without a backup says so.
#[tokio::test(flavor = "multi_thread")]
async fn s_shows_what_fills_etcd_read_on_a_follower_and_r_says_what_grew() {
    let lab = lab_scenario("bloat", 1.0).await;
    let leader = lab.members[lab.leader().await.unwrap()].name.clone();
    let count = |prefix: &str| {
        let out = etcdctl(&lab, &["get", prefix, "--prefix", "--keys-only", "--limit", "1", "-w", "json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["count"].as_u64().unwrap()
    };
    let (events, noisy) = (count("/kubernetes.io/events/"), count("/kubernetes.io/events/noisy-app/"));
    let space = lab.dir.join("space");
    let backups = lab.dir.join("no-backups");
    let extra = format!("--space-dir {} --backup-dir {}", space.display(), backups.display());
    let tmux = Tmux::start("space", 120, 40, &console_on_lab(&lab, &extra));
    tmux.wait_for("three members up", WAIT, |s| s.contains("3/3 healthy"));
    tmux.keys(&["s"]);
    let read = tmux.wait_for("the reading", WAIT, |s| s.contains("What fills etcd: live") && s.contains("read again"));
    let title = read.lines().find(|l| l.contains("What fills etcd: live")).unwrap();
    assert!(!title.contains(&format!("live, {leader},")), "a follower is read, not {leader}: {title}");
    let first = read.lines().find(|l| l.contains("  1 events")).unwrap_or_else(|| panic!("events first: {read}"));
    assert!(first.contains(&format!(" {events} ")), "etcdctl counts {events} events: {first}");
    assert!(read.contains(&format!("events: noisy-app {noisy} keys")), "{read}");
    assert!(read.contains("widgets.example.com/widgets"), "{read}");

    for n in 0..20 {
        assert!(etcdctl(&lab, &["put", &format!("/kubernetes.io/events/noisy-app/late-{n}"), "x"]).status.success());
    }
    tmux.keys(&["r"]);
    let again = tmux.wait_for("the second reading", WAIT, |s| s.contains("(+20 keys"));
    assert!(again.contains(&format!(" {} ", events + 20)), "{again}");
    assert!(again.contains("events +"), "{again}");

    tmux.keys(&["b"]);
    let none = tmux.wait_for("no backup", WAIT, |s| s.contains("the new reading failed"));
    assert!(none.contains("no verified backup"), "{none}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("the view closed", WAIT, |s| !s.contains("What fills etcd"));
    tmux.keys(&["q"]);
    tmux.wait_for("a clean exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

/// The CSR filter edits as a line does: at 80x24 on the lab's CSRs, two words typed, Ctrl-W takes
/// the last back and the list follows what is left; a paste goes in whole (its line break and
/// what follows it are dropped, its q is not a key).
#[tokio::test(flavor = "multi_thread")]
async fn the_csr_filter_edits_with_ctrl_w_and_takes_a_paste_as_text() {
    let lab = lab_scenario("post-restore", 1.0).await;
    let tmux = Tmux::start("filter", 80, 24, &console_on_lab(&lab, ""));
    tmux.wait_for("the members", WAIT, |s| s.contains("leader"));
    tmux.keys(&["Tab", "Tab"]);
    tmux.wait_for("the CSRs", WAIT, |s| s.contains("Pending CSRs (4, 0"));
    let footer = tmux.screen().lines().nth(23).unwrap_or_default().to_string();
    assert!(footer.contains("A  approve") && footer.contains("/  filter"), "{footer}");
    tmux.keys(&["/"]);
    for c in "master-1 nomatch".chars() {
        tmux.keys(&["-l", &c.to_string()]);
    }
    tmux.wait_for("nothing matches both words", WAIT, |s| s.contains("/master-1 nomatch") && s.contains("(0 of 4)"));
    tmux.keys(&["C-w"]);
    let screen = tmux.wait_for("the last word gone", WAIT, |s| s.contains("(1 of 4)"));
    assert!(screen.contains("/master-1 ") && !screen.contains("nomatch"), "{screen}");
    // Ctrl-U clears the line; a paste of "worker-1", a line break and a q: filtered by
    // worker-1, still typing, and the console still open.
    tmux.keys(&["C-u"]);
    tmux.wait_for("the line cleared", WAIT, |s| s.contains("(4 of 4)"));
    tmux.paste("worker-1\nq");
    let screen = tmux.wait_for("the pasted filter", WAIT, |s| s.contains("/worker-1 ") && s.contains("(1 of 4)"));
    assert!(!screen.contains("CONSOLE-EXITED"), "{screen}");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the filter kept", WAIT, |s| s.contains("/worker-1 (1 of 4, 0 unexpected)"));
    tmux.keys(&["q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}

/// At 80x24 the help fits between the borders, End shows its last line, and Esc closes it.
#[tokio::test(flavor = "multi_thread")]
async fn at_80x24_the_help_scrolls_to_its_last_line_and_esc_closes_it() {
    let lab = lab(3, 8 << 30).await;
    let command = with_lab_env(
        &lab,
        &format!(
            "{} --log-dir {}; echo CONSOLE-EXITED $?; sleep 60",
            console_bin().display(),
            lab.dir.join("tui-logs").display()
        ),
    );
    let tmux = Tmux::start("help", 80, 24, &command);
    tmux.wait_for("the members", WAIT, |s| healthy_rows(s) == 3);
    tmux.keys(&["?"]);
    let screen = tmux.wait_for("the help", WAIT, |s| s.contains("Help: keys"));
    assert!(screen.contains("1–20 of") && !screen.contains("answered."), "{screen}");
    tmux.keys(&["End"]);
    let screen = tmux.wait_for("the help's last line", WAIT, |s| s.contains("answered."));
    assert!(screen.contains("Ctrl-U  delete the whole line"), "{screen}");
    // PgDn at the end stays there.
    tmux.keys(&["PPage", "NPage", "NPage"]);
    tmux.wait_for("the end again", WAIT, |s| s.contains("answered."));
    tmux.keys(&["Escape"]);
    tmux.wait_for("the help closed", WAIT, |s| !s.contains("Help: keys") && healthy_rows(s) == 3);
    // Esc and q at once (as the terminal sends Alt-q): help closes, then the console quits.
    tmux.keys(&["?"]);
    tmux.wait_for("the help again", WAIT, |s| s.contains("Help: keys"));
    tmux.keys(&["Escape", "q"]);
    tmux.wait_for("the console to exit", WAIT, |s| s.contains("CONSOLE-EXITED 0"));
}
