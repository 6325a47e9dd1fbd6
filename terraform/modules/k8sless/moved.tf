# Where resources were renamed or merged: Terraform moves existing state to the new address
# instead of destroying and re-creating the resource. Kept until every deployment has applied
# the change; removing a block after that changes nothing.

# The two push subscriptions became one for_each (pubsub.tf), and so did the Pub/Sub service
# agent's two grants on them (iam.tf).
moved {
  from = google_pubsub_subscription.status
  to   = google_pubsub_subscription.push["status"]
}

moved {
  from = google_pubsub_subscription.compute_events
  to   = google_pubsub_subscription.push["compute_events"]
}

moved {
  from = google_pubsub_subscription_iam_member.pubsub_agent_status
  to   = google_pubsub_subscription_iam_member.pubsub_agent_acks["status"]
}

moved {
  from = google_pubsub_subscription_iam_member.pubsub_agent_compute_events
  to   = google_pubsub_subscription_iam_member.pubsub_agent_acks["compute_events"]
}

# The fixed IAM bindings became one for_each table per kind of resource (iam.tf), each keyed
# by its old name.

moved {
  from = google_project_iam_member.service_logging_viewer
  to   = google_project_iam_member.roles["service_logging_viewer"]
}

moved {
  from = google_project_iam_member.guest_log_writer
  to   = google_project_iam_member.roles["guest_log_writer"]
}

moved {
  from = google_project_iam_member.guest_metric_writer
  to   = google_project_iam_member.roles["guest_metric_writer"]
}

moved {
  from = google_project_iam_member.build_log_writer
  to   = google_project_iam_member.roles["build_log_writer"]
}

moved {
  from = google_service_account_iam_member.service_acts_as_guest
  to   = google_service_account_iam_member.acts_as["service_acts_as_guest"]
}

moved {
  from = google_service_account_iam_member.build_acts_as_service
  to   = google_service_account_iam_member.acts_as["build_acts_as_service"]
}

moved {
  from = google_storage_bucket_iam_member.service_objects
  to   = google_storage_bucket_iam_member.roles["service_objects"]
}

moved {
  from = google_storage_bucket_iam_member.build_reads_source
  to   = google_storage_bucket_iam_member.roles["build_reads_source"]
}

moved {
  from = google_pubsub_topic_iam_member.guest_publishes_status
  to   = google_pubsub_topic_iam_member.publishers["guest_publishes_status"]
}

moved {
  from = google_pubsub_topic_iam_member.pubsub_agent_dead_letter
  to   = google_pubsub_topic_iam_member.publishers["pubsub_agent_dead_letter"]
}

moved {
  from = google_pubsub_topic_iam_member.sink_publishes_events
  to   = google_pubsub_topic_iam_member.publishers["sink_publishes_events"]
}

moved {
  from = google_artifact_registry_repository_iam_member.guest_reads_images
  to   = google_artifact_registry_repository_iam_member.roles["guest_reads_images"]
}

moved {
  from = google_artifact_registry_repository_iam_member.build_pushes_images
  to   = google_artifact_registry_repository_iam_member.roles["build_pushes_images"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.invoker
  to   = google_cloud_run_v2_service_iam_member.roles["invoker"]
}

moved {
  from = google_cloud_run_v2_service_iam_member.build_deploys
  to   = google_cloud_run_v2_service_iam_member.roles["build_deploys"]
}

# The three topics became one for_each (pubsub.tf).

moved {
  from = google_pubsub_topic.status
  to   = google_pubsub_topic.topic["status"]
}

moved {
  from = google_pubsub_topic.compute_events
  to   = google_pubsub_topic.topic["compute_events"]
}

moved {
  from = google_pubsub_topic.dead_letter
  to   = google_pubsub_topic.topic["dead_letter"]
}

# The two buckets became one for_each (storage.tf).

moved {
  from = google_storage_bucket.state
  to   = google_storage_bucket.bucket["state"]
}

moved {
  from = google_storage_bucket.build
  to   = google_storage_bucket.bucket["build"]
}

# The four service accounts became one for_each (iam.tf).

moved {
  from = google_service_account.service
  to   = google_service_account.account["service"]
}

moved {
  from = google_service_account.guest
  to   = google_service_account.account["guest"]
}

moved {
  from = google_service_account.invoker
  to   = google_service_account.account["invoker"]
}

moved {
  from = google_service_account.build
  to   = google_service_account.account["build"]
}
