#!/bin/bash
# k8sless-setup: prepares this Container-Optimized OS VM to run its one pod.
#
# Runs once per boot as k8sless-setup.service, before kubelet:
#   1. makes /var/lib/k8sless/bin and /var/lib/kubelet executable (COS mounts
#      /var noexec; Kubernetes' own COS scripts remount /var/lib/kubelet with
#      exec,suid,dev the same way, so programs in emptyDir volumes can run),
#   2. picks kubelet: the host's /usr/bin/kubelet when it is of the pinned
#      minor version, else the pinned release, downloaded and SHA-256 checked,
#   3. makes sure containerd serves the CRI with the cgroup driver kubelet
#      needs: systemd on a cgroup v2 host (as Kubernetes' COS scripts force
#      SystemdCgroup = true), else whatever containerd uses,
#   4. completes the kubelet configuration and opens kubelet's authenticated
#      port to the service (k8sless-kubelet-access),
#   5. writes the pod manifest from metadata into the static pod directory.
# On failure it leaves the reason in /run/k8sless/setup-failed, which the
# reporter publishes as a final NodeSetupFailed status. What it decided
# (kubelet source, containerd config, cgroup driver) goes to
# /run/k8sless/setup-facts for the reporter's node facts.

set -o errexit -o nounset -o pipefail

KUBELET_VERSION="${K8SLESS_KUBELET_VERSION:?K8SLESS_KUBELET_VERSION is not set}"
KUBELET_URL="${K8SLESS_KUBELET_URL:?K8SLESS_KUBELET_URL is not set}"
KUBELET_SHA256="${K8SLESS_KUBELET_SHA256:?K8SLESS_KUBELET_SHA256 is not set}"
BIN_DIR="${K8SLESS_BIN_DIR:-/var/lib/k8sless/bin}"
CONF_DIR="${K8SLESS_CONF_DIR:-/etc/k8sless}"
MANIFEST_DIR="${K8SLESS_MANIFEST_DIR:-/etc/kubernetes/manifests}"
FAILED_FILE="${K8SLESS_SETUP_FAILED_FILE:-/run/k8sless/setup-failed}"
FACTS_FILE="${K8SLESS_SETUP_FACTS_FILE:-/run/k8sless/setup-facts}"
KUBELET_DIR="${K8SLESS_KUBELET_DIR:-/var/lib/kubelet}"
CGROUP_ROOT="${K8SLESS_CGROUP_ROOT:-/sys/fs/cgroup}"
KUBELET_ACCESS="${K8SLESS_KUBELET_ACCESS:-${CONF_DIR}/k8sless-kubelet-access}"
CONTAINERD_SOCK="/run/containerd/containerd.sock"
STEP="starting"
LIB_SH="${K8SLESS_LIB_SH:-$(dirname "${BASH_SOURCE[0]}")/k8sless-lib.sh}"
# metadata_boot; METADATA_URL.
# shellcheck source-path=SCRIPTDIR source=k8sless-lib.sh
source "${LIB_SH}"

log() {
  printf 'k8sless-setup: %s\n' "$*" >&2
}

fail() {
  mkdir -p "$(dirname "${FAILED_FILE}")"
  printf '%s\n' "$*" > "${FAILED_FILE}"
  # <3> makes it an error in the journal (systemd reads the prefix), which COS's
  # logging agent forwards to Cloud Logging; INFO lines it does not forward.
  printf '<3>k8sless-setup: FAILED: %s\n' "$*" >&2
  exit 1
}

# fact KEY VALUE: records one decision for the reporter's node facts.
fact() {
  mkdir -p "$(dirname "${FACTS_FILE}")"
  printf '%s=%s\n' "$1" "$2" >> "${FACTS_FILE}"
}

step() {
  STEP="$*"
  log "$*"
}

trap 'fail "node setup failed while ${STEP}"' ERR

prepare_dirs() {
  step "preparing directories"
  mkdir -p "${BIN_DIR}" "${KUBELET_DIR}" /var/log/pods "${MANIFEST_DIR}" "$(dirname "${FAILED_FILE}")"
  rm -f "${FAILED_FILE}" "${FACTS_FILE}"
  # /var is mounted noexec on COS; a bind mount of our directory remounted
  # with exec is the documented way to run binaries from the stateful disk.
  if ! mountpoint -q "${BIN_DIR}"; then
    mount --bind "${BIN_DIR}" "${BIN_DIR}"
  fi
  mount -o remount,exec "${BIN_DIR}"
  # Pod volumes (emptyDir, projected files) live under /var/lib/kubelet:
  # without exec a program copied into an emptyDir fails with "permission
  # denied". This is Kubernetes' setup-kubelet-dir (cluster/gce/gci/
  # configure-helper.sh) for COS nodes.
  if ! mountpoint -q "${KUBELET_DIR}"; then
    mount --bind "${KUBELET_DIR}" "${KUBELET_DIR}"
  fi
  mount -B -o remount,exec,suid,dev "${KUBELET_DIR}"
}

# minor_of "Kubernetes v1.33.8" or "v1.33.8": prints 1.33
minor_of() {
  local v="${1##* }"
  v="${v#v}"
  printf '%s' "${v%.*}"
}

