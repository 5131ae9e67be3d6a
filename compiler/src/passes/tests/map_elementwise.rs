//! `lower-map-elementwise` on hand-written Triton 3.9 TTIR: what the rewrite
//! produces (selects for branches, masked loads, split/join for packs), that
//! the interpreter gives the same bytes before and after, and which regions
//! are refused with a located "cannot lower" diagnostic.

use maiac_ir::{Module, Opcode};
use maiac_runtime_emu::launch::ArgValue;

use super::{count, f32_buffer, run, run_pass};
use crate::pass::{Pass, PassContext};
use crate::passes::LowerMapElementwise;

/// A kernel `k(%x, %out)` over 8 `f32` (and an `i32` index buffer `%idx`
/// and table `%t`): loads, maps with `map`, stores.
fn kernel(map: &str) -> Module {
    let text = format!(
        r#"module {{
  tt.func public @k(%x_ptr: !tt.ptr<f32>, %idx_ptr: !tt.ptr<i32>, %t_ptr: !tt.ptr<f32>, %out_ptr: !tt.ptr<f32>) {{
    %zero = arith.constant 0.000000e+00 : f32 loc("k.py":3:4)
    %r = tt.make_range {{end = 8 : i32, start = 0 : i32}} : tensor<8xi32>
    %xp = tt.splat %x_ptr : !tt.ptr<f32> -> tensor<8x!tt.ptr<f32>>
    %xa = tt.addptr %xp, %r : tensor<8x!tt.ptr<f32>>, tensor<8xi32>
    %x = tt.load %xa : tensor<8x!tt.ptr<f32>>
    %ip = tt.splat %idx_ptr : !tt.ptr<i32> -> tensor<8x!tt.ptr<i32>>
    %ia = tt.addptr %ip, %r : tensor<8x!tt.ptr<i32>>, tensor<8xi32>
    %i = tt.load %ia : tensor<8x!tt.ptr<i32>>
    %t = tt.splat %t_ptr : !tt.ptr<f32> -> tensor<8x!tt.ptr<f32>>
{map}
    %op = tt.splat %out_ptr : !tt.ptr<f32> -> tensor<8x!tt.ptr<f32>>
    %oa = tt.addptr %op, %r : tensor<8x!tt.ptr<f32>>, tensor<8xi32>
    tt.store %oa, %y : tensor<8x!tt.ptr<f32>>
    tt.return
  }}
}}
"#
    );
    maiac_ir::check_text(&text, "k.ttir").unwrap_or_else(|e| panic!("{e:#?}"))
}

const XS: [f32; 8] = [-2.0, -0.5, 0.0, 0.25, 1.0, 3.0, -7.0, 9.5];

