# Compute Engine events -> POST /events/compute, through a Log Router sink and Pub/Sub rather
# than an Eventarc trigger (docs/deploy.md, "Compute Engine events"):
# - preemption and host errors are System Event audit logs, which Eventarc's audit-log
#   triggers do not deliver (they take Admin Activity and Data Access logs only);
# - Eventarc matches one exact methodName per trigger; one sink filter covers all of them;
# - Admin Activity and System Event logs are always on: no audit-log configuration is needed;
# - the push subscription carries an OIDC token with the same audience and service account
#   as the status pushes, plus the retry policy and dead-letter topic of every subscription.
locals {
  compute_event_filter = join(" AND ", [
    # The exact audit logs, not a substring: anyone with logging.logWriter (every VM) can
    # write to a log whose name merely contains "cloudaudit.googleapis.com".
    "logName=(\"projects/${var.project_id}/logs/cloudaudit.googleapis.com%2Factivity\" OR \"projects/${var.project_id}/logs/cloudaudit.googleapis.com%2Fsystem_event\")",
    "protoPayload.serviceName=\"compute.googleapis.com\"",
    "resource.type=\"gce_instance\"",
    "protoPayload.methodName=(${join(" OR ", [for m in var.compute_event_methods : "\"${m}\""])})",
    # The service's own deletions are not news to it.
    "NOT protoPayload.authenticationInfo.principalEmail=\"${google_service_account.account["service"].email}\"",
  ])
}

resource "google_logging_project_sink" "compute_events" {
  project                = var.project_id
  name                   = "${var.name}-compute-events"
  description            = "Compute Engine preemptions, host errors and deletions, for k8sless (POST /events/compute)."
  destination            = "pubsub.googleapis.com/${google_pubsub_topic.topic["compute_events"].id}"
  filter                 = local.compute_event_filter
  unique_writer_identity = true

  depends_on = [google_project_service.enabled]
}
