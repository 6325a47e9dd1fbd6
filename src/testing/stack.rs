//! The in-process stack: [`StackBuilder`] starts the API and the simulator on one listener,
//! with the production Compute client, a record store, and optionally simulated guests and a
//! periodic collector; [`Stack`] is the running whole.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::Request;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::served::Served;
use crate::api;
use crate::gce;
use crate::sim::guest::{self, ReportSink, SimLogs};
use crate::sim::kubelet::SimKubelet;
use crate::sim::{Sim, SimConfig, SimMode, SimTimings};

use super::{AppState, MemoryStore, Pods, RecordStore, ServiceArgs};

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
    /// Verify tokens on /pubsub/push, /gc and /events/* (then `args` needs
    /// `push_service_account`, and usually `jwks_url` pointing at a test key).
    pub verify_tokens: bool,
    /// Run collection every this often (dev mode); `None`: only `POST /gc`.
    pub collect_interval: Option<Duration>,
    /// Use these log sources instead of the simulated guests' lines and the archive.
    pub logs: Option<crate::pods::logs::LogSources>,
    /// Serve HTTPS with this certificate (the embedded simulator then also listens on a
    /// loopback plain-HTTP port for the service's own Compute Engine client).
    pub tls: Option<crate::tls::SelfSigned>,
    /// Play every simulated VM's kubelet with the stand-in ([`crate::sim::kubelet`]): pods
    /// get their PKI and the service reaches kubelets (`--kubelet-access vpc`, dialing the
    /// stand-in's loopback port).
    pub kubelet: bool,
}

impl StackBuilder {
    /// Defaults for tests: random port, explicit clock, zero timings, no guests.
    pub fn new(args: ServiceArgs) -> Self {
        let verify_tokens = args.verify_tokens.unwrap_or(false);
        StackBuilder {
            listen: "127.0.0.1:0".into(),
            mode: SimMode::Explicit,
            timings: SimTimings::ZERO,
            guests: false,
            args,
            verify_tokens,
            store: None,
            retry_deadline: Duration::from_secs(30),
            compute_endpoint: None,
            collect_interval: None,
            logs: None,
            tls: None,
            kubelet: false,
        }
    }

    /// Pods that run: the simulator moves each VM on by itself ([`SimMode::Auto`]) and a
    /// simulated guest on it reports its pod, as under `k8sless dev` (timings stay as set).
    pub fn running_pods(mut self) -> Self {
        self.mode = SimMode::Auto;
        self.guests = true;
        self
    }

