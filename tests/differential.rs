//! Differential testing: random TTIR kernels, compiled and emulated, must
//! write exactly the bytes the reference interpreter writes.
//!
//! proptest generates kernels from four families that cover the pipeline's
//! main paths — masked elementwise chains (f32, i32, f16), row reductions
//! (sum/max, float and integer), a `tt.dot` accumulated over an `scf.for`
//! loop, and a masked 2-D transpose-copy — with random block sizes, problem
//! sizes (so masks cut partial blocks), op chains and input data. Each kernel
//! runs through `maiac interp`'s engine and through `maiac compile` + the
//! emulator on the `tiny` and `maia200-like` machines.
//!
//! Tolerance: none. maiac's compiled code evaluates every elementwise op with
//! the interpreter's own semantics, reductions and dots in the interpreter's
//! order, and the fusion rules never reassociate floating-point arithmetic,
//! so every output byte must match — floats included.

use maiac_backend::machine::{self, Machine};
use maiac_compiler::driver::{compile_module, CompileOptions};
use maiac_compiler::interp::{kernel_params, run_kernel};
use maiac_ir::check_text;
use maiac_runtime_emu::emu::{run, RunOptions};
use maiac_runtime_emu::launch::{bind, ArgValue, Grid, HostBuffer, LaunchSpec, NpyDtype};
use proptest::prelude::*;

/// An element type of the generated kernels.
#[derive(Copy, Clone, Debug)]
enum Elem {
    F32,
    F16,
    I32,
}

impl Elem {
    fn ttir(self) -> &'static str {
        match self {
            Elem::F32 => "f32",
            Elem::F16 => "f16",
            Elem::I32 => "i32",
        }
    }

    fn npy(self) -> NpyDtype {
        match self {
            Elem::F32 => NpyDtype::new('f', 4),
            Elem::F16 => NpyDtype::new('f', 2),
            Elem::I32 => NpyDtype::new('i', 4),
        }
    }

    fn bytes(self) -> usize {
        match self {
            Elem::F16 => 2,
            _ => 4,
        }
    }

    fn is_float(self) -> bool {
        !matches!(self, Elem::I32)
    }
}

/// One op of an elementwise chain: `(mnemonic, arity)`; operands index
/// earlier values.
fn ops_for(elem: Elem) -> &'static [(&'static str, usize)] {
    if elem.is_float() {
        &[
            ("arith.addf", 2),
            ("arith.subf", 2),
            ("arith.mulf", 2),
            ("arith.divf", 2),
            ("arith.maximumf", 2),
            ("arith.minnumf", 2),
            ("arith.negf", 1),
            ("math.exp", 1),
            ("math.absf", 1),
            ("math.sqrt", 1),
            ("select_gt", 2),
        ]
    } else {
        &[
            ("arith.addi", 2),
            ("arith.subi", 2),
            ("arith.muli", 2),
            ("arith.xori", 2),
            ("arith.andi", 2),
            ("arith.maxsi", 2),
            ("arith.minui", 2),
            ("arith.divsi", 2),
            ("arith.remsi", 2),
            ("select_gt", 2),
        ]
    }
}

/// A generated kernel with its launch.
#[derive(Clone, Debug)]
struct Generated {
    ttir: String,
    grid: [u32; 3],
    /// `(name, value)`: buffers and scalars in parameter order.
    args: Vec<(String, ArgValue)>,
}

