//! The compile driver: TTIR → cleanup passes → lowering → tile-IR passes
//! (egg fusion) → scheduling → codegen → an `isa::Module`.
//!
//! [`PassManager`] owns the pass lists of the two IR levels a library user
//! can extend — TTIR (after parsing, before lowering) and tile IR (after
//! lowering, before scheduling) — and runs the fixed stages in between.
//! Insert your own [`Pass`] with [`PassManager::ttir_passes`] /
//! [`PassManager::tile_passes`] (`add`, `insert_after`); docs/custom-passes.md
//! walks through an example (examples/custom_pass.rs).
//!
//! [`Compiled`] keeps the text of every stage (`--emit ttir|tile|sched|asm`)
//! and the final module (`--emit bin`).

use maiac_backend::isa;
use maiac_backend::machine::Machine;
use maiac_ir::{Diagnostic, Module};

pub use crate::pass::{IrLevel, Pass, PassContext, PassList};
use crate::tile::TileKernel;

// `impl IrLevel for TileKernel` (rendering with `tile::render`) lives in
// crate::fuse, next to the passes over tile IR.

/// What a compile keeps and prints.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Collect the IR after every pass and stage (`--print-ir-after-all`);
    /// the dumps land in [`Compiled::dumps`].
    pub print_ir_after_all: bool,
}

/// The stages whose output `maiac compile --emit` can print.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// TTIR after the cleanup passes.
    Ttir,
    /// Tile IR after lowering and the tile-IR passes.
    Tile,
    /// The scheduled program (registers, buffer placement, semaphores).
    Sched,
    /// ISA assembly text.
    Asm,
    /// The kernel binary.
    Bin,
}

impl Stage {
    pub fn parse(s: &str) -> Result<Stage, String> {
        Ok(match s {
            "ttir" => Stage::Ttir,
            "tile" => Stage::Tile,
            "sched" => Stage::Sched,
            "asm" => Stage::Asm,
            "bin" => Stage::Bin,
            other => {
                return Err(format!(
                    "--emit takes ttir, tile, sched, asm or bin, not `{other}`"
                ))
            }
        })
    }
}

/// The result of a compile: the text of each stage that ran and the module.
#[derive(Debug)]
pub struct Compiled {
    /// TTIR after the cleanup passes.
    pub ttir: String,
    /// The final tile IR (after the tile-IR passes).
    pub tile: TileKernel,
    /// The scheduled program as text (empty when the compile stopped earlier).
    pub sched: String,
    /// The kernel module (when the compile ran to the end).
    pub module: Option<isa::Module>,
    /// `(pass or stage name, IR text)` after every pass, with
    /// `print_ir_after_all`.
    pub dumps: Vec<(String, String)>,
    /// Names of the passes and stages that ran, in order.
    pub ran: Vec<String>,
}

impl Compiled {
    /// The text of `stage` (`Bin` has none: write [`Compiled::module`]).
    pub fn text(&self, stage: Stage) -> Option<String> {
        match stage {
            Stage::Ttir => Some(self.ttir.clone()),
            Stage::Tile => Some(self.tile.render()),
            Stage::Sched => Some(self.sched.clone()),
            Stage::Asm => self.module.as_ref().map(maiac_backend::asm::disassemble),
            Stage::Bin => None,
        }
    }
}

/// The pipeline with its two extensible pass lists.
pub struct PassManager {
    ttir: PassList<Module>,
    tile: PassList<TileKernel>,
    /// The last stage to run (`Bin` by default).
    stop_after: Stage,
}

impl PassManager {
    /// The default pipeline for `machine`: the TTIR cleanup passes, then the
    /// fusion passes over tile IR.
    pub fn new(machine: &Machine) -> PassManager {
        // Inlining first, so that cleanup sees through the helpers.
        let mut ttir = crate::passes::cleanup_passes();
        let first = ttir.names().first().cloned().unwrap_or_default();
        ttir.insert_before(&first, Box::new(InlineCalls));
        PassManager {
            ttir,
            tile: default_tile_passes(machine),
            stop_after: Stage::Bin,
        }
    }

    /// The TTIR passes (run before lowering), to add or insert passes.
    pub fn ttir_passes(&mut self) -> &mut PassList<Module> {
        &mut self.ttir
    }

    /// The tile-IR passes (run after lowering, before scheduling).
    pub fn tile_passes(&mut self) -> &mut PassList<TileKernel> {
        &mut self.tile
    }

    /// Stops after `stage` (e.g. `Stage::Tile` to inspect the tile IR of a
    /// kernel the scheduler cannot place yet).
    pub fn stop_after(&mut self, stage: Stage) -> &mut Self {
        self.stop_after = stage;
        self
    }

