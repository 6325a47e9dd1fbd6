//! The phase of a pod, as Kubernetes spells it on the wire (`status.phase`).

use serde::{Deserialize, Serialize};

/// `PodStatus.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Phase {
    /// Accepted; the VM is not running the containers yet (also: no phase recorded).
    #[default]
    Pending,
    /// The containers were started on the VM.
    Running,
    /// Every container exited 0 and will not restart.
    Succeeded,
    /// Every container terminated and at least one failed (or the VM could not be created).
    Failed,
    /// The VM's state could not be obtained.
    Unknown,
}

impl Phase {
    /// The Kubernetes string.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::Unknown => "Unknown",
        }
    }

    /// Parses the Kubernetes string; anything else is `None`.
    pub fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "Pending" => Phase::Pending,
            "Running" => Phase::Running,
            "Succeeded" => Phase::Succeeded,
            "Failed" => Phase::Failed,
            "Unknown" => Phase::Unknown,
            _ => return None,
        })
    }

    /// Succeeded or Failed: nothing runs any more.
    pub fn is_finished(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::Failed)
    }

    /// The owned string for `PodStatus.phase`.
    pub fn to_status(self) -> Option<String> {
        Some(self.as_str().to_string())
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Phase {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Phase {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_strings_round_trip() {
        for p in [
            Phase::Pending,
            Phase::Running,
            Phase::Succeeded,
            Phase::Failed,
            Phase::Unknown,
        ] {
            assert_eq!(Phase::parse(p.as_str()), Some(p));
            assert_eq!(
                serde_json::to_value(p).ok(),
                Some(serde_json::Value::String(p.as_str().into()))
            );
        }
        assert_eq!(Phase::parse("running"), None);
        assert!(Phase::Failed.is_finished() && !Phase::Running.is_finished());
    }
}