fn buffer(elem: Elem, shape: Vec<usize>, data: &[u32]) -> ArgValue {
    let mut bytes = Vec::new();
    for &bits in data {
        match elem {
            Elem::F32 => {
                // Small finite values, some negative, some zero.
                let v = ((bits % 2001) as f32 - 1000.0) / 64.0;
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            Elem::F16 => {
                let v = ((bits % 2001) as f32 - 1000.0) / 256.0;
                bytes.extend_from_slice(&f16_bits(v).to_le_bytes());
            }
            Elem::I32 => bytes.extend_from_slice(&((bits as i32) >> (bits % 24)).to_le_bytes()),
        }
    }
    ArgValue::Buffer(HostBuffer::new(elem.npy(), shape, bytes).expect("consistent buffer"))
}

/// Nearest-even f32 → f16.
fn f16_bits(v: f32) -> u16 {
    half::f16::from_f32(v).to_bits()
}

/// An elementwise chain over `lo <= i < n` (a mask with a lower bound: the
/// DMA's valid box starts inside the first blocks). With `shared_y`, every
/// program reads the same first block of `y` (masked by `i < n`): a load
/// the `cluster-stage` pass stages in CSRAM.
fn elementwise_kernel(
    elem: Elem,
    block: u32,
    n: u32,
    lo: u32,
    shared_y: bool,
    chain: &[(usize, usize, usize)],
    data: &[u32],
) -> Generated {
    let t = elem.ttir();
    let tensor = format!("tensor<{block}x{t}>");
    let ptrs = format!("tensor<{block}x!tt.ptr<{t}>>");
    let mut body = String::new();
    let mut values = vec!["%v0".to_string(), "%v1".to_string()];
    let ops = ops_for(elem);
    for (k, &(op_pick, a, b)) in chain.iter().enumerate() {
        let (op, arity) = ops[op_pick % ops.len()];
        let x = &values[a % values.len()];
        let y = &values[b % values.len()];
        let dst = format!("%c{k}");
        if op == "select_gt" {
            let cmp = if elem.is_float() {
                format!("arith.cmpf ogt, {x}, {y} : {tensor}")
            } else {
                format!("arith.cmpi sgt, {x}, {y} : {tensor}")
            };
            body += &format!("    %p{k} = {cmp}\n    {dst} = arith.select %p{k}, {x}, {y} : tensor<{block}xi1>, {tensor}\n");
        } else if arity == 1 {
            body += &format!("    {dst} = {op} {x} : {tensor}\n");
        } else {
            body += &format!("    {dst} = {op} {x}, {y} : {tensor}\n");
        }
        values.push(dst);
    }
    let result = values.last().expect("at least the inputs").clone();
    let y_load = if shared_y {
        format!(
            "%ymask = arith.cmpi slt, %r, %ns : tensor<{block}xi32>\n    \
             %yp = tt.addptr %ys, %r : {ptrs}, tensor<{block}xi32>\n    \
             %v1 = tt.load %yp, %ymask : {ptrs}"
        )
    } else {
        format!(
            "%yp = tt.addptr %ys, %offs : {ptrs}, tensor<{block}xi32>\n    \
             %v1 = tt.load %yp, %mask : {ptrs}"
        )
    };
    let ttir = format!(
        r#"module {{
  tt.func public @ew(%x: !tt.ptr<{t}>, %y: !tt.ptr<{t}>, %out: !tt.ptr<{t}>, %n: i32, %lo: i32) attributes {{noinline = false}} {{
    %pid = tt.get_program_id x : i32
    %bsz = arith.constant {block} : i32
    %base = arith.muli %pid, %bsz : i32
    %r = tt.make_range {{end = {block} : i32, start = 0 : i32}} : tensor<{block}xi32>
    %bs = tt.splat %base : i32 -> tensor<{block}xi32>
    %offs = arith.addi %bs, %r : tensor<{block}xi32>
    %ns = tt.splat %n : i32 -> tensor<{block}xi32>
    %below = arith.cmpi slt, %offs, %ns : tensor<{block}xi32>
    %los = tt.splat %lo : i32 -> tensor<{block}xi32>
    %above = arith.cmpi sge, %offs, %los : tensor<{block}xi32>
    %mask = arith.andi %above, %below : tensor<{block}xi1>
    %xs = tt.splat %x : !tt.ptr<{t}> -> {ptrs}
    %xp = tt.addptr %xs, %offs : {ptrs}, tensor<{block}xi32>
    %v0 = tt.load %xp, %mask : {ptrs}
    %ys = tt.splat %y : !tt.ptr<{t}> -> {ptrs}
    {y_load}
{body}    %os = tt.splat %out : !tt.ptr<{t}> -> {ptrs}
    %op = tt.addptr %os, %offs : {ptrs}, tensor<{block}xi32>
    tt.store %op, {result}, %mask : {ptrs}
    tt.return
  }}
}}
"#
    );
    let len = n as usize;
    Generated {
        ttir,
        grid: [n.div_ceil(block), 1, 1],
        args: vec![
            ("x".into(), buffer(elem, vec![len], &data[..len])),
            ("y".into(), buffer(elem, vec![len], &data[len..2 * len])),
            ("out".into(), buffer(elem, vec![len], &vec![0; len])),
            ("n".into(), ArgValue::Bits(u64::from(n))),
            ("lo".into(), ArgValue::Bits(u64::from(lo))),
        ],
    }
}

