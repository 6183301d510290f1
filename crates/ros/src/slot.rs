//! Latest-frame-wins hand-over from a camera's subscription to the worker.
//!
//! A slot holds at most one item. Offering a new one replaces (and returns) the one
//! not yet taken, so a device slower than the camera never builds a backlog and
//! always works on the newest frame. Built on a crossbeam channel of capacity 1 so
//! the worker can wait on many slots at once with `crossbeam::channel::Select`.

use crossbeam::channel::{bounded, Receiver, Sender, TrySendError};

pub struct LatestSlot<T> {
    tx: Sender<T>,
    rx: Receiver<T>,
}

impl<T> Clone for LatestSlot<T> {
    fn clone(&self) -> Self {
        LatestSlot {
            tx: self.tx.clone(),
            rx: self.rx.clone(),
        }
    }
}

impl<T> Default for LatestSlot<T> {
    fn default() -> Self {
        let (tx, rx) = bounded(1);
        LatestSlot { tx, rx }
    }
}

impl<T> LatestSlot<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `item` in the slot; returns the older item it displaced, if any.
    pub fn offer(&self, mut item: T) -> Option<T> {
        let mut displaced = None;
        loop {
            match self.tx.try_send(item) {
                Ok(()) => return displaced,
                Err(TrySendError::Full(back)) => {
                    item = back;
                    // The taker may empty the slot between our two calls; then there is
                    // nothing to displace and the next try_send succeeds.
                    if let Ok(old) = self.rx.try_recv() {
                        displaced = Some(old);
                    }
                }
                // both ends live in `self`, so the channel cannot be disconnected
                Err(TrySendError::Disconnected(_)) => return displaced,
            }
        }
    }

    /// Takes the item, if there is one.
    pub fn take(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// The receiving end, to wait on with `crossbeam::channel::Select`.
    pub fn receiver(&self) -> &Receiver<T> {
        &self.rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn newest_wins() {
        let slot = LatestSlot::new();
        assert_eq!(slot.offer(1), None);
        assert_eq!(slot.offer(2), Some(1));
        assert_eq!(slot.offer(3), Some(2));
        assert_eq!(slot.take(), Some(3));
        assert_eq!(slot.take(), None);
        assert_eq!(slot.offer(4), None);
    }

    /// A fast producer and a slow consumer: every item is either taken or displaced
    /// (none lost, none duplicated), and what the consumer sees only increases.
    #[test]
    fn concurrent_accounting() {
        let slot = LatestSlot::new();
        let displaced = Arc::new(AtomicUsize::new(0));
        let n = 20_000;
        let producer = {
            let slot = slot.clone();
            let displaced = displaced.clone();
            std::thread::spawn(move || {
                for i in 0..n {
                    if slot.offer(i).is_some() {
                        displaced.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        let mut taken = Vec::new();
        while !producer.is_finished() || !slot.receiver().is_empty() {
            if let Some(v) = slot.take() {
                taken.push(v);
            }
            if taken.len() % 64 == 0 {
                std::thread::yield_now();
            }
        }
        producer.join().unwrap();
        taken.extend(slot.take());
        assert!(taken.windows(2).all(|w| w[0] < w[1]), "not monotonic");
        assert_eq!(taken.len() + displaced.load(Ordering::Relaxed), n);
        assert_eq!(
            taken.last(),
            Some(&(n - 1)),
            "the newest item must reach the consumer"
        );
    }
}
