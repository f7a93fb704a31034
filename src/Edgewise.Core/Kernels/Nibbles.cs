using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Edgewise.Core.Kernels;

/// <summary>
/// The high nibble of every byte (bits 4-7 moved to 0-3, the rest cleared), as the 4-bit kernels unpack their
/// quants. With GFNI it is one <c>gf2p8affineqb</c> against a fixed bit matrix; without, a 16-bit shift and a mask.
/// Same bytes either way.
/// </summary>
internal static class Nibbles
{
    /// <summary>
    /// The 8x8 bit matrix of the affine map: row i (byte 7 - i of the qword) selects the input bits summed into output
    /// bit i, so output bit i is input bit i + 4 for i &lt; 4, and 0 above.
    /// </summary>
    private const ulong HighNibbleMatrix = 0x10_20_40_80_00_00_00_00;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> High(Vector512<byte> bytes)
        => Gfni.V512.IsSupported
            ? Gfni.V512.GaloisFieldAffineTransform(bytes, Vector512.Create(HighNibbleMatrix).AsByte(), 0)
            : Avx512BW.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & Vector512.Create((byte)0x0F);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> High(Vector256<byte> bytes)
        => Gfni.V256.IsSupported
            ? Gfni.V256.GaloisFieldAffineTransform(bytes, Vector256.Create(HighNibbleMatrix).AsByte(), 0)
            : Avx2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0F);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> High(Vector128<byte> bytes)
        => Gfni.IsSupported
            ? Gfni.GaloisFieldAffineTransform(bytes, Vector128.Create(HighNibbleMatrix).AsByte(), 0)
            : Sse2.ShiftRightLogical(bytes.AsUInt16(), 4).AsByte() & Vector128.Create((byte)0x0F);
}
