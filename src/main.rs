//! `k8sless`: the command line lives in the library ([`k8sless::cli`]), so every module but
//! `cli`, `sim` and `testing` can stay private to the crate.

/// mimalloc instead of glibc's malloc: a create allocates and frees hundreds of short-lived
/// buffers (the pod, its ~50 KB of metadata, the JSON of the insert and of the record), and
/// glibc's `_int_malloc`, `malloc_consolidate` and `realloc` were ~20% of the service's CPU
/// under `POST /pods` (docs/benchmarks.md, "A create's CPU, allocator and collector").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    k8sless::cli::main()
}
