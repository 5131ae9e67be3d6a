//! Dispatch: which program instances (pids) each tile runs, and in what order.
//!
//! Program instances are numbered linearly, `x` fastest:
//! `p = x + gx·(y + gy·z)` for a grid `gx × gy × gz`. Tiles are numbered
//! globally (`cluster × tiles_per_cluster + local`). A tile runs its
//! instances one after another, each from the first instruction of the
//! tile program with fresh registers and tile semaphores; `halt` ends an
//! instance after draining the tile's engines.
//!
//! A *persistent* binary instead runs once on each tile that round robin
//! would give an instance, and loops over that tile's instances itself
//! (the compiler's `instance-loop` pass): the program can then overlap one
//! instance's DMA with another's compute, which `halt`'s drain forbids.

use std::fmt;

/// The dispatch policy recorded in a binary.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dispatch {
    /// Instance `p` runs on tile `p mod T`, instances in increasing order,
    /// where `T` is `tiles` (0: every tile of the machine).
    RoundRobin { tiles: u32 },
    /// Tile `t` runs the contiguous range `[t·c, (t+1)·c)` with
    /// `c = ceil(P / T)` (the last tiles may get fewer or none).
    Blocked { tiles: u32 },
    /// Round robin's assignment run by the program itself: tile `t` runs
    /// once when `t < min(P, T)`, with the program ids of instance `t`,
    /// and its program loops over instances `t, t + T, t + 2T, …` (so it
    /// must know `T`: `tiles` is never 0 in a compiled binary; 0 means
    /// every tile of the machine).
    Persistent { tiles: u32 },
    /// An explicit assignment for one grid: `tiles[t]` lists the linear
    /// instance numbers tile `t` runs, in order. Launching with another
    /// grid is an error.
    Explicit {
        grid: [u32; 3],
        tiles: Vec<Vec<u32>>,
    },
}

/// Why a dispatch cannot be applied to a launch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    #[error("the dispatch uses {wanted} tiles but the machine has {available}")]
    TooManyTiles { wanted: u32, available: u32 },
    #[error("the binary's dispatch was made for grid {expected:?}, not {actual:?}")]
    GridMismatch {
        expected: [u32; 3],
        actual: [u32; 3],
    },
    #[error(
        "the explicit dispatch runs instance {pid} {count} times (each must run exactly once)"
    )]
    NotAPartition { pid: u64, count: u32 },
    #[error("grid {0:?} has more than 2^32 program instances")]
    GridTooLarge([u32; 3]),
}

impl Dispatch {
    /// The `[x, y, z]` program id of linear instance `p` in `grid`.
    pub fn program_id(grid: [u32; 3], p: u64) -> [u32; 3] {
        let gx = u64::from(grid[0].max(1));
        let gy = u64::from(grid[1].max(1));
        [
            (p % gx) as u32,
            ((p / gx) % gy) as u32,
            (p / (gx * gy)) as u32,
        ]
    }

    /// Number of tiles the policy spreads over on a machine with
    /// `machine_tiles` tiles.
    pub fn tiles_used(&self, machine_tiles: u32) -> u32 {
        match self {
            Dispatch::RoundRobin { tiles }
            | Dispatch::Blocked { tiles }
            | Dispatch::Persistent { tiles } => {
                if *tiles == 0 {
                    machine_tiles
                } else {
                    *tiles
                }
            }
            Dispatch::Explicit { tiles, .. } => tiles.len() as u32,
        }
    }

