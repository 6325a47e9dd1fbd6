#!/bin/bash
# k8sless-kubelet-access: opens kubelet's authenticated port to the k8sless
# service, or keeps kubelet on loopback. Run by k8sless-setup after it wrote
# the kubelet configuration, before kubelet starts.
#
# With the k8sless-kubelet-client-ca metadata value (the deployment reaches
# kubelets, --kubelet-access vpc), it
#   1. writes the pod's client CA and kubelet's serving certificate and key
#      (from the k8sless-kubelet-* metadata values) under /etc/k8sless/pki,
#      the key 0600,
#   2. makes kubelet listen on all addresses with that certificate, requiring a
#      client certificate from the pod's CA (authentication.x509.clientCAFile;
#      anonymous and webhook authentication stay off, see kubelet-config.yaml),
#   3. opens COS's host firewall for tcp:10250 from the service's egress ranges
#      only (k8sless-kubelet-source-ranges), drops 10250 from anywhere else and
#      drops the unauthenticated read-only port 10255 from anything but
#      loopback (it listens on kubelet's address too).
# Without it, kubelet listens on 127.0.0.1 with no client CA: nothing can
# authenticate to it. Either way it fills the @KUBELET_*@ placeholders of the
# configuration. A range that is not a CIDR, or admits everyone (/0), fails
# setup rather than open the port.
#
# COS's host firewall accepts only SSH and established connections by default
# (https://cloud.google.com/container-optimized-os/docs/how-to/firewall);
# rules made here do not persist, which suits a one-time VM: this runs on each
# boot.

set -o errexit -o nounset -o pipefail

LIB_SH="${K8SLESS_LIB_SH:-$(dirname "${BASH_SOURCE[0]}")/k8sless-lib.sh}"
# metadata_boot; METADATA_URL.
# shellcheck source-path=SCRIPTDIR source=k8sless-lib.sh
source "${LIB_SH}"
CONF_DIR="${K8SLESS_CONF_DIR:-/etc/k8sless}"
PKI_DIR="${K8SLESS_PKI_DIR:-${CONF_DIR}/pki}"
KUBELET_CONFIG="${K8SLESS_KUBELET_CONFIG:-${CONF_DIR}/kubelet-config.yaml}"
IPTABLES="${K8SLESS_IPTABLES:-iptables}"
IP6TABLES="${K8SLESS_IP6TABLES:-ip6tables}"
KUBELET_PORT=10250
READ_ONLY_PORT=10255

log() {
  printf 'k8sless-kubelet-access: %s\n' "$*" >&2
}

# attribute KEY: the instance attribute, or nothing (exit 1) when it is not set.
attribute() {
  metadata_boot "instance/attributes/$1" 2> /dev/null
}

# configure ADDRESS CLIENT_CA CERT KEY: fills the placeholders (fixed paths
# and addresses only: nothing from metadata reaches the YAML).
configure() {
  sed -i \
    -e "s|@KUBELET_ADDRESS@|$1|" \
    -e "s|@KUBELET_CLIENT_CA_FILE@|$2|" \
    -e "s|@KUBELET_TLS_CERT_FILE@|$3|" \
    -e "s|@KUBELET_TLS_KEY_FILE@|$4|" \
    "${KUBELET_CONFIG}"
}

# valid_range CIDR: an IPv4 or IPv6 range with a prefix of at least 1 bit.
valid_range() {
  local r="$1"
  if [[ "${r}" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]{1,2})$ ]]; then
    (( BASH_REMATCH[2] >= 1 && BASH_REMATCH[2] <= 32 ))
  elif [[ "${r}" =~ ^[0-9A-Fa-f:]+:[0-9A-Fa-f:]*/([0-9]{1,3})$ ]]; then
    (( BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 128 ))
  else
    return 1
  fi
}

open_firewall() {
  local ranges="$1" range tool
  local -a v4=() v6=()
  IFS=',' read -r -a all <<< "${ranges}"
  for range in "${all[@]}"; do
    [[ -z "${range}" ]] && continue
    valid_range "${range}" || { log "refusing source range ${range@Q}"; return 1; }
    if [[ "${range}" == *:* ]]; then v6+=("${range}"); else v4+=("${range}"); fi
  done
  (( ${#v4[@]} + ${#v6[@]} > 0 )) || { log "no source range: kubelet's port stays closed"; return 1; }
  for tool in "${IPTABLES}" "${IP6TABLES}"; do
    local -a mine=("${v4[@]}")
    [[ "${tool}" == "${IP6TABLES}" ]] && mine=("${v6[@]}")
    for range in "${mine[@]}"; do
      "${tool}" -w -A INPUT -p tcp -s "${range}" --dport "${KUBELET_PORT}" -j ACCEPT
    done
    "${tool}" -w -A INPUT -p tcp --dport "${KUBELET_PORT}" -j DROP
    "${tool}" -w -A INPUT -p tcp ! -i lo --dport "${READ_ONLY_PORT}" -j DROP
  done
}

main() {
  local client_ca
  if ! client_ca="$(attribute k8sless-kubelet-client-ca)" || [[ -z "${client_ca}" ]]; then
    log "no kubelet client CA in metadata: kubelet listens on loopback only"
    configure 127.0.0.1 '' '' ''
    return
  fi
  mkdir -p "${PKI_DIR}"
  chmod 0700 "${PKI_DIR}"
  printf '%s\n' "${client_ca}" > "${PKI_DIR}/client-ca.crt"
  attribute k8sless-kubelet-serving-cert > "${PKI_DIR}/kubelet.crt"
  (umask 077 && attribute k8sless-kubelet-serving-key > "${PKI_DIR}/kubelet.key")
  grep -q 'BEGIN CERTIFICATE' "${PKI_DIR}/kubelet.crt" || { log "no serving certificate in metadata"; return 1; }
  grep -q 'PRIVATE KEY' "${PKI_DIR}/kubelet.key" || { log "no serving key in metadata"; return 1; }
  open_firewall "$(attribute k8sless-kubelet-source-ranges || true)"
  configure 0.0.0.0 "${PKI_DIR}/client-ca.crt" "${PKI_DIR}/kubelet.crt" "${PKI_DIR}/kubelet.key"
  log "kubelet serves :${KUBELET_PORT} to the service's ranges, client certificates from the pod's CA only"
}

main "$@"
