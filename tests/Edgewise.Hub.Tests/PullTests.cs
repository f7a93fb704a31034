using Xunit;

namespace Edgewise.Hub.Tests;

/// <summary>Drives the real <see cref="HubClient"/> and <see cref="ModelStore"/> against <see cref="FakeHub"/>.</summary>
public sealed class PullTests : IAsyncLifetime
{
    private const string QatRepo = "google/gemma-4-E2B-it-qat-q4_0-gguf";
    private const string QatFile = "gemma-4-E2B_q4_0-it.gguf";
    private const string GatedRepo = "google/gated-test-GGUF";

    private FakeHub _fake = null!;
    private string _root = null!;
    private byte[] _model = null!;

    public async Task InitializeAsync()
    {
        _fake = await FakeHub.StartAsync();
        _root = Path.Combine(Path.GetTempPath(), "edgewise-hub-" + Guid.NewGuid().ToString("N"));
        _model = RandomBytes(3 * 1024 * 1024 + 4321, seed: 1);

        _fake.AddRepo(QatRepo);
        _fake.AddFile(QatRepo, QatFile, _model);
        _fake.AddFile(QatRepo, "gemma-4-E2B-it-mmproj.gguf", RandomBytes(50_000, seed: 2));
        _fake.AddFile(QatRepo, "README.md", "# Gemma 4 E2B QAT"u8.ToArray());
        _fake.AddFile(QatRepo, ".gitattributes", "*.gguf filter=lfs"u8.ToArray());

        _fake.AddRepo(GatedRepo, gated: true);
        _fake.AddFile(GatedRepo, "gated-Q8_0.gguf", RandomBytes(200_000, seed: 3));
    }

    public async Task DisposeAsync()
    {
        await _fake.DisposeAsync();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private HubClient Client(string? token = null, int maxAttempts = 4, double idleSeconds = 5) => new(new HubClientOptions
    {
        Endpoint = _fake.HubUri,
        Token = token,
        MaxAttempts = maxAttempts,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        RequestTimeout = TimeSpan.FromSeconds(5),
        ReadIdleTimeout = TimeSpan.FromSeconds(idleSeconds),
    });

    // Automatic resume is off unless a test asks for it, so an injected drop surfaces as NetworkLost.
    private ModelStore Store(HubClient? hub, long freeBytes = long.MaxValue, int autoResume = 0) =>
        new(hub, new ModelStoreOptions { Root = _root, FreeSpace = _ => freeBytes, AutoResumeAttempts = autoResume, AutoResumeDelay = TimeSpan.FromMilliseconds(10) });

    [Fact]
    public async Task AliasPullSelectsQuantFileVerifiesAndInstallsWithManifest()
    {
        using var hub = Client();
        var store = Store(hub);
        var reports = new List<DownloadProgress>();

        var installed = await store.PullAsync(ModelReference.Parse("gemma-4-e2b"), new SyncProgress(reports.Add));

        Assert.Equal(QatFile, installed.File);
        Assert.Equal(Path.Combine(_root, "models", "google", "gemma-4-E2B-it-qat-q4_0-gguf", QatFile), installed.Path);
        Assert.Equal(_model, await File.ReadAllBytesAsync(installed.Path));
        Assert.Equal(FakeHub.Sha256(_model), installed.Sha256);
        Assert.Equal(_model.Length, installed.Size);
        Assert.Equal("gemma-4-e2b", installed.Alias);
        Assert.Matches("^[0-9a-f]{40}$", installed.Commit);
        Assert.False(File.Exists(installed.Path + ".partial"));
        Assert.NotEmpty(reports);
        Assert.Equal(_model.Length, reports[^1].BytesDone);
        Assert.Equal(_model.Length, reports[^1].TotalBytes);

        // The listing is paged (2 per page, 4 files): both pages were read, and pinned to the commit.
        Assert.Equal(2, _fake.Seen("hub").Count(r => r.Path.Contains("/tree/" + installed.Commit, StringComparison.Ordinal)));
        // The resolve redirect crossed hosts: 127.0.0.1 for the hub, localhost for the CDN.
        Assert.All(_fake.Seen("hub"), r => Assert.Equal("127.0.0.1", r.Host));
        Assert.Single(_fake.Seen("cdn"), r => r.Host == "localhost");

        var listed = Assert.Single(store.List());
        Assert.Equal(installed with { PulledAt = listed.PulledAt }, listed);

        // A second pull of an installed, unchanged file downloads nothing.
        var sent = _fake.CdnBytesSent;
        await store.PullAsync(ModelReference.Parse("hf.co/" + QatRepo + ":q4_0"));
        Assert.Equal(sent, _fake.CdnBytesSent);
    }

    [Fact]
    public async Task InterruptedDownloadKeepsPartialAndResumesWithRange()
    {
        using var hub = Client();
        var store = Store(hub);
        _fake.AbortAfterBytes = 1_234_567;

        var lost = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));
        Assert.Equal(HubErrorKind.NetworkLost, lost.Kind);
        Assert.Contains("edgewise pull gemma-4-e2b", lost.Message, StringComparison.Ordinal);
        var final = Path.Combine(_root, "models", "google", "gemma-4-E2B-it-qat-q4_0-gguf", QatFile);
        Assert.False(File.Exists(final));
        var kept = new FileInfo(final + ".partial").Length;
        Assert.InRange(kept, 1, _model.Length - 1);
        Assert.Empty(store.List());

