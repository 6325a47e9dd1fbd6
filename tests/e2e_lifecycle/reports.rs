//! Reports through `POST /pubsub/push`: order and duplicates, forgeries, key fetching.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use crate::common::*;

fn final_view(pod: &Value) -> Value {
    let status = &pod["status"];
    let conditions: Vec<Value> = status["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["type"] != "PodScheduled")
        .collect();
    json!({"phase": status["phase"], "containers": status["containerStatuses"],
        "conditions": conditions, "startTime": status["startTime"]})
}

#[tokio::test]
async fn thrice_shuffled_delivery_ends_like_in_order() {
    let (issuer, stack, api) = verified().await;
    let start = rfc3339_now();
    let statuses = [
        pending(),
        running(&start),
        running(&start),
        succeeded(&start),
    ];
    let push_token = issuer.caller("/pubsub/push");

    let (a, vm_a) = api.create_on_vm(&stack, pod("in-order")).await;
    for (i, s) in statuses.iter().enumerate() {
        let r = issuer.report(&a, &vm_a, i as u64 + 1, s.clone());
        assert_eq!(api.push(Some(&push_token), &r).await, 200);
    }

    for seed in 0..3u64 {
        let name = format!("shuffled-{seed}");
        let (b, vm_b) = api.create_on_vm(&stack, pod(&name)).await;
        let mut deliveries: Vec<_> = statuses
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let r = issuer.report(&b, &vm_b, i as u64 + 1, s.clone());
                [r.clone(), r.clone(), r]
            })
            .collect();
        deliveries.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        // Half concurrently (compare-and-swap), half one by one.
        let (together, alone) = deliveries.split_at(deliveries.len() / 2);
        let codes =
            futures_util::future::join_all(together.iter().map(|r| api.push(Some(&push_token), r)))
                .await;
        assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
        for r in alone {
            assert_eq!(api.push(Some(&push_token), r).await, 200);
        }
        let got = final_view(&api.pod(&name).await);
        assert_eq!(got, final_view(&api.pod("in-order").await), "seed {seed}");
        assert_eq!(got["phase"], "Succeeded");
    }
    stack.stop().await;
}

