# k8sless on Google Cloud: the Cloud Run service, its state bucket, the Pub/Sub status and
# compute-event paths, the collection schedule, and one least-privilege service account per
# role. docs/deploy.md explains every resource and has the IAM table that tests/deploy checks.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.this.number

  # Cloud Run's deterministic URL (https://SERVICE-PROJECT_NUMBER.REGION.run.app). It is known
  # before the service exists, so the service can be told its own URL (K8SLESS_SERVICE_URL)
  # without a dependency cycle, and it is the audience of every OIDC token sent to it.
  service_url = "https://${var.name}-${local.project_number}.${var.region}.run.app"

  bucket_name = coalesce(var.bucket_name, "${var.project_id}-${var.name}")

  # This deployment's id (K8SLESS_DEPLOYMENT): the k8sless-deployment label of its VMs, and,
  # as six hex digits of its SHA-256, the tag that starts their names (src/translate/names.rs),
  # which the service's Compute Engine grant is conditioned on (iam.tf). `name` is unique in
  # the project already (every other resource is named after it) and label-safe.
  deployment        = var.name
  vm_name_prefix    = "k8s-${substr(sha256(local.deployment), 0, 6)}-"
  build_bucket_name = "${local.bucket_name}-build"
  scheduler_region  = coalesce(var.scheduler_region, var.region)

  # Google-managed identities this module grants to (they exist once their API is enabled).
  pubsub_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  image_repository = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"

  labels = merge({ app = "k8sless" }, var.labels)
}

resource "google_project_service" "enabled" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ])

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}
