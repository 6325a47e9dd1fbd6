"""Data for test_iam_permissions.py: what each API call of k8sless needs, and what the
predefined roles it is granted contain.

PREDEFINED_ROLES lists permissions from Google's IAM roles reference
(https://cloud.google.com/iam/docs/roles-permissions/<service>, read for issue 15). A role
marked ``complete`` lists every permission the reference gives it (minus the
resourcemanager/orgpolicy reads every role carries), so the test may also conclude that a
permission is *missing*; the others list only the permissions that matter here.

CALLS lists every Google API call the service, the guest and the build make, with the IAM
permission Google documents for it, who makes it, on what resource, and where in the code
(a file and a string that must appear in it, so that the table cannot outlive the call).
"""

from __future__ import annotations

PREDEFINED_ROLES: dict[str, dict] = {
    "roles/storage.objectUser": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/storage#storage.objectUser",
        "complete": True,
        "permissions": {
            "storage.managedFolders.create", "storage.managedFolders.delete",
            "storage.managedFolders.get", "storage.managedFolders.list",
            "storage.multipartUploads.abort", "storage.multipartUploads.create",
            "storage.multipartUploads.list", "storage.multipartUploads.listParts",
            "storage.objects.create", "storage.objects.delete", "storage.objects.get",
            "storage.objects.list", "storage.objects.restore", "storage.objects.update",
        },
    },
    "roles/storage.objectCreator": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/storage#storage.objectCreator",
        "complete": True,
        "permissions": {
            "storage.managedFolders.create", "storage.multipartUploads.abort",
            "storage.multipartUploads.create", "storage.multipartUploads.listParts",
            "storage.objects.create",
        },
    },
    "roles/storage.objectViewer": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/storage#storage.objectViewer",
        "complete": True,
        "permissions": {
            "storage.folders.get", "storage.folders.list", "storage.managedFolders.get",
            "storage.managedFolders.list", "storage.objects.get", "storage.objects.list",
        },
    },
    "roles/pubsub.publisher": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/pubsub#pubsub.publisher",
        "complete": True,
        "permissions": {"pubsub.topics.publish"},
    },
    "roles/pubsub.subscriber": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/pubsub#pubsub.subscriber",
        "complete": False,
        "permissions": {"pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"},
    },
    "roles/logging.logWriter": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/logging#logging.logWriter",
        "complete": True,
        "permissions": {"logging.logEntries.create", "logging.logEntries.route"},
    },
    "roles/logging.viewer": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/logging#logging.viewer",
        "complete": False,
        "permissions": {"logging.logEntries.list", "logging.logs.list", "logging.buckets.list"},
    },
    "roles/monitoring.metricWriter": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/monitoring#monitoring.metricWriter",
        "complete": True,
        "permissions": {
            "monitoring.metricDescriptors.create", "monitoring.metricDescriptors.get",
            "monitoring.metricDescriptors.list", "monitoring.monitoredResourceDescriptors.get",
            "monitoring.monitoredResourceDescriptors.list", "monitoring.timeSeries.create",
        },
    },
    "roles/artifactregistry.reader": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/artifactregistry#artifactregistry.reader",
        "complete": False,
        "permissions": {
            "artifactregistry.repositories.downloadArtifacts", "artifactregistry.repositories.get",
            "artifactregistry.repositories.list",
        },
    },
    "roles/artifactregistry.writer": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/artifactregistry#artifactregistry.writer",
        "complete": False,
        "permissions": {
            "artifactregistry.repositories.downloadArtifacts",
            "artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.get",
        },
    },
    "roles/run.invoker": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/run#run.invoker",
        "complete": False,
        "permissions": {"run.routes.invoke"},
    },
    "roles/run.developer": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/run#run.developer",
        "complete": False,
        "permissions": {"run.services.get", "run.services.update", "run.revisions.get",
                        "run.revisions.list", "run.operations.get"},
    },
    "roles/iam.serviceAccountUser": {
        "source": "https://cloud.google.com/iam/docs/roles-permissions/iam#iam.serviceAccountUser",
        "complete": False,
        "permissions": {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get",
                        "iam.serviceAccounts.list"},
    },
}

