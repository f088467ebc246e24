//! The real tools behind a pod's `etcdctl`, `etcdutl` and `tar`, with the
//! pod's paths mapped onto the lab (and mapped back in what they print).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use super::{Output, PodContext, Stdin};

/// The longest a tool may run.
const TOOL_LIMIT: Duration = Duration::from_secs(300);

/// etcdctl's (and etcdutl's) flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "--endpoints",
    "--cacert",
    "--cert",
    "--key",
    "-w",
    "--write-out",
    "--user",
    "--password",
    "--dial-timeout",
    "--command-timeout",
    "--keepalive-time",
    "--keepalive-timeout",
    "--discovery-srv",
    "--discovery-srv-name",
    "--data-dir",
    "--wal-dir",
    "--name",
    "--initial-cluster",
    "--initial-cluster-token",
    "--initial-advertise-peer-urls",
];
/// Those whose value is a file the tool reads (or, for a restore, writes).
const PATH_FLAGS: &[&str] = &["--cacert", "--cert", "--key", "--data-dir", "--wal-dir"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Flag { name: String, value: Option<String> },
    Word(String),
}

/// Flags (`--flag=v` and `--flag v`) and words of an etcdctl command line.
fn parse(args: &[String]) -> Vec<Arg> {
    let mut parsed = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if !arg.starts_with('-') || arg == "-" {
            parsed.push(Arg::Word(arg.clone()));
        } else if let Some((name, value)) = arg.split_once('=') {
            parsed.push(Arg::Flag { name: name.to_string(), value: Some(value.to_string()) });
        } else if VALUE_FLAGS.contains(&arg.as_str()) {
            parsed.push(Arg::Flag { name: arg.clone(), value: iter.next().cloned() });
        } else {
            parsed.push(Arg::Flag { name: arg.clone(), value: None });
        }
    }
    parsed
}

fn words(parsed: &[Arg]) -> Vec<&str> {
    parsed
        .iter()
        .filter_map(|a| match a {
            Arg::Word(w) => Some(w.as_str()),
            Arg::Flag { .. } => None,
        })
        .collect()
}

fn flag<'a>(parsed: &'a [Arg], wanted: &str) -> Option<&'a str> {
    parsed.iter().find_map(|a| match a {
        Arg::Flag { name, value } if name == wanted => value.as_deref(),
        _ => None,
    })
}

/// An endpoint as this pod reaches it: `localhost:2379` in an etcd pod is its
/// member, `etcd-N.etcd-discovery...:2379` member N; anything else as given.
fn endpoint(context: &PodContext, url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.rsplit_once(':').map(|(h, _)| h).unwrap_or(rest).trim_matches(['[', ']']);
    let member = if matches!(host, "localhost" | "127.0.0.1" | "::1") {
        context.member.clone()
    } else {
        let index = host.strip_prefix("etcd-").and_then(|h| h.split('.').next()).and_then(|n| n.parse::<usize>().ok());
        let discovery = host.split('.').nth(1) == Some("etcd-discovery");
        index.filter(|_| discovery).and_then(|i| context.inventory.as_ref()?.hosts.get(i).cloned())
    };
    match member {
        Some(member) => member.client_url,
        None => url.to_string(),
    }
}

/// The command line with its paths and endpoints mapped onto the lab.
async fn mapped(context: &PodContext, tool: &str, parsed: &[Arg], out: &Output) -> Option<Vec<String>> {
    let positional = words(parsed);
    // `snapshot save|status|restore FILE`: the file is a pod path.
    let file_at = match positional.as_slice() {
        ["snapshot", "save" | "status" | "restore", _, ..] => Some(2),
        _ => None,
    };
    let mut args = Vec::new();
    let mut word_index = 0;
    for arg in parsed {
        match arg {
            Arg::Word(word) => {
                if Some(word_index) == file_at {
                    let resolved = super::files::resolve(context, &format!("Error: {tool}"), word, out).await?;
                    args.push(resolved.host.display().to_string());
                } else {
                    args.push(word.clone());
                }
                word_index += 1;
            }
            Arg::Flag { name, value: Some(value) } if PATH_FLAGS.contains(&name.as_str()) => {
                let resolved = super::files::resolve(context, &format!("Error: {tool}"), value, out).await?;
                args.push(format!("{name}={}", resolved.host.display()));
            }
            Arg::Flag { name, value: Some(value) } if name == "--endpoints" => {
                let urls: Vec<String> = value.split(',').map(|u| endpoint(context, u.trim())).collect();
                args.push(format!("{name}={}", urls.join(",")));
            }
            Arg::Flag { name, value: Some(value) } => args.push(format!("{name}={value}")),
            Arg::Flag { name, value: None } => args.push(name.clone()),
        }
    }
    Some(args)
}

