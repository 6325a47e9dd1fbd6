//! The pod manifest as kubelet on the VM gets it.
//!
//! The manifest is edited as a `serde_json::Value` rather than through the
//! typed `Pod`, so fields this crate's Kubernetes types do not know survive
//! unchanged. Edits:
//!
//! - `metadata.uid`, `namespace` and `name` are the configuration's: kubelet
//!   keeps a static pod's uid when the manifest has one, so the VM's reports
//!   and log paths carry the pod's real uid.
//! - `spec.hostNetwork` is set to `true`, also over a `false` the service kept:
//!   standalone kubelet has no CNI, so the pod runs on the VM's network.
//! - GPUs: kubelet without a device plugin would reject a pod that asks for
//!   `nvidia.com/gpu` (an extended resource the node does not advertise). The
//!   request is removed from each container that makes it, which instead gets
//!   the driver's libraries and tools (`/var/lib/nvidia/{lib64,bin}` mounted
//!   read-only at `/usr/local/nvidia/{lib64,bin}`, where CUDA images look) and
//!   device access (`privileged`, which exposes `/dev/nvidia*`; the VM runs
//!   this one pod only). Other containers of the pod are left alone.

use serde_json::{Map, Value, json};

use super::{GPU_RESOURCE, GuestConfig};

/// The adjusted manifest, and whether it asked for GPUs.
pub(super) struct VmManifest {
    pub(super) json: String,
    pub(super) wants_gpu: bool,
}

/// `LD_LIBRARY_PATH` given to GPU containers that set none: the driver's
/// libraries, where the manifest mounts them.
pub(super) const GPU_LD_LIBRARY_PATH: &str = "/usr/local/nvidia/lib64";

const NVIDIA_MOUNTS: &[(&str, &str, &str)] = &[
    (
        "k8sless-nvidia-lib64",
        "/var/lib/nvidia/lib64",
        "/usr/local/nvidia/lib64",
    ),
    (
        "k8sless-nvidia-bin",
        "/var/lib/nvidia/bin",
        "/usr/local/nvidia/bin",
    ),
];

const CONTAINER_LISTS: &[&str] = &["initContainers", "containers"];

fn asks_for_gpu(container: &Value) -> bool {
    ["limits", "requests"].iter().any(|kind| {
        container
            .pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
            .and_then(|m| m.get(GPU_RESOURCE))
            .is_some_and(|q| !matches!(q.as_str(), Some("0")) && q.as_i64() != Some(0))
    })
}

#[cfg(test)]
pub(super) fn requests_gpus(pod_manifest_json: &str) -> bool {
    let Ok(pod) = serde_json::from_str::<Value>(pod_manifest_json) else {
        return false;
    };
    CONTAINER_LISTS.iter().any(|list| {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .is_some_and(|cs| cs.iter().any(asks_for_gpu))
    })
}

fn object<'a>(parent: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = parent
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("just made an object")
}

fn array<'a>(parent: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = parent
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut().expect("just made an array")
}

fn wire_gpu(container: &mut Map<String, Value>) {
    let resources = object(container, "resources");
    for kind in ["limits", "requests"] {
        if let Some(map) = resources.get_mut(kind).and_then(Value::as_object_mut) {
            map.remove(GPU_RESOURCE);
            if map.is_empty() {
                resources.remove(kind);
            }
        }
    }
    let mounts = array(container, "volumeMounts");
    for (name, _, path) in NVIDIA_MOUNTS {
        if !mounts
            .iter()
            .any(|m| m.get("name").and_then(Value::as_str) == Some(name))
        {
            mounts.push(json!({"name": name, "mountPath": path, "readOnly": true}));
        }
    }
    object(container, "securityContext").insert("privileged".to_owned(), Value::Bool(true));
    // The dynamic loader finds libcuda in the driver mount only through
    // LD_LIBRARY_PATH (CUDA images set it; many others do not). A container
    // that sets LD_LIBRARY_PATH itself keeps its value.
    let env = array(container, "env");
    if !env
        .iter()
        .any(|e| e.get("name").and_then(Value::as_str) == Some("LD_LIBRARY_PATH"))
    {
        env.push(json!({"name": "LD_LIBRARY_PATH", "value": GPU_LD_LIBRARY_PATH}));
    }
}

#[cfg(test)]
pub(super) fn for_vm(cfg: &GuestConfig, pod_manifest_json: &str) -> VmManifest {
    match serde_json::from_str::<Value>(pod_manifest_json) {
        Ok(pod @ Value::Object(_)) => for_vm_value(cfg, pod),
        _ => VmManifest {
            json: pod_manifest_json.to_owned(),
            wants_gpu: false,
        },
    }
}

/// The manifest adjusted for the VM (see the module docs); a manifest that is not an object
/// is passed through as its text.
pub(super) fn for_vm_value(cfg: &GuestConfig, pod_manifest: Value) -> VmManifest {
    let Value::Object(mut pod) = pod_manifest else {
        return VmManifest {
            json: pod_manifest.to_string(),
            wants_gpu: false,
        };
    };
    let metadata = object(&mut pod, "metadata");
    for (key, value) in [
        ("uid", &cfg.uid),
        ("namespace", &cfg.namespace),
        ("name", &cfg.name),
    ] {
        if !value.is_empty() {
            metadata.insert(key.to_owned(), Value::String(value.clone()));
        }
    }
    let spec = object(&mut pod, "spec");
    spec.insert("hostNetwork".to_owned(), Value::Bool(true));
    let mut wants_gpu = false;
    for list in CONTAINER_LISTS {
        if let Some(containers) = spec.get_mut(*list).and_then(Value::as_array_mut) {
            for c in containers.iter_mut() {
                if asks_for_gpu(c)
                    && let Some(c) = c.as_object_mut()
                {
                    wire_gpu(c);
                    wants_gpu = true;
                }
            }
        }
    }
    if wants_gpu {
        let volumes = array(spec, "volumes");
        for (name, host, _) in NVIDIA_MOUNTS {
            if !volumes
                .iter()
                .any(|v| v.get("name").and_then(Value::as_str) == Some(name))
            {
                volumes
                    .push(json!({"name": name, "hostPath": {"path": host, "type": "Directory"}}));
            }
        }
    }
    let json = Value::Object(pod).to_string();
    VmManifest { json, wants_gpu }
}
