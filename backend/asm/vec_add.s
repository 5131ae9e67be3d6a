; Vector add, out = x + y, BLOCK = 1024 elements per program instance,
; processed as 4 chunks of 256 with double-buffered DMA:
;   DMA loads chunk c+1 while the TVP adds chunk c and DMA stores it.
; Semaphores: t0 = chunks loaded, t1 = chunks added, t2 = chunks stored.
; TSRAM: x buffers at 0/1024, y at 2048/3072, out at 4096/5120.
.kernel "add_kernel"
.machine "tiny"
.arg "x_ptr" ptr f32
.arg "y_ptr" ptr f32
.arg "out_ptr" ptr f32
.arg "n" scalar i32
.dispatch round_robin tiles=0
.loc "tt.load" 12 10 "vec_add.py" 8 9
.loc "arith.addf" 14 10 "vec_add.py" 9 13
.loc "tt.store" 15 5 "vec_add.py" 10 5

.micro add_f32 inputs=[f32,f32]
    v0 = addf.f32 in0, in1
    out v0
.end

.tile
    arg r1, 0                 ; x
    arg r2, 1                 ; y
    arg r3, 2                 ; out
    arg r4, 3                 ; n
    rdspec r5, %pid.x
    mul r6, r5, 1024          ; first element of the block
    sub r7, r4, r6            ; elements left (the DMA clamps valid extents to 0..256)
    shl r8, r6, 2
    add r1, r1, r8
    add r2, r2, r8
    add r3, r3, r8
    mov r9, 0                 ; chunk c
.line 0
    dma.copy f32 src=hbm[r1] dst=tsram[0] dims=[(256 1 1 valid=r7)] fill=0x0
    dma.copy f32 src=hbm[r2] dst=tsram[2048] dims=[(256 1 1 valid=r7)] fill=0x0 signal=t0
.line none
top:
    add r13, r9, 1            ; c + 1
    slts r14, r13, 4
    bz r14, compute
    and r15, r13, 1
    shl r15, r15, 10          ; buffer of chunk c+1
    shl r16, r13, 10          ; byte offset of chunk c+1
    add r17, r1, r16
    add r18, r2, r16
    mul r19, r13, 256
    sub r19, r7, r19          ; valid extent of chunk c+1
    add r20, r15, 2048
.line 0
    dma.copy f32 src=hbm[r17] dst=tsram[r15] dims=[(256 1 1 valid=r19)] fill=0x0 wait=[t1>=r9]
    dma.copy f32 src=hbm[r18] dst=tsram[r20] dims=[(256 1 1 valid=r19)] fill=0x0 signal=t0
.line none
compute:
    and r15, r9, 1
    shl r15, r15, 10
    add r20, r15, 2048
    add r21, r15, 4096
.line 1
    tvp.map add_f32 in=[(f32 tsram[r15] [256] [1]), (f32 tsram[r20] [256] [1])] out=[(f32 tsram[r21] [256] [1])] wait=[t0>=r13, t2>=r9-1] signal=t1
.line none
    shl r16, r9, 10
    add r17, r3, r16
    mul r19, r9, 256
    sub r19, r7, r19
.line 2
    dma.copy f32 src=tsram[r21] dst=hbm[r17] dims=[(256 1 1 valid=r19)] wait=[t1>=r13] signal=t2
.line none
    mov r9, r13
    slts r14, r9, 4
    bnz r14, top
    halt
