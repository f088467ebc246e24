//! Reading the certificate files given by --cacert/--cert/--key, with errors
//! that name the file and the flag.

use std::path::{Path, PathBuf};

use etcd_client::{Certificate, Identity, TlsOptions};

use super::EtcdError;
use crate::settings::ConnectionSettings;

/// The files of a TLS connection, kept by path so errors can name them.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub cacert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    pub fn from_args(args: &ConnectionSettings) -> Self {
        Self { cacert: args.cacert.clone(), cert: args.cert.clone(), key: args.key.clone() }
    }

    pub fn is_empty(&self) -> bool {
        self.cacert.is_none() && self.cert.is_none() && self.key.is_none()
    }

    /// Reads and checks every file; None when no TLS flag was given.
    pub fn load(&self) -> Result<Option<TlsOptions>, EtcdError> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut options = TlsOptions::new();
        if let Some(path) = &self.cacert {
            let pem = read_pem(path, "--cacert", "CERTIFICATE")?;
            check_certificates(&pem, &format!("--cacert {}", path.display()), Want::Ca)?;
            options = options.ca_certificate(Certificate::from_pem(pem));
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let cert_pem = read_pem(cert, "--cert", "CERTIFICATE")?;
                let key_pem = read_pem(key, "--key", "PRIVATE KEY")?;
                check_certificates(&cert_pem, &format!("--cert {}", cert.display()), Want::Current)?;
                options = options.identity(Identity::from_pem(cert_pem, key_pem));
            }
            (Some(cert), None) => {
                return Err(EtcdError::Flags(format!(
                    "--cert {} was given without --key: give both, or neither",
                    cert.display()
                )))
            }
            (None, Some(key)) => {
                return Err(EtcdError::Flags(format!(
                    "--key {} was given without --cert: give both, or neither",
                    key.display()
                )))
            }
            (None, None) => {}
        }
        Ok(Some(options))
    }

    /// Explains a connection failure in terms of the flags the user gave.
    pub fn explain(&self, error: &str) -> String {
        let lower = error.to_ascii_lowercase();
        let mut hint = String::new();
        if lower.contains("unknownissuer")
            || lower.contains("unknown issuer")
            || lower.contains("certificate verify")
            || lower.contains("badsignature")
        {
            hint = match &self.cacert {
                Some(ca) => format!(" (the member's certificate is not signed by the CA in --cacert {})", ca.display()),
                None => " (the member's certificate is not trusted: give its CA with --cacert)".into(),
            };
        } else if lower.contains("certificaterequired")
            || lower.contains("certificate required")
            || lower.contains("badcertificate")
            || lower.contains("bad certificate")
            || lower.contains("unknown ca")
        {
            hint = match &self.cert {
                Some(cert) => format!(" (the member refused the client certificate --cert {})", cert.display()),
                None => " (the member wants a client certificate: give --cert and --key)".into(),
            };
        } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
            hint = " (the member's certificate does not name this address)".into();
        }
        format!("{error}{hint}")
    }
}

fn read_pem(path: &Path, flag: &'static str, kind: &'static str) -> Result<Vec<u8>, EtcdError> {
    if let Some(what) = crate::paths::not_a_regular_file(path) {
        return Err(EtcdError::Flags(format!("{flag} {}: it is {what}, not a PEM file", path.display())));
    }
    let bytes = std::fs::read(path).map_err(|source| EtcdError::ReadFile { flag, path: path.to_path_buf(), source })?;
    let text = String::from_utf8_lossy(&bytes);
    let has_block =
        text.lines().any(|line| line.starts_with("-----BEGIN ") && line.trim_end().ends_with(&format!("{kind}-----")));
    if !has_block {
        return Err(EtcdError::NotPem { flag, path: path.to_path_buf(), kind });
    }
    Ok(bytes)
}

/// What a PEM file's certificates must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// A CA bundle: at least one certificate that may sign others.
    Ca,
    /// A client certificate: its first certificate valid now.
    Current,
}

