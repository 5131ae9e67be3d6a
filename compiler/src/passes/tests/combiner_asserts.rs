//! `lift-combiner-asserts` on the TTIR Triton's overflow sanitizer writes
//! (`debug=True`): the asserts leave the combiners, the interpreter gives
//! the same bytes before and after, and an overflowing fold still fails
//! with the combiner assert's message.

use maiac_ir::{Module, Opcode};
use maiac_runtime_emu::launch::{bind, ArgValue, Grid, HostBuffer, LaunchSpec, NpyDtype};

use super::{run, run_pass};
use crate::interp::{kernel_params, run_kernel};
use crate::passes::LiftCombinerAsserts;

/// `out[0..8] = cumsum(x)`, `out[8] = sum(x)` over 8 `i32`, each combine
/// step checked for i32 overflow as Triton 3.9's sanitizer does.
fn kernel() -> Module {
    let check = |a: &str, b: &str, p: &str| {
        format!(
            r#"      %{p}a = arith.extsi %{a} : i32 to i64
      %{p}b = arith.extsi %{b} : i32 to i64
      %{p}s = arith.addi %{p}a, %{p}b : i64
      %{p}le = arith.cmpi sle, %{p}s, %max : i64
      %{p}ge = arith.cmpi sge, %{p}s, %min : i64
      %{p}ok = arith.andi %{p}le, %{p}ge : i1
      tt.assert %{p}ok, "int32 overflow detected for operation add" : i1 loc("k.py":7:9)
      %{p}r = arith.addi %{a}, %{b} : i32"#
        )
    };
    let text = format!(
        r#"module {{
  tt.func public @k(%x_ptr: !tt.ptr<i32>, %out_ptr: !tt.ptr<i32>) {{
    %min = arith.constant -2147483648 : i64
    %max = arith.constant 2147483647 : i64
    %r = tt.make_range {{end = 8 : i32, start = 0 : i32}} : tensor<8xi32>
    %xp = tt.splat %x_ptr : !tt.ptr<i32> -> tensor<8x!tt.ptr<i32>>
    %xa = tt.addptr %xp, %r : tensor<8x!tt.ptr<i32>>, tensor<8xi32>
    %x = tt.load %xa : tensor<8x!tt.ptr<i32>>
    %c = "tt.scan"(%x) <{{axis = 0 : i32, reverse = false}}> ({{
    ^bb0(%a: i32, %b: i32):
{scan}
      tt.scan.return %sr : i32
    }}) : (tensor<8xi32>) -> tensor<8xi32>
    %s = "tt.reduce"(%x) <{{axis = 0 : i32}}> ({{
    ^bb0(%p: i32, %q: i32):
{reduce}
      tt.reduce.return %rr : i32
    }}) : (tensor<8xi32>) -> i32
    %op = tt.splat %out_ptr : !tt.ptr<i32> -> tensor<8x!tt.ptr<i32>>
    %oa = tt.addptr %op, %r : tensor<8x!tt.ptr<i32>>, tensor<8xi32>
    tt.store %oa, %c : tensor<8x!tt.ptr<i32>>
    %c8 = arith.constant 8 : i32
    %last = tt.addptr %out_ptr, %c8 : !tt.ptr<i32>, i32
    tt.store %last, %s : !tt.ptr<i32>
    tt.return
  }}
}}
"#,
        scan = check("a", "b", "s"),
        reduce = check("p", "q", "r"),
    );
    maiac_ir::check_text(&text, "k.ttir").unwrap_or_else(|e| panic!("{e:#?}"))
}

fn i32_buffer(values: &[i32]) -> ArgValue {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    ArgValue::Buffer(
        HostBuffer::new(NpyDtype::parse("<i4").unwrap(), vec![values.len()], bytes).unwrap(),
    )
}

fn args(xs: &[i32; 8]) -> Vec<(&'static str, ArgValue)> {
    vec![("x_ptr", i32_buffer(xs)), ("out_ptr", i32_buffer(&[0; 9]))]
}

/// The interpreter's error message for a run that fails.
fn failure(m: &Module, xs: &[i32; 8]) -> String {
    let mut spec = LaunchSpec::new(Grid::new(1, 1, 1).unwrap());
    for (name, value) in args(xs) {
        spec.push_arg(name, value).unwrap();
    }
    let launch = bind(&kernel_params(m).unwrap(), &spec).unwrap();
    match run_kernel(m, &launch) {
        Ok(_) => panic!("the run was expected to fail"),
        Err(d) => d.to_string(),
    }
}

/// Asserts inside fold regions (at any depth of the kernel).
fn combiner_asserts(m: &Module) -> usize {
    let mut n = 0;
    m.walk(&mut |op| {
        if m.dfg.opcode(op) == Opcode::Assert && m.layout.op_block(op).is_some() {
            let block = m.layout.op_block(op).unwrap();
            let parent = m.dfg.blocks[block]
                .region
                .and_then(|r| m.dfg.regions[r].parent);
            n += usize::from(
                parent.is_some_and(|p| matches!(m.dfg.opcode(p), Opcode::Reduce | Opcode::Scan)),
            );
        }
    });
    n
}

#[test]
fn lifts_the_sanitizer_asserts_out_of_folds() {
    let m = kernel();
    assert_eq!(combiner_asserts(&m), 2);
    let mut lifted = m.clone();
    run_pass(&mut lifted, LiftCombinerAsserts);
    assert_eq!(combiner_asserts(&lifted), 0);
    let mut asserts = 0;
    lifted.walk(&mut |op| asserts += usize::from(lifted.dfg.opcode(op) == Opcode::Assert));
    assert_eq!(asserts, 2, "one lifted assert per combiner assert");

    // In range: the same bytes.
    let xs = [5, -7, 1 << 30, 3, -(1 << 30), 9, 0, -1];
    assert!(run(&m, [1, 1, 1], &args(&xs)) == run(&lifted, [1, 1, 1], &args(&xs)));

    // An overflowing step (the running sum passes 2^31 - 1 at index 2, and
    // comes back in range later): both fail, with the combiner's message.
    let xs = [1 << 30, 1 << 30, 1 << 30, -(1 << 30), -(1 << 30), 0, 0, 0];
    let (before, after) = (failure(&m, &xs), failure(&lifted, &xs));
    for msg in [&before, &after] {
        assert!(
            msg.contains("int32 overflow detected for operation add"),
            "{msg}"
        );
        assert!(msg.contains("k.py:7:9"), "{msg}");
    }
}