fn reduction_kernel(
    elem: Elem,
    rows: u32,
    cols: u32,
    block: u32,
    max: bool,
    data: &[u32],
) -> Generated {
    let t = elem.ttir();
    let combine = match (elem.is_float(), max) {
        (true, true) => "arith.maxnumf",
        (true, false) => "arith.addf",
        (false, true) => "arith.maxsi",
        (false, false) => "arith.addi",
    };
    let other = if elem.is_float() { "0.000000e+00" } else { "0" };
    let ttir = format!(
        r#"module {{
  tt.func public @rowreduce(%x: !tt.ptr<{t}>, %out: !tt.ptr<{t}>, %ncols: i32) attributes {{noinline = false}} {{
    %row = tt.get_program_id x : i32
    %zero = arith.constant dense<{other}> : tensor<{block}x{t}>
    %cols = tt.make_range {{end = {block} : i32, start = 0 : i32}} : tensor<{block}xi32>
    %nc = tt.splat %ncols : i32 -> tensor<{block}xi32>
    %mask = arith.cmpi slt, %cols, %nc : tensor<{block}xi32>
    %start = arith.muli %row, %ncols : i32
    %rowp = tt.addptr %x, %start : !tt.ptr<{t}>, i32
    %ps = tt.splat %rowp : !tt.ptr<{t}> -> tensor<{block}x!tt.ptr<{t}>>
    %p = tt.addptr %ps, %cols : tensor<{block}x!tt.ptr<{t}>>, tensor<{block}xi32>
    %v = tt.load %p, %mask, %zero : tensor<{block}x!tt.ptr<{t}>>
    %s = "tt.reduce"(%v) <{{axis = 0 : i32}}> ({{
    ^bb0(%a: {t}, %b: {t}):
      %c = {combine} %a, %b : {t}
      tt.reduce.return %c : {t}
    }}) : (tensor<{block}x{t}>) -> {t}
    %o = tt.addptr %out, %row : !tt.ptr<{t}>, i32
    tt.store %o, %s : !tt.ptr<{t}>
    tt.return
  }}
}}
"#
    );
    let len = (rows * cols) as usize;
    Generated {
        ttir,
        grid: [rows, 1, 1],
        args: vec![
            (
                "x".into(),
                buffer(elem, vec![rows as usize, cols as usize], &data[..len]),
            ),
            (
                "out".into(),
                buffer(elem, vec![rows as usize], &vec![0; rows as usize]),
            ),
            ("ncols".into(), ArgValue::Bits(u64::from(cols))),
        ],
    }
}

