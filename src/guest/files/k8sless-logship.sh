#!/bin/bash
# k8sless-logship: writes the pod's container logs to Cloud Logging while it runs.
#
# kubelet writes each container's output to a CRI log file under
# /var/log/pods. COS's logging agent does not read those files, and it
# forwards the journal only at WARNING and above, so copying the lines into
# the journal at systemd-cat's default (INFO) never reaches Cloud Logging.
# Instead this follows each container's file and writes its lines with the
# Logging API (entries:write, the VM's service account, roles/logging.logWriter):
#   logName      projects/PROJECT/logs/k8sless-containers
#   resource     gce_instance {project_id, instance_id, zone} of this VM
#   severity     INFO for stdout, ERROR for stderr (as GKE does)
#   timestamp    kubelet's CRI timestamp of the line
#   jsonPayload  {MESSAGE, SYSLOG_IDENTIFIER "NAMESPACE/POD/CONTAINER", stream}
# so in Cloud Logging jsonPayload.SYSLOG_IDENTIFIER="default/my-pod/main"
# selects one container's log (the service's reader filters on it).
#
# Lines are batched: a request at most every K8SLESS_LOGSHIP_INTERVAL seconds
# (1) per container, or sooner at 500 lines / 1 MiB. A failed write is retried
# 5 times with back-off, then dropped (the log uploaded at the end is
# complete anyway). Partial CRI lines ("P") are joined.

set -o nounset -o pipefail
shopt -s nullglob

POD_LOG_DIR="${K8SLESS_POD_LOG_DIR:-/var/log/pods}"
LOGGING_URL="${K8SLESS_LOGGING_URL:-https://logging.googleapis.com}"
SPOOL_DIR="${K8SLESS_LOGSHIP_DIR:-/run/k8sless/logship}"
INTERVAL="${K8SLESS_LOGSHIP_INTERVAL:-1}"
MAX_LINES=500
MAX_BYTES=$((1024 * 1024))
LOG_ID="k8sless-containers"

LIB_SH="${K8SLESS_LIB_SH:-/etc/k8sless/k8sless-lib.sh}"
# metadata, metadata_retry, json_str, refresh_access_token; METADATA_URL, JSON_AWK, CURL.
# shellcheck source-path=SCRIPTDIR source=k8sless-lib.sh
source "${LIB_SH}"

log() {
  printf 'k8sless-logship: %s\n' "$*" >&2
}

# mawk reads a pipe in blocks unless told otherwise (gawk, COS's awk, does not).
AWK_STREAM=()
if awk -W version 2>&1 | grep -q mawk; then
  AWK_STREAM=(-W interactive)
fi

# cri_to_entries CONTAINER: CRI log lines on stdin, one LogEntry JSON object
# per (joined) line on stdout.
cri_to_entries() {
  awk "${AWK_STREAM[@]}" -v ident="${NAMESPACE}/${NAME}/$1" '
    BEGIN { for (i = 1; i < 32; i++) ctl[i] = sprintf("%c", i) }
    function esc(s,   i, out) {
      gsub(/\\/, "&&", s); gsub(/"/, "\\\"", s)
      gsub(/\t/, "\\t", s); gsub(/\r/, "\\r", s)
      if (s ~ /[\001-\037]/) {
        for (i = 1; i < 32; i++) gsub(ctl[i], sprintf("\\u%04x", i), s)
      }
      return s
    }
    {
      ts = $1; stream = $2; tag = $3
      rest = $0
      for (k = 0; k < 3; k++) { i = index(rest, " "); if (!i) { rest = ""; break } rest = substr(rest, i + 1) }
      buf[stream] = buf[stream] rest
      if (substr(tag, 1, 1) == "P") next
      sev = (stream == "stderr") ? "ERROR" : "INFO"
      printf "{\"timestamp\":\"%s\",\"severity\":\"%s\",\"jsonPayload\":{\"MESSAGE\":\"%s\",\"SYSLOG_IDENTIFIER\":\"%s\",\"stream\":\"%s\"}}\n", ts, sev, esc(buf[stream]), esc(ident), stream
      fflush()
      buf[stream] = ""
    }'
}