/// Runs a tool to its end; its stdout and stderr with lab paths said as the pod's.
async fn run_tool(context: &PodContext, mut command: Command, out: &Output) -> i32 {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let output = match tokio::time::timeout(TOOL_LIMIT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            out.err(format!("lab: cannot run {:?}: {e}", command.as_std().get_program())).await;
            return 126;
        }
        Err(_) => {
            out.err(format!(
                "lab: {:?} did not finish within {}s",
                command.as_std().get_program(),
                TOOL_LIMIT.as_secs()
            ))
            .await;
            return 124;
        }
    };
    out.out(context.unmap(&String::from_utf8_lossy(&output.stdout))).await;
    out.err(context.unmap(&String::from_utf8_lossy(&output.stderr))).await;
    output.status.code().unwrap_or(1)
}

fn etcdctl_bin(context: &PodContext) -> PathBuf {
    context.inventory.as_ref().map(|i| i.etcdctl_bin.clone()).unwrap_or_else(|| PathBuf::from("etcdctl"))
}

/// etcdctl of the etcd image (v3 API), with the pod's certificates and endpoints.
pub async fn etcdctl(context: &PodContext, env: &[(String, String)], args: &[String], out: &Output) -> i32 {
    let parsed = parse(args);
    let Some(mut mapped_args) = mapped(context, "etcdctl", &parsed, out).await else { return 1 };
    let mut command = Command::new(etcdctl_bin(context));
    // Nothing of the lab process's own environment (its ETCDCTL_*) reaches the pod's etcdctl.
    command.env_clear().env("ETCDCTL_API", "3");
    let mut has_endpoints = flag(&parsed, "--endpoints").is_some();
    for (name, value) in env {
        let value = match name.as_str() {
            "ETCDCTL_CACERT" | "ETCDCTL_CERT" | "ETCDCTL_KEY" => {
                match super::files::resolve(context, "Error: etcdctl", value, out).await {
                    Some(resolved) => resolved.host.display().to_string(),
                    None => return 1,
                }
            }
            "ETCDCTL_ENDPOINTS" => {
                has_endpoints = true;
                value.split(',').map(|u| endpoint(context, u.trim())).collect::<Vec<_>>().join(",")
            }
            _ => value.clone(),
        };
        command.env(name, value);
    }
    // etcdctl's default endpoint is 127.0.0.1:2379: in an etcd pod, its member.
    let offline = matches!(words(&parsed).as_slice(), ["snapshot", "status" | "restore", ..] | ["version", ..]);
    if let (false, false, Some(member)) = (has_endpoints, offline, &context.member) {
        mapped_args.insert(0, format!("--endpoints={}", member.client_url));
    }
    command.args(&mapped_args);
    run_tool(context, command, out).await
}

/// etcdutl (etcd 3.5's offline tool): `snapshot restore` and `snapshot status`, the real
/// etcdutl when the lab runs etcd 3.5, else done by etcd 3.4's etcdctl; as etcdutl, a
/// restore may go into an empty directory.
pub async fn etcdutl(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let parsed = parse(args);
    let positional = words(&parsed);
    let restore = match positional.as_slice() {
        ["snapshot", "restore", _, ..] => true,
        ["snapshot", "status", _, ..] => false,
        _ => {
            out.err(format!(
                "Error: the lab's etcdutl does `snapshot restore FILE ...` and `snapshot status FILE` (not: etcdutl {})",
                args.join(" ")
            ))
            .await;
            return 1;
        }
    };
    let Some(mapped_args) = mapped(context, "etcdutl", &parsed, out).await else { return 1 };
    if restore {
        // etcdutl's default data directory is `<name>.etcd` in the working directory.
        let data_dir = flag(&parsed, "--data-dir")
            .map(str::to_string)
            .unwrap_or_else(|| format!("/{}.etcd", flag(&parsed, "--name").unwrap_or("default")));
        let Some(target) = super::files::resolve(context, "Error: etcdutl", &data_dir, out).await else { return 1 };
        if target.mount.read_only {
            out.err(format!("Error: mkdir {}: read-only file system", target.pod_path)).await;
            return 1;
        }
        if target.host.is_dir() {
            let empty = std::fs::read_dir(&target.host).map(|mut d| d.next().is_none()).unwrap_or(false);
            if !empty {
                out.err(format!("Error: data-dir \"{}\" not empty or could not be read", target.pod_path)).await;
                return 1;
            }
            // etcd 3.4's etcdctl wants the directory not to exist; etcdutl takes an empty one.
            if let Err(e) = std::fs::remove_dir(&target.host) {
                out.err(format!("Error: {}: {e}", target.pod_path)).await;
                return 1;
            }
        }
        let mut mapped_args = mapped_args;
        if flag(&parsed, "--data-dir").is_none() {
            mapped_args.push(format!("--data-dir={}", target.host.display()));
        }
        return run_tool(context, offline_tool(context, &mapped_args), out).await;
    }
    run_tool(context, offline_tool(context, &mapped_args), out).await
}

