//! The phase and restart rules of [`super`], without processes.

use super::*;

fn status(state: ContainerState) -> ContainerStatus {
    ContainerStatus {
        state: Some(state),
        ..Default::default()
    }
}

fn running() -> ContainerStatus {
    status(ContainerState {
        running: Some(ContainerStateRunning::default()),
        ..Default::default()
    })
}

fn exited(code: i32) -> ContainerStatus {
    status(ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[test]
fn the_phase_follows_the_containers_and_the_restart_policy() {
    let none = HashMap::new();
    // One still runs (the XCom sidecar after the base container ended): Running.
    assert_eq!(phase("Never", &[exited(0), running()], &none), "Running");
    assert_eq!(phase("Never", &[exited(0), exited(0)], &none), "Succeeded");
    assert_eq!(phase("Never", &[exited(0), exited(3)], &none), "Failed");
    assert_eq!(
        phase("OnFailure", &[exited(0), exited(0)], &none),
        "Succeeded"
    );
    assert_eq!(phase("Always", &[exited(0)], &none), "Running");
    let creating = status(waiting("ContainerCreating", None));
    assert_eq!(phase("Never", &[creating, exited(0)], &none), "Pending");
    let mut backoff = HashMap::new();
    backoff.insert(
        "c".to_string(),
        Track {
            due: Some(Instant::now()),
            ..Default::default()
        },
    );
    assert_eq!(phase("OnFailure", &[exited(1)], &backoff), "Running");
}

fn ended(code: i32, restarts: u32) -> Option<SimContainer> {
    Some(SimContainer {
        restarts,
        exit_code: Some(code),
        started: Some(jiff::Timestamp::now()),
        ..Default::default()
    })
}

#[test]
fn restarts_follow_the_policy_with_kubelets_back_off() {
    let now = Instant::now();
    let due = |policy: &str, c: Option<SimContainer>| {
        let mut t = Track::default();
        schedule(policy, c, &mut t, now);
        t.due.map(|d| d - now)
    };
    assert_eq!(due("Never", ended(1, 0)), None);
    assert_eq!(due("OnFailure", ended(0, 0)), None);
    assert_eq!(due("OnFailure", ended(1, 0)), Some(Duration::ZERO));
    assert_eq!(due("Always", ended(0, 1)), Some(Duration::from_secs(10)));
    assert_eq!(due("Always", ended(0, 3)), Some(Duration::from_secs(40)));
    assert_eq!(due("Always", ended(0, 30)), Some(BACKOFF_MAX));
    // A running container is never scheduled.
    let mut live = ended(0, 0);
    if let Some(c) = live.as_mut() {
        c.pid = Some(1);
        c.exit_code = None;
    }
    assert_eq!(due("Always", live), None);
}
