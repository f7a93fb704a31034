using System.Runtime.InteropServices;

namespace Edgewise.Bench;

/// <summary>
/// 2 MiB-aligned native memory with transparent huge pages requested (THP is in madvise mode on the bench
/// machine; without it reads run ~10-15% slower), so kernel numbers compare with llama.cpp's in-RAM weights.
/// </summary>
internal sealed unsafe partial class NativeBuffer : IDisposable
{
    private const nuint HugePage = 2 * 1024 * 1024;
    private const int MadvHugePage = 14;
    private const int MadvNoHugePage = 15;

    public NativeBuffer(long bytes)
    {
        Length = bytes;
        nuint size = ((nuint)bytes + HugePage - 1) & ~(HugePage - 1);
        Pointer = (byte*)NativeMemory.AlignedAlloc(size, HugePage);
        if (OperatingSystem.IsLinux())
        {
            // EDGEWISE_BENCH_SMALL_PAGES=1: 4 KiB pages, like a memory-mapped GGUF, to see what mapping costs.
            _ = Madvise(Pointer, size, Environment.GetEnvironmentVariable("EDGEWISE_BENCH_SMALL_PAGES") == "1" ? MadvNoHugePage : MadvHugePage);
        }
        new Span<byte>(Pointer, (int)Math.Min(bytes, int.MaxValue)).Clear();
        for (long offset = int.MaxValue; offset < bytes; offset += int.MaxValue)
        {
            new Span<byte>(Pointer + offset, (int)Math.Min(bytes - offset, int.MaxValue)).Clear();
        }
    }

    public byte* Pointer { get; private set; }
    public long Length { get; }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.AlignedFree(Pointer);
            Pointer = null;
        }
    }
}