/// etcdutl's `snapshot ...` as the lab's etcd release does it: etcdutl itself with 3.5,
/// etcdctl with 3.4.
fn offline_tool(context: &PodContext, args: &[String]) -> Command {
    let etcdutl = context.inventory.as_ref().and_then(|i| i.etcdutl_bin.clone());
    let mut command = Command::new(etcdutl.clone().unwrap_or_else(|| etcdctl_bin(context)));
    command.env_clear();
    if etcdutl.is_none() {
        command.env("ETCDCTL_API", "3");
    }
    command.args(args);
    command
}

/// What a `tar` command line asks.
#[derive(Debug, Default, PartialEq, Eq)]
struct TarArgs {
    extract: bool,
    create: bool,
    touch: bool,
    verbose: bool,
    file: Option<String>,
    directory: Option<String>,
    paths: Vec<String>,
}

fn tar_args(args: &[String]) -> Result<TarArgs, String> {
    let mut parsed = TarArgs::default();
    let mut iter = args.iter().peekable();
    let mut first = true;
    while let Some(arg) = iter.next() {
        let letters = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some(("directory", dir)) => parsed.directory = Some(dir.to_string()),
                Some(("file", file)) => parsed.file = Some(file.to_string()),
                None if long == "extract" => parsed.extract = true,
                None if long == "create" => parsed.create = true,
                None if long == "touch" => parsed.touch = true,
                None if long == "verbose" => parsed.verbose = true,
                None if matches!(long, "no-same-owner" | "no-same-permissions") => {}
                _ => return Err(format!("tar: the lab's tar does not know --{long}")),
            }
            first = false;
            continue;
        } else if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            cluster.to_string()
        } else if first {
            // The old style: `tar xmf - ...`.
            arg.clone()
        } else {
            parsed.paths.push(arg.clone());
            continue;
        };
        first = false;
        for letter in letters.chars() {
            match letter {
                'x' => parsed.extract = true,
                'c' => parsed.create = true,
                'm' => parsed.touch = true,
                'v' => parsed.verbose = true,
                'f' => parsed.file = iter.next().cloned(),
                'C' => parsed.directory = iter.next().cloned(),
                'o' | 'p' => {}
                other => return Err(format!("tar: the lab's tar does not know -{other}")),
            }
        }
    }
    if parsed.extract == parsed.create {
        return Err("tar: You must specify one of the '-xc' options".into());
    }
    if parsed.file.as_deref() != Some("-") {
        return Err("tar: the lab's tar reads and writes its archive on stdin/stdout only (f -)".into());
    }
    Ok(parsed)
}

