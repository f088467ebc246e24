//! The coreutils a pod's shell offers, on the pod's volumes: `rm`, `mkdir`,
//! `ls`, `test`, `sha256sum`, `cat` and `cat > FILE`, with GNU's messages and
//! exit codes.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Output, PodContext, Resolved, Stdin};

/// Flags (single letters, as `-rf` or `-r -f`) and operands; Err names an unknown letter.
fn options(args: &[String], known: &str) -> Result<(Vec<char>, Vec<String>), char> {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut only_operands = false;
    for arg in args {
        if only_operands || !arg.starts_with('-') || arg == "-" {
            operands.push(arg.clone());
        } else if arg == "--" {
            only_operands = true;
        } else if let Some(long) = arg.strip_prefix("--") {
            match long {
                "recursive" => flags.push('r'),
                "force" => flags.push('f'),
                "parents" => flags.push('p'),
                "all" => flags.push('a'),
                _ => return Err('-'),
            }
        } else {
            for c in arg.chars().skip(1) {
                if !known.contains(c) {
                    return Err(c);
                }
                flags.push(c);
            }
        }
    }
    Ok((flags, operands))
}

/// Resolves a path or says why not on stderr (exit 1).
pub(super) async fn resolve(context: &PodContext, program: &str, path: &str, out: &Output) -> Option<Resolved> {
    match context.resolve(path) {
        Ok(resolved) => Some(resolved),
        Err(e) => {
            out.err(format!("{program}: {e}")).await;
            None
        }
    }
}

pub async fn rm(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let (flags, paths) = match options(args, "rRfvd") {
        Ok(parsed) => parsed,
        Err(c) => {
            out.err(format!("rm: invalid option -- '{c}'")).await;
            return 1;
        }
    };
    let (recursive, force) = (flags.iter().any(|f| matches!(f, 'r' | 'R')), flags.contains(&'f'));
    if paths.is_empty() && !force {
        out.err("rm: missing operand").await;
        return 1;
    }
    let mut code = 0;
    for path in &paths {
        let Some(target) = resolve(context, "rm", path, out).await else {
            code = 1;
            continue;
        };
        let metadata = fs::symlink_metadata(&target.host);
        let Ok(metadata) = metadata else {
            if !force {
                out.err(format!("rm: cannot remove '{path}': No such file or directory")).await;
                code = 1;
            }
            continue;
        };
        if target.mount.read_only {
            out.err(format!("rm: cannot remove '{path}': Read-only file system")).await;
            code = 1;
            continue;
        }
        if metadata.is_dir() {
            if !recursive {
                out.err(format!("rm: cannot remove '{path}': Is a directory")).await;
                code = 1;
                continue;
            }
            if target.pod_path == target.mount.pod_path {
                // A mount point: its content goes, the point itself stays busy.
                let _ = crate::api::hosted_cp::wipe(&target.host);
                out.err(format!("rm: cannot remove '{path}': Device or resource busy")).await;
                code = 1;
                continue;
            }
            if let Err(e) = fs::remove_dir_all(&target.host) {
                out.err(format!("rm: cannot remove '{path}': {}", io_message(&e))).await;
                code = 1;
            }
        } else if target.pod_path == target.mount.pod_path {
            out.err(format!("rm: cannot remove '{path}': Device or resource busy")).await;
            code = 1;
        } else if let Err(e) = fs::remove_file(&target.host) {
            out.err(format!("rm: cannot remove '{path}': {}", io_message(&e))).await;
            code = 1;
        }
    }
    code
}

/// `mv FROM TO` within the pod's volumes: into TO when it is a directory, as coreutils does.
pub async fn mv(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let [from, to] = args else {
        out.err("mv: the lab's mv takes FROM TO").await;
        return 1;
    };
    let (Some(source), Some(target)) = (resolve(context, "mv", from, out).await, resolve(context, "mv", to, out).await)
    else {
        return 1;
    };
    if fs::symlink_metadata(&source.host).is_err() {
        out.err(format!("mv: cannot stat '{from}': No such file or directory")).await;
        return 1;
    }
    if source.mount.read_only || target.mount.read_only {
        out.err(format!("mv: cannot move '{from}' to '{to}': Read-only file system")).await;
        return 1;
    }
    if source.pod_path == source.mount.pod_path {
        out.err(format!("mv: cannot move '{from}' to '{to}': Device or resource busy")).await;
        return 1;
    }
    let destination = match (target.host.is_dir(), source.host.file_name()) {
        (true, Some(name)) => target.host.join(name),
        _ => target.host.clone(),
    };
    if source.mount.host != target.mount.host {
        out.err(format!("mv: cannot move '{from}' to '{to}': Invalid cross-device link")).await;
        return 1;
    }
    if let Err(e) = fs::rename(&source.host, &destination) {
        out.err(format!("mv: cannot move '{from}' to '{to}': {}", io_message(&e))).await;
        return 1;
    }
    0
}

/// An I/O error as coreutils words it.
fn io_message(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        std::io::ErrorKind::AlreadyExists => "File exists".into(),
        _ => {
            let text = error.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        }
    }
}

