//! The lab's PKI: a CA, one serving/peer certificate per member, and a client
//! certificate for etcdctl and the console. Keys are written mode 0600.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::LabError;

#[derive(Debug, Clone)]
pub struct CertPaths {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct LabPki {
    pub ca: PathBuf,
    pub client: CertPaths,
    pub members: Vec<CertPaths>,
}

fn pki_error(e: rcgen::Error) -> LabError {
    LabError::Pki(e.to_string())
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), LabError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| LabError::Io(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes()).map_err(|e| LabError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Writes a fresh PKI under `dir` for the named members.
pub fn generate(dir: &Path, member_names: &[String]) -> Result<LabPki, LabError> {
    fs::create_dir_all(dir).map_err(|e| LabError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    ca_params.distinguished_name.push(DnType::CommonName, "etcd-console lab CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(pki_error)?).map_err(pki_error)?;
    let ca_path = dir.join("ca.crt");
    write_file(&ca_path, &ca.pem(), 0o644)?;

    let issue = |name: &str, file_stem: &str, usages: Vec<ExtendedKeyUsagePurpose>| -> Result<CertPaths, LabError> {
        let key = KeyPair::generate().map_err(pki_error)?;
        let mut params = CertificateParams::new(vec!["localhost".to_string(), name.to_string()]).map_err(pki_error)?;
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = usages;
        let cert = params.signed_by(&key, &ca).map_err(pki_error)?;
        let paths = CertPaths { cert: dir.join(format!("{file_stem}.crt")), key: dir.join(format!("{file_stem}.key")) };
        write_file(&paths.cert, &cert.pem(), 0o644)?;
        write_file(&paths.key, &key.serialize_pem(), 0o600)?;
        Ok(paths)
    };
    let both = || vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let members = member_names.iter().map(|name| issue(name, name, both())).collect::<Result<Vec<_>, _>>()?;
    let client = issue("etcd-console", "client", vec![ExtendedKeyUsagePurpose::ClientAuth])?;
    Ok(LabPki { ca: ca_path, client, members })
}
