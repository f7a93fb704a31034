using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using N = Edgewise.Models.Gemma3n.Gemma3nTensorNames;

namespace Edgewise.Models.Gemma3n;

/// <summary>Weights of one Gemma 3n decoder layer. Matrices are views into the model file; vectors are small float copies.</summary>
public sealed class Gemma3nLayerWeights
{
    public required float[] AttnNorm { get; init; }          // [H]
    public required WeightMatrix Q { get; init; }             // [nH·D, H]
    public WeightMatrix? K { get; init; }                     // [nKV·D, H]; null on KV-shared layers
    public WeightMatrix? V { get; init; }                     // [nKV·D, H]; null on KV-shared layers
    public required WeightMatrix O { get; init; }             // [H, nH·D]
    public required float[] QNorm { get; init; }             // [D]
    public float[]? KNorm { get; init; }                      // [D]
    public required float[] PostAttentionNorm { get; init; } // [H]
    public required float[] FfnNorm { get; init; }           // [H]
    public required WeightMatrix Gate { get; init; }          // [I, H]
    public required WeightMatrix Up { get; init; }            // [I, H]
    public required WeightMatrix Down { get; init; }          // [H, I]

    /// <summary>
    /// Sparse layers only: <see cref="Down"/> transposed to [I, H], so the columns of the intermediate units that
    /// survive the Gaussian top-k are contiguous rows (a block-quantized [H, I] matrix cannot be read by column).
    /// A view of the repack cache when a mapped GGUF load found it there (from the load on); otherwise owned memory
    /// (see <see cref="Gemma3nWeights.SparseDownBytes"/>), null until <see cref="Gemma3nWeights.EnsureSparseDowns"/>
    /// has built it (the first decode step does).
    /// </summary>
    public WeightMatrix? DownTransposed => Volatile.Read(ref _downTransposed);   // [I, H]

    /// <summary>
    /// The pinned bytes a built <see cref="DownTransposed"/> views: held here so they live as long as the layer; null
    /// when it views the repack cache (which the model's tensor source keeps mapped).
    /// </summary>
    internal byte[]? DownTransposedStorage { get; private set; }

    private WeightMatrix? _downTransposed;

    /// <summary>Publishes a transpose; the storage first, so a reader that sees the matrix sees its bytes alive.</summary>
    internal void PublishDownTransposed(WeightMatrix matrix, byte[]? storage)
    {
        DownTransposedStorage = storage;
        Volatile.Write(ref _downTransposed, matrix);
    }
    public required float[] PostFfwNorm { get; init; }       // [H]

    public required WeightMatrix LaurelLeft { get; init; }    // [R, H]
    public required WeightMatrix LaurelRight { get; init; }   // [H, R]
    public required float[] LaurelPostNorm { get; init; }    // [H]

    public required WeightMatrix AltUpRouter { get; init; }   // [S, H]
    public required float[] AltUpRouterNorm { get; init; }   // [H]
    /// <summary>HF <c>prediction_coefs</c>: [S², S] row-major; row 4i+j maps modalities to C[i][j].</summary>
    public required float[] AltUpPredictCoef { get; init; }  // [S·S, S]
    public required float[] AltUpCorrectCoef { get; init; }  // [S, S]
    public required float[] AltUpCorrectScale { get; init; } // [H]

    public required WeightMatrix PleGate { get; init; }       // [P, H]
    public required WeightMatrix PleProjection { get; init; } // [H, P]
    public required float[] PlePostNorm { get; init; }       // [H]
}