fn args() -> Vec<(&'static str, ArgValue)> {
    let idx: Vec<u8> = [0i32, 3, -100, 7, 1 << 20, 2, -1, 5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let idx = maiac_runtime_emu::launch::HostBuffer::new(
        maiac_runtime_emu::launch::NpyDtype::parse("<i4").unwrap(),
        vec![8],
        idx,
    )
    .unwrap();
    vec![
        ("x_ptr", f32_buffer(&XS)),
        ("idx_ptr", ArgValue::Buffer(idx)),
        (
            "t_ptr",
            f32_buffer(&[10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0]),
        ),
        ("out_ptr", f32_buffer(&[0.0; 8])),
    ]
}

/// Rewrites `m`; the interpreter must give the same buffers as before.
/// Returns the rewritten module and the output buffer.
fn rewrite_keeps_results(m: &Module) -> (Module, Vec<f32>) {
    let before = run(m, [1, 1, 1], &args());
    let mut after_m = m.clone();
    run_pass(&mut after_m, LowerMapElementwise);
    assert_eq!(count(&after_m, Opcode::MapElementwise), 0);
    let after = run(&after_m, [1, 1, 1], &args());
    assert!(before == after, "the rewrite changed the results");
    let out = after[3]
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (after_m, out)
}

fn rewrite_error(m: &Module) -> String {
    let mut m = m.clone();
    let err = LowerMapElementwise
        .run(&mut m, &mut PassContext::default())
        .expect_err("the rewrite must refuse");
    format!("{}\n{}", err.message, err.notes.join("\n"))
}

#[test]
fn branches_become_selects() {
    // if x > 0: return 2x  else: return x - 1   (Triton's cf form)
    let m = kernel(
        r#"    %y = "tt.map_elementwise"(%x) <{pack = 1 : i32}> ({
    ^bb0(%a: f32):
      %p = arith.cmpf ogt, %a, %zero : f32
      cf.cond_br %p, ^bb1, ^bb2
    ^bb1:
      %d = arith.addf %a, %a : f32
      cf.br ^bb3(%d : f32)
    ^bb2:
      %one = arith.constant 1.000000e+00 : f32
      %s = arith.subf %a, %one : f32
      cf.br ^bb3(%s : f32)
    ^bb3(%res: f32):
      tt.map_elementwise.return %res : f32
    }) : (tensor<8xf32>) -> tensor<8xf32> loc("k.py":9:8)"#,
    );
    let (after, out) = rewrite_keeps_results(&m);
    let want: Vec<f32> = XS
        .iter()
        .map(|&x| if x > 0.0 { 2.0 * x } else { x - 1.0 })
        .collect();
    assert_eq!(out, want);
    assert_eq!(count(&after, Opcode::Select), 1);
    assert_eq!(count(&after, Opcode::CondBr) + count(&after, Opcode::Br), 0);
}

#[test]
fn nested_ifs_and_early_returns_select_per_path() {
    // if x < 0: return 0 ; t = (x > 1) ? (x > 5 ? 5 : x) : 1 ; return t * 2
    let m = kernel(
        r#"    %y = "tt.map_elementwise"(%x) <{pack = 1 : i32}> ({
    ^bb0(%a: f32):
      %neg = arith.cmpf olt, %a, %zero : f32
      cf.cond_br %neg, ^bb2(%zero : f32), ^bb1
    ^bb1:
      %one = arith.constant 1.000000e+00 : f32
      %five = arith.constant 5.000000e+00 : f32
      %big = arith.cmpf ogt, %a, %one : f32
      %tt = scf.if %big -> (f32) {
        %huge = arith.cmpf ogt, %a, %five : f32
        %u = scf.if %huge -> (f32) {
          scf.yield %five : f32
        } else {
          scf.yield %a : f32
        }
        scf.yield %u : f32
      } else {
        scf.yield %one : f32
      }
      %d = arith.addf %tt, %tt : f32
      cf.br ^bb2(%d : f32)
    ^bb2(%res: f32):
      tt.map_elementwise.return %res : f32
    }) : (tensor<8xf32>) -> tensor<8xf32>"#,
    );
    let (after, out) = rewrite_keeps_results(&m);
    let want: Vec<f32> = XS
        .iter()
        .map(|&x| {
            if x < 0.0 {
                0.0
            } else {
                2.0 * if x > 1.0 { x.min(5.0) } else { 1.0 }
            }
        })
        .collect();
    assert_eq!(out, want);
    assert_eq!(count(&after, Opcode::If), 0);
}

