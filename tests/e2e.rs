//! End-to-end tests: the whole k8sless in one process (API, simulator, simulated guests),
//! driven through its HTTP API.

mod e2e_translate;
