#!/bin/bash
# k8sless-reporter: reports the pod's status from this VM to the k8sless service.
#
#   k8sless-reporter [run]          poll kubelet, publish transitions, finish the VM
#   k8sless-reporter shutdown-hook  on a shutdown the reporter did not ask for,
#                                   publish what is pending and a "node lost" report
#
# Protocol: docs/guest-protocol.md. Each change of the pod's phase or of a
# container's state becomes a PodReport with the next per-VM sequence number,
# queued in an on-disk outbox that a background publisher sends in order,
# retrying until Pub/Sub acknowledges. At the end: upload the logs to the
# service, publish the final report, wait for its acknowledgement, power off. bash, curl,
# coreutils and awk only (COS); endpoints overridable for tests.

set -o errexit -o nounset -o pipefail
shopt -s nullglob

KUBELET_URL="${K8SLESS_KUBELET_URL:-http://127.0.0.1:10255}"
PUBSUB_URL="${K8SLESS_PUBSUB_URL:-https://pubsub.googleapis.com}"
LOG_UPLOAD_MAX="${K8SLESS_LOG_UPLOAD_MAX:-16777216}"
GUEST_API_URL="${K8SLESS_GUEST_API_URL:-}"
POWEROFF_CMD="${K8SLESS_POWEROFF_CMD:-systemctl poweroff}"
STATE_DIR="${K8SLESS_STATE_DIR:-/var/lib/k8sless/state}"
POD_LOG_DIR="${K8SLESS_POD_LOG_DIR:-/var/log/pods}"
LOG_FLUSH_WAIT="${K8SLESS_LOG_FLUSH_WAIT:-5}"
POLL_INTERVAL="${K8SLESS_POLL_INTERVAL:-}"
SETUP_FAILED_FILE="${K8SLESS_SETUP_FAILED_FILE:-/run/k8sless/setup-failed}"
BACKOFF_MAX="${K8SLESS_PUBLISH_BACKOFF_MAX:-5}"
HOOK_DEADLINE="${K8SLESS_HOOK_DEADLINE:-12}"
NODE_FACTS_SH="${K8SLESS_NODE_FACTS_SH:-/etc/k8sless/k8sless-node-facts}"

OUTBOX="${STATE_DIR}/outbox"
TOKEN_PLACEHOLDER="__K8SLESS_IDENTITY_TOKEN__"
LIB_SH="${K8SLESS_LIB_SH:-/etc/k8sless/k8sless-lib.sh}"
# metadata, metadata_retry, json_str, refresh_access_token; METADATA_URL, JSON_AWK, CURL.
# shellcheck source-path=SCRIPTDIR source=k8sless-lib.sh
source "${LIB_SH}"

log() {
  printf '%s k8sless-reporter[%s]: %s\n' "$(date -u +%H:%M:%S.%3N)" "$$" "$*" >&2
}

now_ms() {
  date +%s%3N
}

# nap SECONDS: sleeps, but lets a trapped signal through at once.
nap() {
  sleep "$1" &
  wait $! || true
}

