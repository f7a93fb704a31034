using System.Diagnostics;
using Edgewise.Core.Kernels;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma3n;

/// <summary>
/// One Gemma 3n sequence: KV cache plus every run buffer, allocated once. Prompt chunks, single decode tokens and
/// batched decode steps of several sequences (<see cref="Gemma3nModel.ForwardBatch"/>) take the same path: a chunk
/// of T rows, row r at its own cache and position (<c>Rows</c>). The one difference is that activation-sparse
/// layers read only the surviving FFN columns of decode rows (<see cref="UseSparseDecode"/>).
/// </summary>
public sealed partial class Gemma3nState : ChunkedModelState
{
    private readonly Gemma3nConfig _c;
    private readonly Gemma3nWeights _w;
    private readonly WorkerPool _pool;
    private readonly KvCache _cache;
    private readonly int _maxBatch;

    // Run buffers, row-major with a fixed stride per row; B = _maxBatch, S = AltUp streams.
    private readonly float[] _streams;  // [S, B, H] AltUp state X
    private readonly float[] _pred;     // [S, B, H] AltUp predictions P
    private readonly float[] _xn;       // [B, H] normed input of a branch
    private readonly float[] _branch;   // [B, H] branch output
    private readonly float[] _laurel;   // [B, H] LAuReL output
    private readonly float[] _z;        // [B, H] attention + LAuReL, then the layer's "activated" output
    private readonly float[] _routerIn; // [B, H]
    private readonly float[] _modal;    // [B, S] router modalities
    private readonly float[] _laurelMid; // [B, R]
    private readonly float[] _q;        // [B, nH·D]
    private readonly float[] _k;        // [B, nKV·D]
    private readonly float[] _v;        // [B, nKV·D]
    private readonly float[] _attn;     // [B, nH·D]
    private readonly float[] _gate;     // [B, Imax]
    private readonly float[] _up;       // [B, Imax]
    private readonly float[] _pli;      // [B, L·P] per-layer inputs
    private readonly float[] _pleCtx;   // [B, L·P] context projection
    private readonly float[] _pleGate;  // [B, P]
    private readonly float[] _ropeCosFull, _ropeSinFull;       // [B, D/2]
    private readonly float[] _ropeCosSliding, _ropeSinSliding; // [B, D/2]
    private readonly int[] _survivors;  // [Imax] sparse decode: surviving intermediate units
    private readonly float[] _survivorAct; // [Imax] their gelu(gate − cutoff), then × up
    private readonly float[] _survivorUp;  // [Imax]
    private readonly int _streamStride, _ffnStride, _pleStride;
    private readonly bool _sampleStd;

    internal Gemma3nState(Gemma3nModel model, int contextLength, int maxBatch, KvCacheType kvType)
        : base(model, model.Config.VocabSize, maxBatch, contextLength)
    {
        _c = model.Config;
        _w = model.Weights;
        _pool = model.Pool;
        _maxBatch = maxBatch;

        int n = _c.LayerCount, kvWidth = _c.KvHeadCount * _c.HeadDim;
        var specs = new KvLayerSpec[n];
        int maxFfn = 0;
        for (int i = 0; i < n; i++)
        {
            maxFfn = Math.Max(maxFfn, _c.FfnWidths[i]);
            specs[i] = new KvLayerSpec(_c.KvSourceLayers[i], kvWidth, _c.LayerKinds[i] == LayerKind.Sliding ? _c.SlidingWindow : 0);
        }
        _cache = new KvCache(specs, contextLength, maxBatch, kvType);

        int h = _c.HiddenSize, b = maxBatch, s = _c.AltUpInputs, qw = _c.HeadCount * _c.HeadDim, half = _c.HeadDim / 2;
        _streamStride = b * h;
        _ffnStride = maxFfn;
        _pleStride = _c.LayerCount * _c.PerLayerInputSize;
        _streams = new float[s * _streamStride];
        _pred = new float[s * _streamStride];
        _xn = new float[b * h];
        _branch = new float[b * h];
        _laurel = new float[b * h];
        _z = new float[b * h];
        _routerIn = new float[b * h];
        _modal = new float[b * s];
        _laurelMid = new float[b * _c.LaurelRank];
        _q = new float[b * qw];
        _k = new float[b * kvWidth];
        _v = new float[b * kvWidth];
        _attn = new float[b * qw];
        _gate = new float[b * maxFfn];
        _up = new float[b * maxFfn];
        _pli = new float[b * _pleStride];
        _pleCtx = new float[b * _pleStride];
        _pleGate = new float[b * _c.PerLayerInputSize];
        _ropeCosFull = new float[b * half];
        _ropeSinFull = new float[b * half];
        _ropeCosSliding = new float[b * half];
        _ropeSinSliding = new float[b * half];
        _survivors = new int[maxFfn];
        _survivorAct = new float[maxFfn];
        _survivorUp = new float[maxFfn];
        UseSparseDecode = model.HasSparseDecode;
        _sampleStd = model.Options.SparsityStdLikeLlamaCpp;
    }

