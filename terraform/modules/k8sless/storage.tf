# The service's state: pod records under pods/, finished containers' logs under logs/
# (written by the service only), deleted pods' tombstones under tombstones/, and the
# namespaces/, resourcequotas/ and quota-usage/ objects (docs/namespaces.md), which no
# lifecycle rule touches: they live as long as their namespace.
resource "google_storage_bucket" "state" {
  # checkov:skip=CKV_GCP_62: Access to the bucket is recorded by Cloud Audit Logs; usage-log objects would need a second bucket and cost more than the records they describe.
  # checkov:skip=CKV_GCP_78: Records are rewritten on every status change and compare-and-swapped by generation; versioning would keep every intermediate copy and adds nothing the lifecycle rules do not already bound.
  project                     = var.project_id
  name                        = local.bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = local.labels

  # A record is deleted this long after its last write (completed pods stay visible until then).
  lifecycle_rule {
    condition {
      age            = var.record_retention_days
      matches_prefix = ["pods/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.log_retention_days
      matches_prefix = ["logs/"]
    }
    action {
      type = "Delete"
    }
  }

  # Tombstones of deleted pods serve watches resumed within 15 minutes (src/pods/watch.rs
  # ignores older ones); a day later they go.
  lifecycle_rule {
    condition {
      age            = 1
      matches_prefix = ["tombstones/"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Where `gcloud builds submit` stages the source it uploads (--gcs-source-staging-dir), so the
# build service account can read its source without access to any other bucket.
resource "google_storage_bucket" "build" {
  # checkov:skip=CKV_GCP_62: Holds only uploaded build sources for a week; Cloud Audit Logs record access.
  # checkov:skip=CKV_GCP_78: Each upload is a new object that expires after 7 days; versions would only keep deleted tarballs.
  project                     = var.project_id
  name                        = local.build_bucket_name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = local.labels

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}
