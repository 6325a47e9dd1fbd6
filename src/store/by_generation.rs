//! Values kept by object key and the generation they were made from, bounded: the Cloud
//! Storage body cache, `GET`'s serialized pods and the records decoded from their index all
//! keep one. A generation names one content (every write makes a new one, as Cloud Storage's
//! do), so a value kept for it stays true for as long as that generation is read. At most
//! `MAX` values; cleared when full (simple and bounded: the next walk refills it).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Values by key, each with the generation it was made from; at most `MAX`.
#[derive(Debug)]
pub(crate) struct ByGeneration<V, const MAX: usize> {
    values: Mutex<HashMap<String, (i64, V)>>,
}

impl<V, const MAX: usize> Default for ByGeneration<V, MAX> {
    fn default() -> Self {
        ByGeneration {
            values: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone, const MAX: usize> ByGeneration<V, MAX> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (i64, V)>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value kept for `key` if it was made from `generation`.
    pub(crate) fn get(&self, key: &str, generation: i64) -> Option<V> {
        self.lock()
            .get(key)
            .filter(|(g, _)| *g == generation)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `key` at `generation` (clearing everything first when full).
    pub(crate) fn keep(&self, key: String, generation: i64, value: V) {
        let mut values = self.lock();
        if values.len() >= MAX {
            values.clear();
        }
        values.insert(key, (generation, value));
    }

    /// Forgets `key` (its object was deleted).
    pub(crate) fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// How many are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_kept_for_its_generation_only_and_the_whole_is_bounded() {
        let kept: ByGeneration<&str, 2> = ByGeneration::default();
        kept.keep("a".into(), 1, "one");
        assert_eq!(kept.get("a", 1), Some("one"));
        assert_eq!(kept.get("a", 2), None);
        kept.keep("b".into(), 1, "b");
        kept.keep("c".into(), 1, "c");
        assert_eq!(kept.len(), 1, "cleared when full");
        assert_eq!(kept.get("c", 1), Some("c"));
        kept.forget("c");
        assert_eq!(kept.get("c", 1), None);
    }
}
