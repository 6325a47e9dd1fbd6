//! Each pod's own small PKI, made at create: a CA, a client certificate for the service and a
//! serving certificate for the pod's kubelet, all ECDSA P-256 (docs/security.md, "The
//! service and kubelet").
//!
//! - The **CA** signs both leaves and is then forgotten: its private key is dropped as soon as
//!   the two leaves are signed, so nothing (not the service, not a leaked record) can mint a
//!   third certificate this pod's kubelet would accept. Its certificate is the client CA the
//!   VM's kubelet trusts (`authentication.x509.clientCAFile`) and the only root the service
//!   trusts for the kubelet's serving certificate.
//! - The **client** certificate (extended key usage `clientAuth` only, CN `k8sless`) and its key
//!   stay in the pod's record, which only the service reads; they never reach the VM.
//! - The **serving** certificate (`serverAuth` only) names the VM as Compute Engine's internal
//!   DNS does, `VM.ZONE.c.PROJECT.internal`, once per zone the pod may land in (a stockout moves
//!   the VM to the next zone, and the certificate must still name it), plus the bare VM name.
//!   The VM's internal IP is not known until after the insert, so no IP is named; the service
//!   verifies the DNS name of the zone its record says. It and its key travel to the VM in its
//!   metadata ([`GuestTls`]), and are kept in the record so a re-insert sends the same ones.
//!
//! Separate extended key usages keep the roles apart: kubelet's x509 authenticator requires
//! `clientAuth` (k8s.io/apiserver pkg/authentication/request/x509, `DefaultVerifyOptions`), and
//! rustls' webpki verifier requires `serverAuth`, so the VM's serving key cannot act as the
//! service, nor the service's client key as kubelet.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use serde::{Deserialize, Serialize};

/// How long before now a certificate is already valid (clocks of the VM and the service
/// differ by seconds, not hours).
const BACKDATE_SECONDS: i64 = 3600;

/// The user kubelet sees for the service (`CN`): kubelet authorizes `AlwaysAllow`, so the
/// name is for kubelet's own logs only.
pub(crate) const CLIENT_COMMON_NAME: &str = "k8sless";

/// A pod's PKI as its record keeps it (PEM). The CA's key is not here: see the module docs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodPki {
    /// The pod's CA certificate: kubelet's client CA, and the service's only root for kubelet.
    pub ca_cert: String,
    /// The service's client certificate.
    pub client_cert: String,
    /// Its private key (PKCS#8).
    pub client_key: String,
    /// kubelet's serving certificate.
    pub serving_cert: String,
    /// Its private key (PKCS#8); goes to the VM.
    pub serving_key: String,
}

impl std::fmt::Debug for PodPki {
    /// Never prints a key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodPki").finish_non_exhaustive()
    }
}

/// What the VM receives (in its metadata): the client CA and the serving pair, never the
/// client key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GuestTls<'a> {
    /// kubelet's `clientCAFile`.
    pub client_ca: &'a str,
    /// kubelet's `tlsCertFile`.
    pub serving_cert: &'a str,
    /// kubelet's `tlsPrivateKeyFile`.
    pub serving_key: &'a str,
}

/// Why a PKI could not be made.
#[derive(Debug, thiserror::Error)]
#[error("making the pod's kubelet certificates ({step})")]
pub(crate) struct PkiError {
    step: &'static str,
    #[source]
    source: rcgen::Error,
}

fn step(step: &'static str) -> impl FnOnce(rcgen::Error) -> PkiError {
    move |source| PkiError { step, source }
}

/// The names the serving certificate carries for a VM (see the module docs).
pub(crate) fn serving_names(vm: &str, zones: &[String], project: &str) -> Vec<String> {
    let mut names: Vec<String> = zones.iter().map(|z| vm_dns_name(vm, z, project)).collect();
    names.push(vm.to_string());
    names
}

/// Compute Engine's zonal internal DNS name of a VM
/// (https://cloud.google.com/compute/docs/internal-dns#instance-fully-qualified-domain-names).
/// A project id with a domain (`example.com:proj`) is written `proj.example.com`.
pub(crate) fn vm_dns_name(vm: &str, zone: &str, project: &str) -> String {
    let project = match project.split_once(':') {
        Some((domain, id)) => format!("{id}.{domain}"),
        None => project.to_string(),
    };
    format!("{vm}.{zone}.c.{project}.internal")
}

