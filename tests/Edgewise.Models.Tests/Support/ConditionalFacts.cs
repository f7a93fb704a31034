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

/// <summary>A fact that needs a full-size model named by EDGEWISE_LARGE_GGUF; reported as skipped without one.</summary>
public sealed class LargeFileFactAttribute : FactAttribute
{
    public const string Variable = "EDGEWISE_LARGE_GGUF";

    public LargeFileFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable)))
        {
            Skip = $"set {Variable} to a full-size gemma4 GGUF (e.g. edgewise synth --shape e2b --dtype q4_0)";
        }
    }
}