pub async fn mkdir(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let (flags, paths) = match options(args, "pv") {
        Ok(parsed) => parsed,
        Err(c) => {
            out.err(format!("mkdir: invalid option -- '{c}'")).await;
            return 1;
        }
    };
    if paths.is_empty() {
        out.err("mkdir: missing operand").await;
        return 1;
    }
    let parents = flags.contains(&'p');
    let mut code = 0;
    for path in &paths {
        let Some(target) = resolve(context, "mkdir", path, out).await else {
            code = 1;
            continue;
        };
        if target.mount.read_only {
            out.err(format!("mkdir: cannot create directory '{path}': Read-only file system")).await;
            code = 1;
            continue;
        }
        let made = if parents {
            if target.host.is_dir() {
                Ok(())
            } else {
                fs::create_dir_all(&target.host)
            }
        } else {
            fs::create_dir(&target.host)
        };
        if let Err(e) = made {
            out.err(format!("mkdir: cannot create directory '{path}': {}", io_message(&e))).await;
            code = 1;
        }
    }
    code
}

pub async fn ls(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let (flags, mut paths) = match options(args, "la1AhF") {
        Ok(parsed) => parsed,
        Err(c) => {
            out.err(format!("ls: invalid option -- '{c}'")).await;
            return 2;
        }
    };
    if paths.is_empty() {
        paths.push(".".into());
    }
    let (long, all, dots) = (flags.contains(&'l'), flags.iter().any(|f| matches!(f, 'a' | 'A')), flags.contains(&'a'));
    let mut code = 0;
    let many = paths.len() > 1;
    let mut listing = String::new();
    for (n, path) in paths.iter().enumerate() {
        let Some(target) = resolve(context, "ls", path, out).await else {
            code = 2;
            continue;
        };
        let Ok(metadata) = fs::metadata(&target.host) else {
            out.err(format!("ls: cannot access '{path}': No such file or directory")).await;
            code = 2;
            continue;
        };
        if !metadata.is_dir() {
            listing.push_str(&if long { crate::hosts::agent::ls_long(&target.host, path) } else { path.clone() });
            listing.push('\n');
            continue;
        }
        let mut names: Vec<String> = match fs::read_dir(&target.host) {
            Ok(entries) => entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            Err(e) => {
                out.err(format!("ls: cannot open directory '{path}': {}", io_message(&e))).await;
                code = 2;
                continue;
            }
        };
        names.retain(|n| all || !n.starts_with('.'));
        if dots {
            names.extend([".".to_string(), "..".to_string()]);
        }
        names.sort();
        if many {
            if n > 0 {
                listing.push('\n');
            }
            listing.push_str(&format!("{path}:\n"));
        }
        if long {
            let blocks: u64 = names
                .iter()
                .filter_map(|n| fs::symlink_metadata(target.host.join(n)).ok())
                .map(|m| m.blocks() / 2)
                .sum();
            listing.push_str(&format!("total {blocks}\n"));
        }
        for name in names {
            listing.push_str(&if long { crate::hosts::agent::ls_long(&target.host.join(&name), &name) } else { name });
            listing.push('\n');
        }
    }
    out.out(listing).await;
    code
}

pub async fn test(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let (operator, path) = match args {
        [operator, path] => (operator.as_str(), path.as_str()),
        [path] => ("-n", path.as_str()),
        [] => return 1,
        _ => {
            out.err("test: the lab's test knows -e, -d, -f, -s PATH").await;
            return 2;
        }
    };
    if operator == "-n" {
        return i32::from(path.is_empty());
    }
    let Ok(target) = context.resolve(path) else { return 1 };
    let metadata = fs::metadata(&target.host);
    let holds = match operator {
        "-e" => metadata.is_ok(),
        "-d" => metadata.is_ok_and(|m| m.is_dir()),
        "-f" => metadata.is_ok_and(|m| m.is_file()),
        "-s" => metadata.is_ok_and(|m| m.len() > 0),
        _ => {
            out.err(format!("test: {operator}: unary operator expected")).await;
            return 2;
        }
    };
    i32::from(!holds)
}

pub async fn sha256sum(context: &PodContext, args: &[String], out: &Output) -> i32 {
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with('-') || a.as_str() == "-").collect();
    if paths.is_empty() {
        out.err("sha256sum: the lab's pods sum files: give one").await;
        return 1;
    }
    let mut code = 0;
    for path in paths {
        let Some(target) = resolve(context, "sha256sum", path, out).await else {
            code = 1;
            continue;
        };
        match digest(&target.host) {
            Ok(hex) => out.out(format!("{hex}  {path}\n")).await,
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory || target.host.is_dir() => {
                out.err(format!("sha256sum: {path}: Is a directory")).await;
                code = 1;
            }
            Err(e) => {
                out.err(format!("sha256sum: {path}: {}", io_message(&e))).await;
                code = 1;
            }
        }
    }
    code
}

