//! Pointer provenance: through which kernel arguments a function may write
//! (and read).
//!
//! Each argument of the launch contract is its own HBM buffer, so a load
//! through argument `i` can only see a write of the same launch if some
//! store, atomic, descriptor store or call writes through a pointer derived
//! from `i`. [`written_args`] over-approximates that set; a buffer outside
//! it is read-only for the whole launch, which is what lets the scheduler
//! stage its loads once per cluster (`sched::cluster_stage`) instead of once
//! per program instance.
//!
//! Every pointer-like value (pointer, tensor of pointers, block pointer,
//! tensor descriptor) gets the set of arguments it may derive from:
//!
//! - a function argument of the kernel: itself;
//! - an op result: the union over the op's pointer-like operands (this
//!   covers `addptr`, `splat`, `broadcast`, `select`, `advance`,
//!   `make_block_ptr`, `make_tensor_descriptor`, reshapes, joins …), or
//!   *unknown* when it has none (`int_to_ptr`) or when the op reads the
//!   pointer from memory or from another function (`tt.load`, atomics,
//!   `tt.call`);
//! - a region argument or a result of an op with regions (`scf.for`
//!   iter_args, `scf.while`, `scf.if` results): the union over the op's
//!   pointer-like operands and every pointer-like operand of the
//!   terminators of its regions (more than the exact init/yield pairing,
//!   but sound), solved to a fixpoint.
//!
//! Arguments of any function other than the kernel are unknown (a callee
//! can be called with any pointer). A write through an unknown pointer
//! makes every argument written.

use std::collections::{BTreeSet, HashMap};

use maiac_ir::{Module, Op, Opcode, Type, Value};

/// What a pointer-like value may derive from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Roots {
    args: BTreeSet<u32>,
    unknown: bool,
}

impl Roots {
    fn unknown() -> Roots {
        Roots {
            args: BTreeSet::new(),
            unknown: true,
        }
    }

    /// Adds `other`; whether anything changed.
    fn absorb(&mut self, other: &Roots) -> bool {
        let before = (self.args.len(), self.unknown);
        self.args.extend(other.args.iter().copied());
        self.unknown |= other.unknown;
        before != (self.args.len(), self.unknown)
    }
}

/// Whether values of `ty` hold (or are) pointers.
fn pointer_like(ty: &Type) -> bool {
    match ty {
        Type::Ptr { .. } | Type::TensorDesc { .. } => true,
        Type::Tensor { .. } => pointer_like(ty.element()),
        _ => false,
    }
}

/// Ops whose pointer-like results come from memory or from a callee, not
/// from their operands.
fn opaque_results(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::Load
            | Opcode::AtomicRmw
            | Opcode::AtomicCas
            | Opcode::DescriptorLoad
            | Opcode::DescriptorGather
            | Opcode::Call
    )
}

/// Ops that write memory through their pointer-like operands.
fn writes_through_operands(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::Store
            | Opcode::AtomicRmw
            | Opcode::AtomicCas
            | Opcode::DescriptorStore
            | Opcode::DescriptorScatter
            | Opcode::DescriptorReduce
            | Opcode::Call
    )
}

/// Ops that read memory through their pointer-like operands.
fn reads_through_operands(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::Load
            | Opcode::AtomicRmw
            | Opcode::AtomicCas
            | Opcode::DescriptorLoad
            | Opcode::DescriptorGather
            | Opcode::DescriptorReduce
            | Opcode::Call
    )
}

/// Per argument of `kernel` (a function of `m`): whether any function of
/// the module may write memory through a pointer derived from it.
pub fn written_args(m: &Module, kernel: Op) -> Vec<bool> {
    accessed_args(m, kernel, writes_through_operands)
}

/// Per argument of `kernel`: whether any function of the module may read
/// memory through a pointer derived from it. A kernel that reads no
/// argument it writes has no read-after-write through memory, which lets
/// the scheduler move its loads ahead of its stores (`sched::double_buffer`).
pub fn read_args(m: &Module, kernel: Op) -> Vec<bool> {
    accessed_args(m, kernel, reads_through_operands)
}

/// Per argument: whether an op `accesses` selects may touch memory through
/// a pointer derived from it.
fn accessed_args(m: &Module, kernel: Op, accesses: fn(Opcode) -> bool) -> Vec<bool> {
    let (params, _) = m.func_signature(kernel);
    let mut roots: HashMap<Value, Roots> = HashMap::new();
    for func in m.functions() {
        let Some(entry) = m.func_entry(func) else {
            continue;
        };
        for (i, &v) in m.dfg.blocks[entry].args.iter().enumerate() {
            let r = if func == kernel {
                Roots {
                    args: BTreeSet::from([i as u32]),
                    unknown: false,
                }
            } else {
                Roots::unknown()
            };
            roots.insert(v, r);
        }
    }
    let mut ops = Vec::new();
    m.walk(&mut |op| ops.push(op));
    // The lattice is finite (subsets of the arguments plus "unknown") and
    // every step only grows a set, so this terminates.
    loop {
        let mut changed = false;
        for &op in &ops {
            changed |= step(m, op, &mut roots);
        }
        if !changed {
            break;
        }
    }
    let mut written = vec![false; params.len()];
    for &op in &ops {
        if !accesses(m.dfg.opcode(op)) {
            continue;
        }
        for v in m.dfg.operands(op) {
            if let Some(r) = roots.get(v) {
                if r.unknown {
                    return vec![true; params.len()];
                }
                for &a in &r.args {
                    if let Some(w) = written.get_mut(a as usize) {
                        *w = true;
                    }
                }
            } else if pointer_like(m.dfg.value_type(*v)) {
                return vec![true; params.len()];
            }
        }
    }
    written
}

