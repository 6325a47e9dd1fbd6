//! The cheapest-type choice, remembered per request shape. The choice depends only on the
//! request, Spot or not, the families and whether custom types are on (the catalog and its
//! prices are static), and ranking the catalog for it was ~6% of a create's CPU in the
//! service (docs/benchmarks.md, "A create's CPU, allocator and collector"): pods of one
//! shape, the common case, rank once per process.

use std::sync::Mutex;

use super::machine::Choice;
use super::sizing::Request;
use crate::error::Cause;

/// Shapes remembered; past it a choice is computed each time (bounded whatever the pods ask).
pub(super) const MAX_SHAPES: usize = 64;

/// What a cheapest choice depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    request: Request,
    spot: bool,
    custom: bool,
    families: Vec<String>,
}

/// Choices by shape, at most `max` of them.
pub(super) struct Remembered {
    list: Mutex<Vec<(Shape, Choice)>>,
    max: usize,
}

/// The process's choices.
pub(super) static CHOICES: Remembered = Remembered::new(MAX_SHAPES);

impl Remembered {
    pub(super) const fn new(max: usize) -> Self {
        Remembered {
            list: Mutex::new(Vec::new()),
            max,
        }
    }

    /// The remembered choice for this shape, or `choose`'s (remembered when it is a choice
    /// and there is room; a refusal is not kept: it is rare and costs only its own ranking).
    pub(super) fn choice(
        &self,
        request: &Request,
        spot: bool,
        families: &[String],
        custom: bool,
        choose: impl FnOnce() -> Result<Choice, Vec<Cause>>,
    ) -> Result<Choice, Vec<Cause>> {
        let is_shape = |s: &Shape| {
            s.request == *request && s.spot == spot && s.custom == custom && s.families == families
        };
        // A poisoned lock (a panic while it was held) only costs the cache.
        if let Some(hit) = self.list.lock().ok().and_then(|list| {
            list.iter()
                .find(|(s, _)| is_shape(s))
                .map(|(_, c)| c.clone())
        }) {
            return Ok(hit);
        }
        let choice = choose()?;
        if let Ok(mut list) = self.list.lock()
            && list.len() < self.max
            && !list.iter().any(|(s, _)| is_shape(s))
        {
            let shape = Shape {
                request: *request,
                spot,
                custom,
                families: families.to_vec(),
            };
            list.push((shape, choice.clone()));
        }
        Ok(choice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gce::catalog;

    fn choice(name: &str) -> Choice {
        let m = catalog::lookup(name).expect("a catalog type");
        Choice::plain(m, format!("because {name}"))
    }

    fn request(millicpu: u64) -> Request {
        Request {
            millicpu,
            memory: 1 << 30,
            stated: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_shape_is_chosen_once_and_keyed_by_all_it_depends_on() {
        let cache = Remembered::new(8);
        let fams = vec!["e2".to_string()];
        let first = cache.choice(&request(500), false, &fams, true, || Ok(choice("e2-small")));
        assert_eq!(
            first.map(|c| c.machine.name).ok().as_deref(),
            Some("e2-small")
        );
        // The same shape: remembered, the ranking is not run again.
        let again = cache.choice(&request(500), false, &fams, true, || panic!("ranked again"));
        assert_eq!(
            again.map(|c| c.reason).ok().as_deref(),
            Some("because e2-small")
        );
        // Each thing the choice depends on is part of the key.
        let n2 = vec!["n2".to_string()];
        let cases: [(Request, bool, &[String], bool); 4] = [
            (request(501), false, &fams, true),
            (request(500), true, &fams, true),
            (request(500), false, &n2, true),
            (request(500), false, &fams, false),
        ];
        for (r, spot, families, custom) in cases {
            let other = cache.choice(&r, spot, families, custom, || Ok(choice("e2-medium")));
            assert_eq!(
                other.map(|c| c.machine.name).ok().as_deref(),
                Some("e2-medium")
            );
        }
        // A refusal is answered, not kept.
        let refused = cache.choice(&request(7), false, &fams, true, || Err(Vec::new()));
        assert!(refused.is_err());
        let later = cache.choice(&request(7), false, &fams, true, || Ok(choice("e2-small")));
        assert!(later.is_ok());
    }

    #[test]
    fn at_most_max_shapes_are_kept() {
        let cache = Remembered::new(3);
        let fams = vec!["e2".to_string()];
        for m in 0..10 {
            let c = cache.choice(&request(m), false, &fams, true, || Ok(choice("e2-small")));
            assert!(c.is_ok());
        }
        assert_eq!(cache.list.lock().map(|l| l.len()).unwrap_or(0), 3);
        // Past the bound a shape is still chosen, each time.
        let mut ran = false;
        let c = cache.choice(&request(9), false, &fams, true, || {
            ran = true;
            Ok(choice("e2-medium"))
        });
        assert!(ran && c.is_ok());
    }
}