/// <summary>All weights of a Gemma 3n text model, read through a <see cref="WeightReader"/> whatever the file format.</summary>
public sealed class Gemma3nWeights
{
    public required WeightMatrix TokenEmbedding { get; init; }   // [V, H]
    public required WeightMatrix Output { get; init; }           // [V, H]; the token embedding when tied
    public required float[] OutputNorm { get; init; }            // [H]
    public required IPerLayerEmbeddingStore PerLayerEmbeddings { get; init; }   // [V_ple, L·P]
    public required WeightMatrix PerLayerModelProjection { get; init; }  // [L·P, H]
    public required float[] PerLayerProjectionNorm { get; init; }        // [P]
    public required WeightMatrix[] AltUpProjections { get; init; }       // (S−1) × [H, H]
    public required WeightMatrix[] AltUpUnembedProjections { get; init; } // (S−1) × [H, H]
    public required Gemma3nLayerWeights[] Layers { get; init; }

    private readonly Lock _sparseBuild = new();
    private Gemma3nConfig? _config;
    private WeightMatrix[]? _pendingDowns;   // the sparse layers' [H, I] downs until their transposes exist
    private int _threads;

    /// <summary>
    /// Bytes of the transposed down projections this model builds and keeps for sparse decode (the only weight memory
    /// not in the file), whether or not <see cref="EnsureSparseDowns"/> has built them yet. Transposes mapped from
    /// the repack cache are not counted: they are file pages, like the other weights.
    /// </summary>
    public long SparseDownBytes { get; private init; }

    /// <summary>True when sparse layers have (or will have) a <see cref="Gemma3nLayerWeights.DownTransposed"/>: sparse decode is on.</summary>
    public bool HasSparseDowns { get; private init; }

    /// <summary>True while some sparse layers' transposed down projections are still to be built.</summary>
    public bool SparseDownsPending => Volatile.Read(ref _pendingDowns) is not null;

    /// <summary>
    /// Builds the transposed down projections of the sparse layers that the repack cache did not supply, once (later
    /// calls return at once). Only single-token decode reads them, so the load leaves them to the first decode step:
    /// the first token of a cold start does not wait for them (0.4 s at E2B on 2 cores), and every decode step, the
    /// first one included, takes the same sparse path, so outputs never depend on timing.
    /// </summary>
    public void EnsureSparseDowns()
    {
        if (Volatile.Read(ref _pendingDowns) is null) return;
        lock (_sparseBuild)
        {
            WeightMatrix[]? downs = _pendingDowns;
            if (downs is null) return;
            var transposed = new (WeightMatrix Matrix, byte[] Storage)?[downs.Length];
            var missing = new List<int>();
            for (int i = 0; i < downs.Length; i++)
            {
                if (_config!.IsSparse(i) && Layers[i].DownTransposed is null) missing.Add(i);
            }
            TransposeSparseDowns(missing, downs, _threads, transposed);
            for (int i = 0; i < transposed.Length; i++)
            {
                if (transposed[i] is { } built) Layers[i].PublishDownTransposed(built.Matrix, built.Storage);
            }
            Volatile.Write(ref _pendingDowns, null);
        }
    }

