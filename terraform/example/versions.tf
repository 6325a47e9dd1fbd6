terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.10, < 8.0"
    }
  }

  # State is local by default. For a team, keep it in a bucket:
  # backend "gcs" {
  #   bucket = "my-terraform-state"
  #   prefix = "k8sless"
  # }
}