/// The SHA-256 of a file, in hex.
pub fn digest(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "Is a directory"));
    }
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        context.update(&buffer[..n]);
    }
    Ok(context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

pub async fn cat(context: &PodContext, args: &[String], stdin: &mut Stdin, out: &Output) -> i32 {
    if args.is_empty() || args.iter().all(|a| a == "-") {
        while let Some(chunk) = stdin.next().await {
            out.out(chunk).await;
        }
        return 0;
    }
    let mut code = 0;
    for path in args {
        let Some(target) = resolve(context, "cat", path, out).await else {
            code = 1;
            continue;
        };
        if target.host.is_dir() {
            out.err(format!("cat: {path}: Is a directory")).await;
            code = 1;
            continue;
        }
        let file = fs::File::open(&target.host);
        let mut file = match file {
            Ok(file) => file,
            Err(e) => {
                out.err(format!("cat: {path}: {}", io_message(&e))).await;
                code = 1;
                continue;
            }
        };
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => out.out(buffer[..n].to_vec()).await,
                Err(e) => {
                    out.err(format!("cat: {path}: {}", io_message(&e))).await;
                    code = 1;
                    break;
                }
            }
        }
    }
    code
}

/// The byte count of `head -c N` / `head --bytes=N` / `head -cN` (the rest of its words: `-` or nothing).
pub fn head_bytes(args: &[&str]) -> Option<u64> {
    let count = match args {
        ["-c", n] | ["-c", n, "-"] => *n,
        [flag] | [flag, "-"] => flag.strip_prefix("--bytes=").or_else(|| flag.strip_prefix("-c"))?,
        _ => return None,
    };
    count.parse().ok()
}

/// `head -c N [FILE]`: the first N bytes of a file, or of stdin.
pub async fn head(context: &PodContext, args: &[String], stdin: &mut Stdin, out: &Output) -> i32 {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (count, file) = match words.as_slice() {
        ["-c", n, file] if *file != "-" => (n.parse::<u64>().ok(), Some(*file)),
        rest => (head_bytes(rest), None),
    };
    let Some(count) = count else {
        out.err("head: the lab's head knows -c N [FILE]").await;
        return 1;
    };
    let Some(file) = file else {
        let mut left = count;
        while left > 0 {
            let Some(mut chunk) = stdin.next().await else { break };
            chunk.truncate(usize::try_from(left).unwrap_or(usize::MAX));
            left -= chunk.len() as u64;
            out.out(chunk).await;
        }
        return 0;
    };
    let Some(target) = resolve(context, "head", file, out).await else { return 1 };
    match fs::File::open(&target.host) {
        Ok(opened) => {
            let mut bytes = Vec::new();
            if let Err(e) = opened.take(count).read_to_end(&mut bytes) {
                out.err(format!("head: error reading '{file}': {}", io_message(&e))).await;
                return 1;
            }
            out.out(bytes).await;
            0
        }
        Err(e) => {
            out.err(format!("head: cannot open '{file}' for reading: {}", io_message(&e))).await;
            1
        }
    }
}

/// `cat > FILE` (`>>` appends): stdin into a file of the pod's volumes, to its end
/// or, for `head -c N > FILE`, its first `limit` bytes (then the command ends, stdin open or not).
pub async fn stdin_into(
    context: &PodContext,
    path: &str,
    append: bool,
    limit: Option<u64>,
    stdin: &mut Stdin,
    out: &Output,
) -> i32 {
    let target = match context.resolve(path) {
        Ok(target) => target,
        Err(e) => {
            out.err(format!("sh: {e}")).await;
            return 1;
        }
    };
    if target.mount.read_only {
        out.err(format!("sh: {path}: Read-only file system")).await;
        return 1;
    }
    let opened = fs::OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(&target.host);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) => {
            out.err(format!("sh: {path}: {}", io_message(&e))).await;
            return 1;
        }
    };
    let mut left = limit.unwrap_or(u64::MAX);
    while left > 0 {
        let Some(mut chunk) = stdin.next().await else { break };
        chunk.truncate(usize::try_from(left).unwrap_or(usize::MAX));
        left -= chunk.len() as u64;
        if let Err(e) = file.write_all(&chunk) {
            out.err(format!("sh: {path}: {}", io_message(&e))).await;
            return 1;
        }
    }
    match file.sync_all() {
        Ok(()) => 0,
        Err(e) => {
            out.err(format!("sh: {path}: {}", io_message(&e))).await;
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_counts_read_in_every_form() {
        assert_eq!(head_bytes(&["-c", "24608"]), Some(24608));
        assert_eq!(head_bytes(&["-c", "5", "-"]), Some(5));
        assert_eq!(head_bytes(&["-c7"]), Some(7));
        assert_eq!(head_bytes(&["--bytes=9"]), Some(9));
        assert_eq!(head_bytes(&["-n", "3"]), None);
    }

    #[test]
    fn flags_and_operands_part() {
        let args: Vec<String> = ["-rf", "--", "-x", "/var/lib/data"].iter().map(|s| s.to_string()).collect();
        assert_eq!(options(&args, "rf"), Ok((vec!['r', 'f'], vec!["-x".to_string(), "/var/lib/data".to_string()])));
        assert_eq!(options(&["-z".to_string()], "rf"), Err('z'));
    }
}
