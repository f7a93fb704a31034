using System.Runtime.InteropServices;

namespace Edgewise.Core.Threading;

/// <summary>
/// Makes the calling thread yield the CPU to everything else in the process: on Linux, nice 19 for this thread only
/// (<c>setpriority</c> on its thread id; .NET's <see cref="Thread.Priority"/> does nothing there). For housekeeping that
/// must not slow a decode running on the same two cores, like writing a repack cache.
/// </summary>
public static partial class BackgroundPriority
{
    private const int PrioProcess = 0;
    private const int Lowest = 19;

    /// <summary>Lowers the calling thread's priority; false where the OS offers no per-thread nice.</summary>
    public static bool LowerCurrentThread()
    {
        Thread.CurrentThread.Priority = ThreadPriority.Lowest;
        if (!OperatingSystem.IsLinux()) return false;
        // Raising one's own nice value needs no privilege.
        return SetPriority(PrioProcess, GetTid(), Lowest) == 0;
    }

    [LibraryImport("libc", EntryPoint = "setpriority")]
    private static partial int SetPriority(int which, int who, int priority);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();
}