install_kubelet() {
  step "installing kubelet ${KUBELET_VERSION}"
  local host=/usr/bin/kubelet target="${BIN_DIR}/kubelet"
  if [[ -x "${host}" ]]; then
    local host_version
    host_version="$("${host}" --version 2> /dev/null || true)"
    if [[ -n "${host_version}" && "$(minor_of "${host_version}")" == "$(minor_of "${KUBELET_VERSION}")" ]]; then
      log "using the image's kubelet (${host_version})"
      ln -sfn "${host}" "${target}"
      fact kubelet_source "image ${host}"
      return
    fi
    log "the image's kubelet (${host_version:-unknown version}) is not ${KUBELET_VERSION%.*}.x; downloading"
  fi
  if [[ -f "${target}" && ! -L "${target}" ]] \
    && printf '%s  %s\n' "${KUBELET_SHA256}" "${target}" | sha256sum --check --status; then
    log "kubelet ${KUBELET_VERSION} already present"
    fact kubelet_source "download ${KUBELET_URL} (already present)"
    return
  fi
  rm -f "${target}" "${target}.download"
  curl --fail --silent --show-error --location --retry 5 --retry-delay 2 --retry-connrefused \
    --connect-timeout 10 --max-time 600 -o "${target}.download" "${KUBELET_URL}" \
    || fail "could not download kubelet ${KUBELET_VERSION} from ${KUBELET_URL}"
  if ! printf '%s  %s\n' "${KUBELET_SHA256}" "${target}.download" | sha256sum --check --status; then
    rm -f "${target}.download"
    fail "kubelet ${KUBELET_VERSION} from ${KUBELET_URL}: SHA-256 mismatch (expected ${KUBELET_SHA256})"
  fi
  chmod 0755 "${target}.download"
  mv "${target}.download" "${target}"
  fact kubelet_source "download ${KUBELET_URL}"
}

containerd_serves_cri() {
  ctr --address "${CONTAINERD_SOCK}" plugins ls 2> /dev/null \
    | grep -Eq '^io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]].*[[:space:]]ok[[:space:]]*$'
}

wait_for_containerd() {
  local i
  for i in $(seq 1 60); do
    [[ -S "${CONTAINERD_SOCK}" ]] && ctr --address "${CONTAINERD_SOCK}" version > /dev/null 2>&1 && return 0
    log "waiting for containerd (${i})"
    sleep 1
  done
  return 1
}

# cgroup_version: 2 on a unified (cgroup v2) host, else 1.
cgroup_version() {
  if [[ "$(stat -fc %T "${CGROUP_ROOT}" 2> /dev/null)" == "cgroup2fs" ]]; then
    printf '2'
  else
    printf '1'
  fi
}

containerd_uses_systemd_cgroup() {
  containerd config dump 2> /dev/null | grep -Eq '^[[:space:]]*SystemdCgroup[[:space:]]*=[[:space:]]*true'
}

install_containerd_config() {
  mkdir -p /etc/containerd
  if [[ -f /etc/containerd/config.toml && ! -f /etc/containerd/config.toml.cos ]]; then
    cp /etc/containerd/config.toml /etc/containerd/config.toml.cos
  fi
  cp "${CONF_DIR}/containerd-config.toml" /etc/containerd/config.toml
  systemctl restart containerd.service
  wait_for_containerd || fail "containerd did not restart with k8sless's configuration"
  containerd_serves_cri || fail "containerd does not serve the CRI even with k8sless's configuration"
}

configure_containerd() {
  step "checking containerd's CRI plugin"
  systemctl start containerd.service
  wait_for_containerd || fail "containerd did not start"
  local driver=cgroupfs cgroups
  cgroups="$(cgroup_version)"
  fact cgroup_version "${cgroups}"
  if containerd_serves_cri; then
    containerd_uses_systemd_cgroup && driver=systemd
    log "containerd serves the CRI already (cgroup driver ${driver}, cgroup v${cgroups})"
    if [[ "${cgroups}" == "2" && "${driver}" != "systemd" ]]; then
      # Kubernetes requires the systemd driver on cgroup v2 (and its own
      # COS scripts write SystemdCgroup = true); COS's own configuration
      # keeps runc's default, cgroupfs.
      log "cgroup v2 needs the systemd cgroup driver: installing k8sless's containerd configuration"
      install_containerd_config
      driver=systemd
      fact containerd_config "/etc/containerd/config.toml (k8sless's; COS's CRI used cgroupfs on cgroup v2)"
    else
      fact containerd_config "/etc/containerd/config.toml (COS's)"
    fi
  else
    log "containerd does not serve the CRI: installing k8sless's containerd configuration"
    install_containerd_config
    driver=systemd
    fact containerd_config "/etc/containerd/config.toml (k8sless's; COS's served no CRI)"
  fi
  fact cgroup_driver "${driver}"
  step "writing the kubelet configuration"
  cp "${CONF_DIR}/kubelet-config.yaml.in" "${CONF_DIR}/kubelet-config.yaml"
  printf 'cgroupDriver: %s\n' "${driver}" >> "${CONF_DIR}/kubelet-config.yaml"
  step "opening kubelet's port to the service"
  "${KUBELET_ACCESS}" || fail "could not set up kubelet's authenticated port (k8sless-kubelet-access)"
}

write_manifest() {
  step "writing the pod manifest"
  local tmp="${CONF_DIR}/pod.json.tmp"
  metadata_boot "instance/attributes/k8sless-manifest" > "${tmp}" || fail "could not read k8sless-manifest from metadata"
  [[ -s "${tmp}" ]] || fail "the k8sless-manifest metadata value is empty"
  chmod 0600 "${tmp}"
  mv "${tmp}" "${MANIFEST_DIR}/k8sless-pod.json"
}

prepare_dirs
install_kubelet
configure_containerd
write_manifest
step "done"
