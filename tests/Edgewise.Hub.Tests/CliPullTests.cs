using System.Diagnostics;
using System.Text.Json;
using Edgewise.Core.Kernels;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Hub.Tests;

/// <summary>The `edgewise pull/list/rm` commands as a user runs them: a separate process, HF_ENDPOINT at the fake hub.</summary>
public sealed class CliPullTests : IAsyncLifetime
{
    private const string QatRepo = "google/gemma-4-E2B-it-qat-q4_0-gguf";
    private FakeHub _fake = null!;
    private string _home = null!;
    private byte[] _model = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeHub.StartAsync();
        _home = Path.Combine(Path.GetTempPath(), "edgewise-cli-" + Guid.NewGuid().ToString("N"));
        _model = new byte[1_500_000];
        new Random(7).NextBytes(_model);
        _fake.AddRepo(QatRepo);
        _fake.AddFile(QatRepo, "gemma-4-E2B_q4_0-it.gguf", _model);
        _fake.AddRepo("google/gated-GGUF", gated: true);
        _fake.AddFile("google/gated-GGUF", "g-Q4_0.gguf", [1, 2, 3]);
    }

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        if (Directory.Exists(_home))
        {
            Directory.Delete(_home, recursive: true);
        }
    }

    [Fact]
    public async Task PullListRmAndOfflineThroughTheExecutable()
    {
        var pull = await RunAsync("pull", "gemma-4-e2b");
        Assert.True(pull.ExitCode == 0, pull.StdErr);
        var path = pull.StdOut.Trim().Split('\n')[^1];
        Assert.Equal(_model, await File.ReadAllBytesAsync(path));
        Assert.StartsWith(_home, path, StringComparison.Ordinal);
        Assert.Contains("(100.0%)", pull.StdErr, StringComparison.Ordinal);

        var list = await RunAsync("list", "--json");
        Assert.Equal(0, list.ExitCode);
        using (var json = JsonDocument.Parse(list.StdOut))
        {
            var entry = Assert.Single(json.RootElement.EnumerateArray());
            Assert.Equal(QatRepo, entry.GetProperty("repository").GetString());
            Assert.Equal(FakeHub.Sha256(_model), entry.GetProperty("sha256").GetString());
            Assert.Equal(path, entry.GetProperty("path").GetString());
        }

        var seen = _fake.Requests.Count;
        var offlineHit = await RunAsync("pull", "gemma-4-e2b", "--offline");
        Assert.Equal(0, offlineHit.ExitCode);
        Assert.Equal(path, offlineHit.StdOut.Trim());

        // A repack cache of the pulled file (the fake model is not a loadable GGUF, so pull built none itself).
        string cache = RepackCache.FileFor(Path.Combine(_home, "repacked"), path);
        var values = new float[16 * 32];
        Assert.True(RepackCache.Write(cache, path, [WeightMatrix.FromRows("w", GgmlType.Q4_0, values, 16, 32)]));

        var rm = await RunAsync("rm", "gemma-4-e2b");
        Assert.Equal(0, rm.ExitCode);
        Assert.False(File.Exists(path));
        Assert.False(File.Exists(cache));
        Assert.Equal(1, (await RunAsync("rm", "gemma-4-e2b")).ExitCode);

        var offlineMiss = await RunAsync("pull", "gemma-4-e2b", "--offline");
        Assert.Equal(1, offlineMiss.ExitCode);
        Assert.Contains("edgewise pull gemma-4-e2b", offlineMiss.StdErr, StringComparison.Ordinal);
        Assert.Equal(seen, _fake.Requests.Count);

        var gated = await RunAsync("pull", "hf.co/google/gated-GGUF:Q4_0");
        Assert.Equal(1, gated.ExitCode);
        Assert.Contains("gated", gated.StdErr, StringComparison.Ordinal);
        Assert.Contains("HF_TOKEN", gated.StdErr, StringComparison.Ordinal);

        Assert.Equal(2, (await RunAsync("pull", "not a model")).ExitCode);
    }

    private async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(EdgewiseDll());
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["HF_ENDPOINT"] = _fake.HubUri.AbsoluteUri;
        start.Environment["EDGEWISE_HOME"] = _home;
        start.Environment.Remove("HF_TOKEN");
        start.Environment["HF_TOKEN_PATH"] = Path.Combine(_home, "no-token");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The CLI built beside this test (same configuration), found from the repository root.</summary>
    private static string EdgewiseDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Edgewise.slnx")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        // tests/Edgewise.Hub.Tests/bin/<Configuration>/<tfm>/
        var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = tfm.Parent!.Name;
        var dll = Path.Combine(dir.FullName, "src", "Edgewise.Cli", "bin", configuration, tfm.Name, "edgewise.dll");
        Assert.True(File.Exists(dll), $"expected the CLI at {dll}; build tests/Edgewise.Hub.Tests (it builds the CLI too)");
        return dll;
    }
}
