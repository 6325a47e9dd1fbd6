#!/bin/bash
# k8sless-setup: prepares this Container-Optimized OS VM to run its one pod.
#
# Runs once per boot as k8sless-setup.service, before kubelet:
#   1. makes /var/lib/k8sless/bin executable (COS mounts /var noexec),
#   2. picks kubelet: the host's /usr/bin/kubelet when it is of the pinned
#      minor version, else the pinned release, downloaded and SHA-256 checked,
#   3. makes sure containerd serves the CRI and learns its cgroup driver,
#   4. completes the kubelet configuration,
#   5. writes the pod manifest from metadata into the static pod directory.
# On failure it leaves the reason in /run/k8sless/setup-failed, which the
# reporter publishes as a final NodeSetupFailed status.

set -o errexit -o nounset -o pipefail

METADATA_URL="${K8SLESS_METADATA_URL:-http://metadata.google.internal}"
KUBELET_VERSION="${K8SLESS_KUBELET_VERSION:?K8SLESS_KUBELET_VERSION is not set}"
KUBELET_URL="${K8SLESS_KUBELET_URL:?K8SLESS_KUBELET_URL is not set}"
KUBELET_SHA256="${K8SLESS_KUBELET_SHA256:?K8SLESS_KUBELET_SHA256 is not set}"
BIN_DIR="${K8SLESS_BIN_DIR:-/var/lib/k8sless/bin}"
CONF_DIR="${K8SLESS_CONF_DIR:-/etc/k8sless}"
MANIFEST_DIR="${K8SLESS_MANIFEST_DIR:-/etc/kubernetes/manifests}"
FAILED_FILE="${K8SLESS_SETUP_FAILED_FILE:-/run/k8sless/setup-failed}"
CONTAINERD_SOCK="/run/containerd/containerd.sock"
STEP="starting"

log() {
  printf 'k8sless-setup: %s\n' "$*" >&2
}

fail() {
  mkdir -p "$(dirname "${FAILED_FILE}")"
  printf '%s\n' "$*" > "${FAILED_FILE}"
  log "FAILED: $*"
  exit 1
}

step() {
  STEP="$*"
  log "$*"
}

trap 'fail "node setup failed while ${STEP}"' ERR

metadata() {
  curl --fail --silent --show-error --retry 10 --retry-delay 2 --retry-connrefused \
    --connect-timeout 5 --max-time 30 -H 'Metadata-Flavor: Google' \
    "${METADATA_URL}/computeMetadata/v1/$1"
}

prepare_dirs() {
  step "preparing directories"
  mkdir -p "${BIN_DIR}" /var/lib/kubelet /var/log/pods "${MANIFEST_DIR}" "$(dirname "${FAILED_FILE}")"
  rm -f "${FAILED_FILE}"
  # /var is mounted noexec on COS; a bind mount of our directory remounted
  # with exec is the documented way to run binaries from the stateful disk.
  if ! mountpoint -q "${BIN_DIR}"; then
    mount --bind "${BIN_DIR}" "${BIN_DIR}"
  fi
  mount -o remount,exec "${BIN_DIR}"
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
      return
    fi
    log "the image's kubelet (${host_version:-unknown version}) is not ${KUBELET_VERSION%.*}.x; downloading"
  fi
  if [[ -f "${target}" && ! -L "${target}" ]] \
    && printf '%s  %s\n' "${KUBELET_SHA256}" "${target}" | sha256sum --check --status; then
    log "kubelet ${KUBELET_VERSION} already present"
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

configure_containerd() {
  step "checking containerd's CRI plugin"
  systemctl start containerd.service
  wait_for_containerd || fail "containerd did not start"
  local driver=cgroupfs
  if containerd_serves_cri; then
    if containerd config dump 2> /dev/null | grep -Eq '^[[:space:]]*SystemdCgroup[[:space:]]*=[[:space:]]*true'; then
      driver=systemd
    fi
    log "containerd serves the CRI already (cgroup driver ${driver})"
  else
    log "containerd does not serve the CRI: installing k8sless's containerd configuration"
    mkdir -p /etc/containerd
    if [[ -f /etc/containerd/config.toml ]]; then
      cp /etc/containerd/config.toml /etc/containerd/config.toml.cos
    fi
    cp "${CONF_DIR}/containerd-config.toml" /etc/containerd/config.toml
    systemctl restart containerd.service
    wait_for_containerd || fail "containerd did not restart with the CRI configuration"
    containerd_serves_cri || fail "containerd does not serve the CRI even with k8sless's configuration"
    driver=systemd
  fi
  step "writing the kubelet configuration"
  cp "${CONF_DIR}/kubelet-config.yaml.in" "${CONF_DIR}/kubelet-config.yaml"
  printf 'cgroupDriver: %s\n' "${driver}" >> "${CONF_DIR}/kubelet-config.yaml"
}

write_manifest() {
  step "writing the pod manifest"
  local tmp="${CONF_DIR}/pod.json.tmp"
  metadata "instance/attributes/k8sless-manifest" > "${tmp}" || fail "could not read k8sless-manifest from metadata"
  [[ -s "${tmp}" ]] || fail "the k8sless-manifest metadata value is empty"
  chmod 0600 "${tmp}"
  mv "${tmp}" "${MANIFEST_DIR}/k8sless-pod.json"
}

prepare_dirs
install_kubelet
configure_containerd
write_manifest
step "done"
