//! Which roots the outbound clients trust once `SSL_CERT_FILE` names a bundle (`store::tls`): the
//! SDK's HTTPS client (`store::sdk::https_client`, shared by every SDK client) and the service's
//! own fetches (`auth::outbound_http`) both trust exactly that bundle, here one test CA. A server
//! whose certificate that CA signed is reached; one signed by another CA is refused in the
//! handshake. And `prefer_bundle_file` leaves a bundle the environment names alone.
use std::sync::Arc;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::error::SdkError;
use aws_smithy_types::retry::RetryConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A CA, and a server certificate for `localhost` it signed (with its key).
struct Pki {
    ca_pem: String,
    server: rcgen::Certificate,
    server_key: KeyPair,
}

fn pki(name: &str) -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&server_key, &ca).unwrap();
    Pki { ca_pem: ca.pem(), server, server_key }
}

/// A TLS server on a loopback port answering every request as Secrets Manager answers an unknown
/// secret; returns its port.
async fn serve(pki: &Pki) -> u16 {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.server.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here; that is the client's answer to check.
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut buf = vec![0u8; 16 * 1024];
                let _ = tls.read(&mut buf).await;
                let body = r#"{"__type":"ResourceNotFoundException","message":"no such secret"}"#;
                let response = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn secrets_client(port: u16) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
        .endpoint_url(format!("https://localhost:{port}"))
        .retry_config(RetryConfig::disabled())
        .http_client(shared::store::sdk::https_client())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

#[test]
fn the_outbound_clients_trust_the_bundle_and_nothing_else() {
    let trusted = pki("IAM test root");
    let stranger = pki("Someone else's root");
    let dir = std::env::temp_dir().join(format!("iam-tls-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bundle = dir.join("bundle.pem");
    std::fs::write(&bundle, &trusted.ca_pem).unwrap();
    // SAFETY: the only test of this binary (its harness runs it on a thread of its own, and no other
    // test thread exists), before the runtime is built below and before any client reads the roots.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", &bundle);
        std::env::remove_var("SSL_CERT_DIR");
        shared::store::tls::prefer_bundle_file();
    }
    assert_eq!(std::env::var_os("SSL_CERT_FILE").as_deref(), Some(bundle.as_os_str()), "the named bundle stands");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (good, bad) = (serve(&trusted).await, serve(&stranger).await);

        // The SDK: the trusted server's answer is the service's error; the stranger's handshake fails.
        let err = secrets_client(good).get_secret_value().secret_id("x").send().await.unwrap_err();
        assert!(
            err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()),
            "reached the trusted server: {err:?}"
        );
        let err = secrets_client(bad).get_secret_value().secret_id("x").send().await.unwrap_err();
        assert!(matches!(err, SdkError::DispatchFailure(_)), "refused the stranger: {err:?}");

        // The service's own fetches: the same bundle.
        let http = shared::auth::outbound_http().expect("a client");
        let response = http.get(format!("https://localhost:{good}/jwks.json")).send().await.expect("trusted");
        assert_eq!(response.status(), 400);
        let refused = http.get(format!("https://localhost:{bad}/jwks.json")).send().await;
        assert!(refused.is_err(), "refused the stranger: {refused:?}");
    });
    let _ = std::fs::remove_dir_all(&dir);
}