    /// Starts serving.
    pub async fn start(self) -> Result<Stack, String> {
        let listener = TcpListener::bind(&self.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", self.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let base = format!("{scheme}://{addr}");
        let (internal, sim_base) = self.internal_listener(&base).await?;
        let sim = Sim::new(SimConfig {
            mode: self.mode,
            timings: self.timings,
            faults: Vec::new(),
            base_url: format!("{sim_base}/compute/v1"),
            schema: None,
        });
        let memory = Arc::new(MemoryStore::new());
        let kubelet = self.start_kubelet(&sim).await?;
        let mut pods = self.pods(&sim_base, &memory)?;
        if let Some(k) = &kubelet {
            pods = pods.with_kubelet_access(crate::kubelet::KubeletAccess::Vpc {
                source_ranges: vec!["127.0.0.0/8".into()],
                dial: Some(k.addr()),
            });
        }
        let logs = SimLogs::default();
        let app_cell: Arc<OnceLock<api::Front>> = Arc::new(OnceLock::new());
        if self.guests {
            guest::install(
                &sim,
                push_sink(app_cell.clone()),
                logs.clone(),
                kubelet.clone(),
            );
        }
        if let Some(k) = &kubelet {
            k.mirror(&logs);
        }
        if self.mode == SimMode::Auto {
            sim.spawn_driver();
        }
        let exec = crate::pods::exec::Exec::default();
        let state = self.app_state(&pods, &logs, exec)?;
        let front = api::service(state.clone());
        let app = Served {
            api: front.clone(),
            // With a separate simulator (`compute_endpoint`) the in-process one serves nothing.
            // A path under its prefixes that it does not serve is the API's 404, as before.
            sim: self
                .compute_endpoint
                .is_none()
                .then(|| sim.router().fallback_service(front)),
        };
        let _ = app_cell.set(app.api.clone());
        let collector = self
            .collect_interval
            .map(|every| tokio::spawn(collect_every(state.clone(), every)));
        if let Some(internal) = internal {
            let sim_app = sim.router();
            tokio::spawn(async move {
                let _ = axum::serve(internal, sim_app).await;
            });
        }
        let (tx, rx) = oneshot::channel::<()>();
        let server = serve(listener, app, self.tls.as_ref(), rx).await?;
        Ok(Stack {
            addr,
            base,
            sim,
            pods,
            memory,
            logs,
            state,
            kubelet,
            shutdown: Some(tx),
            server: Some(server),
            collector,
        })
    }

    /// Where the service's Compute client reaches the embedded simulator, over plain HTTP on
    /// loopback: the stack's own listener without TLS (`base`), or a second one with it.
    async fn internal_listener(&self, base: &str) -> Result<(Option<TcpListener>, String), String> {
        if self.tls.is_none() {
            return Ok((None, base.to_string()));
        }
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("internal listener: {e}"))?;
        let sim_base = format!("http://{}", l.local_addr().map_err(|e| e.to_string())?);
        Ok((Some(l), sim_base))
    }

    /// The kubelet stand-in, playing `sim`'s VMs, when asked for; its scratch directory is
    /// under the system's temporary directory.
    async fn start_kubelet(&self, sim: &Sim) -> Result<Option<SimKubelet>, String> {
        if !self.kubelet {
            return Ok(None);
        }
        let kubelet = SimKubelet::start(crate::sim::kubelet::scratch_dir())
            .await
            .map_err(|e| format!("kubelet stand-in: {e}"))?;
        kubelet.install(sim);
        Ok(Some(kubelet))
    }

    /// The pod service, with the production Compute client on the simulator (or on
    /// `compute_endpoint`) and the given store or `memory`.
    fn pods(&self, sim_base: &str, memory: &Arc<MemoryStore>) -> Result<Pods, String> {
        let vm = self.args.vm_settings();
        let compute = gce::Client::new(
            gce::ClientConfig {
                endpoint: self
                    .compute_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("{sim_base}/compute/v1")),
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
        let store: Arc<dyn RecordStore> = self.store.clone().unwrap_or_else(|| memory.clone());
        // Dev's default: a namespace is created on its first pod.
        let create_namespaces = self.args.create_namespaces.unwrap_or(true);
        Ok(Pods::new(store, Arc::new(compute), Arc::new(vm))
            .with_create_namespaces(create_namespaces))
    }

    /// The API state: log sources (the simulated guests' lines, then the archive, unless
    /// given), token verification, lifecycle settings.
    fn app_state(
        &self,
        pods: &Pods,
        logs: &SimLogs,
        exec: crate::pods::exec::Exec,
    ) -> Result<AppState, String> {
        let verifier = self.args.verifier(self.verify_tokens)?;
        Ok(AppState::from(crate::api::AppParts {
            pods: pods.clone(),
            body_limit: self.args.body_limit,
            logs: self.logs.clone().unwrap_or_else(|| {
                crate::pods::logs::LogSources(vec![
                    Arc::new(logs.clone()),
                    Arc::new(crate::pods::logs::ArchivedLogs {
                        store: pods.store().clone(),
                    }),
                ])
            }),
            log_follow_interval: self.args.log_follow_interval,
            shutting_down: Arc::new(AtomicBool::new(false)),
            verifier: Arc::new(verifier),
            lifecycle: self.args.lifecycle(),
            exec,
            authn: Arc::new(
                self.args
                    .authenticator(crate::auth::identity::IdentityMode::Dev)?,
            ),
            authz: Arc::new(crate::rbac::Authorizer::new(
                self.args.admins(),
                Some(crate::rbac::objects::RbacStore::new(pods.store().clone())),
            )),
        }))
    }
}

/// Serves `app` on `listener` (HTTPS with `tls`) until `stop` fires.
async fn serve(
    listener: TcpListener,
    app: Served,
    tls: Option<&crate::tls::SelfSigned>,
    stop: oneshot::Receiver<()>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let Some(cert) = tls else {
        return Ok(tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                axum::ServiceExt::<Request>::into_make_service(app),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.await;
            })
            .await;
        }));
    };
    let config = crate::tls::server_config(cert).await?;
    let std_listener = listener.into_std().map_err(|e| e.to_string())?;
    let server = axum_server::from_tcp_rustls(std_listener, config)
        .map_err(|e| format!("TLS listener: {e}"))?;
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        let _ = stop.await;
        h.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    Ok(tokio::spawn(async move {
        let _ = server
            .handle(handle)
            .serve(axum::ServiceExt::<Request>::into_make_service(app))
            .await;
    }))
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
    /// The kubelet stand-in, when the builder asked for it.
    pub kubelet: Option<SimKubelet>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    collector: Option<tokio::task::JoinHandle<()>>,
}

