//! Pod handlers: `pod_create`, `pod_view`, `pod_list`, `pod_delete`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

use super::extract;
use super::table::{self, IncludeObject};
use super::{AppState, respond, watch};
use crate::error::{Error, Result};
use crate::pods::crud::read::ListOptions;
use crate::pods::selector::{FieldSelector, LabelSelector};

/// `POST /api/v1/namespaces/{namespace}/pods`.
pub(crate) async fn pod_create(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(create(state, Some(namespace), q, headers, body).await)
}

/// `POST /pods`: the body's namespace, else `default`.
pub(crate) async fn pod_create_default(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(create(state, None, q, headers, body).await)
}

async fn create(
    state: AppState,
    namespace: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (dry_run, validation) = extract::write_options(q.as_deref())?;
    let value = extract::body_value(&headers, body, state.body_limit).await?;
    let (pod, mut warnings): (Pod, Vec<String>) = extract::decode_object(value, "Pod", validation)?;
    warnings.extend(crate::pods::validate::warnings(&pod));
    let created = state
        .pods
        .create(namespace.as_deref(), pod, dry_run)
        .await?;
    Ok(with_warnings(
        json(StatusCode::CREATED, &created),
        &warnings,
    ))
}

/// `GET /api/v1/namespaces/{namespace}/pods/{name}`.
pub(crate) async fn pod_view(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    accept: extract::Accept,
) -> Response {
    respond(view(state, namespace, name, q, accept).await)
}

async fn view(
    state: AppState,
    namespace: String,
    name: String,
    q: Option<String>,
    accept: extract::Accept,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let Some(table) = table_request(accept.text(), &query)? else {
        let body = state.pods.get_json(&namespace, &name).await?;
        return Ok((
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response());
    };
    let (version, include) = table;
    let pod = state.pods.get(&namespace, &name).await?;
    let meta = ListMeta {
        resource_version: pod.metadata.resource_version.clone(),
        ..Default::default()
    };
    Ok(table_response(
        version,
        table::pod_table(&[pod], include, true, jiff::Timestamp::now(), meta),
    ))
}

/// `Some((apiVersion, includeObject))` when the client asked for a Table.
pub(super) fn table_request(
    accept: &str,
    query: &std::collections::HashMap<String, String>,
) -> Result<Option<(&'static str, IncludeObject)>> {
    let Some(version) = table::table_api_version(accept) else {
        return Ok(None);
    };
    let include = IncludeObject::from_query(query.get("includeObject").map(String::as_str))
        .map_err(|e| Error::bad_request(e.to_string()))?;
    Ok(Some((version, include)))
}

pub(super) fn table_response(version: &str, mut table: Value) -> Response {
    table["apiVersion"] = version.into();
    match serde_json::to_vec(&table) {
        Ok(body) => table_bytes_response(version, body),
        Err(e) => Error::internal_from("encoding a Table", e).into_response(),
    }
}

/// A serialized Table of `version` (`meta.k8s.io/v1`) as the answer.
fn table_bytes_response(version: &str, body: Vec<u8>) -> Response {
    let v = version.rsplit('/').next().unwrap_or("v1");
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            format!("application/json;as=Table;v={v};g=meta.k8s.io"),
        )],
        body,
    )
        .into_response()
}

/// `GET /api/v1/namespaces/{namespace}/pods` (and `?watch=true`).
pub(crate) async fn pod_list(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
    accept: extract::Accept,
) -> Response {
    respond(list(state, Some(namespace), q, accept).await)
}

/// `GET /api/v1/pods` (and `?watch=true`).
pub(crate) async fn pod_list_all(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    accept: extract::Accept,
) -> Response {
    respond(list(state, None, q, accept).await)
}

/// `GET /pods`: the default namespace.
pub(crate) async fn pod_list_default(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    accept: extract::Accept,
) -> Response {
    respond(list(state, Some("default".into()), q, accept).await)
}

async fn list(
    state: AppState,
    namespace: Option<String>,
    q: Option<String>,
    accept: extract::Accept,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let opts = list_options(&query)?;
    let table = table_request(accept.text(), &query)?;
    if extract::flag(&query, "watch") {
        let resource_version = match query.get("resourceVersion").filter(|v| !v.is_empty()) {
            Some(v) => Some(
                v.parse::<i64>()
                    .map_err(|_| Error::bad_request(format!("invalid resourceVersion {v:?}")))?,
            ),
            None => None,
        };
        let timeout = extract::timeout_seconds(&query, Duration::from_secs(30 * 60))?;
        let bookmarks = extract::flag(&query, "allowWatchBookmarks");
        let req = watch::WatchRequest {
            namespace,
            opts,
            resource_version,
            timeout,
            bookmarks,
            table: table.map(|t| t.1),
        };
        return watch::start(state, req);
    }
    let mut opts = opts;
    opts.index_only = table.is_some_and(|(_, include)| include != IncludeObject::Object);
    let page = state.pods.list_shared(namespace.as_deref(), &opts).await?;
    match table {
        Some((version, include)) => {
            let meta = ListMeta {
                resource_version: Some(page.resource_version.to_string()),
                continue_: page.continue_token.clone(),
                ..Default::default()
            };
            let pods: Vec<&Pod> = page.items.iter().map(|r| &r.pod).collect();
            let now = jiff::Timestamp::now();
            let body = table::pod_table_json(&pods, include, true, now, meta, version)
                .map_err(|e| Error::internal_from("encoding a Table", e))?;
            Ok(table_bytes_response(version, body))
        }
        None => Ok(json(StatusCode::OK, &page.to_list())),
    }
}

