//! The event agenda: pending events bucketed by the cycle they happen at.
//!
//! The simulation completes every event of the earliest pending cycle
//! together, in the order they were scheduled. A bucket per cycle gives
//! exactly that order (scheduling appends to its cycle's bucket) with one
//! pop per distinct cycle instead of a heap operation per event, and
//! emptied buckets are reused so a long run does not allocate per event.

use std::collections::VecDeque;

/// Pending events of type `T` by cycle, each cycle's in schedule order.
pub struct Agenda<T> {
    /// Sorted by cycle, one bucket per distinct cycle. Few cycles are
    /// pending at once (each agent has one completion and a DMA engine a
    /// few retires in flight) and most events land near either end, so a
    /// sorted deque beats a tree here.
    buckets: VecDeque<(u64, Vec<T>)>,
    /// Emptied buckets, kept for their capacity.
    spare: Vec<Vec<T>>,
}

impl<T> Default for Agenda<T> {
    fn default() -> Agenda<T> {
        Agenda {
            buckets: VecDeque::new(),
            spare: Vec::new(),
        }
    }
}

impl<T> Agenda<T> {
    /// Schedules `event` at cycle `at`, after every event already there.
    pub fn schedule(&mut self, at: u64, event: T) {
        let i = self.buckets.partition_point(|&(t, _)| t < at);
        match self.buckets.get_mut(i) {
            Some((t, bucket)) if *t == at => bucket.push(event),
            _ => {
                let mut bucket = self.spare.pop().unwrap_or_default();
                bucket.push(event);
                self.buckets.insert(i, (at, bucket));
            }
        }
    }

    /// Removes the earliest cycle's events, in schedule order; hand the
    /// vector back with [`Agenda::recycle`] once done with it.
    pub fn pop_earliest(&mut self) -> Option<(u64, Vec<T>)> {
        self.buckets.pop_front()
    }

    /// Returns a bucket from [`Agenda::pop_earliest`] for reuse.
    pub fn recycle(&mut self, mut bucket: Vec<T>) {
        bucket.clear();
        self.spare.push(bucket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_cycle_first_then_schedule_order() {
        let mut a = Agenda::default();
        a.schedule(5, 'a');
        a.schedule(3, 'b');
        a.schedule(5, 'c');
        a.schedule(3, 'd');
        let (t, v) = a.pop_earliest().unwrap();
        assert_eq!((t, v.as_slice()), (3, &['b', 'd'][..]));
        a.recycle(v);
        a.schedule(4, 'e');
        let (t, v) = a.pop_earliest().unwrap();
        assert_eq!((t, v.as_slice()), (4, &['e'][..]));
        let (t, v) = a.pop_earliest().unwrap();
        assert_eq!((t, v.as_slice()), (5, &['a', 'c'][..]));
        assert!(a.pop_earliest().is_none());
    }
}