# (principal, call, permission, resource, code file, string the code file contains)
# Principals and resources are named as in docs/deploy.md's IAM table.
SERVICE, GUEST, BUILD, INVOKER = "k8sless-service", "k8sless-guest", "k8sless-build", "k8sless-invoker"
STATE = 'google_storage_bucket.bucket["state"]'
GCS = "src/store"
CALLS: list[tuple[str, str, str, str, str, str]] = [
    # Compute Engine (custom role; docs/deploy.md "The instance manager role").
    (SERVICE, "instances.insert", "compute.instances.create", "project", "src/gce", "/instances"),
    (SERVICE, "instances.insert (boot disk)", "compute.disks.create", "project", "src/gce", "/instances"),
    (SERVICE, "instances.insert (metadata)", "compute.instances.setMetadata", "project", "src/gce", "/instances"),
    (SERVICE, "instances.insert (labels)", "compute.instances.setLabels", "project", "src/gce", "/instances"),
    (SERVICE, "instances.insert (service account)", "compute.instances.setServiceAccount", "project", "src/gce", "/instances"),
    (SERVICE, "instances.insert (network tags, with kubelet access)", "compute.instances.setTags", "project", "src/translate", "kubelet_network_tag"),
    (SERVICE, "instances.insert (network)", "compute.subnetworks.use", "project", "src/gce", "/instances"),
    (SERVICE, "instances.insert (external IP)", "compute.subnetworks.useExternalIp", "project", "src/gce", "/instances"),
    (SERVICE, "instances.get", "compute.instances.get", "project", "src/gce", "/instances"),
    (SERVICE, "instances.list / aggregatedList", "compute.instances.list", "project", "src/gce", "/instances"),
    (SERVICE, "instances.stop", "compute.instances.stop", "project", "src/gce", "\"stop\""),
    (SERVICE, "instances.delete", "compute.instances.delete", "project", "src/gce", "/instances"),
    (SERVICE, "zoneOperations.get / wait", "compute.zoneOperations.get", "project", "src/gce", "/operations/"),
    (SERVICE, "attach the guest account to a VM", "iam.serviceAccounts.actAs", 'google_service_account.account["guest"]', "src/gce", "service_accounts"),
    # Cloud Storage: pod records and logs.
    (SERVICE, "objects.insert (multipart, ifGenerationMatch)", "storage.objects.create", STATE, GCS, "/upload/storage/v1/b/"),
    (SERVICE, "objects.insert over an existing record", "storage.objects.delete", STATE, GCS, "ifGenerationMatch"),
    (SERVICE, "objects.get (alt=media)", "storage.objects.get", STATE, GCS, "alt"),
    (SERVICE, "objects.list", "storage.objects.list", STATE, GCS, "nextPageToken"),
    (SERVICE, "objects.delete", "storage.objects.delete", STATE, GCS, ".delete("),
    # /readyz: derived from the code by readiness_call() in the test.
    # Cloud Logging: kubectl logs of a running pod.
    (SERVICE, "entries.list", "logging.logEntries.list", "project", "src", "/v2/entries:list"),
    # The guest (and any of allowed_service_accounts a pod runs as).
    (GUEST, "topics.publish", "pubsub.topics.publish", 'google_pubsub_topic.topic["status"]',
     "src/guest/files/k8sless-reporter.sh", ":publish"),
    (GUEST, "entries.write", "logging.logEntries.create", "project",
     "src/guest/files/k8sless-logship.sh", "/v2/entries:write"),
    (GUEST, "Node Problem Detector metrics (timeSeries.create)", "monitoring.timeSeries.create", "project",
     "src/guest/mod.rs", "google-monitoring-enabled"),
    (GUEST, "image pull from Artifact Registry", "artifactregistry.repositories.downloadArtifacts",
     "google_artifact_registry_repository.images", "src/guest/files/k8sless-gcr-credentials.sh", "oauth2accesstoken"),
    # Cloud Build.
    (BUILD, "read the staged source", "storage.objects.get", 'google_storage_bucket.bucket["build"]', "cloudbuild.yaml", "gcloud builds submit"),
    (BUILD, "docker push", "artifactregistry.repositories.uploadArtifacts",
     "google_artifact_registry_repository.images", "cloudbuild.yaml", "docker push"),
    (BUILD, "gcloud run deploy", "run.services.update", "google_cloud_run_v2_service.service", "cloudbuild.yaml", "gcloud run deploy"),
    (BUILD, "gcloud run services update-traffic --to-latest", "run.services.update",
     "google_cloud_run_v2_service.service", "cloudbuild.yaml", "--to-latest"),
    (BUILD, "deploy a revision that runs as k8sless-service", "iam.serviceAccounts.actAs",
     'google_service_account.account["service"]', "cloudbuild.yaml", "gcloud run deploy"),
    (BUILD, "build logs", "logging.logEntries.create", "project", "cloudbuild.yaml", "CLOUD_LOGGING_ONLY"),
    # Pub/Sub pushes and Cloud Scheduler.
    (INVOKER, "POST /pubsub/push, /gc, /events/compute", "run.routes.invoke",
     "google_cloud_run_v2_service.service", "terraform/modules/k8sless/pubsub.tf", "push_endpoint"),
]
