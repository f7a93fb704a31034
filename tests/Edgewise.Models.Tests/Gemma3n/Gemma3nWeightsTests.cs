using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Edgewise.Models.Common;
using Edgewise.Models.Gemma3n;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Gemma3n;

/// <summary>The transposed down projections built at load for sparse decode.</summary>
public sealed class Gemma3nWeightsTests
{
    [Fact]
    public void Transposes_wait_for_the_first_decode_step_and_change_no_logit()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string path = Gemma3nTestShapes.Write(dir, spec, GgmlType.Q4_0);
        int[] prompt = TestShapes.Tokens(12, spec.Vocab, seed: 4);
        int[] next = [7, 300, 41];
        var lazy = (Gemma3nModel)Architectures.Load(path, new ModelLoadOptions { Threads = 2 });
        var eager = (Gemma3nModel)Architectures.Load(path, new ModelLoadOptions { Threads = 2 });
        using (lazy)
        using (eager)
        {
            eager.Weights.EnsureSparseDowns();
            Assert.True(lazy.Weights.SparseDownsPending);
            Assert.Null(lazy.Weights.Layers[0].DownTransposed);
            Assert.Equal(eager.Weights.SparseDownBytes, lazy.Weights.SparseDownBytes);   // reported before they exist
            Assert.True(lazy.Weights.SparseDownBytes > 0);

            using Gemma3nState a = lazy.CreateGemma3nState(64), b = eager.CreateGemma3nState(64);
            var la = new float[spec.Vocab];
            var lb = new float[spec.Vocab];
            a.Forward(prompt, la);
            b.Forward(prompt, lb);
            Assert.Equal(lb, la);
            Assert.True(lazy.Weights.SparseDownsPending);   // a prompt batch runs dense: the first token did not wait

            foreach (int token in next)
            {
                a.Forward([token], la);
                b.Forward([token], lb);
                Assert.False(lazy.Weights.SparseDownsPending);
                Assert.Equal(lb, la);   // the first decode step already took the sparse path, as every later one
            }
            Assert.True(a.LastSparseTraffic.SurvivingUnits < a.LastSparseTraffic.Units);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 1)]
    [InlineData(GgmlType.Q4_0, 3)]
    [InlineData(GgmlType.F32, 2)]
    public void Transposed_down_is_the_quantized_float_transpose_of_down(GgmlType dtype, int threads)
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string path = Gemma3nTestShapes.Write(dir, spec, dtype);
        using var model = (Gemma3nModel)Architectures.Load(path, new ModelLoadOptions { Threads = threads });
        model.Weights.EnsureSparseDowns();
        int sparseLayers = 0;
        for (int i = 0; i < model.Config.LayerCount; i++)
        {
            Gemma3nLayerWeights layer = model.Weights.Layers[i];
            if (!model.Config.IsSparse(i))
            {
                Assert.Null(layer.DownTransposed);
                continue;
            }
            sparseLayers++;
            WeightMatrix expected = NaiveTranspose(layer.Down);
            WeightMatrix actual = layer.DownTransposed!;
            Assert.Equal((expected.Type, expected.Rows, expected.Columns), (actual.Type, actual.Rows, actual.Columns));
            var want = new float[expected.Columns];
            var got = new float[actual.Columns];
            for (int unit = 0; unit < expected.Rows; unit++)
            {
                expected.DequantizeRow(unit, want);
                actual.DequantizeRow(unit, got);
                Assert.Equal(want, got);
            }
        }
        Assert.Equal(10, sparseLayers);
    }

    /// <summary>The reference: the whole [H, I] matrix as floats, transposed element by element, quantized row by row.</summary>
    private static WeightMatrix NaiveTranspose(WeightMatrix down)
    {
        int h = down.Rows, ffn = down.Columns;
        var rows = new float[h * ffn];   // [H, I]
        for (int r = 0; r < h; r++) down.DequantizeRow(r, rows.AsSpan(r * ffn, ffn));
        var cols = new float[ffn * h];   // [I, H]
        for (int r = 0; r < h; r++)
        {
            for (int c = 0; c < ffn; c++) cols[c * h + r] = rows[r * ffn + c];
        }
        return WeightMatrix.FromRows("reference", Gemma3nWeights.TransposedType(down.Type), cols, ffn, h);
    }
}
