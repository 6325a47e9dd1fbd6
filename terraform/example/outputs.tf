output "service_url" {
  description = "URL of the Kubernetes API."
  value       = module.k8sless.service_url
}

output "kubeconfig" {
  description = "terraform output -raw kubeconfig > ~/.kube/k8sless.yaml"
  value       = module.k8sless.kubeconfig
}

output "build_command" {
  description = "Run from the repository root to test, build and deploy the service."
  value       = module.k8sless.build_command
}

output "image_repository" {
  description = "Artifact Registry repository."
  value       = module.k8sless.image_repository
}

output "bucket" {
  description = "Bucket of pod records and logs."
  value       = module.k8sless.bucket
}
