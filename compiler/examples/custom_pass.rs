//! Adding your own pass to the maiac pipeline.
//!
//! Two passes, one per extensible IR level:
//! - `count-arith` over TTIR (runs after the cleanup passes, before
//!   lowering): counts the `arith.*` ops left after cleanup;
//! - `fold-self-moves` over tile IR (runs after lowering, right before the
//!   egg fusion pass): deletes `mov rX, rX`, which does nothing.
//!
//! Run with `cargo run -p maiac-compiler --example custom_pass [KERNEL.ttir]`
//! (default: the vec_add fixture). docs/custom-passes.md walks through it.

use maiac_compiler::driver::{CompileOptions, PassManager, Stage};
use maiac_compiler::pass::{Pass, PassContext};
use maiac_compiler::tile::{SOp, TOp, TOpKind, TileKernel};
use maiac_ir::{Diagnostic, Module};

/// Counts the `arith.*` ops of the module (a read-only TTIR pass).
struct CountArith {
    count: usize,
}

impl Pass<Module> for CountArith {
    fn name(&self) -> &str {
        "count-arith"
    }

    fn run(&mut self, module: &mut Module, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let mut count = 0;
        module.walk(&mut |op| {
            if module.dfg.opcode(op).name().starts_with("arith.") {
                count += 1;
            }
        });
        self.count = count;
        eprintln!("count-arith: {count} arith ops after cleanup");
        Ok(())
    }
}

/// Removes `mov rX, rX` everywhere, nested bodies included.
struct FoldSelfMoves;

fn fold(body: &mut Vec<TOp>) -> usize {
    let before = body.len();
    body.retain(|op| !matches!(op.kind, TOpKind::Mov { dst, src: SOp::Reg(src) } if dst == src));
    let mut removed = before - body.len();
    for op in body.iter_mut() {
        for nested in op.kind.bodies_mut() {
            removed += fold(nested);
        }
    }
    removed
}

impl Pass<TileKernel> for FoldSelfMoves {
    fn name(&self) -> &str {
        "fold-self-moves"
    }

    fn run(&mut self, kernel: &mut TileKernel, _cx: &mut PassContext) -> Result<(), Diagnostic> {
        let removed = fold(&mut kernel.body);
        eprintln!("fold-self-moves: removed {removed} moves");
        Ok(())
    }
}

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/corpus/vec_add/kernel.ttir"
        )
        .to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(1)
    });
    let mut module = match maiac_ir::check::check_text(&text, &path) {
        Ok(m) => m,
        Err(diags) => {
            for d in diags {
                eprint!("{}", d.render(Some(&text)));
            }
            std::process::exit(1)
        }
    };
    let machine =
        maiac_backend::machine::resolve_or_default(None).expect("the default machine exists");

    let mut pm = PassManager::new(&machine);
    // TTIR: after the last cleanup pass.
    pm.ttir_passes().add(CountArith { count: 0 });
    // Tile IR: right before the built-in fusion pass.
    eprintln!(
        "built-in tile passes: {}",
        pm.tile_passes().names().join(", ")
    );
    pm.tile_passes()
        .insert_before("egg-fusion", Box::new(FoldSelfMoves));
    pm.stop_after(Stage::Tile);

    match pm.compile(&mut module, &machine, &CompileOptions::default()) {
        Ok(compiled) => {
            eprintln!("passes that ran: {}", compiled.ran.join(", "));
            print!("{}", compiled.text(Stage::Tile).unwrap_or_default());
        }
        Err(d) => {
            eprint!("{}", d.render(Some(&text)));
            std::process::exit(1)
        }
    }
}
