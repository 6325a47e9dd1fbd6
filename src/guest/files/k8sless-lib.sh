#!/bin/bash
# k8sless-lib.sh: the functions the guest scripts share (k8sless-setup,
# k8sless-kubelet-access, k8sless-reporter, k8sless-logship), sourced by each
# (installed as /etc/k8sless/k8sless-lib.sh beside them; K8SLESS_LIB_SH points
# elsewhere in tests). Definitions only: sourcing it runs nothing.
#
# The caller defines log MESSAGE... (each script prefixes its own name).

METADATA_URL="${K8SLESS_METADATA_URL:-http://metadata.google.internal}"
JSON_AWK="${K8SLESS_JSON_AWK:-/etc/k8sless/k8sless-json.awk}"
CURL=(curl --silent --show-error --connect-timeout 3)

# metadata PATH: a value from the metadata server (one try).
metadata() {
  "${CURL[@]}" --fail --max-time 5 -H 'Metadata-Flavor: Google' \
    "${METADATA_URL}/computeMetadata/v1/$1"
}

# metadata_boot PATH: a value from the metadata server, curl retrying 10 times
# 2 s apart: what the boot scripts read before kubelet starts, where failing
# setup (reported as NodeSetupFailed) beats waiting for ever.
metadata_boot() {
  curl --fail --silent --show-error --retry 10 --retry-delay 2 --retry-connrefused \
    --connect-timeout 5 --max-time 30 -H 'Metadata-Flavor: Google' \
    "${METADATA_URL}/computeMetadata/v1/$1"
}

# metadata_retry PATH: a value from the metadata server, retried until it answers.
metadata_retry() {
  local delay=1
  until metadata "$1"; do
    log "metadata $1 unavailable; retrying in ${delay}s"
    sleep "${delay}"
    delay=$((delay < 8 ? delay * 2 : 8))
  done
}

# json_str VALUE: VALUE as a JSON string literal.
json_str() {
  local v="$1"
  v="${v//\\/\\\\}"
  v="${v//\"/\\\"}"
  v="${v//$'\n'/\\n}"
  v="${v//$'\r'/\\r}"
  v="${v//$'\t'/\\t}"
  printf '"%s"' "${v}"
}

ACCESS_TOKEN=""
ACCESS_TOKEN_UNTIL=0

# refresh_access_token DIR: sets ACCESS_TOKEN to a valid OAuth token of the
# VM's service account (cached until a minute before it expires), using DIR
# for the metadata server's answer.
refresh_access_token() {
  local now tmp fields expires
  now="$(date +%s)"
  if [[ -n "${ACCESS_TOKEN}" && "${now}" -lt "${ACCESS_TOKEN_UNTIL}" ]]; then
    return 0
  fi
  tmp="$1/token.${BASHPID}.json"
  ACCESS_TOKEN=""
  metadata "instance/service-accounts/default/token" > "${tmp}" || { rm -f "${tmp}"; return 1; }
  fields="$(awk -v op=strs -v 'paths=.access_token .expires_in' -f "${JSON_AWK}" "${tmp}" || true)"
  rm -f "${tmp}"
  ACCESS_TOKEN="${fields%%$'\n'*}"
  expires="${fields#*$'\n'}"
  [[ "${expires}" =~ ^[0-9]+$ ]] || expires=300
  ACCESS_TOKEN_UNTIL=$((now + expires - 60))
  [[ -n "${ACCESS_TOKEN}" ]]
}
