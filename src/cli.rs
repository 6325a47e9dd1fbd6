//! The `k8sless` command line: `serve` (production), `dev` (everything local), `gce-sim` (the
//! Compute Engine simulator alone) and `render` (what VM a pod becomes). `src/main.rs` only
//! calls [`main`]; the subcommands wire the layers together here, where the crate's modules
//! are visible (they are `pub(crate)`), and `dev` and `gce-sim` are the only production paths
//! that start the simulator (docs/architecture.md).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::api::{self, AppState};
use crate::auth::identity::IdentityMode;
use crate::config::ServiceArgs;
use crate::pods::Pods;
use crate::sim::faults::FaultRule;
use crate::sim::{Sim, SimConfig, SimMode, SimTimings};
use crate::store::RecordStore;
use crate::telemetry::{self, LogFormat};
use crate::{auth, gce, retry, store, testing};

mod render;
use render::{RenderArgs, render};

#[derive(Parser)]
#[command(
    name = "k8sless",
    version,
    about = "The Kubernetes Pod API without a cluster: each pod on its own one-time Compute Engine VM"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API against Google Cloud (Cloud Run).
    Serve(ServiceArgs),
    /// Run everything locally: embedded store, Compute Engine simulator, simulated guests.
    Dev(DevArgs),
    /// Run the Compute Engine simulator alone.
    GceSim(SimArgs),
    /// Print the Compute Engine instance a pod becomes, with no cloud call.
    Render(RenderArgs),
    /// A minimal axum JSON echo server, the benchmarks' baseline (same binary, same profile).
    #[command(hide = true)]
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: String,
    },
    /// A reverse proxy adding a fixed delay to every request (benchmarks: store latency).
    #[command(hide = true)]
    LatencyProxy {
        /// Address to listen on.
        #[arg(long)]
        listen: String,
        /// Where requests go (`http://127.0.0.1:4443`).
        #[arg(long)]
        upstream: String,
        /// Milliseconds added to each request.
        #[arg(long, default_value_t = 20)]
        delay_ms: u64,
    },
}

#[derive(clap::Args)]
struct DevArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Simulated VM transition times: `realistic` (seconds) or `zero` (benchmarks).
    #[arg(long, default_value = "realistic")]
    sim_timings: String,
    /// Run simulated guests that play each pod (off for benchmarks of the API alone).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    guests: bool,
    /// Serve HTTPS with a generated self-signed certificate (kubectl sends bearer tokens only
    /// over https); the certificate is written to --tls-ca-file for kubectl.
    #[arg(long)]
    tls: bool,
    /// Where `--tls` writes the certificate kubectl should trust.
    #[arg(long, default_value = "k8sless-dev-ca.crt")]
    tls_ca_file: std::path::PathBuf,
}

#[derive(clap::Args)]
struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// `auto` (real clock) or `explicit` (POST /sim/advance moves time).
    #[arg(long, default_value = "auto")]
    mode: String,
    /// `zero` (instant transitions) or `realistic` (seconds).
    #[arg(long, default_value = "realistic")]
    timings: String,
    /// Fault rule, e.g. `method=insert,rate=0.3,codes=429;503` (repeatable).
    #[arg(long)]
    fault: Vec<String>,
    /// Compute discovery document to check request bodies against.
    #[arg(long)]
    discovery: Option<std::path::PathBuf>,
}