#[tokio::test]
async fn forged_pushes_are_refused_and_change_nothing() {
    let (issuer, stack, api) = verified().await;
    let (victim, vm) = api.create_on_vm(&stack, pod("victim")).await;
    let (_, other_vm) = api.create_on_vm(&stack, pod("other")).await;
    let before = api.pod("victim").await;
    let status = running(&rfc3339_now());
    let good_report = issuer.report(&victim, &vm, 1, status.clone());
    let aud = format!("{SERVICE_URL}/pubsub/push");

    let cases: Vec<(&str, Option<String>, _, u16)> = vec![
        ("no token", None, good_report.clone(), 401),
        (
            "wrong audience",
            Some(issuer.sign(&caller_claims(
                "https://elsewhere.test/pubsub/push",
                PUSH_SA,
                600,
            ))),
            good_report.clone(),
            401,
        ),
        (
            "wrong email",
            Some(issuer.sign(&caller_claims(&aud, "mallory@example.com", 600))),
            good_report.clone(),
            403,
        ),
        (
            "expired",
            Some(issuer.sign(&caller_claims(&aud, PUSH_SA, -300))),
            good_report.clone(),
            401,
        ),
        (
            "signed by another key",
            Some(issuer.forge(&caller_claims(&aud, PUSH_SA, 600))),
            good_report.clone(),
            401,
        ),
        (
            "identity token of another VM's pod",
            Some(issuer.caller("/pubsub/push")),
            issuer.report(&victim, &other_vm, 1, status.clone()),
            403,
        ),
        (
            "identity token for another audience",
            Some(issuer.caller("/pubsub/push")),
            report(
                &victim,
                &vm,
                1,
                status.clone(),
                Some(issuer.sign(&identity_claims(&vm, "https://elsewhere.test"))),
            ),
            403,
        ),
        (
            "forged identity token",
            Some(issuer.caller("/pubsub/push")),
            report(
                &victim,
                &vm,
                1,
                status.clone(),
                Some(issuer.forge(&identity_claims(&vm, SERVICE_URL))),
            ),
            403,
        ),
        (
            "no identity token",
            Some(issuer.caller("/pubsub/push")),
            report(&victim, &vm, 1, status.clone(), None),
            403,
        ),
    ];
    for (what, token, r, want) in cases {
        assert_eq!(api.push(token.as_deref(), &r).await, want, "{what}");
    }
    let (code, _) = api
        .post(
            "/pubsub/push",
            Some(&issuer.caller("/pubsub/push")),
            &[],
            "{".into(),
        )
        .await;
    assert_eq!(code, 400, "malformed");
    assert_eq!(api.pod("victim").await, before, "record unchanged");

    // Forged collections and events.
    let gc_aud = format!("{SERVICE_URL}/gc");
    for (token, want) in [
        (None, 401),
        (
            Some(issuer.sign(&caller_claims(&gc_aud, "mallory@example.com", 600))),
            403,
        ),
        (
            Some(issuer.sign(&caller_claims(&gc_aud, PUSH_SA, -300))),
            401,
        ),
        (
            Some(issuer.forge(&caller_claims(&gc_aud, PUSH_SA, 600))),
            401,
        ),
    ] {
        assert_eq!(api.gc(token.as_deref()).await.0, want);
    }
    let delete =
        crate::events::audit_entry("v1.compute.instances.delete", &vm, "mallory@example.com");
    for (token, want) in [
        (None, 401),
        (
            Some(issuer.sign(&caller_claims("https://elsewhere.test", PUSH_SA, 600))),
            401,
        ),
        (
            Some(issuer.sign(&caller_claims(SERVICE_URL, "mallory@example.com", 600))),
            403,
        ),
    ] {
        let (code, _) = api
            .post(
                "/events/compute",
                token.as_deref(),
                &crate::events::AUDIT_HEADERS,
                delete.to_string(),
            )
            .await;
        assert_eq!(code, want);
    }
    assert_eq!(api.pod("victim").await, before, "record unchanged");
    assert!(vm_named(&stack, &vm.name).is_some(), "VM untouched");

    // The genuine report goes through.
    assert_eq!(
        api.push(Some(&issuer.caller("/pubsub/push")), &good_report)
            .await,
        200
    );
    assert_eq!(api.pod("victim").await["status"]["phase"], "Running");
    stack.stop().await;
}

#[tokio::test]
async fn keys_are_fetched_once_for_concurrent_requests() {
    let (issuer, stack, api, p, vm) = verified_on_vm(pod("busy")).await;
    let token = issuer.caller("/pubsub/push");
    let reports: Vec<_> = (1..=16)
        .map(|seq| issuer.report(&p, &vm, seq, running(&rfc3339_now())))
        .collect();
    let codes =
        futures_util::future::join_all(reports.iter().map(|r| api.push(Some(&token), r))).await;
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    assert_eq!(issuer.fetches(), 1);
    stack.stop().await;
}

#[tokio::test]
async fn eventarc_cloudevent_form_of_a_push() {
    let (issuer, stack, api, p, vm) = verified_on_vm(pod("via-eventarc")).await;
    let r = issuer.report(&p, &vm, 1, running(&rfc3339_now()));
    let body = k8sless::testing::encode_push(
        &serde_json::to_vec(&r).expect("json"),
        &Default::default(),
        "1",
        jiff::Timestamp::now(),
    );
    let headers = [
        ("ce-id", "1"),
        (
            "ce-source",
            "//pubsub.googleapis.com/projects/k8sless-dev/topics/k8sless",
        ),
        ("ce-specversion", "1.0"),
        ("ce-type", "google.cloud.pubsub.topic.v1.messagePublished"),
    ];
    let token = issuer.caller("/pubsub/push");
    let (code, _) = api
        .post("/pubsub/push", Some(&token), &headers, body.to_string())
        .await;
    assert_eq!(code, 200);
    assert_eq!(api.pod("via-eventarc").await["status"]["phase"], "Running");
    stack.stop().await;
}