fn dot_kernel(m: u32, n: u32, k_blocks: u32, bk: u32, data: &[u32]) -> Generated {
    let k = k_blocks * bk;
    let ttir = format!(
        r#"module {{
  tt.func public @dotloop(%a: !tt.ptr<f16>, %b: !tt.ptr<f16>, %c: !tt.ptr<f32>, %K: i32) attributes {{noinline = false}} {{
    %acc0 = arith.constant dense<0.000000e+00> : tensor<{m}x{n}xf32>
    %c0 = arith.constant 0 : i32
    %cbk = arith.constant {bk} : i32
    %rm = tt.make_range {{end = {m} : i32, start = 0 : i32}} : tensor<{m}xi32>
    %rn = tt.make_range {{end = {n} : i32, start = 0 : i32}} : tensor<{n}xi32>
    %rk = tt.make_range {{end = {bk} : i32, start = 0 : i32}} : tensor<{bk}xi32>
    %rm2 = tt.expand_dims %rm {{axis = 1 : i32}} : tensor<{m}xi32> -> tensor<{m}x1xi32>
    %Ks = tt.splat %K : i32 -> tensor<{m}x1xi32>
    %arow = arith.muli %rm2, %Ks : tensor<{m}x1xi32>
    %rk2 = tt.expand_dims %rk {{axis = 0 : i32}} : tensor<{bk}xi32> -> tensor<1x{bk}xi32>
    %arowb = tt.broadcast %arow : tensor<{m}x1xi32> -> tensor<{m}x{bk}xi32>
    %rk2b = tt.broadcast %rk2 : tensor<1x{bk}xi32> -> tensor<{m}x{bk}xi32>
    %aoff = arith.addi %arowb, %rk2b : tensor<{m}x{bk}xi32>
    %as = tt.splat %a : !tt.ptr<f16> -> tensor<{m}x{bk}x!tt.ptr<f16>>
    %ap0 = tt.addptr %as, %aoff : tensor<{m}x{bk}x!tt.ptr<f16>>, tensor<{m}x{bk}xi32>
    %rkc = tt.expand_dims %rk {{axis = 1 : i32}} : tensor<{bk}xi32> -> tensor<{bk}x1xi32>
    %Ns = arith.constant dense<{n}> : tensor<{bk}x1xi32>
    %brow = arith.muli %rkc, %Ns : tensor<{bk}x1xi32>
    %rn2 = tt.expand_dims %rn {{axis = 0 : i32}} : tensor<{n}xi32> -> tensor<1x{n}xi32>
    %browb = tt.broadcast %brow : tensor<{bk}x1xi32> -> tensor<{bk}x{n}xi32>
    %rn2b = tt.broadcast %rn2 : tensor<1x{n}xi32> -> tensor<{bk}x{n}xi32>
    %boff = arith.addi %browb, %rn2b : tensor<{bk}x{n}xi32>
    %bs = tt.splat %b : !tt.ptr<f16> -> tensor<{bk}x{n}x!tt.ptr<f16>>
    %bp0 = tt.addptr %bs, %boff : tensor<{bk}x{n}x!tt.ptr<f16>>, tensor<{bk}x{n}xi32>
    %bstep = arith.constant dense<{bstep}> : tensor<{bk}x{n}xi32>
    %astep = arith.constant dense<{bk}> : tensor<{m}x{bk}xi32>
    %res:3 = scf.for %kk = %c0 to %K step %cbk iter_args(%acc = %acc0, %ap = %ap0, %bp = %bp0) -> (tensor<{m}x{n}xf32>, tensor<{m}x{bk}x!tt.ptr<f16>>, tensor<{bk}x{n}x!tt.ptr<f16>>)  : i32 {{
      %av = tt.load %ap : tensor<{m}x{bk}x!tt.ptr<f16>>
      %bv = tt.load %bp : tensor<{bk}x{n}x!tt.ptr<f16>>
      %d = tt.dot %av, %bv, %acc, inputPrecision = ieee : tensor<{m}x{bk}xf16> * tensor<{bk}x{n}xf16> -> tensor<{m}x{n}xf32>
      %apn = tt.addptr %ap, %astep : tensor<{m}x{bk}x!tt.ptr<f16>>, tensor<{m}x{bk}xi32>
      %bpn = tt.addptr %bp, %bstep : tensor<{bk}x{n}x!tt.ptr<f16>>, tensor<{bk}x{n}xi32>
      scf.yield %d, %apn, %bpn : tensor<{m}x{n}xf32>, tensor<{m}x{bk}x!tt.ptr<f16>>, tensor<{bk}x{n}x!tt.ptr<f16>>
    }}
    %rmc = tt.expand_dims %rm {{axis = 1 : i32}} : tensor<{m}xi32> -> tensor<{m}x1xi32>
    %Nc = arith.constant dense<{n}> : tensor<{m}x1xi32>
    %crow = arith.muli %rmc, %Nc : tensor<{m}x1xi32>
    %crowb = tt.broadcast %crow : tensor<{m}x1xi32> -> tensor<{m}x{n}xi32>
    %rnc = tt.broadcast %rn2 : tensor<1x{n}xi32> -> tensor<{m}x{n}xi32>
    %coff = arith.addi %crowb, %rnc : tensor<{m}x{n}xi32>
    %cs = tt.splat %c : !tt.ptr<f32> -> tensor<{m}x{n}x!tt.ptr<f32>>
    %cp = tt.addptr %cs, %coff : tensor<{m}x{n}x!tt.ptr<f32>>, tensor<{m}x{n}xi32>
    tt.store %cp, %res#0 : tensor<{m}x{n}x!tt.ptr<f32>>
    tt.return
  }}
}}
"#,
        bstep = bk * n
    );
    let (la, lb) = ((m * k) as usize, (k * n) as usize);
    Generated {
        ttir,
        grid: [1, 1, 1],
        args: vec![
            (
                "a".into(),
                buffer(Elem::F16, vec![m as usize, k as usize], &data[..la]),
            ),
            (
                "b".into(),
                buffer(Elem::F16, vec![k as usize, n as usize], &data[la..la + lb]),
            ),
            (
                "c".into(),
                buffer(
                    Elem::F32,
                    vec![(m * n) as usize],
                    &vec![0; (m * n) as usize],
                ),
            ),
            ("K".into(), ArgValue::Bits(u64::from(k))),
        ],
    }
}

