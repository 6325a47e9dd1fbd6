//! The simulator's HTTP face: Compute Engine's paths and JSON under `/compute/v1`, Google's
//! error envelope, and an admin API under `/sim` (faults, clock, stats, instances).

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on, post};
use serde_json::json;

use super::faults::FaultRule;
use super::filter::Filter;
use super::{Sim, SimError};
use crate::gce::types::{Instance, InstancesSetLabelsRequest, Metadata};

/// Routes: `/compute/v1/projects/{p}/zones/{z}/...` and `/sim/...`.
pub fn router(sim: Sim) -> Router {
    let zone = "/compute/v1/projects/{project}/zones/{zone}";
    Router::new()
        .route(&format!("{zone}/instances"), post(insert).get(list))
        .route(
            &format!("{zone}/instances/{{name}}"),
            by_name(MethodFilter::GET, "get", |sim, _, zone, name| {
                ok(sim.get_instance(zone, name)?)
            })
            .merge(by_name(
                MethodFilter::DELETE,
                "delete",
                |sim, project, zone, name| ok(sim.delete_instance(project, zone, name)?),
            )),
        )
        .route(&format!("{zone}/instances/{{name}}/{{verb}}"), post(action))
        .route(
            &format!("{zone}/operations/{{op}}"),
            by_name(MethodFilter::GET, "operations", |sim, _, zone, op| {
                ok(sim.get_operation(zone, op)?)
            }),
        )
        .route(
            &format!("{zone}/operations/{{op}}/wait"),
            post(wait_operation),
        )
        .route(
            "/sim/faults",
            get(faults_get).post(faults_set).delete(faults_clear),
        )
        .route("/sim/advance", post(advance))
        .route("/sim/stats", get(stats))
        .route("/sim/instances", get(all_instances))
        .route("/sim/instances/{zone}/{name}/poweroff", post(poweroff))
        .route("/sim/instances/{zone}/{name}/preempt", post(preempt))
        .route("/compute/v1/{*rest}", axum::routing::any(unimplemented))
        .with_state(sim)
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{ "message": self.message, "domain": if self.reason == "rateLimitExceeded" { "usageLimits" } else { "global" }, "reason": self.reason }],
            }
        });
        (status, Json(body)).into_response()
    }
}

type Answer = Result<Response, SimError>;

fn ok<T: serde::Serialize>(value: T) -> Answer {
    Ok(Json(value).into_response())
}

/// Applies the faults for one call: delay, then maybe an error before (or after) the work.
/// `work` gets the simulator, the zone and whether the fault asks for a stockout.
async fn faulted<F>(sim: Sim, method: &str, zone: String, work: F) -> Answer
where
    F: FnOnce(&Sim, &str, bool) -> Answer,
{
    let injected = sim.inject(method, &zone);
    if injected.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(injected.delay_ms)).await;
    }
    match injected.error {
        Some(code) if injected.after_effect => {
            let _ = work(&sim, &zone, injected.stockout);
            Err(SimError::injected(code))
        }
        Some(code) => Err(SimError::injected(code)),
        None => work(&sim, &zone, injected.stockout),
    }
}

/// A call on one named resource of a zone: the simulator, the project, the zone, the name.
type ByName = fn(&Sim, &str, &str, &str) -> Answer;

/// `filter`'s handler of `.../zones/{zone}/{collection}/{name}` (an instance, an operation):
/// one fault-injected `call`.
fn by_name(filter: MethodFilter, method: &'static str, call: ByName) -> MethodRouter<Sim> {
    on(
        filter,
        move |State(sim): State<Sim>,
              Path((project, zone, name)): Path<(String, String, String)>| {
            faulted(sim, method, zone, move |sim, zone, _| {
                call(sim, &project, zone, &name)
            })
        },
    )
}

fn parse_body<T: serde::de::DeserializeOwned>(
    sim: &Sim,
    schema: &str,
    method: &str,
    body: &Bytes,
) -> Result<T, SimError> {
    // Without a discovery document to check against, the body is decoded straight into its
    // type (no `Value` tree of a ~30 KB insert body first); any error takes the path below, so
    // a rejection is worded exactly as before (a syntax error as `parseError`, a wrong type as
    // `invalid`, in `Value`'s terms: `from_slice` would add positions and refuse duplicates).
    if sim.schema().is_none()
        && let Ok(typed) = serde_json::from_slice(body)
    {
        return Ok(typed);
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        SimError::new(
            400,
            "parseError",
            format!("Invalid JSON payload received. {e}"),
        )
    })?;
    if let Some(discovery) = sim.schema() {
        let problems = discovery.validate(schema, &value, Some(method));
        if let Some(first) = problems.first() {
            return Err(SimError::invalid(format!(
                "Invalid JSON payload received. {first}"
            )));
        }
    }
    serde_json::from_value(value)
        .map_err(|e| SimError::invalid(format!("Invalid value in request body: {e}")))
}

