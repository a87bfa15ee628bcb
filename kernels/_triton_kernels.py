"""The Triton kernels of ganzoo.kernels (NHWC / NDHWC, fp32 accumulation).

Do not import this file directly: :func:`ganzoo.kernels.triton_impl.kernels` loads it once per value of
``TRITON_INTERPRET`` (``@triton.jit`` decides at decoration time whether a function is compiled or interpreted, and an
interpreted kernel cannot call a compiled helper), so a process can run the interpreter and real GPUs side by side.

Argument order, for every kernel (what ahead-of-time TensorRT plugin launchers expect): input pointers, then int32
scalars, then output pointers; everything else is ``tl.constexpr``.

Two kernels serve the four ops:

* ``conv2d_kernel``: implicit-GEMM conv (M = output pixels, N = output channels, K = KH*KW*Cin), any stride,
  dilation and (asymmetric) zero padding, epilogue bias + activation (+ residual add), or a PixelShuffle(R) store
  straight into the shuffled layout (``R > 1``: the N tile runs over sub-pixel-major columns, so a tile stores
  contiguous channels of one sub-pixel).
* ``phase_conv_kernel``: a stride-S transposed conv (2D as 3D with a unit depth) as S^d sub-pixel convs, one per
  output phase (grid axis 2), each with ceil((K - r) / S) taps per axis: no multiply by an inserted zero. Nearest 2x
  upsampling + 3x3 conv is exactly a k4/s2/p1 transposed conv with pre-summed weights, so it runs here too.

Only Triton builtins are called (no ``@triton.jit`` helpers of ``triton.language.standard`` such as ``tl.zeros``):
those are decorated when triton is imported, so with them a process that imported triton before setting
``TRITON_INTERPRET=1`` could not interpret these kernels.

Under the interpreter, bf16 operands are upcast to fp32 before ``tl.dot`` (``DOT_F32``; numpy has no bf16 matmul):
the products of bf16 values are exact in fp32 either way, so only the accumulation order differs from a GPU.

Activation codes (``ACT``): 0 none, 1 ReLU, 2 PReLU (per-channel slopes at ``a_ptr``), 3 LeakyReLU(ACT_PARAM),
4 ELU(alpha=ACT_PARAM), 5 Tanh, 6 Sigmoid.
"""
import triton
import triton.language as tl


@triton.jit
def activate(acc, a_ptr, ach, mask_n, ACT: tl.constexpr, ACT_PARAM: tl.constexpr):
    """acc (BLOCK_M, BLOCK_N) fp32 -> act(acc); ``ach`` indexes the PReLU slopes of each column."""
    if ACT == 1:
        acc = tl.maximum(acc, 0.0)
    elif ACT == 2:
        slope = tl.load(a_ptr + ach, mask=mask_n, other=0.0).to(tl.float32)
        acc = tl.where(acc >= 0.0, acc, acc * slope[None, :])
    elif ACT == 3:
        acc = tl.where(acc >= 0.0, acc, acc * ACT_PARAM)
    elif ACT == 4:
        acc = tl.where(acc > 0.0, acc, ACT_PARAM * (tl.exp(tl.minimum(acc, 0.0)) - 1.0))
    elif ACT == 5:
        e = tl.exp(-2.0 * tl.abs(acc))
        t = (1.0 - e) / (1.0 + e)
        acc = tl.where(acc >= 0.0, t, -t)
    elif ACT == 6:
        acc = 1.0 / (1.0 + tl.exp(-acc))
    return acc


@triton.jit
def _dot(a, b, acc, PRECISION: tl.constexpr, DOT_F32: tl.constexpr):
    """acc += a @ b with fp32 accumulation. DOT_F32 upcasts the operands first (exact for bf16/fp16): the
    interpreter's numpy dot mishandles bf16, so the CPU checks of the bf16 path use it."""
    if DOT_F32:
        acc = tl.dot(a.to(tl.float32), b.to(tl.float32), acc, input_precision="ieee")
    else:
        acc = tl.dot(a, b, acc, input_precision=PRECISION)
    return acc


