output "service_url" {
  description = "URL of the Kubernetes API (the audience of every OIDC token the service accepts)."
  value       = local.service_url
}

output "service_uri" {
  description = "The URL Cloud Run reports for the service (also valid)."
  value       = google_cloud_run_v2_service.service.uri
}

output "kubeconfig" {
  description = "A kubeconfig for the service: save it and point KUBECONFIG at it (docs/deploy.md)."
  value       = <<-EOT
    apiVersion: v1
    kind: Config
    clusters:
    - name: ${var.name}
      cluster:
        server: ${local.service_url}
    users:
    - name: ${var.name}
      user:
        exec:
          apiVersion: client.authentication.k8s.io/v1
          interactiveMode: Never
          provideClusterInfo: false
          installHint: "Install the Google Cloud CLI and run: gcloud auth login"
          command: sh
          args:
          - -c
          # An ID token for the service URL. User accounts cannot choose an audience (gcloud
          # refuses --audiences for them) and Cloud Run accepts their plain ID token instead.
          - >-
            t=$(gcloud auth print-identity-token --audiences='${local.service_url}' 2>/dev/null) ||
            t=$(gcloud auth print-identity-token) || exit 1;
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$t"
    contexts:
    - name: ${var.name}
      context:
        cluster: ${var.name}
        user: ${var.name}
        namespace: default
    current-context: ${var.name}
  EOT
}

output "image_repository" {
  description = "Artifact Registry repository of the service image (and of pod images, if wanted)."
  value       = local.image_repository
}

output "build_command" {
  description = "Builds, tests and deploys the service from a checkout of the repository."
  value = join(" ", [
    "gcloud builds submit --config cloudbuild.yaml",
    "--project ${var.project_id}",
    "--region ${var.region}",
    "--service-account ${google_service_account.account["build"].id}",
    "--gcs-source-staging-dir gs://${google_storage_bucket.bucket["build"].name}/source",
    "--substitutions _REGION=${var.region},_REPOSITORY=${google_artifact_registry_repository.images.repository_id},_SERVICE=${google_cloud_run_v2_service.service.name},_IMAGE_NAME=${var.image_name}",
  ])
}

output "bucket" {
  description = "Bucket of pod records (pods/) and logs (logs/)."
  value       = google_storage_bucket.bucket["state"].name
}

output "status_topic" {
  description = "Topic the guests publish pod status to."
  value       = google_pubsub_topic.topic["status"].id
}

output "service_accounts" {
  description = "Emails of the module's service accounts."
  value       = { for key, account in google_service_account.account : key => account.email }
}
