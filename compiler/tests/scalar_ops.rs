//! Scalar integer ops on the control processor (and the scalar ops that take
//! the vector unit through rank-0 buffers) against the reference
//! interpreter, bit for bit, on edge values: every integer op at i8, i32 and
//! i64 (division by zero, `MIN / −1`, shifts by ≥ the width, unsigned views
//! of negative numbers), compares, selects, casts and scalar `tt.addptr`.

use maiac_compiler::driver::{compile_module, CompileOptions};
use maiac_compiler::interp::{kernel_params, run_kernel};
use maiac_runtime_emu::emu::{run, RunOptions};
use maiac_runtime_emu::launch::{bind, ArgValue, Grid, HostBuffer, LaunchSpec, NpyDtype};

/// The binary integer ops, as `(mnemonic, is arith)`.
const BINARY: &[&str] = &[
    "arith.addi",
    "arith.subi",
    "arith.muli",
    "arith.divsi",
    "arith.divui",
    "arith.remsi",
    "arith.remui",
    "arith.andi",
    "arith.ori",
    "arith.xori",
    "arith.shli",
    "arith.shrsi",
    "arith.shrui",
    "arith.maxsi",
    "arith.maxui",
    "arith.minsi",
    "arith.minui",
    "arith.ceildivsi",
    "arith.ceildivui",
    "arith.floordivsi",
    "tt.mulhiui",
];

const PREDICATES: &[&str] = &[
    "eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge",
];

/// The kernel: every op on the `(x, y)` pairs of each width, each result
/// widened to i64 and stored to its own slot of `out`.
fn kernel() -> (String, usize) {
    let mut body = String::new();
    let mut slot = 0usize;
    let mut n = 0usize;
    let mut store = |body: &mut String, value: &str, ty: &str, signed: bool| {
        let wide = if ty == "i64" {
            value.to_string()
        } else {
            n += 1;
            let ext = if signed { "arith.extsi" } else { "arith.extui" };
            body.push_str(&format!("    %w{n} = {ext} {value} : {ty} to i64\n"));
            format!("%w{n}")
        };
        body.push_str(&format!(
            "    %k{slot} = arith.constant {slot} : i32\n    %p{slot} = tt.addptr %out, %k{slot} : !tt.ptr<i64>, i32\n    tt.store %p{slot}, {wide} : !tt.ptr<i64>\n"
        ));
        slot += 1;
    };
    for (ty, x, y) in [("i8", "%c", "%e"), ("i32", "%a", "%b"), ("i64", "%d", "%f")] {
        for (i, op) in BINARY.iter().enumerate() {
            let r = format!("%{ty}_b{i}");
            body.push_str(&format!("    {r} = {op} {x}, {y} : {ty}\n"));
            store(&mut body, &r, ty, true);
        }
        for (i, pred) in PREDICATES.iter().enumerate() {
            let r = format!("%{ty}_c{i}");
            body.push_str(&format!("    {r} = arith.cmpi {pred}, {x}, {y} : {ty}\n"));
            store(&mut body, &r, "i1", false);
            let s = format!("%{ty}_s{i}");
            body.push_str(&format!("    {s} = arith.select {r}, {x}, {y} : {ty}\n"));
            store(&mut body, &s, ty, true);
        }
        let sext1 = format!("%{ty}_sx");
        body.push_str(&format!(
            "    {sext1} = arith.extsi %{ty}_c2 : i1 to {ty}\n"
        ));
        store(&mut body, &sext1, ty, true);
        let abs = format!("%{ty}_abs");
        body.push_str(&format!("    {abs} = math.absi {x} : {ty}\n"));
        store(&mut body, &abs, ty, true);
        // Bit counting has no CP sequence: it runs on the vector unit.
        for (i, symbol) in ["__nv_clz", "__nv_popc"].iter().enumerate() {
            let r = format!("%{ty}_u{i}");
            body.push_str(&format!(
                "    {r} = tt.extern_elementwise {x} {{libname = \"\", libpath = \"\", pure = true, symbol = \"{symbol}\"}} : ({ty}) -> {ty}\n"
            ));
            store(&mut body, &r, ty, true);
        }
        let (f, back) = (format!("%{ty}_f"), format!("%{ty}_fb"));
        body.push_str(&format!("    {f} = arith.uitofp {x} : {ty} to f32\n    {back} = arith.fptosi {f} : f32 to {ty}\n"));
        store(&mut body, &back, ty, true);
        // A scalar pointer offset of this width, as a byte distance.
        let (p, pi, base, dist) = (
            format!("%{ty}_p"),
            format!("%{ty}_pi"),
            format!("%{ty}_base"),
            format!("%{ty}_dist"),
        );
        body.push_str(&format!(
            "    {p} = tt.addptr %out, {x} : !tt.ptr<i64>, {ty}\n    {pi} = tt.ptr_to_int {p} : !tt.ptr<i64> -> i64\n    {base} = tt.ptr_to_int %out : !tt.ptr<i64> -> i64\n    {dist} = arith.subi {pi}, {base} : i64\n"
        ));
        store(&mut body, &dist, "i64", true);
    }
    for (i, (op, from, to, v)) in [
        ("arith.extsi", "i8", "i32", "%c"),
        ("arith.extui", "i8", "i32", "%c"),
        ("arith.trunci", "i32", "i8", "%a"),
        ("arith.trunci", "i64", "i32", "%d"),
        ("arith.extui", "i32", "i64", "%a"),
        ("arith.trunci", "i64", "i1", "%d"),
    ]
    .iter()
    .enumerate()
    {
        let r = format!("%cast{i}");
        body.push_str(&format!("    {r} = {op} {v} : {from} to {to}\n"));
        store(&mut body, &r, to, *to != "i1");
    }
    let ttir = format!(
        "module {{\n  tt.func public @scalars(%out: !tt.ptr<i64>, %a: i32, %b: i32, %c: i8, %e: i8, %d: i64, %f: i64) {{\n{body}    tt.return\n  }}\n}}\n"
    );
    (ttir, slot)
}

