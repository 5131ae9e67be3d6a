//! Parser unit tests on small inputs; whole fixtures are covered by ir/tests.

use super::parse_module;
use crate::opcode::Opcode;

#[test]
fn parses_corpus_style_function() {
    let text = r#"#loc = loc("k.py":1:1)
module {
  tt.func public @k(%x_ptr: !tt.ptr<f32> {tt.divisibility = 16 : i32} loc("x_ptr"(#loc)), %n: i32 loc("n"(#loc))) attributes {noinline = false} {
    %c = arith.constant dense<0xFF800000> : tensor<4xf32> loc(#loc1)
    %pid = tt.get_program_id x : i32 loc(#loc1)
    %r = tt.make_range {end = 4 : i32, start = 0 : i32} : tensor<4xi32> loc(#loc1)
    %p = tt.splat %x_ptr : !tt.ptr<f32> -> tensor<4x!tt.ptr<f32>> loc(#loc1)
    %q = tt.addptr %p, %r : tensor<4x!tt.ptr<f32>>, tensor<4xi32> loc(#loc1)
    %v = tt.load %q : tensor<4x!tt.ptr<f32>> loc(#loc1)
    %s = "tt.reduce"(%v) <{axis = 0 : i32}> ({
    ^bb0(%a: f32 loc(unknown), %b: f32 loc(unknown)):
      %m = arith.maxnumf %a, %b : f32 loc(#loc1)
      tt.reduce.return %m : f32 loc(#loc1)
    }) : (tensor<4xf32>) -> f32 loc(#loc1)
    tt.return loc(#loc)
  } loc(#loc)
} loc(#loc)
#loc1 = loc("k.py":2:3)
"#;
    let m = parse_module(text, "k.ttir").expect("parses");
    let f = m.kernel().unwrap();
    assert_eq!(m.func_name(f), "k");
    let mut ops = Vec::new();
    m.walk(&mut |op| ops.push(m.dfg.opcode(op)));
    assert!(ops.contains(&Opcode::Reduce));
    assert!(ops.contains(&Opcode::ReduceReturn));
}

#[test]
fn rejects_undefined_value_with_position() {
    let text =
        "module {\n  tt.func @k() {\n    %a = arith.addi %b, %b : i32\n    tt.return\n  }\n}\n";
    let err = parse_module(text, "k.ttir").unwrap_err();
    assert!(
        err.message.contains("undefined value `%b`"),
        "{}",
        err.message
    );
    assert_eq!(err.pos.unwrap().line, 3);
}

#[test]
fn parses_map_elementwise_with_a_cfg_region() {
    // Triton 3.9's generic form of `tl.map_elementwise` (its region is a CFG).
    let text = "module {\n  tt.func @k(%x: tensor<4xf32>) {\n    %c = arith.constant 0.0 : f32\n    %y = \"tt.map_elementwise\"(%x) <{pack = 1 : i32}> ({\n    ^bb0(%a: f32):\n      %p = arith.cmpf ogt, %a, %c : f32\n      cf.cond_br %p, ^bb1(%a : f32), ^bb1(%c : f32)\n    ^bb1(%r: f32):\n      tt.map_elementwise.return %r : f32\n    }) : (tensor<4xf32>) -> tensor<4xf32>\n    tt.return\n  }\n}\n";
    let m = crate::check_text(text, "k.ttir").unwrap_or_else(|e| panic!("{e:?}"));
    let mut ops = Vec::new();
    m.walk(&mut |op| ops.push(m.dfg.opcode(op)));
    assert!(ops.contains(&Opcode::MapElementwise));
    assert!(ops.contains(&Opcode::MapElementwiseReturn));
    let printed = crate::printer::print_module(&m);
    let again = crate::printer::print_module(&parse_module(&printed, "k.ttir").unwrap());
    assert_eq!(printed, again);
}

#[test]
fn rejects_unknown_op_and_alias() {
    let err = parse_module("module {\n tt.frob\n}", "k").unwrap_err();
    assert!(err.message.contains("unknown op"), "{}", err.message);
    let err = parse_module("module {\n} loc(#loc9)", "k").unwrap_err();
    assert!(
        err.message.contains("undefined location alias"),
        "{}",
        err.message
    );
}

#[test]
fn never_panics_on_garbage() {
    for text in [
        "",
        "}",
        "module {",
        "module { tt.func @k(",
        "\u{0}\u{1}",
        "module {\n%x = \"tt.reduce\"(",
    ] {
        let _ = parse_module(text, "g");
    }
    let deep = "module {".to_string() + &"tt.func @k() {".repeat(500);
    assert!(parse_module(&deep, "d").is_err());
}

#[test]
fn dense_float_constant() {
    let text = "module {\n  tt.func @k() {\n    %cst = arith.constant dense<0.000000e+00> : tensor<256xf32> loc(unknown)\n    %r = arith.constant 1.000000e+00 : f32\n    tt.return\n  }\n}\n";
    if let Err(e) = parse_module(text, "k") {
        panic!("{}", e.render(Some(text)));
    }
}

#[test]
fn says_why_host_tma_descriptors_are_rejected() {
    // Triton 3.2's `tl._experimental_descriptor_load` on a host-built descriptor.
    let text = "module {\n  tt.func @k(%d: !tt.ptr<i8>, %i: i32) {\n    %v = tt.experimental_descriptor_load %d[%i, %i] : !tt.ptr<i8> -> tensor<16x16xf16>\n    tt.return\n  }\n}\n";
    let err = parse_module(text, "k.ttir").unwrap_err();
    assert!(err.message.contains("CUDA TMA"), "{}", err.message);
    assert_eq!(err.pos.unwrap().line, 3);
}

#[test]
fn reads_triton33_descriptor_spelling_and_signed_blocks() {
    // Triton 3.3 spells the descriptor accesses `tt.experimental_descriptor_*`;
    // 3.4 on types an integer descriptor's block with its signedness.
    for (op_load, op_store, elem) in [
        (
            "tt.experimental_descriptor_load",
            "tt.experimental_descriptor_store",
            "i32",
        ),
        ("tt.descriptor_load", "tt.descriptor_store", "si32"),
    ] {
        let text = format!("module {{\n  tt.func @k(%p: !tt.ptr<i32>, %i: i32, %n: i64) {{\n    %d = tt.make_tensor_descriptor %p, [%i, %i], [%n, %n] : <i32>, <tensor<8x16x{elem}>>\n    %v = {op_load} %d[%i, %i] : !tt.tensordesc<tensor<8x16x{elem}>> -> tensor<8x16xi32>\n    {op_store} %d[%i, %i], %v : !tt.tensordesc<tensor<8x16x{elem}>>, tensor<8x16xi32>\n    tt.return\n  }}\n}}\n");
        let m = parse_module(&text, "k.ttir").expect("parses");
        let mut ops = Vec::new();
        m.walk(&mut |op| ops.push(m.dfg.opcode(op)));
        assert!(ops.contains(&Opcode::DescriptorLoad), "{op_load}");
        assert!(ops.contains(&Opcode::DescriptorStore), "{op_store}");
    }
}

#[test]
fn resolves_descriptor_reduce_signedness() {
    // One `max`/`min` kind; the descriptor's `si`/`ui` element says which.
    for (kind, elem, op) in [
        ("add", "si32", "add"),
        ("max", "si32", "max"),
        ("max", "ui32", "umax"),
        ("min", "ui64", "umin"),
        ("xor", "si64", "xor"),
        ("add", "f32", "fadd"),
    ] {
        let v = if elem.starts_with('f') {
            elem.to_string()
        } else {
            format!("i{}", &elem[2..])
        };
        let text = format!("module {{\n  tt.func @k(%d: !tt.tensordesc<8x16x{elem}>, %v: tensor<8x16x{v}>, %i: i32) {{\n    tt.descriptor_reduce {kind}, %d[%i, %i], %v : !tt.tensordesc<8x16x{elem}>, tensor<8x16x{v}>\n    tt.return\n  }}\n}}\n");
        let m = parse_module(&text, "k.ttir").expect("parses");
        let mut found = None;
        m.walk(&mut |o| {
            if m.dfg.opcode(o) == Opcode::DescriptorReduce {
                found = m
                    .dfg
                    .attr(o, "atomic_rmw_op")
                    .and_then(|a| a.as_str())
                    .map(str::to_string);
            }
        });
        assert_eq!(found.as_deref(), Some(op), "{kind} on {elem}");
    }
}

#[test]
fn resolves_generic_descriptor_reduce() {
    // The generic form carries only `kind` (PTX's integer encoding).
    for (kind, elem, op) in [(1, "f32", "fadd"), (3, "ui32", "umax"), (2, "si32", "min")] {
        let v = if elem.starts_with('f') {
            elem.to_string()
        } else {
            format!("i{}", &elem[2..])
        };
        let text = format!("module {{\n  tt.func @k(%d: !tt.tensordesc<8x16x{elem}>, %v: tensor<8x16x{v}>, %i: i32) {{\n    \"tt.descriptor_reduce\"(%d, %v, %i, %i) <{{kind = {kind} : i32}}> : (!tt.tensordesc<8x16x{elem}>, tensor<8x16x{v}>, i32, i32) -> ()\n    tt.return\n  }}\n}}\n");
        let m = parse_module(&text, "k.ttir").expect("parses");
        let mut found = None;
        m.walk(&mut |o| {
            if m.dfg.opcode(o) == Opcode::DescriptorReduce {
                found = m
                    .dfg
                    .attr(o, "atomic_rmw_op")
                    .and_then(|a| a.as_str())
                    .map(str::to_string);
            }
        });
        assert_eq!(found.as_deref(), Some(op), "{kind} on {elem}");
        crate::verifier::verify(&m).expect("verifies");
    }
}

#[test]
fn says_why_descriptor_inc_is_rejected() {
    let text = "module {\n  tt.func @k(%d: !tt.tensordesc<8x16xui32>, %v: tensor<8x16xi32>, %i: i32) {\n    tt.descriptor_reduce inc, %d[%i, %i], %v : !tt.tensordesc<8x16xui32>, tensor<8x16xi32>\n    tt.return\n  }\n}\n";
    let err = parse_module(text, "k.ttir").unwrap_err();
    assert!(err.message.contains("`inc`"), "{}", err.message);
    assert_eq!(err.pos.unwrap().line, 3);
}

#[test]
fn parse_errors_name_the_python_line_of_their_op() {
    // The aliases are defined after the module, which never finished
    // parsing: the error still carries the op's Python line.
    let text = r#"#loc = loc("k.py":1:1)
module {
  tt.func public @k(%x: tensor<4xi32> loc("x"(#loc))) attributes {noinline = false} {
    %y = tt.elementwise_inline_asm "mov.b32 $0, $1;" {constraints = "=r,r", packed_element = 1 : i32, pure = true} %x : tensor<4xi32> -> tensor<4xi32> loc(#loc3)
    tt.return loc(#loc1)
  } loc(#loc1)
} loc(#loc)
#loc1 = loc("k.py":5:2)
#loc2 = loc("k.py":7:9)
#loc3 = loc("y"(#loc2))
"#;
    let err = parse_module(text, "k.ttir").unwrap_err();
    let rendered = err.render(Some(text));
    assert!(rendered.contains("k.ttir:4:"), "{rendered}");
    assert!(rendered.contains("python: k.py:7:9"), "{rendered}");
    // A line without a loc, or aliases that do not parse: no Python line.
    let bare = text.replace(" loc(#loc3)", "");
    let err = parse_module(&bare, "k.ttir").unwrap_err();
    assert!(err.python.is_none());
}
