//! What the read handlers of the objects k8sless keeps whole (Namespaces, ResourceQuotas,
//! Events) share: a list or one object answered as JSON, or as the `Table` kubectl asks for
//! (`Accept: application/json;as=Table;...`, see [`super::pods::table_request`]).

use axum::http::StatusCode;
use axum::response::Response;
use jiff::Timestamp;
use k8s_openapi::List;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::Serialize;
use serde_json::Value;

use super::pods::{json, table_response};
use super::table::IncludeObject;

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
