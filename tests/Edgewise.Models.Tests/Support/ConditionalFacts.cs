using Xunit;

namespace Edgewise.Models.Tests.Support;

/// <summary>A fact that runs only on Linux (it reads /proc); reported as skipped elsewhere.</summary>
public sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "reads /proc/self/status (Linux only)";
    }
}
