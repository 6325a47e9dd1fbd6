//! **A data table** (the shapes and prices below are most of its length; it is exempt from the
//! 500-line limit for that reason, and splitting it would only scatter one table).
//!
//! The machine-type catalog: real Compute Engine shapes (vCPUs, memory, accelerators) and
//! approximate on-demand and Spot prices, shared by the simulator (which machine types exist)
//! and the Pod → VM translation (which one is cheapest that fits).
//!
//! Prices: USD per hour in us-central1, from the per-vCPU and per-GiB list rates of Google
//! Cloud's "VM instance pricing" and "GPU pricing" pages as published in 2025 (not fetched at
//! run time), rounded to four decimals; shared-core e2 types are priced by their sustained vCPU
//! fraction, as Google prices them. Spot prices move monthly, so the Spot figures are the
//! family's typical ratio to on-demand. They rank shapes against each other; they are not a bill.
//!
//! Availability: accelerators exist in some zones only; [`offered_in`] knows us-central1's (the
//! default region). General-purpose families are taken to exist in every zone.

use std::sync::OnceLock;

/// One accelerator model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Accelerator {
    /// GKE's and Compute Engine's name, e.g. `nvidia-l4`.
    pub name: &'static str,
    /// Whether it attaches to N1 VMs as a guest accelerator (else it comes with its machine type).
    pub attachable_to_n1: bool,
    /// On N1: the GPU counts a VM may have, each with the largest N1 shape allowed with it
    /// (count, most vCPUs, most memory in GiB). Empty for accelerators that come with a type.
    pub n1_counts: &'static [(u32, u32, u64)],
    /// On-demand USD/hour per GPU.
    pub price_hour: f64,
}

impl Accelerator {
    /// The N1 limits for `count` GPUs: (most vCPUs, most memory in MiB).
    pub(crate) fn n1_limits(&self, count: u32) -> Option<(u32, u64)> {
        self.n1_counts
            .iter()
            .find(|(n, _, _)| *n == count)
            .map(|(_, cpus, gib)| (*cpus, gib * 1024))
    }
}

const fn gpu(
    name: &'static str,
    n1_counts: &'static [(u32, u32, u64)],
    price_hour: f64,
) -> Accelerator {
    Accelerator {
        name,
        attachable_to_n1: !n1_counts.is_empty(),
        n1_counts,
        price_hour,
    }
}

/// Accelerators k8sless knows.
pub(crate) const ACCELERATORS: &[Accelerator] = &[
    gpu(
        "nvidia-tesla-t4",
        &[(1, 48, 312), (2, 48, 312), (4, 96, 624)],
        0.35,
    ),
    gpu(
        "nvidia-tesla-p4",
        &[(1, 24, 156), (2, 48, 312), (4, 96, 624)],
        0.60,
    ),
    gpu(
        "nvidia-tesla-v100",
        &[(1, 12, 78), (2, 24, 156), (4, 48, 312), (8, 96, 624)],
        2.48,
    ),
    gpu(
        "nvidia-tesla-p100",
        &[(1, 16, 104), (2, 32, 208), (4, 64, 208)],
        1.46,
    ),
    gpu("nvidia-l4", &[], 0.56),
    gpu("nvidia-tesla-a100", &[], 2.93),
    gpu("nvidia-a100-80gb", &[], 3.93),
    gpu("nvidia-h100-80gb", &[], 10.0),
];

/// Finds an accelerator by name.
pub(crate) fn accelerator(name: &str) -> Option<&'static Accelerator> {
    ACCELERATORS.iter().find(|a| a.name == name)
}

