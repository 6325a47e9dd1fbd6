//! Tests of the strategic merge patch against apimachinery's behaviour.

use super::*;
use serde_json::json;

fn live() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a", "b", "c"]},
        "spec": {
            "containers": [
                {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80}], "terminationMessagePath": "/dev/termination-log"},
                {"name": "side", "image": "busybox"},
            ],
            "volumes": [{"name": "data", "hostPath": {"path": "/tmp"}}],
            "tolerations": [{"key": "a"}, {"key": "b"}],
            "securityContext": {"runAsUser": 1000},
        },
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]},
    })
}

fn names(list: &Value) -> Vec<&str> {
    crate::testing::strs_of(list, "name")
}

/// Each case: a patch, then (JSON pointer into the result, expected value) pairs.
#[test]
fn patches_apply_like_apimachinery() {
    let cases = json!([
        ["kubectl apply: one image changes, the rest stays",
         {"metadata": {"annotations": {"last-applied": "{}"}},
          "spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "side"}], "containers": [{"image": "nginx:2", "name": "app"}]}},
         [["/spec/containers/0/image", "nginx:2"], ["/spec/containers/0/terminationMessagePath", "/dev/termination-log"],
          ["/spec/containers/0/env/1/value", "2"], ["/spec/containers/1/name", "side"],
          ["/metadata/annotations/last-applied", "{}"], ["/metadata/labels/tier", "fe"]]],
        ["env merges by name",
         {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}]}},
         [["/spec/containers/0/env", [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}]]]],
        // Without `$setElementOrder`, an element the server lacks goes before those it cannot be
        // placed against (apimachinery's `mergeSortedSlice`); kubectl always sends the order.
        ["ports merge by containerPort",
         {"spec": {"containers": [{"name": "app", "ports": [{"containerPort": 443}]}]}},
         [["/spec/containers/0/ports", [{"containerPort": 443}, {"containerPort": 80}]]]],
        ["lists without a strategy are replaced", {"spec": {"tolerations": [{"key": "z"}]}},
         [["/spec/tolerations", [{"key": "z"}]]]],
        ["conditions merge by type", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
         [["/status/conditions", [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]]]],
        ["$patch: delete in a list", {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
         [["/spec/containers/1", null], ["/spec/containers/0/name", "app"]]],
        ["$patch: delete in a nested list", {"spec": {"containers": [{"name": "app", "env": [{"name": "A", "$patch": "delete"}]}]}},
         [["/spec/containers/0/env", [{"name": "B", "value": "2"}]]]],
        ["$patch: replace in a list", {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}},
         [["/spec/containers", [{"name": "only", "image": "x"}]]]],
        ["$patch: replace on a map", {"spec": {"securityContext": {"$patch": "replace", "runAsGroup": 5}}},
         [["/spec/securityContext", {"runAsGroup": 5}]]],
        ["$patch: delete on a map", {"spec": {"securityContext": {"$patch": "delete"}}},
         [["/spec/securityContext", {}]]],
        ["$deleteFromPrimitiveList", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "finalizers": ["d"]}},
         [["/metadata/finalizers", ["d", "a", "c"]]]],
        ["null deletes", {"metadata": {"labels": {"tier": null}}, "spec": {"securityContext": null, "nodeSelector": {"x": "y", "gone": null}}},
         [["/metadata/labels", {"app": "web"}], ["/spec/securityContext", null], ["/spec/nodeSelector", {"x": "y"}]]],
        ["$retainKeys clears the old volume source",
         {"spec": {"$setElementOrder/volumes": [{"name": "data"}], "volumes": [{"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "data"}]}},
         [["/spec/volumes", [{"name": "data", "emptyDir": {}}]]]],
        ["$setElementOrder orders scalars", {"metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]}},
         [["/metadata/finalizers", ["c", "a", "b"]]]],
        ["directives are not stored", {"spec": {"containers": [{"name": "new", "$setElementOrder/env": [{"name": "X"}], "env": [{"name": "X"}]}]}},
         [["/spec/containers/0", {"name": "new", "env": [{"name": "X"}]}]]],
    ]);
    for case in cases.as_array().expect("cases") {
        let out = apply_strategic_merge_patch(&live(), &case[1]).expect("applies");
        for check in case[2].as_array().expect("checks") {
            let pointer = check[0].as_str().expect("pointer");
            assert_eq!(
                out.pointer(pointer).unwrap_or(&Value::Null),
                &check[1],
                "{}: {pointer}",
                case[0]
            );
        }
    }
}

#[test]
fn set_element_order_orders_the_merged_list() {
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "new"}, {"name": "app"}],
                                "containers": [{"name": "new", "image": "n"}]}});
    let out = apply_strategic_merge_patch(&live(), &patch).expect("applies");
    assert_eq!(names(&out["spec"]["containers"]), ["side", "new", "app"]);
    // Without the directive the patch's order wins for the elements it names.
    let patch = json!({"spec": {"containers": [{"name": "extra", "image": "e"}, {"name": "app", "image": "nginx:3"}]}});
    let out = apply_strategic_merge_patch(&live(), &patch).expect("applies");
    assert_eq!(names(&out["spec"]["containers"]), ["extra", "app", "side"]);
}

#[test]
fn bad_patches_are_rejected() {
    let cases = json!([
        ["not an object", [1], "malformed"],
        ["$patch: merge on a map", {"$patch": "merge"}, "malformed"],
        ["delete list without a field", {"metadata": {"$deleteFromPrimitiveList": ["a"]}}, "malformed"],
        ["order mismatch", {"spec": {"$setElementOrder/containers": [{"name": "app"}], "containers": [{"name": "other"}]}}, "malformed"],
        ["unknown list directive", {"spec": {"containers": [{"name": "app", "$patch": "frob"}]}}, "malformed"],
        ["element without merge key", {"spec": {"containers": [{"image": "x"}]}}, "unprocessable"],
        ["key outside $retainKeys", {"spec": {"volumes": [{"$retainKeys": ["name"], "emptyDir": {}, "name": "data"}]}}, "unprocessable"],
        ["mixed element types", {"metadata": {"finalizers": [{"a": 1}]}}, "unprocessable"],
    ]);
    for case in cases.as_array().expect("cases") {
        let kind = match apply_strategic_merge_patch(&live(), &case[1]) {
            Err(PatchError::Malformed { .. }) => "malformed",
            Err(PatchError::Unprocessable { .. }) => "unprocessable",
            other => panic!("{}: {other:?}", case[0]),
        };
        assert_eq!(kind, case[2], "{}", case[0]);
    }
    let lists_of_lists = apply_strategic_merge_patch(
        &json!({"metadata": {"finalizers": [["a"]]}}),
        &json!({"metadata": {"finalizers": [["b"]]}}),
    );
    assert!(matches!(
        lists_of_lists,
        Err(PatchError::Unprocessable { .. })
    ));
}
