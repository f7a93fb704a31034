using Edgewise.Core.Kernels;
using Edgewise.Core.Tests.Quantization;
using Xunit;

namespace Edgewise.Core.Tests.Kernels;

public unsafe class ActivationQuantizerTests
{
    [Fact]
    public void FastQ8_0ActivationQuantizationIsBitIdenticalToScalar()
    {
        for (int blocks = 1; blocks <= 40; blocks++)
        {
            float[] x = QuantTestData.Random(blocks * 32, blocks, 10f);
            x[0] = blocks % 3 == 0 ? 0 : x[0];
            if (blocks == 5) Array.Clear(x, 32, 32); // an all-zero block
            var q1 = new sbyte[x.Length];
            var q2 = new sbyte[x.Length];
            var s1 = new float[blocks];
            var s2 = new float[blocks];
            var u1 = new int[blocks];
            var u2 = new int[blocks];
            fixed (float* xp = x)
            fixed (sbyte* a = q1, b = q2)
            fixed (float* sa = s1, sb = s2)
            fixed (int* ua = u1, ub = u2)
            {
                ActivationQuantizer.QuantizeQ8_0(xp, a, sa, ua, x.Length);
                ActivationQuantizer.QuantizeQ8_0Fast(xp, b, sb, ub, x.Length);
            }
            Assert.Equal(q1, q2);
            Assert.Equal(s1, s2);
            Assert.Equal(u1, u2);
        }
    }
}
