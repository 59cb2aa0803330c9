//! Interest pushdown: the set of event types a compiled condition can match (Falco's
//! `ppm_sc_codes`).
//!
//! For each node we compute two sets: where it *may be true* and where it *may be false*.
//! An `evt.type` test is exact; any other test may be either anywhere. Then `and` intersects the
//! may-true sets (and unites the may-false ones), `or` the reverse, and `not` swaps them, so
//! `not evt.type = open` is sound (every type but `open`) and `not (evt.type = open and x)` is
//! everything. A rule can fire only on the may-true set of its condition.

use crate::eval::Node;
use crate::events::EventSet;

/// (may be true, may be false).
pub(crate) fn may(node: &Node) -> (EventSet, EventSet) {
    match node {
        Node::EventType(set) => (**set, set.complement()),
        Node::Check(_) => (EventSet::all(), EventSet::all()),
        Node::Shared(_, inner) => may(inner),
        Node::Not(inner) => {
            let (t, f) = may(inner);
            (f, t)
        }
        Node::And(items) => {
            let mut t = EventSet::all();
            let mut f = EventSet::empty();
            for n in items.iter() {
                let (nt, nf) = may(n);
                t = t.intersection(&nt);
                f = f.union(&nf);
            }
            (t, f)
        }
        Node::Or(items) => {
            let mut t = EventSet::empty();
            let mut f = EventSet::all();
            for n in items.iter() {
                let (nt, nf) = may(n);
                t = t.union(&nt);
                f = f.intersection(&nf);
            }
            (t, f)
        }
    }
}

/// The event types `node` can match.
pub(crate) fn event_types(node: &Node) -> EventSet {
    may(node).0
}