# ms_to_s MILLISECONDS: as a decimal number of seconds.
ms_to_s() {
  printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

# json FILE OP [awk assignments...]: runs the JSON reader on FILE.
json() {
  local file="$1" op="$2"
  shift 2
  local args=(-v "op=${op}")
  local a
  for a in "$@"; do
    args+=(-v "${a}")
  done
  awk "${args[@]}" -f "${JSON_AWK}" "${file}"
}

# urlencode VALUE: VALUE percent-encoded for a URL query.
urlencode() {
  local v="$1" out="" c i
  for ((i = 0; i < ${#v}; i++)); do
    c="${v:i:1}"
    case "${c}" in
      [a-zA-Z0-9._~-]) out+="${c}" ;;
      *) out+="$(printf '%%%02X' "'${c}")" ;;
    esac
  done
  printf '%s' "${out}"
}

# read_config FILE: PROJECT, TOPIC, SERVICE_URL, NAMESPACE, NAME, UID_ and
# CFG_INTERVAL from the k8sless-config JSON in FILE (empty where absent).
read_config() {
  local fields
  fields="$(json "$1" strs 'paths=.project .topic .bucket .serviceUrl .namespace .name .uid .reportIntervalSeconds')" || return 1
  {
    read -r PROJECT
    read -r TOPIC
    read -r _
    read -r SERVICE_URL
    read -r NAMESPACE
    read -r NAME
    read -r UID_
    read -r CFG_INTERVAL
  } <<< "${fields}"
}

load_config() {
  local cfg="${STATE_DIR}/config.json"
  metadata_retry "instance/attributes/k8sless-config" > "${cfg}.tmp"
  mv "${cfg}.tmp" "${cfg}"
  read_config "${cfg}"
  if [[ -z "${TOPIC}" || -z "${UID_}" || -z "${NAME}" ]]; then
    log "k8sless-config lacks topic, uid or name"
    exit 1
  fi
  if [[ -z "${POLL_INTERVAL}" ]]; then
    POLL_INTERVAL="${CFG_INTERVAL:-1}"
    [[ "${POLL_INTERVAL}" =~ ^[0-9]+$ && "${POLL_INTERVAL}" -ge 1 ]] || POLL_INTERVAL=1
  fi
  INSTANCE_NAME="$(metadata_retry instance/name)"
  INSTANCE_ID="$(metadata_retry instance/id)"
  local zone
  zone="$(metadata_retry instance/zone)"
  INSTANCE_ZONE="${zone##*/}"
  log "reporting pod ${NAMESPACE}/${NAME} (uid ${UID_}) of project ${PROJECT} to ${TOPIC}"
}

# gather_node_facts: STATE_DIR/node-facts.json, once; sent with the first report.
gather_node_facts() {
  local out="${STATE_DIR}/node-facts.json"
  [[ -f "${out}" ]] || { bash "${NODE_FACTS_SH}" > "${out}.tmp" && mv "${out}.tmp" "${out}" && log "node facts: $(< "${out}")"; }
}

next_sequence() {
  local seq=0
  [[ -f "${STATE_DIR}/sequence" ]] && seq="$(< "${STATE_DIR}/sequence")"
  seq=$((seq + 1))
  printf '%s\n' "${seq}" > "${STATE_DIR}/sequence.tmp"
  mv "${STATE_DIR}/sequence.tmp" "${STATE_DIR}/sequence"
  printf '%s' "${seq}"
}

# enqueue STATUS_FILE FINAL NODE_LOST: writes the next PodReport to the outbox.
enqueue() {
  local status_file="$1" final="$2" node_lost="$3"
  local seq observed file
  seq="$(next_sequence)"
  observed="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  file="$(printf '%s/%012d-%s.json' "${OUTBOX}" "${seq}" "${final}")"
  {
    printf '{"apiVersion":"k8sless.dev/v1","kind":"PodReport"'
    printf ',"uid":%s,"namespace":%s,"name":%s' "$(json_str "${UID_}")" "$(json_str "${NAMESPACE}")" "$(json_str "${NAME}")"
    printf ',"instance":{"name":%s,"id":%s,"zone":%s}' "$(json_str "${INSTANCE_NAME}")" "$(json_str "${INSTANCE_ID}")" "$(json_str "${INSTANCE_ZONE}")"
    printf ',"sequence":%s,"final":%s,"nodeLost":%s,"observedAt":"%s"' "${seq}" "${final}" "${node_lost}" "${observed}"
    printf ',"identityToken":"%s"' "${TOKEN_PLACEHOLDER}"
    [[ ! -f "${STATE_DIR}/node-facts.json" || -f "${STATE_DIR}/node-facts-sent" ]] \
      || printf ',"nodeFacts":%s' "$(< "${STATE_DIR}/node-facts.json")"
    printf ',"status":'
    cat "${status_file}"
    printf '}'
  } > "${file}.tmp"
  mv "${file}.tmp" "${file}"
  if [[ -f "${STATE_DIR}/node-facts.json" ]]; then : > "${STATE_DIR}/node-facts-sent"; fi
  log "queued report ${seq} (final=${final}, nodeLost=${node_lost})"
}

outbox_files() {
  local f
  for f in "${OUTBOX}"/*.json; do
    printf '%s\n' "${f}"
  done
}

identity_token() {
  "${CURL[@]}" --fail --max-time 5 -H 'Metadata-Flavor: Google' -G \
    --data-urlencode "audience=${SERVICE_URL}" --data-urlencode "format=full" \
    "${METADATA_URL}/computeMetadata/v1/instance/service-accounts/default/identity"
}

# publish_outbox: one attempt to publish every queued report, oldest first,
# in one request. Acknowledged reports leave the outbox.
publish_outbox() {
  local files=() f
  mapfile -t files < <(outbox_files)
  [[ ${#files[@]} -gt 0 ]] || return 0
  local id_token
  refresh_access_token "${STATE_DIR}" || { log "no access token"; return 1; }
  id_token="$(identity_token)" || { log "no identity token"; return 1; }
  local req="${STATE_DIR}/publish.json" sep="" base seq final body
  {
    printf '{"messages":['
    for f in "${files[@]}"; do
      base="${f##*/}"
      seq="$((10#${base%%-*}))"
      final="${base#*-}"
      final="${final%.json}"
      body="$(< "${f}")"
      body="${body/"${TOKEN_PLACEHOLDER}"/"${id_token}"}"
      printf '%s{"data":"%s","orderingKey":%s,"attributes":{' "${sep}" "$(printf '%s' "${body}" | base64 -w0)" "$(json_str "${UID_}")"
      printf '"k8sless-uid":%s,"k8sless-namespace":%s,"k8sless-name":%s' "$(json_str "${UID_}")" "$(json_str "${NAMESPACE}")" "$(json_str "${NAME}")"
      printf ',"k8sless-sequence":"%s","k8sless-final":"%s"}}' "${seq}" "${final}"
      sep=","
    done
    printf ']}'
  } > "${req}"
  local resp="${STATE_DIR}/publish-response.json" code
  code="$("${CURL[@]}" --max-time 10 -o "${resp}" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ${ACCESS_TOKEN}" -H 'Content-Type: application/json' \
    --data-binary "@${req}" "${PUBSUB_URL}/v1/${TOPIC}:publish")" || code="000"
  if [[ "${code}" != "200" ]]; then
    log "publish of ${#files[@]} report(s) failed: HTTP ${code}"
    [[ "${code}" == "401" ]] && ACCESS_TOKEN=""
    return 1
  fi
  local acked
  acked="$(json "${resp}" len 'path=.messageIds' 2> /dev/null || echo 0)"
  if [[ "${acked}" != "${#files[@]}" ]]; then
    log "publish answered ${acked} id(s) for ${#files[@]} report(s)"
    return 1
  fi
  for f in "${files[@]}"; do
    base="${f##*/}"
    if [[ "${base}" == *-true.json ]]; then
      : > "${STATE_DIR}/final-acked"
    fi
    rm -f "${f}"
  done
  log "published ${#files[@]} report(s) up to ${base%%-*}"
}