    public override KvCache Cache => _cache;

    /// <summary>
    /// Single-token steps read only the surviving FFN columns of activation-sparse layers (on by default when the
    /// model was loaded with its transposed down projections). Off: the dense reference path, as prompt batches use.
    /// A batched decode step follows the setting of the state whose buffers run it (the first of the batch).
    /// </summary>
    public bool UseSparseDecode { get; set; }

    /// <summary>
    /// Largest batched decode step that takes the per-row sparse FFN; larger ones run dense. Per row the sparse path
    /// reads the dense gate plus ~5 % of W_up and W_down, while the dense path reads all three once for every row, so
    /// by bytes the break-even is near 20 rows. Measured (bench <c>batch-decode gemma3n</c>, E2B width, Q4_0, 2
    /// threads, two runs on a loaded machine): the sparse path was 1.1-1.35× faster per step at B = 2, 4 and 8. The
    /// limit stays at 8 because a multi-row matmul kernel makes dense rows cheaper while the per-row gathers do not
    /// share work.
    /// </summary>
    public static int SparseDecodeMaxRows => 8;

    /// <summary>
    /// When set (one entry per layer), each chunk adds every layer's wall time to it in Stopwatch ticks: a per-layer
    /// profile for benchmarks, off (null) by default and allocation-free when on.
    /// </summary>
    public long[]? LayerTicks { get; set; }

    /// <summary>FFN weight bytes the last chunk read in activation-sparse layers, and what the dense path reads there.</summary>
    public SparseFfnTraffic LastSparseTraffic { get; private set; }

    /// <summary>
    /// Runs <paramref name="tokens"/> (at most one batch) and writes logits of rows <paramref name="outputFrom"/>..
    /// into <paramref name="logits"/>. Rows before <paramref name="outputFrom"/> only feed the KV cache: they are
    /// dropped at the first layer that owns no cache, which is exact because nothing after that point is stored.
    /// </summary>
    protected override void RunChunk(ReadOnlySpan<int> tokens, int outputFrom, Span<float> logits)
    {
        int t = tokens.Length;
        LastSparseTraffic = default;
        DecoderInputs.Embed(tokens, _w.TokenEmbedding, _c.VocabSize, _streams);   // h0 into stream 0
        DecoderInputs.PerLayer(tokens, _streams, _w.PerLayerModelProjection, _w.PerLayerEmbeddings, _w.PerLayerProjectionNorm,
            _c.LayerCount, _c.RmsNormEps, _pool, _pleCtx, _pli);
        InitStreams(t);
        RopeTables(t);

        int trimLayer = _c.SharedKvLayers > 0 ? _c.FirstSharedLayer : _c.LayerCount - 1;
        int row0 = 0;
        long[]? ticks = LayerTicks;
        for (int il = 0; il < _c.LayerCount; il++)
        {
            long start = ticks is null ? 0 : Stopwatch.GetTimestamp();
            Gemma3nLayerWeights lw = _w.Layers[il];
            Predict(lw, row0, t);
            // [rows, H] attention input: the normed active prediction
            ForRows(RowStep.AttentionNorm, lw, il, row0, t - row0, 2 * _c.HiddenSize);
            bool queriesReady = _c.OwnsKv(il) && StoreKv(il, lw, row0, t);
            if (il == trimLayer && outputFrom > row0)
            {
                row0 = outputFrom;
                if (row0 == t) break;   // no logits wanted from this chunk: the cache is complete
            }
            queriesReady = Laurel(lw, row0, t, queriesReady);
            AttentionBlock(il, lw, row0, t, queriesReady);
            FeedForward(il, lw, row0, t);
            Correct(lw, row0, t);
            PerLayerBranch(il, lw, row0, t);
            if (ticks is not null) ticks[il] += Stopwatch.GetTimestamp() - start;
        }

        if (row0 < t && !logits.IsEmpty) Logits(row0, t, logits);
    }

    /// <summary>Streams 1..S−1 = altup_projections[k−1] · h0, rescaled to h0's RMS (HF <c>Gemma3nTextModel.forward</c>, spec §3.2).</summary>
    private void InitStreams(int t)
    {
        int h = _c.HiddenSize;
        for (int k = 1; k < _c.AltUpInputs; k++)
        {
            int offset = k * _streamStride;
            _w.AltUpProjections[k - 1].MatMul(_streams.AsSpan(0, t * h), t, _streams.AsSpan(offset, t * h), _pool);   // [T, H]
            ForRows(RowStep.MatchStream, null, 0, 0, t, 4 * h, arg: k);
        }
    }

