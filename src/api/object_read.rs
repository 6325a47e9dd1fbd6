//! What the read handlers of the objects k8sless keeps whole (Namespaces, ResourceQuotas,
//! Events) share: a list or one object answered as JSON, or as the `Table` kubectl asks for
//! (`Accept: application/json;as=Table;...`, see [`super::pods::table_request`]).

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use k8s_openapi::List;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::Serialize;
use serde_json::Value;

use super::pods::{json, table_request, table_response};
use super::table::IncludeObject;
use super::{AppState, extract};

/// What a read handler of a stored kind takes off its request: `P`, the parts it names
/// itself (its path: any [`FromRequestParts`]), the query, and the `Table` the client asked
/// for, if any. A malformed query or `includeObject` is answered as a `Status` before the
/// handler runs, as it was when each handler parsed them first.
pub(crate) struct ObjectRead<P = ()> {
    pub(super) parts: P,
    pub(super) state: AppState,
    pub(super) query: HashMap<String, String>,
    pub(super) table: Option<(&'static str, IncludeObject)>,
}

impl<P> FromRequestParts<AppState> for ObjectRead<P>
where
    P: FromRequestParts<AppState> + Send,
    P::Rejection: IntoResponse,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Response> {
        let own = P::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let query = extract::query(parts.uri.query()).map_err(IntoResponse::into_response)?;
        let table = table_request(extract::accept_of(&parts.headers), &query)
            .map_err(IntoResponse::into_response)?;
        Ok(ObjectRead {
            parts: own,
            state: state.clone(),
            query,
            table,
        })
    }
}

impl<P> ObjectRead<P> {
    /// `items` as [`list_or_table`] answers them, at `resource_version`.
    pub(crate) fn list<K>(
        &self,
        items: Vec<K>,
        resource_version: impl ToString,
        print: impl Printer<K>,
    ) -> Response
    where
        K: k8s_openapi::ListableResource + Serialize,
    {
        let metadata = ListMeta {
            resource_version: Some(resource_version.to_string()),
            ..Default::default()
        };
        list_or_table(self.table, items, metadata, print)
    }

    /// One object as [`object_or_table`] answers it.
    pub(crate) fn one<K: Serialize>(&self, object: K, print: impl Printer<K>) -> Response {
        object_or_table(self.table, object, print)
    }
}

/// A kind's printer: its objects as a `Table` (as `namespace_table`, `quota_table`).
pub(crate) trait Printer<K>:
    FnOnce(&[K], IncludeObject, Timestamp, ListMeta) -> Value
{
}
impl<K, F: FnOnce(&[K], IncludeObject, Timestamp, ListMeta) -> Value> Printer<K> for F {}

/// `items` as the `Table` `print` draws when the client asked for one (`table`), else as the
/// kind's `List`; 200 either way.
pub(crate) fn list_or_table<K>(
    table: Option<(&str, IncludeObject)>,
    items: Vec<K>,
    metadata: ListMeta,
    print: impl Printer<K>,
) -> Response
where
    K: k8s_openapi::ListableResource + Serialize,
{
    match table {
        Some((version, include)) => {
            table_response(version, print(&items, include, Timestamp::now(), metadata))
        }
        None => json(StatusCode::OK, &List { items, metadata }),
    }
}

/// One object as a one-row `Table` when the client asked for one, else as itself; 200.
pub(crate) fn object_or_table<K: Serialize>(
    table: Option<(&str, IncludeObject)>,
    object: K,
    print: impl Printer<K>,
) -> Response {
    match table {
        Some((version, include)) => table_response(
            version,
            print(
                std::slice::from_ref(&object),
                include,
                Timestamp::now(),
                ListMeta::default(),
            ),
        ),
        None => json(StatusCode::OK, &object),
    }
}