/// Checks the certificates of `pem` before any connection, so that a wrong file is named for what
/// it is rather than met as a TLS handshake failure: a "CA" that is a leaf, a client certificate
/// expired or not yet valid. `what` names the file in the message (`--cacert /path`, or the secret).
pub(crate) fn check_certificates(pem: &[u8], what: &str, want: Want) -> Result<(), EtcdError> {
    use x509_parser::prelude::{parse_x509_certificate, ASN1Time, X509Version};
    let mut first: Option<String> = None;
    let mut any_ca = false;
    for block in x509_parser::pem::Pem::iter_from_buffer(pem) {
        let Ok(block) = block else { continue };
        if block.label != "CERTIFICATE" {
            continue;
        }
        let Ok((_, cert)) = parse_x509_certificate(&block.contents) else {
            return Err(EtcdError::Flags(format!("{what} holds a CERTIFICATE block that is not an X.509 certificate")));
        };
        let subject = crate::units::safe_text(&cert.subject().to_string());
        match want {
            Want::Ca => {
                // A v1 self-signed certificate has no extensions: it is a CA by being its own issuer.
                let ca = match cert.basic_constraints() {
                    Ok(Some(constraints)) => constraints.value.ca,
                    _ => cert.version() == X509Version::V1 && cert.subject() == cert.issuer(),
                };
                any_ca |= ca;
            }
            Want::Current if first.is_none() => {
                let validity = cert.validity();
                let now = ASN1Time::now();
                if validity.not_after < now {
                    return Err(EtcdError::Flags(format!(
                        "{what}: the certificate ({subject}) expired on {}: etcd refuses it; use a current one",
                        validity.not_after
                    )));
                }
                if validity.not_before > now {
                    return Err(EtcdError::Flags(format!(
                        "{what}: the certificate ({subject}) is not valid before {}: check this machine's clock",
                        validity.not_before
                    )));
                }
            }
            Want::Current => {}
        }
        first.get_or_insert(subject);
    }
    match (want, first) {
        (Want::Ca, Some(subject)) if !any_ca => Err(EtcdError::Flags(format!(
            "{what} holds no CA certificate: {subject} may not sign others (basic constraints CA:FALSE). Give \
             the CA bundle that signed the members' serving certificates"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_key_names_the_flag_and_file() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cert = dir.path().join("client.crt");
        let _ = std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let files = TlsFiles { cacert: None, cert: Some(cert.clone()), key: Some(dir.path().join("client.key")) };
        let message = files.load().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("--key") && message.contains("client.key"), "{message}");

        let files = TlsFiles { cacert: None, cert: Some(cert), key: None };
        let message = files.load().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("without --key"), "{message}");
    }

    #[test]
    fn tls_failures_name_the_flag_and_file_to_check() {
        let files = TlsFiles { cacert: Some("/etc/ca.crt".into()), cert: Some("/etc/client.crt".into()), key: None };
        let unknown_ca = files.explain("invalid peer certificate: UnknownIssuer");
        assert!(
            unknown_ca.ends_with("(the member's certificate is not signed by the CA in --cacert /etc/ca.crt)"),
            "{unknown_ca}"
        );
        let refused = files.explain("transport error: received fatal alert: BadCertificate");
        assert!(refused.ends_with("(the member refused the client certificate --cert /etc/client.crt)"), "{refused}");
        assert_eq!(files.explain("tcp connect error: Connection refused"), "tcp connect error: Connection refused");
    }

    #[test]
    fn a_file_without_pem_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let ca = dir.path().join("ca.crt");
        let _ = std::fs::write(&ca, "this is not a certificate");
        let files = TlsFiles { cacert: Some(ca), cert: None, key: None };
        let message = files.load().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("--cacert") && message.contains("ca.crt") && message.contains("no PEM CERTIFICATE"),
            "{message}"
        );
    }
}
