#!/bin/bash
# k8sless-node-facts: prints, as one JSON object, what only a real VM can show
# about the assumptions of docs/guest.md: COS milestone and build, kernel,
# whether the firewall accepts loopback, whether containerd serves the CRI and
# with which cgroup driver and configuration, containerd's and kubelet's
# versions and where kubelet came from, and the mount options of /var,
# /var/lib/kubelet and the binary directory.
#
# The reporter runs it once and sends the object with its first report
# (docs/guest-protocol.md, "Node facts"). Every value is a string of at most
# 200 characters ("unknown" when it cannot be read); the object stays under
# 4 KiB. Every command is bounded by a 5 s time-out. Paths are overridable for tests.

set -o nounset -o pipefail

SETUP_FACTS_FILE="${K8SLESS_SETUP_FACTS_FILE:-/run/k8sless/setup-facts}"
OS_RELEASE="${K8SLESS_OS_RELEASE:-/etc/os-release}"
MOUNTINFO="${K8SLESS_MOUNTINFO:-/proc/self/mountinfo}"
BIN_DIR="${K8SLESS_BIN_DIR:-/var/lib/k8sless/bin}"
KUBELET_DIR="${K8SLESS_KUBELET_DIR:-/var/lib/kubelet}"

# json_str VALUE: VALUE as a JSON string literal.
json_str() {
  local v="$1"
  v="${v//\\/\\\\}"
  v="${v//\"/\\\"}"
  v="${v//[[:cntrl:]]/ }"
  printf '"%s"' "${v}"
}

# fact_str VALUE: VALUE cut to 200 characters, on one line, as a JSON string.
fact_str() {
  local v="${1:-unknown}"
  v="${v//$'\n'/; }"
  json_str "${v:0:200}"
}

# os_release KEY: a value of /etc/os-release, without quotes.
os_release() {
  local line v=""
  [[ -r "${OS_RELEASE}" ]] || { printf 'unknown'; return; }
  while IFS= read -r line; do
    if [[ "${line}" == "$1="* ]]; then
      v="${line#*=}"
      v="${v#\"}"
      v="${v%\"}"
    fi
  done < "${OS_RELEASE}"
  printf '%s' "${v:-unknown}"
}

# setup_fact KEY: a decision k8sless-setup recorded.
setup_fact() {
  local line v=""
  if [[ -r "${SETUP_FACTS_FILE}" ]]; then
    while IFS= read -r line; do
      [[ "${line}" == "$1="* ]] && v="${line#*=}"
    done < "${SETUP_FACTS_FILE}"
  fi
  printf '%s' "${v:-unknown}"
}

# mount_of PATH: "MOUNTPOINT OPTIONS" of the mount PATH lives on.
mount_of() {
  [[ -r "${MOUNTINFO}" ]] || { printf 'unknown'; return; }
  awk -v p="$1" '{
      mp = $5
      if (p == mp || mp == "/" || index(p, mp "/") == 1) {
        if (length(mp) >= best) { best = length(mp); found = mp " " $6 }
      }
    } END { print (found == "" ? "unknown" : found) }' "${MOUNTINFO}"
}

# command_output CMD...: the first line CMD prints, or "unknown".
command_output() {
  local out
  out="$(timeout 5 "$@" 2> /dev/null | head -n 1)" || true
  printf '%s' "${out:-unknown}"
}

loopback_fact() {
  local rules
  if ! command -v iptables > /dev/null 2>&1; then
    printf 'unknown (no iptables)'
    return
  fi
  rules="$(timeout 5 iptables -w 5 -S INPUT 2> /dev/null || true)"
  if grep -Eq -- '-A INPUT -i lo( .*)? -j ACCEPT' <<< "${rules}"; then
    printf 'accepted (%s)' "$(grep -m1 -E -- '-i lo' <<< "${rules}")"
  else
    printf 'no INPUT rule accepts lo (%s)' "$(grep -m1 -- '^-P INPUT' <<< "${rules}")"
  fi
}

cri_fact() {
  if ! command -v ctr > /dev/null 2>&1; then
    printf 'unknown (no ctr)'
  elif timeout 5 ctr --address /run/containerd/containerd.sock plugins ls 2> /dev/null \
    | grep -Eq '^io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]].*[[:space:]]ok[[:space:]]*$'; then
    printf 'serving'
  else
    printf 'not serving'
  fi
}

printf '{"simulated":false,"gatheredAt":"%s"' "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
printf ',"osId":%s,"cosMilestone":%s,"cosBuildId":%s,"kernel":%s' \
  "$(fact_str "$(os_release ID)")" "$(fact_str "$(os_release VERSION_ID)")" \
  "$(fact_str "$(os_release BUILD_ID)")" "$(fact_str "$(command_output uname -r)")"
printf ',"loopback":%s,"containerdCri":%s,"cgroupVersion":%s,"cgroupDriver":%s,"containerdConfig":%s' \
  "$(fact_str "$(loopback_fact)")" "$(fact_str "$(cri_fact)")" \
  "$(fact_str "$(setup_fact cgroup_version)")" "$(fact_str "$(setup_fact cgroup_driver)")" \
  "$(fact_str "$(setup_fact containerd_config)")"
printf ',"containerdVersion":%s,"kubeletVersion":%s,"kubeletSource":%s' \
  "$(fact_str "$(command_output containerd --version)")" \
  "$(fact_str "$(command_output "${BIN_DIR}/kubelet" --version)")" \
  "$(fact_str "$(setup_fact kubelet_source)")"
printf ',"mounts":{"/var":%s,"%s":%s,"%s":%s}}' "$(fact_str "$(mount_of /var)")" \
  "${KUBELET_DIR}" "$(fact_str "$(mount_of "${KUBELET_DIR}")")" \
  "${BIN_DIR}" "$(fact_str "$(mount_of "${BIN_DIR}")")"
printf '\n'