impl Stack {
    /// Lets `by` pass for the simulator and for the service's lifecycle clock together.
    pub fn advance(&self, by: Duration) {
        self.state.lifecycle.clock.advance(by);
        self.sim.advance(by);
    }

    /// Stops accepting, lets in-flight requests finish.
    pub async fn stop(mut self) {
        if let Some(c) = self.collector.take() {
            c.abort();
        }
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
        if let Some(c) = self.collector.take() {
            c.abort();
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

/// Simulated guests' reports, delivered as Pub/Sub would: push JSON to `POST /pubsub/push`
/// of the stack's own router, in process; retried a few times on a non-2xx answer.
fn push_sink(app: Arc<OnceLock<api::Front>>) -> ReportSink {
    let ids = Arc::new(AtomicU64::new(0));
    Arc::new(move |report| {
        let (app, ids) = (app.clone(), ids.clone());
        Box::pin(async move {
            use tower::ServiceExt;
            let data = serde_json::to_vec(&report).map_err(|e| e.to_string())?;
            let mut attributes = std::collections::BTreeMap::new();
            attributes.insert("k8sless-uid".to_string(), report.uid.clone());
            attributes.insert("k8sless-sequence".to_string(), report.sequence.to_string());
            let id = ids.fetch_add(1, Ordering::SeqCst).to_string();
            let body =
                crate::push::pubsub::encode_push(&data, &attributes, &id, crate::pods::now())
                    .to_string();
            let mut last = String::new();
            for attempt in 0..5u32 {
                let router = app.get().cloned().ok_or("the service is not up yet")?;
                let request = axum::http::Request::post("/pubsub/push")
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(body.clone()))
                    .map_err(|e| e.to_string())?;
                match router.oneshot(request).await {
                    Ok(r) if r.status().is_success() => return Ok(()),
                    Ok(r) => last = format!("push answered {}", r.status()),
                    Err(e) => last = e.to_string(),
                }
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            Err(last)
        })
    })
}

/// Dev mode's collector: what Cloud Scheduler's `POST /gc` does, every `every`.
async fn collect_every(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = state.lifecycle.clock.now();
        match state.pods.collect(&state.lifecycle.collect, now).await {
            Ok(s) => {
                let acted = s.finished_vms_deleted.count
                    + s.boot_timeouts.count
                    + s.deadlines_exceeded.count
                    + s.nodes_lost.count
                    + s.inserted.count
                    + s.adopted.count
                    + s.orphans_deleted.count;
                if acted > 0 || s.errors.count > 0 {
                    tracing::info!(summary = %serde_json::to_string(&s).unwrap_or_default(), "collection");
                }
            }
            Err(e) => tracing::warn!(error = %e, "collection failed; retrying next tick"),
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
