//! `GET /stats/summary`, kubelet's Summary API ([`crate::kubelet::summary`]), from the
//! containers' real processes: CPU from `/proc/<pid>/stat` (`utime + stime`, in clock ticks
//! of 1/100 s, Linux's `USER_HZ`), the rate over the time since the previous sample (as
//! cAdvisor computes `usageNanoCores`), memory from `VmRSS` in `/proc/<pid>/status` as the
//! working set. A container whose process ended reports no CPU or memory, as kubelet does for
//! a container that is not running; a simulated guest's container, which never had a process,
//! reports zero while its VM runs.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use super::node::SimNode;
use crate::kubelet::summary::{
    ContainerStats, CpuStats, MemoryStats, NodeStats, PodReference, PodStats, Summary,
};

/// Linux's `USER_HZ`: the unit of `utime` and `stime`.
const TICKS_PER_SECOND: u64 = 100;

pub(super) fn routes() -> Router<Arc<SimNode>> {
    Router::new().route("/stats/summary", get(summary))
}

async fn summary(State(node): State<Arc<SimNode>>) -> Json<Summary> {
    Json(summary_of(&node))
}

/// The node's summary now.
pub(crate) fn summary_of(node: &SimNode) -> Summary {
    let now = jiff::Timestamp::now();
    let containers = node
        .containers()
        .into_iter()
        .map(|(name, c)| {
            // A simulated guest's container has lines but no process: it uses nothing.
            let sample = match c.pid {
                Some(pid) => sample(pid),
                None if c.started.is_none() && node.running(&name) => Some((0, 0)),
                None => None,
            };
            let cpu_ns = sample.map(|s| s.0);
            let nano_cores = cpu_ns.map(|ns| node.cpu_rate(&name, ns, now));
            ContainerStats {
                name,
                start_time: c.started.map(|t| t.to_string()),
                cpu: cpu_ns.map(|ns| CpuStats {
                    time: now.to_string(),
                    usage_nano_cores: nano_cores,
                    usage_core_nano_seconds: Some(ns),
                }),
                memory: sample.map(|s| MemoryStats {
                    time: now.to_string(),
                    working_set_bytes: Some(s.1),
                    rss_bytes: Some(s.1),
                }),
            }
        })
        .collect();
    Summary {
        node: NodeStats {
            node_name: node.vm.clone(),
        },
        pods: vec![PodStats {
            pod_ref: PodReference {
                name: node.pod.clone(),
                namespace: node.namespace.clone(),
                uid: String::new(),
            },
            containers,
        }],
    }
}

/// `(cpu core-nanoseconds, rss bytes)` of a process, from `/proc`.
fn sample(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let cpu_ns = (utime + stime) * (1_000_000_000 / TICKS_PER_SECOND);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some((cpu_ns, rss_kb * 1024))
}
