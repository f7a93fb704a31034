using Edgewise.Core.Kernels;
using Edgewise.Core.Quantization;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

/// <summary>
/// Half rows widened for attention (a half KV cache): <see cref="Fp16.ToFloat(ReadOnlySpan{Half}, Span{float})"/> against
/// the scalar <see cref="Fp16.ToFloat(ushort)"/> for every bit pattern, and <see cref="AttentionTiles.WidenRows"/>.
/// </summary>
public sealed class HalfRowTests
{
    [Fact]
    public void SpansWidenEveryBitPatternAsTheScalarDefinition()
    {
        // Every pattern once, at an offset and length that leave a tail for the scalar loop (and NaN payloads).
        var halves = new Half[65536 + 7];
        for (int i = 0; i < halves.Length; i++) halves[i] = BitConverter.UInt16BitsToHalf((ushort)(i * 40503));
        var floats = new float[halves.Length];
        Fp16.ToFloat(halves.AsSpan(3), floats.AsSpan(3));
        for (int i = 3; i < halves.Length; i++)
        {
            ushort bits = BitConverter.HalfToUInt16Bits(halves[i]);
            Assert.True(BitConverter.SingleToUInt32Bits(Fp16.ToFloat(bits)) == BitConverter.SingleToUInt32Bits(floats[i]),
                $"half 0x{bits:X4}: {floats[i]} vs {Fp16.ToFloat(bits)}");
        }
        Assert.Equal(0f, floats[0]);   // before the span: untouched
        // Every pattern is covered: 40503 is odd, so i · 40503 runs through all 65536 residues.
        Assert.Equal(65536, halves.Take(65536).Select(BitConverter.HalfToUInt16Bits).Distinct().Count());
    }

    [Fact]
    public void ATooShortDestinationIsNamed()
    {
        var error = Assert.Throws<ArgumentException>(() => Fp16.ToFloat(new Half[9], new float[8]));
        Assert.Contains("9 halves need 9 floats", error.Message);
    }

    [Theory]
    [InlineData(256, 64, 72)]
    [InlineData(512, 5, 5)]
    [InlineData(40, 3, 11)]
    public void RowsAreWidenedInOrderIntoConsecutiveRows(int dim, int count, int known)
    {
        var cache = new Half[100 * 2 * dim];
        var random = new Random(dim + count);
        for (int i = 0; i < cache.Length; i++) cache[i] = (Half)(random.NextDouble() * 20 - 10);
        // A ring's slots: wrapping, at the second of two KV heads.
        int[] offsets = Enumerable.Range(0, known).Select(c => (95 + c) % 100 * 2 * dim + dim).ToArray();
        var rows = new float[count * dim + 3];
        AttentionTiles.WidenRows(cache, offsets, count, dim, rows);
        for (int c = 0; c < count; c++)
        {
            for (int i = 0; i < dim; i++) Assert.Equal((float)cache[offsets[c] + i], rows[c * dim + i]);
        }
        Assert.Equal(new float[3], rows[(count * dim)..]);
    }

    [Fact]
    public void BadRowsAreNamed()
    {
        var cache = new Half[256];
        var outside = Assert.Throws<ArgumentOutOfRangeException>(() => AttentionTiles.WidenRows(cache, [0, 200], 2, 64, new float[128]));
        Assert.Contains("leaves the 256 values", outside.Message);
        var small = Assert.Throws<ArgumentException>(() => AttentionTiles.WidenRows(cache, [0, 64], 2, 64, new float[100]));
        Assert.Contains("need 128; got 100", small.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AttentionTiles.WidenRows(cache, [0], 2, 64, new float[128]));
    }
}
