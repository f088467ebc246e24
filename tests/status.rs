//! `etcd-console status` against real 3-member etcd clusters, refereed by etcdctl.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use etcd_console_lab::certs;

const GIB8: u64 = 8 << 30;

#[tokio::test(flavor = "multi_thread")]
async fn status_figures_equal_etcdctl_endpoint_status() {
    let lab = lab(3, GIB8).await;
    // Give the DB some weight and some free pages, so in-use differs from size.
    let mut client = match etcd_console_core::etcd::Connector::from_args(&lab.connection()) {
        Ok(c) => c.client(&lab.members[0].client_url).await.unwrap_or_else(|e| panic!("{e}")),
        Err(e) => panic!("{e}"),
    };
    let value = vec![b'x'; 16 * 1024];
    for i in 0..300 {
        client
            .put(format!("/kubernetes.io/configmaps/test/{i}"), value.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("put: {e}"));
    }
    client
        .delete("/kubernetes.io/configmaps/test/", Some(etcd_client::DeleteOptions::new().with_prefix()))
        .await
        .unwrap_or_else(|e| panic!("delete: {e}"));
    let revision = client.get("/", None).await.map(|r| r.header().map(|h| h.revision()).unwrap_or(0)).unwrap_or(0);
    client
        .compact(revision, Some(etcd_client::CompactionOptions::new().with_physical()))
        .await
        .unwrap_or_else(|e| panic!("compact: {e}"));

    // etcdctl reads before and after ours; only a window in which the cluster
    // stood still (both readings equal) is a fair comparison.
    let referee = || {
        let output = etcdctl(&lab, &["endpoint", "status", "--cluster", "-w", "json"]);
        assert!(output.status.success(), "etcdctl: {}", stderr(&output));
        json(&output)
    };
    let (ours, theirs) = while_standing_still(referee, || {
        let ours = console(&lab, &["status", "-o", "json"]);
        assert_eq!(ours.status.code(), Some(0), "stderr: {}", stderr(&ours));
        json(&ours)
    });
    let theirs = theirs.as_array().cloned().unwrap_or_default();
    let members = ours["members"].as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 3);
    assert_eq!(theirs.len(), 3);
    for entry in &theirs {
        let endpoint = entry["Endpoint"].as_str().unwrap_or_default();
        let status = &entry["Status"];
        let member = members
            .iter()
            .find(|m| m["endpoint"] == endpoint)
            .unwrap_or_else(|| panic!("{endpoint} missing from {members:?}"));
        assert_member_equals_etcdctl(member, status, endpoint);
        let leader = status["leader"].as_u64().unwrap_or_default();
        assert_eq!(ours["leader_id"], format!("{leader:x}"));
        assert_eq!(member["quota_bytes"], GIB8);
    }
    let size = members[0]["db_size_bytes"].as_u64().unwrap_or_default();
    let in_use = members[0]["db_size_in_use_bytes"].as_u64().unwrap_or_default();
    assert!(size > in_use, "after deleting and compacting, some pages are free: size {size}, in use {in_use}");
    let frag = members[0]["fragmentation_pct"].as_f64().unwrap_or_default();
    assert!((frag - (size - in_use) as f64 * 100.0 / size as f64).abs() < 0.01);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_names_the_leader_and_exits_0() {
    let lab = lab(3, GIB8).await;
    // Connection flags after the subcommand, no environment: as an SRE types it.
    let mut command = std::process::Command::new(console_bin());
    command
        .arg("status")
        .arg("--endpoints")
        .arg(lab.members[1].client_url.as_str())
        .arg("--cacert")
        .arg(&lab.pki.ca)
        .arg("--cert")
        .arg(&lab.pki.client.cert)
        .arg("--key")
        .arg(&lab.pki.client.key)
        .arg("--log-dir")
        .arg(lab.dir.join("logs-console"))
        .env_remove("ETCDCTL_ENDPOINTS");
    let output = run_with_limit(command, Duration::from_secs(30));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    // Discovered from MemberList: all three members, though one endpoint was given.
    for member in &lab.members {
        assert!(table.contains(&member.client_url), "{table}");
    }
    let leader_rows = table.lines().filter(|l| l.starts_with("https://") && l.contains(" leader ")).count();
    assert_eq!(leader_rows, 1, "{table}");
    assert!(table.contains("no alerts"), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_member_is_reported_within_the_timeout_and_exits_1() {
    let lab = lab(3, GIB8).await;
    // A follower: freezing the leader would also start an election, another test's matter.
    let frozen_index = lab.follower().await.expect("a leader and a follower");
    lab.pause_member(frozen_index).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let output = console(&lab, &["status", "-o", "json", "--command-timeout", "2s"]);
    let took = started.elapsed();
    let _ = lab.resume_member(frozen_index);
    // Not a performance figure: the frozen member must cost one timeout, not
    // hang the command (the default 5 s would show, a hang would hit the harness's 60 s).
    assert!(took < Duration::from_secs(4), "status took {took:?} with a 2s timeout");
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let report = json(&output);
    let members = report["members"].as_array().cloned().unwrap_or_default();
    let frozen_url = lab.members[frozen_index].client_url.as_str();
    let frozen = members.iter().find(|m| m["endpoint"] == frozen_url).cloned().unwrap_or_default();
    assert_eq!(frozen["healthy"], false);
    assert!(frozen["error"].as_str().unwrap_or_default().contains("no answer within 2s"), "{frozen}");
    let others: Vec<_> = members.iter().filter(|m| m["endpoint"] != frozen_url).collect();
    assert_eq!(others.len(), 2);
    for m in others {
        assert_eq!(m["healthy"], true, "{m}");
        assert!(m["db_size_bytes"].as_u64().is_some());
    }
    let alerts = report["alerts"].as_array().cloned().unwrap_or_default();
    assert!(alerts.iter().any(|a| a["name"] == "etcdMembersDown"), "{alerts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_quorum_and_a_dead_member_are_degraded_not_fatal() {
    let mut lab = lab(3, GIB8).await;
    lab.kill_member(0).unwrap_or_else(|e| panic!("{e}"));
    lab.kill_member(2).unwrap_or_else(|e| panic!("{e}"));
    let output = console(&lab, &["status", "-o", "json", "--command-timeout", "3s"]);
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["healthy_voters"], 0);
    let names = alert_names(&report);
    assert!(names.contains(&"etcdInsufficientMembers".to_string()), "{names:?}");
    let dead = report["members"].as_array().cloned().unwrap_or_default();
    let refused = dead.iter().filter(|m| m["error"].as_str().unwrap_or_default().contains("refused")).count();
    assert_eq!(refused, 2, "{dead:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nospace_alarm_matches_etcdctl_alarm_list() {
    let lab = lab(3, 2 << 20).await;
    let mut client = match etcd_console_core::etcd::Connector::from_args(&lab.connection()) {
        Ok(c) => c.client(&lab.members[0].client_url).await.unwrap_or_else(|e| panic!("{e}")),
        Err(e) => panic!("{e}"),
    };
    let value = vec![b'y'; 128 * 1024];
    let mut refused = false;
    for i in 0..200 {
        if let Err(e) = client.put(format!("/fill/{i}"), value.clone(), None).await {
            assert!(e.to_string().contains("database space exceeded"), "{e}");
            refused = true;
            break;
        }
    }
    assert!(refused, "a 2 MiB quota never filled");
    // The alarm is raised through raft: wait until every member has applied it (etcdctl says so).
    eventually("every member reporting the alarm", Duration::from_secs(10), || {
        let status = stdout(&etcdctl(&lab, &["endpoint", "status", "-w", "json"]));
        let members: Vec<serde_json::Value> = serde_json::from_str(&status).unwrap_or_default();
        (members.len() == 3 && members.iter().all(|m| m["Status"]["errors"].to_string().contains("NOSPACE")))
            .then_some(())
    });
    let output = console(&lab, &["status", "-o", "json", "--quota-bytes", "2MiB"]);
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let report = json(&output);
    let alarm_list = stdout(&etcdctl(&lab, &["alarm", "list"]));
    let mut expected: Vec<String> = alarm_list
        .lines()
        .filter_map(|line| {
            let id: u64 = line.split_whitespace().find_map(|f| f.strip_prefix("memberID:"))?.parse().ok()?;
            let kind = line.split_whitespace().find_map(|f| f.strip_prefix("alarm:"))?;
            Some(format!("{id:x} {kind}"))
        })
        .collect();
    expected.sort();
    assert!(!expected.is_empty(), "etcdctl alarm list: {alarm_list}");
    let mut ours: Vec<String> = Vec::new();
    for m in report["members"].as_array().cloned().unwrap_or_default() {
        for alarm in m["alarms"].as_array().cloned().unwrap_or_default() {
            ours.push(format!("{} {}", m["id"].as_str().unwrap_or_default(), alarm.as_str().unwrap_or_default()));
        }
        assert_eq!(m["healthy"], false, "an active alarm makes every member unhealthy, as etcdctl 3.5 says: {m}");
    }
    ours.sort();
    assert_eq!(ours, expected);
    let names = alert_names(&report);
    assert!(names.contains(&"etcdNOSPACEAlarm".to_string()), "{names:?}");
    assert!(names.contains(&"etcdDatabaseQuotaLowSpace".to_string()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_ca_names_the_file_and_exits_2() {
    let lab = lab(3, GIB8).await;
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pki = certs::generate(other.path(), &[("elsewhere".to_string(), vec![std::net::IpAddr::from([127, 0, 0, 1])])])
        .unwrap_or_else(|e| panic!("{e}"));
    let ca = path_str(&pki.ca);
    let output = console(&lab, &["status", "--cacert", &ca]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(&format!("not signed by the CA in --cacert {ca}")), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    assert!(stdout(&output).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_or_bad_input_exits_2_with_a_clear_message() {
    let lab = lab(1, GIB8).await;
    let missing = lab.dir.join("pki/nope.key");
    let output = console(&lab, &["status", "--key", &path_str(&missing)]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(&format!("cannot read --key {}", missing.display())), "{message}");

    let output = console(&lab, &["status", "--key", &path_str(&lab.pki.ca)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("holds no PEM PRIVATE KEY"), "{}", stderr(&output));

    let output = console(&lab, &["status", "--endpoints", "https://127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Connection refused"), "{}", stderr(&output));

    let output = console(&lab, &["status", "--command-timeout", "soon"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is not a duration"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"));
}

/// A member added with `etcdctl member add --learner` and started as a real 4th etcd: it is
/// a learner catching up, not a fault (exit 0), shown with its progress.
#[tokio::test(flavor = "multi_thread")]
async fn a_real_learner_is_a_member_with_its_progress_and_the_cluster_exits_0() {
    use std::net::{IpAddr, Ipv4Addr};
    let lab = lab(3, GIB8).await;
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 14));
    let free_port = || {
        let socket = std::net::TcpListener::bind((ip, 0)).unwrap();
        socket.local_addr().unwrap().port()
    };
    let (client_port, peer_port) = (free_port(), free_port());
    let client_url = format!("https://{ip}:{client_port}");
    let peer_url = format!("https://{ip}:{peer_port}");
    let usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth, rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let issued = certs::issue(&lab.pki.issuer, "learner-3", &[ip], usages).unwrap();
    let (cert, key) = (lab.dir.join("learner-3.crt"), lab.dir.join("learner-3.key"));
    certs::write_file(&cert, &issued.cert_pem, 0o644).unwrap();
    certs::write_file(&key, &issued.key_pem, 0o600).unwrap();

    // etcd refuses a member add until every member has been connected a while ("unhealthy cluster").
    let added = eventually("etcdctl member add --learner", Duration::from_secs(30), || {
        let added = etcdctl(&lab, &["member", "add", "learner-3", "--learner", &format!("--peer-urls={peer_url}")]);
        added.status.success().then_some(added)
    });
    let initial_cluster = stdout(&added)
        .lines()
        .find_map(|l| l.strip_prefix("ETCD_INITIAL_CLUSTER=\""))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| panic!("no ETCD_INITIAL_CLUSTER in {}", stdout(&added)));
    let log = std::fs::File::create(lab.dir.join("learner-3.log")).unwrap();
    let ca = lab.pki.ca.display().to_string();
    let etcd = std::process::Command::new(common::etcd_bin())
        .args([
            "--name=learner-3".to_string(),
            format!("--data-dir={}", lab.dir.join("learner-3.etcd").display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            format!("--listen-peer-urls={peer_url}"),
            format!("--initial-advertise-peer-urls={peer_url}"),
            format!("--initial-cluster={initial_cluster}"),
            "--initial-cluster-state=existing".to_string(),
            format!("--cert-file={}", cert.display()),
            format!("--key-file={}", key.display()),
            format!("--trusted-ca-file={ca}"),
            "--client-cert-auth".to_string(),
            format!("--peer-cert-file={}", cert.display()),
            format!("--peer-key-file={}", key.display()),
            format!("--peer-trusted-ca-file={ca}"),
            "--peer-client-cert-auth".to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    /// Ends the 4th etcd with the test, whatever happens.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _etcd = Stop(etcd);

    // etcdctl, the referee, sees it as a started learner.
    eventually("the learner started", Duration::from_secs(30), || {
        let list = stdout(&etcdctl(&lab, &["member", "list", "-w", "table"]));
        list.lines().any(|l| l.contains("learner-3") && l.contains("started") && l.contains("true")).then_some(())
    });
    let report = eventually("status exits 0 with the learner", Duration::from_secs(30), || {
        let output = console(&lab, &["status", "-o", "json"]);
        (output.status.code() == Some(0)).then(|| json(&output))
    });
    let members = report["members"].as_array().cloned().unwrap_or_default();
    assert_eq!(members.len(), 4, "{report}");
    let learner = members.iter().find(|m| m["name"] == "learner-3").unwrap_or_else(|| panic!("{report}"));
    assert_eq!(learner["is_learner"], true, "{learner}");
    assert_eq!(learner["healthy"], true, "{learner}");
    assert_eq!(learner["error"], serde_json::Value::Null, "{learner}");
    assert!(learner["learner"]["progress_pct"].as_f64().unwrap_or(0.0) > 0.0, "{learner}");
    assert_eq!((report["voters"].as_u64(), report["quorum"].as_u64()), (Some(3), Some(2)), "{report}");
    assert_eq!(report["can_lose"], 1, "{report}");
    assert!(alert_names(&report).is_empty(), "{report}");
    let table = console(&lab, &["status"]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let row = stdout(&table).lines().find(|l| l.contains("learner-3")).map(str::to_string).unwrap_or_default();
    assert!(row.contains("learner") && row.contains('%'), "{}", stdout(&table));
    // The console, the real binary in tmux: the learner's row with its progress, no alert badge.
    let tmux = Tmux::start("learner", 120, 30, &console_on_lab(&lab, ""));
    let screen = tmux.wait_for("the learner's row", Duration::from_secs(30), |s| {
        s.lines().any(|l| l.contains("learner-3") && l.contains("learner") && l.contains('%'))
    });
    assert!(screen.contains("4 members") || screen.contains("Members (4)"), "{screen}");
    assert!(!screen.contains("MembersDown") && !screen.contains("LearnerStuck"), "{screen}");
    tmux.keys(&["q"]);
}

/// `status -o json` with the lab's environment, `extra` flags, and a kubeconfig when given.
fn status_json(lab: &etcd_console_lab::Lab, kubeconfig: Option<&std::path::Path>, extra: &[&str]) -> serde_json::Value {
    let mut command = std::process::Command::new(console_bin());
    command
        .args(["status", "-o", "json"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &lab.dir);
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    command.arg("--log-dir").arg(lab.dir.join("console-logs"));
    let output = run_with_limit(command, Duration::from_secs(60));
    assert!(matches!(output.status.code(), Some(0 | 1)), "stderr: {}", stderr(&output));
    json(&output)
}

/// The etcd containers' commands of the pods `selector` picks in `namespace`, as kubectl shows them.
fn etcd_commands(lab: &etcd_console_lab::Lab, namespace: &str, selector: &str) -> String {
    kubectl_ok(
        lab,
        &[
            "get",
            "pods",
            "-n",
            namespace,
            "-l",
            selector,
            "-o",
            "jsonpath={range .items[*]}{.spec.containers[?(@.name==\"etcd\")].command}{\"\\n\"}{end}",
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quota_is_read_from_the_etcd_pods_and_nospace_says_it_is_reached() {
    let lab = lab_scenario("nospace", 1.0).await;
    let quota: u64 = 24 << 20;
    // The pods carry the flag the lab's etcd runs with.
    let commands = etcd_commands(&lab, "openshift-etcd", "k8s-app=etcd");
    let lines: Vec<&str> = commands.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{commands}");
    let flagged: Vec<u64> = lines
        .iter()
        .filter_map(|l| {
            l.split("--quota-backend-bytes=").nth(1)?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect();
    assert_eq!(flagged, [quota; 3], "{commands}");
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("the lab runs no API"));
    let report = status_json(&lab, Some(&kubeconfig), &[]);
    assert_eq!(report["quota_bytes"], quota, "{report}");
    assert_eq!(report["quota_source"], "pod");
    assert_eq!(report["quota_reached"], true, "the scenario raised NOSPACE");
    for m in report["members"].as_array().cloned().unwrap_or_default() {
        assert_eq!((m["quota_bytes"].as_u64(), m["quota_source"].as_str()), (Some(quota), Some("pod")), "{m}");
        assert!(m["quota_pct"].is_null(), "no low figure beside NOSPACE: {m}");
    }
    let mut command = std::process::Command::new(console_bin());
    command.args(["status"]).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in lab.env() {
        command.env(name, value);
    }
    command.env("HOME", &lab.dir).env("KUBECONFIG", &kubeconfig).arg("--log-dir").arg(lab.dir.join("console-logs"));
    let table = stdout(&run_with_limit(command, Duration::from_secs(60)));
    assert!(table.contains("quota 24.0 MiB (pod spec); NOSPACE raised: the quota is reached"), "{table}");
    // The user's figure wins; without the API the default is only assumed.
    let flagged = status_json(&lab, Some(&kubeconfig), &["--quota-bytes", "1GiB"]);
    assert_eq!((flagged["quota_bytes"].as_u64(), flagged["quota_source"].as_str()), (Some(1 << 30), Some("flag")));
    let bare = status_json(&lab, None, &[]);
    assert_eq!((bare["quota_bytes"].as_u64(), bare["quota_source"].as_str()), (Some(GIB8), Some("assumed")));
    assert_eq!(bare["members"][0]["quota_source"], "assumed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hosted_etcd_quota_is_read_from_its_pods() {
    let lab = lab_scenario("hosted", 1.0).await;
    let commands = etcd_commands(&lab, "clusters-hosted", "app=etcd");
    let flag = format!("--quota-backend-bytes={GIB8}");
    assert!(commands.lines().filter(|l| !l.is_empty()).all(|l| l.contains(&flag)), "{commands}");
    let template = kubectl_ok(
        &lab,
        &[
            "get",
            "statefulset",
            "etcd",
            "-n",
            "clusters-hosted",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command}",
        ],
    );
    assert!(template.contains(&flag), "{template}");
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("the lab runs no API"));
    // etcd found through the API (no endpoints), as an SRE on the management cluster would.
    let output = console_with_kubeconfig_only(
        &lab,
        &kubeconfig,
        &["status", "-o", "json", "--hosted-cluster", "clusters/hosted"],
    );
    assert!(matches!(output.status.code(), Some(0 | 1)), "stderr: {}", stderr(&output));
    let report = json(&output);
    assert_eq!(
        (report["quota_bytes"].as_u64(), report["quota_source"].as_str()),
        (Some(GIB8), Some("pod")),
        "{report}"
    );
    assert_eq!(report["quota_reached"], false);
}

/// `status` (table and JSON) with the lab's kubeconfig: its exit code, its text, its JSON.
fn status_both(lab: &etcd_console_lab::Lab) -> (Option<i32>, String, serde_json::Value) {
    let kubeconfig = lab.kubeconfig.clone().unwrap_or_else(|| panic!("the lab runs no API"));
    let run = |extra: &[&str]| {
        let mut command = std::process::Command::new(console_bin());
        command.arg("status").args(extra).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (name, value) in lab.env() {
            command.env(name, value);
        }
        command.env("HOME", &lab.dir).env("KUBECONFIG", &kubeconfig).arg("--log-dir").arg(lab.dir.join("console-logs"));
        run_with_limit(command, Duration::from_secs(60))
    };
    let table = run(&[]);
    let json_output = run(&["-o", "json"]);
    assert_eq!(table.status.code(), json_output.status.code(), "one exit code for both forms");
    (table.status.code(), stdout(&table), json(&json_output))
}

#[tokio::test(flavor = "multi_thread")]
async fn under_nospace_the_rows_the_count_and_the_exit_code_say_the_same_and_each_alarm_once() {
    let lab = lab_scenario("nospace", 1.0).await;
    let (code, table, report) = status_both(&lab);
    assert_eq!(code, Some(1), "{table}");
    let members = report["members"].as_array().cloned().unwrap_or_default();
    let healthy_rows = members.iter().filter(|m| m["healthy"] == true).count();
    assert_eq!(report["healthy_voters"].as_u64(), Some(healthy_rows as u64), "{report}");
    assert_eq!(healthy_rows, 0, "an active alarm: no member is healthy");
    assert_eq!(report["serving_voters"], 3, "reads still go through: quorum holds");
    let unhealthy_rows = table.lines().filter(|l| l.contains("unhealthy")).count();
    assert_eq!(unhealthy_rows, 3, "{table}");
    assert!(table.contains("healthy voters 0/3, 3 serve reads under the alarm (quorum 2)"), "{table}");
    assert!(!table.contains("NOSPACE, NOSPACE") && !table.contains("NOSPACE,NOSPACE"), "{table}");
    for m in &members {
        let error = m["error"].as_str().unwrap_or_default();
        assert_eq!(error.matches("NOSPACE").count(), 1, "{m}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fragmented_database_raises_defrag_recommended_by_the_rule_the_wizard_plans_with() {
    let lab = lab_scenario("fragmented", 1.0).await;
    let (code, table, report) = status_both(&lab);
    let names = alert_names(&report);
    assert!(names.contains(&"etcdDefragRecommended".to_string()), "{names:?}\n{table}");
    assert!(table.contains("WARN etcdDefragRecommended: defrag recommended for"), "{table}");
    // Every member the rule picks is in the badge, as `defrag --dry-run` plans them.
    let message = report["alerts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "etcdDefragRecommended"))
        .and_then(|a| a["message"].as_str())
        .unwrap_or_default()
        .to_string();
    for m in report["members"].as_array().cloned().unwrap_or_default() {
        let frag = m["fragmentation_pct"].as_f64().unwrap_or_default();
        let size = m["db_size_bytes"].as_u64().unwrap_or_default();
        let picked = frag >= 45.0 && size >= 100 << 20;
        assert_eq!(message.contains(m["name"].as_str().unwrap_or("?")), picked, "{m}\n{message}");
    }
    // A recommendation is no fault: the members stay healthy and the exit code 0.
    assert_eq!(report["healthy_voters"], 3, "{report}");
    assert_eq!(code, Some(0), "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quorum_guard_off_is_said_and_exits_1_until_it_is_back_on() {
    let lab = lab_scenario("healthy", 1.0).await;
    let (code, _, report) = status_both(&lab);
    assert_eq!((code, report["quorum_guard_off"].as_bool()), (Some(0), Some(false)), "{report}");
    let off = r#"{"spec":{"unsupportedConfigOverrides":{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":true}}}"#;
    kubectl_ok(&lab, &["patch", "etcd.operator.openshift.io", "cluster", "--type=merge", "-p", off]);
    let (code, table, report) = status_both(&lab);
    assert_eq!(code, Some(1), "{table}");
    assert_eq!(report["quorum_guard_off"], true);
    assert_eq!(report["openshift"]["quorum_guard_off"], true);
    assert!(alert_names(&report).contains(&"etcdQuorumGuardOff".to_string()), "{report}");
    assert!(table.contains("QUORUM GUARD OFF"), "{table}");
    assert_eq!(report["healthy_voters"], 3, "the members themselves are healthy");
    let on = r#"{"spec":{"unsupportedConfigOverrides":null}}"#;
    kubectl_ok(&lab, &["patch", "etcd.operator.openshift.io", "cluster", "--type=merge", "-p", on]);
    let (code, table, _) = status_both(&lab);
    assert_eq!(code, Some(0), "{table}");
}
