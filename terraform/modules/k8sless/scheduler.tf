# POST /gc every minute: delete finished VMs, fail VMs that never reported, retry inserts,
# delete orphans (design: "Collect").
resource "google_cloud_scheduler_job" "gc" {
  project          = var.project_id
  region           = local.scheduler_region
  name             = "${var.name}-gc"
  description      = "k8sless collection: POST /gc"
  schedule         = var.gc_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "120s"

  # A failed run is not retried: the next one is a minute away and does the same work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.service_url}/gc"
    oidc_token {
      service_account_email = google_service_account.account["invoker"].email
      audience              = local.service_url
    }
  }

  # Calls made before the first revision is up would only fail.
  depends_on = [google_cloud_run_v2_service.service]
}