    private void MatchStreamRows(int k, int start, int end)
    {
        int h = _c.HiddenSize, offset = k * _streamStride;
        for (int r = start; r < end; r++)
        {
            MatchMagnitude(_streams.AsSpan(r * h, h), _streams.AsSpan(offset + r * h, h));
        }
    }

    /// <summary>Row r of the attention input <c>_xn</c> = NormW(P_A[r]; attn_norm), rows from <paramref name="row0"/>.</summary>
    private void AttentionNormRows(Gemma3nLayerWeights lw, int row0, int start, int end)
    {
        int h = _c.HiddenSize, activeOffset = _c.AltUpActiveIndex * _streamStride;
        for (int r = row0 + start; r < row0 + end; r++)
        {
            RowMath.RmsNorm(_pred.AsSpan(activeOffset + r * h, h), lw.AttnNorm, _c.RmsNormEps, _xn.AsSpan(r * h, h));
        }
    }

    /// <summary><c>y *= RMS(target) / sqrt(max(mean(y²), 1e-5))</c>: HF clamps the mean square of the rescaled vector.</summary>
    private static void MatchMagnitude(ReadOnlySpan<float> target, Span<float> y)
    {
        double tt = 0, yy = 0;
        for (int i = 0; i < y.Length; i++)
        {
            tt += (double)target[i] * target[i];
            yy += (double)y[i] * y[i];
        }
        float scale = (float)(Math.Sqrt(tt / y.Length) / Math.Sqrt(Math.Max(yy / y.Length, 1e-5)));
        RowMath.Scale(y, scale);
    }

    // Math.Pow, Cos and Sin in double for every pair of both tables: ~5 µs a row, among the costliest per-row work.
    private void RopeTables(int t) => ForRows(RowStep.RopeTables, null, 0, 0, t, 64 * _c.HeadDim);

    private void RopeTableRows(int start, int end)
    {
        int d = _c.HeadDim, half = d / 2;
        for (int r = start; r < end; r++)
        {
            int position = Rows[r].Position;
            RowMath.RopeTable(position, _c.RopeThetaFull, d, ReadOnlySpan<float>.Empty, _ropeCosFull.AsSpan(r * half, half), _ropeSinFull.AsSpan(r * half, half));
            RowMath.RopeTable(position, _c.RopeThetaSliding, d, ReadOnlySpan<float>.Empty, _ropeCosSliding.AsSpan(r * half, half), _ropeSinSliding.AsSpan(r * half, half));
        }
    }

    /// <summary>
    /// Same as HF <c>Gemma3nTextModel.forward</c>'s tail (spec §3.5): streams 1..S−1 through the unembed
    /// projections, rescaled to stream 0's RMS, averaged with it, final norm, tied head, softcap.
    /// </summary>
    private void Logits(int row0, int t, Span<float> logits)
    {
        int h = _c.HiddenSize, vocab = _c.VocabSize, rows = t - row0, s = _c.AltUpInputs;
        _streams.AsSpan(row0 * h, rows * h).CopyTo(_z.AsSpan(0, rows * h));   // [rows, H] running sum, stream 0
        for (int k = 1; k < s; k++)
        {
            int offset = k * _streamStride + row0 * h;
            _w.AltUpUnembedProjections[k - 1].MatMul(_streams.AsSpan(offset, rows * h), rows, _branch.AsSpan(0, rows * h), _pool);   // [rows, H]
            for (int r = 0; r < rows; r++)
            {
                Span<float> y = _branch.AsSpan(r * h, h);
                MatchMagnitude(_streams.AsSpan((row0 + r) * h, h), y);
                RowMath.Add(y, _z.AsSpan(r * h, h));
            }
        }
        for (int r = 0; r < rows; r++)
        {
            Span<float> mean = _z.AsSpan(r * h, h);
            RowMath.Scale(mean, 1f / s);
            RowMath.RmsNorm(mean, _w.OutputNorm, _c.RmsNormEps, _xn.AsSpan(r * h, h));
        }
        // [rows, V] = E · h (tied head, no scale)
        if (_c.FinalLogitSoftcap > 0) _w.Output.MatMulSoftcapped(_xn.AsSpan(0, rows * h), rows, logits[..(rows * vocab)], _pool, _c.FinalLogitSoftcap);
        else _w.Output.MatMul(_xn.AsSpan(0, rows * h), rows, logits[..(rows * vocab)], _pool);
    }
}

/// <summary>FFN weight bytes read by activation-sparse layers in one chunk, next to what dense layers would have read.</summary>
public readonly record struct SparseFfnTraffic(long BytesRead, long DenseBytes, int SurvivingUnits, int Units);
