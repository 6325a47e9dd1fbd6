# The service's private path to each pod's kubelet (docs/deploy.md "Kubelet access",
# docs/security.md "The service and kubelet"):
# - Cloud Run Direct VPC egress puts the service's traffic to private ranges on a small
#   subnet of its own in the VMs' network (run.tf, template.vpc_access);
# - one firewall rule admits tcp:10250 from that subnet's range only, to this deployment's
#   VMs only (the network tag k8sless-<tag> the service sets when it reaches kubelets);
# - each VM's host firewall admits 10250 from the same range only (K8SLESS_KUBELET_SOURCE_RANGES,
#   src/guest/files/k8sless-kubelet-access.sh), and kubelet requires a client certificate
#   from the pod's own CA.
# No VM port is opened to the internet: no rule here has a public source, and the VMs'
# other ports stay closed (Compute Engine's implied deny-ingress rule).

locals {
  # The network's name, from "global/networks/N", "projects/P/global/networks/N" or "N".
  network_name = element(split("/", var.network), length(split("/", var.network)) - 1)
  # The tag src/translate/names.rs gives this deployment's VMs: "k8sless-" and the first six
  # hex digits of SHA-256 of the deployment id (the same tag as in their names).
  kubelet_network_tag = "k8sless-${substr(sha256(local.deployment), 0, 6)}"
}

resource "google_compute_subnetwork" "egress" {
  count = var.kubelet_access ? 1 : 0

  project     = var.project_id
  name        = "${var.name}-egress"
  description = "Direct VPC egress of the k8sless service ${var.name}: the only source admitted to its VMs' kubelet port."
  region      = var.region
  network     = local.network_name
  # Direct VPC egress takes IPs from this range: /26 holds up to about 30 instances
  # (https://cloud.google.com/run/docs/configuring/vpc-direct-vpc, "IP address allocation").
  ip_cidr_range            = var.kubelet_egress_cidr
  private_ip_google_access = true

  # Flow logs of the only path to the VMs' kubelets: who talked to which VM, for audit. Sampled
  # at half and aggregated over 10 minutes, which keeps their cost small.
  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }

  depends_on = [google_project_service.enabled]
}

resource "google_compute_firewall" "kubelet" {
  count = var.kubelet_access ? 1 : 0

  project     = var.project_id
  name        = "${var.name}-kubelet"
  description = "k8sless ${var.name}: kubelet's authenticated port of this deployment's pod VMs, from the service's Direct VPC egress subnet only."
  network     = local.network_name
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = [google_compute_subnetwork.egress[0].ip_cidr_range]
  target_tags   = [local.kubelet_network_tag]

  allow {
    protocol = "tcp"
    ports    = ["10250"]
  }

  log_config {
    metadata = "EXCLUDE_ALL_METADATA"
  }

  depends_on = [google_project_service.enabled]
}
