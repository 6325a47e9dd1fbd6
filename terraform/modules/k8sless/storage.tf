# The two buckets, alike but for their name and what expires in them:
# - state: the service's pod records under pods/, finished containers' logs under logs/
#   (written by the service only), deleted pods' tombstones under tombstones/, and the
#   namespaces/, resourcequotas/ and quota-usage/ objects (docs/namespaces.md), which no
#   lifecycle rule touches: they live as long as their namespace;
# - build: where `gcloud builds submit` stages the source it uploads
#   (--gcs-source-staging-dir), so the build service account can read its source without
#   access to any other bucket.
locals {
  buckets = {
    state = {
      name = local.bucket_name
      # Each rule deletes the objects under `prefixes` (all when empty) `age` days after their
      # last write.
      expire = [
        # A record: completed pods stay visible until then.
        { prefixes = ["pods/"], age = var.record_retention_days },
        { prefixes = ["logs/"], age = var.log_retention_days },
        # Tombstones of deleted pods serve watches resumed within 15 minutes
        # (src/pods/watch.rs ignores older ones); a day later they go.
        { prefixes = ["tombstones/"], age = 1 },
      ]
    }
    build = {
      name   = local.build_bucket_name
      expire = [{ prefixes = [], age = 7 }]
    }
  }
}

resource "google_storage_bucket" "bucket" {
  # checkov:skip=CKV_GCP_62: Access to the buckets is recorded by Cloud Audit Logs; usage-log objects would need another bucket and cost more than the records and staged sources they describe.
  # checkov:skip=CKV_GCP_78: Records are rewritten on every status change and compare-and-swapped by generation, and each build upload is a new object that expires after 7 days; versions would keep every intermediate copy and deleted tarball, and add nothing the lifecycle rules do not already bound.
  for_each                    = local.buckets
  project                     = var.project_id
  name                        = each.value.name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection
  labels                      = local.labels

  dynamic "lifecycle_rule" {
    for_each = each.value.expire
    content {
      condition {
        age = lifecycle_rule.value.age
        # null rather than [] where no prefix is named: the rule as it was written before.
        matches_prefix = length(lifecycle_rule.value.prefixes) > 0 ? lifecycle_rule.value.prefixes : null
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.enabled]
}
