//! The lab's PKI: a CA, one serving/peer certificate per member, and a client
//! certificate for etcdctl and the console. Keys are written mode 0600.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

pub type LabIssuer = CertifiedIssuer<'static, KeyPair>;

#[derive(Debug, Clone)]
pub struct LabPki {
    pub ca: PathBuf,
    pub client: CertPaths,
    pub members: Vec<CertPaths>,
    /// The CA itself, kept in memory: it signs the simulated cluster's CSRs.
    pub issuer: Arc<LabIssuer>,
}

/// A certificate signed by the lab's CA, in memory (PEM and DER).
pub struct Issued {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    pub key_pem: String,
    pub key_der: Vec<u8>,
}

/// The hosted control plane's etcd client service, as the lab's hosted cluster `clusters/hosted` names it.
pub const HOSTED_ETCD_CLIENT_NAME: &str = "etcd-client.clusters-hosted.svc";

pub fn issue(
    ca: &LabIssuer,
    common_name: &str,
    ips: &[IpAddr],
    usages: Vec<ExtendedKeyUsagePurpose>,
) -> Result<Issued, LabError> {
    let key = KeyPair::generate().map_err(pki_error)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), common_name.to_string()]).map_err(pki_error)?;
    params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    for ip in ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    if usages.contains(&ExtendedKeyUsagePurpose::ServerAuth) && !ips.is_empty() {
        // A member also serves a hosted control plane's etcd in the lab: the names
        // HyperShift's etcd serving certificates carry (its client service, its pods).
        for name in [HOSTED_ETCD_CLIENT_NAME, "*.etcd-discovery.clusters-hosted.svc"] {
            if let Ok(name) = name.try_into() {
                params.subject_alt_names.push(SanType::DnsName(name));
            }
        }
    }
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = usages;
    signed(params, key, ca)
}

fn signed(params: CertificateParams, key: KeyPair, ca: &LabIssuer) -> Result<Issued, LabError> {
    let cert = params.signed_by(&key, ca).map_err(pki_error)?;
    Ok(Issued {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
    })
}

/// A client certificate as the installer's `auth/kubeconfig` carries one: the
/// user as common name, its group (if any) as organization, client auth only
/// and no subject alternative names. An API that trusts the lab's CA reads the
/// user and group from it.
pub fn issue_client(ca: &LabIssuer, user: &str, group: Option<&str>) -> Result<Issued, LabError> {
    let key = KeyPair::generate().map_err(pki_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    params.distinguished_name.push(DnType::CommonName, user);
    if let Some(group) = group {
        params.distinguished_name.push(DnType::OrganizationName, group);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    signed(params, key, ca)
}

fn pki_error(e: rcgen::Error) -> LabError {
    LabError::Pki(e.to_string())
}

/// Writes a file with `mode` (an existing file is given the mode too, whatever it had).
pub fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), LabError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| LabError::Io(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(contents.as_bytes()).map_err(|e| LabError::Io(format!("cannot write {}: {e}", path.display())))?;
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(|e| LabError::Io(format!("cannot set the mode of {}: {e}", path.display())))
}

/// Writes a fresh PKI under `dir` for the named members, each serving on its own loopback address.
pub fn generate(dir: &Path, members: &[(String, Vec<IpAddr>)]) -> Result<LabPki, LabError> {
    fs::create_dir_all(dir).map_err(|e| LabError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error)?;
    ca_params.distinguished_name.push(DnType::CommonName, "etcd-console lab CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(pki_error)?).map_err(pki_error)?;
    let ca_path = dir.join("ca.crt");
    write_file(&ca_path, &ca.pem(), 0o644)?;

    let write = |file_stem: &str, issued: Issued| -> Result<CertPaths, LabError> {
        let paths = CertPaths { cert: dir.join(format!("{file_stem}.crt")), key: dir.join(format!("{file_stem}.key")) };
        write_file(&paths.cert, &issued.cert_pem, 0o644)?;
        write_file(&paths.key, &issued.key_pem, 0o600)?;
        Ok(paths)
    };
    let both = || vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let members =
        members.iter().map(|(name, ips)| write(name, issue(&ca, name, ips, both())?)).collect::<Result<Vec<_>, _>>()?;
    let client = write("client", issue(&ca, "etcd-console", &[], vec![ExtendedKeyUsagePurpose::ClientAuth])?)?;
    Ok(LabPki { ca: ca_path, client, members, issuer: Arc::new(ca) })
}
