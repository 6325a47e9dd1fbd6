//! A whole k8sless in one process: the API, the Compute Engine simulator on the same listener
//! (under `/compute/v1`), the production Compute client pointed at it, a record store, and
//! optionally simulated guests. Tests, benchmarks and `k8sless dev` all start it here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::api::{self, AppState};
use crate::config::ServiceArgs;
use crate::gce;
use crate::pods::Pods;
use crate::sim::guest::{self, ReportSink, SimLogs};
use crate::sim::{Sim, SimConfig, SimMode, SimTimings};
use crate::store::RecordStore;
use crate::store::memory::MemoryStore;

/// How to build a [`Stack`].
#[derive(Debug, Clone)]
pub struct StackBuilder {
    /// Listen address (`127.0.0.1:0` picks a port).
    pub listen: String,
    /// Simulator mode.
    pub mode: SimMode,
    /// Simulator timings.
    pub timings: SimTimings,
    /// Run simulated guests.
    pub guests: bool,
    /// Service settings.
    pub args: ServiceArgs,
    /// Use this store instead of a fresh memory store.
    pub store: Option<Arc<dyn RecordStore>>,
    /// Compute Engine calls' retry deadline.
    pub retry_deadline: Duration,
    /// Use this Compute Engine endpoint (e.g. a separate `gce-sim`) instead of the embedded
    /// simulator.
    pub compute_endpoint: Option<String>,
}

impl StackBuilder {
    /// Defaults for tests: random port, explicit clock, zero timings, no guests.
    pub fn new(args: ServiceArgs) -> Self {
        StackBuilder {
            listen: "127.0.0.1:0".into(),
            mode: SimMode::Explicit,
            timings: SimTimings::ZERO,
            guests: false,
            args,
            store: None,
            retry_deadline: Duration::from_secs(30),
            compute_endpoint: None,
        }
    }

    /// Starts serving.
    pub async fn start(self) -> Result<Stack, String> {
        let listener = TcpListener::bind(&self.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", self.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let base = format!("http://{addr}");
        let sim = Sim::new(SimConfig {
            mode: self.mode,
            timings: self.timings,
            faults: Vec::new(),
            base_url: format!("{base}/compute/v1"),
            schema: None,
        });
        let vm = self.args.vm_settings();
        let compute = gce::Client::new(
            gce::ClientConfig {
                endpoint: self
                    .compute_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("{base}/compute/v1")),
                project: vm.project.clone(),
                zones: vm.zones.clone(),
                mutations_per_second: self.args.compute_qps,
                timeout: Duration::from_secs(10),
                retry: crate::retry::RetryPolicy {
                    deadline: self.retry_deadline,
                    ..Default::default()
                },
            },
            crate::auth::TokenSource::Anonymous,
        )?;
        let memory = Arc::new(MemoryStore::new());
        let store: Arc<dyn RecordStore> = self.store.clone().unwrap_or_else(|| memory.clone());
        let pods = Pods {
            store,
            compute: Arc::new(compute),
            vm: Arc::new(vm),
        };
        let logs = SimLogs::default();
        if self.guests {
            let p = pods.clone();
            let sink: ReportSink = Arc::new(move |report| {
                let p = p.clone();
                Box::pin(async move {
                    p.apply_report(&report)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            });
            guest::install(&sim, sink, logs.clone());
        }
        if self.mode == SimMode::Auto {
            sim.spawn_driver();
        }
        let state = AppState {
            pods: pods.clone(),
            body_limit: self.args.body_limit,
            logs: crate::pods::logs::LogSources(vec![
                Arc::new(logs.clone()),
                Arc::new(crate::pods::logs::ArchivedLogs {
                    store: pods.store.clone(),
                }),
            ]),
            shutting_down: Arc::new(AtomicBool::new(false)),
        };
        let app = api::router(state.clone()).merge(sim.router());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(Stack {
            addr,
            base,
            sim,
            pods,
            memory,
            logs,
            state,
            shutdown: Some(tx),
            server: Some(server),
        })
    }
}

/// A running k8sless.
#[derive(Debug)]
pub struct Stack {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://addr`.
    pub base: String,
    /// The simulator.
    pub sim: Sim,
    /// The pod service.
    pub pods: Pods,
    /// The memory store (unused when another store was given).
    pub memory: Arc<MemoryStore>,
    /// Simulated guests' logs.
    pub logs: SimLogs,
    /// The API state.
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Stack {
    /// Stops accepting, lets in-flight requests finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Waits for the server task (dev mode: until shutdown).
    pub async fn wait(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Sends the shutdown signal without waiting.
    pub fn begin_shutdown(&mut self) {
        self.state
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Service settings with built-in defaults (no flags; environment variables still apply).
pub fn default_args() -> ServiceArgs {
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        args: ServiceArgs,
    }
    use clap::Parser;
    match Wrap::try_parse_from(["k8sless"]) {
        Ok(w) => w.args,
        Err(e) => panic!("built-in defaults must parse: {e}"),
    }
}
