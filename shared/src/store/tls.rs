//! Where the process's TLS clients (the AWS SDK's, and the identity provider's and secret
//! scanner's fetches) read the platform's CA certificates from: one bundle file.
//!
//! Both clients load the platform's certificates through rustls-native-certs, which reads the
//! bundle file and then every file of the certificate directory too: on Debian ~150 links to the
//! same certificates (~2 ms of a cold start here), on Amazon Linux 2023 (Lambda's `provided.al2023`)
//! a second, larger bundle in OpenSSL's trusted format. The bundle file alone holds every root:
//! `update-ca-certificates` and `update-ca-trust` write it and the directory from the same store.
//! rustls-native-certs reads only the file that `SSL_CERT_FILE` names, so a function names it at
//! start ([`prefer_bundle_file`]) when the environment names neither a file nor a directory.
//! Each client still parses the roots itself, once per process, when it first connects.

use std::path::{Path, PathBuf};

/// Where distributions keep the one bundle of trusted roots, most specific first:
/// Amazon Linux 2023 and RHEL-like, Debian and Ubuntu, older Fedora, Alpine.
pub const BUNDLE_FILES: &[&str] = &[
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The bundle file to name in `SSL_CERT_FILE`: none when the environment already names a file
/// or a directory (the operator's choice stands), else the first of [`BUNDLE_FILES`] that is a
/// file (none if there is none: the platform's default search stands).
pub fn bundle_to_name(
    ssl_cert_file_set: bool,
    ssl_cert_dir_set: bool,
    is_file: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if ssl_cert_file_set || ssl_cert_dir_set {
        return None;
    }
    BUNDLE_FILES.iter().map(PathBuf::from).find(|p| is_file(p))
}

/// Names the platform's bundle file in `SSL_CERT_FILE` (see the module's documentation).
///
/// # Safety
/// It changes the process's environment: call it first thing in `main`, while the process has one
/// thread (the functions run a current-thread tokio runtime, which starts none).
pub unsafe fn prefer_bundle_file() {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if let Some(bundle) = bundle_to_name(set("SSL_CERT_FILE"), set("SSL_CERT_DIR"), |p| p.is_file()) {
        // SAFETY: the caller guarantees that no other thread reads or writes the environment.
        unsafe { std::env::set_var("SSL_CERT_FILE", bundle) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_environment_names_stands() {
        assert_eq!(bundle_to_name(true, false, |_| true), None);
        assert_eq!(bundle_to_name(false, true, |_| true), None);
        assert_eq!(bundle_to_name(true, true, |_| true), None);
    }

    #[test]
    fn otherwise_the_first_bundle_that_exists_is_named() {
        let debian = |p: &Path| p == Path::new("/etc/ssl/certs/ca-certificates.crt");
        assert_eq!(bundle_to_name(false, false, debian), Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt")));
        assert_eq!(
            bundle_to_name(false, false, |_| true),
            Some(PathBuf::from("/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")),
            "Amazon Linux 2023's comes first"
        );
        assert_eq!(bundle_to_name(false, false, |_| false), None, "none found: the default search");
    }
}