# write_batch CONTAINER FILE: posts the entries of FILE (one per line).
write_batch() {
  local container="$1" entries="$2" body="${2%.batch}.body.json" attempt code
  {
    printf '{"logName":%s' "$(json_str "projects/${PROJECT}/logs/${LOG_ID}")"
    printf ',"resource":{"type":"gce_instance","labels":{"project_id":%s,"instance_id":%s,"zone":%s}}' \
      "$(json_str "${PROJECT}")" "$(json_str "${INSTANCE_ID}")" "$(json_str "${ZONE}")"
    printf ',"labels":{"k8sless.dev/namespace":%s,"k8sless.dev/pod":%s,"k8sless.dev/container":%s}' \
      "$(json_str "${NAMESPACE}")" "$(json_str "${NAME}")" "$(json_str "${container}")"
    printf ',"partialSuccess":true,"entries":['
    paste -sd, "${entries}"
    printf ']}'
  } > "${body}"
  for attempt in 1 2 3 4 5; do
    if refresh_access_token "${SPOOL_DIR}"; then
      code="$("${CURL[@]}" --max-time 15 -o /dev/null -w '%{http_code}' -X POST \
        -H "Authorization: Bearer ${ACCESS_TOKEN}" -H 'Content-Type: application/json' \
        --data-binary "@${body}" "${LOGGING_URL}/v2/entries:write")" || code="000"
      [[ "${code}" == 2* ]] && return 0
      [[ "${code}" == "401" ]] && ACCESS_TOKEN=""
      # A permanent error (400, 403) will not pass on a retry.
      if [[ "${code}" == "400" || "${code}" == "403" ]]; then
        log "entries:write for ${container} answered ${code}; dropping $(wc -l < "${entries}") line(s)"
        return 1
      fi
    else
      code="no token"
    fi
    log "entries:write for ${container} failed (${code}, attempt ${attempt})"
    sleep "$((attempt * 2))"
  done
  log "dropping $(wc -l < "${entries}") line(s) of ${container}"
  return 1
}

# ship CONTAINER SPOOL: batches the entries on stdin and writes them.
ship() {
  local container="$1" batch="${SPOOL_DIR}/${2}.batch" line pending="" lines=0 bytes=0 started=0
  : > "${batch}"
  while true; do
    if IFS= read -r -t "${INTERVAL}" line; then
      line="${pending}${line}"
      pending=""
      printf '%s\n' "${line}" >> "${batch}"
      ((lines == 0)) && started="${SECONDS}"
      lines=$((lines + 1))
      bytes=$((bytes + ${#line}))
      if ((lines < MAX_LINES && bytes < MAX_BYTES && SECONDS - started < INTERVAL)); then
        continue
      fi
    elif (($? > 128)); then
      # Timed out; keep a line cut in the middle for the next read.
      pending="${line}"
      ((lines > 0)) || continue
    else
      ((lines > 0)) && write_batch "${container}" "${batch}"
      return 0
    fi
    write_batch "${container}" "${batch}"
    : > "${batch}"
    lines=0
    bytes=0
  done
}

follow() {
  local file="$1" container="$2"
  # One spool per file: a restarted container gets a second log file.
  tail -n +1 -F "${file}" 2> /dev/null | cri_to_entries "${container}" | ship "${container}" "${container}-${file##*/}"
}

# read_pod: NAMESPACE and NAME from the k8sless-config metadata value. The
# user-data is the same for every pod (docs/guest.md), so the pod's identity is
# not in guest.env.
read_pod() {
  local cfg="${SPOOL_DIR}/config.json" fields
  metadata_retry "instance/attributes/k8sless-config" > "${cfg}.tmp"
  mv "${cfg}.tmp" "${cfg}"
  fields="$(awk -v op=strs -v 'paths=.namespace .name' -f "${JSON_AWK}" "${cfg}" || true)"
  {
    read -r NAMESPACE
    read -r NAME
  } <<< "${fields}"
  if [[ -z "${NAMESPACE}" || -z "${NAME}" ]]; then
    log "k8sless-config lacks namespace or name"
    exit 1
  fi
}

mkdir -p "${SPOOL_DIR}"
NAMESPACE=""
NAME=""
read_pod
PROJECT="$(metadata_retry project/project-id)"
INSTANCE_ID="$(metadata_retry instance/id)"
ZONE="$(metadata_retry instance/zone)"
ZONE="${ZONE##*/}"
log "writing container logs of ${NAMESPACE}/${NAME} to projects/${PROJECT}/logs/${LOG_ID}"

declare -A following=()
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