impl PodPki {
    /// A fresh PKI for a VM named by `serving_names`, valid from an hour ago for
    /// `valid_seconds` (the VM's longest life, plus margin).
    pub(crate) fn generate(
        serving_names: Vec<String>,
        valid_seconds: u64,
    ) -> Result<PodPki, PkiError> {
        let now = time::OffsetDateTime::now_utc();
        let not_before = now - time::Duration::seconds(BACKDATE_SECONDS);
        let not_after = now
            + time::Duration::seconds(
                i64::try_from(valid_seconds)
                    .unwrap_or(i64::MAX / 2)
                    .min(i64::MAX / 2),
            );
        let validity = |p: &mut CertificateParams| {
            p.not_before = not_before;
            p.not_after = not_after;
        };

        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(step("CA key"))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(step("CA"))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "k8sless pod kubelet CA");
        validity(&mut ca);
        let ca_cert = ca.self_signed(&ca_key).map_err(step("CA certificate"))?;
        let issuer = Issuer::new(ca, ca_key);

        // A certificate the CA signs for one end: its key, names, common name and use; `steps`
        // name the key, the names and the certificate in errors.
        let leaf = |steps: [&'static str; 3],
                    names: Vec<String>,
                    common_name: &str,
                    usage: ExtendedKeyUsagePurpose| {
            let [key_step, names_step, cert_step] = steps;
            let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(step(key_step))?;
            let mut params = CertificateParams::new(names).map_err(step(names_step))?;
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.use_authority_key_identifier_extension = true;
            validity(&mut params);
            let cert = params.signed_by(&key, &issuer).map_err(step(cert_step))?;
            Ok::<_, PkiError>((cert, key))
        };
        let (client_cert, client_key) = leaf(
            ["client key", "client", "client certificate"],
            Vec::new(),
            CLIENT_COMMON_NAME,
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        let (serving_cert, serving_key) = leaf(
            ["serving key", "serving names", "serving certificate"],
            serving_names,
            "k8sless pod kubelet",
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        // `issuer` (with the CA's key) is dropped here.
        Ok(PodPki {
            ca_cert: ca_cert.pem(),
            client_cert: client_cert.pem(),
            client_key: client_key.serialize_pem(),
            serving_cert: serving_cert.pem(),
            serving_key: serving_key.serialize_pem(),
        })
    }

    /// What the VM gets.
    pub(crate) fn guest(&self) -> GuestTls<'_> {
        GuestTls {
            client_ca: &self.ca_cert,
            serving_cert: &self.serving_cert,
            serving_key: &self.serving_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_follow_compute_engine() {
        assert_eq!(
            vm_dns_name("k8s-a-b", "us-central1-a", "proj"),
            "k8s-a-b.us-central1-a.c.proj.internal"
        );
        assert_eq!(
            vm_dns_name("vm", "z", "example.com:proj"),
            "vm.z.c.proj.example.com.internal"
        );
        let names = serving_names("vm", &["z1".into(), "z2".into()], "p");
        assert_eq!(names, ["vm.z1.c.p.internal", "vm.z2.c.p.internal", "vm"]);
    }

    #[test]
    fn generates_pem_and_never_prints_keys() {
        // The cost a create pays (docs/benchmarks.md): the mean of 20.
        let started = std::time::Instant::now();
        for _ in 0..20 {
            PodPki::generate(serving_names("vm", &["z".into()], "p"), 86_400).unwrap();
        }
        eprintln!("one pod's PKI: {:?} (mean of 20)", started.elapsed() / 20);
        let pki = PodPki::generate(serving_names("vm", &["z".into()], "p"), 86_400).unwrap();
        for pem in [&pki.ca_cert, &pki.client_cert, &pki.serving_cert] {
            assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        }
        for pem in [&pki.client_key, &pki.serving_key] {
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "{pem}");
        }
        assert_ne!(pki.client_key, pki.serving_key);
        assert!(!format!("{pki:?}").contains("PRIVATE"));
        let guest = pki.guest();
        assert_eq!(guest.client_ca, pki.ca_cert);
        let json = serde_json::to_string(&pki).unwrap();
        assert!(json.len() < 4096, "{} bytes in the record", json.len());
    }
}