/// Runs a generated kernel both ways; `Err` describes the first difference.
fn check(generated: &Generated, machine: &Machine) -> Result<(), String> {
    let mut module = check_text(&generated.ttir, "generated.ttir").map_err(|ds| {
        let rendered: Vec<String> = ds.iter().map(|d| d.render(Some(&generated.ttir))).collect();
        format!("generator bug: {}\n{}", rendered.join(""), generated.ttir)
    })?;
    let params = kernel_params(&module).map_err(|d| d.render(None))?;
    let [x, y, z] = generated.grid;
    let mut spec = LaunchSpec::new(Grid::new(x, y, z).map_err(|e| e.to_string())?);
    for (name, value) in &generated.args {
        spec.push_arg(name, value.clone())
            .map_err(|e| e.to_string())?;
    }
    let launch = bind(&params, &spec).map_err(|e| e.to_string())?;
    let expected = run_kernel(&module, &launch).map_err(|d| d.render(Some(&generated.ttir)))?;
    let binary = compile_module(&mut module, machine, &CompileOptions::default())
        .map_err(|d| format!("compile failed: {}", d.render(Some(&generated.ttir))))?
        .module
        .ok_or("the compile stopped before codegen")?;
    let outcome = run(&binary, machine, &launch, &RunOptions::default())
        .map_err(|e| format!("emulation failed: {e}\n{}", generated.ttir))?;
    for (i, (want, got)) in expected.buffers.iter().zip(&outcome.buffers).enumerate() {
        if want != got {
            let at = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
            return Err(format!(
                "buffer {} differs first at byte {at}\n{}",
                launch.buffers[i].name, generated.ttir
            ));
        }
    }
    Ok(())
}

fn machines() -> Vec<Machine> {
    ["tiny", "maia200-like"]
        .iter()
        .map(|n| machine::resolve(n).expect("built-in machine"))
        .collect()
}

fn data(len: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), len)
}