    /// For every tile of the machine, the program ids it runs, in order.
    pub fn assign(
        &self,
        grid: [u32; 3],
        machine_tiles: u32,
    ) -> Result<Vec<Vec<[u32; 3]>>, DispatchError> {
        let used = self.tiles_used(machine_tiles);
        if used > machine_tiles {
            return Err(DispatchError::TooManyTiles {
                wanted: used,
                available: machine_tiles,
            });
        }
        let total = grid.iter().map(|&g| u64::from(g)).product::<u64>();
        if total > u64::from(u32::MAX) {
            return Err(DispatchError::GridTooLarge(grid));
        }
        let mut per_tile = vec![Vec::new(); machine_tiles as usize];
        let used = u64::from(used.max(1));
        match self {
            Dispatch::RoundRobin { .. } => {
                for p in 0..total {
                    per_tile[(p % used) as usize].push(Dispatch::program_id(grid, p));
                }
            }
            Dispatch::Persistent { .. } => {
                for p in 0..total.min(used) {
                    per_tile[p as usize].push(Dispatch::program_id(grid, p));
                }
            }
            Dispatch::Blocked { .. } => {
                let chunk = total.div_ceil(used).max(1);
                for p in 0..total {
                    per_tile[(p / chunk) as usize].push(Dispatch::program_id(grid, p));
                }
            }
            Dispatch::Explicit {
                grid: expected,
                tiles,
            } => {
                if *expected != grid {
                    return Err(DispatchError::GridMismatch {
                        expected: *expected,
                        actual: grid,
                    });
                }
                let mut seen = vec![0u32; total as usize];
                for (t, pids) in tiles.iter().enumerate() {
                    for &p in pids {
                        match seen.get_mut(p as usize) {
                            Some(count) => *count += 1,
                            None => {
                                return Err(DispatchError::NotAPartition {
                                    pid: u64::from(p),
                                    count: 1,
                                })
                            }
                        }
                        per_tile[t].push(Dispatch::program_id(grid, u64::from(p)));
                    }
                }
                if let Some((pid, &count)) = seen.iter().enumerate().find(|(_, &c)| c != 1) {
                    return Err(DispatchError::NotAPartition {
                        pid: pid as u64,
                        count,
                    });
                }
            }
        }
        Ok(per_tile)
    }
}

impl fmt::Display for Dispatch {
    /// `round_robin tiles=0`, `blocked tiles=16`,
    /// `explicit grid=[4,1,1] tiles=[[0,2],[1,3]]` (the assembly syntax).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dispatch::RoundRobin { tiles } => write!(f, "round_robin tiles={tiles}"),
            Dispatch::Blocked { tiles } => write!(f, "blocked tiles={tiles}"),
            Dispatch::Persistent { tiles } => write!(f, "persistent tiles={tiles}"),
            Dispatch::Explicit { grid, tiles } => {
                write!(
                    f,
                    "explicit grid=[{},{},{}] tiles=[",
                    grid[0], grid[1], grid[2]
                )?;
                for (t, pids) in tiles.iter().enumerate() {
                    if t > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str("[")?;
                    for (i, p) in pids.iter().enumerate() {
                        if i > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{p}")?;
                    }
                    f.write_str("]")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_partition_the_grid() {
        let rr = Dispatch::RoundRobin { tiles: 0 }
            .assign([5, 1, 1], 2)
            .unwrap();
        assert_eq!(rr[0], vec![[0, 0, 0], [2, 0, 0], [4, 0, 0]]);
        assert_eq!(rr[1], vec![[1, 0, 0], [3, 0, 0]]);
        let blocked = Dispatch::Blocked { tiles: 2 }.assign([2, 2, 1], 4).unwrap();
        assert_eq!(blocked[0], vec![[0, 0, 0], [1, 0, 0]]);
        assert_eq!(blocked[1], vec![[0, 1, 0], [1, 1, 0]]);
        assert!(blocked[2].is_empty());
        let persistent = Dispatch::Persistent { tiles: 2 }
            .assign([5, 1, 1], 3)
            .unwrap();
        assert_eq!(persistent[0], vec![[0, 0, 0]]);
        assert_eq!(persistent[1], vec![[1, 0, 0]]);
        assert!(persistent[2].is_empty());
        let one = Dispatch::Persistent { tiles: 4 }
            .assign([1, 1, 1], 4)
            .unwrap();
        assert_eq!(one.iter().filter(|t| !t.is_empty()).count(), 1);
        let explicit = Dispatch::Explicit {
            grid: [2, 1, 1],
            tiles: vec![vec![1], vec![0]],
        };
        assert_eq!(explicit.assign([2, 1, 1], 2).unwrap()[0], vec![[1, 0, 0]]);
    }

    #[test]
    fn rejects_bad_assignments() {
        assert!(Dispatch::RoundRobin { tiles: 9 }
            .assign([4, 1, 1], 8)
            .is_err());
        let dup = Dispatch::Explicit {
            grid: [2, 1, 1],
            tiles: vec![vec![0, 0]],
        };
        assert!(matches!(
            dup.assign([2, 1, 1], 1),
            Err(DispatchError::NotAPartition { .. })
        ));
        let missing = Dispatch::Explicit {
            grid: [2, 1, 1],
            tiles: vec![vec![0]],
        };
        assert!(missing.assign([2, 1, 1], 1).is_err());
        assert!(missing.assign([3, 1, 1], 1).is_err());
        assert_eq!(Dispatch::program_id([2, 3, 4], 2 * 3 + 3), [1, 1, 1]);
    }
}
