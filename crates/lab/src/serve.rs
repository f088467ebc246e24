//! `etcd-console lab` and `lab serve`: start the lab, then run the console on
//! it or wait for a signal; stop the members either way.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use super::scenario::Scenario;
use super::{Lab, LabOptions};
use etcd_console_core::settings::ConnectionSettings;

/// What `etcd-console lab` was asked for (the console builds it from its flags).
#[derive(Debug, Clone)]
pub struct LabSettings {
    pub members: u8,
    pub etcd_bin: PathBuf,
    /// A scenario's name or the path of its file.
    pub scenario: String,
    pub hosted: bool,
    pub speed: f64,
    /// Start no simulated OpenShift API (etcd members only).
    pub no_api: bool,
    pub isolated_pods: bool,
    /// The quota when the scenario sets none.
    pub quota_bytes: u64,
}

/// A started lab, as the console is given it.
#[derive(Debug, Clone)]
pub struct Session {
    /// What reaches the lab's members.
    pub connection: ConnectionSettings,
    /// The lab's own API, never one the environment names; None with `--no-api`.
    pub kubeconfig: Option<PathBuf>,
    /// The lab's directory (its hosts, certificates and data).
    pub dir: PathBuf,
    /// A title: "lab, 3 members, healthy".
    pub context: String,
}

/// The lab's options from the flags; a bad scenario is a clear error.
fn options(args: &LabSettings, dir: Option<PathBuf>) -> Result<LabOptions, i32> {
    let mut scenario = Scenario::load(&args.scenario).map_err(|e| {
        eprintln!("etcd-console: {e}");
        2
    })?;
    scenario.hosted |= args.hosted;
    let quota_bytes = match scenario.quota_bytes() {
        Ok(quota) => quota.unwrap_or(args.quota_bytes),
        Err(e) => {
            eprintln!("etcd-console: {e}");
            return Err(2);
        }
    };
    Ok(LabOptions {
        members: args.members,
        quota_bytes,
        etcd_bin: args.etcd_bin.clone(),
        dir,
        scenario,
        api: !args.no_api,
        speed: args.speed,
        isolated_pods: args.isolated_pods,
    })
}

async fn start(options: LabOptions) -> Result<Lab, i32> {
    eprintln!(
        "etcd-console: starting {} etcd members from {} (scenario {}{}) ...",
        options.members,
        options.etcd_bin.display(),
        options.scenario.name,
        if options.scenario.hosted { ", hosted" } else { "" }
    );
    match Lab::start(options).await {
        Ok(lab) => {
            tracing::info!(dir = %lab.dir.display(), members = lab.members.len(), "lab started");
            Ok(lab)
        }
        Err(e) => {
            eprintln!("etcd-console: {e}");
            Err(2)
        }
    }
}

async fn stop(mut lab: Lab) {
    eprintln!("etcd-console: stopping the lab's {} members ...", lab.members.len());
    let _ = tokio::task::spawn_blocking(move || {
        lab.stop(Duration::from_secs(5));
        tracing::info!("lab stopped");
    })
    .await;
}

/// `lab serve`: the lab until SIGINT or SIGTERM.
pub async fn run(args: &LabSettings, dir: PathBuf) -> i32 {
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        eprintln!("etcd-console: cannot listen for SIGINT/SIGTERM");
        return 2;
    };
    let options = match options(args, Some(dir)) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let lab = match start(options).await {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let env = match lab.write_env_file() {
        Ok(path) => path,
        Err(e) => {
            eprintln!("etcd-console: {e}");
            stop(lab).await;
            return 2;
        }
    };
    println!("lab ready: {} members, scenario {}", lab.members.len(), lab.scenario.name);
    for member in &lab.members {
        println!("  {}  {}  (log {})", member.name, member.client_url, member.log.display());
    }
    if let (Some(api), Some(kubeconfig)) = (&lab.api, &lab.kubeconfig) {
        println!("  OpenShift API  {}  (kubeconfig {})", api.url, kubeconfig.display());
    }
    println!("source {} to use etcdctl, kubectl or etcd-console; stop with Ctrl-C", env.display());
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    stop(lab).await;
    0
}

/// `etcd-console lab`: starts the lab, runs `console` on it, and stops the lab
/// whatever the console's end; the console's exit code.
pub async fn run_with_console<F, Fut>(args: &LabSettings, console: F) -> i32
where
    F: FnOnce(Session) -> Fut,
    Fut: Future<Output = i32>,
{
    let options = match options(args, None) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let lab = match start(options).await {
        Ok(lab) => lab,
        Err(code) => return code,
    };
    let session = Session {
        connection: lab.connection(),
        kubeconfig: lab.kubeconfig.clone(),
        dir: lab.dir.clone(),
        context: format!("lab, {} members, {}", lab.members.len(), lab.scenario.name),
    };
    let code = console(session).await;
    stop(lab).await;
    code
}