    /// Compiles the kernel of `module` (the public function, or the only
    /// one) for `machine`. The module is modified in place by the TTIR
    /// passes.
    pub fn compile(
        &mut self,
        module: &mut Module,
        machine: &Machine,
        opts: &CompileOptions,
    ) -> Result<Compiled, Diagnostic> {
        let mut cx = PassContext {
            print_ir_after_all: opts.print_ir_after_all,
            ..PassContext::default()
        };
        self.ttir.run(module, &mut cx)?;
        let ttir = module.render();
        if self.stop_after == Stage::Ttir {
            return Ok(Compiled {
                ttir,
                tile: TileKernel::default(),
                sched: String::new(),
                module: None,
                dumps: cx.dumps,
                ran: cx.ran,
            });
        }
        let func = kernel_function(module)?;
        let mut tile = crate::lower::lower(module, func, machine)?;
        cx.ran.push("lower".to_string());
        if cx.print_ir_after_all {
            cx.dumps.push(("lower".to_string(), tile.render()));
        }
        // Tile-IR passes, scheduling and codegen know ops only by their
        // debug locations: name the TTIR file in what they report.
        let source_name = module.source_name.clone();
        let locate = |mut d: Diagnostic| {
            if d.file.is_empty() {
                d.file = source_name.clone();
            }
            d
        };
        self.tile.run(&mut tile, &mut cx).map_err(locate)?;
        let mut compiled = Compiled {
            ttir,
            tile,
            sched: String::new(),
            module: None,
            dumps: Vec::new(),
            ran: Vec::new(),
        };
        if self.stop_after > Stage::Tile {
            let (sched, module) =
                schedule_and_emit(&compiled.tile, machine, &mut cx).map_err(locate)?;
            compiled.sched = sched;
            compiled.module = module;
        }
        compiled.dumps = cx.dumps;
        compiled.ran = cx.ran;
        Ok(compiled)
    }
}

/// Compiles with the default pipeline ([`PassManager::new`]).
pub fn compile_module(
    module: &mut Module,
    machine: &Machine,
    opts: &CompileOptions,
) -> Result<Compiled, Diagnostic> {
    PassManager::new(machine).compile(module, machine, opts)
}

/// The tile-IR passes of the default pipeline.
fn default_tile_passes(machine: &Machine) -> PassList<TileKernel> {
    let mut list = crate::fuse::passes(machine);
    list.add(crate::sched::ClusterStage::new(machine.clone()))
        .add(crate::sched::InstanceLoop::new(machine.clone()))
        .add(crate::sched::DoubleBuffer::new(machine.clone()))
        .add(crate::sched::SplitArms::new(machine.clone()));
    list
}

/// Scheduling and code generation (the stages after the tile-IR passes).
fn schedule_and_emit(
    tile: &TileKernel,
    machine: &Machine,
    cx: &mut PassContext,
) -> Result<(String, Option<isa::Module>), Diagnostic> {
    let scheduled = crate::sched::schedule(tile, machine)?;
    let sched = scheduled.render();
    cx.ran.push("schedule".to_string());
    if cx.print_ir_after_all {
        cx.dumps.push(("schedule".to_string(), sched.clone()));
    }
    let module = crate::codegen::emit(&scheduled, machine)?;
    cx.ran.push("codegen".to_string());
    if cx.print_ir_after_all {
        cx.dumps.push((
            "codegen".to_string(),
            maiac_backend::asm::disassemble(&module),
        ));
    }
    Ok((sched, Some(module)))
}

/// The function to compile: the public one (or the only one).
pub fn kernel_function(module: &Module) -> Result<maiac_ir::Op, Diagnostic> {
    module.kernel().ok_or_else(|| {
        Diagnostic::new("the module has no kernel function (a public tt.func)")
            .at(&module.source_name, None)
    })
}

/// Inlines every `tt.call` of the kernel (callees of one reachable block
/// ending in `tt.return`), so the access analysis, the cleanup passes and
/// the reduction lowering see one function: Triton's frontend calls helpers
/// even from reduction combiners (`tl.max` → `@_elementwise_max`). Calls it
/// cannot inline stay, and the lowering inlines or refuses them.
pub struct InlineCalls;

impl Pass<Module> for InlineCalls {
    fn name(&self) -> &str {
        "inline-calls"
    }

    fn run(&mut self, module: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let kernel = kernel_function(module)?;
        // Each round inlines one level of calls; recursion stops at the
        // interpreter's call-depth limit.
        for _ in 0..crate::interp::MAX_CALL_DEPTH {
            let calls: Vec<maiac_ir::Op> = crate::passes::rewrite::function_ops(module, kernel)
                .into_iter()
                .filter(|&op| module.dfg.opcode(op) == maiac_ir::Opcode::Call)
                .collect();
            let mut inlined = false;
            for call in calls {
                inlined |= inline_call(module, kernel, call);
            }
            if !inlined {
                break;
            }
        }
        Ok(())
    }
}

