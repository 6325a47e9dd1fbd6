# The three topics, alike but for their name:
# - status: guests publish status transitions; Pub/Sub pushes them to POST /pubsub/push;
# - compute_events: Compute Engine audit-log entries, routed here by the Log Router sink in
#   events.tf;
# - dead_letter: messages that the service refused max_delivery_attempts times, from either
#   push subscription.
resource "google_pubsub_topic" "topic" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption; a customer-managed KMS key adds a standing cost and these messages are pod statuses and audit-log entries (already stored in Cloud Logging), not secrets.
  for_each = toset(["status", "compute_events", "dead_letter"])
  project  = var.project_id
  name     = "${var.name}-${replace(each.key, "_", "-")}"
  labels   = local.labels

  depends_on = [google_project_service.enabled]
}

# Keeps dead letters for a week so an operator can read them (`gcloud pubsub subscriptions pull`).
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name}-dead-letter"
  topic                      = google_pubsub_topic.topic["dead_letter"].id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60
  labels                     = local.labels

  expiration_policy {
    ttl = ""
  }
}

# The two push subscriptions, alike but for their topic and the service path they push to.
locals {
  push_subscriptions = {
    status         = { topic = google_pubsub_topic.topic["status"].id, path = "/pubsub/push" }
    compute_events = { topic = google_pubsub_topic.topic["compute_events"].id, path = "/events/compute" }
  }
}

resource "google_pubsub_subscription" "push" {
  for_each             = local.push_subscriptions
  project              = var.project_id
  name                 = "${var.name}-${replace(each.key, "_", "-")}-push"
  topic                = each.value.topic
  ack_deadline_seconds = 30
  labels               = local.labels

  push_config {
    push_endpoint = "${local.service_url}${each.value.path}"
    oidc_token {
      service_account_email = google_service_account.account["invoker"].email
      audience              = local.service_url
    }
  }

  retry_policy {
    minimum_backoff = "5s"
    maximum_backoff = "300s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead_letter"].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service.service]
}
