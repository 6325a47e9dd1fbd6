# One service account per role, each with only what it needs. docs/deploy.md ("IAM") has the
# same bindings as a table, and tests/deploy/test_iam.py checks that the two agree exactly.
# No binding here is of a primitive role (owner, editor, viewer) or replaces a whole policy.

# The four accounts, named `<name>-<key>`.
locals {
  service_accounts = {
    service = {
      display_name = "k8sless service (Cloud Run)"
      description  = "Runs the k8sless API: creates and deletes pod VMs, keeps pod records."
    }
    guest = {
      display_name = "k8sless guest (pod VMs)"
      description  = "Attached to every pod VM: reports status, uploads logs, pulls images."
    }
    invoker = {
      display_name = "k8sless invoker (Pub/Sub push, Cloud Scheduler)"
      description  = "Identity in the OIDC tokens of Pub/Sub pushes and Cloud Scheduler calls: run.invoker only."
    }
    build = {
      display_name = "k8sless build (Cloud Build)"
      description  = "Runs cloudbuild.yaml: pushes the image and deploys a new revision."
    }
  }
}

resource "google_service_account" "account" {
  for_each     = local.service_accounts
  project      = var.project_id
  account_id   = "${var.name}-${each.key}"
  display_name = each.value.display_name
  description  = each.value.description
  depends_on   = [google_project_service.enabled]
}

# --- service -----------------------------------------------------------------------------

# Exactly the Compute Engine calls the service makes, instead of roles/compute.instanceAdmin.v1
# (which also grants attaching disks, serial ports, OS Login, instance groups, snapshots, ...).
# There is no zoneOperations.wait permission: operations.wait is authorized by .get.
resource "google_project_iam_custom_role" "instance_manager" {
  project     = var.project_id
  role_id     = "${replace(var.name, "-", "_")}_instance_manager"
  title       = "k8sless instance manager"
  description = "Create, inspect, label, stop and delete the one-time VMs of k8sless pods."
  permissions = [
    "compute.instances.create",
    "compute.instances.delete",
    "compute.instances.get",
    "compute.instances.list",
    "compute.instances.setLabels",
    "compute.instances.setMetadata",
    "compute.instances.setServiceAccount",
    "compute.instances.setTags",
    "compute.instances.stop",
    "compute.disks.create",
    "compute.subnetworks.use",
    "compute.subnetworks.useExternalIp",
    "compute.zoneOperations.get",
  ]
  depends_on = [google_project_service.enabled]
}

# Only this deployment's VMs (and their boot disks, named as the VM): every name starts with
# `k8s-<tag>-`, the tag being the first six hex digits of SHA-256(deployment id), as
# src/translate/names.rs computes it. Permissions on other resource types (the zone's
# operations, subnetworks, the project for instances.list) are not narrowed by the name.
# Compute Engine supports the resource.type and resource.name attributes in IAM Conditions
# (cloud.google.com/iam/docs/conditions-attribute-reference, "Resource name");
# `extract('/instances/{name}')` is the documented way to match an instance's short name
# (cloud.google.com/iam/docs/configuring-resource-based-access).
resource "google_project_iam_member" "service_instance_manager" {
  project = var.project_id
  role    = google_project_iam_custom_role.instance_manager.name
  member  = google_service_account.account["service"].member

  condition {
    title       = "this-deployments-vms-only"
    description = "Instances and disks named ${local.vm_name_prefix}*, i.e. this k8sless deployment's VMs; other resource types unchanged."
    expression = join(" && ", [
      "(resource.type != 'compute.googleapis.com/Instance' || resource.name.extract('/instances/{name}').startsWith('${local.vm_name_prefix}'))",
      "(resource.type != 'compute.googleapis.com/Disk' || resource.name.extract('/disks/{name}').startsWith('${local.vm_name_prefix}'))",
    ])
  }
}

# --- the fixed bindings, one table per kind of resource ----------------------------------
# Each binding keyed by what it is for; the comments say why each one is needed, and
# docs/deploy.md's table says the same. (The keys were the resources' names before they became
# tables: moved.tf moves each to its key.)

