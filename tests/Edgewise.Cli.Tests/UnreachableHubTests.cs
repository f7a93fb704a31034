using System.Diagnostics;
using Xunit;

namespace Edgewise.Cli.Tests;

/// <summary>A newcomer without network access runs the README's command: the answer must say what works offline.</summary>
public sealed class UnreachableHubTests
{
    [Fact]
    public async Task Run_with_an_alias_and_no_hub_names_the_local_file_alternative()
    {
        using var home = new TempHome();
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "edgewise.dll"));
        start.ArgumentList.Add("run");
        start.ArgumentList.Add("gemma-4-e2b");
        // Port 1 on loopback: nothing listens, so every attempt is refused at once.
        start.Environment["HF_ENDPOINT"] = "http://127.0.0.1:1";
        start.Environment["EDGEWISE_HOME"] = home.Path;

        using Process process = Process.Start(start)!;
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        string error = await stderr;
        _ = await stdout;

        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("127.0.0.1:1", error, StringComparison.Ordinal);
        Assert.Contains("local GGUF file", error, StringComparison.Ordinal);
        Assert.Contains("edgewise synth", error, StringComparison.Ordinal);
    }

    private sealed class TempHome : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("edgewise-home-").FullName;

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); }
            catch (IOException) { }
        }
    }
}