/// Whether `zone` offers the accelerator (us-central1: Google's GPU zone list of 2025; other
/// regions are not tracked and count as offering every accelerator).
pub(crate) fn offered_in(accelerator: &str, zone: &str) -> bool {
    if region_of(zone) != "us-central1" {
        return true;
    }
    let letters: &[&str] = match accelerator {
        "nvidia-tesla-t4" | "nvidia-tesla-v100" | "nvidia-tesla-a100" => &["a", "b", "c", "f"],
        "nvidia-tesla-p4" | "nvidia-a100-80gb" => &["a", "c"],
        "nvidia-tesla-p100" => &["c", "f"],
        "nvidia-l4" | "nvidia-h100-80gb" => &["a", "b", "c"],
        _ => return true,
    };
    letters.iter().any(|l| zone.ends_with(&format!("-{l}")))
}

/// The boot disk type for `family` given the configured one: C4 takes only Hyperdisk, and only
/// C3, C4 and A3 take Hyperdisk Balanced, so the configured type is swapped for its counterpart
/// where the family does not take it. Returns the type and whether it was swapped.
pub(crate) fn boot_disk_type(family: &str, configured: &str) -> (String, bool) {
    let hyperdisk = matches!(family, "c3" | "c4" | "a3");
    if family == "c4" && !configured.starts_with("hyperdisk-") {
        ("hyperdisk-balanced".into(), true)
    } else if !hyperdisk && configured.starts_with("hyperdisk-") {
        ("pd-balanced".into(), true)
    } else {
        (configured.to_string(), false)
    }
}

/// One machine type.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineType {
    /// e.g. `e2-standard-2`, `e2-custom-2-4096`.
    pub name: String,
    /// e.g. `e2`.
    pub family: &'static str,
    /// Virtual CPUs (shared-core types count their burst vCPUs, `shared_core` says so).
    pub vcpus: u32,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Built-in accelerators: model and count.
    pub accelerator: Option<(&'static str, u32)>,
    /// e2-micro/small/medium: fractional vCPU time.
    pub shared_core: bool,
    /// On-demand USD/hour.
    pub price_hour: f64,
    /// Spot USD/hour.
    pub spot_price_hour: f64,
}

impl MachineType {
    /// Milli-CPUs a pod can count on (shared-core types: their sustained fraction).
    pub fn millicpu(&self) -> u64 {
        if self.shared_core {
            shared_core_millicpu(&self.name)
        } else {
            u64::from(self.vcpus) * 1000
        }
    }

    /// Whether it is a custom shape (`FAMILY-custom-CPUS-MIB`).
    pub fn is_custom(&self) -> bool {
        self.name.contains("-custom-")
    }

    /// The hourly price, Spot or on-demand.
    pub fn price(&self, spot: bool) -> f64 {
        if spot {
            self.spot_price_hour
        } else {
            self.price_hour
        }
    }
}

/// The sustained vCPU share of a shared-core type, in milli-CPUs.
fn shared_core_millicpu(name: &str) -> u64 {
    match name {
        "e2-micro" => 250,
        "e2-small" => 500,
        _ => 1000,
    }
}

/// Per-family rates: (USD per vCPU-hour, USD per GiB-hour, Spot ratio).
fn rates(family: &str) -> (f64, f64, f64) {
    match family {
        "e2" => (0.021811, 0.002923, 0.31),
        "n2" => (0.031611, 0.004237, 0.24),
        "n2d" => (0.027502, 0.003686, 0.22),
        "c3" => (0.03465, 0.003938, 0.36),
        "c4" => (0.03465, 0.003938, 0.36),
        "n1" => (0.031611, 0.004237, 0.21),
        "g2" => (0.024988, 0.002927, 0.33),
        "a2" => (0.031611, 0.004237, 0.33),
        "a3" => (0.031611, 0.004237, 0.40),
        _ => (0.04, 0.005, 0.35),
    }
}

