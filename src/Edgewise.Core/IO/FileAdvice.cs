using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Edgewise.Core.IO;

/// <summary>
/// <c>posix_fadvise</c> hints for files read with positioned reads. Advisory only: on other systems, or when the
/// call fails, nothing happens and reads still work.
/// </summary>
public static partial class FileAdvice
{
    private const int PosixFadvRandom = 1;
    private const int PosixFadvDontNeed = 4;

    /// <summary>No read-ahead on <paramref name="length"/> bytes at <paramref name="offset"/>: each read brings in only what it asked for.</summary>
    public static void Random(SafeFileHandle file, long offset, long length) => Advise(file, offset, length, PosixFadvRandom);

    /// <summary>Drops the range from the page cache (after it has been copied out), so a big table never stays cached wholesale.</summary>
    public static void DontNeed(SafeFileHandle file, long offset, long length) => Advise(file, offset, length, PosixFadvDontNeed);

    private static void Advise(SafeFileHandle file, long offset, long length, int advice)
    {
        if (!OperatingSystem.IsLinux() || file.IsInvalid) return;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            _ = PosixFadvise((int)file.DangerousGetHandle(), offset, length, advice);
        }
        finally
        {
            if (added) file.DangerousRelease();
        }
    }

    // off_t is 64-bit on every 64-bit Linux ABI .NET supports.
    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);
}
