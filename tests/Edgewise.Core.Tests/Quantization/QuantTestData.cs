using System.Runtime.InteropServices;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;

namespace Edgewise.Core.Tests.Quantization;

internal static class QuantTestData
{
    public static readonly GgmlType[] QuantizableTypes =
        [GgmlType.Q8_0, GgmlType.Q8_1, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    public static readonly GgmlType[] MatrixTypes =
        [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q8_1, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K];

    /// <summary>ggml test-quantize-fns' synthetic data: 0.1 + 2 cos(i + offset).</summary>
    public static float[] Synthetic(int n, float offset)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = 0.1f + 2 * MathF.Cos(i + offset);
        return x;
    }

    public static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return x;
    }

    public static byte[] Quantize(GgmlType type, float[] values)
    {
        var bytes = new byte[Quantizer.QuantizedBytes(type, values.Length)];
        Quantizer.Quantize(type, values, bytes);
        return bytes;
    }

    public static float[] Dequantize(GgmlType type, byte[] bytes, int count)
    {
        var values = new float[count];
        Dequantizer.DequantizeRow(type, bytes, values);
        return values;
    }

    public static ushort HalfBits(byte[] bytes, int offset) => MemoryMarshal.Read<ushort>(bytes.AsSpan(offset));
}
