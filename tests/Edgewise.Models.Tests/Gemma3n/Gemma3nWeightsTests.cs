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
