using System.Diagnostics;
using Edgewise.Core.Kernels;

namespace Edgewise.Bench;

/// <summary>
/// <c>quick-quantize</c>: nanoseconds per activation row quantized the way a decode matvec does it (the caller's
/// serial step before each pool pass), for the widths Gemma 4 and Gemma 3n E2B quantize every token.
/// </summary>
internal static unsafe class QuantizeBench
{
    public static void Run(string[] args)
    {
        int[] widths = [1536, 2048, 6144, 12288];
        foreach (ActivationKind kind in new[] { ActivationKind.Q8Block32, ActivationKind.Q8Block32Paired })
        {
            foreach (int columns in widths)
            {
                float* x = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)columns * 4, 64);
                byte* scratch = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)ActivationQuantizer.BytesPerRow(kind, columns), 64);
                for (int i = 0; i < columns; i++) x[i] = MathF.Sin(i * 0.37f) * (1 + i % 7);
                ActivationRow row = ActivationQuantizer.Layout(kind, x, scratch, columns);
                int reps = 2_000_000 / columns * 10;
                var times = new List<double>();
                for (int round = 0; round < 7; round++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int r = 0; r < reps; r++) ActivationQuantizer.Quantize(kind, row, columns);
                    times.Add(sw.Elapsed.TotalNanoseconds / reps);
                }
                times.Sort();
                Console.WriteLine($"{kind,-16} {columns,6} {times[3],9:F0} ns/row {times[3] / (columns / 32),6:F1} ns/block");
                System.Runtime.InteropServices.NativeMemory.AlignedFree(x);
                System.Runtime.InteropServices.NativeMemory.AlignedFree(scratch);
            }
        }
    }
}
