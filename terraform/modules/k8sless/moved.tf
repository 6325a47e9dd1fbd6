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
