//! A Compute Engine simulator behind the same REST API as `compute.googleapis.com/compute/v1`
//! (instances insert, get, list, delete, stop, setLabels, setMetadata; zoneOperations get and
//! wait), so tests, benchmarks and `dev` mode run the production [`crate::gce::Client`].
//!
//! Runnable alone (`k8sless gce-sim`) or embedded ([`Sim::router`]). `Auto` mode moves
//! instances through their lifecycle on a real clock; `Explicit` mode uses a manual clock that
//! tests advance (`POST /sim/advance` or [`Sim::advance`]). Faults are injected per method and
//! zone ([`faults::FaultRule`]). Hooks ([`Sim::on_change`]) see every state change, which is how
//! dev mode's simulated guests run their pods.
//!
//! One file per resource: [`instances`] (insert, get, list, delete, stop), [`instance_meta`]
//! (setLabels, setMetadata), [`operations`] (zoneOperations), [`control`] (the `/sim` admin
//! side: clock, faults, counters); [`server`] is the HTTP face of all of them. The simulator
//! may import `gce` types; production code never imports the simulator (docs/architecture.md).

pub mod clock;
mod control;
mod encoding;
mod error;
pub mod faults;
pub mod fields;
pub mod filter;
pub mod guest;
mod instance_meta;
mod instances;
pub mod kubelet;
mod logs;
mod operations;
pub mod schema;
pub mod server;
pub mod state;
pub mod validate;

use std::sync::{Arc, Mutex, RwLock};

pub use clock::SimClock;
pub use encoding::{base64_decode, base64_encode};
pub use error::SimError;
use faults::FaultRule;
use state::State;
pub use state::{SimChange, SimStats, SimTimings};

/// A hook called after each state change.
pub type SimHook = Arc<dyn Fn(SimChange) + Send + Sync>;

/// Timer-driven or test-driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimMode {
    /// Real clock; a driver task advances instances.
    Auto,
    /// Manual clock; tests advance it.
    Explicit,
}

/// Settings of a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Auto or Explicit.
    pub mode: SimMode,
    /// Transition times.
    pub timings: SimTimings,
    /// Faults from the start.
    pub faults: Vec<FaultRule>,
    /// URL prefix for selfLinks (`http://127.0.0.1:PORT/compute/v1`).
    pub base_url: String,
    /// The discovery document to check request bodies against, if any.
    pub schema: Option<Arc<schema::Discovery>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            mode: SimMode::Explicit,
            timings: SimTimings::ZERO,
            faults: Vec::new(),
            base_url: "https://compute.googleapis.com/compute/v1".into(),
            schema: None,
        }
    }
}

struct Inner {
    state: Mutex<State>,
    clock: SimClock,
    config: SimConfig,
    faults: Mutex<Vec<FaultRule>>,
    hooks: RwLock<Vec<SimHook>>,
    quota_window: Mutex<(std::time::Instant, u32)>,
}

/// The simulator. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("mode", &self.inner.config.mode)
            .finish()
    }
}

impl Sim {
    /// A simulator; in `Auto` mode call [`Sim::spawn_driver`] inside a runtime.
    pub fn new(config: SimConfig) -> Self {
        let clock = match config.mode {
            SimMode::Auto => SimClock::real(),
            SimMode::Explicit => SimClock::manual(),
        };
        Sim {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                clock,
                faults: Mutex::new(config.faults.clone()),
                config,
                hooks: RwLock::new(Vec::new()),
                quota_window: Mutex::new((std::time::Instant::now(), 0)),
            }),
        }
    }

    /// The axum router serving `/compute/v1/...` and `/sim/...`.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Registers a hook for state changes.
    pub fn on_change(&self, hook: SimHook) {
        if let Ok(mut hooks) = self.inner.hooks.write() {
            hooks.push(hook);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock is a simulator bug; keep serving with the data as is.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs every hook on every change, outside the state lock.
    fn emit(&self, changes: Vec<SimChange>) {
        if changes.is_empty() {
            return;
        }
        let hooks = self
            .inner
            .hooks
            .read()
            .map(|h| h.clone())
            .unwrap_or_default();
        for change in changes {
            for hook in &hooks {
                hook(change.clone());
            }
        }
    }

    /// Applies due transitions under the lock; the caller emits what changed.
    fn step_locked(&self, st: &mut State) -> Vec<SimChange> {
        let now = self.inner.clock.now_ms();
        st.step(
            now,
            self.inner.config.timings,
            &self.inner.clock,
            self.has_hooks(),
        )
    }

    /// Whether any hook sees changes (`gce-sim` alone has none: its changes are not built).
    fn has_hooks(&self) -> bool {
        self.inner.hooks.read().is_ok_and(|h| !h.is_empty())
    }

    pub(crate) fn schema(&self) -> Option<&Arc<schema::Discovery>> {
        self.inner.config.schema.as_ref()
    }
}
