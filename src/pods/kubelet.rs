//! Finding a pod's kubelet: the pod's record (its PKI, its VM and zone), the VM's internal IP
//! from Compute Engine, and the deployment's [`KubeletAccess`]. Logs, top and the streaming
//! verbs start here.

use crate::error::{Error, Result};
use crate::kubelet::{KubeletAccess, KubeletClient, pki};
use crate::pods::Pods;
use crate::pods::record::{self, PodRecord};

impl Pods {
    /// A client for `namespace/name`'s kubelet, for `verb` (named in the 405 when this
    /// deployment does not reach kubelets).
    ///
    /// # Errors
    /// 405 when `--kubelet-access none`; 404 for no such pod; 400 when the pod has no PKI
    /// (created before kubelet access was turned on) or its VM is not running; 503 when
    /// Compute Engine does not answer.
    #[allow(
        dead_code,
        reason = "the entry point of exec, attach and port-forward (their handlers call it)"
    )]
    pub(crate) async fn kubelet(
        &self,
        namespace: &str,
        name: &str,
        verb: &str,
    ) -> Result<(PodRecord, KubeletClient)> {
        self.require_kubelet(verb)?;
        let rec = record::load(&self.store, namespace, name).await?;
        let client = self.kubelet_of(&rec).await?;
        Ok((rec, client))
    }

    /// A record's kubelet, connected over mutual TLS: its client (for the Host header) and the
    /// connection, for a streaming verb to upgrade.
    ///
    /// # Errors
    /// As [`kubelet_of`](Self::kubelet_of); 503 when the kubelet cannot be reached.
    pub(crate) async fn dial_kubelet(
        &self,
        rec: &PodRecord,
    ) -> Result<(
        KubeletClient,
        tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    )> {
        let client = self.kubelet_of(rec).await?;
        let io = client
            .connect()
            .await
            .map_err(|e| Error::unavailable_from("the pod's kubelet cannot be reached", e))?;
        Ok((client, io))
    }

    /// The client for a record's kubelet.
    pub(crate) async fn kubelet_of(&self, rec: &PodRecord) -> Result<KubeletClient> {
        let name = rec.pod.metadata.name.as_deref().unwrap_or("");
        let Some(pki) = rec.kubelet_pki.as_ref() else {
            return Err(Error::bad_request(format!(
                "pod {name} was created before this k8sless reached kubelets; recreate it"
            )));
        };
        if rec.vm.deleted_at.is_some() {
            return Err(Error::bad_request(format!(
                "the VM of pod {name} is deleted"
            )));
        }
        let instance = match self.compute.get(&rec.vm.zone, &rec.vm.name).await {
            Ok(i) => i,
            Err(e @ crate::gce::GceError::NotFound { .. }) => {
                return Err(Error::unavailable_from(
                    format!("the VM of pod {name} does not exist yet or any more"),
                    e,
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let ip = instance
            .network_interfaces
            .first()
            .and_then(|n| n.network_ip.as_deref())
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .ok_or_else(|| {
                Error::unavailable(format!("the VM of pod {name} has no internal IP yet"))
            })?;
        let server_name = pki::vm_dns_name(&rec.vm.name, &rec.vm.zone, &self.settings.project);
        Ok(KubeletClient::new(
            pki,
            self.kubelet.address(ip),
            &server_name,
        )?)
    }
}

/// How long a pod's certificates outlive its VM's longest life: room for collection's
/// re-inserts of a pod that waited for capacity.
const PKI_MARGIN_SECONDS: u64 = 7 * 86_400;

impl Pods {
    /// Opens `plan`'s kubelet to the service when this deployment reaches kubelets: the pod's
    /// PKI (`existing`, or a new one naming the plan's VM in each of its zones) goes into the
    /// VM's metadata; answers the PKI for the record.
    ///
    /// # Errors
    /// 500 when the certificates cannot be made; 422 when the metadata no longer fits.
    pub(crate) fn open_kubelet(
        &self,
        plan: &mut crate::translate::VmPlan,
        existing: Option<&crate::kubelet::PodPki>,
        name: &str,
    ) -> Result<Option<crate::kubelet::PodPki>> {
        open_kubelet(plan, existing, name, &self.kubelet, &self.settings)
    }
}

/// [`Pods::open_kubelet`] for any access and settings (`k8sless render` shows what a create
/// would send, certificates included).
pub(crate) fn open_kubelet(
    plan: &mut crate::translate::VmPlan,
    existing: Option<&crate::kubelet::PodPki>,
    name: &str,
    access: &KubeletAccess,
    settings: &crate::translate::VmSettings,
) -> Result<Option<crate::kubelet::PodPki>> {
    if !access.enabled() {
        return Ok(None);
    }
    let pki = match existing {
        Some(p) => p.clone(),
        None => crate::kubelet::PodPki::generate(
            pki::serving_names(&plan.name, &plan.zones, &settings.project),
            settings
                .max_runtime
                .as_secs()
                .saturating_add(PKI_MARGIN_SECONDS),
        )
        .map_err(|e| Error::internal_from("making the pod's kubelet certificates", e))?,
    };
    crate::translate::add_kubelet_tls(
        plan,
        &pki.guest(),
        access.source_ranges(),
        &settings.deployment,
    )
    .map_err(|causes| Error::pod_invalid(name, causes))?;
    Ok(Some(pki))
}
