#!/bin/bash
# k8sless-gpu: installs the NVIDIA driver with COS's own tool before kubelet
# starts, and makes it usable by containers.
#
# `cos-extensions install gpu` builds nothing: it fetches the driver signed
# for this exact COS build and installs it under /var/lib/nvidia (libraries
# in lib64, tools such as nvidia-smi in bin). /var is noexec on COS, so the
# directory is bind-mounted onto itself with exec. The pod manifest mounts
# /var/lib/nvidia/lib64 and /var/lib/nvidia/bin at /usr/local/nvidia/...,
# where CUDA images look, and the GPU containers get the /dev/nvidia* devices.

set -o errexit -o nounset -o pipefail

FAILED_FILE="${K8SLESS_SETUP_FAILED_FILE:-/run/k8sless/setup-failed}"
NVIDIA_DIR=/var/lib/nvidia

fail() {
  mkdir -p "$(dirname "${FAILED_FILE}")"
  printf '%s\n' "$*" > "${FAILED_FILE}"
  # <3>: an error in the journal, which COS forwards to Cloud Logging.
  printf '<3>k8sless-gpu: FAILED: %s\n' "$*" >&2
  exit 1
}

ATTEMPTS="${K8SLESS_GPU_INSTALL_ATTEMPTS:-5}"

# The installer runs in Docker: wait (up to 2 minutes) until Docker answers.
for _ in $(seq 1 60); do
  docker info > /dev/null 2>&1 && break
  sleep 2
done

attempt=1
until cos-extensions install gpu; do
  if ((attempt >= ATTEMPTS)); then
    fail "cos-extensions install gpu failed ${attempt} times"
  fi
  printf 'k8sless-gpu: attempt %s failed; retrying in %ss\n' "${attempt}" "$((attempt * 15))" >&2
  sleep "$((attempt * 15))"
  attempt=$((attempt + 1))
done

mkdir -p "${NVIDIA_DIR}"
if ! mountpoint -q "${NVIDIA_DIR}"; then
  mount --bind "${NVIDIA_DIR}" "${NVIDIA_DIR}"
fi
mount -o remount,exec "${NVIDIA_DIR}"
"${NVIDIA_DIR}/bin/nvidia-smi" || fail "nvidia-smi found no usable GPU after the driver install"
# nvidia-uvm's device node appears on first use; CUDA needs it in the container.
"${NVIDIA_DIR}/bin/nvidia-modprobe" -u -c=0 2> /dev/null || true
ls -l /dev/nvidia* >&2 || true
