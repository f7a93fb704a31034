using System.Diagnostics;
using Edgewise.Cli.Commands;
using Edgewise.Core.Formats;
using Edgewise.Core.Kernels;
using Edgewise.Models;
using Edgewise.Models.Common;

namespace Edgewise.Cli.Infrastructure;

/// <summary>
/// Builds a GGUF model's repack cache (<see cref="RepackCache"/>) in the foreground, for commands that end before a
/// background build would: <c>pull</c> right after the download, <c>bench</c> before it measures (so it measures what
/// every later run gets). <c>run</c> and <c>serve</c> build it in the background instead.
/// </summary>
internal static class RepackCacheStep
{
    /// <summary>Builds the cache of <paramref name="modelPath"/> in <paramref name="directory"/> unless a current one exists; says so on <paramref name="log"/>.</summary>
    public static void Prepare(string modelPath, string directory, int threads, TextWriter log)
    {
        if (!File.Exists(modelPath) || !modelPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return;
        string cachePath = RepackCache.FileFor(directory, modelPath);
        using (RepackCache? current = RepackCache.TryOpen(cachePath, modelPath))
        {
            if (current is not null) return;
        }
        var clock = Stopwatch.StartNew();
        try
        {
            var options = new ModelLoadOptions { Threads = threads, RepackCacheDirectory = directory, WaitForRepackCache = true };
            using ILanguageModel model = Architectures.Load(modelPath, options);
        }
        catch (Exception ex) when (ex is ModelFormatException or NotSupportedException or IOException)
        {
            return;   // the load that follows reports what is wrong with the file
        }
        if (File.Exists(cachePath))
        {
            log.WriteLine($"Repacked the matrices for fast decode in {clock.Elapsed.TotalSeconds:F1} s, once per model file " +
                $"({PullCommand.FormatSize(new FileInfo(cachePath).Length)} in {directory}; --repack-cache off skips it).");
        }
    }
}
