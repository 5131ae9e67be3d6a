; Row softmax: one row of up to 128 columns per program instance.
;   m = max(x); e = exp(x - m) with s = sum(e) fused; out = e / s.
; Masked-off columns load as -inf, so they add exp(-inf) = 0 to the sum.
.kernel "softmax_kernel"
.machine "tiny"
.arg "x_ptr" ptr f32
.arg "out_ptr" ptr f32
.arg "row_stride" scalar i32
.arg "n_cols" scalar i32
.dispatch blocked tiles=0
.loc "tt.load" 9 10 "softmax.py" 7 9
.loc "tt.reduce" 11 10 "softmax.py" 8 11
.loc "math.exp" 13 10 "softmax.py" 9 15
.loc "arith.divf" 16 10 "softmax.py" 10 11
.loc "tt.store" 17 5 "softmax.py" 11 5

.micro max_f32 inputs=[f32,f32]
    v0 = maxnumf.f32 in0, in1
    out v0
.end

.micro exp_sub inputs=[f32,f32]
    v0 = subf.f32 in0, in1
    v1 = exp.f32 v0
    out v1
.end

.micro add_f32 inputs=[f32,f32]
    v0 = addf.f32 in0, in1
    out v0
.end

.micro div_f32 inputs=[f32,f32]
    v0 = divf.f32 in0, in1
    out v0
.end

.tile
    arg r1, 0
    arg r2, 1
    arg r3, 2
    arg r4, 3
    rdspec r5, %pid.x
    mul r6, r5, r3
    shl r6, r6, 2
    add r1, r1, r6
    add r2, r2, r6
.line 0
    dma.copy f32 src=hbm[r1] dst=tsram[0] dims=[(128 1 1 valid=r4)] fill=0xff800000 signal=t0
.line 1
    tvp.reduce max_f32 axis=0 in=[(f32 tsram[0] [128] [1])] out=[(f32 tsram[512] [] [])] wait=[t0>=1]
.line 2
    tvp.actreduce exp_sub in=[(f32 tsram[0] [128] [1]), (f32 tsram[512] [128] [0])] out=(f32 tsram[1024] [128] [1]) combiner=add_f32 axis=0 reduced=(f32 tsram[1536] [] [])
.line 3
    tvp.map div_f32 in=[(f32 tsram[1024] [128] [1]), (f32 tsram[1536] [128] [0])] out=[(f32 tsram[2048] [128] [1])] signal=t1
.line 4
    dma.copy f32 src=tsram[2048] dst=hbm[r2] dims=[(128 1 1 valid=r4)] wait=[t1>=1]
.line none
    halt
