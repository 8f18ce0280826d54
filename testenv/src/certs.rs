//! Certificates and keys of a control plane started from `KUBEBUILDER_ASSETS`: a CA, the
//! serving certificate for 127.0.0.1, an admin client certificate (group `system:masters`)
//! and the service-account signing key.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::error::Error;

/// The files written by [`write_pki`].
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    pub(crate) ca_cert: PathBuf,
    pub(crate) ca_key: PathBuf,
    pub(crate) serving_cert: PathBuf,
    pub(crate) serving_key: PathBuf,
    pub(crate) admin_cert: PathBuf,
    pub(crate) admin_key: PathBuf,
    pub(crate) sa_key: PathBuf,
    pub(crate) sa_pub: PathBuf,
}

fn cert_error(e: rcgen::Error) -> Error {
    Error::Certificates(e.to_string())
}

fn leaf(
    names: Vec<String>,
    common_name: &str,
    organization: Option<&str>,
    usage: ExtendedKeyUsagePurpose,
    ca: &Certificate,
    ca_key: &KeyPair,
) -> Result<(Certificate, KeyPair), Error> {
    let mut params = CertificateParams::new(names).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    if let Some(o) = organization {
        params.distinguished_name.push(DnType::OrganizationName, o);
    }
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, ca, ca_key).map_err(cert_error)?;
    Ok((cert, key))
}

/// Generates the PKI into `dir` (created with mode 0700 by the caller).
pub(crate) fn write_pki(dir: &Path) -> Result<Pki, Error> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "k8s-client-testenv-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().map_err(cert_error)?;
    let ca = ca_params.self_signed(&ca_key).map_err(cert_error)?;

    let (serving, serving_key) = leaf(
        vec![
            "127.0.0.1".into(),
            "localhost".into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            "10.0.0.1".into(),
        ],
        "kube-apiserver",
        None,
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
        &ca_key,
    )?;
    let (admin, admin_key) = leaf(
        Vec::new(),
        "testenv-admin",
        Some("system:masters"),
        ExtendedKeyUsagePurpose::ClientAuth,
        &ca,
        &ca_key,
    )?;
    let sa_key = KeyPair::generate().map_err(cert_error)?;

    let pki = Pki {
        ca_cert: dir.join("ca.crt"),
        ca_key: dir.join("ca.key"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        admin_cert: dir.join("admin.crt"),
        admin_key: dir.join("admin.key"),
        sa_key: dir.join("sa.key"),
        sa_pub: dir.join("sa.pub"),
    };
    let files = [
        (&pki.ca_cert, ca.pem()),
        (&pki.ca_key, ca_key.serialize_pem()),
        (&pki.serving_cert, serving.pem()),
        (&pki.serving_key, serving_key.serialize_pem()),
        (&pki.admin_cert, admin.pem()),
        (&pki.admin_key, admin_key.serialize_pem()),
        (&pki.sa_key, sa_key.serialize_pem()),
        (&pki.sa_pub, sa_key.public_key_pem()),
    ];
    for (path, pem) in files {
        std::fs::write(path, pem).map_err(Error::io("writing", path))?;
    }
    Ok(pki)
}