# publisher_loop: publishes the outbox until told to stop (SIGTERM); backs
# off on failure. A publish under way when the signal comes is finished, so
# that an acknowledged report leaves the outbox rather than being sent twice.
publisher_loop() {
  PUBLISHER_STOP=""
  trap 'PUBLISHER_STOP=1' TERM INT
  local delay_ms=500 max_ms=$((BACKOFF_MAX * 1000)) wait_ms
  while [[ -z "${PUBLISHER_STOP}" ]]; do
    if [[ -n "$(outbox_files)" ]]; then
      if publish_outbox; then
        delay_ms=500
      else
        wait_ms=$((delay_ms + RANDOM % (delay_ms / 2 + 1)))
        log "retrying publish in ${wait_ms}ms"
        nap "$(ms_to_s "${wait_ms}")"
        delay_ms=$((delay_ms * 2 > max_ms ? max_ms : delay_ms * 2))
        continue
      fi
    fi
    nap 0.2
  done
}

# cri_to_text FILE...: the messages of CRI log files, without their prefixes.
cri_to_text() {
  awk '{
    rest = $0
    for (k = 0; k < 2; k++) { i = index(rest, " "); rest = (i ? substr(rest, i + 1) : "") }
    i = index(rest, " ")
    if (i) { tag = substr(rest, 1, i - 1); msg = substr(rest, i + 1) } else { tag = rest; msg = "" }
    if (substr(tag, 1, 1) == "P") printf "%s", msg; else printf "%s\n", msg
  }' "$@"
}

