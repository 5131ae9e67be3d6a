; C[128, 128] = A[128, 256] x B[256, 128] in MXFP4 with E8M0 scales, one
; output tile per program (grid 1x1). The cluster program broadcasts B and
; its scales from HBM into every cluster's CSRAM once (reading HBM once);
; each tile copies them to TSRAM, loads its A, multiplies in two K steps of
; 128 into the accumulator and drains to f32.
; Layouts: A packed [128, 256] fp4 (128 B rows), A scales [128, 8];
; B stored transposed [128 (N), 256 (K)] fp4, B scales [128, 8].
.kernel "gemm_mxfp4"
.machine "tiny"
.arg "a_ptr" ptr i8
.arg "a_scale_ptr" ptr i8
.arg "b_ptr" ptr i8
.arg "b_scale_ptr" ptr i8
.arg "c_ptr" ptr f32
.dispatch explicit grid=[1,1,1] tiles=[[0],[],[],[]]
.loc "tt.dot_scaled" 20 12 "gemm.py" 30 15

.tile
    arg r1, 0
    arg r2, 1
    arg r5, 4
    dma.copy i8 src=hbm[r1] dst=tsram[0] dims=[(16384 1 1)]
    dma.copy i8 src=hbm[r2] dst=tsram[16384] dims=[(1024 1 1)] signal=t0
    dma.copy i8 src=csram[0] dst=tsram[32768] dims=[(16384 1 1)] wait=[c0>=1]
    dma.copy i8 src=csram[16384] dst=tsram[49152] dims=[(1024 1 1)] signal=t0
    mov r10, 2                     ; K steps
    mov r11, 0                     ; byte offset of the K step in a row (64 B = 128 fp4)
    mov r12, 0                     ; scale column of the K step
    mov r13, 0                     ; accumulate flag of the step
.line 0
step:
    add r14, r11, 0
    add r15, r12, 16384
    add r16, r11, 32768
    add r17, r12, 49152
    bnz r13, acc
    ttu.matmul m=128 n=128 k=128 a=(f4e2m1 tsram[r14] 256 scale=(tsram[r15] 8)) b=(f4e2m1 tsram[r16] 256 trans scale=(tsram[r17] 8)) out=(f32 acc[0] 128) accumulate=0 wait=[t0>=2]
    jump next
acc:
    ttu.matmul m=128 n=128 k=128 a=(f4e2m1 tsram[r14] 256 scale=(tsram[r15] 8)) b=(f4e2m1 tsram[r16] 256 trans scale=(tsram[r17] 8)) out=(f32 acc[0] 128) accumulate=1
next:
    add r11, r11, 64
    add r12, r12, 4
    mov r13, 1
    loop r10, step
    ttu.drain src=(f32 acc[0] [128,128] [128,1]) dst=(f32 tsram[65536] [128,128] [128,1]) signal=t1
.line none
    dma.copy f32 src=tsram[65536] dst=hbm[r5] dims=[(128 128 128), (128 1 1)] wait=[t1>=1]
    halt

.cluster
    rdspec r6, %cluster
    bnz r6, done                   ; cluster 0 broadcasts for everyone
    arg r3, 2
    arg r4, 3
    dma.bcast i8 src=hbm[r3] dst=csram[0] dims=[(16384 1 1)] to=all
    dma.bcast i8 src=hbm[r4] dst=csram[16384] dims=[(1024 1 1)] to=all signal=c0
done:
    halt