fn shape(
    family: &'static str,
    name: String,
    vcpus: u32,
    memory_gib: f64,
    accelerator: Option<(&'static str, u32)>,
    shared_core: bool,
) -> MachineType {
    let (per_cpu, per_gib, spot) = rates(family);
    let gpu_price = accelerator
        .and_then(|(model, n)| self::accelerator(model).map(|a| a.price_hour * f64::from(n)));
    // Shared-core types are billed for their sustained vCPU fraction.
    let billed_cpus = if shared_core {
        shared_core_millicpu(&name) as f64 / 1000.0
    } else {
        f64::from(vcpus)
    };
    let price = billed_cpus * per_cpu + memory_gib * per_gib + gpu_price.unwrap_or(0.0);
    MachineType {
        name,
        family,
        vcpus,
        memory_mib: (memory_gib * 1024.0).round() as u64,
        accelerator,
        shared_core,
        price_hour: round4(price),
        spot_price_hour: round4(price * spot),
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Every predefined machine type k8sless knows.
pub(crate) fn all() -> &'static [MachineType] {
    static ALL: OnceLock<Vec<MachineType>> = OnceLock::new();
    ALL.get_or_init(build)
}

fn build() -> Vec<MachineType> {
    let mut v = Vec::new();
    general_purpose(&mut v);
    accelerator_optimized(&mut v);
    v
}

/// The general-purpose and compute-optimized series, then the shared-core e2 types.
fn general_purpose(v: &mut Vec<MachineType>) {
    let mut series = |family: &'static str, class: &str, sizes: &[u32], gib_per_cpu: f64| {
        for &n in sizes {
            v.push(shape(
                family,
                format!("{family}-{class}-{n}"),
                n,
                f64::from(n) * gib_per_cpu,
                None,
                false,
            ));
        }
    };
    const N2: &[u32] = &[2, 4, 8, 16, 32, 48, 64, 80, 96, 128];
    const N2D: &[u32] = &[2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224];
    series("e2", "standard", &[2, 4, 8, 16, 32], 4.0);
    series("e2", "highmem", &[2, 4, 8, 16], 8.0);
    series("e2", "highcpu", &[2, 4, 8, 16, 32], 1.0);
    series("n2", "standard", N2, 4.0);
    series("n2", "highmem", N2, 8.0);
    series("n2", "highcpu", &N2[..9], 1.0);
    series("n2d", "standard", N2D, 4.0);
    series("n2d", "highmem", &N2D[..9], 8.0);
    series("n2d", "highcpu", N2D, 1.0);
    series("c3", "standard", &[4, 8, 22, 44, 88, 176], 4.0);
    series("c3", "highmem", &[4, 8, 22, 44, 88, 176], 8.0);
    series("c3", "highcpu", &[4, 8, 22, 44, 88, 176], 2.0);
    series("c4", "standard", &[2, 4, 8, 16, 32, 48, 96, 192], 3.75);
    series("c4", "highmem", &[2, 4, 8, 16, 32, 48, 96, 192], 7.75);
    series("c4", "highcpu", &[2, 4, 8, 16, 32, 48, 96, 192], 2.0);
    series("n1", "standard", &[1, 2, 4, 8, 16, 32, 64, 96], 3.75);
    series("n1", "highmem", &[2, 4, 8, 16, 32, 64, 96], 6.5);
    series("n1", "highcpu", &[2, 4, 8, 16, 32, 64, 96], 0.9);
    v.push(shape("e2", "e2-micro".into(), 2, 1.0, None, true));
    v.push(shape("e2", "e2-small".into(), 2, 2.0, None, true));
    v.push(shape("e2", "e2-medium".into(), 2, 4.0, None, true));
}

/// The GPU series: g2 (L4), a2 (A100 40 and 80 GB), a3 (H100).
fn accelerator_optimized(v: &mut Vec<MachineType>) {
    for (n, gib, gpus) in [
        (4, 16.0, 1),
        (8, 32.0, 1),
        (12, 48.0, 1),
        (16, 64.0, 1),
        (24, 96.0, 2),
        (32, 128.0, 1),
        (48, 192.0, 4),
        (96, 384.0, 8),
    ] {
        v.push(shape(
            "g2",
            format!("g2-standard-{n}"),
            n,
            gib,
            Some(("nvidia-l4", gpus)),
            false,
        ));
    }
    // a2 and a3 are named by their GPU count.
    for (family, class, model, sizes) in [
        (
            "a2",
            "highgpu",
            "nvidia-tesla-a100",
            [
                (1, 12, 85.0),
                (2, 24, 170.0),
                (4, 48, 340.0),
                (8, 96, 680.0),
            ],
        ),
        (
            "a2",
            "ultragpu",
            "nvidia-a100-80gb",
            [
                (1, 12, 170.0),
                (2, 24, 340.0),
                (4, 48, 680.0),
                (8, 96, 1360.0),
            ],
        ),
        (
            "a3",
            "highgpu",
            "nvidia-h100-80gb",
            [
                (1, 26, 234.0),
                (2, 52, 468.0),
                (4, 104, 936.0),
                (8, 208, 1872.0),
            ],
        ),
    ] {
        for (g, n, gib) in sizes {
            v.push(shape(
                family,
                format!("{family}-{class}-{g}g"),
                n,
                gib,
                Some((model, g)),
                false,
            ));
        }
    }
}

/// Looks a machine type up by name; `FAMILY-custom-CPUS-MIB` custom types are computed.
pub(crate) fn lookup(name: &str) -> Option<MachineType> {
    if let Some(found) = all().iter().find(|m| m.name == name) {
        return Some(found.clone());
    }
    custom(name)
}

/// Parses and validates a custom machine type (`e2-custom-2-4096`, `n2-custom-4-8192`).
pub(crate) fn custom(name: &str) -> Option<MachineType> {
    let mut parts = name.split('-');
    let family = parts.next()?;
    if parts.next()? != "custom" {
        return None;
    }
    let vcpus: u32 = parts.next()?.parse().ok()?;
    let memory_mib: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    custom_of(family, vcpus, memory_mib).filter(|m| m.name == name)
}

/// Custom vCPU counts: e2 2–32 even; n2 2–32 even, then multiples of 4 to 80; n2d 2, 4, 8, 16,
/// then multiples of 16 to 96.
pub(crate) fn custom_vcpus_valid(family: &str, vcpus: u32) -> bool {
    match family {
        "e2" => (2..=32).contains(&vcpus) && vcpus % 2 == 0,
        "n2" => {
            ((2..=32).contains(&vcpus) && vcpus % 2 == 0)
                || ((36..=80).contains(&vcpus) && vcpus % 4 == 0)
        }
        "n2d" => matches!(vcpus, 2 | 4 | 8 | 16) || ((32..=96).contains(&vcpus) && vcpus % 16 == 0),
        _ => false,
    }
}

/// The custom shape of `family` with `vcpus` and `memory_mib`, if Compute Engine offers it:
/// a valid vCPU count ([`custom_vcpus_valid`]) and memory a multiple of 256 MiB within
/// 0.5–8 GiB per vCPU.
pub(crate) fn custom_of(family: &str, vcpus: u32, memory_mib: u64) -> Option<MachineType> {
    let family: &'static str = match family {
        "e2" => "e2",
        "n2" => "n2",
        "n2d" => "n2d",
        _ => return None,
    };
    let per_cpu_ok = memory_mib >= u64::from(vcpus) * 512 && memory_mib <= u64::from(vcpus) * 8192;
    if !custom_vcpus_valid(family, vcpus) || memory_mib % 256 != 0 || !per_cpu_ok {
        return None;
    }
    // Custom shapes cost about 5% more than predefined ones per resource.
    let mut m = shape(
        family,
        format!("{family}-custom-{vcpus}-{memory_mib}"),
        vcpus,
        memory_mib as f64 / 1024.0,
        None,
        false,
    );
    m.price_hour = round4(m.price_hour * 1.05);
    m.spot_price_hour = round4(m.spot_price_hour * 1.05);
    Some(m)
}