/// List options from a query map.
pub(crate) fn list_options(
    query: &std::collections::HashMap<String, String>,
) -> Result<ListOptions> {
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| Error::bad_request(format!("invalid limit {l:?}")))?
            .max(0) as usize,
    };
    Ok(ListOptions {
        labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields: FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
        limit,
        continue_token: query.get("continue").filter(|c| !c.is_empty()).cloned(),
        index_only: false,
    })
}

/// `DELETE /api/v1/namespaces/{namespace}/pods/{name}`.
pub(crate) async fn pod_delete(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(delete(state, namespace, name, q, headers, body).await)
}

async fn delete(
    state: AppState,
    namespace: String,
    name: String,
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let mut dry_run = extract::dry_run(&query)?;
    let mut grace = match query.get("gracePeriodSeconds") {
        Some(g) => Some(
            g.parse::<i64>()
                .map_err(|_| Error::bad_request(format!("invalid gracePeriodSeconds {g:?}")))?,
        ),
        None => None,
    };
    // kubectl sends DeleteOptions in the body.
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        let options: Value = extract::parse_value(&headers, &bytes)?;
        if let Some(g) = options.get("gracePeriodSeconds").and_then(Value::as_i64) {
            grace = Some(g);
        }
        if options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"))
        {
            dry_run = crate::pods::DryRun::All;
        }
    }
    let pod = state.pods.delete(&namespace, &name, grace, dry_run).await?;
    Ok(json(StatusCode::OK, &pod))
}

/// A JSON response.
pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => Error::internal_from("encoding a response", e).into_response(),
    }
}

/// Adds `Warning: 299 - "..."` headers as the API server's warning recorder does
/// (k8s.io/apiserver/pkg/endpoints/filters/warning.go): empty and repeated texts dropped; if
/// all of them fit in [`WARNING_TOTAL_CHARS`] they go as they are, otherwise each is cut to
/// [`WARNING_ITEM_CHARS`] and those past the total are dropped (the API server still writes
/// the one that crosses it; here the total is never exceeded). One header per warning, as the
/// API server sends them, up to [`WARNING_HEADER_LINES`]; past that the warnings share lines
/// (`299 - "a", 299 - "b"`, the list form RFC 7234 allows and client-go parses), because
/// Python's http.client refuses a response of more than 100 header lines.
pub(crate) fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for line in warning_lines(warnings) {
        if let Ok(v) = HeaderValue::from_str(&line) {
            response
                .headers_mut()
                .append(axum::http::header::WARNING, v);
        }
    }
    response
}

/// Characters of one warning once the total is exceeded (the API server's `truncateItemRunes`).
pub(crate) const WARNING_ITEM_CHARS: usize = 256;
/// Characters of all warnings of a response (`truncateAtTotalRunes`).
pub(crate) const WARNING_TOTAL_CHARS: usize = 4096;
/// `Warning` header lines of a response at most.
pub(crate) const WARNING_HEADER_LINES: usize = 32;

/// The `Warning` header values for `warnings` (see [`with_warnings`]).
pub(crate) fn warning_lines(warnings: &[String]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&str> = warnings
        .iter()
        .map(String::as_str)
        // The API server drops a text it cannot put in a header (control characters).
        .filter(|w| !w.is_empty() && !w.chars().any(char::is_control))
        .filter(|w| seen.insert(*w))
        .collect();
    let total: usize = unique.iter().map(|w| w.chars().count()).sum();
    let mut kept = Vec::new();
    if total <= WARNING_TOTAL_CHARS {
        kept = unique;
    } else {
        let mut written = 0;
        for w in unique {
            let w = crate::codec::text::truncate_chars(w, WARNING_ITEM_CHARS);
            let n = w.chars().count();
            if written + n > WARNING_TOTAL_CHARS {
                break;
            }
            written += n;
            kept.push(w);
        }
    }
    let values: Vec<String> = kept
        .iter()
        .map(|w| format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    let per_line = values.len().div_ceil(WARNING_HEADER_LINES).max(1);
    values.chunks(per_line).map(|c| c.join(", ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_deduplicated_cut_and_bounded() {
        let few = vec![
            "a".to_string(),
            "a".to_string(),
            String::new(),
            "say \"hi\"".into(),
        ];
        assert_eq!(
            warning_lines(&few),
            [r#"299 - "a""#, r#"299 - "say \"hi\"""#]
        );
        // Under the total, long warnings go whole.
        let long = vec!["x".repeat(1000)];
        assert_eq!(warning_lines(&long)[0].len(), 1000 + 8);
        // Over the total: each cut to 256 characters, at most 4096 in all.
        let many: Vec<String> = (0..40)
            .map(|i| format!("{i:03}{}", "é".repeat(400)))
            .collect();
        let lines = warning_lines(&many);
        assert_eq!(lines.len(), WARNING_TOTAL_CHARS / WARNING_ITEM_CHARS);
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == WARNING_ITEM_CHARS + 8)
        );
        // 150 short warnings fit the total but share at most 32 header lines.
        let unknown: Vec<String> = (0..150)
            .map(|i| format!("unknown field \"status.f{i}\""))
            .collect();
        let lines = warning_lines(&unknown);
        assert!(lines.len() <= WARNING_HEADER_LINES);
        assert_eq!(
            lines
                .iter()
                .map(|l| l.matches("299 - ").count())
                .sum::<usize>(),
            150
        );
    }
}