@triton.jit
def conv2d_kernel(
    x_ptr, w_ptr, b_ptr, a_ptr, r_ptr,
    N, H, W, C_in, OH, OW, C_out,
    out_ptr,
    KH: tl.constexpr, KW: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr,
    DH: tl.constexpr, DW: tl.constexpr, R: tl.constexpr, ACT: tl.constexpr, ACT_PARAM: tl.constexpr,
    HAS_RES: tl.constexpr, FLAT_K: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
    DOT_F32: tl.constexpr,
):
    """x (N, H, W, C_in); w (KH, KW, C_in, C_out) with C_out the conv's channels (PyTorch order); bias, slopes;
    residual (N, OH, OW, C_out) when HAS_RES. out: (N, OH, OW, C_out), or (N, OH*R, OW*R, C_out / R^2) for R > 1.
    PH / PW: the top / left padding (the bottom / right padding only shows in OH / OW)."""
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    M = N * OH * OW
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_n = offs_n < C_out
    if R > 1:
        C = C_out // (R * R)
        sub = offs_n // C  # sub-pixel i * R + j
        cc = offs_n % C  # channel after the shuffle
        col = cc * (R * R) + sub  # the conv's channel (PixelShuffle's CRD order)
        ach = cc
    else:
        col = offs_n
        ach = offs_n
    ow_ = offs_m % OW
    t = offs_m // OW
    oh_ = t % OH
    n64 = (t // OH).to(tl.int64)
    ih0 = oh_ * SH - PH
    iw0 = ow_ * SW - PW
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, dtype=tl.float32)
    if FLAT_K:  # small C_in: one K loop over (kh, kw, c), addresses gathered per element
        K = KH * KW * C_in
        for k0 in range(0, K, BLOCK_K):
            kk = k0 + offs_k
            mk = kk < K
            c = kk % C_in
            tap = kk // C_in
            ih = ih0[:, None] + ((tap // KW) * DH)[None, :]
            iw = iw0[:, None] + ((tap % KW) * DW)[None, :]
            ok = mask_m[:, None] & mk[None, :] & (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)
            a = tl.load(x_ptr + ((n64[:, None] * H + ih) * W + iw) * C_in + c[None, :], mask=ok, other=0.0)
            b = tl.load(w_ptr + kk.to(tl.int64)[:, None] * C_out + col[None, :],
                        mask=mk[:, None] & mask_n[None, :], other=0.0)
            acc = _dot(a, b, acc, PRECISION, DOT_F32)
    else:
        for kh in range(KH):
            ih = ih0 + kh * DH
            ok_h = mask_m & (ih >= 0) & (ih < H)
            for kw in range(KW):
                iw = iw0 + kw * DW
                ok = ok_h & (iw >= 0) & (iw < W)
                pix = ((n64 * H + ih) * W + iw) * C_in
                wrow = (kh * KW + kw) * C_in
                for c0 in range(0, C_in, BLOCK_K):
                    ck = c0 + offs_k
                    mk = ck < C_in
                    a = tl.load(x_ptr + pix[:, None] + ck[None, :], mask=ok[:, None] & mk[None, :], other=0.0)
                    b = tl.load(w_ptr + (wrow + ck).to(tl.int64)[:, None] * C_out + col[None, :],
                                mask=mk[:, None] & mask_n[None, :], other=0.0)
                    acc = _dot(a, b, acc, PRECISION, DOT_F32)
    acc = acc + tl.load(b_ptr + col, mask=mask_n, other=0.0).to(tl.float32)[None, :]
    acc = activate(acc, a_ptr, ach, mask_n, ACT, ACT_PARAM)
    omask = mask_m[:, None] & mask_n[None, :]
    if R > 1:
        oy = oh_[:, None] * R + (sub // R)[None, :]
        ox = ow_[:, None] * R + (sub % R)[None, :]
        o_off = ((n64[:, None] * (OH * R) + oy) * (OW * R) + ox) * C + cc[None, :]
    else:
        o_off = offs_m.to(tl.int64)[:, None] * C_out + offs_n[None, :]
        if HAS_RES:
            acc = acc + tl.load(r_ptr + o_off, mask=omask, other=0.0).to(tl.float32)
    tl.store(out_ptr + o_off, acc.to(out_ptr.dtype.element_ty), mask=omask)


@triton.jit
def phase_conv_kernel(
    x_ptr, w_ptr, b_ptr, a_ptr,
    N, D, H, W, C_in, OD, OH, OW, C_out, JD, JH, JW,
    out_ptr,
    KD: tl.constexpr, KH: tl.constexpr, KW: tl.constexpr, SD: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr,
    PD: tl.constexpr, PH: tl.constexpr, PW: tl.constexpr, ACT: tl.constexpr, ACT_PARAM: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
    DOT_F32: tl.constexpr,
):
    """Transposed conv, x (N, D, H, W, C_in), w (KD, KH, KW, C_in, C_out) -> out (N, OD, OH, OW, C_out).

    Output o = a + S*j (phase a, grid axis 2 over SD*SH*SW phases; j < J = ceil(O / S), masked to o < O) takes
    taps t = 0 .. ceil((K - r) / S) - 1 with r = (a + P) % S: kernel index r + t*S at input (a + P) // S + j - t.
    """
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    phase = tl.program_id(2)
    aw = phase % SW
    ah = (phase // SW) % SH
    ad = phase // (SW * SH)
    rd = (ad + PD) % SD
    qd = (ad + PD) // SD
    nd = (KD - rd + SD - 1) // SD
    rh = (ah + PH) % SH
    qh = (ah + PH) // SH
    nh = (KH - rh + SH - 1) // SH
    rw = (aw + PW) % SW
    qw = (aw + PW) // SW
    nw = (KW - rw + SW - 1) // SW
    M = N * JD * JH * JW
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_n = offs_n < C_out
    jw = offs_m % JW
    t = offs_m // JW
    jh = t % JH
    t = t // JH
    jd = t % JD
    n64 = (t // JD).to(tl.int64)
    od = ad + SD * jd
    oh = ah + SH * jh
    ow = aw + SW * jw
    mask_m = (offs_m < M) & (od < OD) & (oh < OH) & (ow < OW)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, dtype=tl.float32)
    for td in range(nd):
        i_d = qd + jd - td
        ok_d = mask_m & (i_d >= 0) & (i_d < D)
        for th in range(nh):
            i_h = qh + jh - th
            ok_h = ok_d & (i_h >= 0) & (i_h < H)
            for tw in range(nw):
                i_w = qw + jw - tw
                ok = ok_h & (i_w >= 0) & (i_w < W)
                pix = (((n64 * D + i_d) * H + i_h) * W + i_w) * C_in
                wrow = (((rd + td * SD) * KH + (rh + th * SH)) * KW + (rw + tw * SW)) * C_in
                for c0 in range(0, C_in, BLOCK_K):
                    ck = c0 + offs_k
                    mk = ck < C_in
                    a = tl.load(x_ptr + pix[:, None] + ck[None, :], mask=ok[:, None] & mk[None, :], other=0.0)
                    b = tl.load(w_ptr + (wrow + ck).to(tl.int64)[:, None] * C_out + offs_n[None, :],
                                mask=mk[:, None] & mask_n[None, :], other=0.0)
                    acc = _dot(a, b, acc, PRECISION, DOT_F32)
    acc = acc + tl.load(b_ptr + offs_n, mask=mask_n, other=0.0).to(tl.float32)[None, :]
    acc = activate(acc, a_ptr, offs_n, mask_n, ACT, ACT_PARAM)
    o_off = ((((n64 * OD + od) * OH + oh) * OW + ow) * C_out)[:, None] + offs_n[None, :]
    tl.store(out_ptr + o_off, acc.to(out_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])