/// One transfer step for `op`; whether any set grew.
fn step(m: &Module, op: Op, roots: &mut HashMap<Value, Roots>) -> bool {
    let dfg = &m.dfg;
    let opcode = dfg.opcode(op);
    if opcode == Opcode::Func {
        return false;
    }
    let mut from = Roots::default();
    if opaque_results(opcode) {
        from = Roots::unknown();
    } else {
        let mut pointer_operands = 0;
        for v in dfg.operands(op) {
            if pointer_like(dfg.value_type(*v)) {
                pointer_operands += 1;
                if let Some(r) = roots.get(v) {
                    from.absorb(&r.clone());
                }
            }
        }
        for &region in &dfg.ops[op].regions {
            for &block in m.layout.blocks(region) {
                let Some(term) = m.layout.terminator(block) else {
                    continue;
                };
                for v in dfg.operands(term) {
                    if pointer_like(dfg.value_type(*v)) {
                        pointer_operands += 1;
                        if let Some(r) = roots.get(v) {
                            from.absorb(&r.clone());
                        }
                    }
                }
            }
        }
        if pointer_operands == 0 {
            from = Roots::unknown();
        }
    }
    let mut changed = false;
    let mut targets: Vec<Value> = dfg.results(op).to_vec();
    for &region in &dfg.ops[op].regions {
        for &block in m.layout.blocks(region) {
            targets.extend(dfg.blocks[block].args.iter().copied());
        }
    }
    for v in targets {
        if !pointer_like(dfg.value_type(v)) {
            continue;
        }
        changed |= roots.entry(v).or_default().absorb(&from);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(src: &str) -> Vec<bool> {
        let m = maiac_ir::parser::parse_module(src, "t.ttir").expect("parses");
        let k = m.kernel().expect("kernel");
        written_args(&m, k)
    }

    #[test]
    fn store_marks_only_its_argument() {
        let w = written(
            r#"module {
  tt.func public @k(%x: !tt.ptr<f32>, %y: !tt.ptr<f32>, %n: i32) {
    %r = tt.make_range {end = 16 : i32, start = 0 : i32} : tensor<16xi32>
    %px = tt.splat %x : !tt.ptr<f32> -> tensor<16x!tt.ptr<f32>>
    %ax = tt.addptr %px, %r : tensor<16x!tt.ptr<f32>>, tensor<16xi32>
    %v = tt.load %ax : tensor<16x!tt.ptr<f32>>
    %py = tt.splat %y : !tt.ptr<f32> -> tensor<16x!tt.ptr<f32>>
    %ay = tt.addptr %py, %r : tensor<16x!tt.ptr<f32>>, tensor<16xi32>
    tt.store %ay, %v : tensor<16x!tt.ptr<f32>>
    tt.return
  }
}"#,
        );
        assert_eq!(w, vec![false, true, false]);
    }

    #[test]
    fn select_between_pointers_and_loop_carried_pointers() {
        let w = written(
            r#"module {
  tt.func public @k(%x: !tt.ptr<f32>, %y: !tt.ptr<f32>, %z: !tt.ptr<f32>, %c: i1) {
    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c4 = arith.constant 4 : i32
    %p = arith.select %c, %x, %y : !tt.ptr<f32>
    %q = scf.for %i = %c0 to %c4 step %c1 iter_args(%a = %p) -> (!tt.ptr<f32>) : i32 {
      %b = tt.addptr %a, %c1 : !tt.ptr<f32>, i32
      scf.yield %b : !tt.ptr<f32>
    }
    %f = arith.constant 1.0 : f32
    tt.store %q, %f : !tt.ptr<f32>
    %v = tt.load %z : !tt.ptr<f32>
    tt.return
  }
}"#,
        );
        assert_eq!(w, vec![true, true, false, false]);
    }

    #[test]
    fn a_pointer_loaded_from_memory_is_unknown() {
        let w = written(
            r#"module {
  tt.func public @k(%pp: !tt.ptr<!tt.ptr<f32>>, %y: !tt.ptr<f32>) {
    %p = tt.load %pp : !tt.ptr<!tt.ptr<f32>>
    %f = arith.constant 1.0 : f32
    tt.store %p, %f : !tt.ptr<f32>
    tt.return
  }
}"#,
        );
        assert_eq!(w, vec![true, true]);
    }
}