async fn insert(
    State(sim): State<Sim>,
    Path((project, zone)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Answer {
    let instance: Instance = parse_body(&sim, "Instance", "compute.instances.insert", &body)?;
    let rid = q.get("requestId").cloned();
    faulted(sim, "insert", zone, move |sim, zone, stockout| {
        ok(sim.insert_instance(&project, zone, instance, rid.as_deref(), stockout)?)
    })
    .await
}

async fn list(
    State(sim): State<Sim>,
    Path((_project, zone)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Answer {
    let filter = Filter::parse(q.get("filter").map(String::as_str).unwrap_or(""))
        .map_err(SimError::invalid)?;
    let max = match q.get("maxResults") {
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                SimError::invalid(format!(
                    "Invalid value for field 'maxResults': '{m}'. Must be in the range [0, 500]."
                ))
            })?,
        None => 500,
    };
    let token = q.get("pageToken").cloned();
    let fields = match q.get("fields") {
        Some(f) => Some(super::fields::Fields::parse(f).map_err(SimError::invalid)?),
        None => None,
    };
    // Metadata is most of an instance's size: not copied when not asked for.
    let with_metadata = fields
        .as_ref()
        .is_none_or(|f| f.sub("items").is_none_or(|i| i.selects("metadata")));
    faulted(sim, "list", zone, move |sim, zone, _| {
        let list = sim.list_instances(zone, &filter, max, token.as_deref(), with_metadata)?;
        let Some(fields) = fields else {
            return ok(list);
        };
        let mut value = serde_json::to_value(&list).unwrap_or_default();
        fields.prune(&mut value);
        ok(value)
    })
    .await
}

async fn action(
    State(sim): State<Sim>,
    Path((project, zone, name, verb)): Path<(String, String, String, String)>,
    body: Bytes,
) -> Answer {
    match verb.as_str() {
        "stop" => {
            faulted(sim, "stop", zone, move |sim, zone, _| {
                ok(sim.stop(&project, zone, &name)?)
            })
            .await
        }
        "setLabels" => {
            let req: InstancesSetLabelsRequest = parse_body(
                &sim,
                "InstancesSetLabelsRequest",
                "compute.instances.setLabels",
                &body,
            )?;
            faulted(sim, "setLabels", zone, move |sim, zone, _| {
                ok(sim.set_labels(
                    &project,
                    zone,
                    &name,
                    req.labels,
                    req.label_fingerprint.as_deref(),
                )?)
            })
            .await
        }
        "setMetadata" => {
            let md: Metadata =
                parse_body(&sim, "Metadata", "compute.instances.setMetadata", &body)?;
            faulted(sim, "setMetadata", zone, move |sim, zone, _| {
                ok(sim.set_metadata(&project, zone, &name, md)?)
            })
            .await
        }
        other => Err(method_unimplemented(&format!("instances.{other}"))),
    }
}

async fn wait_operation(
    State(sim): State<Sim>,
    Path((_p, zone, op)): Path<(String, String, String)>,
) -> Answer {
    let injected = sim.inject("operations", &zone);
    if let Some(code) = injected.error {
        return Err(SimError::injected(code));
    }
    Ok(Json(
        sim.wait_operation(&zone, &op, Duration::from_secs(30))
            .await?,
    )
    .into_response())
}

fn method_unimplemented(what: &str) -> SimError {
    SimError::new(
        405,
        "notImplemented",
        format!("{what} is not implemented by the k8sless Compute Engine simulator"),
    )
}

async fn unimplemented(Path(rest): Path<String>) -> SimError {
    method_unimplemented(&rest)
}

async fn faults_get(State(sim): State<Sim>) -> Json<Vec<FaultRule>> {
    Json(sim.faults())
}

async fn faults_set(State(sim): State<Sim>, body: Bytes) -> Answer {
    let rules: Vec<FaultRule> = serde_json::from_slice(&body)
        .map_err(|e| SimError::invalid(format!("fault rules: {e}")))?;
    sim.set_faults(rules);
    ok(sim.faults())
}

async fn faults_clear(State(sim): State<Sim>) -> StatusCode {
    sim.set_faults(Vec::new());
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct AdvanceBody {
    seconds: f64,
}

async fn advance(State(sim): State<Sim>, Json(body): Json<AdvanceBody>) -> StatusCode {
    sim.advance(Duration::from_secs_f64(body.seconds.max(0.0)));
    StatusCode::NO_CONTENT
}

async fn stats(State(sim): State<Sim>) -> Answer {
    ok(sim.stats())
}

async fn all_instances(State(sim): State<Sim>) -> Answer {
    ok(json!({ "items": sim.instances() }))
}

async fn poweroff(State(sim): State<Sim>, Path((zone, name)): Path<(String, String)>) -> Answer {
    sim.guest_poweroff(&zone, &name)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn preempt(State(sim): State<Sim>, Path((zone, name)): Path<(String, String)>) -> Answer {
    sim.preempt(&zone, &name)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
