//! One full refresh of a real 3-member TLS cluster (status + health + member
//! list of every member, concurrently, as the console's poller does it) against
//! the three etcdctl invocations an SRE runs for the same picture, as
//! processes. Both in one run, on the same lab.

use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use etcd_console_core::etcd::poller::{clients_for, discover};
use etcd_console_core::etcd::probe::sample_member;
use etcd_console_core::etcd::Connector;
use etcd_console_lab::{Lab, LabOptions};

fn refresh(c: &mut Criterion) {
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() else {
        return;
    };
    let lab = match runtime.block_on(Lab::start(LabOptions::default())) {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("skipping: the lab did not start: {e}");
            return;
        }
    };
    let Ok(connector) = Connector::from_args(&lab.connection()) else {
        return;
    };
    let members = match runtime.block_on(discover(&lab.endpoints(), &connector)) {
        Ok(members) => members,
        Err(e) => {
            eprintln!("skipping: {e}");
            return;
        }
    };
    let clients: Vec<(u64, etcd_client::Client)> = runtime
        .block_on(clients_for(&members, &connector))
        .into_iter()
        .filter_map(|(id, c)| c.ok().map(|c| (id, c)))
        .collect();
    let mut group = c.benchmark_group("one refresh of 3 members");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("etcd-console poller round (in process, warm clients)", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut rounds = tokio::task::JoinSet::new();
            for (id, client) in clients.iter().cloned() {
                rounds.spawn(async move { sample_member(&client, id, Duration::from_secs(5)).await });
            }
            while let Some(sample) = rounds.join_next().await {
                assert!(sample.is_ok_and(|s| s.status.is_ok()));
            }
        })
    });
    group.sample_size(20);
    group.bench_function("etcdctl endpoint status + endpoint health + alarm list (3 processes)", |b| {
        b.iter(|| {
            for args in [
                &["endpoint", "status", "--cluster", "-w", "json"][..],
                &["endpoint", "health", "--cluster"][..],
                &["alarm", "list"][..],
            ] {
                let mut command = Command::new("etcdctl");
                command.args(args).stdout(Stdio::null()).stderr(Stdio::null());
                for (name, value) in lab.env() {
                    command.env(name, value);
                }
                let ok = command.status().map(|s| s.success()).unwrap_or(false);
                assert!(ok);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, refresh);
criterion_main!(benches);
