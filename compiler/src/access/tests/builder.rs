//! A small builder of one-kernel modules for unit and property tests of the
//! access analysis and the cleanup passes (independent of the parser).

use maiac_ir::{AttrList, Attribute, Block, DenseElements, Module, Op, Opcode, Type, Value};

pub(crate) fn i32_attr(v: i64) -> Attribute {
    Attribute::Int {
        value: i128::from(v),
        ty: Type::I32,
    }
}

/// Builds `tt.func public @kernel(params)` op by op.
pub(crate) struct Builder {
    pub m: Module,
    /// Where ops are appended.
    pub block: Block,
}

impl Builder {
    /// A kernel with named parameters; returns the builder and the parameters.
    pub fn kernel(params: &[(&str, Type)]) -> (Builder, Vec<Value>) {
        let mut m = Module::new("test.ttir");
        let loc = m.locs.unknown();
        let mut attrs = AttrList::new();
        attrs.set("sym_name", Attribute::String("kernel".into()));
        let inputs: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        attrs.set(
            "function_type",
            Attribute::FunctionType {
                inputs: inputs.clone(),
                results: vec![],
            },
        );
        let func = m.dfg.make_op(Opcode::Func, &[], &[], attrs, loc);
        m.layout.append_op(m.body, func);
        let region = m.dfg.make_region(func);
        let block = m.dfg.make_block(Some(region), &inputs);
        m.layout.append_block(region, block);
        let args = m.dfg.blocks[block].args.clone();
        for (&v, (name, _)) in args.iter().zip(params) {
            m.dfg.values[v].name = Some(name.to_string());
        }
        (Builder { m, block }, args)
    }

    /// Appends an op.
    pub fn op(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        results: &[Type],
        attrs: &[(&str, Attribute)],
    ) -> Op {
        let mut list = AttrList::new();
        for (name, value) in attrs {
            list.set(name, value.clone());
        }
        let loc = self.m.locs.unknown();
        let op = self.m.dfg.make_op(opcode, operands, results, list, loc);
        self.m.layout.append_op(self.block, op);
        op
    }

    /// Appends a single-result op and returns the result.
    pub fn val(
        &mut self,
        opcode: Opcode,
        operands: &[Value],
        result: Type,
        attrs: &[(&str, Attribute)],
    ) -> Value {
        let op = self.op(opcode, operands, &[result], attrs);
        self.m.dfg.results(op)[0]
    }

    /// Names a value (for readable printed analyses).
    pub fn name(&mut self, v: Value, name: &str) -> Value {
        self.m.dfg.values[v].name = Some(name.to_string());
        v
    }

    pub fn ty(&self, v: Value) -> Type {
        self.m.dfg.value_type(v).clone()
    }

    pub fn constant(&mut self, value: i64, ty: Type) -> Value {
        let attr = Attribute::Int {
            value: i128::from(value),
            ty: ty.clone(),
        };
        self.val(Opcode::Constant, &[], ty, &[("value", attr)])
    }

    pub fn const_i32(&mut self, value: i64) -> Value {
        self.constant(value, Type::I32)
    }

    /// A dense splat constant of raw `bits` at `ty`'s element type.
    pub fn dense(&mut self, shape: &[i64], elem: Type, value: Attribute) -> Value {
        let ty = Type::tensor(shape.to_vec(), elem);
        let attr = Attribute::Dense {
            ty: ty.clone(),
            elems: DenseElements::Splat(Box::new(value)),
        };
        self.val(Opcode::Constant, &[], ty, &[("value", attr)])
    }

    pub fn program_id(&mut self, axis: i64) -> Value {
        self.val(
            Opcode::GetProgramId,
            &[],
            Type::I32,
            &[("axis", i32_attr(axis))],
        )
    }

    pub fn range(&mut self, start: i64, end: i64) -> Value {
        let ty = Type::tensor(vec![end - start], Type::I32);
        self.val(
            Opcode::MakeRange,
            &[],
            ty,
            &[("start", i32_attr(start)), ("end", i32_attr(end))],
        )
    }

    pub fn splat(&mut self, v: Value, shape: &[i64]) -> Value {
        let ty = Type::tensor(shape.to_vec(), self.ty(v));
        self.val(Opcode::Splat, &[v], ty, &[])
    }

    pub fn expand_dims(&mut self, v: Value, axis: usize) -> Value {
        let ty = self.ty(v);
        let mut shape = ty.shape().to_vec();
        shape.insert(axis, 1);
        let out = Type::tensor(shape, ty.element().clone());
        self.val(
            Opcode::ExpandDims,
            &[v],
            out,
            &[("axis", i32_attr(axis as i64))],
        )
    }

    pub fn broadcast(&mut self, v: Value, shape: &[i64]) -> Value {
        let ty = self.ty(v);
        if ty.shape() == shape {
            return v;
        }
        let out = Type::tensor(shape.to_vec(), ty.element().clone());
        self.val(Opcode::Broadcast, &[v], out, &[])
    }

