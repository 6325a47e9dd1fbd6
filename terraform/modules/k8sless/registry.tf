resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84: Google-managed encryption; a customer-managed KMS key would add a standing monthly cost to a deployment meant to cost nearly nothing at rest.
  project       = var.project_id
  location      = var.region
  repository_id = var.name
  format        = "DOCKER"
  description   = "k8sless service images; pods may also use images pushed here (the guest service account can read them)."
  labels        = local.labels

  # Keep the newest service images and delete the rest after 30 days. Both policies match
  # the service's package only, so images of pods pushed to this repository are left alone.
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent-service-images"
    action = "KEEP"
    most_recent_versions {
      package_name_prefixes = [var.image_name]
      keep_count            = var.image_retention_count
    }
  }

  cleanup_policies {
    id     = "delete-old-service-images"
    action = "DELETE"
    condition {
      tag_state             = "ANY"
      package_name_prefixes = [var.image_name]
      older_than            = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