fn elem() -> impl Strategy<Value = Elem> {
    prop_oneof![Just(Elem::F32), Just(Elem::F16), Just(Elem::I32)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn elementwise_chains_match_the_interpreter(
        elem in elem(),
        block in prop_oneof![Just(16u32), Just(64), Just(128)],
        n in 1u32..300,
        lo_pick in 0u32..400,
        shared_y in any::<bool>(),
        chain in prop::collection::vec((0usize..16, 0usize..16, 0usize..16), 1..7),
        bits in data(600),
    ) {
        // Half the cases start at 0, the others at a random lower bound.
        let lo = if lo_pick < 200 { 0 } else { lo_pick % n };
        let g = elementwise_kernel(elem, block, n, lo, shared_y, &chain, &bits);
        for m in machines() {
            if let Err(e) = check(&g, &m) {
                prop_assert!(false, "{} on {}: {e}", elem.ttir(), m.name);
            }
        }
    }

    #[test]
    fn row_reductions_match_the_interpreter(
        elem in elem(),
        rows in 1u32..6,
        cols in 1u32..100,
        max in any::<bool>(),
        bits in data(600),
    ) {
        let block = cols.next_power_of_two().max(16);
        let g = reduction_kernel(elem, rows, cols, block, max, &bits);
        for m in machines() {
            if let Err(e) = check(&g, &m) {
                prop_assert!(false, "{} on {}: {e}", elem.ttir(), m.name);
            }
        }
    }

    #[test]
    fn dots_in_loops_match_the_interpreter(
        m in prop_oneof![Just(16u32), Just(32)],
        n in prop_oneof![Just(16u32), Just(32)],
        k_blocks in 0u32..5,
        bk in prop_oneof![Just(16u32), Just(32)],
        bits in data(4 * 32 * 128),
    ) {
        let g = dot_kernel(m, n, k_blocks, bk, &bits);
        for machine in machines() {
            if let Err(e) = check(&g, &machine) {
                prop_assert!(false, "on {}: {e}", machine.name);
            }
        }
    }
}

/// Raw f16 bits as a buffer (the proptest generator's buffers are finite).
fn raw_f16(shape: Vec<usize>, bits: &[u16]) -> ArgValue {
    let bytes = bits.iter().flat_map(|b| b.to_le_bytes()).collect();
    ArgValue::Buffer(HostBuffer::new(Elem::F16.npy(), shape, bytes).expect("consistent buffer"))
}

#[test]
fn dots_producing_nan_match_the_interpreter_bit_for_bit() {
    // `inf · 0` (the host CPU's default NaN: negative on x86), NaN inputs
    // with a sign and a payload, and `inf - inf` across K: the machine's
    // results carry the canonical NaN, like the interpreter's.
    let (m, n, bk) = (16u32, 16u32, 16u32);
    let (inf, ninf, nan_payload) = (0x7C00u16, 0xFC00u16, 0xFE01u16);
    let mut a = vec![0x3C00u16; (m * bk) as usize]; // 1.0
    let mut b = vec![0x3C00u16; (bk * n) as usize];
    a[0] = inf; // row 0, k 0: times b's zero column 3 -> inf * 0
    a[bk as usize + 1] = nan_payload; // row 1 reads a NaN with a payload
    a[2 * bk as usize] = inf; // row 2: inf + (-inf) along K
    a[2 * bk as usize + 1] = ninf;
    for kk in 0..bk as usize {
        b[kk * n as usize + 3] = 0;
    }
    let mut g = dot_kernel(m, n, 1, bk, &[0; 4 * 32 * 128]);
    g.args[0].1 = raw_f16(vec![m as usize, bk as usize], &a);
    g.args[1].1 = raw_f16(vec![bk as usize, n as usize], &b);
    for machine in machines() {
        if let Err(e) = check(&g, &machine) {
            panic!("on {}: {e}", machine.name);
        }
    }
}

#[test]
fn element_sizes_are_consistent() {
    // The generator's buffers must have the element sizes the kernels expect.
    assert_eq!(Elem::F16.bytes(), 2);
    assert_eq!(Elem::F32.npy().item_size(), 4);
}