#[test]
fn a_conditional_load_reads_only_where_it_is_reached() {
    // if 0 <= i < 8: t[i] else -1; the other indices are far out of bounds.
    let m = kernel(
        r#"    %eight = arith.constant 8 : i32
    %c0 = arith.constant 0 : i32
    %m1 = arith.constant -1.000000e+00 : f32
    %y = "tt.map_elementwise"(%i, %t) <{pack = 1 : i32}> ({
    ^bb0(%j: i32, %tp: !tt.ptr<f32>):
      %ge = arith.cmpi sge, %j, %c0 : i32
      %lt = arith.cmpi slt, %j, %eight : i32
      %in = arith.andi %ge, %lt : i1
      %v = scf.if %in -> (f32) {
        %p = tt.addptr %tp, %j : !tt.ptr<f32>, i32
        %l = tt.load %p : !tt.ptr<f32>
        scf.yield %l : f32
      } else {
        scf.yield %m1 : f32
      }
      tt.map_elementwise.return %v : f32
    }) : (tensor<8xi32>, tensor<8x!tt.ptr<f32>>) -> tensor<8xf32>"#,
    );
    let (after, out) = rewrite_keeps_results(&m);
    assert_eq!(out, [10.0, 13.0, -1.0, 17.0, -1.0, 12.0, -1.0, 15.0]);
    // The load is masked with the arm's condition.
    let mut masked = false;
    after.walk(&mut |op| {
        if after.dfg.opcode(op) == Opcode::Load && after.dfg.operands(op).len() == 2 {
            masked = true;
        }
    });
    assert!(masked, "{}", crate::passes::render_module(&after));
}

#[test]
fn packs_split_and_join_groups() {
    // pack = 2: (a0, a1) -> (a1 - a0, a0 * a1), mixing the group's elements.
    let m = kernel(
        r#"    %y = "tt.map_elementwise"(%x) <{pack = 2 : i32}> ({
    ^bb0(%a0: f32, %a1: f32):
      %d = arith.subf %a1, %a0 : f32
      %p = arith.mulf %a0, %a1 : f32
      tt.map_elementwise.return %d, %p : f32, f32
    }) : (tensor<8xf32>) -> tensor<8xf32>"#,
    );
    let (after, out) = rewrite_keeps_results(&m);
    let want: Vec<f32> = XS
        .chunks(2)
        .flat_map(|g| [g[1] - g[0], g[0] * g[1]])
        .collect();
    assert_eq!(out, want);
    assert_eq!(count(&after, Opcode::Split), 1);
    assert_eq!(count(&after, Opcode::Join), 1);
}

#[test]
fn loops_and_tensor_ops_cannot_be_lowered() {
    let for_loop = kernel(
        r#"    %c0 = arith.constant 0 : i32
    %c1 = arith.constant 1 : i32
    %c3 = arith.constant 3 : i32
    %y = "tt.map_elementwise"(%x) <{pack = 1 : i32}> ({
    ^bb0(%a: f32):
      %s = scf.for %k = %c0 to %c3 step %c1 iter_args(%acc = %a) -> (f32) : i32 {
        %n = arith.addf %acc, %acc : f32
        scf.yield %n : f32
      } loc("k.py":5:10)
      tt.map_elementwise.return %s : f32
    }) : (tensor<8xf32>) -> tensor<8xf32> loc("k.py":9:8)"#,
    );
    let msg = rewrite_error(&for_loop);
    assert!(
        msg.contains("cannot lower `tt.map_elementwise`: `scf.for`"),
        "{msg}"
    );
    assert!(msg.contains("k.py:9:8"), "{msg}");

    let branch_loop = kernel(
        r#"    %y = "tt.map_elementwise"(%x) <{pack = 1 : i32}> ({
    ^bb0(%a: f32):
      cf.br ^bb1(%a : f32)
    ^bb1(%v: f32):
      %h = arith.mulf %v, %v : f32
      %big = arith.cmpf ogt, %h, %zero : f32
      cf.cond_br %big, ^bb2, ^bb1(%h : f32)
    ^bb2:
      tt.map_elementwise.return %h : f32
    }) : (tensor<8xf32>) -> tensor<8xf32>"#,
    );
    let msg = rewrite_error(&branch_loop);
    assert!(msg.contains("a loop"), "{msg}");

    let tensor_op = kernel(
        r#"    %y = "tt.map_elementwise"(%x) <{pack = 1 : i32}> ({
    ^bb0(%a: f32):
      %v = tt.splat %a : f32 -> tensor<2xf32>
      tt.map_elementwise.return %a : f32
    }) : (tensor<8xf32>) -> tensor<8xf32>"#,
    );
    let msg = rewrite_error(&tensor_op);
    assert!(msg.contains("`tt.splat`"), "{msg}");
}
