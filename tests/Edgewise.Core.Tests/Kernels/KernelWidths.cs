namespace Edgewise.Core.Tests.Kernels;

/// <summary>
/// Runs a kernel family at each register width this machine has: 512-bit and 256-bit where it has AVX-512, else
/// 256-bit. The family's width switch is passed in; the machine's default is restored after each run.
/// </summary>
internal sealed class KernelWidths(Func<bool> get, Action<bool> set)
{
    /// <summary>The widths this machine can run (true: 512-bit).</summary>
    public bool[] All { get; } = get() ? [true, false] : [false];

    /// <summary>Runs <paramref name="body"/> with the kernels at one width.</summary>
    public void At(bool wide, Action body)
    {
        bool saved = get();
        set(wide);
        try
        {
            body();
        }
        finally
        {
            set(saved);
        }
    }
}
