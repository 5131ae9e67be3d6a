//! Compile time of the corpus kernels (the copies under
//! tests/fixtures/corpus): read, parse, verify, every TTIR and tile pass
//! (egg runners included), scheduling, codegen and binary encoding for
//! `maia200-like` — what `maiac compile KERNEL.ttir` does minus process
//! start-up. The target (well under 100 ms per kernel as a whole process)
//! and the figures are in docs/performance.md under "Compiler".

use std::path::PathBuf;

use maiac_backend::machine::resolve;
use maiac_compiler::cli::compile_file;
use maiac_compiler::driver::CompileOptions;

fn main() {
    divan::main();
}

/// The corpus kernels, by fixture folder name.
const CORPUS: &[&str] = &[
    "embedding_gather",
    "layernorm",
    "matmul_f16",
    "matmul_fp8_e4m3",
    "quant_fp8_rows",
    "softmax_rows",
    "transpose2d",
    "vec_add",
];

fn kernel_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/corpus")
        .join(name)
        .join("kernel.ttir")
}

#[divan::bench(args = CORPUS, sample_count = 20)]
fn compile(bencher: divan::Bencher, name: &str) {
    let machine = resolve("maia200-like").expect("the default machine");
    let path = kernel_path(name);
    let opts = CompileOptions::default();
    bencher.bench_local(|| {
        let compiled = compile_file(&path, &machine, &opts).unwrap_or_else(|e| panic!("{e}"));
        let module = compiled.module.expect("compiled to a module");
        maiac_backend::binary::encode(&module).expect("an encodable module")
    });
}