# upload_log CONTAINER FILE: FILE as the container's log, to the service (not to
# the bucket: the VM's account has no Storage permission). Authenticated by the
# VM's instance identity token; the service writes it under the pod's uid. The
# newest LOG_UPLOAD_MAX bytes only (Cloud Run refuses HTTP/1 bodies over 32 MiB),
# from the first whole line. Up to 5 tries; a refusal (4xx but 408/429) is final.
upload_log() {
  local container="$1" file="$2" attempt code token body="${2}.upload"
  local size
  size="$(wc -c < "${file}")"
  if ((size > LOG_UPLOAD_MAX)); then
    tail -c "${LOG_UPLOAD_MAX}" "${file}" | sed '1d' > "${body}"
    log "the log of ${container} is ${size} bytes; uploading its newest ${LOG_UPLOAD_MAX}"
  else
    cp "${file}" "${body}"
  fi
  local url
  url="${GUEST_API_URL:-${SERVICE_URL}}/guest/v1/namespaces/${NAMESPACE}/pods/${NAME}/logs/${container}?uid=$(urlencode "${UID_}")"
  for attempt in 1 2 3 4 5; do
    token="$(identity_token)" || token=""
    code="$("${CURL[@]}" --max-time 60 -o /dev/null -w '%{http_code}' -X PUT \
      -H "Authorization: Bearer ${token}" -H 'Content-Type: text/plain; charset=utf-8' \
      --data-binary "@${body}" "${url}")" || code="000"
    if [[ "${code}" == 2* ]]; then
      log "uploaded the log of ${container}"
      rm -f "${body}"
      return 0
    fi
    log "upload of the log of ${container} failed (HTTP ${code}, attempt ${attempt})"
    if [[ "${code}" == 4* && "${code}" != "408" && "${code}" != "429" ]]; then
      break
    fi
    sleep "$((attempt > 3 ? 4 : attempt))"
  done
  rm -f "${body}"
  return 1
}

