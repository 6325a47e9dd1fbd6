//! Bad input over HTTP: every malformed, oversized, unsupported or invalid body is a clear
//! 4xx Status and leaves nothing behind; dry runs write nothing.

use serde_json::{Value, json};

use super::k8s_schema::assert_valid;
use super::pods::{delete, get, get_code, post};
use crate::common::{self, http, labelled_pod as pod};

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_leaves_nothing() {
    let stack = common::stack().await;
    let url = format!("{}/api/v1/namespaces/default/pods", stack.base);
    let send = |ct: &'static str, body: Vec<u8>| {
        let url = url.clone();
        async move {
            let r = http()
                .post(url)
                .header("Content-Type", ct)
                .body(body)
                .send()
                .await
                .expect("post");
            let code = r.status().as_u16();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            (code, v)
        }
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut p = pod("bad");
        f(&mut p);
        serde_json::to_vec(&p).expect("json")
    };
    let cases: Vec<(&str, &'static str, Vec<u8>, u16, &str)> = vec![
        (
            "malformed JSON",
            "application/json",
            b"{\"kind\": \"Pod\", ".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "malformed YAML",
            "application/yaml",
            b"kind: Pod\nmetadata: [unclosed\n".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "a 10 MB body",
            "application/json",
            vec![b' '; 10 * 1024 * 1024],
            413,
            "RequestEntityTooLarge",
        ),
        (
            "XML",
            "application/xml",
            b"<pod/>".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "an invalid name",
            "application/json",
            with(&|p| p["metadata"]["name"] = "Bad_Name".into()),
            422,
            "Invalid",
        ),
        (
            "no name",
            "application/json",
            with(&|p| p["metadata"] = json!({})),
            422,
            "Invalid",
        ),
        (
            "no image",
            "application/json",
            with(&|p| p["spec"]["containers"][0]["image"] = Value::Null),
            422,
            "Invalid",
        ),
        (
            "no containers",
            "application/json",
            with(&|p| p["spec"]["containers"] = json!([])),
            422,
            "Invalid",
        ),
        (
            "duplicate containers",
            "application/json",
            with(&|p| {
                let c = p["spec"]["containers"][0].clone();
                p["spec"]["containers"] = json!([c.clone(), c]);
            }),
            422,
            "Invalid",
        ),
        (
            "a configMap volume",
            "application/json",
            with(&|p| p["spec"]["volumes"] = json!([{"name": "cfg", "configMap": {"name": "x"}}])),
            422,
            "Invalid",
        ),
        (
            "a secret env",
            "application/json",
            with(&|p| {
                p["spec"]["containers"][0]["env"] =
                    json!([{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
            }),
            422,
            "Invalid",
        ),
        (
            "a bad port",
            "application/json",
            with(&|p| p["spec"]["containers"][0]["ports"] = json!([{"containerPort": 70000}])),
            422,
            "Invalid",
        ),
        (
            "a bad quantity",
            "application/json",
            with(&|p| p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots".into()),
            422,
            "Invalid",
        ),
        (
            "a bad label",
            "application/json",
            with(&|p| p["metadata"]["labels"] = json!({"app": "-x-"})),
            422,
            "Invalid",
        ),
        (
            "another namespace in the body",
            "application/json",
            with(&|p| p["metadata"]["namespace"] = "other".into()),
            400,
            "BadRequest",
        ),
        (
            "a ConfigMap",
            "application/json",
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "a wrong type",
            "application/json",
            with(&|p| p["spec"]["containers"] = "nope".into()),
            400,
            "BadRequest",
        ),
    ];
    for (what, ct, body, code, reason) in cases {
        let (got, status) = send(ct, body).await;
        assert_eq!(got, code, "{what}: {status}");
        assert_eq!(status["reason"], reason, "{what}: {status}");
        assert_eq!(status["kind"], "Status", "{what}");
        assert!(
            status["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        assert_valid("io.k8s.apimachinery.pkg.apis.meta.v1.Status", &status);
        if code == 422 {
            let causes = status["details"]["causes"].as_array().expect("causes");
            assert!(
                !causes.is_empty() && causes.iter().all(|c| c["field"].is_string()),
                "{what}: {status}"
            );
        }
    }
    let (_, status) = send(
        "application/json",
        with(&|p| p["spec"]["volumes"] = json!([{"name": "cfg", "configMap": {"name": "x"}}])),
    )
    .await;
    assert!(
        status["message"]
            .as_str()
            .unwrap_or("")
            .contains("bake the files into the image"),
        "says what to do instead: {status}"
    );
    // Strict field validation.
    let r = http()
        .post(format!("{url}?fieldValidation=Strict"))
        .json(
            &with(&|p| p["spec"]["containers"][0]["imagee"] = "typo".into())
                .iter()
                .map(|b| *b as char)
                .collect::<String>()
                .parse::<Value>()
                .expect("json"),
        )
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.expect("json");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown field \"spec.containers[0].imagee\""),
        "{v}"
    );
    let (code, list) = get(&stack.base, "/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 200);
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(0),
        "no record left behind"
    );
    assert!(stack.sim.instances().is_empty(), "no VM left behind");
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let stack = common::stack().await;
    let (code, body) = post(
        &stack.base,
        "/api/v1/namespaces/default/pods?dryRun=All",
        &pod("dry"),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(body["metadata"]["name"], "dry");
    assert_eq!(
        get_code(&stack.base, "/api/v1/namespaces/default/pods/dry").await,
        404
    );
    assert!(stack.sim.instances().is_empty());
    assert_eq!(
        post(&stack.base, "/api/v1/namespaces/default/pods", &pod("dry"))
            .await
            .0,
        201
    );
    let r = delete(
        &stack.base,
        "/api/v1/namespaces/default/pods/dry?dryRun=All",
    )
    .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        get_code(&stack.base, "/api/v1/namespaces/default/pods/dry").await,
        200
    );
}