/// The zones k8sless knows per region (Compute Engine's real zone letters).
pub(crate) fn zones_of(region: &str) -> Vec<String> {
    let letters: &[&str] = match region {
        "us-central1" => &["a", "b", "c", "f"],
        "us-east1" => &["b", "c", "d"],
        "us-east4" | "us-west1" | "europe-west4" | "asia-southeast1" | "asia-northeast1" => {
            &["a", "b", "c"]
        }
        "europe-west1" => &["b", "c", "d"],
        _ => &["a", "b", "c"],
    };
    letters.iter().map(|l| format!("{region}-{l}")).collect()
}

/// The region of a zone name (`us-central1-a` → `us-central1`).
pub(crate) fn region_of(zone: &str) -> &str {
    zone.rsplit_once('-')
        .map(|(region, _)| region)
        .unwrap_or(zone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_real() {
        let m = lookup("e2-standard-2").expect("e2-standard-2");
        assert_eq!((m.vcpus, m.memory_mib), (2, 8192));
        let g = lookup("g2-standard-4").expect("g2");
        assert_eq!(g.accelerator, Some(("nvidia-l4", 1)));
        assert!(lookup("a3-highgpu-8g").is_some());
        assert!(lookup("c4-standard-4").is_some());
        assert!(lookup("e2-standard-3").is_none());
    }

    #[test]
    fn custom_types() {
        let c = lookup("e2-custom-2-4096").expect("custom");
        assert_eq!((c.vcpus, c.memory_mib), (2, 4096));
        assert!(lookup("e2-custom-3-4096").is_none(), "odd vCPUs");
        assert!(
            lookup("e2-custom-2-100").is_none(),
            "memory not a multiple of 256"
        );
        assert!(
            lookup("c4-custom-2-4096").is_none(),
            "family without custom types here"
        );
        assert!(lookup("e2-custom-02-4096").is_none(), "not canonical");
        assert!(
            lookup("n2-custom-34-34816").is_none(),
            "n2 above 32: multiples of 4"
        );
        assert!(lookup("n2-custom-36-36864").is_some());
        assert!(
            lookup("n2d-custom-6-6144").is_none(),
            "n2d: 2, 4, 8, 16, 32, 48..."
        );
        assert!(lookup("n2d-custom-48-49152").is_some());
    }

    #[test]
    fn prices_rank_sensibly() {
        let small = lookup("e2-standard-2").map(|m| m.price_hour).unwrap_or(0.0);
        let big = lookup("c4-standard-4").map(|m| m.price_hour).unwrap_or(0.0);
        assert!(small > 0.05 && small < big);
        assert!(all().iter().all(|m| m.spot_price_hour < m.price_hour));
    }

    #[test]
    fn shared_core_prices_follow_the_sustained_fraction() {
        let price = |n: &str| lookup(n).map(|m| m.price_hour).unwrap_or(0.0);
        assert_eq!(price("e2-micro"), 0.0084);
        assert_eq!(price("e2-small"), 0.0168);
        assert_eq!(price("e2-medium"), 0.0335);
        assert_eq!(price("e2-standard-2"), 0.067);
    }

    #[test]
    fn gpu_limits_and_zones() {
        let t4 = accelerator("nvidia-tesla-t4").expect("t4");
        assert_eq!(t4.n1_limits(4), Some((96, 624 * 1024)));
        assert_eq!(t4.n1_limits(8), None);
        assert!(offered_in("nvidia-l4", "us-central1-a"));
        assert!(!offered_in("nvidia-l4", "us-central1-f"));
        assert!(offered_in("nvidia-l4", "europe-west4-a"));
        assert_eq!(boot_disk_type("c4", "pd-balanced").0, "hyperdisk-balanced");
        assert_eq!(boot_disk_type("e2", "hyperdisk-balanced").0, "pd-balanced");
        assert_eq!(
            boot_disk_type("c3", "pd-ssd"),
            ("pd-ssd".to_string(), false)
        );
    }

    #[test]
    fn regions() {
        assert_eq!(region_of("us-central1-a"), "us-central1");
        assert!(zones_of("us-central1").contains(&"us-central1-f".to_string()));
    }
}
