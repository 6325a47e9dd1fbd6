//! The `Table`s `kubectl get roles`, `rolebindings`, `clusterroles` and `clusterrolebindings`
//! print, with kube-apiserver's columns (its internal printers): roles NAME, CREATED AT;
//! bindings NAME, ROLE (`Kind/name`), AGE, and with `-o wide` USERS, GROUPS, SERVICEACCOUNTS
//! (`namespace:name`).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::Serialize;
use serde_json::{Value, json};

use super::table::{IncludeObject, TableColumnDefinition, column, row_value, since, table_value};

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The objects of an RBAC kind (`kind`: `Role`, `RoleBinding`, ...) as kubectl's `Table`.
pub(crate) fn rbac_table<K: Serialize>(
    kind: &str,
    items: &[K],
    include: IncludeObject,
    now: Timestamp,
    list_meta: ListMeta,
) -> Value {
    let binding = kind.ends_with("Binding");
    let rows = items
        .iter()
        .map(|item| {
            let object = serde_json::to_value(item).unwrap_or_default();
            let cells = if binding {
                binding_cells(&object, now)
            } else {
                role_cells(&object)
            };
            row_value(cells, include, &object)
        })
        .collect();
    let columns = if binding {
        binding_columns(kind)
    } else {
        role_columns()
    };
    table_value(list_meta, columns, rows)
}

fn role_columns() -> Vec<TableColumnDefinition> {
    vec![
        column("Name", "string", Some("name"), 0, NAME_DOC),
        column("Created At", "date", None, 0, CREATED_DOC),
    ]
}

fn binding_columns(kind: &str) -> Vec<TableColumnDefinition> {
    let (users, groups, accounts) = if kind == "ClusterRoleBinding" {
        (
            "Users in the clusterRoleBinding",
            "Groups in the clusterRoleBinding",
            "ServiceAccounts in the clusterRoleBinding",
        )
    } else {
        (
            "Users in the roleBinding",
            "Groups in the roleBinding",
            "ServiceAccounts in the roleBinding",
        )
    };
    vec![
        column("Name", "string", Some("name"), 0, NAME_DOC),
        column(
            "Role",
            "string",
            None,
            0,
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable.",
        ),
        column("Age", "string", None, 0, CREATED_DOC),
        column("Users", "string", None, 1, users),
        column("Groups", "string", None, 1, groups),
        column("ServiceAccounts", "string", None, 1, accounts),
    ]
}

fn name(object: &Value) -> Value {
    object["metadata"]["name"].clone()
}

/// NAME, CREATED AT (RFC 3339, UTC, as kube-apiserver prints it).
fn role_cells(object: &Value) -> Value {
    let created = object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map_or_else(String::new, |t| {
            t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        });
    json!([name(object), created])
}

/// NAME, ROLE, AGE, USERS, GROUPS, SERVICEACCOUNTS.
fn binding_cells(object: &Value, now: Timestamp) -> Value {
    let role = format!(
        "{}/{}",
        object["roleRef"]["kind"].as_str().unwrap_or(""),
        object["roleRef"]["name"].as_str().unwrap_or("")
    );
    let age = object["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map_or_else(|| "<unknown>".to_string(), |t| since(t, now));
    let subjects = object["subjects"].as_array().cloned().unwrap_or_default();
    let of_kind = |kind: &str| -> String {
        subjects
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| {
                let n = s["name"].as_str().unwrap_or("");
                match (kind, s["namespace"].as_str()) {
                    ("ServiceAccount", Some(ns)) => format!("{ns}:{n}"),
                    _ => n.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    json!([
        name(object),
        role,
        age,
        of_kind("User"),
        of_kind("Group"),
        of_kind("ServiceAccount")
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_print_role_age_and_subjects_roles_their_creation() {
        let now: Timestamp = "2025-06-01T12:00:00Z".parse().expect("ts");
        let binding = json!({
            "metadata": {"name": "alice-edit", "namespace": "team-a",
                         "creationTimestamp": "2025-06-01T11:00:00Z"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [
                {"kind": "User", "name": "alice@example.com"},
                {"kind": "User", "name": "bob@example.com"},
                {"kind": "Group", "name": "devs"},
                {"kind": "ServiceAccount", "name": "ci", "namespace": "team-a"},
            ],
        });
        let t = rbac_table(
            "RoleBinding",
            &[binding],
            IncludeObject::None,
            now,
            ListMeta::default(),
        );
        let names = crate::testing::strs_of(&t["columnDefinitions"], "name");
        assert_eq!(
            names,
            ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "alice-edit",
                "ClusterRole/edit",
                "60m",
                "alice@example.com, bob@example.com",
                "devs",
                "team-a:ci"
            ])
        );
        let role =
            json!({"metadata": {"name": "reader", "creationTimestamp": "2025-06-01T11:00:00Z"}});
        let t = rbac_table(
            "Role",
            &[role],
            IncludeObject::None,
            now,
            ListMeta::default(),
        );
        assert_eq!(
            crate::testing::strs_of(&t["columnDefinitions"], "name"),
            ["Name", "Created At"]
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["reader", "2025-06-01T11:00:00Z"])
        );
    }
}
