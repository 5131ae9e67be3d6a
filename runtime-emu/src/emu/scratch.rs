//! Per-thread recycled staging vectors for instruction semantics (staged
//! bytes, decoded operands, accumulators).
//!
//! An instruction on a whole tile stages hundreds of kilobytes; freshly
//! allocated, such vectors come from newly mapped pages that fault on
//! first touch, which costs more than the copy itself. [`take`] hands out
//! an empty vector with the capacity of one given back earlier with
//! [`give`]; contents never carry over (the vector is empty).

use std::cell::RefCell;

/// How many vectors of each element type a thread keeps.
const KEPT: usize = 8;

/// Element types with a per-thread pool.
pub trait Recycle: Sized + 'static {
    /// Runs `f` on this thread's pool for `Self`.
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R;
}

macro_rules! recycle {
    ($($t:ty),*) => {$(
        impl Recycle for $t {
            fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R {
                thread_local! {
                    static POOL: RefCell<Vec<Vec<$t>>> = const { RefCell::new(Vec::new()) };
                }
                POOL.with_borrow_mut(f)
            }
        }
    )*};
}

recycle!(u8, f32);

/// An empty vector, with recycled capacity when the pool has some (the
/// largest kept).
pub fn take<T: Recycle>() -> Vec<T> {
    T::with_pool(|pool| {
        let largest = (0..pool.len()).max_by_key(|&i| pool[i].capacity());
        largest.map(|i| pool.swap_remove(i)).unwrap_or_default()
    })
}

/// Gives a vector's memory back for a later [`take`] on this thread.
pub fn give<T: Recycle>(mut v: Vec<T>) {
    v.clear();
    if v.capacity() == 0 {
        return;
    }
    T::with_pool(|pool| {
        if pool.len() < KEPT {
            pool.push(v);
        } else if let Some(smallest) = (0..pool.len()).min_by_key(|&i| pool[i].capacity()) {
            if pool[smallest].capacity() < v.capacity() {
                pool[smallest] = v;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_vectors_are_empty_and_reuse_capacity() {
        let mut v: Vec<u8> = take();
        v.extend_from_slice(&[1, 2, 3]);
        v.reserve(1000);
        let cap = v.capacity();
        give(v);
        let w: Vec<u8> = take();
        assert!(w.is_empty());
        assert_eq!(w.capacity(), cap);
    }
}