/// Parses the command line and runs the subcommand on a multi-threaded runtime.
pub fn main() -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("k8sless: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Dev(args) => dev(args).await,
            Command::GceSim(args) => gce_sim(args).await,
            Command::Render(args) => render(args),
            Command::Echo { listen } => echo(listen).await,
            Command::LatencyProxy {
                listen,
                upstream,
                delay_ms,
            } => crate::testing::latency_proxy::run(
                &listen,
                &upstream,
                std::time::Duration::from_millis(delay_ms),
                shutdown_signal(),
            )
            .await
            .map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("k8sless: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

async fn serve(args: ServiceArgs) -> Result<ExitCode, String> {
    args.require_for_serve()?;
    args.check()?;
    let vm = args.vm_settings();
    telemetry::init(args.log_format.unwrap_or(LogFormat::Json), &vm.project);
    let (compute, records, cloud_logging) = cloud_clients(&args, &vm).await?;
    let (verifier, authn) = callers(&args)?;
    let state = AppState::from(crate::api::AppParts {
        pods: Pods::new(records.clone(), Arc::new(compute), Arc::new(vm))
            .with_create_namespaces(args.create_namespaces.unwrap_or(false))
            .with_kubelet_access(args.kubelet_access(None)?),
        body_limit: args.body_limit,
        // The archive once the pod finished, else Cloud Logging while it runs.
        logs: crate::pods::logs::LogSources(vec![
            Arc::new(crate::pods::logs::ArchivedLogs {
                store: records.clone(),
            }),
            Arc::new(cloud_logging),
        ]),
        log_follow_interval: args.log_follow_interval,
        shutting_down: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        verifier: Arc::new(verifier),
        lifecycle: args.lifecycle(),
        // The bound on exec, attach and port-forward sessions; the kubelet path is the pods' (`--kubelet-access`).
        exec: crate::pods::exec::Exec::default(),
        authn: Arc::new(authn),
        authz: Arc::new(crate::rbac::Authorizer::new(
            args.admins(),
            Some(crate::rbac::objects::RbacStore::new(records.clone())),
        )),
    });
    let listen = args.listen_addr(false);
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    tracing::info!(%listen, "k8sless serving");
    let flag = state.shutting_down.clone();
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(api::service(state));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            tracing::info!("shutting down: finishing in-flight requests");
        })
        .await
        .map_err(|e| format!("server: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `serve`'s Google Cloud clients: Compute Engine, the record store on Cloud Storage, and
/// Cloud Logging, each with the credentials its endpoint wants.
async fn cloud_clients(
    args: &ServiceArgs,
    vm: &crate::translate::VmSettings,
) -> Result<
    (
        gce::Client,
        Arc<dyn RecordStore>,
        crate::logging::CloudLogging,
    ),
    String,
> {
    let compute_auth = auth::TokenSource::for_endpoint(&args.compute_endpoint)
        .await
        .map_err(|e| e.detail())?;
    let storage_auth = auth::TokenSource::for_endpoint(&args.storage_endpoint)
        .await
        .map_err(|e| e.detail())?;
    let logging_auth = auth::TokenSource::for_endpoint(&args.logging_endpoint)
        .await
        .map_err(|e| e.detail())?;
    let compute = gce::Client::new(
        gce::ClientConfig {
            endpoint: args.compute_endpoint.clone(),
            project: vm.project.clone(),
            zones: vm.zones.clone(),
            mutations_per_second: args.compute_qps,
            timeout: Duration::from_secs(15),
            retry: retry::RetryPolicy::default(),
        },
        compute_auth,
    )?;
    let bucket = args.bucket.clone().unwrap_or_default();
    let records: Arc<dyn RecordStore> = Arc::new(store::GcsStore::new(
        &args.storage_endpoint,
        &bucket,
        storage_auth,
        Duration::from_secs(10),
    )?);
    let cloud_logging = crate::logging::CloudLogging::new(
        &args.logging_endpoint,
        &vm.project,
        logging_auth,
        records.clone(),
    )?;
    Ok((compute, records, cloud_logging))
}

/// Who may call `serve`: the verifier of Google's pushes (relaxed for tokens Cloud Run
/// already checked) and the authenticator of Kubernetes callers (`--identity`), with a
/// warning for each setting that lets unauthenticated callers in.
fn callers(
    args: &ServiceArgs,
) -> Result<
    (
        crate::auth::oidc::Verifier,
        crate::auth::identity::Authenticator,
    ),
    String,
> {
    let verify = args.verify_tokens.unwrap_or(true);
    let verifier = args.verifier(verify)?;
    if !verify {
        tracing::warn!(
            "token verification is OFF (--verify-tokens=false): anyone who can reach /pubsub/push, /gc and /events/compute can forge pod status"
        );
    }
    let authn = args.authenticator(IdentityMode::CloudRun)?;
    let verifier = if authn.mode() == IdentityMode::CloudRun {
        verifier.behind_cloud_run()
    } else {
        verifier
    };
    if authn.mode() == IdentityMode::Dev {
        tracing::warn!(
            "--identity=dev: callers are not authenticated; a request without a dev:EMAIL token is the dev admin"
        );
    }
    Ok((verifier, authn))
}

async fn dev(dev: DevArgs) -> Result<ExitCode, String> {
    let args = dev.service;
    args.check()?;
    telemetry::init(args.log_format.unwrap_or(LogFormat::Text), "k8sless-dev");
    let listen = args.listen_addr(true);
    let verify = args.verify_tokens.unwrap_or(false);
    let collect_every = args.collect_interval;
    let finished_grace = args.finished_grace;
    let mut builder = testing::StackBuilder::new(args);
    builder.listen = listen;
    builder.mode = SimMode::Auto;
    builder.timings = timings(&dev.sim_timings)?;
    builder.guests = dev.guests;
    // The simulated VMs' kubelets: the stand-in, reached with each pod's own certificates.
    builder.kubelet = dev.guests;
    if !args_compute_is_google(&builder.args.compute_endpoint) {
        builder.compute_endpoint = Some(builder.args.compute_endpoint.clone());
    }
    builder.verify_tokens = verify;
    builder.collect_interval = Some(collect_every);
    let mut ca_note = String::new();
    if dev.tls {
        let cert = crate::tls::self_signed()?;
        std::fs::write(&dev.tls_ca_file, &cert.cert_pem)
            .map_err(|e| format!("{}: {e}", dev.tls_ca_file.display()))?;
        ca_note = format!(" --certificate-authority={}", dev.tls_ca_file.display());
        builder.tls = Some(cert);
    }
    // The simulator's routes are on dev's own port only when it runs in-process.
    let compute = builder.compute_endpoint.clone();
    let mut stack = builder.start().await?;
    let base = stack.base.clone();
    let compute = compute.unwrap_or_else(|| format!("{base}/compute/v1"));
    if !stack.addr.ip().is_loopback() {
        // Anyone who reaches this port is the dev admin and may run commands on this machine
        // (pods with a command, exec): docs/security.md, "k8sless dev runs commands here".
        println!(
            "k8sless dev: WARNING: listening on {} (not loopback): every caller who reaches it is the dev admin and can run commands on this machine through pods and exec",
            stack.addr
        );
    }
    if verify {
        println!("k8sless dev: token verification is on");
    } else {
        println!(
            "k8sless dev: token verification is OFF (dev mode): /pubsub/push, /gc and /events/compute accept unauthenticated calls"
        );
    }
    match stack.state.authn.mode() {
        IdentityMode::Dev => println!(
            "k8sless dev: identity is dev: a request with no token, or any token but dev:EMAIL, is the dev admin (cluster-admin); a bearer token dev:EMAIL acts as EMAIL under RBAC (kubectl sends tokens only over HTTPS: dev --tls, then kubectl --token=dev:alice@example.com){}",
            admins_note(stack.state.authz.admins())
        ),
        other => println!(
            "k8sless dev: identity is {other:?}: callers need a Google ID token{}",
            admins_note(stack.state.authz.admins())
        ),
    }
    println!(
        "k8sless dev: collecting every {}s; a finished pod's VM is deleted {}s after it ends (the pod stays, Succeeded or Failed)",
        collect_every.as_secs_f64(),
        finished_grace.as_secs_f64()
    );
    println!(
        "k8sless dev: serving the Pod API on {base} (embedded store, Compute Engine simulator, simulated guests)\n\
         \n  curl -X POST {base}/pods -H 'Content-Type: application/yaml' --data-binary @examples/hello.yaml\n  \
         curl {base}/api/v1/namespaces/default/pods/hello\n  curl {compute}/projects/k8sless-dev/zones/us-central1-a/instances\n\
         \n  kubectl config set-cluster k8sless-dev --server={base}{ca_note}\n  kubectl config set-context k8sless-dev --cluster=k8sless-dev --user=k8sless-dev\n  \
         kubectl config set-credentials k8sless-dev --token=dev\n  kubectl config use-context k8sless-dev\n  kubectl apply -f examples/hello.yaml && kubectl get pods -w\n"
    );
    shutdown_signal().await;
    stack.begin_shutdown();
    stack.wait().await;
    Ok(ExitCode::SUCCESS)
}

async fn gce_sim(args: SimArgs) -> Result<ExitCode, String> {
    telemetry::init(LogFormat::Text, "k8sless-sim");
    let mode = match args.mode.as_str() {
        "auto" => SimMode::Auto,
        "explicit" => SimMode::Explicit,
        other => return Err(format!("--mode {other:?}: use auto or explicit")),
    };
    let timings = timings(&args.timings)?;
    let faults = args
        .fault
        .iter()
        .map(|f| FaultRule::parse(f))
        .collect::<Result<Vec<_>, _>>()?;
    let schema = match &args.discovery {
        Some(p) => Some(Arc::new(crate::sim::schema::Discovery::load(p)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let sim = Sim::new(SimConfig {
        mode,
        timings,
        faults,
        base_url: format!("http://{addr}/compute/v1"),
        schema,
    });
    if mode == SimMode::Auto {
        sim.spawn_driver();
    }
    println!(
        "k8sless gce-sim: Compute Engine API on http://{addr}/compute/v1 (admin: /sim/faults, /sim/advance, /sim/stats)"
    );
    axum::serve(listener, sim.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn timings(name: &str) -> Result<SimTimings, String> {
    match name {
        "zero" => Ok(SimTimings::ZERO),
        "realistic" => Ok(SimTimings::REALISTIC),
        other => Err(format!("timings {other:?}: use zero or realistic")),
    }
}

async fn echo(listen: String) -> Result<ExitCode, String> {
    async fn echo_json(
        axum::Json(v): axum::Json<serde_json::Value>,
    ) -> axum::Json<serde_json::Value> {
        axum::Json(v)
    }
    async fn small() -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({"kind": "Status", "status": "Success"}))
    }
    let app = axum::Router::new()
        .route("/", axum::routing::post(echo_json).get(small))
        .route("/readyz", axum::routing::get(small));
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

fn admins_note(admins: &[String]) -> String {
    if admins.is_empty() {
        String::new()
    } else {
        format!("; admins (cluster-admin): {}", admins.join(", "))
    }
}

/// Dev mode uses its embedded simulator unless another Compute endpoint is named.
fn args_compute_is_google(endpoint: &str) -> bool {
    endpoint.starts_with("https://compute.googleapis.com")
}