# upload_logs STATUS_FILE: each container's log to the service, which keeps it
# as gs://BUCKET/logs/NS/NAME/UID/CONTAINER.log.
upload_logs() {
  local status_file="$1" name restarts dir current text
  [[ -n "${SERVICE_URL}" ]] || return 0
  local pod_dirs=("${POD_LOG_DIR}/${NAMESPACE}_"*"_${KUBELET_UID}")
  while IFS=$'\t' read -r name restarts; do
    [[ -n "${name}" ]] || continue
    dir="${pod_dirs[0]:-${POD_LOG_DIR}/none}/${name}"
    current="${dir}/${restarts}.log"
    if [[ ! -f "${current}" ]]; then
      current=""
      local f
      for f in "${dir}"/*.log; do current="${f}"; done
    fi
    text="${STATE_DIR}/log-${name}.txt"
    if [[ -n "${current}" ]]; then
      local parts=("${current}".[0-9]*)
      local plain=()
      for f in "${parts[@]}"; do [[ "${f}" == *.gz ]] || plain+=("${f}"); done
      cri_to_text "${plain[@]}" "${current}" > "${text}"
    else
      : > "${text}"
    fi
    upload_log "${name}" "${text}" || log "giving up on the log of ${name}"
    rm -f "${text}"
  done < <(json "${status_file}" containers)
}

PUBLISHER_PID=""

stop_publisher() {
  if [[ -n "${PUBLISHER_PID}" ]]; then
    kill "${PUBLISHER_PID}" 2> /dev/null || true
    wait "${PUBLISHER_PID}" 2> /dev/null || true
    PUBLISHER_PID=""
  fi
}

# finish: waits until every report is acknowledged, then powers off.
finish() {
  local since="$1"
  until [[ -f "${STATE_DIR}/final-acked" && -z "$(outbox_files)" ]]; do
    sleep 0.1
  done
  local acked_at
  acked_at="$(now_ms)"
  log "final report acknowledged $((acked_at - since))ms after the pod ended"
  stop_publisher
  # The logging agent ships the last lines while the log upload and the
  # final report happen; wait for whatever is left of its flush delay.
  local left_ms=$((since + LOG_FLUSH_WAIT * 1000 - acked_at))
  if ((left_ms > 0)); then
    nap "$(ms_to_s "${left_ms}")"
  fi
  log "powering off: ${POWEROFF_CMD}"
  # shellcheck disable=SC2086 # the command is a command line
  ${POWEROFF_CMD}
  exit 0
}

run() {
  mkdir -p "${OUTBOX}"
  load_config
  gather_node_facts || log "could not gather the node facts"
  trap 'stop_publisher; exit 0' TERM INT
  trap 'stop_publisher' EXIT
  publisher_loop &
  PUBLISHER_PID=$!

  if [[ -f "${STATE_DIR}/final-queued" ]]; then
    log "the final report was queued by an earlier run"
    finish "$(now_ms)"
  fi

  local pods="${STATE_DIR}/pods.json" status="${STATE_DIR}/status.json"
  local last_sig="" line phase sig
  [[ -f "${STATE_DIR}/last-signature" ]] && last_sig="$(< "${STATE_DIR}/last-signature")"
  KUBELET_UID=""
  while true; do
    if "${CURL[@]}" --fail --max-time 3 -o "${pods}" "${KUBELET_URL}/pods" 2> /dev/null \
      && json "${pods}" pod "uid=${UID_}" > "${status}.both" 2> /dev/null; then
      line="$(head -n 1 "${status}.both")"
      tail -n +2 "${status}.both" > "${status}"
      IFS=$'\t' read -r KUBELET_UID _ phase sig <<< "${line}"
      if [[ "${sig}" != "${last_sig}" ]]; then
        if [[ "${phase}" == "Succeeded" || "${phase}" == "Failed" ]]; then
          local ended
          ended="$(now_ms)"
          log "pod ended: ${phase}"
          upload_logs "${status}"
          cp "${status}" "${STATE_DIR}/last-status.json"
          enqueue "${status}" true false
          : > "${STATE_DIR}/final-queued"
          finish "${ended}"
        fi
        cp "${status}" "${STATE_DIR}/last-status.json"
        enqueue "${status}" false false
        last_sig="${sig}"
        printf '%s' "${sig}" > "${STATE_DIR}/last-signature"
      fi
    elif [[ -f "${SETUP_FAILED_FILE}" && ! -f "${STATE_DIR}/last-status.json" ]]; then
      local ended
      ended="$(now_ms)"
      log "node setup failed: $(< "${SETUP_FAILED_FILE}")"
      printf '{"phase":"Failed","reason":"NodeSetupFailed","message":%s}' \
        "$(json_str "$(head -c 1000 "${SETUP_FAILED_FILE}")")" > "${status}"
      cp "${status}" "${STATE_DIR}/last-status.json"
      enqueue "${status}" true false
      : > "${STATE_DIR}/final-queued"
      finish "${ended}"
    fi
    if ! kill -0 "${PUBLISHER_PID}" 2> /dev/null; then
      log "publisher exited; restarting it"
      publisher_loop &
      PUBLISHER_PID=$!
    fi
    nap "${POLL_INTERVAL}"
  done
}

# shutdown_hook: runs when the VM stops. After a normal end the final report
# is acknowledged and there is nothing to do. Otherwise (preemption, a stop,
# a host error) publish what is queued and, unless the pod had already ended,
# a final "node lost" report, within the shutdown's time budget.
shutdown_hook() {
  mkdir -p "${OUTBOX}"
  if [[ -f "${STATE_DIR}/final-acked" ]]; then
    exit 0
  fi
  local deadline=$(($(date +%s) + HOOK_DEADLINE))
  local cfg="${STATE_DIR}/config.json"
  if [[ ! -f "${cfg}" ]]; then
    metadata "instance/attributes/k8sless-config" > "${cfg}" || exit 0
  fi
  load_config_quick "${cfg}" || exit 0
  if [[ ! -f "${STATE_DIR}/final-queued" ]]; then
    local reason="NodeLost" message="the VM stopped before the pod ended"
    if [[ "$(metadata instance/preempted 2> /dev/null || true)" == "TRUE" ]]; then
      reason="Preempted"
      message="the Spot or preemptible VM was preempted before the pod ended"
    fi
    local last="${STATE_DIR}/last-status.json" status="${STATE_DIR}/node-lost.json"
    [[ -f "${last}" ]] || printf '{}' > "${last}"
    json "${last}" nodelost "reason=${reason}" "message=${message}" > "${status}"
    enqueue "${status}" true true
    : > "${STATE_DIR}/final-queued"
  fi
  while [[ -n "$(outbox_files)" && "$(date +%s)" -lt "${deadline}" ]]; do
    publish_outbox || sleep 1
  done
  [[ -z "$(outbox_files)" ]] || log "shutting down with unpublished reports"
}

# load_config_quick FILE: the configuration as saved by the run, and the
# instance identity, without waiting on the metadata server for long.
load_config_quick() {
  read_config "$1" || return 1
  INSTANCE_NAME="$(metadata instance/name || true)"
  INSTANCE_ID="$(metadata instance/id || true)"
  local zone
  zone="$(metadata instance/zone || true)"
  INSTANCE_ZONE="${zone##*/}"
  [[ -n "${TOPIC}" && -n "${UID_}" ]]
}

case "${1:-run}" in
  run) run ;;
  shutdown-hook) shutdown_hook ;;
  *)
    echo "usage: $0 [run|shutdown-hook]" >&2
    exit 2
    ;;
esac
