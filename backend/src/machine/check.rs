//! Machine limits applied to a module: semaphore numbers, the tiles a
//! dispatch uses, constants that must fit their memories, and whether a
//! binary was built for this machine. Dynamic limits (addresses computed
//! in registers, queue occupancy) are the emulator's to enforce.

use crate::isa::{
    Address, Module, Program, SemRef, SemScope, Space, TvpOp, Unit, UnitSet, VerifyError,
};

use super::Machine;

impl Machine {
    /// Checks `module` against this machine's static limits.
    pub fn check_module(&self, module: &Module) -> Result<(), VerifyError> {
        let err = |location: String, message: String| VerifyError { location, message };
        let used = module.dispatch.tiles_used(self.num_tiles());
        if used > self.num_tiles() {
            return Err(err(
                "dispatch".into(),
                format!(
                    "uses {used} tiles, machine `{}` has {}",
                    self.name,
                    self.num_tiles()
                ),
            ));
        }
        self.check_program(module, &module.tile_program, false)?;
        if let Some(p) = &module.cluster_program {
            self.check_program(module, p, true)?;
        }
        for (i, c) in module.constants.iter().enumerate() {
            let (capacity, units) = match c.space {
                Space::Csram => (self.cluster.csram_bytes, self.clusters),
                _ => (self.tile.tsram_bytes, self.num_tiles()),
            };
            let end = c.offset.checked_add(c.bytes.len() as u64);
            if end.is_none_or(|e| e > capacity) {
                return Err(err(
                    format!("constant {i}"),
                    format!(
                        "{} bytes at {} {:#x} do not fit its {capacity} bytes",
                        c.bytes.len(),
                        c.space,
                        c.offset
                    ),
                ));
            }
            if let UnitSet::List(list) = &c.units {
                if let Some(u) = list.iter().find(|&&u| u >= units) {
                    return Err(err(
                        format!("constant {i}"),
                        format!("unit {u} does not exist ({units} units)"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_program(
        &self,
        module: &Module,
        program: &Program,
        cluster: bool,
    ) -> Result<(), VerifyError> {
        for (pc, instr) in program.code.iter().enumerate() {
            let location = || module.describe_pc(cluster, pc as u32);
            let sems = instr
                .sync
                .waits
                .iter()
                .map(|w| w.sem)
                .chain(instr.sync.signal);
            for sem in sems {
                self.check_sem(sem, cluster)
                    .map_err(|message| VerifyError {
                        location: location(),
                        message,
                    })?;
            }
            if let crate::isa::Op::Tvp(op) = &instr.op {
                self.check_static_views(op).map_err(|message| VerifyError {
                    location: location(),
                    message,
                })?;
            }
        }
        Ok(())
    }

    fn check_sem(&self, sem: SemRef, cluster: bool) -> Result<(), String> {
        let limit = match sem.scope {
            SemScope::Tile if cluster => {
                return Err(format!("{sem}: a cluster program has no tile semaphores"))
            }
            SemScope::Tile => self.tile.semaphores,
            SemScope::Cluster => self.cluster.semaphores,
        };
        if u32::from(sem.index) >= limit {
            return Err(format!(
                "semaphore {sem} does not exist (machine `{}` has {limit})",
                self.name
            ));
        }
        Ok(())
    }

    /// Views at constant addresses must lie inside their memory.
    fn check_static_views(&self, op: &TvpOp) -> Result<(), String> {
        for view in op.reads().into_iter().chain(op.writes()) {
            let (Some(base), Some((lo, hi))) = (view.addr.offset.as_imm(), view.byte_span()) else {
                continue;
            };
            let capacity = self.capacity(&view.addr);
            let (start, end) = (i128::from(base) + lo, i128::from(base) + hi);
            if start < 0 || end > i128::from(capacity) {
                return Err(format!(
                    "view {view} covers bytes {start}..{end}, outside its {capacity}-byte {}",
                    view.addr.space
                ));
            }
        }
        Ok(())
    }

    /// Bytes of the memory an address points into (HBM: the HBM size).
    pub fn capacity(&self, addr: &Address) -> u64 {
        match addr.space {
            Space::Hbm => self.hbm.bytes,
            Space::Csram => self.cluster.csram_bytes,
            Space::Tsram => self.tile.tsram_bytes,
            Space::Acc => self.tile.acc_bytes,
        }
    }

    /// Whether `module` was built for this machine (name and hash match).
    pub fn check_compatible(&self, module: &Module) -> Result<(), String> {
        let hash = self.hash();
        if module.machine.hash != hash {
            return Err(format!(
                "the binary was built for machine `{}` (hash {:016x}), not `{}` (hash {hash:016x}); recompile with --machine {}",
                module.machine.name, module.machine.hash, self.name, self.name
            ));
        }
        Ok(())
    }
}

/// Whether an address names another unit (remote CSRAM or TSRAM).
pub fn is_remote(addr: &Address) -> bool {
    matches!(addr.unit, Unit::Remote(_))
}

#[cfg(test)]
mod tests {
    use crate::isa::*;
    use crate::machine::builtin;

    fn module_with(code: Vec<Instr>) -> Module {
        let m = builtin("tiny").unwrap();
        let mut module = Module::new("k", m.reference());
        module.tile_program = Program::new(code);
        module
    }

    #[test]
    fn semaphores_must_exist() {
        let tiny = builtin("tiny").unwrap();
        let ok = module_with(vec![Instr::with_sync(
            CpOp::Nop.into(),
            Sync::none().signal(SemRef::tile(15)),
        )]);
        assert!(tiny.check_module(&ok).is_ok());
        let bad = module_with(vec![Instr::with_sync(
            CpOp::Nop.into(),
            Sync::none().wait(SemRef::tile(16), 1),
        )]);
        let err = tiny.check_module(&bad).unwrap_err();
        assert!(err.to_string().contains("t16 does not exist"), "{err}");
    }

    #[test]
    fn constants_and_dispatch_must_fit() {
        let tiny = builtin("tiny").unwrap();
        let mut m = module_with(Vec::new());
        m.constants.push(Constant {
            space: Space::Tsram,
            units: UnitSet::All,
            offset: tiny.tile.tsram_bytes - 1,
            bytes: vec![1, 2],
        });
        assert!(tiny.check_module(&m).is_err());
        let mut m = module_with(Vec::new());
        m.dispatch = Dispatch::RoundRobin { tiles: 5 };
        assert!(tiny.check_module(&m).is_err());
        assert!(tiny.check_compatible(&m).is_ok());
        assert!(builtin("maia200-like")
            .unwrap()
            .check_compatible(&m)
            .is_err());
    }
}
