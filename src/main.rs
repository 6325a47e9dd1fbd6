//! `k8sless`: the command line lives in the library ([`k8sless::cli`]), so every module but
//! `cli`, `sim` and `testing` can stay private to the crate.

fn main() -> std::process::ExitCode {
    k8sless::cli::main()
}