    pub fn trans(&mut self, v: Value, order: &[i64]) -> Value {
        let ty = self.ty(v);
        let shape = order.iter().map(|&d| ty.shape()[d as usize]).collect();
        let out = Type::tensor(shape, ty.element().clone());
        let order = Attribute::DenseArray {
            elem: Type::I32,
            values: order.to_vec(),
        };
        self.val(Opcode::Trans, &[v], out, &[("order", order)])
    }

    pub fn reshape(&mut self, v: Value, shape: &[i64]) -> Value {
        let out = Type::tensor(shape.to_vec(), self.ty(v).element().clone());
        self.val(Opcode::Reshape, &[v], out, &[])
    }

    /// A binary op whose result has the first operand's type.
    pub fn binary(&mut self, opcode: Opcode, a: Value, b: Value) -> Value {
        let ty = self.ty(a);
        self.val(opcode, &[a, b], ty, &[])
    }

    pub fn cmpi(&mut self, pred: &str, a: Value, b: Value) -> Value {
        let ty = self.ty(a).with_element(Type::I1);
        self.val(
            Opcode::CmpI,
            &[a, b],
            ty,
            &[("predicate", Attribute::Enum(pred.into()))],
        )
    }

    /// `arith.extsi` / `arith.extui` / `arith.trunci` to `width` bits.
    pub fn cast(&mut self, opcode: Opcode, v: Value, width: u32) -> Value {
        let ty = self.ty(v).with_element(Type::Int(width));
        self.val(opcode, &[v], ty, &[])
    }

    pub fn addptr(&mut self, p: Value, offsets: Value) -> Value {
        let ty = self.ty(p);
        self.val(Opcode::AddPtr, &[p, offsets], ty, &[])
    }

    /// `tt.load ptr[, mask[, other]]`.
    pub fn load(&mut self, ptr: Value, mask: Option<Value>, other: Option<Value>) -> Value {
        let ty = self.ty(ptr);
        let elem = ty.element().pointee().cloned().unwrap_or(Type::F32);
        let out = ty.with_element(elem);
        let mut operands = vec![ptr];
        operands.extend(mask);
        operands.extend(other);
        self.val(Opcode::Load, &operands, out, &[])
    }

    /// `tt.store ptr, value[, mask]`.
    pub fn store(&mut self, ptr: Value, value: Value, mask: Option<Value>) -> Op {
        let mut operands = vec![ptr, value];
        operands.extend(mask);
        self.op(Opcode::Store, &operands, &[], &[])
    }

    /// `scf.for lb to ub step s iter_args(inits)`; `body` gets the induction
    /// variable and the iter args and returns the yielded values.
    pub fn for_loop(
        &mut self,
        lb: Value,
        ub: Value,
        step: Value,
        inits: &[Value],
        body: impl FnOnce(&mut Builder, Value, &[Value]) -> Vec<Value>,
    ) -> Vec<Value> {
        let mut operands = vec![lb, ub, step];
        operands.extend_from_slice(inits);
        let types: Vec<Type> = inits.iter().map(|&v| self.ty(v)).collect();
        let op = self.op(Opcode::For, &operands, &types, &[]);
        let region = self.m.dfg.make_region(op);
        let mut arg_types = vec![self.ty(lb)];
        arg_types.extend(types);
        let block = self.m.dfg.make_block(Some(region), &arg_types);
        self.m.layout.append_block(region, block);
        let args = self.m.dfg.blocks[block].args.clone();
        let saved = std::mem::replace(&mut self.block, block);
        let yielded = body(self, args[0], &args[1..]);
        self.op(Opcode::Yield, &yielded, &[], &[]);
        self.block = saved;
        self.m.dfg.results(op).to_vec()
    }

    /// `scf.if cond -> (result_types)` with a then and an else region; each
    /// closure returns the values its region yields.
    pub fn if_op(
        &mut self,
        cond: Value,
        result_types: &[Type],
        then_body: impl FnOnce(&mut Builder) -> Vec<Value>,
        else_body: impl FnOnce(&mut Builder) -> Vec<Value>,
    ) -> Vec<Value> {
        let op = self.op(Opcode::If, &[cond], result_types, &[]);
        let saved = self.block;
        for body in [
            Box::new(then_body) as Box<dyn FnOnce(&mut Builder) -> Vec<Value>>,
            Box::new(else_body),
        ] {
            let region = self.m.dfg.make_region(op);
            let block = self.m.dfg.make_block(Some(region), &[]);
            self.m.layout.append_block(region, block);
            self.block = block;
            let yielded = body(self);
            self.op(Opcode::Yield, &yielded, &[], &[]);
        }
        self.block = saved;
        self.m.dfg.results(op).to_vec()
    }

    /// Appends `tt.return` and returns the module.
    pub fn finish(mut self) -> Module {
        self.op(Opcode::Return, &[], &[], &[]);
        self.m
    }
}
