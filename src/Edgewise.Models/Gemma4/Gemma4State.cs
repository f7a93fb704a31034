using Edgewise.Core.Kernels;
using Edgewise.Core.Threading;
using Edgewise.Models.Common;

namespace Edgewise.Models.Gemma4;

/// <summary>
/// One Gemma 4 sequence: KV cache plus every run buffer, allocated once. Prompt chunks, single decode tokens and
/// batched decode steps of several sequences (<see cref="Gemma4Model.ForwardBatch"/>) take the same path: a chunk
/// of T rows, row r at its own cache and position (<c>Rows</c>), so all three give the same logits.
/// </summary>
public sealed partial class Gemma4State : ChunkedModelState
{
    private readonly Gemma4Config _c;
    private readonly Gemma4Weights _w;
    private readonly WorkerPool _pool;
    private readonly KvCache _cache;
    private readonly int _maxBatch;

    // Run buffers, row-major with a fixed stride per row; B = _maxBatch.
    private readonly float[] _x;        // [B, H] residual stream
    private readonly float[] _xn;       // [B, H] normed input of a branch
    private readonly float[] _branch;   // [B, H] branch output
    private readonly float[] _q;        // [B, nH·Dmax]
    private readonly float[] _k;        // [B, nKVmax·Dmax]
    private readonly float[] _v;        // [B, nKVmax·Dmax]
    private readonly float[] _attn;     // [B, nH·Dmax]
    private readonly float[] _gate;     // [B, Imax]
    private readonly float[] _up;       // [B, Imax]
    private readonly float[] _pli;      // [B, L·P] per-layer inputs
    private readonly float[] _pleCtx;   // [B, L·P] context projection
    private readonly float[] _pleGate;  // [B, P]
    private readonly float[] _ropeCosFull, _ropeSinFull;       // [B, RopeDimsFull/2]
    private readonly float[] _ropeCosSliding, _ropeSinSliding; // [B, RopeDimsSliding/2]
    private readonly int _qStride, _kvStride, _ffnStride, _pleStride;

    internal Gemma4State(Gemma4Model model, int contextLength, int maxBatch, KvCacheType kvType)
        : base(model, model.Config.VocabSize, maxBatch, contextLength)
    {
        _c = model.Config;
        _w = model.Weights;
        _pool = model.Pool;
        _maxBatch = maxBatch;

        int n = _c.LayerCount;
        var specs = new KvLayerSpec[n];
        int maxKv = 0, maxFfn = 0;
        for (int i = 0; i < n; i++)
        {
            int width = _c.KvHeadCounts[i] * _c.HeadDims[i];
            maxKv = Math.Max(maxKv, width);
            maxFfn = Math.Max(maxFfn, _c.FfnWidths[i]);
            specs[i] = new KvLayerSpec(_c.KvSourceLayers[i], width, _c.LayerKinds[i] == LayerKind.Sliding ? _c.SlidingWindow : 0);
        }
        _cache = new KvCache(specs, contextLength, maxBatch, kvType);

        int h = _c.HiddenSize, b = maxBatch;
        _qStride = _c.HeadCount * _c.MaxHeadDim;
        _kvStride = maxKv;
        _ffnStride = Math.Max(maxFfn, _c.IsMoe ? 2 * _c.ExpertFfnWidth : 0);
        _pleStride = _c.LayerCount * _c.PerLayerInputSize;
        _x = new float[b * h];
        _xn = new float[b * h];
        _branch = new float[b * h];
        _q = new float[b * _qStride];
        _k = new float[b * _kvStride];
        _v = new float[b * _kvStride];
        _attn = new float[b * _qStride];
        _gate = new float[b * _ffnStride];
        _up = new float[b * _ffnStride];
        _pli = new float[b * _pleStride];
        _pleCtx = new float[b * _pleStride];
        _pleGate = new float[b * _c.PerLayerInputSize];
        _ropeCosFull = new float[b * (_c.RopeDimsFull / 2)];
        _ropeSinFull = new float[b * (_c.RopeDimsFull / 2)];
        _ropeCosSliding = new float[b * (_c.RopeDimsSliding / 2)];
        _ropeSinSliding = new float[b * (_c.RopeDimsSliding / 2)];
        if (_c.IsMoe) _moe = new MoeBuffers(_c, b);
    }

    public override KvCache Cache => _cache;