locals {
  # Project-wide roles (the service's Compute Engine grant, which has a condition, is above).
  project_roles = {
    # `kubectl logs` of a running pod reads its container logs from Cloud Logging.
    service_logging_viewer = { role = "roles/logging.viewer", member = google_service_account.account["service"].member }
    guest_log_writer       = { role = "roles/logging.logWriter", member = google_service_account.account["guest"].member }
    guest_metric_writer    = { role = "roles/monitoring.metricWriter", member = google_service_account.account["guest"].member }
    build_log_writer       = { role = "roles/logging.logWriter", member = google_service_account.account["build"].member }
  }

  # roles/iam.serviceAccountUser on one service account: attaching it (to a VM, a revision).
  acts_as = {
    # Attach the guest service account to the VMs it creates, and no other.
    service_acts_as_guest = { account = google_service_account.account["guest"].name, member = google_service_account.account["service"].member }
    # A revision runs as the service account: deploying one means acting as it.
    build_acts_as_service = { account = google_service_account.account["service"].name, member = google_service_account.account["build"].member }
  }

  bucket_roles = {
    service_objects    = { bucket = google_storage_bucket.bucket["state"].name, role = "roles/storage.objectUser", member = google_service_account.account["service"].member }
    build_reads_source = { bucket = google_storage_bucket.bucket["build"].name, role = "roles/storage.objectViewer", member = google_service_account.account["build"].member }
  }

  # roles/pubsub.publisher on one topic.
  topic_publishers = {
    guest_publishes_status = { topic = google_pubsub_topic.topic["status"].name, member = google_service_account.account["guest"].member }
    # Dead-lettering: the Pub/Sub service agent forwards undeliverable messages to the
    # dead-letter topic (and acknowledges them on the source subscription: pubsub_agent_acks).
    pubsub_agent_dead_letter = { topic = google_pubsub_topic.topic["dead_letter"].name, member = local.pubsub_service_agent }
    # The Log Router sink's own identity publishes matching entries to the events topic.
    sink_publishes_events = { topic = google_pubsub_topic.topic["compute_events"].name, member = google_logging_project_sink.compute_events.writer_identity }
  }

  repository_roles = {
    guest_reads_images  = { role = "roles/artifactregistry.reader", member = google_service_account.account["guest"].member }
    build_pushes_images = { role = "roles/artifactregistry.writer", member = google_service_account.account["build"].member }
  }

  service_roles = {
    invoker       = { role = "roles/run.invoker", member = google_service_account.account["invoker"].member }
    build_deploys = { role = "roles/run.developer", member = google_service_account.account["build"].member }
  }
}

resource "google_project_iam_member" "roles" {
  for_each = local.project_roles
  project  = var.project_id
  role     = each.value.role
  member   = each.value.member
}

resource "google_service_account_iam_member" "acts_as" {
  for_each           = local.acts_as
  service_account_id = each.value.account
  role               = "roles/iam.serviceAccountUser"
  member             = each.value.member
}

resource "google_storage_bucket_iam_member" "roles" {
  for_each = local.bucket_roles
  bucket   = each.value.bucket
  role     = each.value.role
  member   = each.value.member
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = local.topic_publishers
  project  = var.project_id
  topic    = each.value.topic
  role     = "roles/pubsub.publisher"
  member   = each.value.member
}

resource "google_artifact_registry_repository_iam_member" "roles" {
  for_each   = local.repository_roles
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = each.value.role
  member     = each.value.member
}

resource "google_cloud_run_v2_service_iam_member" "roles" {
  for_each = local.service_roles
  project  = var.project_id
  location = google_cloud_run_v2_service.service.location
  name     = google_cloud_run_v2_service.service.name
  role     = each.value.role
  member   = each.value.member
}

# --- bindings for each member of a variable -----------------------------------------------

# Pods may ask for one of these (iam.gke.io/gcp-service-account); the operator lists them.
resource "google_service_account_iam_member" "service_acts_as_allowed" {
  for_each           = toset(var.allowed_service_accounts)
  service_account_id = "projects/${var.project_id}/serviceAccounts/${each.value}"
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.account["service"].member
}

# A pod that asks for one of allowed_service_accounts runs on a VM with that account: its
# reporter, log shipping and image pulls need exactly the guest's grants, or the pod fails at
# the boot timeout without a single report.

resource "google_pubsub_topic_iam_member" "allowed_publish_status" {
  for_each = toset(var.allowed_service_accounts)
  project  = var.project_id
  topic    = google_pubsub_topic.topic["status"].name
  role     = "roles/pubsub.publisher"
  member   = "serviceAccount:${each.value}"
}

resource "google_project_iam_member" "allowed_log_writer" {
  for_each = toset(var.allowed_service_accounts)
  project  = var.project_id
  role     = "roles/logging.logWriter"
  member   = "serviceAccount:${each.value}"
}

resource "google_project_iam_member" "allowed_metric_writer" {
  for_each = toset(var.allowed_service_accounts)
  project  = var.project_id
  role     = "roles/monitoring.metricWriter"
  member   = "serviceAccount:${each.value}"
}

resource "google_artifact_registry_repository_iam_member" "allowed_read_images" {
  for_each   = toset(var.allowed_service_accounts)
  project    = var.project_id
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${each.value}"
}

# Callers the operator lists (invoker_members) may call the service.
resource "google_cloud_run_v2_service_iam_member" "users" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = google_cloud_run_v2_service.service.location
  name     = google_cloud_run_v2_service.service.name
  role     = "roles/run.invoker"
  member   = each.value
}

# The Pub/Sub service agent acknowledges dead-lettered messages on each push subscription.
resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks" {
  for_each     = google_pubsub_subscription.push
  project      = var.project_id
  subscription = each.value.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