        var installed = await store.PullAsync(ModelReference.Parse("gemma-4-e2b"));

        Assert.Equal(_model, await File.ReadAllBytesAsync(installed.Path));
        var resumed = _fake.Seen("cdn").Last();
        Assert.Equal($"bytes={kept}-", resumed.Range);
        Assert.Equal($"\"{FakeHub.Sha256(_model)}\"", resumed.IfRange);
        Assert.Equal(206, resumed.Status);
        // Only the missing tail crossed the wire the second time.
        Assert.Equal(1_234_567 + (_model.Length - kept), _fake.CdnBytesSent);
        Assert.False(File.Exists(final + ".partial"));
        Assert.False(File.Exists(final + ".partial.json"));
    }

    [Fact]
    public async Task DroppedConnectionIsResumedAutomaticallyWithinOnePull()
    {
        using var hub = Client();
        var store = Store(hub, autoResume: 2);
        _fake.AbortAfterBytes = 2_000_000;

        var installed = await store.PullAsync(ModelReference.Parse("gemma-4-e2b"));

        Assert.Equal(_model, await File.ReadAllBytesAsync(installed.Path));
        var cdn = _fake.Seen("cdn").ToList();
        Assert.Equal(2, cdn.Count);
        Assert.Null(cdn[0].Range);
        Assert.StartsWith("bytes=", cdn[1].Range, StringComparison.Ordinal);
        Assert.Equal(206, cdn[1].Status);
    }

    [Fact]
    public async Task SilentServerTimesOutAsNetworkLostAndResumes()
    {
        using var hub = Client(idleSeconds: 0.3);
        var store = Store(hub);
        _fake.StallAfterBytes = 500_000;
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var lost = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));

        Assert.Equal(HubErrorKind.NetworkLost, lost.Kind);
        Assert.Contains("no data for 0.3 s", lost.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"gave up after {clock.Elapsed}");
        var installed = await store.PullAsync(ModelReference.Parse("gemma-4-e2b"));
        Assert.Equal(_model, await File.ReadAllBytesAsync(installed.Path));
        Assert.Equal(206, _fake.Seen("cdn").Last().Status);
    }

    [Fact]
    public async Task PartialOfAnOlderVersionIsDiscardedWhenTheFileChanged()
    {
        using var hub = Client();
        var store = Store(hub);
        _fake.AbortAfterBytes = 800_000;
        await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));
        var updated = RandomBytes(_model.Length, seed: 99);
        _fake.AddFile(QatRepo, QatFile, updated);

        var installed = await store.PullAsync(ModelReference.Parse("gemma-4-e2b"));

        Assert.Equal(updated, await File.ReadAllBytesAsync(installed.Path));
        Assert.Equal(FakeHub.Sha256(updated), installed.Sha256);
        Assert.Null(_fake.Seen("cdn").Last().Range);
    }

    [Fact]
    public async Task RemovePartialsDeletesAnUnfinishedDownload()
    {
        using var hub = Client();
        var store = Store(hub);
        _fake.AbortAfterBytes = 600_000;
        await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));
        Assert.Empty(store.RemovePartials(ModelReference.Parse("gemma-4-e2b:Q8_0")));

        var removed = Assert.Single(store.RemovePartials(ModelReference.Parse("gemma-4-e2b")));

        Assert.EndsWith(QatFile, removed, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "models", "google")));
    }

    [Fact]
    public async Task ServerIgnoringRangeRestartsFromZeroAndStillVerifies()
    {
        using var hub = Client();
        var store = Store(hub);
        _fake.AbortAfterBytes = 700_000;
        await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));
        _fake.IgnoreRange = true;

        var installed = await store.PullAsync(ModelReference.Parse("gemma-4-e2b"));

        Assert.Equal(_model, await File.ReadAllBytesAsync(installed.Path));
        Assert.Equal(200, _fake.Seen("cdn").Last().Status);
    }

    [Fact]
    public async Task CorruptedDownloadIsDetectedAndNotInstalled()
    {
        using var hub = Client();
        var store = Store(hub);
        _fake.Corrupt[FakeHub.Sha256(_model)] = true;

        var ex = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));

        Assert.Equal(HubErrorKind.ChecksumMismatch, ex.Kind);
        Assert.Contains(FakeHub.Sha256(_model), ex.Message, StringComparison.Ordinal);
        var dir = Path.Combine(_root, "models", "google", "gemma-4-E2B-it-qat-q4_0-gguf");
        Assert.Empty(Directory.EnumerateFiles(dir));
        Assert.Empty(store.List());
    }

    [Fact]
    public async Task GatedRepoWithoutTokenFailsWithGatedNeedsToken()
    {
        using var hub = Client();
        var store = Store(hub);

        var ex = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse(GatedRepo + ":Q8_0")));
        Assert.Equal(HubErrorKind.GatedNeedsToken, ex.Kind);
        Assert.Contains("HF_TOKEN", ex.Message, StringComparison.Ordinal);

        // The resolve endpoint's own 401 maps the same way (a hub that does not flag the repo in model info).
        var direct = await Assert.ThrowsAsync<HubException>(() => hub.OpenFileAsync(GatedRepo, "main", "gated-Q8_0.gguf"));
        Assert.Equal(HubErrorKind.GatedNeedsToken, direct.Kind);
        Assert.Equal(401, direct.StatusCode);
        Assert.Empty(_fake.Seen("cdn"));
    }

    [Fact]
    public async Task GatedRepoWithTokenDownloadsAndTokenNeverReachesCdn()
    {
        using var hub = Client(token: _fake.ValidToken);
        var store = Store(hub);

        var installed = await store.PullAsync(ModelReference.Parse("hf.co/" + GatedRepo + ":Q8_0"));

        Assert.Equal("gated-Q8_0.gguf", installed.File);
        Assert.All(_fake.Seen("hub"), r => Assert.Equal("Bearer " + _fake.ValidToken, r.Authorization));
        var cdn = Assert.Single(_fake.Seen("cdn"));
        Assert.Null(cdn.Authorization);
        Assert.Equal(200, cdn.Status);

        using var wrongToken = Client(token: "hf_wrong");
        var denied = await Assert.ThrowsAsync<HubException>(() => wrongToken.OpenFileAsync(GatedRepo, "main", "gated-Q8_0.gguf"));
        Assert.Equal(HubErrorKind.AccessDenied, denied.Kind);
    }

    [Fact]
    public async Task MissingRepoFileOrQuantIsNotFoundWithCloseMatches()
    {
        using var hub = Client();
        var store = Store(hub);

        var repo = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("google/no-such-repo", file: "x.gguf")));
        Assert.Equal(HubErrorKind.NotFound, repo.Kind);
        Assert.Equal(404, repo.StatusCode);

        var file = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse(QatRepo, file: "gemma-4-E2B_q4_0.gguf")));
        Assert.Equal(HubErrorKind.NotFound, file.Kind);
        Assert.Contains(QatFile, file.Message, StringComparison.Ordinal);

        var quant = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b:Q8_0")));
        Assert.Equal(HubErrorKind.NotFound, quant.Kind);
        Assert.Contains(QatFile, quant.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("mmproj", quant.Message, StringComparison.Ordinal);

        var resolve = await Assert.ThrowsAsync<HubException>(() => hub.OpenFileAsync(QatRepo, "main", "missing.gguf"));
        Assert.Equal(HubErrorKind.NotFound, resolve.Kind);
        Assert.Empty(_fake.Seen("cdn"));
    }

    [Fact]
    public async Task TransientServerErrorsAreRetriedThenReported()
    {
        using (var hub = Client())
        {
            _fake.TransientFailures = 2;
            var installed = await Store(hub).PullAsync(ModelReference.Parse("gemma-4-e2b"));
            Assert.Equal(_model, await File.ReadAllBytesAsync(installed.Path));
            Assert.Equal(2, _fake.Seen("hub").Count(r => r.Status == 503));
        }

        using var impatient = Client(maxAttempts: 3);
        _fake.TransientFailures = 10;
        var ex = await Assert.ThrowsAsync<HubException>(() => impatient.GetModelInfoAsync(QatRepo, "main"));
        Assert.Equal(HubErrorKind.ServerError, ex.Kind);
        Assert.Equal(503, ex.StatusCode);
        Assert.Equal(2 + 3, _fake.Seen("hub").Count(r => r.Status == 503));
    }

    [Fact]
    public async Task InsufficientDiskFailsBeforeDownloading()
    {
        using var hub = Client();
        var store = Store(hub, freeBytes: 1_000_000);

        var ex = await Assert.ThrowsAsync<HubException>(() => store.PullAsync(ModelReference.Parse("gemma-4-e2b")));

        Assert.Equal(HubErrorKind.InsufficientDisk, ex.Kind);
        Assert.Contains(_model.Length.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.Contains("1,000,000", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_fake.Seen("cdn"));
        Assert.DoesNotContain(_fake.Seen("hub"), r => r.Path.Contains("/resolve/", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(_root, "models", "google", "gemma-4-E2B-it-qat-q4_0-gguf", QatFile + ".partial")));
    }

    [Fact]
    public async Task OfflineResolveMakesNoRequests()
    {
        using var hub = Client();
        var store = Store(hub);

        var ex = await Assert.ThrowsAsync<HubException>(() => store.ResolveAsync("gemma-4-e2b", offline: true));
        Assert.Equal(HubErrorKind.NotAvailableOffline, ex.Kind);
        Assert.Contains("`edgewise pull gemma-4-e2b`", ex.Message, StringComparison.Ordinal);
        Assert.Contains(".gguf", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, hub.RequestCount);
        Assert.Empty(_fake.Requests);

        // Online, the first use pulls; afterwards offline resolves from the store, still without a request.
        var pulled = await store.ResolveAsync("gemma-4-e2b", offline: false);
        var before = hub.RequestCount;
        Assert.Equal(pulled, await store.ResolveAsync("gemma-4-e2b", offline: true));
        Assert.Equal(pulled, await store.ResolveAsync("hf.co/" + QatRepo + ":Q4_0", offline: true));
        Assert.Equal(before, hub.RequestCount);

        // A plain local path is returned as is.
        Assert.Equal(pulled, await Store(null).ResolveAsync(pulled, offline: true));
        await Assert.ThrowsAsync<FileNotFoundException>(() => Store(null).ResolveAsync(Path.Combine(_root, "missing.gguf"), offline: true));
    }

    [Fact]
    public async Task ListAndRemoveWork()
    {
        using var hub = Client(token: _fake.ValidToken);
        var store = Store(hub);
        await store.PullAsync(ModelReference.Parse("gemma-4-e2b"));
        await store.PullAsync(ModelReference.Parse(GatedRepo, file: "gated-Q8_0.gguf"));
        Assert.Equal(2, store.List().Count);

        var removed = Assert.Single(store.Remove(ModelReference.Parse("gemma-4-e2b")));

        Assert.Equal(QatFile, removed.File);
        Assert.False(File.Exists(removed.Path));
        Assert.False(Directory.Exists(Path.GetDirectoryName(removed.Path)));
        var left = Assert.Single(store.List());
        Assert.Equal(GatedRepo, left.Repository);
        Assert.Empty(store.Remove(ModelReference.Parse("gemma-4-e2b")));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; tests need the reports in order and complete.</summary>
    private sealed class SyncProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