    /// <summary>
    /// Runs <paramref name="tokens"/> (at most one batch) through the model and writes logits of rows
    /// <paramref name="outputFrom"/>.. into <paramref name="logits"/>. Rows before <paramref name="outputFrom"/> only
    /// feed the KV cache: they are dropped at the first layer that owns no cache (or before the last layer's
    /// queries), which is exact because nothing after that point is stored.
    /// </summary>
    protected override void RunChunk(ReadOnlySpan<int> tokens, int outputFrom, Span<float> logits)
    {
        int t = tokens.Length, h = _c.HiddenSize;
        DecoderInputs.Embed(tokens, _w.TokenEmbedding, _c.VocabSize, _x);
        if (_c.HasPerLayerInputs)
        {
            DecoderInputs.PerLayer(tokens, _x, _w.PerLayerModelProjection!, _w.PerLayerEmbeddings!, _w.PerLayerProjectionNorm!,
                _c.LayerCount, _c.RmsNormEps, _pool, _pleCtx, _pli);
        }
        RopeTables(t);

        int trimLayer = _c.SharedKvLayers > 0 ? _c.FirstSharedLayer : _c.LayerCount - 1;
        int row0 = 0;
        for (int il = 0; il < _c.LayerCount; il++)
        {
            Gemma4LayerWeights lw = _w.Layers[il];
            ForRows(RowStep.AttentionNorm, lw, il, row0, t - row0, 2 * h);   // [rows, H] attention input
            bool queriesReady = _c.OwnsKv(il) && StoreKv(il, lw, row0, t);
            if (il == trimLayer && outputFrom > row0)
            {
                row0 = outputFrom;
                if (row0 == t) break;   // no logits wanted from this chunk: the cache is complete
            }
            AttentionBlock(il, lw, row0, t, queriesReady);
            if (lw.Moe is null) FeedForward(lw, row0, t);
            else MoeFeedForward(lw, row0, t);
            if (_c.HasPerLayerInputs) PerLayerBranch(il, lw, row0, t);
            if (lw.OutputScale != 1f) ScaleOutput(lw, il, row0, t);
        }

        if (row0 < t && !logits.IsEmpty) Logits(row0, t, logits);
    }

    /// <summary>The layer output scale on rows [row0, t) of the residual; split by rows only where that keeps one flat call's vector/tail split.</summary>
    private void ScaleOutput(Gemma4LayerWeights lw, int il, int row0, int t)
    {
        int h = _c.HiddenSize;
        if (h % 16 == 0) ForRows(RowStep.OutputScale, lw, il, row0, t - row0, h);
        else RowMath.Scale(_x.AsSpan(row0 * h, (t - row0) * h), lw.OutputScale);
    }

    // Math.Pow, Cos and Sin in double for every pair of both tables: a few µs a row, among the costliest per-row work.
    private void RopeTables(int t) => ForRows(RowStep.RopeTables, null, 0, 0, t, 32L * (_c.RopeDimsFull + _c.RopeDimsSliding));

    private void RopeTableRows(int start, int end)
    {
        int hf = _c.RopeDimsFull / 2, hs = _c.RopeDimsSliding / 2;
        for (int r = start; r < end; r++)
        {
            int position = Rows[r].Position;
            RowMath.RopeTable(position, _c.RopeThetaFull, _c.RopeDimsFull, _w.FullRopeFreqFactors,
                _ropeCosFull.AsSpan(r * hf, hf), _ropeSinFull.AsSpan(r * hf, hf));
            RowMath.RopeTable(position, _c.RopeThetaSliding, _c.RopeDimsSliding, ReadOnlySpan<float>.Empty,
                _ropeCosSliding.AsSpan(r * hs, hs), _ropeSinSliding.AsSpan(r * hs, hs));
        }
    }

    private void Logits(int row0, int t, Span<float> logits)
    {
        int h = _c.HiddenSize, vocab = _c.VocabSize, rows = t - row0;
        for (int r = row0; r < t; r++) RowMath.RmsNorm(_x.AsSpan(r * h, h), _w.OutputNorm, _c.RmsNormEps, _xn.AsSpan(r * h, h));
        // [rows, V] = E · h (tied head, no scale)
        if (_c.FinalLogitSoftcap > 0) _w.Output.MatMulSoftcapped(_xn.AsSpan(row0 * h, rows * h), rows, logits[..(rows * vocab)], _pool, _c.FinalLogitSoftcap);
        else _w.Output.MatMul(_xn.AsSpan(row0 * h, rows * h), rows, logits[..(rows * vocab)], _pool);
    }

}