    /// <param name="sparseDown">Build the transposed down projections of sparse layers (single-token decode reads them).</param>
    public static Gemma3nWeights Load(Gemma3nConfig c, WeightReader r, bool sparseDown, ModelLoadOptions? options = null)
    {
        int h = c.HiddenSize, s = c.AltUpInputs, width = c.LayerCount * c.PerLayerInputSize;
        // Tied: the embedding is also the output head, read in full every token; untied it is a row lookup.
        bool tied = !r.Has(N.Output);
        WeightMatrix embd = tied ? r.Matrix(N.TokenEmbedding, c.VocabSize, h) : r.MappedMatrix(N.TokenEmbedding, c.VocabSize, h);
        var downs = new WeightMatrix[c.LayerCount];
        for (int i = 0; i < downs.Length; i++) downs[i] = r.Matrix(N.Block(i, N.FfnDown), h, c.FfnWidths[i]);
        var layers = new Gemma3nLayerWeights[c.LayerCount];
        long sparseBytes = 0;
        bool pending = false;
        var scratch = new TransposeScratch();   // the cache build runs the producers one after another
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = LoadLayer(c, r, i, downs[i]);
            if (!sparseDown || !c.IsSparse(i)) continue;
            if (CachedTranspose(r, downs[i], scratch) is { } cached)
            {
                layers[i].PublishDownTransposed(cached, storage: null);
                continue;
            }
            sparseBytes += GgmlTypeInfo.RowBytes(TransposedType(downs[i].Type), h) * downs[i].Columns;
            pending = true;
        }
        return new Gemma3nWeights
        {
            _config = c,
            _pendingDowns = pending ? downs : null,
            _threads = (options ?? ModelLoadOptions.Default).Threads,
            SparseDownBytes = sparseBytes,
            HasSparseDowns = sparseDown,
            TokenEmbedding = embd,
            Output = r.OptionalMatrix(N.Output, c.VocabSize, h) ?? embd,
            OutputNorm = r.Vector(N.OutputNorm, h),
            PerLayerEmbeddings = PerLayerEmbeddingStore.Open(r, N.PerLayerTokenEmbedding, c.PerLayerVocabSize, width, options ?? ModelLoadOptions.Default),
            PerLayerModelProjection = r.Matrix(N.PerLayerModelProjection, width, h),
            PerLayerProjectionNorm = r.Vector(N.PerLayerProjectionNorm, c.PerLayerInputSize),
            AltUpProjections = Stacked(r, N.AltUpProjection, s - 1, h),
            AltUpUnembedProjections = Stacked(r, N.AltUpUnembedProjection, s - 1, h),
            Layers = layers,
        };
    }

    /// <summary>
    /// The repack cache's copy of <paramref name="down"/>'s transpose, or null; either way a mapped GGUF load with a
    /// cache directory hands the cache the producer (<see cref="Transpose(WeightMatrix, TransposeScratch, Span{byte})"/>
    /// over the same matrix), so the cached bytes are exactly those the first decode step would build.
    /// </summary>
    private static WeightMatrix? CachedTranspose(WeightReader r, WeightMatrix down, TransposeScratch scratch)
    {
        GgmlType type = TransposedType(down.Type);
        // Not whole blocks: nothing to cache; the first decode step's build reports it.
        if (down.Rows % GgmlTypeInfo.BlockSize(type) != 0) return null;
        return r.CachedDerived(new DerivedMatrix(TransposedName(down.Name), type, down.Columns, down.Rows,
            destination => Transpose(down, scratch, destination)));
    }

    /// <summary>The name of a transposed matrix: <c>blk.3.ffn_down.weight.T</c> (the view's name and the cache entry's).</summary>
    public static string TransposedName(string name) => name + ".T";

    /// <summary>GGUF stacks the (S−1) [H, H] AltUp projections into one [H, H, S−1] tensor; HF keeps them apart.</summary>
    private static WeightMatrix[] Stacked(WeightReader r, string name, int count, int h)
    {
        var parts = new WeightMatrix[count];
        if (r.OptionalMatrix(name, (long)count * h, h) is { } stacked)
        {
            for (int k = 0; k < count; k++) parts[k] = stacked.SliceRows((long)k * h, h);
            return parts;
        }
        for (int k = 0; k < count; k++) parts[k] = r.Matrix(N.AltUpProjectionPart(name, k), h, h);
        return parts;
    }

    private static Gemma3nLayerWeights LoadLayer(Gemma3nConfig c, WeightReader r, int i, WeightMatrix down)
    {
        int h = c.HiddenSize, d = c.HeadDim, q = c.HeadCount * d, kv = c.KvHeadCount * d, ffn = c.FfnWidths[i];
        int s = c.AltUpInputs, p = c.PerLayerInputSize, rank = c.LaurelRank;
        string B(string suffix) => N.Block(i, suffix);
        bool owns = c.OwnsKv(i);
        float[] predict = r.Vector(B(N.AltUpPredictCoef), s * s * s);
        float[] correct = r.Vector(B(N.AltUpCorrectCoef), s * s);
        if (c.AltUpCoefClip > 0)
        {
            // HF Gemma3nTextAltUp clamps both coefficient sets to ±altup_coef_clip (converters bake it in; harmless twice).
            foreach (float[] coef in new[] { predict, correct })
            {
                for (int j = 0; j < coef.Length; j++) coef[j] = Math.Clamp(coef[j], -c.AltUpCoefClip, c.AltUpCoefClip);
            }
        }
        return new Gemma3nLayerWeights
        {
            AttnNorm = r.Vector(B(N.AttnNorm), h),
            Q = r.Matrix(B(N.AttnQ), q, h),
            // KV-shared layers carry unused k/v/k_norm in Google's checkpoints; they are never read.
            K = owns ? r.Matrix(B(N.AttnK), kv, h) : null,
            V = owns ? r.Matrix(B(N.AttnV), kv, h) : null,
            O = r.Matrix(B(N.AttnOutput), h, q),
            QNorm = r.Vector(B(N.AttnQNorm), d),
            KNorm = owns ? r.Vector(B(N.AttnKNorm), d) : null,
            PostAttentionNorm = r.Vector(B(N.PostAttentionNorm), h),
            FfnNorm = r.Vector(B(N.FfnNorm), h),
            Gate = r.Matrix(B(N.FfnGate), ffn, h),
            // The sparse decode reads the surviving rows of Up (MatVecRows): ggml rows, never interleaved; prompt batches
            // interleave its groups on the fly (about half the time of the plain batch kernel).
            Up = c.IsSparse(i) ? r.RowSparseMatrix(B(N.FfnUp), ffn, h).WithInterleavedBatches() : r.Matrix(B(N.FfnUp), ffn, h),
            Down = down,
            PostFfwNorm = r.Vector(B(N.PostFfwNorm), h),
            LaurelLeft = r.Matrix(B(N.LaurelLeft), rank, h),
            LaurelRight = r.Matrix(B(N.LaurelRight), h, rank),
            LaurelPostNorm = r.Vector(B(N.LaurelPostNorm), h),
            AltUpRouter = r.Matrix(B(N.AltUpRouter), s, h),
            AltUpRouterNorm = r.Vector(B(N.AltUpRouterNorm), h),
            AltUpPredictCoef = predict,
            AltUpCorrectCoef = correct,
            AltUpCorrectScale = r.Vector(B(N.AltUpCorrectScale), h),
            PleGate = r.Matrix(B(N.InpGate), p, h),
            PleProjection = r.Matrix(B(N.Proj), h, p),
            PlePostNorm = r.Vector(B(N.PostNorm), h),
        };
    }

    /// <summary>
    /// The storage of a transposed down projection: float formats stay as they are (exact), block-quantized ones
    /// become Q8_0 rows along H (a second rounding of already-quantized values, ≤ 1/254 of each 32-block's
    /// largest value; about the size of a Q8_0 original, twice a Q4_0 one).
    /// </summary>
    public static GgmlType TransposedType(GgmlType source) => source is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 ? source : GgmlType.Q8_0;

    /// <summary>
    /// The transposed down projections of layers <paramref name="sparse"/>, several layers at once (up to
    /// <paramref name="threads"/>), into <paramref name="result"/>: about 0.4 s at E2B on 2 cores, so the first decode
    /// step does it, not the load.
    /// </summary>
    private static void TransposeSparseDowns(List<int> sparse, WeightMatrix[] downs, int threads, (WeightMatrix, byte[])?[] result)
    {
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Clamp(threads, 1, Math.Max(1, sparse.Count)) };
        Parallel.For(0, sparse.Count, parallel, () => new TransposeScratch(), (k, _, scratch) =>
        {
            int i = sparse[k];
            result[i] = Transpose(downs[i], scratch);
            return scratch;
        }, _ => { });
    }

    /// <summary>Reused buffers of one transposing worker.</summary>
    private sealed class TransposeScratch
    {
        public float[] Strip = [];                             // [StripRows, I + 16]
        public readonly float[] Column = new float[StripRows];  // one unit's values in the strip
    }

    // Source rows dequantized at a time: 32 rows of I floats (1 MiB at E2B) stay in L2, and 32 is one Q8_0 block of
    // the transposed rows, so each unit's segment is quantized straight into its final place.
    private const int StripRows = 32;

    /// <summary>[H, I] to [I, H] in <see cref="TransposedType"/>, in pinned memory that the returned matrix views.</summary>
    private static unsafe (WeightMatrix Matrix, byte[] Storage) Transpose(WeightMatrix down, TransposeScratch scratch)
    {
        int h = down.Rows, ffn = down.Columns;
        GgmlType type = TransposedType(down.Type);
        if (h % GgmlTypeInfo.BlockSize(type) != 0)
        {
            throw new NotSupportedException($"'{down.Name}': {h} columns after transposing are not a whole number of {type} blocks.");
        }
        byte[] storage = GC.AllocateUninitializedArray<byte>(checked((int)(GgmlTypeInfo.RowBytes(type, h) * ffn)), pinned: true);   // [I, H] in `type`
        Transpose(down, scratch, storage);
        // Pinned arrays never move, so the view stays valid for as long as the layer holds `storage`.
        byte* data = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(storage));
        var view = new TensorView(TransposedName(down.Name), type, [h, ffn], data, storage.LongLength);
        return (WeightMatrix.Create(view), storage);
    }

    /// <summary>
    /// [H, I] to [I, H] in <see cref="TransposedType"/>, written block by block into <paramref name="destination"/>
    /// (exactly I rows of H values): the one transpose both the first decode step's build and the repack cache's run.
    /// Quantizing a row block by block is what quantizing it whole does (blocks are independent), so the bytes are
    /// those of <see cref="WeightMatrix.FromRows"/> over the float transpose, without the float copy.
    /// </summary>
    private static void Transpose(WeightMatrix down, TransposeScratch scratch, Span<byte> destination)
    {
        int h = down.Rows, ffn = down.Columns;
        GgmlType type = TransposedType(down.Type);
        long rowBytes = GgmlTypeInfo.RowBytes(type, h);
        if (destination.Length != rowBytes * ffn)
        {
            throw new ArgumentException($"'{down.Name}' transposed is {rowBytes * ffn} bytes; the destination has {destination.Length}.", nameof(destination));
        }
        // Rows of I floats are 32 KiB apart at E2B: a power-of-two stride puts the 32 values of one unit in the same
        // L1 set, where they evict each other. One cache line of padding per row spreads them over 32 sets.
        int stride = ffn + 16;
        if (scratch.Strip.Length < StripRows * stride) scratch.Strip = GC.AllocateUninitializedArray<float>(StripRows * stride);
        Span<float> strip = scratch.Strip.AsSpan(0, StripRows * stride);   // [StripRows, I + 16] as stored, padded
        for (int r0 = 0; r0 < h; r0 += StripRows)
        {
            int count = Math.Min(StripRows, h - r0);
            for (int k = 0; k < count; k++) down.DequantizeRow(r0 + k, strip.Slice(k * stride, ffn));
            // r0 is a multiple of the block size (32, or 1 for float types), so the segment starts on a block.
            int segmentStart = (int)GgmlTypeInfo.RowBytes(type, r0), segmentBytes = (int)GgmlTypeInfo.RowBytes(type, count);
            if (type == GgmlType.Q8_0)
            {
                // A strip is one Q8_0 block of every unit: quantized eight units at a time, no per-unit gather.
                Quantizer.QuantizeQ8_0Columns(strip, stride, 0, ffn, destination[segmentStart..], (int)rowBytes);
                continue;
            }
            Span<float> column = scratch.Column.AsSpan(0, count);   // [count]: unit's values in rows r0..r0+count
            for (int unit = 0; unit < ffn; unit++)
            {
                for (int k = 0; k < column.Length; k++) column[k] = strip[k * stride + unit];
                Quantizer.Quantize(type, column, destination.Slice((int)(unit * rowBytes) + segmentStart, segmentBytes));
            }
        }
    }
}
