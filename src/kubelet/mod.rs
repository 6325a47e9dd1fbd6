//! The service's side of each pod's kubelet: the pod's own PKI ([`pki`]), made at create, and
//! the mutually authenticated client ([`connect`]) that logs, top and the streaming verbs use.
//! docs/security.md ("The service and kubelet") says why nothing else can drive kubelet.
//!
//! How the service reaches a VM's kubelet is a deployment setting, [`KubeletAccess`]: over
//! the VPC (Cloud Run Direct VPC egress into the VMs' subnet, a firewall rule and the VM's
//! host firewall admitting port 10250 only from the egress range; terraform/ sets it up), or
//! not at all, when the verbs that need kubelet answer 405 with what is missing.

pub(crate) mod connect;
pub(crate) mod pki;
pub(crate) mod summary;

use std::net::SocketAddr;

pub(crate) use connect::{KubeletClient, KubeletError};
pub(crate) use pki::{GuestTls, PodPki};

/// kubelet's authenticated port (`port` of the KubeletConfiguration).
pub(crate) const KUBELET_PORT: u16 = 10250;

/// How the service reaches kubelets (`--kubelet-access`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum KubeletAccess {
    /// It does not: no PKI is made, kubelet listens on loopback only, and exec, attach,
    /// port-forward and top answer 405 saying what is missing; logs come from the archive
    /// and Cloud Logging.
    #[default]
    None,
    /// Over the VPC, to the VM's internal IP.
    Vpc {
        /// Source ranges the VM's host firewall admits to port 10250 (the service's Direct
        /// VPC egress subnet; `--kubelet-source-ranges`).
        source_ranges: Vec<String>,
        /// Where to connect instead of `networkIP:10250`: the kubelet stand-in of tests and
        /// `dev`, which serves every simulated VM on one loopback port and tells them apart
        /// by the TLS server name, as each VM's own certificate names it.
        dial: Option<SocketAddr>,
    },
}

impl KubeletAccess {
    /// Whether pods get a PKI and a kubelet the service can reach.
    pub(crate) fn enabled(&self) -> bool {
        matches!(self, KubeletAccess::Vpc { .. })
    }

    /// The source ranges the VM's host firewall admits (empty when disabled).
    pub(crate) fn source_ranges(&self) -> &[String] {
        match self {
            KubeletAccess::Vpc { source_ranges, .. } => source_ranges,
            KubeletAccess::None => &[],
        }
    }

    /// The address to dial for a VM whose internal IP is `network_ip`.
    pub(crate) fn address(&self, network_ip: std::net::IpAddr) -> SocketAddr {
        match self {
            KubeletAccess::Vpc { dial: Some(d), .. } => *d,
            _ => SocketAddr::new(network_ip, KUBELET_PORT),
        }
    }
}

/// What 405 says when this deployment does not reach kubelets.
pub(crate) fn not_configured(verb: &str) -> String {
    format!(
        "{verb} needs the service to reach the pod's kubelet, and this k8sless is not set up for it \
         (--kubelet-access none): deploy with Direct VPC egress into the VMs' subnet and \
         --kubelet-access vpc --kubelet-source-ranges <egress range> (docs/deploy.md)"
    )
}
