#!/bin/bash
# k8sless-logship: copies the pod's container logs into the systemd journal.
#
# With google-logging-enabled=true, COS's logging agent ships the journal to
# Cloud Logging; it does not read kubelet's CRI log files under /var/log/pods.
# This follows each container's log file and writes its lines to the journal
# with SYSLOG_IDENTIFIER "NAMESPACE/POD/CONTAINER", so in Cloud Logging:
#   jsonPayload.SYSLOG_IDENTIFIER="default/my-pod/main"
# selects one container's log.

set -o nounset -o pipefail
shopt -s nullglob

POD_LOG_DIR="${K8SLESS_POD_LOG_DIR:-/var/log/pods}"
NAMESPACE="${K8SLESS_NAMESPACE:?K8SLESS_NAMESPACE is not set}"
NAME="${K8SLESS_NAME:?K8SLESS_NAME is not set}"

declare -A following=()

follow() {
  local file="$1" container="$2"
  tail -n +1 -F "${file}" 2> /dev/null \
    | awk '{
        rest = $0
        for (k = 0; k < 3; k++) { i = index(rest, " "); if (!i) { rest = ""; break } rest = substr(rest, i + 1) }
        print rest
        fflush()
      }' \
    | systemd-cat --identifier="${NAMESPACE}/${NAME}/${container}"
}

while true; do
  # kubelet names the directory NAMESPACE_PODNAME-NODENAME_UID (static pod).
  for file in "${POD_LOG_DIR}/${NAMESPACE}_${NAME}-"*/*/*.log; do
    [[ -n "${following[${file}]:-}" ]] && continue
    following[${file}]=1
    container="${file%/*}"
    container="${container##*/}"
    follow "${file}" "${container}" &
  done
  sleep 2
done
