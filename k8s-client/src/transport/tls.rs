//! The rustls client configuration of a transport: trusted roots, the dangerous
//! "accept any certificate" verifier, the client certificate and ALPN.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::TransportError;
use crate::config::TlsConfig;

/// The crypto provider every rustls config of this crate uses: ring, chosen explicitly so
/// the process-wide default provider (which another library may have installed, or not) plays
/// no part.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the client TLS configuration.
///
/// `alpn_h2`: offer `h2` before `http/1.1` in ALPN.
pub(crate) fn client_config(
    tls: &TlsConfig,
    client_cert: Option<Arc<dyn rustls::client::ResolvesClientCert>>,
    alpn_h2: bool,
) -> Result<ClientConfig, TransportError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            TransportError::tls_caused(format!("no usable TLS protocol version: {e}"), e)
        })?;

    let builder = if tls.insecure_skip_verify {
        if !tls.root_certs_pem.is_empty() {
            // As client-go: a CA and "skip verification" contradict each other.
            return Err(TransportError::Config(
                "a certificate authority is configured together with insecure-skip-tls-verify; \
                 remove one of them"
                    .to_string(),
            ));
        }
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert {
                algorithms: provider.signature_verification_algorithms,
            }))
    } else {
        builder.with_root_certificates(root_store(&tls.root_certs_pem)?)
    };

    let mut config = match client_cert {
        Some(resolver) => builder.with_client_cert_resolver(resolver),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if alpn_h2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// The trusted roots: the configured PEM certificates, or the platform's store when none.
fn root_store(pems: &[Vec<u8>]) -> Result<RootCertStore, TransportError> {
    let mut store = RootCertStore::empty();
    if pems.is_empty() {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("loading the platform's CA certificates: {e}");
        }
        let (added, ignored) = store.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::debug!("{ignored} platform CA certificates could not be used");
        }
        if added == 0 {
            return Err(TransportError::tls(
                "no certificate authority is configured and the platform's certificate store \
                 holds none: set certificate-authority(-data) in the kubeconfig"
                    .to_string(),
            ));
        }
        return Ok(store);
    }
    for (i, pem) in pems.iter().enumerate() {
        let mut count = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| {
                TransportError::tls_caused(
                    format!("CA certificate bundle #{}: bad PEM: {e}", i + 1),
                    e,
                )
            })?;
            store.add(cert).map_err(|e| {
                TransportError::tls_caused(
                    format!(
                        "CA certificate bundle #{}: unusable certificate: {e}",
                        i + 1
                    ),
                    e,
                )
            })?;
            count += 1;
        }
        if count == 0 {
            return Err(TransportError::tls(format!(
                "CA certificate bundle #{} holds no PEM CERTIFICATE block",
                i + 1
            )));
        }
    }
    Ok(store)
}

/// DANGEROUS: accepts any server certificate, so anyone on the network path can pretend to be
/// the server and read every credential and object the client sends. Used only when the
/// configuration asks for `insecure-skip-tls-verify`. The handshake signatures are still
/// checked (they prove the peer holds the key of the certificate it showed, nothing more).
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ca_pem_is_a_tls_error() {
        let tls = TlsConfig {
            root_certs_pem: vec![b"not a certificate".to_vec()],
            ..TlsConfig::default()
        };
        let err = client_config(&tls, None, true).unwrap_err();
        assert!(
            matches!(err, TransportError::Tls { ref message, .. } if message.contains("no PEM")),
            "{err}"
        );
    }

    #[test]
    fn insecure_with_ca_is_refused() {
        let tls = TlsConfig {
            root_certs_pem: vec![b"x".to_vec()],
            insecure_skip_verify: true,
            ..TlsConfig::default()
        };
        assert!(matches!(
            client_config(&tls, None, true),
            Err(TransportError::Config(_))
        ));
    }

    #[test]
    fn alpn_offers_h2_first_unless_disabled() {
        let tls = TlsConfig {
            insecure_skip_verify: true,
            ..TlsConfig::default()
        };
        let c = client_config(&tls, None, true).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
        let c = client_config(&tls, None, false).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