/// Inlines one call; false when the callee is not a single straight block.
fn inline_call(module: &mut Module, kernel: maiac_ir::Op, call: maiac_ir::Op) -> bool {
    use maiac_ir::{Attribute, Opcode};
    let callee = match module.dfg.attr(call, "callee") {
        Some(Attribute::Symbol(name) | Attribute::String(name)) => name.clone(),
        _ => return false,
    };
    let Some(func) = module.function(&callee) else {
        return false;
    };
    if func == kernel {
        return false;
    }
    let Some(entry) = module.func_entry(func) else {
        return false;
    };
    let Some(ret) = module.layout.terminator(entry) else {
        return false;
    };
    let params = module.dfg.blocks[entry].args.clone();
    let args = module.dfg.operands(call).to_vec();
    if module.dfg.opcode(ret) != Opcode::Return || params.len() != args.len() {
        return false;
    }
    let mut map: std::collections::HashMap<maiac_ir::Value, maiac_ir::Value> =
        params.into_iter().zip(args).collect();
    let body: Vec<maiac_ir::Op> = module
        .layout
        .ops(entry)
        .iter()
        .copied()
        .filter(|&op| op != ret)
        .collect();
    for op in body {
        let copy = clone_op(module, op, &mut map);
        module.layout.insert_op_before(copy, call);
    }
    let returned: Vec<maiac_ir::Value> = module
        .dfg
        .operands(ret)
        .iter()
        .map(|v| map.get(v).copied().unwrap_or(*v))
        .collect();
    let results = module.dfg.results(call).to_vec();
    if returned.len() != results.len() {
        return false;
    }
    let subst = results.into_iter().zip(returned).collect();
    crate::passes::rewrite::substitute_function(module, kernel, &subst);
    crate::passes::rewrite::erase_op(module, call);
    true
}

/// A deep copy of `op` (its regions included) with operands renamed
/// through `map`; the copy's results and block arguments join `map`.
fn clone_op(
    module: &mut Module,
    op: maiac_ir::Op,
    map: &mut std::collections::HashMap<maiac_ir::Value, maiac_ir::Value>,
) -> maiac_ir::Op {
    let data = module.dfg.ops[op].clone();
    let operands: Vec<maiac_ir::Value> = module
        .dfg
        .operands(op)
        .iter()
        .map(|v| map.get(v).copied().unwrap_or(*v))
        .collect();
    let types: Vec<maiac_ir::Type> = module
        .dfg
        .results(op)
        .iter()
        .map(|&r| module.dfg.value_type(r).clone())
        .collect();
    let copy = module
        .dfg
        .make_op(data.opcode, &operands, &types, data.attrs.clone(), data.loc);
    module.dfg.ops[copy].pos = data.pos;
    // Branch targets are remapped once the copied region's blocks exist.
    module.dfg.ops[copy].successors = data.successors.clone();
    let old_results = module.dfg.results(op).to_vec();
    let new_results = module.dfg.results(copy).to_vec();
    map.extend(old_results.into_iter().zip(new_results));
    for region in data.regions {
        let new_region = module.dfg.make_region(copy);
        let mut block_map = std::collections::HashMap::new();
        for block in module.layout.blocks(region).to_vec() {
            let arg_types: Vec<maiac_ir::Type> = module.dfg.blocks[block]
                .args
                .iter()
                .map(|&a| module.dfg.value_type(a).clone())
                .collect();
            let new_block = module.dfg.make_block(Some(new_region), &arg_types);
            block_map.insert(block, new_block);
            let (old_args, new_args) = (
                module.dfg.blocks[block].args.clone(),
                module.dfg.blocks[new_block].args.clone(),
            );
            map.extend(old_args.into_iter().zip(new_args));
            module.layout.append_block(new_region, new_block);
            for inner in module.layout.ops(block).to_vec() {
                let inner_copy = clone_op(module, inner, map);
                module.layout.append_op(new_block, inner_copy);
            }
        }
        // A multi-block region (a `tt.map_elementwise` CFG) branches among
        // its own blocks: point the copies' branches at the copied blocks.
        for &block in module.layout.blocks(new_region).to_vec().iter() {
            if let Some(term) = module.layout.terminator(block) {
                for succ in module.dfg.ops[term].successors.iter_mut() {
                    if let Some(&new) = block_map.get(succ) {
                        *succ = new;
                    }
                }
            }
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fixture kernel lowers to tile IR (run with `--ignored
    /// --nocapture` for the list; the end-to-end check is
    /// tests/compile_fixtures.rs).
    #[test]
    #[ignore]
    fn lower_every_fixture() {
        let machine = maiac_backend::machine::resolve("maia200-like").expect("built-in machine");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut dirs: Vec<_> = ["corpus", "kernels"]
            .iter()
            .flat_map(|d| std::fs::read_dir(root.join(d)).into_iter().flatten())
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        dirs.sort();
        let (mut ok, mut failed) = (0, 0);
        for dir in dirs {
            let path = dir.join("kernel.ttir");
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let mut module = match maiac_ir::check::check_text(&text, &path.display().to_string()) {
                Ok(m) => m,
                Err(_) => continue,
            };
            let mut pm = PassManager::new(&machine);
            pm.stop_after(Stage::Tile);
            *pm.tile_passes() = PassList::new();
            match pm.compile(&mut module, &machine, &CompileOptions::default()) {
                Ok(_) => ok += 1,
                Err(d) => {
                    failed += 1;
                    eprintln!(
                        "FAIL {}: {}",
                        dir.display(),
                        d.render(Some(&text)).lines().next().unwrap_or("")
                    );
                }
            }
        }
        eprintln!("lowered {ok}, failed {failed}");
    }
}