#[test]
fn scalar_integer_ops_match_the_interpreter() {
    let (ttir, slots) = kernel();
    let mut module = maiac_ir::check::check_text(&ttir, "scalars.ttir").unwrap_or_else(|ds| {
        panic!(
            "{}\n{ttir}",
            ds.iter().map(|d| d.render(Some(&ttir))).collect::<String>()
        )
    });
    let params = kernel_params(&module).expect("parameters");
    let reference = module.clone();
    let machine = maiac_backend::machine::resolve("tiny").expect("built-in machine");
    let binary = compile_module(&mut module, &machine, &CompileOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(Some(&ttir))))
        .module
        .expect("codegen ran");
    let samples: [i64; 12] = [0, 1, -1, 3, -13, 7, 8, 31, 33, 64, i64::MIN, i64::MAX];
    let mut runs = 0;
    for (i, &x) in samples.iter().enumerate() {
        for (j, &y) in samples.iter().enumerate() {
            if (i * 7 + j * 3) % 4 != 0 && !(x == -1 || y == -1 || y == 0) {
                continue;
            }
            let narrow = |v: i64, bits: u32| (v as u64) & (u64::MAX >> (64 - bits));
            let mut spec = LaunchSpec::new(Grid::new(1, 1, 1).unwrap());
            let out = HostBuffer {
                dtype: NpyDtype::new('i', 8),
                shape: vec![slots],
                bytes: vec![0; slots * 8],
            };
            spec.push_arg("out", ArgValue::Buffer(out)).unwrap();
            // Each width sees the sample truncated to it: MIN/MAX of i64
            // become -1/0 and 0/-1 patterns at i8/i32, and i32::MIN etc.
            // come from the shifted samples below.
            let x32 = if x == i64::MIN {
                i64::from(i32::MIN)
            } else if x == i64::MAX {
                i64::from(i32::MAX)
            } else {
                x
            };
            let y32 = if y == i64::MIN {
                i64::from(i32::MIN)
            } else if y == i64::MAX {
                i64::from(i32::MAX)
            } else {
                y
            };
            let x8 = if x == i64::MIN {
                -128
            } else if x == i64::MAX {
                127
            } else {
                x
            };
            let y8 = if y == i64::MIN {
                -128
            } else if y == i64::MAX {
                127
            } else {
                y
            };
            for (name, bits) in [
                ("a", narrow(x32, 32)),
                ("b", narrow(y32, 32)),
                ("c", narrow(x8, 8)),
                ("e", narrow(y8, 8)),
                ("d", x as u64),
                ("f", y as u64),
            ] {
                spec.push_arg(name, ArgValue::Bits(bits)).unwrap();
            }
            let launch = bind(&params, &spec).expect("binds");
            let expected = run_kernel(&reference, &launch)
                .unwrap_or_else(|d| panic!("{}", d.render(Some(&ttir))));
            let outcome =
                run(&binary, &machine, &launch, &RunOptions::default()).expect("emulates");
            let (want, got) = (&expected.buffers[0], &outcome.buffers[0]);
            if want != got {
                let slot = want
                    .chunks(8)
                    .zip(got.chunks(8))
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                let value =
                    |b: &[u8]| i64::from_le_bytes(b[slot * 8..slot * 8 + 8].try_into().unwrap());
                panic!(
                    "x={x} y={y}: slot {slot} differs: interpreter {} compiled {}\n{ttir}",
                    value(want),
                    value(got)
                );
            }
            runs += 1;
        }
    }
    assert!(runs > 20, "only {runs} sample pairs ran");
}
