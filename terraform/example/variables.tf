variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the service and of the pod VMs."
  type        = string
  default     = "us-central1"
}

variable "invoker_members" {
  description = "Who may use the Kubernetes API (e.g. [\"user:you@example.com\"])."
  type        = list(string)
}

variable "admins" {
  description = "Emails that are cluster-admin in k8sless (e.g. [\"you@example.com\"]); also list them in invoker_members."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Set false, apply, then destroy (docs/deploy.md, \"Teardown\")."
  type        = bool
  default     = true
}
