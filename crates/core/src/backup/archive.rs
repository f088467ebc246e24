//! `static_kuberesources_<ts>.tar.gz`, as `cluster-backup.sh` writes it and
//! `cluster-restore.sh` unpacks it: a gzip stream holding a tar of the newest
//! static-pod resources of etcd, kube-apiserver, kube-controller-manager and
//! kube-scheduler (`etc/kubernetes/static-pod-resources/<component>-pod-<N>/...`).
//! Read end to end: a truncated gzip, a broken tar or a missing component is
//! refused before the backup is put in place.

use std::io::Read;
use std::path::Path;

/// The components whose resources `cluster-restore.sh` takes from the archive.
pub const COMPONENTS: &[&str] = &["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"];

const RESOURCES: &str = "etc/kubernetes/static-pod-resources/";

/// What the archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFacts {
    pub entries: usize,
    /// Each component and the revision of its resources (`kube-apiserver`, 7).
    pub revisions: Vec<(String, u32)>,
}

/// `etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/...` → (kube-apiserver, 7).
fn component_of(path: &str) -> Option<(String, u32)> {
    let path = path.trim_start_matches("./").trim_start_matches('/');
    let rest = path.strip_prefix(RESOURCES)?;
    let dir = rest.split('/').next()?;
    let (component, revision) = dir.rsplit_once("-pod-")?;
    let revision = revision.parse::<u32>().ok()?;
    COMPONENTS.contains(&component).then(|| (component.to_string(), revision))
}

/// Reads the archive through: gzip (its CRC and length checked at the end), every tar
/// entry's header and contents, and which components' resources it holds.
pub fn check_reader(reader: impl Read) -> Result<ArchiveFacts, String> {
    let gzip = flate2::read::GzDecoder::new(reader);
    let mut archive = tar::Archive::new(gzip);
    let mut entries = 0usize;
    let mut revisions: Vec<(String, u32)> = Vec::new();
    let list = archive.entries().map_err(|e| format!("not a gzip'd tar archive: {e}"))?;
    for entry in list {
        let mut entry = entry.map_err(|e| format!("the archive is damaged after {entries} entries: {e}"))?;
        let path = entry.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        // Reading each entry's contents to its end is what checks the gzip stream under it.
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| format!("the archive is damaged in {path}: {e}"))?;
        entries += 1;
        if let Some(found) = component_of(&path) {
            if !revisions.contains(&found) {
                revisions.push(found);
            }
        }
    }
    // The tar's end marker read, the gzip trailer (CRC-32 and length) comes next.
    let mut gzip = archive.into_inner();
    std::io::copy(&mut gzip, &mut std::io::sink()).map_err(|e| format!("the archive's gzip stream is damaged: {e}"))?;
    if entries == 0 {
        return Err("the archive is empty".into());
    }
    let missing: Vec<&str> =
        COMPONENTS.iter().copied().filter(|c| !revisions.iter().any(|(found, _)| found == c)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "the archive holds no static-pod resources of {} (cluster-restore.sh unpacks etcd's, kube-apiserver's, \
             kube-controller-manager's and kube-scheduler's)",
            missing.join(", ")
        ));
    }
    revisions.sort();
    Ok(ArchiveFacts { entries, revisions })
}

/// [`check_reader`] on a file.
pub fn check(path: &Path) -> Result<ArchiveFacts, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    check_reader(std::io::BufReader::new(file)).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz of the given files, made with the real tar as cluster-backup.sh does.
    fn archive(files: &[&str]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap_or(dir.path())).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&path, format!("contents of {file}")).unwrap_or_else(|e| panic!("{e}"));
        }
        let out = dir.path().join("out.tar.gz");
        let dirs: Vec<String> = files.iter().filter_map(|f| f.rsplit_once('/').map(|(d, _)| d.to_string())).collect();
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(&out)
            .arg("-C")
            .arg(dir.path())
            .args(&dirs)
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success());
        std::fs::read(out).unwrap_or_else(|e| panic!("{e}"))
    }

    const ALL: &[&str] = &[
        "etc/kubernetes/static-pod-resources/etcd-pod-3/configmaps/etcd-pod/pod.yaml",
        "etc/kubernetes/static-pod-resources/kube-apiserver-pod-7/secrets/encryption-config/encryption-config",
        "etc/kubernetes/static-pod-resources/kube-controller-manager-pod-5/configmaps/config/config.yaml",
        "etc/kubernetes/static-pod-resources/kube-scheduler-pod-6/configmaps/config/config.yaml",
    ];

    #[test]
    fn a_whole_archive_names_each_components_revision() {
        let facts = check_reader(archive(ALL).as_slice()).unwrap_or_else(|e| panic!("{e}"));
        let expected: Vec<(String, u32)> = vec![
            ("etcd".into(), 3),
            ("kube-apiserver".into(), 7),
            ("kube-controller-manager".into(), 5),
            ("kube-scheduler".into(), 6),
        ];
        assert_eq!(facts.revisions, expected);
    }

    #[test]
    fn a_truncated_a_corrupt_or_an_incomplete_archive_is_refused() {
        let whole = archive(ALL);
        let truncated = &whole[..whole.len() - 20];
        assert!(check_reader(truncated).is_err(), "truncated");
        let mut flipped = whole.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x55;
        assert!(check_reader(flipped.as_slice()).is_err(), "a flipped byte");
        assert!(check_reader(&b"not gzip at all"[..]).is_err());
        let without_scheduler = archive(&ALL[..3]);
        let error = check_reader(without_scheduler.as_slice()).unwrap_err();
        assert!(error.contains("kube-scheduler"), "{error}");
    }
}
