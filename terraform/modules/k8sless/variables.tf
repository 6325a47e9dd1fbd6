variable "project_id" {
  description = "Google Cloud project that runs the service and owns the pod VMs."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run service, the bucket, the registry and the VMs."
  type        = string
  default     = "us-central1"
}

variable "name" {
  description = "Name of the Cloud Run service and prefix of every other resource name (service accounts, topics, subscriptions, repository, scheduler job, custom role)."
  type        = string
  default     = "k8sless"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}$", var.name))
    error_message = "name must be 3-21 characters: lowercase letters, digits and hyphens, starting with a letter (service account ids add up to 9 characters and are limited to 30)."
  }
}

variable "bucket_name" {
  description = "Bucket of pod records and logs. Empty: \"<project_id>-<name>\"."
  type        = string
  default     = ""
}

variable "image" {
  description = "Image of the first revision. Cloud Build deploys the real image by digest afterwards, and Terraform ignores later image changes (see docs/deploy.md)."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "image_name" {
  description = "Image (package) name of the service in the Artifact Registry repository; the cleanup policies apply to this package only."
  type        = string
  default     = "k8sless"
}

variable "image_retention_count" {
  description = "How many of the most recent service images the registry keeps; older ones are deleted after 30 days."
  type        = number
  default     = 10
}

# Cloud Run sizing. The defaults are a starting point; docs/benchmarks.md is where they are revisited.
variable "cpu" {
  description = "vCPUs of a Cloud Run instance."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory of a Cloud Run instance."
  type        = string
  default     = "512Mi"
}

variable "concurrency" {
  description = "Requests one Cloud Run instance serves at once."
  type        = number
  default     = 80
}

variable "min_instances" {
  description = "Minimum Cloud Run instances. 0 keeps the cost at rest near zero."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum Cloud Run instances."
  type        = number
  default     = 10
}

variable "request_timeout" {
  description = "Cloud Run request timeout (kubectl logs -f streams for at most this long)."
  type        = string
  default     = "300s"
}

variable "invoker_members" {
  description = "Who may call the Kubernetes API, as IAM members (\"user:alice@example.com\", \"group:team@example.com\"). They get roles/run.invoker on the service and nothing else."
  type        = list(string)
  default     = []
}

variable "admins" {
  description = "Emails (users or service accounts) that are cluster-admin in k8sless' RBAC (K8SLESS_ADMINS; docs/teams.md). Everyone else in invoker_members can do only what a RoleBinding or ClusterRoleBinding grants. They also need roles/run.invoker: list them in invoker_members too."
  type        = list(string)
  default     = []
}

variable "create_namespaces" {
  description = "Create a namespace on its first pod (K8SLESS_CREATE_NAMESPACES) instead of answering 404 as Kubernetes does. Off by default: a namespace carries an admin's policy and quotas, so a typo must not make one (docs/namespaces.md)."
  type        = bool
  default     = false
}

variable "zone" {
  description = "Default zone of the VMs (K8SLESS_ZONE). Empty: the service's default (\"<region>-a\"; set it where that zone does not exist, e.g. us-east1)."
  type        = string
  default     = ""
}

variable "zones" {
  description = "Allowed zones in fallback order (K8SLESS_ZONES). Empty: the service's default."
  type        = list(string)
  default     = []
}

variable "network" {
  description = "VM network (K8SLESS_NETWORK)."
  type        = string
  default     = "global/networks/default"
}

variable "subnetwork" {
  description = "VM subnetwork (K8SLESS_SUBNETWORK), e.g. \"regions/us-central1/subnetworks/pods\". Empty: none."
  type        = string
  default     = ""
}

variable "kubelet_access" {
  description = "Let the service reach each pod's kubelet (exec, attach, cp, port-forward, live logs, top): Cloud Run Direct VPC egress into a subnet of the VMs' network, a firewall rule admitting tcp:10250 from that subnet only, and K8SLESS_KUBELET_ACCESS=vpc. False: those verbs answer 405 saying what is missing (logs come from the archive and Cloud Logging)."
  type        = bool
  default     = true
}

variable "kubelet_egress_cidr" {
  description = "IPv4 range of the service's Direct VPC egress subnet, created in the VMs' network (it must not overlap the network's other subnets): the only source admitted to the VMs' kubelet port. At least /26 (Cloud Run's minimum)."
  type        = string
  default     = "10.8.0.0/26"

  validation {
    condition     = can(cidrhost(var.kubelet_egress_cidr, 0)) && tonumber(split("/", var.kubelet_egress_cidr)[1]) >= 8 && tonumber(split("/", var.kubelet_egress_cidr)[1]) <= 26
    error_message = "kubelet_egress_cidr must be an IPv4 CIDR between /8 and /26 (never 0.0.0.0/0)."
  }
}

variable "external_ip" {
  description = "Give VMs an ephemeral external IP (K8SLESS_EXTERNAL_IP); set false when the network has Cloud NAT."
  type        = bool
  default     = true
}

variable "allowed_service_accounts" {
  description = "Emails of other service accounts pods may run as (K8SLESS_ALLOWED_SERVICE_ACCOUNTS). The service gets roles/iam.serviceAccountUser on each of them; each gets the guest's grants (publish status reports, upload logs, write logs and metrics, pull images from the repository)."
  type        = list(string)
  default     = []
}

variable "log_level" {
  description = "RUST_LOG filter of the service."
  type        = string
  default     = "info"
}

variable "extra_env" {
  description = "Other settings of the configuration table in README.md, by environment variable name (e.g. { K8SLESS_MAX_RUNTIME = \"2h\" })."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_env) : can(regex("^K8SLESS_[A-Z_]+$", k))])
    error_message = "extra_env keys must be K8SLESS_* variables from the configuration table in README.md."
  }
}

variable "record_retention_days" {
  description = "Days after its last update that a pod record (pods/ in the bucket) is deleted."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Days after upload that a finished container's log (logs/ in the bucket) is deleted."
  type        = number
  default     = 30
}

variable "gc_schedule" {
  description = "Cloud Scheduler schedule of POST /gc (cron, UTC)."
  type        = string
  default     = "* * * * *"
}

variable "scheduler_region" {
  description = "Region of the Cloud Scheduler job, where Cloud Scheduler is not offered in `region`. Empty: `region`."
  type        = string
  default     = ""
}

variable "max_delivery_attempts" {
  description = "Push deliveries of one message before it goes to the dead-letter topic (5-100)."
  type        = number
  default     = 10
}

variable "compute_event_methods" {
  description = "Compute Engine audit-log methods routed to POST /events/compute."
  type        = list(string)
  default = [
    "compute.instances.preempted",
    "compute.instances.hostError",
    "v1.compute.instances.delete",
    "beta.compute.instances.delete",
  ]
}

variable "deletion_protection" {
  description = "Protect the Cloud Run service from deletion and keep buckets that still hold objects. Set false (and apply) before `terraform destroy`."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels added to every resource that takes labels."
  type        = map(string)
  default     = {}
}
