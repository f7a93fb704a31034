using System.Runtime.InteropServices;

namespace Edgewise.Core.Quantization;

// Block structs bit-compatible with ggml-common.h. Field order and sizes are the file format:
// a row of a quantized tensor is an array of these, so a mapped file can be reinterpreted in place.

/// <summary>ggml <c>block_q4_0</c>: 32 values, x = d * (q - 8); low nibbles hold values 0..15, high nibbles 16..31.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_0
{
    public const int Values = 32;
    public Half D;
    public fixed byte Qs[16];
}

/// <summary>ggml <c>block_q4_1</c>: 32 values, x = d * q + m.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_1
{
    public const int Values = 32;
    public Half D;
    public Half M;
    public fixed byte Qs[16];
}

/// <summary>ggml <c>block_q5_0</c>: 32 values, x = d * (q - 16); bit 4 of value j is bit j of <see cref="Qh"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_0
{
    public const int Values = 32;
    public Half D;
    public fixed byte Qh[4];
    public fixed byte Qs[16];
}

/// <summary>ggml <c>block_q8_0</c>: 32 values, x = d * q.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_0
{
    public const int Values = 32;
    public Half D;
    public fixed sbyte Qs[32];
}

/// <summary>ggml <c>block_q8_1</c>: like Q8_0 plus <c>s = d * sum(q)</c>, the activation format for Q4_1/Q5_1.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_1
{
    public const int Values = 32;
    public Half D;
    public Half S;
    public fixed sbyte Qs[32];
}

/// <summary>
/// ggml <c>block_q4_K</c>: 256 values in 8 sub-blocks of 32; 6-bit scales and mins packed in 12 bytes;
/// x = d * sc * q - dmin * m.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ4_K
{
    public const int Values = 256;
    public Half D;
    public Half DMin;
    public fixed byte Scales[12];
    public fixed byte Qs[128];
}

/// <summary>ggml <c>block_q5_K</c>: Q4_K plus a fifth bit per value in <see cref="Qh"/>.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ5_K
{
    public const int Values = 256;
    public Half D;
    public Half DMin;
    public fixed byte Scales[12];
    public fixed byte Qh[32];
    public fixed byte Qs[128];
}

/// <summary>ggml <c>block_q6_K</c>: 256 values in 16 sub-blocks of 16, signed 8-bit scales; x = d * sc * (q - 32).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ6_K
{
    public const int Values = 256;
    public fixed byte Ql[128];
    public fixed byte Qh[64];
    public fixed sbyte Scales[16];
    public Half D;
}

/// <summary>ggml <c>block_q8_K</c>: the activation format for K-quants; float scale and per-16 sums.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public unsafe struct BlockQ8_K
{
    public const int Values = 256;
    public float D;
    public fixed sbyte Qs[256];
    public fixed short BSums[16];
}
