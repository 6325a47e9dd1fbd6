locals {
  # The service's configuration, by the environment variable names of the configuration table in README.md.
  # K8SLESS_LISTEN is left unset: the service listens on 0.0.0.0:$PORT, as Cloud Run expects.
  env = merge(
    {
      K8SLESS_PROJECT               = var.project_id
      K8SLESS_REGION                = var.region
      K8SLESS_BUCKET                = google_storage_bucket.bucket["state"].name
      K8SLESS_DEPLOYMENT            = local.deployment
      K8SLESS_TOPIC                 = google_pubsub_topic.topic["status"].id
      K8SLESS_SERVICE_URL           = local.service_url
      K8SLESS_GUEST_SERVICE_ACCOUNT = google_service_account.account["guest"].email
      K8SLESS_PUSH_SERVICE_ACCOUNT  = google_service_account.account["invoker"].email
      K8SLESS_NETWORK               = var.network
      K8SLESS_EXTERNAL_IP           = tostring(var.external_ip)
      K8SLESS_LOG_FORMAT            = "json"
      K8SLESS_KUBELET_ACCESS        = var.kubelet_access ? "vpc" : "none"
      RUST_LOG                      = var.log_level
    },
    # Optional settings, left out when empty so the service's own defaults apply. They come
    # from variables only, so the map is known at plan time.
    {
      for name, value in {
        K8SLESS_ZONE                     = var.zone
        K8SLESS_ZONES                    = join(",", var.zones)
        K8SLESS_SUBNETWORK               = var.subnetwork
        K8SLESS_ALLOWED_SERVICE_ACCOUNTS = join(",", var.allowed_service_accounts)
        K8SLESS_KUBELET_SOURCE_RANGES    = var.kubelet_access ? var.kubelet_egress_cidr : ""
        K8SLESS_ADMINS                   = join(",", var.admins)
        K8SLESS_CREATE_NAMESPACES        = var.create_namespaces ? "true" : ""
      } : name => value if value != ""
    },
    var.extra_env,
  )
}

resource "google_cloud_run_v2_service" "service" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  description         = "k8sless: the Kubernetes Pod API, one Compute Engine VM per pod"
  labels              = local.labels
  deletion_protection = var.deletion_protection

  # Reachable from the internet (kubectl), but every request needs roles/run.invoker:
  # no allUsers binding exists, and invoker IAM checks stay on.
  ingress              = "INGRESS_TRAFFIC_ALL"
  invoker_iam_disabled = false

  template {
    service_account                  = google_service_account.account["service"].email
    max_instance_request_concurrency = var.concurrency
    timeout                          = var.request_timeout
    labels                           = local.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    # Direct VPC egress (https://cloud.google.com/run/docs/configuring/vpc-direct-vpc): traffic
    # to private ranges, i.e. the VMs' kubelets, leaves from the egress subnet (network.tf);
    # everything else (Google APIs, the internet) keeps Cloud Run's own path.
    dynamic "vpc_access" {
      for_each = var.kubelet_access ? [1] : []
      content {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = local.network_name
          subnetwork = google_compute_subnetwork.egress[0].name
        }
      }
    }

    containers {
      name = "k8sless"
      # The image runs `k8sless serve` (Dockerfile CMD).
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # Request-based billing: CPU only while serving, so an idle instance costs nothing.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.env
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        period_seconds    = 2
        timeout_seconds   = 1
        failure_threshold = 15
        http_get {
          path = "/readyz"
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 3
        failure_threshold = 3
        http_get {
          path = "/livez"
        }
      }
    }
  }

  lifecycle {
    # Cloud Build deploys new images by digest (cloudbuild.yaml); Terraform owns the rest.
    ignore_changes = [
      template[0].containers[0].image,
      client,
      client_version,
    ]
  }

  depends_on = [google_project_service.enabled]
}