/// GNU tar, for `kubectl cp`: `tar xmf - -C DIR` extracts stdin into the pod's
/// volumes, `tar cf - PATH` writes PATH (member names as the pod's, without the leading `/`).
pub async fn tar(context: &PodContext, args: &[String], stdin: &mut Stdin, out: &Output) -> i32 {
    let parsed = match tar_args(args) {
        Ok(parsed) => parsed,
        Err(e) => {
            out.err(e).await;
            return 2;
        }
    };
    let mut command = Command::new("tar");
    command.env_clear().env("LC_ALL", "C");
    if parsed.extract {
        let directory = parsed.directory.clone().unwrap_or_else(|| "/".into());
        let target = match context.resolve(&directory) {
            Ok(target) => target,
            Err(e) => {
                out.err(format!("tar: {e}")).await;
                return 2;
            }
        };
        if target.mount.read_only || !target.mount.directory {
            out.err(format!("tar: {directory}: Cannot open: Read-only file system")).await;
            return 2;
        }
        command.arg("-x").arg("-f").arg("-").arg("--no-same-owner").arg("-C").arg(&target.host);
        if parsed.touch {
            command.arg("-m");
        }
        if parsed.verbose {
            command.arg("-v");
        }
        command.args(&parsed.paths);
        return run_streaming(context, command, Some(stdin), out).await;
    }
    // Create: every path in one volume, named as tar names it in the pod.
    let mut resolved = Vec::new();
    for path in &parsed.paths {
        let within = match &parsed.directory {
            Some(dir) if !path.starts_with('/') => format!("{dir}/{path}"),
            _ => path.clone(),
        };
        match context.resolve(&within) {
            Ok(target) => resolved.push((path.clone(), target)),
            Err(e) => {
                out.err(format!("tar: {e}")).await;
                return 2;
            }
        }
    }
    let Some((_, first)) = resolved.first() else {
        out.err("tar: Cowardly refusing to create an empty archive").await;
        return 2;
    };
    let mount = first.mount.clone();
    if resolved.iter().any(|(_, t)| t.mount != mount) || !mount.directory {
        out.err("tar: the lab's tar archives paths of one volume at a time").await;
        return 2;
    }
    if resolved.iter().any(|(p, _)| p.starts_with('/')) && parsed.directory.is_none() {
        out.err("tar: Removing leading `/' from member names").await;
    }
    let prefix = mount.pod_path.trim_start_matches('/').to_string();
    command.arg("-c").arg("-f").arg("-").arg("-C").arg(&mount.host);
    for (_, target) in &resolved {
        let relative = target.pod_path.strip_prefix(&mount.pod_path).unwrap_or("").trim_start_matches('/');
        if relative.is_empty() {
            command.arg(format!("--transform=s,^\\.,{prefix},S")).arg(".");
        } else {
            command.arg(format!("--transform=s,^,{prefix}/,S")).arg(relative);
        }
    }
    run_streaming(context, command, None, out).await
}

/// Runs a tool with stdin fed from the exec stream and stdout streamed back as it comes.
async fn run_streaming(context: &PodContext, mut command: Command, stdin: Option<&mut Stdin>, out: &Output) -> i32 {
    command
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            out.err(format!("lab: cannot run {:?}: {e}", command.as_std().get_program())).await;
            return 126;
        }
    };
    let feeder = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let errors = tokio::spawn(async move {
        let mut text = Vec::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_end(&mut text).await;
        }
        text
    });
    let feed = async {
        if let (Some(mut pipe), Some(stdin)) = (feeder, stdin) {
            while let Some(chunk) = stdin.next().await {
                if pipe.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            let _ = pipe.shutdown().await;
        }
    };
    let read = async {
        let mut buffer = vec![0u8; 32 * 1024];
        if let Some(stdout) = stdout.as_mut() {
            loop {
                match stdout.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.out(buffer[..n].to_vec()).await,
                }
            }
        }
    };
    let done = async {
        tokio::join!(feed, read);
        child.wait().await
    };
    let status = match tokio::time::timeout(TOOL_LIMIT, done).await {
        Ok(Ok(status)) => status.code().unwrap_or(1),
        Ok(Err(e)) => {
            out.err(format!("lab: {e}")).await;
            1
        }
        Err(_) => {
            out.err(format!("lab: tar did not finish within {}s", TOOL_LIMIT.as_secs())).await;
            124
        }
    };
    let errors = errors.await.unwrap_or_default();
    out.err(context.unmap(&String::from_utf8_lossy(&errors))).await;
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn both_flag_forms_read_alike() {
        let parsed = parse(&args("snapshot restore /var/lib/restored.snap.db --data-dir /var/lib/data --name etcd-0 --skip-hash-check --initial-cluster-token=etcd-cluster"));
        assert_eq!(words(&parsed), ["snapshot", "restore", "/var/lib/restored.snap.db"]);
        assert_eq!(flag(&parsed, "--data-dir"), Some("/var/lib/data"));
        assert_eq!(flag(&parsed, "--initial-cluster-token"), Some("etcd-cluster"));
        assert!(parsed.contains(&Arg::Flag { name: "--skip-hash-check".into(), value: None }));
    }

    #[test]
    fn tar_reads_kubectl_cps_command_lines() {
        let extract = tar_args(&args("-xmf - -C /var/lib")).unwrap_or_default();
        assert!(extract.extract && extract.touch && extract.directory.as_deref() == Some("/var/lib"));
        let old = tar_args(&args("xmf - -C /var/lib")).unwrap_or_default();
        assert_eq!(old, extract);
        let create = tar_args(&args("cf - /var/lib/snapshot.db")).unwrap_or_default();
        assert!(create.create && create.paths == ["/var/lib/snapshot.db"]);
        assert!(tar_args(&args("czf x.tgz /var/lib")).is_err());
    }
}
