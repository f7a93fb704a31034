using System.Diagnostics;

namespace Edgewise.Cli.Infrastructure;

/// <summary>Time since this process was started (by the OS, before the runtime loaded): what a cold start costs a user.</summary>
internal static class ProcessClock
{
    // Read once: Process.StartTime parses /proc/self/stat on Linux; the kernel records it in clock ticks (10 ms).
    private static readonly DateTime Started = ReadStartTime();

    public static TimeSpan SinceStart() => DateTime.Now - Started;

    private static DateTime ReadStartTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.StartTime;
    }
}
