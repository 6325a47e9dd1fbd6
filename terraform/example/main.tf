# Example root: k8sless in one project, from empty to serving.
#
#   cp terraform.tfvars.example terraform.tfvars   # set project_id, invoker_members
#   terraform init && terraform apply
#
# Then build and deploy the service (docs/deploy.md).

provider "google" {
  project = var.project_id
  region  = var.region
}

module "k8sless" {
  source = "../modules/k8sless"

  project_id      = var.project_id
  region          = var.region
  invoker_members = var.invoker_members
  admins          = var.admins

  # Everything else keeps the module's defaults (1 vCPU, 512Mi, concurrency 80, 0-10
  # instances, 30-day retention of records and logs): see ../modules/k8sless/variables.tf.
  deletion_protection = var.deletion_protection
}
